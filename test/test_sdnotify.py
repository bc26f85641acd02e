"""systemd notifications: the protocol pieces, then the orchestrator and the launcher talking
to a NOTIFY_SOCKET of the test's own, as a Type=notify unit with WatchdogSec= would see them.
"""

import asyncio
from collections.abc import Callable, Iterator
import json
import os
from pathlib import Path
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psutil
import pytest

from omega_orchestrator.core.states import ServiceState
from omega_orchestrator.runtime import sdnotify
from omega_orchestrator.runtime.sdnotify import Notifier, summarize, UnitLink
from test.support import free_port, until

DEADLINE = 30.0
S = ServiceState


# -- the pieces -------------------------------------------------------------------------------

def test_summary_counts_the_states_in_lifecycle_order():
    states = [S.RUNNING, S.EXITED, S.RUNNING, S.RUNNING]
    assert summarize(states) == '4 services: 3 running, 1 exited'
    assert summarize([S.FAILED, S.BACKOFF]) == '2 services: 1 backoff, 1 failed'
    assert summarize([S.STOPPED]) == '1 service: 1 stopped'
    assert summarize([]) == '0 services'


def test_socket_addresses():
    assert sdnotify.socket_address('/run/systemd/notify') == '/run/systemd/notify'
    assert sdnotify.socket_address('@abstract') == b'\0abstract'
    assert sdnotify.socket_address('') is None
    assert sdnotify.socket_address('vsock:2:1234') is None


@pytest.mark.parametrize('owner, expected', [
    (None, 15.0), ('100', 15.0), ('10', 15.0), ('999', None)])
def test_watchdog_is_ours_when_it_names_us_or_our_parent(owner, expected):
    environ = {'WATCHDOG_USEC': '30000000'}
    if owner:
        environ['WATCHDOG_PID'] = owner
    assert sdnotify.watchdog_interval(environ, pid=100, ppid=10) == expected


@pytest.mark.parametrize('usec', ['', 'soon', '0', '-5'])
def test_no_watchdog_without_a_valid_interval(usec):
    assert sdnotify.watchdog_interval({'WATCHDOG_USEC': usec}, pid=1, ppid=1) is None


def test_from_environment_takes_the_variables_out():
    environ = {'NOTIFY_SOCKET': '@x', 'WATCHDOG_USEC': '2000000',
               'WATCHDOG_PID': str(os.getppid()), 'PATH': '/bin'}
    notifier = Notifier.from_environment(environ)
    assert environ == {'PATH': '/bin'}, 'nothing started later may inherit them'
    assert notifier.enabled and notifier.address == b'\0x' and notifier.watchdog == 1.0


def test_without_notify_socket_nothing_is_sent():
    notifier = Notifier.from_environment({'WATCHDOG_USEC': '2000000'})
    assert not notifier.enabled and notifier.watchdog is None
    assert notifier.send('READY=1') is False


class Receiver:
    """A NOTIFY_SOCKET of the test's own: collects datagrams, waits for them with a deadline."""

    def __init__(self, address: str) -> None:
        self.address = address          # as $NOTIFY_SOCKET spells it
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(sdnotify.socket_address(address))
        self.messages: list[tuple[float, dict[str, str]]] = []

    def wait_for(self, predicate: Callable[[dict[str, str]], bool], what: str,
                 timeout: float = DEADLINE) -> dict[str, str]:
        """The first message (kept or new) for which predicate is true."""
        for _, fields in self.messages:
            if predicate(fields):
                return fields
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f'no {what} within {timeout} s; got {self.messages}'
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            fields = dict(line.split('=', 1) for line in data.decode().splitlines())
            self.messages.append((time.monotonic(), fields))
            if predicate(fields):
                return fields

    def count(self, key: str) -> int:
        return sum(key in fields for _, fields in self.messages)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    name = f'@omega-test-{os.getpid()}-{random.randint(0, 10**9)}'
    listener = Receiver(name)
    yield listener
    listener.close()


