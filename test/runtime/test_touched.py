"""What the supervisor says changed (take_touched), for a publisher that asks only those
services for their status: besides transitions and usage, a log file's problem beginning and
ending, and a step of the wall clock. Real children and files; a fake clock, no metrics.
"""

import os
from pathlib import Path

import pytest

from omega_orchestrator.core.states import ServiceState as S
from omega_orchestrator.runtime.logs import RotatingFile
from test.runtime.support import wait_state
from test.support import until

TICK = {'cmd': '/bin/sh', 'args': ['-c', 'while :; do echo tick; sleep 0.02; done']}
SLEEP = {'cmd': '/bin/sh', 'args': ['-c', 'sleep 600']}


def test_a_log_file_says_when_its_problem_begins_changes_and_ends(tmp_path: Path):
    calls: list[str] = []
    path = tmp_path / 'cam.stdout.log'
    path.mkdir()                                     # a folder in the file's place
    log = RotatingFile(str(path), 1000, 1, on_error_change=lambda: calls.append(log.error))
    log.write(b'one\n')
    log.write(b'two\n')                              # the same problem: not news
    assert len(calls) == 1 and 'Is a directory' in calls[0]
    path.rmdir()
    os.symlink('/dev/full', path)                    # another problem: every write ENOSPC
    log.write(b'three\n')
    assert len(calls) == 2 and 'No space left' in calls[1]
    path.unlink()
    log.write(b'four\n')                             # works again
    log.write(b'five\n')
    assert calls[2:] == [''] and path.read_bytes() == b'four\nfive\n'


async def test_a_log_problem_touches_its_service_when_it_ends_not_at_each_lost_line(
        replay, tmp_path: Path):
    logs = tmp_path / 'logs'
    logs.mkdir()
    os.symlink('/dev/full', logs / 'cam.stdout.log')
    sup, _ = replay(dict(TICK, name='cam'), dict(SLEEP, name='arm'))
    sup.start('cam')
    sup.start('arm')
    await wait_state(sup, 'cam', S.RUNNING)
    await wait_state(sup, 'arm', S.RUNNING)
    await until(lambda: sup.status('cam').log_problem)
    sup.take_touched()
    lines = len(sup.logs('cam', 'stdout', 1000))
    await until(lambda: len(sup.logs('cam', 'stdout', 1000)) >= lines + 5)   # all lost
    assert sup.take_touched() == set()
    (logs / 'cam.stdout.log').unlink()               # room again: the next line is written
    touched: set[str] = set()
    await until(lambda: touched.update(sup.take_touched()) or 'cam' in touched)
    assert touched == {'cam'} and sup.status('cam').log_problem == ''
    assert 'cannot write' not in sup.status('cam').message


async def test_a_step_of_the_wall_clock_touches_every_service(replay):
    sup, clock = replay(dict(SLEEP, name='a'), dict(SLEEP, name='b'))
    sup.start('a')
    await wait_state(sup, 'a', S.RUNNING)
    started = sup.status('a').start_time
    sup.take_touched()
    clock.wall_offset += 0.2                         # the same second: no step
    assert sup.take_touched() == set()
    clock.wall_offset += 30.0                        # NTP sets a robot's clock at boot
    assert sup.take_touched() == {'a', 'b'}
    assert sup.status('a').start_time == pytest.approx(started + 30.2, abs=0.002)
    assert sup.take_touched() == set()
