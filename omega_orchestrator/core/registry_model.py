"""The registry format as data: every object, field, type, default and constraint.

The loader (registry.py) validates against these tables and the JSON Schema in config/ is
generated from them (schema.py), so the two cannot drift apart.
"""

from dataclasses import dataclass
from typing import Any

REQUIRED = object()

NAME_PATTERN = r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'   # matched whole (re.fullmatch)
SERVICE_TYPES = ('python', 'go', 'docker', 'ros2', 'exec')
RESTART_POLICIES = ('never', 'on-failure', 'always')
STOP_SIGNALS = ('SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2')
#: What a dependant waits for (docker compose's service_started / _healthy /
#: _completed_successfully); a plain name only orders the start (see DEPENDENCY_FIELDS).
DEPENDENCY_CONDITIONS = ('started', 'healthy', 'completed')
PROBE_TYPES = ('tcp', 'http', 'exec', 'path', 'ros_core', 'ros_node', 'ros_topic',
               'ros_service')
#: The original's named checks: each means "TCP port P on localhost accepts connections",
#: where P is the service's `port`, or else the port the original checks (None: required).
NAMED_PORT_CHECKS: dict[str, int | None] = {
    'movement_check': 8081, 'video_check': 5000, 'api_check': 8000, 'ultrasonic_check': 8080,
    'line_tracker_check': 8090, 'gateway_check': 7070, 'telemetry_check': 8000,
    'port_check': None, 'tcp_check': None}
#: The original's named check for the ROS graph.
NAMED_ROS_CHECKS = ('ros_core_check',)
#: The original's named checks that a file or device exists.
NAMED_PATH_CHECKS = {'sensor_check': '/dev/i2c-1'}
NAMED_CHECKS = (*NAMED_PORT_CHECKS, *NAMED_ROS_CHECKS, *NAMED_PATH_CHECKS)
#: Bounds that keep one registry from exhausting the orchestrator (and each status message).
MAX_TEXT = 4096          # description, cmd, an argument, a path, an env value...
MAX_LIST = 1000          # args, env entries, depends_on
MAX_SERVICES = 10000
DAY = 86400.0


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
    max_length: int | None = None  # strings: characters; arrays and maps: entries
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
    Field('version', 'string', 'Format version of this file ("1.0" in the original, or 1).',
          default='1', alt_kinds=('number',), max_length=32),
    Field('description', 'string', 'Free text about this registry.', default='',
          max_length=MAX_TEXT),
    Field('base_dir', 'string', "Folder that relative working_dir values are resolved against, "
          "relative to this file's folder (the original OmegaOS layout: '..'); --base-dir "
          'overrides it.', default=None, nullable=True, max_length=MAX_TEXT),
    Field('webhook', 'object', 'Crash notifications: a JSON POST when a service crashes, '
          'gives up or recovers.', default=None, nullable=True, obj='webhook'),
    Field('services', 'array', 'The services, in declaration order.', items='service',
          max_length=MAX_SERVICES),
)

WEBHOOK_EVENTS = ('crash', 'give_up', 'recover')
WEBHOOK_FIELDS = (
    Field('url', 'string', 'http:// or https:// address the notifications are POSTed to.',
          max_length=MAX_TEXT),
    Field('timeout', 'number', 'Seconds one attempt may take.', default=5.0, minimum=0,
          exclusive_minimum=True, maximum=300),
    Field('retries', 'integer', 'Further attempts after a failed one (0.5 s, 1 s, 2 s... '
          'apart).', default=3, minimum=0, maximum=10),
    Field('events', 'array', 'Which events are posted: crash, give_up (failed), recover '
          '(running again after a crash or failure).', default=WEBHOOK_EVENTS,
          items='string', max_length=3),
)

