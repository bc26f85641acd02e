"""ROS messages -> the REST API's JSON objects (plain dicts, the original's fields first)."""

from datetime import datetime, timezone
from typing import Any

from omega_orchestrator_interfaces.msg import ServiceStatus

#: The state names, in the order of their STATE_* constants (the interface is the source).
STATES = tuple(name[len('STATE_'):].lower() for name, _ in sorted(
    ((n, getattr(ServiceStatus, n)) for n in dir(ServiceStatus) if n.startswith('STATE_')),
    key=lambda item: item[1]))


def stamp_seconds(stamp: Any) -> float | None:
    """builtin_interfaces/Time -> epoch seconds; zero (never set) -> None."""
    if stamp.sec == 0 and stamp.nanosec == 0:
        return None
    return stamp.sec + stamp.nanosec / 1e9


def iso_time(stamp: Any) -> str | None:
    """builtin_interfaces/Time -> ISO 8601 UTC text; zero -> None."""
    seconds = stamp_seconds(stamp)
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec='milliseconds')


def epoch(stamp: Any) -> float | None:
    """builtin_interfaces/Time -> epoch seconds, to the millisecond (the original's type);
    zero -> None.
    """
    seconds = stamp_seconds(stamp)
    return None if seconds is None else round(seconds, 3)


NO_CHECK = {'healthy': True, 'message': 'No health check defined'}   # the original's words


def health_dict(msg: Any) -> dict | None:
    """The original's health object ({healthy, message}), or None when there is no check."""
    if not msg.has_health_check:
        return None
    if msg.health_checked:
        return {'healthy': bool(msg.healthy), 'message': msg.health_message}
    running = msg.state_name == 'running'
    return {'healthy': False,
            'message': 'waiting for the first check' if running else f'not running '
                       f'({msg.state_name})'}


def service_dict(msg: Any) -> dict:
    """omega_orchestrator_interfaces/ServiceStatus -> the REST service object.

    Every field of the original's service object comes first, with its name and type (epoch
    seconds for times; `health` only when a check is defined, else null); this project's
    additions follow under names of their own (ISO 8601 for their times).
    """
    health = health_dict(msg)
    return {
        'name': msg.name, 'display_name': msg.display_name, 'type': msg.type,
        'description': msg.description, 'autostart': bool(msg.autostart),
        'port': msg.port or None, 'status': msg.state_name, 'pid': msg.pid or None,
        'restart_policy': msg.restart_policy, 'crash_count': int(msg.crash_count),
        'last_restart': epoch(msg.last_restart), 'start_time': epoch(msg.start_time),
        'cpu_percent': round(float(msg.cpu_percent), 1),
        'memory_mb': round(msg.memory_bytes / (1024 * 1024), 1),
        'last_health_check': epoch(msg.health_checked_at) if health else None,
        'health_status': None if health is None or not msg.health_checked else
        ('healthy' if msg.healthy else 'unhealthy'),
        'health': health,
        # this project's additions
        'ros_node': msg.ros_node or None, 'memory_bytes': int(msg.memory_bytes),
        'threads': int(msg.threads), 'uptime_sec': round(float(msg.uptime_sec), 1),
        'restart_count': int(msg.restart_count),
        'last_exit_code': msg.last_exit_code if msg.has_exit else None,
        'last_exit_signal': (msg.last_exit_signal or None) if msg.has_exit else None,
        'last_change': iso_time(msg.last_change), 'next_restart': iso_time(msg.next_restart),
        'paused': bool(msg.paused), 'adopted': bool(msg.adopted), 'message': msg.message,
        'limits': msg.limits or None, 'limit_warning': msg.limit_warning or None,
        'lifecycle_state': msg.lifecycle_state or None, 'group': msg.group or None,
        'maintenance': bool(msg.maintenance),
    }


def event_dict(msg: Any) -> dict:
    """omega_orchestrator_interfaces/ServiceEvent -> the SSE 'transition' payload."""
    return {
        'stamp': iso_time(msg.stamp), 'service': msg.service,
        'from': msg.from_state_name, 'to': msg.to_state_name, 'reason': msg.reason,
        'exit_code': msg.exit_code if msg.has_exit else None,
        'exit_signal': (msg.exit_signal or None) if msg.has_exit else None,
        'stderr_tail': list(msg.stderr_tail),
    }
