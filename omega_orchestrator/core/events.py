"""What happens to a service: requests from operators and facts reported by the runtime."""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class StartRequested:
    """An operator (or autostart) asks for the service to run."""

    reason: str = 'start requested'


@dataclass(frozen=True, kw_only=True)
class StopRequested:
    """An operator asks for the service to stop and stay stopped; force = SIGKILL at once."""

    force: bool = False
    reason: str = 'stop requested'


@dataclass(frozen=True, kw_only=True)
class RestartRequested:
    """An operator asks for stop-then-start."""

    reason: str = 'restart requested'


@dataclass(frozen=True, kw_only=True)
class Spawned:
    """The runtime started the process."""

    pid: int


@dataclass(frozen=True, kw_only=True)
class SpawnFailed:
    """The runtime could not start the process (not found, not executable, bad working_dir)."""

    error: str


@dataclass(frozen=True, kw_only=True)
class Exited:
    """The process ended: exit code, or the signal that killed it."""

    pid: int
    code: int | None = None
    signal: int | None = None

    @property
    def success(self) -> bool:
        """True for a clean exit 0."""
        return self.code == 0 and self.signal is None


@dataclass(frozen=True, kw_only=True)
class TimerFired:
    """A timer the machine asked for has expired; `token` tells stale timers apart."""

    token: int


@dataclass(frozen=True, kw_only=True)
class HealthReported:
    """The result of one health probe."""

    ok: bool
    message: str


@dataclass(frozen=True, kw_only=True)
class ProbeReported:
    """The result of one startup or liveness probe (readiness: HealthReported)."""

    probe: str          # 'startup' | 'liveness'
    ok: bool
    message: str


@dataclass(frozen=True, kw_only=True)
class UsageReported:
    """A metrics sample of the service's whole process tree (for its limits)."""

    memory_bytes: int
    cpu_percent: float


@dataclass(frozen=True, kw_only=True)
class LifecycleReported:
    """How driving the managed node of run `pid` toward `goal` ended."""

    pid: int
    goal: str           # 'active' (configure + activate) | 'finalized' (deactivate + shutdown)
    ok: bool
    state: str          # the node's lifecycle state afterwards, e.g. 'active'
    message: str


@dataclass(frozen=True, kw_only=True)
class MaintenanceSet:
    """An operator pauses (or resumes) supervision: no automatic restart, probes and limits
    shown but not acted on.
    """

    enabled: bool


@dataclass(frozen=True, kw_only=True)
class InternalError:
    """Handling this service raised an unexpected exception: it is failed, the engine goes on."""

    error: str


@dataclass(frozen=True, kw_only=True)
class DependenciesChanged:
    """The gate of the service's conditioned dependencies: what it waits for, or None."""

    blocking: str | None = None


@dataclass(frozen=True, kw_only=True)
class DependencyLost:
    """A dependency marked restart_with went down: stop, then start once it is back."""

    reason: str


Event = (StartRequested | StopRequested | RestartRequested | Spawned | SpawnFailed | Exited
         | TimerFired | HealthReported | ProbeReported | UsageReported | LifecycleReported
         | MaintenanceSet | InternalError | DependenciesChanged | DependencyLost)
