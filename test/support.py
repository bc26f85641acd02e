"""Helpers shared by every test folder: a python service, a free port, waiting for a
condition (never a bare sleep), and finding processes. Fixtures live in the conftest files;
tests import helpers from here, never from a conftest.
"""

import asyncio
from collections.abc import Callable
import socket
import sys
import time
from typing import Any

import psutil

DEADLINE = 30.0
PY = sys.executable


def py(code: str, **fields: Any) -> dict:
    """A service running `python -c code`."""
    return {'cmd': PY, 'args': ['-c', code], **fields}


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = DEADLINE,
               what: str = 'condition') -> Any:
    """Poll predicate until it returns something truthy; fail after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'{what} not met within {timeout} s')
        time.sleep(0.02)


async def until(predicate: Callable[[], Any], timeout: float = 20.0) -> None:
    """The same on an event loop: poll an outside condition without blocking the loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('condition not met before the deadline')
        await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    """True while pid is a live (non-zombie) process."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def find_tagged(tag: str) -> list[psutil.Process]:
    """Live processes that have tag as one of their arguments."""
    found = []
    for proc in psutil.process_iter(['cmdline']):
        try:
            if tag in (proc.info['cmdline'] or ()) and \
                    proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            pass
    return found
