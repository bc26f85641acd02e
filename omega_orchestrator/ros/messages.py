"""Pure translations between the engine's views and ROS messages (no node, no I/O)."""

import math
import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from omega_orchestrator_interfaces.msg import ServiceEvent, ServiceStatus

from omega_orchestrator.core.states import ERROR_STATES, ServiceState, WAITING_STATES
from omega_orchestrator.runtime.status import EngineStatus, TransitionEvent

STATE_CODES = {
    ServiceState.STOPPED: ServiceStatus.STATE_STOPPED,
    ServiceState.STARTING: ServiceStatus.STATE_STARTING,
    ServiceState.RUNNING: ServiceStatus.STATE_RUNNING,
    ServiceState.STOPPING: ServiceStatus.STATE_STOPPING,
    ServiceState.CRASHED: ServiceStatus.STATE_CRASHED,
    ServiceState.BACKOFF: ServiceStatus.STATE_BACKOFF,
    ServiceState.COOLDOWN: ServiceStatus.STATE_COOLDOWN,
    ServiceState.FAILED: ServiceStatus.STATE_FAILED,
    ServiceState.EXITED: ServiceStatus.STATE_EXITED,
    ServiceState.WAITING: ServiceStatus.STATE_WAITING,
}


def to_time(seconds: float | None) -> Time:
    """Wall-clock seconds -> builtin_interfaces/Time; None -> zero."""
    if seconds is None or seconds <= 0:
        return Time()
    frac, whole = math.modf(seconds)
    return Time(sec=int(whole), nanosec=int(frac * 1e9))


def from_time(stamp: Time) -> float | None:
    """builtin_interfaces/Time -> wall-clock seconds; zero -> None."""
    if stamp.sec == 0 and stamp.nanosec == 0:
        return None
    return stamp.sec + stamp.nanosec / 1e9


def status_to_msg(status: EngineStatus) -> ServiceStatus:
    """One engine status -> ServiceStatus message."""
    spec, health, usage = status.spec, status.health, status.usage
    return ServiceStatus(
        name=spec.name, display_name=spec.display_name, type=spec.type,
        description=spec.description, state=STATE_CODES[status.state],
        state_name=status.state.value, restart_policy=spec.restart_policy,
        autostart=spec.autostart, pid=status.pid or 0, cpu_percent=float(usage.cpu_percent),
        memory_bytes=usage.memory_bytes, threads=usage.threads, uptime_sec=status.uptime,
        restart_count=status.restart_count, crash_count=status.crash_count,
        has_exit=status.last_exit_code is not None or status.last_exit_signal is not None,
        last_exit_code=status.last_exit_code or 0,
        last_exit_signal=status.last_exit_signal or 0,
        last_restart=to_time(status.last_restart), last_change=to_time(status.last_change),
        next_restart=to_time(status.next_restart), health_checked=health.checked,
        healthy=health.healthy, health_message=health.message,
        health_checked_at=to_time(health.checked_at), port=spec.port or 0,
        ros_node=spec.ros_node or '', message=status.message,
        start_time=to_time(status.start_time), has_health_check=spec.health is not None,
        paused=status.paused, adopted=status.adopted, limits=status.limits,
        limit_warning=status.limit_warning, lifecycle_state=status.lifecycle_state,
        group=spec.group or '', maintenance=status.maintenance)


def event_to_msg(event: TransitionEvent) -> ServiceEvent:
    """One transition -> ServiceEvent message."""
    has_exit = event.exit_code is not None or event.exit_signal is not None
    return ServiceEvent(
        stamp=to_time(event.stamp), service=event.service,
        from_state=STATE_CODES[event.from_state], to_state=STATE_CODES[event.to_state],
        from_state_name=event.from_state.value, to_state_name=event.to_state.value,
        reason=event.reason, has_exit=has_exit, exit_code=event.exit_code or 0,
        exit_signal=event.exit_signal or 0, stderr_tail=list(event.stderr_tail))


