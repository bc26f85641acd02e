"""Fixtures shared by every test folder."""

from test.stack import stack  # noqa: F401 - the end-to-end stack fixture
