"""The registry file -> frozen ServiceSpec objects, validated once at the boundary.

Accepts the original OmegaOS registry format field for field, plus optional extensions
(env, stop_signal, stop_timeout, restart, probe objects, oneshot, depends_on, ros_node).
Every problem is collected and reported at once, naming the file, the service and the field.
"""

from dataclasses import dataclass, field
import json
from pathlib import Path, PurePath
import re
from typing import Any
from urllib.parse import urlsplit

from omega_orchestrator.core.errors import RegistryError
from omega_orchestrator.core.graph import dependency_problems
from omega_orchestrator.core.registry_model import NAMED_PORT_CHECKS, NAMED_ROS_CHECKS
from omega_orchestrator.core.validate import check_object, did_you_mean


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
    node: str | None = None
    topic: str | None = None
    min_rate: float | None = None
    interval: float = 10.0
    timeout: float = 2.0
    failure_threshold: int = 1


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
    restart_policy: str = 'on-failure'
    health: ProbeSpec | None = None
    port: int | None = None
    description: str = ''
    env: tuple[tuple[str, str], ...] = ()
    stop: StopSpec = field(default_factory=StopSpec)
    restart: RestartSpec = field(default_factory=RestartSpec)
    oneshot: bool = False
    depends_on: tuple[str, ...] = ()
    ros_node: str | None = None


@dataclass(frozen=True, kw_only=True)
class Registry:
    """The whole validated registry."""

    path: str
    version: int = 1
    description: str = ''
    services: tuple[ServiceSpec, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Service names in declaration order."""
        return tuple(s.name for s in self.services)

    def get(self, name: str) -> ServiceSpec | None:
        """The spec called `name`, or None."""
        return next((s for s in self.services if s.name == name), None)


def load_registry(path: str | Path) -> Registry:
    """Read and validate a registry file; raise RegistryError listing every problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(source, [f'cannot read the file: {exc}']) from None
    base = Path(path).resolve().parent
    return parse_registry(text, source, base_dir=str(base))


def parse_registry(text: str, source: str = '<registry>', base_dir: str = '.') -> Registry:
    """Validate registry JSON text; relative working dirs are resolved against base_dir."""
    if not text.strip():
        raise RegistryError(source, ['the file is empty; expected {"services": [...]}'])
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(
            source, [f'invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}']) from None
    problems: list[str] = []
    top = check_object(raw, 'registry', 'registry', problems)
    services = []
    seen: dict[str, int] = {}
    for index, item in enumerate(top.get('services') or ()):
        spec = _parse_service(item, index, base_dir, problems)
        if spec is None:
            continue
        if spec.name in seen:
            problems.append(f"services[{index}] '{spec.name}' field 'name': duplicate of "
                            f'services[{seen[spec.name]}]')
            continue
        seen[spec.name] = index
        services.append(spec)
    problems.extend(dependency_problems({s.name: s.depends_on for s in services}))
    if problems:
        raise RegistryError(source, problems)
    return Registry(path=source, version=top['version'], description=top['description'],
                    services=tuple(services))


def _parse_service(raw: Any, index: int, base_dir: str,
                   problems: list[str]) -> ServiceSpec | None:
    name = raw.get('name') if isinstance(raw, dict) else None
    where = f"services[{index}] '{name}'" if isinstance(name, str) else f'services[{index}]'
    before = len(problems)
    values = check_object(raw, 'service', where, problems)
    if not values:
        return None
    restart = _restart_spec(values, where, problems)
    health = _probe_spec(values, where, problems)
    problems.extend(_env_problems(values['env'], where))
    if len(problems) > before:
        return None
    default_signal = 'SIGINT' if values['type'] == 'ros2' else 'SIGTERM'
    workdir = PurePath(base_dir) / (values['working_dir'] or '.')
    return ServiceSpec(
        name=values['name'], cmd=values['cmd'],
        display_name=values['display_name'] or values['name'], type=values['type'],
        args=values['args'], working_dir=str(workdir), autostart=values['autostart'],
        restart_policy=values['restart_policy'], health=health, port=values['port'],
        description=values['description'], env=tuple(sorted((values['env'] or {}).items())),
        stop=StopSpec(signal=values['stop_signal'] or default_signal,
                      timeout=float(values['stop_timeout'])),
        restart=restart, oneshot=values['oneshot'], depends_on=values['depends_on'],
        ros_node=values['ros_node'])


def _restart_spec(values: dict[str, Any], where: str, problems: list[str]) -> RestartSpec:
    raw = values['restart']
    tuned = check_object(raw, 'restart', f'{where} restart', problems) if raw is not None else {}
    tuned = {k: v for k, v in tuned.items() if k in (raw or {})}
    if 'max_retries' not in tuned:
        tuned['max_retries'] = 3 if values['restart_policy'] == 'on-failure' else None
    floats = {k: float(v) for k, v in tuned.items()
              if isinstance(v, (int, float)) and k not in ('max_retries', 'crash_loop_max')}
    return RestartSpec(**{**tuned, **floats})


def _probe_spec(values: dict[str, Any], where: str, problems: list[str]) -> ProbeSpec | None:
    check = values['health_check']
    if check is None:
        return None
    if isinstance(check, str):
        return _named_probe(check, values['port'], where, problems)
    place = f'{where} health_check'
    probe = check_object(check, 'health_check', place, problems)
    if not probe:
        return None
    kind = probe['type']
    needs = {'http': 'url', 'exec': 'cmd', 'ros_node': 'node', 'ros_topic': 'topic'}
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
        node=probe['node'], topic=probe['topic'], min_rate=probe['min_rate'],
        interval=float(probe['interval']), timeout=float(probe['timeout']),
        failure_threshold=probe['failure_threshold'])


def _url_problems(url: str, place: str) -> list[str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return [f"{place}: '{url}' is not a valid URL ({exc})"]
    if parts.scheme != 'http' or not parts.hostname:
        return [f"{place}: '{url}' must be http://HOST[:PORT]/PATH"]
    if port == 0:
        return [f'{place}: port 0 is not allowed']
    return []


def _env_problems(env: dict[str, str] | None, where: str) -> list[str]:
    problems = []
    for key, value in (env or {}).items():
        if not re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', key):
            problems.append(f"{where} field 'env': '{key}' is not a valid variable name")
        if '\0' in value:
            problems.append(f"{where} field 'env': the value of '{key}' contains a NUL byte")
    return problems


def _named_probe(check: str, port: int | None, where: str,
                 problems: list[str]) -> ProbeSpec | None:
    if check in NAMED_ROS_CHECKS:
        return ProbeSpec(kind='ros_core', label=check)
    if check not in NAMED_PORT_CHECKS:
        known = NAMED_PORT_CHECKS + NAMED_ROS_CHECKS
        problems.append(f"{where} field 'health_check': unknown check '{check}'"
                        f"{did_you_mean(check, known)}; expected one of {', '.join(known)} "
                        'or a probe object')
        return None
    if port is None:
        problems.append(f"{where} field 'port': is required by health_check '{check}' "
                        '(it checks that the port accepts connections)')
        return None
    return ProbeSpec(kind='tcp', label=check, port=port)
