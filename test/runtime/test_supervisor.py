"""The supervisor over real children: policies, failures, reloads, shutdown, containment."""

import os
from pathlib import Path
import signal

import pytest

from omega_orchestrator.core.errors import SpawnFailedError
from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import py, until

SLEEP = 'import time\ntime.sleep(600)'
FAST = {'backoff_initial': 0.05, 'backoff_max': 0.2, 'stable_after': 30}


async def test_never_leaves_a_crash_crashed(supervise):
    sup = supervise(py('import sys\nsys.exit(3)', name='s', restart_policy='never'))
    sup.start('s')
    await wait_state(sup, 's', S.CRASHED)
    status = sup.status('s')
    assert status.last_exit_code == 3 and status.crash_count == 1 and status.restart_count == 0


async def test_on_failure_leaves_a_clean_exit_alone(supervise):
    sup = supervise(py('pass', name='s', restart_policy='on-failure'))
    sup.start('s')
    await wait_state(sup, 's', S.EXITED)
    assert sup.status('s').restart_count == 0


async def test_on_failure_gives_up_after_three_restarts(supervise):
    sup = supervise(py('import sys\nsys.exit(1)', name='s', restart_policy='on-failure',
                       restart=FAST))
    sup.start('s')
    await wait_state(sup, 's', S.FAILED)
    status = sup.status('s')
    assert status.restart_count == 3 and status.crash_count == 4
    assert 'max_retries' in status.message
    sup.start('s')                       # an operator can always try again
    assert sup.status('s').state in (S.RUNNING, S.STARTING)


async def test_on_failure_restarts_after_a_kill(supervise):
    sup = supervise(py(SLEEP, name='s', restart_policy='on-failure', restart=FAST))
    first = sup.start('s').pid
    os.kill(first, 9)
    await sup.wait_for(lambda: sup.status('s').pid not in (None, first), 20)
    assert sup.status('s').last_exit_signal == 9 and sup.status('s').restart_count == 1


async def test_always_restarts_a_clean_exit(supervise):
    sup = supervise(py('import time\ntime.sleep(0.1)', name='s', restart_policy='always',
                       restart=dict(FAST, crash_loop_max=100)))
    sup.start('s')
    await sup.wait_for(lambda: sup.status('s').restart_count >= 2, 20)


async def test_backoff_is_visible_with_the_next_restart_time(supervise):
    sup = supervise(py('import sys\nsys.exit(1)', name='s', restart_policy='always',
                       restart={'backoff_initial': 2.0, 'stable_after': 30}))
    events = []
    sup.add_listener(events.append)
    sup.start('s')
    await wait_state(sup, 's', S.BACKOFF)
    status = sup.status('s')
    assert status.next_restart is not None and status.restart_count == 1
    backoff = [e for e in events if e.to_state is S.BACKOFF][0]
    crash = events[events.index(backoff) - 1]      # every crash is its own event first
    assert crash.exit_code == 1 and crash.from_state is S.RUNNING
    assert crash.to_state is S.CRASHED
    assert backoff.from_state is S.CRASHED and backoff.exit_code is None


async def test_crash_loop_cools_down_then_retries(supervise):
    sup = supervise(py('import sys\nsys.exit(1)', name='s', restart_policy='always',
                       restart=dict(FAST, crash_loop_max=3, cooldown=0.5)))
    sup.start('s')
    await wait_state(sup, 's', S.COOLDOWN)
    restarts = sup.status('s').restart_count
    await sup.wait_for(lambda: sup.status('s').restart_count > restarts, 20)


async def test_crash_event_carries_the_last_stderr_lines(supervise):
    code = 'import sys\nprint("boom: sensor missing", file=sys.stderr)\nsys.exit(2)'
    sup = supervise(py(code, name='s', restart_policy='never'))
    events = []
    sup.add_listener(events.append)
    sup.start('s')
    await wait_state(sup, 's', S.CRASHED)
    crash = events[-1]
    assert crash.to_state is S.CRASHED and crash.stderr_tail == ('boom: sensor missing',)