def test_messages_reach_an_abstract_socket(receiver: Receiver):
    notifier = Notifier(sdnotify.socket_address(receiver.address))
    assert notifier.send('READY=1', 'STATUS=up')
    assert receiver.wait_for(lambda f: True, 'a message') == {'READY': '1', 'STATUS': 'up'}
    notifier.close()


def test_messages_reach_a_socket_file():
    folder = tempfile.mkdtemp(prefix='omega-')      # short: unix socket paths are limited
    receiver = Receiver(os.path.join(folder, 'notify'))
    try:
        notifier = Notifier(receiver.address)
        assert notifier.send('WATCHDOG=1')
        assert receiver.wait_for(lambda f: True, 'a message') == {'WATCHDOG': '1'}
    finally:
        receiver.close()
        os.unlink(receiver.address)
        os.rmdir(folder)


def test_a_full_or_missing_socket_never_blocks_nor_raises(receiver: Receiver):
    full = Notifier(sdnotify.socket_address(receiver.address))
    started = time.monotonic()
    results = [full.send('WATCHDOG=1') for _ in range(5000)]   # nobody reads them
    assert False in results and time.monotonic() - started < 5
    missing = Notifier('/nonexistent/omega/notify')
    assert missing.send('READY=1') is False


class Recorder(Notifier):
    """A notifier that keeps what it sends."""

    def __init__(self, watchdog: float | None = None) -> None:
        super().__init__('@recorder', watchdog)
        self.sent: list[tuple[float, tuple[str, ...]]] = []

    def send(self, *fields: str) -> bool:
        self.sent.append((time.monotonic(), fields))
        return True


def test_status_is_sent_on_change_at_most_once_per_interval():
    async def scenario() -> None:
        recorder, states = Recorder(), [S.STARTING, S.STARTING]
        listeners: list = []
        link = UnitLink(recorder, status_interval=0.3)
        link.watch(lambda: [type('Status', (), {'state': s})() for s in states],
                   listeners.append)
        assert listeners == [link.changed]

        def statuses() -> list[tuple[str, ...]]:
            return [f for _, f in recorder.sent if f[0].startswith('STATUS=')]
        link.changed()
        await until(lambda: len(statuses()) == 1, timeout=5)
        states[0] = S.RUNNING
        link.changed()
        states[1] = S.RUNNING
        link.changed()                       # coalesced with the one before
        await until(lambda: len(statuses()) == 2, timeout=5)
        assert statuses() == [('STATUS=2 services: 2 starting',),
                              ('STATUS=2 services: 2 running',)]
        times = [t for t, f in recorder.sent if f[0].startswith('STATUS=')]
        assert times[1] - times[0] >= 0.29
        link.changed()                       # nothing changed: nothing sent
        link.close()
        assert len(statuses()) == 2
    asyncio.run(scenario())


def test_watchdog_pings_come_from_the_loop_and_stop_with_it():
    async def scenario() -> None:
        recorder = Recorder(watchdog=0.02)
        link = UnitLink(recorder)
        link.watch(tuple, lambda listener: None)

        def pings() -> int:
            return sum(f == ('WATCHDOG=1',) for _, f in recorder.sent)
        await until(lambda: pings() >= 3, timeout=5)
        link.ready()
        link.stopping()
        link.close()
        count = pings()
        await asyncio.sleep(0.1)             # no more pings once closed
        assert pings() == count
        assert ('READY=1', 'STATUS=0 services') in [f for _, f in recorder.sent]
        assert ('STOPPING=1',) in [f for _, f in recorder.sent]
    asyncio.run(scenario())


# -- the real processes -----------------------------------------------------------------------

def write_registry(folder: Path, tag: str) -> Path:
    # -S: no site, so the venv's ROS-wheels .pth does not re-execute the interpreter (a
    # process between its two execs shows no command line, and READY is checked at once)
    sleeper = ['-S', '-c', 'import time; time.sleep(600)', tag]
    path = folder / 'robot.json'
    path.write_text(json.dumps({'services': [
        {'name': 'first', 'cmd': sys.executable, 'args': sleeper, 'autostart': True},
        {'name': 'second', 'cmd': sys.executable, 'args': sleeper, 'autostart': True,
         'depends_on': ['first']}]}))
    return path


