"""Service logs under bad conditions: history from disk, no idle descriptors, bad log paths."""

import os
from pathlib import Path

from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import py, until

SAY = 'import sys\nprint("fresh line")\nprint("err line", file=sys.stderr)'


def open_fds() -> int:
    return len(os.listdir('/proc/self/fd'))


async def test_history_survives_a_restart_of_the_orchestrator(supervise, tmp_path: Path):
    logs = tmp_path / 'logs'
    logs.mkdir()
    (logs / 'cam.stdout.log').write_text(''.join(f'old {i}\n' for i in range(3000)))
    sup = supervise(py(SAY, name='cam'))
    assert sup.logs('cam', 'stdout', 3) == ['old 2997', 'old 2998', 'old 2999']
    sup.start('cam')
    await wait_state(sup, 'cam', S.EXITED)
    assert sup.logs('cam', 'stdout', 2) == ['old 2999', 'fresh line']


async def test_declared_services_hold_no_log_descriptors(supervise):
    before = open_fds()
    sup = supervise(*[py(SAY, name=f's{i}') for i in range(300)])
    assert open_fds() - before < 20          # not 600: files open only while output flows
    sup.start('s7')
    await wait_state(sup, 's7', S.EXITED)
    await until(lambda: open_fds() - before < 20)
    assert sup.logs('s7', 'stdout', 5) == ['fresh line']


async def test_a_log_folder_that_is_a_file_does_not_stop_the_service(supervise, tmp_path):
    (tmp_path / 'logs').write_text('not a folder')
    sup = supervise(py(SAY + '\nimport time\ntime.sleep(60)', name='cam'))
    sup.start('cam')
    await wait_state(sup, 'cam', S.RUNNING)
    await until(lambda: sup.logs('cam', 'stderr', 5) == ['err line'])
    status = sup.status('cam')
    assert status.state is S.RUNNING and 'cannot write' in status.message
    assert 'logs' in status.message and status.log_problem


async def test_a_log_file_that_is_a_folder_or_a_full_disk_is_reported(supervise, tmp_path):
    logs = tmp_path / 'logs'
    logs.mkdir()
    (logs / 'cam.stdout.log').mkdir()
    os.symlink('/dev/full', logs / 'cam.stderr.log')      # every write: ENOSPC
    sup = supervise(py(SAY + '\nimport time\ntime.sleep(60)', name='cam'))
    sup.start('cam')
    await until(lambda: sup.logs('cam', 'stderr', 5) == ['err line'])
    assert sup.logs('cam', 'stdout', 5) == ['fresh line']
    assert sup.status('cam').state is S.RUNNING
    assert 'cannot write' in sup.status('cam').message


async def test_the_log_problem_is_said_on_the_running_event(supervise, tmp_path):
    (tmp_path / 'logs').write_text('not a folder')
    sup = supervise(py('import time\ntime.sleep(60)', name='cam'))
    events = []
    sup.add_listener(events.append)
    sup.start('cam')
    await wait_state(sup, 'cam', S.RUNNING)
    running = [e for e in events if e.to_state is S.RUNNING][0]
    assert 'cannot write' in running.reason and 'memory only' in running.reason
