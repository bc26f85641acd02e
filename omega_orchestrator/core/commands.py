"""What the state machine asks the runtime to do; the runtime reports back with events."""

from dataclasses import dataclass

from omega_orchestrator.core.states import ServiceState


@dataclass(frozen=True, kw_only=True)
class Spawn:
    """Start the service's process in a new session; answer with Spawned or SpawnFailed."""


@dataclass(frozen=True, kw_only=True)
class SignalGroup:
    """Send `signal` (a name such as 'SIGTERM') to the process group of the current process."""

    signal: str


@dataclass(frozen=True, kw_only=True)
class Sweep:
    """SIGKILL whatever is left of the service: its process group and escaped descendants."""


@dataclass(frozen=True, kw_only=True)
class StartTimer:
    """Fire TimerFired(token) after `delay` seconds; replaces the service's pending timer."""

    delay: float
    token: int


@dataclass(frozen=True, kw_only=True)
class CancelTimer:
    """Forget the service's pending timer."""


@dataclass(frozen=True, kw_only=True)
class StartProbes:
    """Run exactly these of the service's probes ('startup', 'readiness', 'liveness')."""

    kinds: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class StopProbes:
    """Stop running the service's probes."""


@dataclass(frozen=True, kw_only=True)
class DriveLifecycle:
    """Take the service's managed node to `goal` ('active' or 'finalized'); answer with
    LifecycleReported.
    """

    goal: str


@dataclass(frozen=True, kw_only=True)
class AnnounceTransition:
    """Tell listeners the state changed (published on ~/events and the status topic)."""

    from_state: ServiceState
    to_state: ServiceState
    reason: str


Command = (Spawn | SignalGroup | Sweep | StartTimer | CancelTimer | StartProbes | StopProbes
           | DriveLifecycle | AnnounceTransition)
