"""systemd's notify protocol, with the standard library: ready, status, watchdog, stopping.

A unit of `Type=notify` hands its processes $NOTIFY_SOCKET, an AF_UNIX datagram socket
('@' = the abstract namespace), and with `WatchdogSec=` also $WATCHDOG_USEC and $WATCHDOG_PID.
Without $NOTIFY_SOCKET everything here is a no-op. Sending never blocks and never raises:
a full or vanished socket loses one message, never the engine.

The unit's main process may be our parent (`omega_orchestrator.launcher`, `ros2 launch`),
so a $WATCHDOG_PID naming our parent counts as ours (systemd's own rule accepts only ours).
"""

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, MutableMapping, Sequence
import logging
import os
import socket
import time
from typing import Protocol

from omega_orchestrator.core.states import ServiceState

log = logging.getLogger('omega_orchestrator')

NOTIFY_SOCKET = 'NOTIFY_SOCKET'
WATCHDOG_USEC = 'WATCHDOG_USEC'
WATCHDOG_PID = 'WATCHDOG_PID'
#: What systemd gives the unit's processes for this protocol; no service may inherit them.
VARIABLES = (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID)
#: At most one STATUS= a second.
STATUS_INTERVAL = 1.0


def socket_address(value: str) -> str | bytes | None:
    """The address of a $NOTIFY_SOCKET value; None for kinds we do not speak (vsock)."""
    if value.startswith('@'):
        return b'\0' + value[1:].encode()
    if value.startswith('/'):
        return value
    return None


def watchdog_interval(environ: MutableMapping[str, str], pid: int, ppid: int) -> float | None:
    """Seconds between pings (half of $WATCHDOG_USEC), or None when no watchdog is ours."""
    try:
        usec = int(environ.get(WATCHDOG_USEC, ''))
    except ValueError:
        return None
    owner = environ.get(WATCHDOG_PID)
    if usec <= 0 or (owner and owner not in (str(pid), str(ppid))):
        return None
    return usec / 2e6


def summarize(states: Iterable[ServiceState]) -> str:
    """One line for STATUS=, e.g. '4 services: 3 running, 1 exited'."""
    counts = Counter(states)
    total = sum(counts.values())
    noun = 'service' if total == 1 else 'services'
    parts = [f'{counts[state]} {state.value}' for state in ServiceState if counts[state]]
    return f'{total} {noun}: {", ".join(parts)}' if parts else f'{total} {noun}'


class Notifier:
    """Sends notify messages to one socket; does nothing without one."""

    def __init__(self, address: str | bytes | None, watchdog: float | None = None) -> None:
        self.address = address
        #: seconds between WATCHDOG=1 pings, or None
        self.watchdog = watchdog if address is not None else None
        self._sock: socket.socket | None = None
        self._failed = False

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] | None = None) -> 'Notifier':
        """Read the variables and remove them from environ (default os.environ).

        Removing them keeps them from every process started later, as sd_notify's
        unset_environment does.
        """
        environ = os.environ if environ is None else environ
        address = socket_address(environ.get(NOTIFY_SOCKET, ''))
        watchdog = watchdog_interval(environ, os.getpid(), os.getppid())
        for name in VARIABLES:
            environ.pop(name, None)
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        """Whether anyone listens."""
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send 'KEY=value' fields in one datagram; False if it could not be sent."""
        if self.address is None:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            self._sock.sendto('\n'.join(fields).encode(), self.address)
            return True
        except OSError as exc:
            if not self._failed:      # once: a missing socket would repeat every ping
                log.warning('cannot notify systemd at %r: %s', self.address, exc)
                self._failed = True
            return False

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class HasState(Protocol):
    """A service status as far as STATUS= needs it."""

    @property
    def state(self) -> ServiceState:
        """The service's state."""


class UnitLink:
    """What the engine tells systemd: READY=1, STATUS= lines, WATCHDOG=1 pings, STOPPING=1.

    The pings come from a task on the engine's loop: a wedged loop stops them and systemd
    restarts the unit. Call everything on that loop.
    """

    def __init__(self, notifier: Notifier, *, status_interval: float = STATUS_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.notifier = notifier
        self.status_interval = status_interval
        self.clock = clock
        self._snapshot: Callable[[], Sequence[HasState]] = tuple
        self._sent_status = ''
        self._sent_at = float('-inf')
        self._pending: asyncio.TimerHandle | None = None
        self._pinger: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_environment(cls) -> 'UnitLink':
        """A link over os.environ's socket; the variables are removed from os.environ."""
        return cls(Notifier.from_environment())

    def watch(self, snapshot: Callable[[], Sequence[HasState]],
              add_listener: Callable[[Callable[[object], None]], None]) -> None:
        """Report the services' states as they change and start the watchdog pings."""
        if not self.notifier.enabled:
            return
        self._snapshot = snapshot
        self._loop = asyncio.get_running_loop()
        add_listener(self.changed)
        if self.notifier.watchdog is not None:
            self._pinger = self._loop.create_task(self._ping(self.notifier.watchdog))

    def ready(self) -> None:
        """READY=1, with the current status."""
        if self.notifier.enabled:
            field = self._status_field()
            self.notifier.send('READY=1', field)
            self._sent_status, self._sent_at = field, self.clock()

    def reloading(self) -> None:
        """RELOADING=1 (a SIGHUP reload begins; READY=1 ends it), stamped as systemd wants."""
        if self.notifier.enabled:
            stamp = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            self.notifier.send('RELOADING=1', f'MONOTONIC_USEC={stamp}')

    def stopping(self) -> None:
        """STOPPING=1: the unit is shutting down on purpose."""
        self.notifier.send('STOPPING=1')

    def changed(self, _event: object = None) -> None:
        """A service changed state: send STATUS= now, or once the interval allows."""
        if self._loop is None or self._pending is not None:
            return          # not watching (or closed), or a STATUS= is already due
        delay = max(0.0, self._sent_at + self.status_interval - self.clock())
        self._pending = self._loop.call_later(delay, self._flush)

    def close(self) -> None:
        """Send the last status, stop the pings and release the socket."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._loop is not None:
            self._flush()
            self._loop = None
        if self._pinger is not None:
            self._pinger.cancel()
        self.notifier.close()

    def _flush(self) -> None:
        self._pending = None
        field = self._status_field()
        if field != self._sent_status:
            self.notifier.send(field)
            self._sent_status, self._sent_at = field, self.clock()

    def _status_field(self) -> str:
        return 'STATUS=' + summarize(s.state for s in self._snapshot())

    async def _ping(self, interval: float) -> None:
        while True:
            self.notifier.send('WATCHDOG=1')
            await asyncio.sleep(interval)