SERVICE_FIELDS = (
    Field('name', 'string', 'Unique key; also the log file name.', pattern=NAME_PATTERN),
    Field('display_name', 'string', 'Human-readable name; defaults to name.', default=None,
          nullable=True, max_length=256),
    Field('type', 'string', 'What kind of program it is.', default='exec', choices=SERVICE_TYPES),
    Field('cmd', 'string', 'Program to run (looked up in PATH, or relative to working_dir).',
          max_length=MAX_TEXT),
    Field('args', 'array', 'Arguments passed to cmd, never through a shell.', default=(),
          items='string', max_length=MAX_LIST),
    Field('working_dir', 'string', 'Working directory; a relative one is relative to the base '
          "folder (base_dir, else the registry file's folder).", default=None, nullable=True,
          max_length=MAX_TEXT),
    Field('autostart', 'boolean', 'Start when the orchestrator starts.', default=False),
    Field('restart_policy', 'string', 'When to restart after the process ends (the '
          "original's default: never).", default='never', choices=RESTART_POLICIES),
    Field('health_check', 'string', 'A named check (the original style) or a probe object.',
          default=None, nullable=True, obj='health_check', alt_kinds=('object',)),
    Field('readiness_probe', 'object', 'The same as health_check (use one of the two): '
          'while it fails the service is unhealthy, and dependants waiting for it to be '
          'healthy wait.', default=None, nullable=True, obj='health_check'),
    Field('liveness_probe', 'object', 'A probe whose failure (failure_threshold checks in a '
          'row) restarts the service through its restart policy and backoff.', default=None,
          nullable=True, obj='health_check'),
    Field('startup_probe', 'object', 'A probe run first after each start; readiness and '
          'liveness wait until it passes once; failure_threshold failures in a row restart '
          'the service (give a slow boot interval x failure_threshold seconds).',
          default=None, nullable=True, obj='health_check'),
    Field('port', 'integer', 'TCP port the service listens on (used by named checks).',
          default=None, nullable=True, minimum=1, maximum=65535),
    Field('description', 'string', 'Free text.', default='', max_length=MAX_TEXT),
    Field('group', 'string', 'A group name: start, stop and restart a whole group in one '
          'call (REST, srv, CLI, page).', default=None, nullable=True, pattern=NAME_PATTERN),
    Field('env', 'map', 'Variables added to the environment the orchestrator was started in.',
          default=None, nullable=True, items='string', max_length=MAX_LIST),
    Field('stop_signal', 'string', 'First signal of a stop (SIGINT for type ros2).',
          default=None, nullable=True, choices=STOP_SIGNALS),
    Field('stop_timeout', 'number', 'Seconds between the stop signal and SIGKILL.', default=5.0,
          minimum=0, maximum=3600),
    Field('stop_cmd', 'array', 'A command run (never through a shell) when the service is '
          'stopped, e.g. ["docker", "compose", "down"].', default=None, nullable=True,
          items='string', max_length=MAX_LIST),
    Field('stop_cmd_timeout', 'number', 'Seconds stop_cmd may take before it is killed.',
          default=30.0, minimum=0, exclusive_minimum=True, maximum=3600),
    Field('restart', 'object', 'Backoff and crash-loop tuning.', default=None, nullable=True,
          obj='restart'),
    Field('oneshot', 'boolean', 'Exit 0 means done (like systemd Type=oneshot); a `docker '
          'compose ... up -d` command is one unless this says false.', default=None,
          nullable=True),
    Field('adopt_existing', 'boolean', 'When another process already listens on `port`, take '
          'it over (running, its PID, stop ends it) instead of starting a second copy.',
          default=False),
    Field('depends_on', 'array', 'Services started before this one, stopped after it: a name '
          '(started first; this one starts once it is up or has given up) or an object with '
          'the condition it must meet.', default=(), items='dependency', max_length=MAX_LIST),
    Field('limits', 'object', 'Memory and CPU limits (soft: a warning; hard: a restart), '
          'nice and CPU affinity.', default=None, nullable=True, obj='limits'),
    Field('ros_node', 'string', 'Fully qualified name of the ROS node a ros2 service runs.',
          default=None, nullable=True, max_length=256),
    Field('lifecycle', 'boolean', 'ros_node is a managed (lifecycle) node: after every start '
          'the orchestrator configures and activates it, before every stop it deactivates '
          'and shuts it down; a failed transition is a failure of the service.',
          default=False),
    Field('lifecycle_timeout', 'number', 'Seconds the node may take to appear and to finish '
          'each transition.', default=30.0, minimum=0, exclusive_minimum=True, maximum=3600),
)

RESTART_FIELDS = (
    Field('backoff_initial', 'number', 'Delay before the second consecutive restart (s).',
          default=1.0, minimum=0, maximum=DAY),
    Field('backoff_factor', 'number', 'Growth of the delay per further crash.', default=2.0,
          minimum=1, maximum=100),
    Field('backoff_max', 'number', 'Upper bound of the delay (s).', default=30.0, minimum=0,
          maximum=DAY),
    Field('jitter', 'number', 'Random spread of each delay, as a fraction (0..1).', default=0.1,
          minimum=0, maximum=1),
    Field('stable_after', 'number', 'A run this long (s) resets the backoff and retries.',
          default=10.0, minimum=0, maximum=DAY),
    Field('max_retries', 'integer', 'Consecutive restarts before the service is failed; null '
          'is unlimited. Defaults to 3 for on-failure and unlimited for always.',
          default=None, nullable=True, minimum=0, maximum=1_000_000),
    Field('crash_loop_max', 'integer', 'Crashes inside the window that trigger a cooldown.',
          default=5, minimum=1, maximum=1_000_000),
    Field('crash_loop_window', 'number', 'Length of the crash-loop window (s).', default=60.0,
          minimum=0, exclusive_minimum=True, maximum=DAY),
    Field('cooldown', 'number', 'Pause before retrying a crash-looping service (s).',
          default=30.0, minimum=0, maximum=DAY),
    Field('retry_failed_after', 'number', 'A failed service (spawn failure, retries '
          'exhausted) is started again after this many seconds, with fresh retries; null: '
          'it waits for an operator (the original).', default=None, nullable=True, minimum=0,
          exclusive_minimum=True, maximum=DAY),
)