async def test_spawn_failures_fail_only_that_service(supervise, tmp_path: Path):
    script = tmp_path / 'not_executable.sh'
    script.write_text('#!/bin/sh\n')
    sup = supervise(py(SLEEP, name='good'),
                    {'name': 'missing', 'cmd': 'no-such-program-xyz'},
                    {'name': 'noexec', 'cmd': './not_executable.sh'},
                    {'name': 'baddir', 'cmd': 'true', 'working_dir': 'nowhere'})
    sup.start('good')
    for name, words in (('missing', "'no-such-program-xyz' not found"),
                        ('noexec', 'not executable'), ('baddir', 'does not exist')):
        with pytest.raises(SpawnFailedError) as info:
            sup.start(name)
        status = info.value.status
        assert status.state is S.FAILED and sup.status(name).state is S.FAILED, name
        assert words in status.message and words in str(info.value), status.message
    assert sup.status('good').state is S.RUNNING


async def test_reload_adds_removes_and_restarts_only_what_changed(supervise, tmp_path: Path):
    import json

    from omega_orchestrator.core.registry import parse_registry
    sup = supervise(py(SLEEP, name='same', autostart=True), py(SLEEP, name='gone', autostart=True),
                    py(SLEEP, name='edited', autostart=True))
    await sup.start_all()
    same_pid, edited_pid = sup.status('same').pid, sup.status('edited').pid
    services = [py(SLEEP, name='same', autostart=True),
                py(SLEEP, name='edited', autostart=True, env={'NEW': '1'}),
                py(SLEEP, name='fresh', autostart=True)]
    registry = parse_registry(json.dumps({'services': services}), 'r2.json',
                              base_dir=str(tmp_path))
    added, removed, changed = await sup.reload(registry, timeout=20)
    assert (added, removed, changed) == (['fresh'], ['gone'], ['edited'])
    assert sup.names() == ('same', 'edited', 'fresh')
    assert sup.status('same').pid == same_pid
    assert sup.status('edited').state is S.RUNNING and sup.status('edited').pid != edited_pid
    assert sup.status('fresh').state is S.RUNNING


async def test_concurrent_reloads_lose_track_of_nothing(supervise, tmp_path: Path):
    import asyncio
    import json

    from omega_orchestrator.core.registry import parse_registry
    sup = supervise(py(SLEEP, name='svc', autostart=True))
    await sup.start_all()
    edited = parse_registry(json.dumps({'services': [
        py(SLEEP, name='svc', autostart=True, env={'V': '2'})]}), 'r.json',
        base_dir=str(tmp_path))
    await asyncio.gather(sup.reload(edited, 20), sup.reload(edited, 20))
    pids = [sup.status('svc').pid]
    await sup.close()
    from test.support import alive
    assert not any(alive(pid) for pid in pids if pid)
    import psutil
    assert [p for p in psutil.Process().children(recursive=True)
            if p.status() != psutil.STATUS_ZOMBIE] == []


async def test_no_start_is_accepted_while_shutting_down(supervise):
    import asyncio

    from omega_orchestrator.core.errors import WrongStateError
    code = 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)'
    sup = supervise(py(code, name='slow', autostart=True, stop_timeout=1), py(SLEEP, name='b'))
    await sup.start_all()
    closing = asyncio.ensure_future(sup.close())
    await sup.wait_for(lambda: sup.status('slow').state is S.STOPPING, 20)
    with pytest.raises(WrongStateError):
        sup.start('b')
    await closing


async def test_autostart_spawns_in_parallel_and_reports_each_failure(supervise):
    services = [py(SLEEP, name=f's{i}', autostart=True) for i in range(8)]
    sup = supervise(*services, {'name': 'ghost', 'cmd': 'no-such-program-xyz',
                                'autostart': True})
    await sup.start_all()
    assert all(sup.status(f's{i}').state is S.RUNNING for i in range(8))
    assert len({sup.status(f's{i}').pid for i in range(8)}) == 8
    ghost = sup.status('ghost')
    assert ghost.state is S.FAILED and "'no-such-program-xyz' not found" in ghost.message


