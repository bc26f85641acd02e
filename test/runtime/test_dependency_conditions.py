"""Dependencies that wait for readiness and completion, on real processes and real probes."""

from pathlib import Path

from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import free_port, py, until

#: An HTTP server that answers 200 only once the file argv[2] exists (its readiness).
GATED_HTTP = """
import http.server, os, sys
port, flag = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if os.path.exists(flag) else 503)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""
SLEEP = 'import time\ntime.sleep(600)'


def gated_http(name: str, port: int, flag: Path, **fields: object) -> dict:
    return py(GATED_HTTP, name=name, port=port, args=['-c', GATED_HTTP, str(port), str(flag)],
              health_check={'type': 'http', 'url': f'http://127.0.0.1:{port}/',
                            'interval': 0.1, 'timeout': 1}, **fields)


async def test_a_chain_waits_for_readiness_then_for_completion(supervise, tmp_path):
    port, ready = free_port(), tmp_path / 'a-ready'
    done = tmp_path / 'b-done'
    sup = supervise(
        gated_http('a', port, ready, autostart=True),
        py(f'open({str(done)!r}, "w").close()', name='b', autostart=True, oneshot=True,
           depends_on=[{'name': 'a', 'condition': 'healthy'}]),
        py(SLEEP, name='c', autostart=True,
           depends_on=[{'name': 'b', 'condition': 'completed'}]))
    at_start: dict[str, tuple] = {}      # what the dependency was when each one started
    sup.add_listener(lambda e: at_start.setdefault(e.service, (
        sup.status('a').health.healthy, sup.status('b').state))
        if e.to_state is S.STARTING else None)
    await sup.start_all()
    await until(lambda: 'HTTP 503' in sup.status('b').message)  # a is up, answers 503
    b, c = sup.status('b'), sup.status('c')
    assert b.state is S.WAITING and c.state is S.WAITING and b.pid is None
    assert b.message.startswith('waiting for a to be healthy: unhealthy for ')
    assert 'HTTP 503, expected 200' in b.message and sup.status('a').state is S.RUNNING
    assert c.message.startswith('waiting for b to complete: waiting')
    assert not done.exists()
    ready.touch()                                               # a turns ready
    await wait_state(sup, 'c', S.RUNNING)
    assert done.exists() and sup.status('b').state is S.EXITED
    assert at_start['b'][0] is True and at_start['c'][1] is S.EXITED
    assert sup.status('b').restart_count == 0 and sup.status('c').restart_count == 0


async def test_a_diamond_starts_its_branches_without_waiting_for_each_other(supervise,
                                                                            tmp_path):
    port, ready = free_port(), tmp_path / 'base-ready'
    branch = {'depends_on': [{'name': 'base', 'condition': 'healthy'}], 'autostart': True}
    sup = supervise(    # the branches never turn ready themselves
        gated_http('base', port, ready, autostart=True),
        gated_http('left', free_port(), tmp_path / 'never', **branch),
        gated_http('right', free_port(), tmp_path / 'never', **branch),
        py(SLEEP, name='top', autostart=True, depends_on=[
            {'name': 'left', 'condition': 'started'}, {'name': 'right'}]))
    await sup.start_all()
    assert {sup.status(n).state for n in ('left', 'right', 'top')} == {S.WAITING}
    ready.touch()
    await wait_state(sup, 'top', S.RUNNING)
    for name in ('left', 'right'):      # both started, neither waited for the other
        assert sup.status(name).state is S.RUNNING and not sup.status(name).health.healthy
    assert sup.status('top').message == ''


async def test_a_dependency_that_never_gets_ready_holds_its_dependants(supervise, tmp_path):
    port, ready = free_port(), tmp_path / 'never'
    sup = supervise(
        gated_http('camera', port, ready, autostart=True),
        py(SLEEP, name='vision', autostart=True, restart_policy='always',
           depends_on=[{'name': 'camera', 'condition': 'healthy'}]),
        py(SLEEP, name='nav', autostart=True,
           depends_on=[{'name': 'vision', 'condition': 'started'}]))
    await sup.start_all()
    await until(lambda: 'unhealthy for 2 s' in sup.status('vision').message)   # refreshed
    for name in ('vision', 'nav'):
        status = sup.status(name)
        assert status.state is S.WAITING and status.pid is None
        assert status.restart_count == 0 and status.crash_count == 0   # never crash-looped
    assert sup.status('nav').message.startswith('waiting for vision: waiting for ')
    sup.stop('camera')                                  # a failed dependency: still waiting
    await until(lambda: 'camera to be healthy: stopped' in sup.status('vision').message)
    sup.start('camera')
    ready.touch()                                       # it recovers: they start by themselves
    await wait_state(sup, 'nav', S.RUNNING)
    assert sup.status('vision').state is S.RUNNING


async def test_an_operator_start_waits_too_and_a_stop_ends_the_wait(supervise):
    sup = supervise(py(SLEEP, name='db'),
                    py(SLEEP, name='app', depends_on=[{'name': 'db', 'condition': 'started'}]))
    status = sup.start('app')
    assert status.state is S.WAITING and status.message == 'waiting for db: stopped'
    sup.stop('app')
    assert sup.status('app').state is S.STOPPED
    sup.start('db')
    await wait_state(sup, 'db', S.RUNNING)
    assert sup.status('app').state is S.STOPPED            # a stop is not undone
    assert sup.start('app').state in (S.STARTING, S.RUNNING)


async def test_restart_with_follows_a_crashed_dependency(supervise):
    sup = supervise(
        py(SLEEP, name='driver', autostart=True, restart_policy='always',
           restart={'backoff_initial': 0.5}),
        py(SLEEP, name='bound', autostart=True,
           depends_on=[{'name': 'driver', 'condition': 'started', 'restart_with': True}]),
        py(SLEEP, name='loose', autostart=True,
           depends_on=[{'name': 'driver', 'condition': 'started'}]))
    await sup.start_all()
    await wait_state(sup, 'bound', S.RUNNING)
    await wait_state(sup, 'loose', S.RUNNING)
    bound_pid, loose_pid = sup.status('bound').pid, sup.status('loose').pid
    states: list[S] = []
    sup.add_listener(lambda e: states.append(e.to_state) if e.service == 'bound' else None)
    import os
    import signal
    os.kill(sup.status('driver').pid, signal.SIGKILL)
    await until(lambda: sup.status('bound').state is S.RUNNING
                and sup.status('bound').pid != bound_pid)
    assert states[:3] == [S.STOPPING, S.STARTING, S.RUNNING]   # stopped with it, started again
    assert sup.status('bound').restart_count == 1
    assert sup.status('loose').pid == loose_pid         # without restart_with: untouched
