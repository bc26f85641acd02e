"""Fixtures for runtime tests: a real Supervisor over real `sys.executable -c` children."""

from collections.abc import AsyncIterator, Callable
import json
from pathlib import Path

import pytest

from omega_orchestrator.core.registry import parse_registry
from omega_orchestrator.runtime.logs import LogSettings
from omega_orchestrator.runtime.supervisor import Supervisor
from test.runtime.fake_clock import FakeClock


@pytest.fixture
async def supervise(tmp_path: Path) -> AsyncIterator[Callable[..., Supervisor]]:
    """Build Supervisors over service dicts (log size tunable); all stopped after the test."""
    made: list[Supervisor] = []

    def build(*services: dict, log_max_bytes: int = 10 * 1024 * 1024,
              backups: int = 5, use_cgroups: bool = False) -> Supervisor:
        named = [dict(s, name=s.get('name', f'svc{i}')) for i, s in enumerate(services)]
        registry = parse_registry(json.dumps({'services': named}), str(tmp_path / 'r.json'),
                                  base_dir=str(tmp_path))
        settings = LogSettings(log_dir=str(tmp_path / 'logs'), max_bytes=log_max_bytes,
                               backups=backups)
        supervisor = Supervisor(registry, settings, metrics_interval=0.2,
                                use_cgroups=use_cgroups)
        made.append(supervisor)
        return supervisor

    yield build
    for supervisor in made:
        await supervisor.close()


@pytest.fixture
async def replay(tmp_path: Path) -> AsyncIterator[Callable[..., tuple[Supervisor, FakeClock]]]:
    """Build Supervisors on a fake clock (time moves only when the test says), without
    metrics; all stopped after the test.
    """
    made: list[Supervisor] = []

    def build(*services: dict) -> tuple[Supervisor, FakeClock]:
        registry = parse_registry(json.dumps({'services': list(services)}),
                                  str(tmp_path / 'r.json'), base_dir=str(tmp_path))
        clock = FakeClock()
        made.append(Supervisor(registry, LogSettings(log_dir=str(tmp_path / 'logs')),
                               metrics_interval=0, clock=clock))
        return made[-1], clock
    yield build
    for supervisor in made:
        await supervisor.close()
