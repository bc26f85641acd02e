"""The lifeline: a guardian ends what the orchestrator leaves; leftovers of a dead run go."""

import logging
import os
from pathlib import Path
import signal
import subprocess
import sys
import uuid

import psutil
import pytest

from omega_orchestrator.runtime import guardian, lifeline
from omega_orchestrator.runtime.guardian import MARKER_VAR
from test.support import wait_until

PY = os.path.realpath(sys.executable)   # not the venv's: it re-execs itself once at start
SLEEP = 'import time\ntime.sleep(600)'
DEADLINE = 15.0


def child(code: str = SLEEP, marker: str | None = None) -> subprocess.Popen:
    """A `python -c` child in its own session, as services run, optionally marked."""
    env = dict(os.environ)
    env.pop(MARKER_VAR, None)
    if marker is not None:
        env[MARKER_VAR] = marker
    return subprocess.Popen([PY, '-c', code, f'lifeline-test-{uuid.uuid4().hex}'], env=env,
                            start_new_session=True, stdout=subprocess.PIPE)


def gone(proc: subprocess.Popen, timeout: float = DEADLINE) -> int:
    """Wait until the child has ended; its exit code (negative: the signal)."""
    return proc.wait(timeout)


def ready(proc: subprocess.Popen) -> None:
    """Wait until the child printed its first line (its signal handlers are set)."""
    assert proc.stdout is not None and proc.stdout.readline()


def start_of(pid: int) -> int:
    stat = guardian.stat_of(pid)
    assert stat is not None
    return stat[2]


def test_markers_round_trip() -> None:
    owner = guardian.owner_prefix('abc', 12, 345, 'ff00')
    marker = guardian.make_marker(owner, 'web_api', 3)
    assert marker.startswith(owner)
    assert guardian.parse_marker(marker) == guardian.Marker('abc', 12, 345, 'ff00', 'web_api', 3)
    assert guardian.parse_marker('a1b2c3d4:web_api:3') is None   # an older format: not ours


def test_the_guardian_ends_registered_groups_when_the_pipe_closes(tmp_path: Path) -> None:
    log_file = tmp_path / 'services.log'
    line = lifeline.Lifeline(lifeline.new_owner(str(tmp_path)), str(log_file))
    line.start()
    polite = child('import signal, sys\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(7))\n'
                   'print("ready", flush=True)\nsignal.pause()')
    stubborn = child('import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
                     'print("ready", flush=True)\nsignal.pause()')
    for proc in (polite, stubborn):
        ready(proc)
    line.watch(polite.pid, 'SIGINT', 5.0)
    line.watch(stubborn.pid, 'SIGTERM', 0.5)
    line.close()
    assert gone(polite) == 7               # its own stop signal, at once
    assert gone(stubborn) == -signal.SIGKILL   # after its stop timeout
    assert line.wait(DEADLINE)
    assert '2 process group(s)' in log_file.read_text()


def test_the_guardian_kills_marked_processes_outside_any_group_not_others(tmp_path: Path) -> None:
    line = lifeline.Lifeline(lifeline.new_owner(str(tmp_path)), str(tmp_path / 'services.log'))
    line.start()
    ours = child(marker=guardian.make_marker(line.owner, 'escaped', 1))
    other = lifeline.new_owner(str(tmp_path))       # another Supervisor, same process
    theirs = child(marker=guardian.make_marker(other, 'svc', 1))
    unmarked = child()
    line.close()
    assert gone(ours) in (-signal.SIGTERM, -signal.SIGKILL)
    assert line.wait(DEADLINE)
    assert theirs.poll() is None and unmarked.poll() is None
    for proc in (theirs, unmarked):
        proc.kill()
        proc.wait()


def test_a_normal_close_finds_nothing_and_logs_nothing(tmp_path: Path) -> None:
    log_file = tmp_path / 'services.log'
    line = lifeline.Lifeline(lifeline.new_owner(str(tmp_path)), str(log_file))
    line.start()
    proc = child()
    line.watch(proc.pid, 'SIGTERM', 5.0)
    proc.kill()
    proc.wait()
    line.forget(proc.pid)
    line.close()
    assert line.wait(DEADLINE)
    assert not log_file.exists() or 'guardian' not in log_file.read_text()


