"""Fixtures shared by every test folder; DDS stays on this host whatever runs pytest."""

import os

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

from test.stack import fleet, stack  # noqa: F401 - the end-to-end fixtures