HEALTH_FIELDS = (
    Field('type', 'string', 'Probe kind.', choices=PROBE_TYPES),
    Field('host', 'string', 'Host for tcp probes.', default='127.0.0.1', max_length=256),
    Field('port', 'integer', "Port for tcp probes; defaults to the service's port.",
          default=None, nullable=True, minimum=1, maximum=65535),
    Field('url', 'string', 'URL for http probes (http:// only).', default=None, nullable=True,
          max_length=MAX_TEXT),
    Field('expect_status', 'integer', 'HTTP status that means healthy.', default=200,
          minimum=100, maximum=599),
    Field('cmd', 'string', 'Program for exec probes; exit 0 means healthy.', default=None,
          nullable=True, max_length=MAX_TEXT),
    Field('args', 'array', 'Arguments for exec probes.', default=(), items='string',
          max_length=MAX_LIST),
    Field('path', 'string', 'File or device that must exist, for path probes.', default=None,
          nullable=True, max_length=MAX_TEXT),
    Field('node', 'string', 'Node name for ros_node probes.', default=None, nullable=True,
          max_length=256),
    Field('topic', 'string', 'Topic for ros_topic probes.', default=None, nullable=True,
          max_length=256),
    Field('min_rate', 'number', 'Minimum publish rate (Hz) for ros_topic probes.',
          default=None, nullable=True, minimum=0, maximum=100000),
    Field('service', 'string', 'ROS service for ros_service probes: healthy when a server '
          'is on the graph, or, with call, when it answers.', default=None, nullable=True,
          max_length=256),
    Field('call', 'boolean', 'ros_service: call it with an empty request (e.g. a '
          'std_srvs/Trigger health check; a `success` field must be true); only for '
          'services without side effects.', default=False),
    Field('interval', 'number', 'Seconds between probes.', default=10.0, minimum=0,
          exclusive_minimum=True, maximum=DAY),
    Field('timeout', 'number', 'Seconds one probe may take.', default=2.0, minimum=0,
          exclusive_minimum=True, maximum=3600),
    Field('failure_threshold', 'integer', 'Consecutive failures before unhealthy (liveness, '
          'startup: before a restart).', default=1, minimum=1, maximum=1000),
    Field('success_threshold', 'integer', 'Consecutive successes before healthy again '
          '(readiness only; liveness and startup need 1).', default=1, minimum=1,
          maximum=1000),
    Field('initial_delay', 'number', 'Seconds after the start (after the startup probe '
          'passed, for readiness and liveness) before the first check; default: the interval, '
          'at most 1 s.', default=None, nullable=True, minimum=0, maximum=DAY),
)

LIMITS_FIELDS = (
    Field('memory_mb', 'number', 'Hard memory limit of the whole process tree (resident, MB): '
          'over it for over_samples samples in a row, the service is restarted through its '
          'policy; the kernel enforces it too where it can (cgroup memory.max, else '
          'RLIMIT_AS per process).', default=None, nullable=True, minimum=1,
          maximum=1_048_576),
    Field('memory_soft_mb', 'number', 'Soft memory limit (MB): above it the service is WARN, '
          'with an event.', default=None, nullable=True, minimum=1, maximum=1_048_576),
    Field('cpu_percent', 'number', 'Hard CPU limit (100 = one core): over it for '
          'over_samples samples in a row, the service is restarted.', default=None,
          nullable=True, minimum=1, maximum=100_000),
    Field('cpu_soft_percent', 'number', 'Soft CPU limit: above it the service is WARN, with '
          'an event.', default=None, nullable=True, minimum=1, maximum=100_000),
    Field('over_samples', 'integer', 'Consecutive metrics samples over a hard limit before '
          'the restart.', default=3, minimum=1, maximum=1000),
    Field('nice', 'integer', 'Scheduling niceness of the main process (-20..19).',
          default=None, nullable=True, minimum=-20, maximum=19),
    Field('cpu_affinity', 'array', 'CPUs the main process may run on, e.g. [2, 3].',
          default=None, nullable=True, items='integer', max_length=1024),
)

DEPENDENCY_FIELDS = (
    Field('name', 'string', 'The service this one depends on.', pattern=NAME_PATTERN),
    Field('condition', 'string', 'What it must be before this one starts: started (running), '
          'healthy (running and its readiness probe passes) or completed (exited 0). While '
          'it is not, this service waits, with the reason in its status.', default='started',
          choices=DEPENDENCY_CONDITIONS),
    Field('restart_with', 'boolean', 'When the dependency stops or crashes, stop this one '
          "too, and start it again once the condition holds again (systemd's BindsTo).",
          default=False),
)

OBJECTS: dict[str, tuple[Field, ...]] = {
    'registry': TOP_FIELDS,
    'service': SERVICE_FIELDS,
    'restart': RESTART_FIELDS,
    'health_check': HEALTH_FIELDS,
    'dependency': DEPENDENCY_FIELDS,
    'limits': LIMITS_FIELDS,
    'webhook': WEBHOOK_FIELDS,
}
#: Array fields whose items may be a plain string instead of the object (depends_on).
STRING_OR_OBJECT_ITEMS = ('dependency',)