def test_a_dead_guardian_is_replaced_and_told_every_group(tmp_path: Path) -> None:
    line = lifeline.Lifeline(lifeline.new_owner(str(tmp_path)), str(tmp_path / 'services.log'))
    line.start()
    first = line.pid
    assert first is not None
    proc = child()
    line.watch(proc.pid, 'SIGTERM', 5.0)
    guard = psutil.Process(first)
    guard.kill()
    guard.wait(DEADLINE)
    later = child()
    line.watch(later.pid, 'SIGTERM', 5.0)     # finds the pipe broken: a new guardian
    assert line.pid not in (None, first)
    line.close()
    assert gone(proc) == -signal.SIGTERM and gone(later) == -signal.SIGTERM
    assert line.wait(DEADLINE)


def ignored_signals(pid: int) -> int:
    """The SigIgn mask of a process, from /proc/PID/status."""
    with open(f'/proc/{pid}/status') as status:
        for row in status:
            if row.startswith('SigIgn:'):
                return int(row.split()[1], 16)
    return 0


def test_the_guardian_ignores_a_terminals_signals(tmp_path: Path) -> None:
    line = lifeline.Lifeline(lifeline.new_owner(str(tmp_path)), str(tmp_path / 'services.log'))
    line.start()
    proc = child()
    line.watch(proc.pid, 'SIGTERM', 5.0)
    assert line.pid is not None and os.getpgid(line.pid) == line.pid   # its own session
    wanted = sum(1 << (s - 1) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    # its interpreter takes a moment to start
    wait_until(lambda: ignored_signals(line.pid) & wanted == wanted, DEADLINE,
               what='the guardian ignores SIGINT/SIGTERM/SIGHUP')
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        os.kill(line.pid, signum)             # ignored: discarded as it is sent
    line.close()
    assert gone(proc) == -signal.SIGTERM      # so it was still there to do its job
    assert line.wait(DEADLINE)


def test_leftovers_of_a_dead_owner_with_this_home_are_stopped_and_no_others(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    home = lifeline.home_key(str(tmp_path / 'logs'))
    dead = subprocess.Popen([PY, '-c', SLEEP])
    dead_start = start_of(dead.pid)
    dead.kill()
    dead.wait()
    alive_owner = guardian.owner_prefix(home, os.getpid(), start_of(os.getpid()), 'live')
    dead_owner = guardian.owner_prefix(home, dead.pid, dead_start, 'gone')
    reused_pid = guardian.owner_prefix(home, os.getpid(), start_of(os.getpid()) - 1, 'old')
    elsewhere = guardian.owner_prefix(lifeline.home_key(str(tmp_path / 'other')), dead.pid,
                                      dead_start, 'gone')
    left = child(marker=guardian.make_marker(dead_owner, 'web_api', 1))
    left_too = child(marker=guardian.make_marker(reused_pid, 'sensor', 2))
    running = child(marker=guardian.make_marker(alive_owner, 'web_api', 1))
    foreign = child(marker=guardian.make_marker(elsewhere, 'web_api', 1))
    with caplog.at_level(logging.WARNING, 'omega_orchestrator'):
        found = lifeline.clean_leftovers(str(tmp_path / 'logs'))
    assert sorted(p.pid for p in found) == sorted([left.pid, left_too.pid])
    assert gone(left) == -signal.SIGTERM and gone(left_too) == -signal.SIGTERM
    assert running.poll() is None and foreign.poll() is None
    assert f'left by a previous orchestrator (pid {dead.pid}): web_api pid {left.pid}' \
        in caplog.text
    for proc in (running, foreign):
        proc.kill()
        proc.wait()


def test_leftovers_that_ignore_sigterm_are_killed_after_the_grace(tmp_path: Path) -> None:
    home = lifeline.home_key(str(tmp_path))
    owner = guardian.owner_prefix(home, os.getpid(), start_of(os.getpid()) - 1, 'old')
    stubborn = child('import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
                     'print("ready", flush=True)\nsignal.pause()',
                     marker=guardian.make_marker(owner, 'stubborn', 1))
    ready(stubborn)
    lifeline.clean_leftovers(str(tmp_path), timeout=0.3)
    assert gone(stubborn, 1.0) == -signal.SIGKILL    # clean_leftovers returned: already dead


def test_no_leftovers_means_nothing_is_logged(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, 'omega_orchestrator'):
        assert lifeline.clean_leftovers(str(tmp_path)) == []
    assert caplog.text == ''