def diagnostic_level(status: EngineStatus) -> tuple[bytes, str]:
    """The level of one service in ROS terms.

    OK: running and healthy, stopped (an operator's choice or never started), exited (a
    completed oneshot). WARN: backoff/cooldown, waiting for a dependency (the reason),
    unhealthy, starting/stopping. ERROR: crashed, failed. Never STALE: diagnostic_aggregator
    rolls a STALE item up to ERROR, and a service the operator stopped is a fact, not
    missing data.
    """
    state = status.state
    if status.maintenance:
        return DiagnosticStatus.WARN, f'maintenance: supervision paused ({state.value})'
    if state in ERROR_STATES:
        return DiagnosticStatus.ERROR, f'{state.value}: {status.message}' if status.message \
            else state.value
    if state is ServiceState.WAITING:
        return DiagnosticStatus.WARN, status.message or 'waiting for its dependencies'
    if state in WAITING_STATES:
        return DiagnosticStatus.WARN, f'{state.value}: restarting'
    if state is ServiceState.STOPPED:
        return DiagnosticStatus.OK, 'stopped'
    if state is ServiceState.EXITED:
        return DiagnosticStatus.OK, 'completed' if status.spec.oneshot else 'exited'
    if state is ServiceState.RUNNING and status.log_problem:
        return DiagnosticStatus.WARN, f'running; {status.log_problem}'
    if state is ServiceState.RUNNING and status.spec.lifecycle and \
            status.lifecycle_state != 'active':
        return DiagnosticStatus.WARN, f'running; lifecycle {status.lifecycle_state}'
    if state is ServiceState.RUNNING and status.limit_warning:
        return DiagnosticStatus.WARN, status.limit_warning
    if state is ServiceState.RUNNING and status.paused:
        return DiagnosticStatus.WARN, 'paused: stopped by a signal (SIGSTOP), not running'
    if state is ServiceState.RUNNING and status.health.checked and not status.health.healthy:
        return DiagnosticStatus.WARN, f'unhealthy: {status.health.message}'
    if state is ServiceState.RUNNING:
        return DiagnosticStatus.OK, 'running'
    return DiagnosticStatus.WARN, state.value     # starting / stopping


def status_to_diagnostic(status: EngineStatus, node_fqn: str,
                         tracking: str = '') -> DiagnosticStatus:
    """One service -> a DiagnosticStatus named '<node's fully qualified name>: <service>'.

    The namespace is part of the name, so two robots on one domain never collide.
    """
    level, message = diagnostic_level(status)
    values = {
        'state': status.state.value, 'pid': str(status.pid or ''),
        'cpu_percent': f'{status.usage.cpu_percent:.1f}',
        'memory_mb': f'{status.usage.memory_bytes / 1e6:.1f}',
        'restarts': str(status.restart_count), 'crashes': str(status.crash_count),
        'uptime_sec': f'{status.uptime:.0f}', 'restart_policy': status.spec.restart_policy,
    }
    if status.health.checked:
        values['health'] = status.health.message
    if tracking:           # how the service's processes are found at a stop
        values['tracking'] = tracking
    return DiagnosticStatus(
        level=level, name=f'{node_fqn}: {status.name}', message=message,
        hardware_id=status.spec.ros_node or status.name,
        values=[KeyValue(key=k, value=v) for k, v in values.items()])


def _verdict(status: EngineStatus) -> tuple:
    """What a health check decided; when it ran (and how many in a row) moves like usage."""
    health = status.health
    return health.checked, health.healthy, health.message


def _stable(status: EngineStatus) -> tuple:
    """Everything a service's messages show except what moves every period (uptime, usage,
    the time of the last health check).
    """
    return (status.spec, status.state, status.pid, status.message, status.restart_count,
            status.crash_count, status.last_exit_code, status.last_exit_signal,
            status.start_time, status.last_restart, status.last_change, status.next_restart,
            _verdict(status), status.paused, status.adopted, status.log_problem,
            status.limit_warning, status.limits, status.lifecycle_state, status.maintenance)


