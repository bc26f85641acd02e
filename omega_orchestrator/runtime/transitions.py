"""Announcing state changes: the TransitionEvent of each AnnounceTransition, the log line,
and the listeners (the ROS face's relay, systemd's status, tests).

The exit code and the last stderr lines belong to the transition out of the process's states
(running -> crashed), not to what the policy does next; a log folder that cannot be written
is said once, on the running event.
"""

from collections.abc import Iterator
import contextlib
import logging

from omega_orchestrator.core import commands as cmd
from omega_orchestrator.core import events as ev
from omega_orchestrator.core.states import (
    ERROR_STATES,
    PROCESS_STATES,
    ServiceState,
    WAITING_STATES,
)
from omega_orchestrator.runtime.clock import Clock
from omega_orchestrator.runtime.relay import Consumer
from omega_orchestrator.runtime.status import TransitionEvent
from omega_orchestrator.runtime.unit import ServiceUnit

log = logging.getLogger('omega_orchestrator')
CRASH_TAIL_LINES = 20


class Announcer:
    """Turns AnnounceTransition commands into events for every listener."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._listeners: list[Consumer] = []
        self._held: list[TransitionEvent] | None = None    # see holding()

    def add_listener(self, listener: Consumer) -> None:
        """Call listener(TransitionEvent) on every state change (on the loop; never block)."""
        self._listeners.append(listener)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the announcements made inside (nested: the outermost one counts) and make
        them when it ends, in order: a crash's restart is spawned first, then said (the
        events are built at once, with that run's stderr).
        """
        if self._held is not None:
            yield
            return
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            for event in held:
                self._publish(event)

    def announce(self, unit: ServiceUnit, command: cmd.AnnounceTransition,
                 cause: ev.Event) -> None:
        """Log the change and hand its event to each listener; a broken one is logged."""
        event = self.event_of(unit, command, cause)
        if self._held is not None:
            self._held.append(event)
        else:
            self._publish(event)

    def _publish(self, event: TransitionEvent) -> None:
        level = logging.WARNING if event.to_state in ERROR_STATES | WAITING_STATES \
            else logging.INFO
        log.log(level, '%s: %s -> %s (%s)', event.service, event.from_state.value,
                event.to_state.value, event.reason)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:   # a broken listener must not break supervision
                log.exception('state listener failed')

    def event_of(self, unit: ServiceUnit, command: cmd.AnnounceTransition,
                 cause: ev.Event) -> TransitionEvent:
        """The event a listener gets for this command."""
        ended = command.from_state in PROCESS_STATES
        exited = cause if isinstance(cause, ev.Exited) and ended else None
        tail: tuple[str, ...] = ()
        if exited is not None and not exited.success:
            tail = tuple(unit.logs.lines_since('stderr', unit.stderr_mark, CRASH_TAIL_LINES))
        reason = command.reason
        if command.to_state is ServiceState.RUNNING and unit.logs.problem:
            reason = f'{reason}; {unit.logs.problem}: output kept in memory only'
        return TransitionEvent(
            stamp=self.clock.time(), service=unit.spec.name,
            from_state=command.from_state, to_state=command.to_state, reason=reason,
            exit_code=exited.code if exited else None,
            exit_signal=exited.signal if exited else None, stderr_tail=tail)
