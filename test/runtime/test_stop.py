"""Stopping: the whole group, grace then SIGKILL, force, and escaped descendants swept."""

import os
import uuid

from omega_orchestrator.core.states import ServiceState as S
from test.support import alive, find_tagged, PY, py, until

SLEEP = 'import time\ntime.sleep(600)'


def forker(tag: str, escape: bool = False) -> str:
    """A child that starts a grandchild (optionally in its own session, double-forked)."""
    grandchild = f"[{PY!r}, '-c', 'import time; time.sleep(600)', {tag!r}]"
    if escape:
        return ('import os, subprocess, time\n'
                'if os.fork() == 0:\n'
                f'    subprocess.Popen({grandchild}, start_new_session=True)\n'
                '    os._exit(0)\n'
                'time.sleep(600)')
    return f'import subprocess, time\nsubprocess.Popen({grandchild})\ntime.sleep(600)'


async def test_start_then_stop(supervise):
    sup = supervise(py(SLEEP, name='sleeper'))
    status = sup.start('sleeper')
    assert status.state is S.RUNNING and status.pid
    pid = status.pid
    status = sup.stop('sleeper')
    assert status.state is S.STOPPING
    await sup.wait_stopped('sleeper', 20)
    status = sup.status('sleeper')
    assert status.state is S.STOPPED and status.pid is None
    assert status.last_exit_signal == 15
    assert not alive(pid)


async def test_stop_kills_grandchildren_in_the_group(supervise):
    tag = f'grandchild-{uuid.uuid4().hex}'
    sup = supervise(py(forker(tag), name='forker'))
    sup.start('forker')
    await until(lambda: len(find_tagged(tag)) == 1)
    sup.stop('forker')
    await sup.wait_stopped('forker', 20)
    assert find_tagged(tag) == []


async def test_stop_sweeps_a_descendant_that_escaped_the_group(supervise):
    tag = f'escaped-{uuid.uuid4().hex}'
    sup = supervise(py(forker(tag, escape=True), name='escaper'))
    sup.start('escaper')
    await until(lambda: len(find_tagged(tag)) == 1)
    escaped = find_tagged(tag)[0]
    assert escaped.pid != sup.status('escaper').pid
    sup.stop('escaper')
    await sup.wait_stopped('escaper', 20)
    await until(lambda: not alive(escaped.pid), 5)
    assert find_tagged(tag) == []


async def test_sigterm_ignored_escalates_to_sigkill(supervise):
    code = 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n' \
           'print("ready", flush=True)\ntime.sleep(600)'
    sup = supervise(py(code, name='stubborn', stop_timeout=0.5))
    sup.start('stubborn')
    await until(lambda: sup.logs('stubborn', 'stdout', 1) == ['ready'])
    sup.stop('stubborn')
    await sup.wait_stopped('stubborn', 20)
    status = sup.status('stubborn')
    assert status.state is S.STOPPED and status.last_exit_signal == 9
    assert 'SIGKILL' in status.message


async def test_force_stop_kills_at_once(supervise):
    code = 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)'
    sup = supervise(py(code, name='stubborn', stop_timeout=600))
    sup.start('stubborn')
    sup.stop('stubborn', force=True)
    await sup.wait_stopped('stubborn', 20)     # far less than the 600 s grace period
    assert sup.status('stubborn').last_exit_signal == 9


async def test_stop_signal_is_configurable(supervise):
    code = ('import signal, sys, time\n'
            'signal.signal(signal.SIGINT, lambda *a: sys.exit(7))\n'
            'print("ready", flush=True)\ntime.sleep(600)')
    sup = supervise(py(code, name='node', stop_signal='SIGINT'))
    sup.start('node')
    await until(lambda: sup.logs('node', 'stdout', 1) == ['ready'])
    sup.stop('node')
    await sup.wait_stopped('node', 20)
    assert sup.status('node').last_exit_code == 7


async def test_stop_all_stops_dependants_first(supervise):
    sup = supervise(py(SLEEP, name='base', autostart=True),
                    py(SLEEP, name='mid', autostart=True, depends_on=['base']),
                    py(SLEEP, name='top', autostart=True, depends_on=['mid']))
    order: list[tuple[str, str]] = []
    sup.add_listener(lambda e: order.append((e.service, e.to_state.value)))
    await sup.start_all()
    assert [n for n, s in order if s == 'starting'] == ['base', 'mid', 'top']
    await sup.stop_all(20)
    assert [n for n, s in order if s == 'stopped'] == ['top', 'mid', 'base']


async def test_dependants_wait_for_a_oneshot_to_finish(supervise, tmp_path):
    marker = tmp_path / 'prepared'
    prepare = f'import time, pathlib\ntime.sleep(0.3)\npathlib.Path({str(marker)!r}).touch()'
    check = f'import pathlib, time\nassert pathlib.Path({str(marker)!r}).exists()\ntime.sleep(600)'
    sup = supervise(py(prepare, name='prepare', autostart=True, oneshot=True),
                    py(check, name='app', autostart=True, depends_on=['prepare'],
                       restart_policy='never'))
    await sup.start_all()
    assert sup.status('prepare').state is S.EXITED
    assert sup.status('app').state is S.RUNNING


async def test_stop_all_sweeps_what_a_finished_oneshot_left_behind(supervise):
    tag = f'daemon-{uuid.uuid4().hex}'
    code = (f'import subprocess\nsubprocess.Popen([{PY!r}, "-c", "import time; time.sleep(600)",'
            f' {tag!r}])')
    sup = supervise(py(code, name='setup', oneshot=True, autostart=True))
    await sup.start_all()
    assert sup.status('setup').state is S.EXITED
    await until(lambda: len(find_tagged(tag)) == 1)      # a oneshot may leave a daemon running
    await sup.stop_all(20)
    assert sup.status('setup').state is S.STOPPED
    assert find_tagged(tag) == []


async def test_a_daemon_that_drops_the_marker_is_still_stopped(supervise):
    """Setsid + a fresh environment: neither the group nor the marker finds it; the cgroup
    does, where the kernel allows one (this machine: cgroup2), else this is skipped.
    """
    import pytest
    tag = f'markerless-{os.getpid()}'
    code = ('import os, subprocess, sys, time\n'
            f'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {tag!r}],'
            ' start_new_session=True, env={"PATH": "/usr/bin"})\n'
            'time.sleep(600)')
    sup = supervise(py(code, name='daemonizer'), use_cgroups=True)
    if sup.tracking != 'cgroup':
        pytest.skip(f'no writable cgroup2 here: tracking is {sup.tracking}')
    sup.start('daemonizer')
    await until(lambda: find_tagged(tag))
    sup.stop('daemonizer')
    await sup.wait_stopped('daemonizer', 20)
    await until(lambda: not find_tagged(tag))
