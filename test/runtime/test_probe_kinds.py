"""Startup, readiness and liveness probes on real processes: what each one does."""

from pathlib import Path

from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import free_port, PY, py, until

SLEEP = 'import time\ntime.sleep(600)'
#: Listens on argv[1] only once the file argv[2] exists: a slow boot (a `go run` compiling).
SLOW_BOOT = """
import os, socket, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
while not os.path.exists(flag):
    time.sleep(0.05)
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen()
time.sleep(600)
"""


def exists_check(flag: Path, *, healthy_when: bool, **fields: object) -> dict:
    """An exec probe: exit 0 when the file's existence is `healthy_when`."""
    code = f'import os, sys\nsys.exit(0 if os.path.exists({str(flag)!r}) is {healthy_when} ' \
           'else 1)'
    return {'type': 'exec', 'cmd': PY, 'args': ['-c', code], 'interval': 0.1, 'timeout': 5,
            **fields}


async def test_a_failing_liveness_probe_restarts_the_service_with_the_reason(supervise,
                                                                              tmp_path):
    wedged = tmp_path / 'wedged'
    sup = supervise(py(SLEEP, name='planner', autostart=True, restart_policy='always',
                       liveness_probe=exists_check(wedged, healthy_when=False,
                                                   failure_threshold=3)))
    ends = []
    sup.add_listener(lambda e: ends.append(e) if e.to_state is S.CRASHED else None)
    await sup.start_all()
    await wait_state(sup, 'planner', S.RUNNING)
    first = sup.status('planner').pid
    wedged.touch()                           # it stops answering
    await until(lambda: ends)
    assert ends[0].reason == 'liveness: check command exited with code 1 (3 checks in a row)'
    assert ends[0].exit_signal == 15         # stopped with its stop signal
    wedged.unlink()
    await until(lambda: sup.status('planner').state is S.RUNNING
                and sup.status('planner').pid != first)
    status = sup.status('planner')
    assert status.restart_count == 1 and status.crash_count == 1


async def test_the_startup_probe_holds_liveness_off_while_a_slow_service_boots(supervise,
                                                                                tmp_path):
    port, built = free_port(), tmp_path / 'built'
    tcp = {'type': 'tcp', 'interval': 0.1, 'timeout': 1}
    sup = supervise(py(SLOW_BOOT, name='go_app', autostart=True, restart_policy='always',
                       port=port, args=['-c', SLOW_BOOT, str(port), str(built)],
                       startup_probe=dict(tcp, failure_threshold=600),      # 60 s to boot
                       liveness_probe=dict(tcp, failure_threshold=1),
                       readiness_probe=tcp))
    await sup.start_all()
    await until(lambda: sup.status('go_app').message.startswith('starting up: port '))
    await until(lambda: '(20/600)' in sup.status('go_app').message)     # two seconds of it
    status = sup.status('go_app')    # liveness would have restarted it at the first check
    assert status.state is S.RUNNING and status.restart_count == 0
    assert not status.health.checked                  # readiness waits for startup too
    built.touch()                                     # the build is done: it listens
    await until(lambda: sup.status('go_app').health.healthy)
    assert sup.status('go_app').restart_count == 0 and sup.status('go_app').message == ''


async def test_a_startup_probe_that_never_passes_restarts_the_service(supervise, tmp_path):
    port = free_port()
    sup = supervise(py(SLOW_BOOT, name='never_boots', autostart=True, restart_policy='always',
                       args=['-c', SLOW_BOOT, str(port), str(tmp_path / 'never')],
                       startup_probe={'type': 'tcp', 'port': port, 'interval': 0.1,
                                      'failure_threshold': 5}))
    await sup.start_all()
    await until(lambda: sup.status('never_boots').crash_count >= 1)
    assert sup.status('never_boots').state in (S.STARTING, S.RUNNING, S.BACKOFF)


async def test_a_hung_probe_delays_no_other_probe(supervise, tmp_path):
    hang = {'type': 'exec', 'cmd': PY, 'args': ['-c', 'import time\ntime.sleep(600)'],
            'interval': 0.1, 'timeout': 60}
    sup = supervise(
        py(SLEEP, name='stuck', autostart=True, readiness_probe=hang,
           liveness_probe=dict(hang, failure_threshold=5)),
        py(SLEEP, name='fine', autostart=True,
           readiness_probe=exists_check(tmp_path / 'absent', healthy_when=False)))
    await sup.start_all()
    seen: set[float] = set()
    # while the stuck service's probes hang, the other service is checked again and again
    await until(lambda: seen.add(sup.status('fine').health.checked_at or 0) or len(seen) > 6)
    assert not sup.status('stuck').health.checked and sup.status('stuck').state is S.RUNNING
    assert sup.status('fine').health.healthy