async def test_shutdown_during_autostart_leaves_nothing_running(supervise):
    import asyncio

    import psutil
    sup = supervise(*[py(SLEEP, name=f's{i}', autostart=True) for i in range(20)])
    starting = asyncio.ensure_future(sup.start_all())
    await asyncio.sleep(0)                 # let it begin spawning, then stop at once
    starting.cancel()
    await sup.close()                      # as run() does: without waiting for the task
    starting.cancel()                      # and asyncio.run cancels leftovers once more
    with pytest.raises(asyncio.CancelledError):
        await starting
    left = [p for p in psutil.Process().children(recursive=True)
            if p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


async def test_an_exception_in_one_services_handling_fails_only_that_service(supervise):
    sleep = 'import time\ntime.sleep(600)'
    sup = supervise(py(sleep, name='bad', restart_policy='always'),
                    py(sleep, name='good', restart_policy='always'))
    sup.start('bad')
    sup.start('good')
    await wait_state(sup, 'bad', S.RUNNING)
    await wait_state(sup, 'good', S.RUNNING)
    machine = sup._units['bad'].machine            # fault injection: its exit handling breaks
    real = machine.handle

    def broken(event, now):
        if type(event).__name__ == 'Exited':
            raise RuntimeError('injected fault')
        return real(event, now)
    machine.handle = broken
    bad_pid, good_pid = sup.status('bad').pid, sup.status('good').pid
    os.kill(bad_pid, signal.SIGKILL)
    await wait_state(sup, 'bad', S.FAILED)
    assert 'internal error: RuntimeError: injected fault' in sup.status('bad').message
    machine.handle = real
    os.kill(good_pid, signal.SIGKILL)              # the engine carries on for the others
    await sup.wait_for(lambda: sup.status('good').pid not in (None, good_pid), 20)
    sup.start('bad')                               # and an operator can start it again
    await wait_state(sup, 'bad', S.RUNNING)


async def test_a_reload_past_the_open_file_limit_changes_nothing(supervise, tmp_path: Path):
    import json
    import resource

    from omega_orchestrator.core.errors import InvalidArgumentError
    from omega_orchestrator.core.registry import parse_registry
    sleep = 'import time\ntime.sleep(600)'
    sup = supervise(py(sleep, name='keep', autostart=True))
    sup.start('keep')
    await wait_state(sup, 'keep', S.RUNNING)
    pid = sup.status('keep').pid
    many = [dict(py(sleep, name=f's{i}', autostart=True)) for i in range(200)]
    bigger = parse_registry(json.dumps({'services': [py(sleep, name='keep', autostart=True,
                                                        description='changed'), *many]}),
                            str(tmp_path / 'r.json'), base_dir=str(tmp_path))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    before = descriptors_besides_proc()
    try:
        with pytest.raises(InvalidArgumentError, match='open files'):
            await sup.reload(bigger, timeout=10)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert sup.status('keep').pid == pid and sup.names() == ('keep',)   # nothing touched
    # nothing leaked (pipes, log files, /dev/null): a leak never closes. The metrics thread keeps
    # its /proc files open between passes, as many as the processes it watches: not counted
    await until(lambda: descriptors_besides_proc() <= before)


def descriptors_besides_proc() -> int:
    count = 0
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:            # closed between the listing and the look
            continue
        count += not target.startswith('/proc/')
    return count


async def test_a_failed_service_is_retried_after_its_delay(supervise, tmp_path):
    disk = tmp_path / 'usb'                  # a USB disk that is not mounted yet
    sup = supervise(py('import time\ntime.sleep(600)', name='logger', autostart=True,
                       working_dir=str(disk), restart={'retry_failed_after': 0.5}))
    await sup.start_all()
    status = sup.status('logger')
    assert status.state is S.FAILED and status.next_restart is not None
    assert status.message.endswith('; retried in 0.5 s')
    disk.mkdir()                             # mounted
    await wait_state(sup, 'logger', S.RUNNING)
    assert sup.status('logger').restart_count >= 1


async def test_a_lifecycle_service_without_the_ros_node_fails_with_the_reason(supervise):
    sup = supervise(py('import time\ntime.sleep(600)', name='arm', type='ros2',
                       ros_node='/arm_driver', lifecycle=True))
    sup.use_lifecycle(None)                  # --no-ros
    ends = []
    sup.add_listener(lambda e: ends.append(e) if e.to_state is S.CRASHED else None)
    sup.start('arm')
    await wait_state(sup, 'arm', S.CRASHED)
    assert ends[0].reason.startswith('lifecycle: managing a lifecycle node needs the ROS node')


async def test_take_touched_names_the_services_that_changed(supervise):
    supervisor = supervise(py(SLEEP, name='a', autostart=True),
                           py(SLEEP, name='b', autostart=True))
    await supervisor.start_all()
    await wait_state(supervisor, 'a', S.RUNNING)
    assert {'a', 'b'} <= supervisor.take_touched()
    supervisor.stop('a')
    await wait_state(supervisor, 'a', S.STOPPED)
    assert 'a' in supervisor.take_touched()
    supervisor.start('a')
    await wait_state(supervisor, 'a', S.RUNNING)
    assert 'a' in supervisor.take_touched()          # and again after the next change
