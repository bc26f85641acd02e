"""The orchestrator process killed with SIGKILL, or orphaned: no service outlives it.

A real `python -m omega_orchestrator --no-ros` runs a few services, one of them bound to a
TCP port; it is SIGKILLed in steady state, during start-up and during a stop, and started
again with the same log folder: every service then runs exactly once, and the port is served
by the new one (a survivor would hold it and the new one would crash-loop on 'address in use').
"""

from collections.abc import Iterator
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import uuid

import psutil
import pytest

from test.support import free_port, wait_until

PY = sys.executable
# the services: the interpreter itself, not the venv's (which re-execs itself once at start)
SERVICE_PY = os.path.realpath(sys.executable)
SLEEP = 'import time\ntime.sleep(600)'
STUBBORN = ('import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
            'print("ready", flush=True)\ntime.sleep(600)')
DEADLINE = 20.0


def web(port: int) -> str:
    """A service bound to 127.0.0.1:port that answers each connection with its pid."""
    return ('import os, socket\ns = socket.socket()\n'
            's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n'
            f's.bind(("127.0.0.1", {port}))\ns.listen()\n'
            'while True:\n    c, _ = s.accept()\n    c.sendall(str(os.getpid()).encode())\n'
            '    c.close()')


class Fleet:
    """A registry of tagged `python -c` services and the orchestrator processes running it."""

    made: list['Fleet'] = []

    def __init__(self, folder: Path, **codes: tuple[str, dict]) -> None:
        Fleet.made.append(self)
        self.procs: list[subprocess.Popen] = []
        self.folder = folder
        self.tag = f'death-{uuid.uuid4().hex[:12]}'
        self.names = list(codes)
        services = [{'name': name, 'cmd': SERVICE_PY, 'args': ['-c', code, f'{self.tag}:{name}'],
                     'autostart': True, **fields} for name, (code, fields) in codes.items()]
        (folder / 'r.json').write_text(json.dumps({'services': services}))
        self.log_dir = folder / 'logs'

    def start(self, parent: bool = False) -> subprocess.Popen:
        """The orchestrator (or, with parent, a `python -c` that runs it and waits)."""
        argv = [PY, '-m', 'omega_orchestrator', '--registry', str(self.folder / 'r.json'),
                '--log-dir', str(self.log_dir), '--no-ros']
        if parent:
            argv = [PY, '-c', f'import subprocess\nsubprocess.Popen({argv!r}).wait()']
        with open(self.folder / 'orchestrator.out', 'a') as out:
            self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT))
        return self.procs[-1]

    def running(self) -> dict[str, list[psutil.Process]]:
        """Live service processes by name, found by their tag."""
        found: dict[str, list[psutil.Process]] = {name: [] for name in self.names}
        for proc in psutil.process_iter(['cmdline']):
            args = proc.info['cmdline'] or []
            try:
                mine = args and args[-1].startswith(f'{self.tag}:') and \
                    proc.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                continue
            if mine:
                found[args[-1].split(':', 1)[1]].append(proc)
        return found

    def all_up(self) -> bool:
        """Each service runs exactly once."""
        return all(len(procs) == 1 for procs in self.running().values())

    def none_left(self) -> bool:
        """No service process is left."""
        return not any(self.running().values())

    def all_gone(self, before: list[psutil.Process], timeout: float = 10) -> None:
        """Wait until no service process is left, those seen before included."""
        wait_until(lambda: self.none_left() and all(ended(p) for p in before),
                   timeout, what='no service left after the SIGKILL')

    def seen(self) -> list[psutil.Process]:
        """Every service process running now."""
        return [proc for procs in self.running().values() for proc in procs]

    def log(self) -> str:
        """services.log so far."""
        path = self.log_dir / 'services.log'
        return path.read_text() if path.exists() else ''


@pytest.fixture(autouse=True)
def no_process_outlives_a_test() -> Iterator[None]:
    """Whatever a failed test left running (orchestrators, services) is killed after it."""
    yield
    for fleet in Fleet.made:
        for proc in fleet.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for service in fleet.seen():
            try:
                service.kill()
            except psutil.Error:
                pass
    Fleet.made.clear()


