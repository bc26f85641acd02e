"""ROS messages -> the JSON objects of the REST API (plain dicts, seed field names first)."""

from datetime import datetime, timezone
from typing import Any


def iso_time(stamp: Any) -> str | None:
    """builtin_interfaces/Time -> ISO 8601 UTC text; zero -> None."""
    if stamp.sec == 0 and stamp.nanosec == 0:
        return None
    seconds = stamp.sec + stamp.nanosec / 1e9
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec='milliseconds')


def health_dict(msg: Any) -> dict:
    """The seed's health object: healthy and message (plus when it was checked)."""
    if msg.health_checked:
        return {'healthy': bool(msg.healthy), 'message': msg.health_message,
                'checked_at': iso_time(msg.health_checked_at)}
    running = msg.state_name == 'running'
    return {'healthy': running, 'message': 'running, not checked' if running else msg.state_name,
            'checked_at': None}


def service_dict(msg: Any) -> dict:
    """omega_orchestrator_interfaces/ServiceStatus -> the REST service object."""
    return {
        'name': msg.name, 'display_name': msg.display_name, 'type': msg.type,
        'status': msg.state_name, 'pid': msg.pid or None, 'health': health_dict(msg),
        'description': msg.description, 'restart_policy': msg.restart_policy,
        'autostart': bool(msg.autostart), 'port': msg.port or None,
        'ros_node': msg.ros_node or None,
        'cpu_percent': round(float(msg.cpu_percent), 1),
        'memory_mb': round(msg.memory_bytes / (1024 * 1024), 1),
        'memory_bytes': int(msg.memory_bytes), 'threads': int(msg.threads),
        'uptime_sec': round(float(msg.uptime_sec), 1),
        'restart_count': int(msg.restart_count), 'crash_count': int(msg.crash_count),
        'last_exit_code': msg.last_exit_code if msg.has_exit else None,
        'last_exit_signal': (msg.last_exit_signal or None) if msg.has_exit else None,
        'last_restart': iso_time(msg.last_restart), 'last_change': iso_time(msg.last_change),
        'next_restart': iso_time(msg.next_restart), 'message': msg.message,
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
