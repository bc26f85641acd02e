"""The registry file -> frozen ServiceSpec objects, validated once at the boundary.

Accepts the original OmegaOS registry file unchanged (its string version, its defaults, its
named checks), plus optional extensions (env, stop_signal, stop_timeout, stop_cmd, restart,
probe objects, readiness/liveness/startup probes, oneshot, adopt_existing, depends_on with
conditions, ros_node, base_dir).
Every problem is collected and reported at once, naming the file, the service and the field.
"""

from dataclasses import dataclass, field
import json
from pathlib import Path, PurePath
import re
from typing import Any
from urllib.parse import urlsplit

from omega_orchestrator.core.dependencies import DependencySpec
from omega_orchestrator.core.errors import RegistryError
from omega_orchestrator.core.graph import dependency_problems
from omega_orchestrator.core.limits import LimitsSpec
from omega_orchestrator.core.registry_model import (
    NAME_PATTERN,
    NAMED_CHECKS,
    NAMED_PATH_CHECKS,
    NAMED_PORT_CHECKS,
    NAMED_ROS_CHECKS,
    WEBHOOK_EVENTS,
)
from omega_orchestrator.core.validate import check_object, did_you_mean, shown


@dataclass(frozen=True, kw_only=True)
class RestartSpec:
    """Backoff and crash-loop tuning of one service."""

    backoff_initial: float = 1.0
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    jitter: float = 0.1
    stable_after: float = 10.0
    max_retries: int | None = None
    crash_loop_max: int = 5
    crash_loop_window: float = 60.0
    cooldown: float = 30.0
    retry_failed_after: float | None = None


@dataclass(frozen=True, kw_only=True)
class ProbeSpec:
    """A health check: what to probe, how often, and when it counts as unhealthy."""

    kind: str
    label: str
    host: str = '127.0.0.1'
    port: int | None = None
    url: str | None = None
    expect_status: int = 200
    cmd: str | None = None
    args: tuple[str, ...] = ()
    path: str | None = None
    node: str | None = None
    topic: str | None = None
    min_rate: float | None = None
    service: str | None = None
    call: bool = False
    interval: float = 10.0
    timeout: float = 2.0
    failure_threshold: int = 1
    success_threshold: int = 1
    initial_delay: float | None = None     # None: the interval, at most 1 s