def ended(proc: psutil.Process) -> bool:
    """The process has exited (a zombie nobody reaped yet has, too)."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def answer(port: int) -> int | None:
    """The pid the port-bound service sends, or None while nothing listens."""
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2) as conn:
            return int(conn.recv(32) or 0)
    except (OSError, ValueError):
        return None


def restart_runs_each_once(fleet: Fleet, port: int | None = None) -> None:
    """Start again with the same log folder: each service once, the port served by the new
    orchestrator's child; then SIGINT stops it cleanly and leaves nothing.
    """
    orchestrator = fleet.start()

    def each_once_and_new() -> bool:
        running = fleet.running()
        return all(len(procs) == 1 and procs[0].ppid() == orchestrator.pid
                   for procs in running.values())
    try:
        wait_until(each_once_and_new,
                   what='every service running once, under the new orchestrator')
        if port is not None:
            served = fleet.running()['web'][0]
            wait_until(lambda: answer(port) == served.pid,
                       what='the new web service holds the port')
        # again: a venv python re-execs itself once, so a process may vanish from one scan
        wait_until(each_once_and_new, what='still every service once, under the new orchestrator')
    finally:
        orchestrator.send_signal(signal.SIGINT)
        assert orchestrator.wait(DEADLINE) == 0
    assert fleet.none_left(), fleet.running()
    if port is not None:
        assert 'Address already in use' not in (fleet.log_dir / 'web.stderr.log').read_text()


def test_sigkill_in_steady_state_then_a_restart(tmp_path: Path) -> None:
    port = free_port()
    fleet = Fleet(tmp_path, web=(web(port), {}), worker=(SLEEP, {}),
                  node=(SLEEP, {'stop_signal': 'SIGINT'}))
    orchestrator = fleet.start()
    wait_until(lambda: fleet.all_up() and answer(port), what='every service up')
    before = fleet.seen()
    orchestrator.kill()
    orchestrator.wait()
    fleet.all_gone(before)
    wait_until(lambda: f'the orchestrator (pid {orchestrator.pid}) died' in fleet.log(),
               what='the guardian says what it did')
    restart_runs_each_once(fleet, port)


def test_sigkill_during_start_up_then_a_restart(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, **{f's{i}': (SLEEP, {}) for i in range(10)})
    orchestrator = fleet.start()
    def a_service_started() -> bool:
        for child in psutil.Process(orchestrator.pid).children():
            try:
                if fleet.tag in ' '.join(child.cmdline()):
                    return True
            except psutil.Error:
                pass
        return False
    wait_until(a_service_started, what='a first service')
    orchestrator.kill()                 # as soon as the first service appears
    orchestrator.wait()
    fleet.all_gone(fleet.seen())
    restart_runs_each_once(fleet)


def test_sigkill_during_a_stop_then_a_restart(tmp_path: Path) -> None:
    port = free_port()
    fleet = Fleet(tmp_path, web=(web(port), {}), stubborn=(STUBBORN, {'stop_timeout': 2}))
    orchestrator = fleet.start()
    stdout = fleet.log_dir / 'stubborn.stdout.log'
    wait_until(lambda: fleet.all_up() and answer(port) and stdout.exists() and
               'ready' in stdout.read_text(), what='every service up, SIGTERM ignored')
    orchestrator.send_signal(signal.SIGINT)
    wait_until(lambda: 'stubborn: running -> stopping' in fleet.log(), what='the stop begins')
    before = fleet.seen()
    orchestrator.kill()                 # while it waits for the stubborn one
    orchestrator.wait()
    fleet.all_gone(before)
    restart_runs_each_once(fleet, port)


def test_leftovers_of_a_run_killed_with_its_guardian_are_stopped_on_the_next_start(
        tmp_path: Path) -> None:
    port = free_port()
    fleet = Fleet(tmp_path, web=(web(port), {}), worker=(SLEEP, {}))
    orchestrator = fleet.start()
    wait_until(lambda: fleet.all_up() and answer(port), what='every service up')
    guardian = [p for p in psutil.Process(orchestrator.pid).children()
                if any(a.endswith('guardian.py') for a in p.cmdline())]
    assert len(guardian) == 1
    guardian[0].kill()                  # nobody is left to stop the services...
    wait_until(lambda: ended(guardian[0]), what='the guardian is dead')
    orchestrator.kill()
    orchestrator.wait()
    assert all(len(procs) == 1 for procs in fleet.running().values())   # ...so they run on
    restart_runs_each_once(fleet, port)
    assert f'left by a previous orchestrator (pid {orchestrator.pid})' in fleet.log()


def test_the_orchestrator_stops_its_services_when_its_parent_dies(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, worker=(SLEEP, {}), node=(SLEEP, {'stop_signal': 'SIGINT'}))
    parent = fleet.start(parent=True)
    wait_until(fleet.all_up, what='every service up')
    orchestrator = psutil.Process(fleet.running()['worker'][0].ppid())
    assert orchestrator.ppid() == parent.pid
    before = fleet.seen()
    parent.kill()
    parent.wait()
    wait_until(lambda: ended(orchestrator), what='the orchestrator exits by itself')
    fleet.all_gone(before)
    log = fleet.log()
    assert f'parent process {parent.pid} died: stopping all services' in log
    assert 'worker: stopping -> stopped' in log and 'node: stopping -> stopped' in log
    assert 'guardian' not in log           # it stopped them itself, in order