def tagged(tag: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(['cmdline']):
        try:
            if tag in (proc.info['cmdline'] or ()) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:     # gone between the listing and the question
            pass
    return found


def notify_env(receiver: Receiver, **extra: str) -> dict[str, str]:
    return dict(os.environ, NOTIFY_SOCKET=receiver.address, WATCHDOG_USEC='400000',
                ROS_DOMAIN_ID=str(random.randint(1, 100)),
                ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', **extra)


def assert_clean_environment(proc: psutil.Process) -> None:
    leaked = set(proc.environ()) & set(sdnotify.VARIABLES)
    assert not leaked, f'{proc.cmdline()} inherited {leaked}'


def check_a_notified_run(receiver: Receiver, tag: str) -> None:
    """READY after a service runs, pings, a status naming the services; clean services."""
    receiver.wait_for(lambda f: f.get('READY') == '1', 'READY=1')
    assert tagged(tag), 'READY=1 before the first service was spawned'
    pings = receiver.count('WATCHDOG')
    receiver.wait_for(lambda f: 'WATCHDOG' in f and receiver.count('WATCHDOG') >= pings + 3,
                      'three more WATCHDOG=1')
    receiver.wait_for(lambda f: f.get('STATUS') == '2 services: 2 running',
                      'STATUS= with both services running')
    for proc in tagged(tag):
        assert_clean_environment(proc)


def test_the_orchestrator_notifies_ready_status_watchdog_and_stopping(
        tmp_path: Path, receiver: Receiver):
    tag = f'notify-{os.getpid()}-{random.randint(0, 10**9)}'
    proc = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator', '--registry',
         str(write_registry(tmp_path, tag)), '--log-dir', str(tmp_path / 'logs'), '--no-ros'],
        env=notify_env(receiver), stderr=subprocess.DEVNULL)
    try:
        check_a_notified_run(receiver, tag)
        proc.send_signal(signal.SIGINT)
        receiver.wait_for(lambda f: f.get('STOPPING') == '1', 'STOPPING=1')
        assert proc.wait(DEADLINE) == 0
    finally:
        proc.kill()
        for service in tagged(tag):
            service.kill()
    receiver.wait_for(lambda f: f.get('STATUS') == '2 services: 2 stopped', 'the last status')


# systemd's WATCHDOG_PID is the main process: set it to our own pid, then become the launcher
AS_MAIN_PROCESS = ('import os, sys\n'
                   'os.environ["WATCHDOG_PID"] = str(os.getpid())\n'
                   'os.execv(sys.executable, [sys.executable, "-m", '
                   '"omega_orchestrator.launcher", *sys.argv[1:]])\n')


def test_the_launcher_hands_the_notify_socket_to_the_orchestrator_only(tmp_path: Path):
    folder = tempfile.mkdtemp(prefix='omega-')
    receiver = Receiver(os.path.join(folder, 'notify'))
    tag = f'notify-{os.getpid()}-{random.randint(0, 10**9)}'
    launcher = subprocess.Popen(
        [sys.executable, '-c', AS_MAIN_PROCESS, '--registry',
         str(write_registry(tmp_path, tag)), '--log-dir', str(tmp_path / 'logs'), '--no-ros',
         '--api-port', str(free_port())], env=notify_env(receiver), stderr=subprocess.DEVNULL)
    try:
        check_a_notified_run(receiver, tag)     # the pings prove WATCHDOG_PID was accepted
        children = psutil.Process(launcher.pid).children()
        (sidecar,) = [c for c in children if 'omega_orchestrator.sidecar' in c.cmdline()]
        assert_clean_environment(sidecar)
        launcher.send_signal(signal.SIGTERM)
        receiver.wait_for(lambda f: f.get('STOPPING') == '1', 'STOPPING=1')
        assert launcher.wait(DEADLINE) == 0
    finally:
        launcher.kill()
        for proc in tagged(tag):
            proc.kill()
        receiver.close()
        os.unlink(receiver.address)
        os.rmdir(folder)