@dataclass(frozen=True, kw_only=True)
class StopSpec:
    """How a stop begins and how long it may take before SIGKILL."""

    signal: str = 'SIGTERM'
    timeout: float = 5.0


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """One service, as declared; immutable."""

    name: str
    cmd: str
    display_name: str = ''
    type: str = 'exec'
    args: tuple[str, ...] = ()
    working_dir: str = '.'
    autostart: bool = False
    restart_policy: str = 'never'
    health: ProbeSpec | None = None          # the readiness probe (health_check)
    liveness: ProbeSpec | None = None
    startup: ProbeSpec | None = None
    port: int | None = None
    description: str = ''
    env: tuple[tuple[str, str], ...] = ()
    stop: StopSpec = field(default_factory=StopSpec)
    restart: RestartSpec = field(default_factory=RestartSpec)
    oneshot: bool = False
    stop_cmd: tuple[str, ...] = ()
    stop_cmd_timeout: float = 30.0
    adopt_existing: bool = False
    dependencies: tuple[DependencySpec, ...] = ()
    ros_node: str | None = None
    limits: LimitsSpec = field(default_factory=LimitsSpec)
    lifecycle: bool = False
    lifecycle_timeout: float = 30.0
    group: str | None = None

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The names of the services this one depends on, in declaration order."""
        return tuple(d.name for d in self.dependencies)


@dataclass(frozen=True, kw_only=True)
class WebhookSpec:
    """Where crash notifications go, and which."""

    url: str
    timeout: float = 5.0
    retries: int = 3
    events: tuple[str, ...] = ('crash', 'give_up', 'recover')


@dataclass(frozen=True, kw_only=True)
class Registry:
    """The whole validated registry."""

    path: str
    version: str = '1'
    description: str = ''
    base_dir: str = '.'
    services: tuple[ServiceSpec, ...] = ()
    webhook: WebhookSpec | None = None

    def names(self) -> tuple[str, ...]:
        """Service names in declaration order."""
        return tuple(s.name for s in self.services)

    def get(self, name: str) -> ServiceSpec | None:
        """The spec called `name`, or None."""
        return next((s for s in self.services if s.name == name), None)

    def by_name(self) -> dict[str, ServiceSpec]:
        """Every spec by its name, in declaration order."""
        return {s.name: s for s in self.services}


MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_PROBLEMS = 100        # problems listed one by one; the rest are counted
MAX_PROBLEM = 300         # characters of one problem line (a dependency cycle is cut short)


def registry_error(source: str, problems: list[str]) -> RegistryError:
    """The error listing `problems`: at most MAX_PROBLEMS of them, then how many more."""
    if len(problems) > MAX_PROBLEMS:
        problems = [*problems[:MAX_PROBLEMS],
                    f'... and {len(problems) - MAX_PROBLEMS} more problems']
    return RegistryError(source, problems)


def _clip(problem: str) -> str:
    """One problem line cut to MAX_PROBLEM characters, keeping its start and its end."""
    if len(problem) <= MAX_PROBLEM:
        return problem
    return f'{problem[:MAX_PROBLEM - 100]} ... {problem[-95:]}'


def load_registry(path: str | Path, base_dir: str | None = None) -> Registry:
    """Read and validate a registry file; raise RegistryError listing every problem.

    Relative working dirs are resolved against `base_dir` when given (e.g. --base-dir),
    else against the file's own `base_dir` field (relative to the file's folder), else
    against the file's folder.
    """
    source = str(path)
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RegistryError(source, [f'cannot read the file: {exc.strerror or exc}']) from None
    if len(data) > MAX_FILE_BYTES:
        raise RegistryError(source, [f'the file is larger than {MAX_FILE_BYTES // 2**20} MB'])
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise RegistryError(source, [f'the file is not UTF-8 text: {exc}']) from None
    folder = Path(path).resolve().parent
    return parse_registry(text, source, base_dir=str(folder),
                          base_override=str(Path(base_dir).resolve()) if base_dir else None)


def decode_json(text: str, source: str) -> Any:
    """json.loads with the holes closed: NaN/Infinity, duplicate keys, absurd numbers and
    nesting become clear errors instead of odd values or tracebacks.
    """
    duplicates: list[str] = []

    def no_constants(name: str) -> Any:
        raise ValueError(f'{name} is not a number JSON allows')

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(items)
        if len(found) == len(items):
            return found
        owner = found.get('name')          # once per object: 10**6 duplicates stay linear
        where = f' in the object named {shown(owner)}' if isinstance(owner, str) else ''
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                duplicates.append(f'duplicate key {shown(key, 60)}{where}')
            seen.add(key)
        return found
    try:
        raw = json.loads(text, parse_constant=no_constants, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise RegistryError(
            source, [f'invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}']) from None
    except RecursionError:
        raise RegistryError(source, ['invalid JSON: nested too deeply']) from None
    except ValueError as exc:        # NaN, Infinity, or an integer of thousands of digits
        raise RegistryError(source, [f'invalid JSON: {str(exc)[:200]}']) from None
    if duplicates:
        raise registry_error(source, duplicates)
    return raw


def parse_registry(text: str, source: str = '<registry>', base_dir: str = '.',
                   base_override: str | None = None) -> Registry:
    """Validate registry JSON text; relative working dirs are resolved against the base
    folder: base_override, else the file's base_dir (relative to base_dir), else base_dir.
    """
    if not text.strip():
        raise RegistryError(source, ['the file is empty; expected {"services": [...]}'])
    raw = decode_json(text, source)
    problems: list[str] = []
    top = check_object(raw, 'registry', 'registry', problems)
    base = base_override or str(PurePath(base_dir) / (top.get('base_dir') or '.'))
    webhook = _webhook_spec(top.get('webhook'), problems)
    services = []
    seen: dict[str, int] = {}
    for index, item in enumerate(top.get('services') or ()):
        spec = _parse_service(item, index, base, problems)
        if spec is None:
            continue
        if spec.name in seen:
            problems.append(f"services[{index}] '{spec.name}' field 'name': duplicate of "
                            f'services[{seen[spec.name]}]')
            continue
        seen[spec.name] = index
        services.append(spec)
    problems.extend(_clip(p) for p in dependency_problems({s.name: s.depends_on
                                                           for s in services}))
    problems.extend(_condition_problems(services))
    if problems:
        raise registry_error(source, problems)
    return Registry(path=source, version=str(top['version']), description=top['description'],
                    base_dir=base, services=tuple(services), webhook=webhook)


def _parse_service(raw: Any, index: int, base_dir: str,
                   problems: list[str]) -> ServiceSpec | None:
    name = raw.get('name') if isinstance(raw, dict) else None
    where = f'services[{index}] {shown(name)}' if isinstance(name, str) \
        else f'services[{index}]'
    before = len(problems)
    values = check_object(raw, 'service', where, problems)
    if not values:
        return None
    restart = _restart_spec(values, where, problems)
    health = _probe_spec(values, 'health_check', where, problems)
    if values['readiness_probe'] is not None:
        if values['health_check'] is not None:
            problems.append(f"{where} field 'readiness_probe': health_check says the same; "
                            'give one of the two')
        health = _probe_spec(values, 'readiness_probe', where, problems)
    liveness = _probe_spec(values, 'liveness_probe', where, problems)
    startup = _probe_spec(values, 'startup_probe', where, problems)
    for key, probe in (('liveness_probe', liveness), ('startup_probe', startup)):
        if probe is not None and probe.success_threshold != 1:
            problems.append(f"{where} {key} field 'success_threshold': must be 1 for a "
                            f'{key.split("_")[0]} probe')
    problems.extend(_env_problems(values['env'], where))
    dependencies = _dependencies(values['depends_on'], where, problems)
    limits = _limits_spec(values['limits'], where, problems)
    if values['lifecycle'] and not values['ros_node']:
        problems.append(f"{where} field 'lifecycle': needs 'ros_node', the managed node's "
                        "name (e.g. '/camera/driver')")
    if len(problems) > before:
        return None
    default_signal = 'SIGINT' if values['type'] == 'ros2' else 'SIGTERM'
    workdir = PurePath(base_dir) / (values['working_dir'] or '.')
    oneshot = values['oneshot']
    if oneshot is None:        # not said: `docker compose ... up -d` returns at once
        oneshot = detaches(values['cmd'], values['args'])
    return ServiceSpec(
        name=values['name'], cmd=values['cmd'],
        display_name=values['display_name'] or values['name'], type=values['type'],
        args=values['args'], working_dir=str(workdir), autostart=values['autostart'],
        restart_policy=values['restart_policy'], health=health, liveness=liveness,
        startup=startup, port=values['port'],
        description=values['description'], env=tuple(sorted((values['env'] or {}).items())),
        stop=StopSpec(signal=values['stop_signal'] or default_signal,
                      timeout=float(values['stop_timeout'])),
        restart=restart, oneshot=oneshot, stop_cmd=tuple(values['stop_cmd'] or ()),
        stop_cmd_timeout=float(values['stop_cmd_timeout']),
        adopt_existing=values['adopt_existing'], dependencies=dependencies,
        ros_node=values['ros_node'], limits=limits, lifecycle=values['lifecycle'],
        lifecycle_timeout=float(values['lifecycle_timeout']), group=values['group'])


def detaches(cmd: str, args: tuple[str, ...]) -> bool:
    """True for a command that starts something in the background and exits at once:
    `docker compose ... up -d` / `docker-compose ... up --detach`.
    """
    program = PurePath(cmd).name
    words = list(args)
    if program == 'docker' and 'compose' in words:
        words = words[words.index('compose') + 1:]
    elif program != 'docker-compose':
        return False
    return 'up' in words and bool({'-d', '--detach'} & set(words[words.index('up'):]))


def _restart_spec(values: dict[str, Any], where: str, problems: list[str]) -> RestartSpec:
    raw = values['restart']
    tuned = check_object(raw, 'restart', f'{where} restart', problems) if raw is not None else {}
    tuned = {k: v for k, v in tuned.items() if k in (raw or {})}
    if 'max_retries' not in tuned:
        tuned['max_retries'] = 3 if values['restart_policy'] == 'on-failure' else None
    floats = {k: float(v) for k, v in tuned.items()
              if isinstance(v, (int, float)) and k not in ('max_retries', 'crash_loop_max')}
    return RestartSpec(**{**tuned, **floats})


def _probe_spec(values: dict[str, Any], key: str, where: str,
                problems: list[str]) -> ProbeSpec | None:
    check = values[key]
    if check is None:
        return None
    if isinstance(check, str):
        return _named_probe(check, values['port'], where, problems)
    place = f'{where} {key}'
    probe = check_object(check, 'health_check', place, problems)
    if not probe:
        return None
    kind = probe['type']
    needs = {'http': 'url', 'exec': 'cmd', 'path': 'path', 'ros_node': 'node',
             'ros_topic': 'topic', 'ros_service': 'service'}
    if kind in needs and not probe[needs[kind]]:
        problems.append(f"{place} field '{needs[kind]}': is required for type '{kind}'")
    port = probe['port'] or values['port']
    if kind == 'tcp' and port is None:
        problems.append(f"{place} field 'port': is required for type 'tcp' "
                        "(or set the service's 'port')")
    if kind == 'http' and probe['url']:
        problems.extend(_url_problems(probe['url'], f"{place} field 'url'"))
    return ProbeSpec(
        kind=kind, label=kind, host=probe['host'], port=port, url=probe['url'],
        expect_status=probe['expect_status'], cmd=probe['cmd'], args=probe['args'],
        path=probe['path'], node=probe['node'], topic=probe['topic'], min_rate=probe['min_rate'],
        service=probe['service'], call=probe['call'],
        interval=float(probe['interval']), timeout=float(probe['timeout']),
        failure_threshold=probe['failure_threshold'],
        success_threshold=probe['success_threshold'],
        initial_delay=None if probe['initial_delay'] is None else float(probe['initial_delay']))


def _url_problems(url: str, place: str) -> list[str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return [f'{place}: {shown(url, 100)} is not a valid URL ({shown(str(exc), 100)})']
    if parts.scheme != 'http' or not parts.hostname:
        return [f'{place}: {shown(url, 100)} must be http://HOST[:PORT]/PATH']
    if port == 0:
        return [f'{place}: port 0 is not allowed']
    return []


def _env_problems(env: dict[str, str] | None, where: str) -> list[str]:
    problems = []
    for key, value in (env or {}).items():
        if not re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', key):
            problems.append(f"{where} field 'env': {shown(key)} is not a valid variable name")
        if '\0' in value:
            problems.append(f"{where} field 'env': the value of {shown(key)} contains a NUL "
                            'byte')
    return problems


def _dependencies(depends_on: tuple[Any, ...], where: str,
                  problems: list[str]) -> tuple[DependencySpec, ...]:
    """Each entry of depends_on: a service name (order only) or a condition object."""
    found = []
    for index, entry in enumerate(depends_on):
        place = f"{where} field 'depends_on'[{index}]"
        if isinstance(entry, str):
            if re.fullmatch(NAME_PATTERN.strip('^$'), entry):
                found.append(DependencySpec(name=entry))
            else:     # a service name, so that every later message stays short
                problems.append(f'{place}: {shown(entry)} is not a service name')
        elif isinstance(entry, dict):
            values = check_object(entry, 'dependency', place, problems)
            if values and values['name'] is not None:
                found.append(DependencySpec(name=values['name'], condition=values['condition'],
                                            restart_with=values['restart_with']))
        else:
            problems.append(f'{place}: must be a service name or an object '
                            '{"name": ..., "condition": ...}')
    return tuple(found)


def _limits_spec(raw: Any, where: str, problems: list[str]) -> LimitsSpec:
    if raw is None:
        return LimitsSpec()
    place = f'{where} limits'
    values = check_object(raw, 'limits', place, problems)
    if not values:
        return LimitsSpec()
    for soft, hard in (('memory_soft_mb', 'memory_mb'), ('cpu_soft_percent', 'cpu_percent')):
        if values[soft] is not None and values[hard] is not None and values[soft] > values[hard]:
            problems.append(f"{place} field '{soft}': {values[soft]:g} is above {hard} "
                            f'{values[hard]:g}')
    cpus = values['cpu_affinity'] or ()
    bad = [c for c in cpus if isinstance(c, bool) or not isinstance(c, int) or c < 0]
    if bad:
        problems.append(f"{place} field 'cpu_affinity': CPU numbers are integers from 0, "
                        f'got {bad[0]!r}'[:200])
    if values['cpu_affinity'] is not None and not cpus:
        problems.append(f"{place} field 'cpu_affinity': must list at least one CPU")
    return LimitsSpec(**{k: v for k, v in values.items() if k != 'cpu_affinity'},
                      cpu_affinity=tuple(sorted(set(cpus))) if not bad else ())


def _webhook_spec(raw: Any, problems: list[str]) -> WebhookSpec | None:
    if raw is None:
        return None
    values = check_object(raw, 'webhook', 'webhook', problems)
    if not values or values['url'] is None:
        return None
    try:
        parts = urlsplit(values['url'])
        parts.port       # noqa: B018 (raises ValueError for a bad port)
        good = parts.scheme in ('http', 'https') and bool(parts.hostname)
    except ValueError:
        good = False
    if not good:
        problems.append(f"webhook field 'url': {shown(values['url'], 100)} must be "
                        'http(s)://HOST[:PORT]/PATH')
    unknown = [e for e in values['events'] if e not in WEBHOOK_EVENTS]
    if unknown:
        problems.append(f"webhook field 'events': unknown event {shown(str(unknown[0]), 40)}"
                        f"; expected {', '.join(WEBHOOK_EVENTS)}")
    return WebhookSpec(url=values['url'], timeout=float(values['timeout']),
                       retries=values['retries'], events=tuple(values['events']))


def _condition_problems(services: list[ServiceSpec]) -> list[str]:
    """A `healthy` condition needs a dependency with a readiness probe (health_check)."""
    by_name = {s.name: s for s in services}
    problems = []
    for spec in services:
        for dep in spec.dependencies:
            target = by_name.get(dep.name)
            if dep.condition == 'healthy' and target is not None and target.health is None:
                problems.append(f"service '{spec.name}' field 'depends_on': condition "
                                f"'healthy' needs a health_check on '{dep.name}', which has none")
    return problems


def _named_probe(check: str, port: int | None, where: str,
                 problems: list[str]) -> ProbeSpec | None:
    if check in NAMED_ROS_CHECKS:
        return ProbeSpec(kind='ros_core', label=check)
    if check in NAMED_PATH_CHECKS:
        return ProbeSpec(kind='path', label=check, path=NAMED_PATH_CHECKS[check])
    if check not in NAMED_PORT_CHECKS:
        problems.append(f"{where} field 'health_check': unknown check {shown(check, 60)}"
                        f"{did_you_mean(check[:60], NAMED_CHECKS)}; expected one of "
                        f"{', '.join(NAMED_CHECKS)} or a probe object")
        return None
    port = port or NAMED_PORT_CHECKS[check]      # the service's port, else the original's
    if port is None:
        problems.append(f"{where} field 'port': is required by health_check '{check}' "
                        '(it checks that the port accepts connections)')
        return None
    return ProbeSpec(kind='tcp', label=check, port=port)
