"""Soak, short form: many crash/restart cycles and REST restarts leave nothing growing.

The counts come from $OMEGA_SOAK_CYCLES / $OMEGA_SOAK_RESTARTS (CI: the defaults below);
`bench/soak.py` runs the long form (1,000 and 10,000). Bounds, after a warm-up: open
descriptors and threads within a few of where they were, RSS within 30 MB, no zombie, and
every restart accounted for (one `crashed` event and one spawn per cycle).
"""

import collections
import json
import os
from pathlib import Path

import psutil

from omega_orchestrator.core.states import ServiceState as S
from test.support import py

CYCLES = int(os.environ.get('OMEGA_SOAK_CYCLES', '1000'))
RESTARTS = int(os.environ.get('OMEGA_SOAK_RESTARTS', '100'))
RSS_BOUND = 30 * 2**20


def footprint(proc: psutil.Process) -> dict:
    with proc.oneshot():
        return {'fds': proc.num_fds(), 'threads': proc.num_threads(),
                'rss': proc.memory_info().rss}


def zombies(proc: psutil.Process) -> list[psutil.Process]:
    return [c for c in proc.children(recursive=True) if c.status() == psutil.STATUS_ZOMBIE]


async def test_crash_restart_cycles_leave_nothing_behind(tmp_path: Path):
    from omega_orchestrator.core.registry import parse_registry
    from omega_orchestrator.runtime.logs import LogSettings
    from omega_orchestrator.runtime.supervisor import Supervisor
    registry = parse_registry(json.dumps({'services': [{
        'name': 'crasher', 'cmd': '/bin/sh', 'args': ['-c', 'echo boom >&2; exit 1'],
        'restart_policy': 'always',
        'restart': {'backoff_initial': 0, 'stable_after': 3600, 'crash_loop_max': 10**6}}]}),
        str(tmp_path / 'r.json'), base_dir=str(tmp_path))
    # with cgroups where the kernel allows: the sweep of a crashed run must not kill the next
    sup = Supervisor(registry, LogSettings(log_dir=str(tmp_path / 'logs')), metrics_interval=0,
                     use_cgroups=True)
    crashes = []
    sup.add_listener(lambda e: crashes.append(e) if e.to_state is S.CRASHED else None)
    me = psutil.Process()
    try:
        sup.start('crasher')
        await sup.wait_for(lambda: sup.status('crasher').restart_count >= 20, 60)
        before = footprint(me)
        await sup.wait_for(lambda: sup.status('crasher').restart_count >= CYCLES, 600)
        sup.stop('crasher')
        await sup.wait_stopped('crasher', 30)
        after = footprint(me)
        status = sup.status('crasher')
        # every restart accounted for: one crash event per exit, one spawn per restart
        assert status.crash_count == len(crashes) >= CYCLES
        assert status.restart_count in (status.crash_count, status.crash_count - 1)
        tails = collections.Counter(e.stderr_tail for e in crashes)
        assert set(tails) == {('boom',)} and all(e.exit_code == 1 for e in crashes), tails
        assert after['fds'] <= before['fds'] + 5, (before, after)
        assert after['threads'] <= before['threads'] + 10, (before, after)
        assert after['rss'] - before['rss'] < RSS_BOUND, (before, after)
        assert zombies(me) == []
    finally:
        await sup.close()


def test_rest_restarts_leave_the_orchestrator_and_sidecar_flat(stack):
    s = stack([py('import time\ntime.sleep(600)', name='cam', autostart=True)])
    s.wait_for(lambda: s.service('cam')['pid'], 'cam running')
    orchestrator, sidecar = psutil.Process(s.orchestrator.pid), psutil.Process(s.sidecar.pid)

    def restart_all(count: int) -> None:
        for _ in range(count):      # as an operator does: the next once the last one is done
            answer = s.post('/api/services/restart/cam')
            assert answer.status_code == 200, answer.text
            old = answer.json()['service']['pid']
            s.wait_for(lambda old=old: (c := s.service('cam'))['status'] == 'running' and
                       c['pid'] != old, 'restarted')
    restart_all(20)
    before = {'orchestrator': footprint(orchestrator), 'sidecar': footprint(sidecar)}
    restart_all(RESTARTS)
    s.wait_for(lambda: s.service('cam')['status'] == 'running', 'running after the restarts')
    assert s.service('cam')['restart_count'] == 20 + RESTARTS   # every restart accounted for
    after = {'orchestrator': footprint(orchestrator), 'sidecar': footprint(sidecar)}
    for name in before:
        assert after[name]['fds'] <= before[name]['fds'] + 5, (name, before, after)
        assert after[name]['threads'] <= before[name]['threads'] + 5, (name, before, after)
        assert after[name]['rss'] - before[name]['rss'] < RSS_BOUND, (name, before, after)
    assert zombies(orchestrator) == []
