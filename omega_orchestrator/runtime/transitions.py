"""Announcing state changes: the TransitionEvent of each AnnounceTransition, the log line,
and the listeners (the ROS face's relay, systemd's status, tests).

The exit code and the last stderr lines belong to the transition out of the process's states
(running -> crashed), not to what the policy does next; a log folder that cannot be written
is said once, on the running event.
"""

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

    def add_listener(self, listener: Consumer) -> None:
        """Call listener(TransitionEvent) on every state change (on the loop; never block)."""
        self._listeners.append(listener)

    def announce(self, unit: ServiceUnit, command: cmd.AnnounceTransition,
                 cause: ev.Event) -> None:
        """Log the change and hand its event to each listener; a broken one is logged."""
        event = self.event_of(unit, command, cause)
        level = logging.WARNING if event.to_state in ERROR_STATES | WAITING_STATES \
            else logging.INFO
        log.log(level, '%s: %s -> %s (%s)', unit.spec.name, event.from_state.value,
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