class MessageCache:
    """Each service's ServiceStatus and DiagnosticStatus, kept between publications.

    A service's messages are rebuilt only when something besides its uptime and usage changed
    (building both costs about 0.25 ms: at 1 Hz and 50 services that alone was 1.3 % of a
    core); uptime and usage are set in place. Each entry counts its changes, so the node
    publishes only what changed since it last sent that entry: `version` moves with any
    change but uptime, `diagnostic_version` when the diagnostic's level or message may have.
    """

    def __init__(self) -> None:
        self._kept: dict[str, CachedService] = {}
        self.names: tuple[str, ...] = ()      # of the last whole snapshot, in its order
        self.changes = 0     # any entry's version or the set of services changed this often

    def update(self, snapshot: tuple[EngineStatus, ...], node_fqn: str,
               tracking: str) -> list['CachedService']:
        """One entry per service of the snapshot, in its order, brought up to date."""
        kept: dict[str, CachedService] = {}
        for status in snapshot:
            kept[status.name] = self._refresh(self._kept.get(status.name), status, node_fqn,
                                              tracking)
        self._kept = kept
        if tuple(kept) != self.names:
            self.names = tuple(kept)
            self.changes += 1
        return list(kept.values())

    def update_some(self, statuses: list[EngineStatus], node_fqn: str,
                    tracking: str) -> list['CachedService']:
        """Bring the entries of these services (all known) up to date; every entry."""
        for status in statuses:
            self._refresh(self._kept[status.name], status, node_fqn, tracking)
        return list(self._kept.values())

    def _refresh(self, hit: 'CachedService | None', status: EngineStatus, node_fqn: str,
                 tracking: str) -> 'CachedService':
        key = (_stable(status), node_fqn, tracking)
        if hit is None:
            self.changes += 1
            return CachedService(key, status, node_fqn, tracking)
        version = hit.version
        if hit.key != key:
            hit.rebuild(key, status, node_fqn, tracking)
        else:
            hit.moved(status)
        if hit.version != version:          # diagnostic_version moves only with it
            self.changes += 1
        return hit


class CachedService:
    """One service's messages, what they were built from, and how often they changed.

    The uptime moves at every publication but is written into the messages only when they
    are read (`status`, `diagnostic`), from the uptime last seen and the time since: most
    entries are neither refreshed nor sent most of the time.
    """

    def __init__(self, key: tuple, status: EngineStatus, node_fqn: str, tracking: str) -> None:
        self.version = self.diagnostic_version = 0
        self.rebuild(key, status, node_fqn, tracking)

    @property
    def name(self) -> str:
        return self._status.name

    @property
    def status(self) -> ServiceStatus:
        """The ServiceStatus, with the uptime now."""
        self._status.uptime_sec = self.uptime()
        return self._status

    @property
    def diagnostic(self) -> DiagnosticStatus:
        """The DiagnosticStatus, with the uptime now."""
        self._values['uptime_sec'].value = f'{self.uptime():.0f}'
        return self._diagnostic

    def uptime(self) -> float:
        """Seconds up now (0 when no process runs)."""
        if self._status.pid == 0:
            return self._uptime
        return self._uptime + (time.monotonic() - self._seen)

    def _saw(self, status: EngineStatus) -> None:
        self._uptime, self._seen = status.uptime, time.monotonic()

    def rebuild(self, key: tuple, status: EngineStatus, node_fqn: str, tracking: str) -> None:
        """Something besides uptime and usage changed: both messages anew."""
        self.key = key
        self._status = status_to_msg(status)
        self._diagnostic = status_to_diagnostic(status, node_fqn, tracking)
        self._values = {kv.key: kv for kv in self._diagnostic.values}
        self._usage = status.usage
        self._checked_at = status.health.checked_at
        self._saw(status)
        self.version += 1
        self.diagnostic_version += 1

    def moved(self, status: EngineStatus) -> None:
        """Only uptime, usage or the time of a health check changed: note the one, set the
        others in place.
        """
        self._saw(status)
        msg = self._status
        checked_at = status.health.checked_at
        if checked_at != self._checked_at:
            self._checked_at = checked_at
            msg.health_checked_at = to_time(checked_at)
            self.version += 1
        usage = status.usage
        if usage is self._usage or usage == self._usage:
            return
        self._usage = usage
        msg.cpu_percent = float(usage.cpu_percent)
        msg.memory_bytes = usage.memory_bytes
        msg.threads = usage.threads
        self._values['cpu_percent'].value = f'{usage.cpu_percent:.1f}'
        self._values['memory_mb'].value = f'{usage.memory_bytes / 1e6:.1f}'
        self.version += 1
