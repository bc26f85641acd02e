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


async def test_output_goes_to_the_seed_log_files_and_the_tail(supervise, tmp_path: Path):
    code = ('import sys\nprint("to out")\nprint("to err", file=sys.stderr)\n'
            'print("no newline", end="")')
    sup = supervise(py(code, name='talker'))
    sup.start('talker')
    await wait_state(sup, 'talker', S.EXITED)
    assert sup.logs('talker', 'stdout', 50) == ['to out', 'no newline']
    assert sup.logs('talker', 'stderr', 50) == ['to err']
    logs = tmp_path / 'logs'
    assert (logs / 'talker.stdout.log').read_text() == 'to out\nno newline'
    assert (logs / 'talker.stderr.log').read_text() == 'to err\n'


async def test_logs_rotate_and_disk_use_stays_bounded(supervise, tmp_path: Path):
    code = 'import sys\nfor i in range(4000):\n    print("line %05d " % i + "x" * 90)'
    sup = supervise(py(code, name='chatty'), log_max_bytes=20_000, backups=3)
    sup.start('chatty')
    await wait_state(sup, 'chatty', S.EXITED)
    logs = tmp_path / 'logs'
    files = sorted(p.name for p in logs.glob('chatty.stdout.log*'))
    assert files == ['chatty.stdout.log', 'chatty.stdout.log.1', 'chatty.stdout.log.2',
                     'chatty.stdout.log.3']
    assert all((logs / f).stat().st_size <= 20_000 for f in files)
    assert sup.logs('chatty', 'stdout', 1) == ['line 03999 ' + 'x' * 90]


async def test_a_fast_writer_does_not_starve_supervision(supervise):
    spew = 'import sys\nwhile True:\n    sys.stdout.write("y" * 8191 + "\\n")'
    sup = supervise(py(spew, name='spew'), py('import time\ntime.sleep(600)', name='victim',
                                              restart_policy='always'),
                    log_max_bytes=1_000_000, backups=1)
    sup.start('spew')
    first = sup.start('victim').pid
    await until(lambda: len(sup.logs('spew', 'stdout', 10)) == 10)
    os.kill(first, 9)
    await sup.wait_for(lambda: sup.status('victim').pid not in (None, first), 20)
    assert sup.status('victim').state is S.RUNNING


def test_a_log_that_cannot_be_written_loses_output_not_supervision(tmp_path: Path):
    from omega_orchestrator.runtime.logs import RotatingFile
    full = RotatingFile('/dev/full', max_bytes=1 << 20, backups=0)
    full.write(b'disk is full\n')
    full.write(b'still full\n')
    assert full.dropped == len(b'disk is full\n') + len(b'still full\n')
