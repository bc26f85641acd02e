"""ROS test fixtures: a random domain, an orchestrator process and a client node on it."""

from collections.abc import Iterator
import os
from pathlib import Path
import random
import signal

import pytest

from test.ros.support import Orchestrator, RosClient


@pytest.fixture
def domain() -> int:
    return random.randint(1, 100)


@pytest.fixture
def ros_env(domain: int) -> dict[str, str]:
    return dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
                PYTHONUNBUFFERED='1')


@pytest.fixture
def orchestrator(tmp_path: Path, ros_env: dict[str, str]) -> Iterator[Orchestrator]:
    orch = Orchestrator(tmp_path, ros_env)
    yield orch
    if orch.proc is not None and orch.proc.poll() is None:
        orch.stop(signal.SIGTERM)


@pytest.fixture
def client(domain: int) -> Iterator[RosClient]:
    ros = RosClient(domain)
    yield ros
    ros.close()
