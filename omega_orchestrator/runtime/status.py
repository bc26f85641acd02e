"""The immutable views the supervisor hands out: one service's status (EngineStatus: the
engine's side; the ROS message and the REST object have their own), one transition.
"""

from dataclasses import dataclass

from omega_orchestrator.core.machine import Health
from omega_orchestrator.core.registry import ServiceSpec
from omega_orchestrator.core.states import ServiceState
from omega_orchestrator.runtime.metrics import Usage


@dataclass(frozen=True, kw_only=True)
class EngineStatus:
    """Everything known about one service at one moment; times are wall-clock seconds."""

    spec: ServiceSpec
    state: ServiceState
    pid: int | None
    message: str
    restart_count: int
    crash_count: int
    last_exit_code: int | None
    last_exit_signal: int | None
    uptime: float
    start_time: float | None
    last_restart: float | None
    last_change: float | None
    next_restart: float | None
    health: Health
    usage: Usage
    paused: bool = False
    adopted: bool = False
    log_problem: str = ''     # why output is not reaching the log files ('' when it is)
    limit_warning: str = ''   # what is over a soft limit now ('' when nothing is)
    limits: str = ''          # the limits in words, each with who enforces it
    lifecycle_state: str = ''  # of a managed node ('active'...); '' when it is not one
    maintenance: bool = False  # supervision paused by an operator

    @property
    def name(self) -> str:
        """The service's key."""
        return self.spec.name

    def at_uptime(self, uptime: float) -> 'EngineStatus':
        """The same status with another uptime (a shallow copy: no field is rebuilt)."""
        moved = object.__new__(EngineStatus)
        moved.__dict__.update(self.__dict__)
        object.__setattr__(moved, 'uptime', uptime)
        return moved


@dataclass(frozen=True, kw_only=True)
class TransitionEvent:
    """One state change, as published on the events topic."""

    stamp: float
    service: str
    from_state: ServiceState
    to_state: ServiceState
    reason: str
    exit_code: int | None = None
    exit_signal: int | None = None
    stderr_tail: tuple[str, ...] = ()
