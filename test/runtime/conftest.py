"""Fixtures for runtime tests: a real Supervisor over real `sys.executable -c` children."""

import json
from pathlib import Path
import sys
from typing import AsyncIterator, Callable

import psutil
import pytest

from omega_orchestrator.core.registry import parse_registry
from omega_orchestrator.core.states import ServiceState
from omega_orchestrator.runtime.logs import LogSettings
from omega_orchestrator.runtime.supervisor import Supervisor

PY = sys.executable
DEADLINE = 20.0


def py(code: str, **fields: object) -> dict:
    """A service running `python -c code`."""
    return {'cmd': PY, 'args': ['-c', code], **fields}


@pytest.fixture
async def supervise(tmp_path: Path) -> AsyncIterator[Callable[..., Supervisor]]:
    """supervise(services..., log_max_bytes=...) -> a Supervisor; everything is stopped after."""
    made: list[Supervisor] = []

    def build(*services: dict, log_max_bytes: int = 10 * 1024 * 1024,
              backups: int = 5) -> Supervisor:
        named = [dict(s, name=s.get('name', f'svc{i}')) for i, s in enumerate(services)]
        registry = parse_registry(json.dumps({'services': named}), str(tmp_path / 'r.json'),
                                  base_dir=str(tmp_path))
        settings = LogSettings(log_dir=str(tmp_path / 'logs'), max_bytes=log_max_bytes,
                               backups=backups)
        supervisor = Supervisor(registry, settings, metrics_interval=0.2)
        made.append(supervisor)
        return supervisor

    yield build
    for supervisor in made:
        await supervisor.close()


async def wait_state(supervisor: Supervisor, name: str, *states: ServiceState,
                     timeout: float = DEADLINE) -> None:
    """Wait until the service is in one of `states`."""
    await supervisor.wait_for(lambda: supervisor.status(name).state in states, timeout)


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


async def until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Poll an outside condition (e.g. a process appearing) until true or the deadline."""
    import asyncio
    import time
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('condition not met before the deadline')
        await asyncio.sleep(0.02)
