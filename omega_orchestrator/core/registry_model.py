"""The registry format as data: every object, field, type, default and constraint.

The loader (registry.py) validates against these tables and the JSON Schema in config/ is
generated from them (schema.py), so the two cannot drift apart.
"""

from dataclasses import dataclass
from typing import Any

REQUIRED = object()

NAME_PATTERN = r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'
SERVICE_TYPES = ('python', 'go', 'docker', 'ros2', 'exec')
RESTART_POLICIES = ('never', 'on-failure', 'always')
STOP_SIGNALS = ('SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2')
PROBE_TYPES = ('tcp', 'http', 'exec', 'ros_core', 'ros_node', 'ros_topic')
#: The seed's named checks: each means "TCP port `port` on localhost accepts connections".
NAMED_PORT_CHECKS = (
    'movement_check', 'video_check', 'api_check', 'ultrasonic_check', 'line_tracker_check',
    'gateway_check', 'port_check', 'tcp_check')
#: The seed's named check for the ROS graph.
NAMED_ROS_CHECKS = ('ros_core_check',)


@dataclass(frozen=True)
class Field:
    """One key of a registry object."""

    name: str
    kind: str                      # string | integer | number | boolean | array | map | object
    help: str
    default: Any = REQUIRED
    nullable: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    pattern: str | None = None
    items: str | None = None       # element kind of an array (string) / value kind of a map
    obj: str | None = None         # name of the nested object table for kind 'object'
    alt_kinds: tuple[str, ...] = ()  # further accepted kinds (health_check: string or object)

    @property
    def required(self) -> bool:
        """True when the key must be present."""
        return self.default is REQUIRED


TOP_FIELDS = (
    Field('version', 'integer', 'Format version of this file.', default=1, minimum=1),
    Field('description', 'string', 'Free text about this registry.', default=''),
    Field('services', 'array', 'The services, in declaration order.', items='service'),
)

SERVICE_FIELDS = (
    Field('name', 'string', 'Unique key; also the log file name.', pattern=NAME_PATTERN),
    Field('display_name', 'string', 'Human-readable name; defaults to name.', default=None,
          nullable=True),
    Field('type', 'string', 'What kind of program it is.', default='exec', choices=SERVICE_TYPES),
    Field('cmd', 'string', 'Program to run (looked up in PATH, or relative to working_dir).'),
    Field('args', 'array', 'Arguments passed to cmd, never through a shell.', default=(),
          items='string'),
    Field('working_dir', 'string', "Working directory, relative to the registry file's folder.",
          default=None, nullable=True),
    Field('autostart', 'boolean', 'Start when the orchestrator starts.', default=False),
    Field('restart_policy', 'string', 'When to restart after the process ends.',
          default='on-failure', choices=RESTART_POLICIES),
    Field('health_check', 'string', 'A named check (seed style) or a probe object.',
          default=None, nullable=True, obj='health_check', alt_kinds=('object',)),
    Field('port', 'integer', 'TCP port the service listens on (used by named checks).',
          default=None, nullable=True, minimum=1, maximum=65535),
    Field('description', 'string', 'Free text.', default=''),
    Field('env', 'map', 'Variables merged into the inherited environment.', default=None,
          nullable=True, items='string'),
    Field('stop_signal', 'string', 'First signal of a stop (SIGINT for type ros2).',
          default=None, nullable=True, choices=STOP_SIGNALS),
    Field('stop_timeout', 'number', 'Seconds between the stop signal and SIGKILL.', default=5.0,
          minimum=0),
    Field('restart', 'object', 'Backoff and crash-loop tuning.', default=None, nullable=True,
          obj='restart'),
    Field('oneshot', 'boolean', 'Exit 0 means done (like systemd Type=oneshot).', default=False),
    Field('depends_on', 'array', 'Services started before this one, stopped after it.',
          default=(), items='string'),
    Field('ros_node', 'string', 'Fully qualified name of the ROS node a ros2 service runs.',
          default=None, nullable=True),
)

RESTART_FIELDS = (
    Field('backoff_initial', 'number', 'Delay before the second consecutive restart (s).',
          default=1.0, minimum=0),
    Field('backoff_factor', 'number', 'Growth of the delay per further crash.', default=2.0,
          minimum=1),
    Field('backoff_max', 'number', 'Upper bound of the delay (s).', default=30.0, minimum=0),
    Field('jitter', 'number', 'Random spread of each delay, as a fraction (0..1).', default=0.1,
          minimum=0, maximum=1),
    Field('stable_after', 'number', 'A run this long (s) resets the backoff and retries.',
          default=10.0, minimum=0),
    Field('max_retries', 'integer', 'Consecutive restarts before the service is failed; null '
          'is unlimited. Defaults to 3 for on-failure and unlimited for always.',
          default=None, nullable=True, minimum=0),
    Field('crash_loop_max', 'integer', 'Crashes inside the window that trigger a cooldown.',
          default=5, minimum=1),
    Field('crash_loop_window', 'number', 'Length of the crash-loop window (s).', default=60.0,
          minimum=0, exclusive_minimum=True),
    Field('cooldown', 'number', 'Pause before retrying a crash-looping service (s).',
          default=30.0, minimum=0),
)

HEALTH_FIELDS = (
    Field('type', 'string', 'Probe kind.', choices=PROBE_TYPES),
    Field('host', 'string', 'Host for tcp probes.', default='127.0.0.1'),
    Field('port', 'integer', "Port for tcp probes; defaults to the service's port.",
          default=None, nullable=True, minimum=1, maximum=65535),
    Field('url', 'string', 'URL for http probes (http:// only).', default=None, nullable=True),
    Field('expect_status', 'integer', 'HTTP status that means healthy.', default=200,
          minimum=100),
    Field('cmd', 'string', 'Program for exec probes; exit 0 means healthy.', default=None,
          nullable=True),
    Field('args', 'array', 'Arguments for exec probes.', default=(), items='string'),
    Field('node', 'string', 'Node name for ros_node probes.', default=None, nullable=True),
    Field('topic', 'string', 'Topic for ros_topic probes.', default=None, nullable=True),
    Field('min_rate', 'number', 'Minimum publish rate (Hz) for ros_topic probes.',
          default=None, nullable=True, minimum=0),
    Field('interval', 'number', 'Seconds between probes.', default=10.0, minimum=0,
          exclusive_minimum=True),
    Field('timeout', 'number', 'Seconds one probe may take.', default=2.0, minimum=0,
          exclusive_minimum=True),
    Field('failure_threshold', 'integer', 'Consecutive failures before unhealthy.', default=1,
          minimum=1),
)

OBJECTS: dict[str, tuple[Field, ...]] = {
    'registry': TOP_FIELDS,
    'service': SERVICE_FIELDS,
    'restart': RESTART_FIELDS,
    'health_check': HEALTH_FIELDS,
}
