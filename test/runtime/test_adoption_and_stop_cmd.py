"""A port already held by someone else, adoption of that process, and stop_cmd."""

import os
from pathlib import Path
import signal
import subprocess
import sys

import pytest

from omega_orchestrator.core.errors import SpawnFailedError
from omega_orchestrator.core.states import ServiceState as S
from omega_orchestrator.runtime import ports
from test.runtime.support import wait_state
from test.support import alive, free_port, py, until


def foreign_server(port: int) -> subprocess.Popen:
    """A process the orchestrator did not start, listening on port; says "term" on SIGTERM.

    It is a child of the test process, which the supervisor under test may reap as an
    orphan: its exit status is then lost (Popen reads 0), so the signal shows on its stdout.
    """
    code = ('import signal, socket, sys, time\n'
            'def term(*_):\n    print("term", flush=True)\n    sys.exit(0)\n'
            'signal.signal(signal.SIGTERM, term)\n'
            f's = socket.socket()\ns.bind(("127.0.0.1", {port}))\n'
            's.listen()\nprint("up", flush=True)\ntime.sleep(600)')
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE,
                            start_new_session=True)
    assert proc.stdout.readline() == b'up\n'
    return proc


SERVER = ('import socket, sys, time\ns = socket.socket()\n'
          's.bind(("127.0.0.1", int(sys.argv[1])))\ns.listen()\ntime.sleep(600)')


def test_the_holder_of_a_port_is_found():
    port = free_port()
    assert ports.holder(port) is None
    other = foreign_server(port)
    try:
        held = ports.holder(port)
        assert held is not None and held.pid == other.pid and '-c' in held.cmdline
        assert held.describe().startswith(f'port {port} held by pid {other.pid}: ')
    finally:
        other.kill()
        other.wait()


async def test_a_port_held_by_a_stranger_is_reported_not_crash_looped(supervise):
    port = free_port()
    other = foreign_server(port)
    try:
        sup = supervise(py(SERVER, name='web', port=port, restart_policy='always',
                           args=['-c', SERVER, str(port)]))
        with pytest.raises(SpawnFailedError) as info:
            sup.start('web')
        assert f'port {port} held by pid {other.pid}' in str(info.value)
        assert sup.status('web').state is S.FAILED and sup.status('web').restart_count == 0
    finally:
        other.kill()
        other.wait()
    sup.start('web')                     # free again: it starts as usual
    await wait_state(sup, 'web', S.RUNNING)


async def test_adopt_existing_takes_the_holder_over(supervise):
    port = free_port()
    other = foreign_server(port)
    sup = supervise(py(SERVER, name='web', port=port, adopt_existing=True,
                       args=['-c', SERVER, str(port)]))
    try:
        status = sup.start('web')
        assert status.state is S.RUNNING and status.pid == other.pid and status.adopted
        assert 'adopted pid' in status.message
        await until(lambda: sup.status('web').usage.memory_bytes > 0)    # its metrics
        sup.stop('web')                                          # a stop ends it
        await wait_state(sup, 'web', S.STOPPED)
        assert other.stdout.readline() == b'term\n'      # it was sent SIGTERM
        other.wait(10)
        sup.start('web')                 # the port is free now: a process of our own
        await wait_state(sup, 'web', S.RUNNING)
        assert sup.status('web').pid != other.pid and not sup.status('web').adopted
    finally:
        if other.poll() is None:
            other.kill()


async def test_the_exit_of_an_adopted_process_is_seen_at_once(supervise):
    port = free_port()
    other = foreign_server(port)
    sup = supervise(py(SERVER, name='web', port=port, adopt_existing=True,
                       args=['-c', SERVER, str(port)]))
    sup.start('web')
    other.kill()
    other.wait()
    await wait_state(sup, 'web', S.CRASHED, timeout=5)     # restart_policy never
    assert 'exit status is not known' in sup.status('web').message


async def test_stop_cmd_runs_on_stop_and_is_bounded(supervise, tmp_path: Path):
    up = tmp_path / 'up'
    start = f'open({str(up)!r}, "w").close()'
    down = f'import os\nos.remove({str(up)!r})'
    sup = supervise(py(start, name='compose', oneshot=True,
                       stop_cmd=[sys.executable, '-c', down]),
                    py('import time\ntime.sleep(600)', name='stuck', stop_timeout=1,
                       stop_cmd=[sys.executable, '-c', 'import time\ntime.sleep(600)'],
                       stop_cmd_timeout=0.5))
    sup.start('compose')
    await wait_state(sup, 'compose', S.EXITED)
    assert up.exists()
    sup.stop('compose')
    await sup.wait_stopped('compose', 10)
    assert not up.exists()               # like `docker compose down`
    sup.start('stuck')
    await wait_state(sup, 'stuck', S.RUNNING)
    pid = sup.status('stuck').pid
    sup.stop('stuck')
    await sup.wait_stopped('stuck', 10)  # the stop_cmd was killed after 0.5 s
    assert not alive(pid)


def test_stop_cmd_also_runs_at_shutdown(tmp_path: Path):
    import json
    marker = tmp_path / 'down-ran'
    registry = tmp_path / 'r.json'
    registry.write_text(json.dumps({'services': [{
        'name': 'compose', 'cmd': sys.executable, 'args': ['-c', 'pass'], 'oneshot': True,
        'autostart': True,
        'stop_cmd': [sys.executable, '-c', f'open({str(marker)!r}, "w").close()']}]}))
    proc = subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--registry',
                             str(registry), '--log-dir', str(tmp_path / 'logs'), '--no-ros'],
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if 'compose: running -> exited' in line:
            break
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert marker.exists()
    os.remove(marker)
