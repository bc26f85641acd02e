"""The orchestrator's command line: its arguments, loading the registry, and --check.

(The REST client, `omega-services`, is client.py.)
"""

import argparse
from collections.abc import Callable
import os
import sys

from omega_orchestrator import DEFAULT_API_PORT
from omega_orchestrator.core.dependencies import DependencySpec
from omega_orchestrator.core.errors import RegistryError
from omega_orchestrator.core.graph import start_waves
from omega_orchestrator.core.registry import detaches, load_registry, Registry, ServiceSpec
from omega_orchestrator.core.shutdown import grace_warning, registry_stop_plan
from omega_orchestrator.runtime.environment import DISCOVERY_RANGES, robot_environment
from omega_orchestrator.runtime.preflight import registry_problems

DEFAULT_LOG_DIR = os.environ.get('OMEGA_LOG_DIR', 'logs')


def at_least(low: float, kind: type) -> Callable[[str], float]:
    """An argparse type: a number of `kind` no smaller than `low`."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
        if value < low:
            raise argparse.ArgumentTypeError(f'must be at least {low}, got {text}')
        return value
    return parse


def split_ros_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(our arguments, ['--ros-args', ...]) without needing rclpy for the split."""
    if '--ros-args' not in argv:
        return argv, []
    index = argv.index('--ros-args')
    return argv[:index], argv[index:]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m omega_orchestrator`."""
    parser = argparse.ArgumentParser(
        prog='omega_orchestrator',
        description='Start, watch and restart the services of a JSON registry.',
        epilog='ROS arguments follow --ros-args, e.g. --ros-args -r __ns:=/robot1')
    parser.add_argument('--registry', required=True, help='the service registry JSON file')
    parser.add_argument('--check', action='store_true',
                        help='validate the registry, print the start order and, as warnings, '
                             'files and commands it names that are missing here; exit 0, '
                             'or 2 when the registry is invalid')
    parser.add_argument('--strict', action='store_true',
                        help='with --check: exit 1 when a file or command is missing here')
    parser.add_argument('--log-dir', default=DEFAULT_LOG_DIR,
                        help='where service logs and services.log go '
                             '(default: $OMEGA_LOG_DIR or ./logs)')
    parser.add_argument('--log-max-bytes', type=at_least(1024, int), default=10 * 1024 * 1024,
                        help='rotate a service log past this size (default 10 MB)')
    parser.add_argument('--log-backups', type=at_least(0, int), default=5,
                        help='rotated files kept per stream (default 5)')
    parser.add_argument('--metrics-interval', type=at_least(0.0, float), default=2.0,
                        help='seconds between CPU/RAM samples; 0 turns sampling off (default 2)')
    parser.add_argument('--status-rate', type=at_least(0.01, float), default=1.0,
                        help='periodic ~/status publications per second (default 1)')
    parser.add_argument('--call-timeout', type=at_least(0.1, float), default=5.0,
                        help='seconds a ROS service call may wait for the engine (default 5)')
    parser.add_argument('--no-ros', action='store_true',
                        help='run the engine without the ROS 2 node')
    parser.add_argument('--base-dir', default=None, metavar='DIR',
                        help="what relative working_dir values are relative to (default: the "
                             "registry's base_dir, else its folder); the original OmegaOS "
                             'layout: the backend folder, i.e. the one above omega_services/')
    parser.add_argument('--cgroups', action='store_true',
                        help='track each run of a service in a cgroup of its own where the '
                             'kernel allows (cgroup v2, writable): a stop then also ends what '
                             'dropped its environment marker; moving each new process costs '
                             'about 15 ms of kernel time')
    parser.add_argument('--drop-env', action='append', default=[], metavar='NAME',
                        help='a variable that never reaches a service (repeatable; '
                             'OMEGA_API_TOKEN never does)')
    parser.add_argument('--api-port', type=int, default=DEFAULT_API_PORT,
                        help='the REST API port, for --check to warn when a service uses it')
    parser.add_argument('--namespace', default=None, metavar='NS',
                        help="the ROS namespace of the orchestrator's node, which names this "
                             'robot in a fleet (default: from the host name, e.g. /robot_7; '
                             '`--ros-args -r __ns:=...` wins)')
    parser.add_argument('--refuse-remote-writes', action=argparse.BooleanOptionalAction,
                        default=False,
                        help='serve the control services (start, stop, restart, maintenance, '
                             'group, reload) to this machine only, on a LOCALHOST participant '
                             'of their own, while status, events, list and logs reach as far as '
                             '--control-discovery-range (the launch file passes one form or '
                             'the other)')
    parser.add_argument('--control-discovery-range', default='LOCALHOST',
                        choices=(*DISCOVERY_RANGES, 'inherit'),
                        help="how far the orchestrator's own ROS node is visible (default "
                             "LOCALHOST; services keep the robot's ROS settings either way)")
    parser.add_argument('--stop-grace', type=at_least(0.0, float), default=None,
                        metavar='SECONDS',
                        help='the time whoever runs us (ros2 launch, systemd) allows a stop '
                             'before killing us; warn when the stop timeouts can exceed it')
    return parser


def describe_plan(registry: Registry, stop_grace: float | None = None) -> str:
    """What would start, in order, as printed by --check; warns of a too short stop grace."""
    deps = {s.name: s.depends_on for s in registry.services}
    auto = [s.name for s in registry.services if s.autostart]
    lines = [f'{registry.path}: {len(registry.services)} service(s), valid.']
    lines.append(f'Start order ({len(auto)} autostart):' if auto else 'Nothing autostarts.')
    for number, wave in enumerate(start_waves(deps, auto), 1):
        for name in wave:
            spec = registry.get(name)
            assert spec is not None
            check = spec.health.label if spec.health else 'no health check'
            lines.append(f'  {number}. {name}: {" ".join([spec.cmd, *spec.args])} '
                         f'[{spec.type}, restart {spec.restart_policy}, {check}]')
            if spec.dependencies:
                lines.append('       after ' + ', '.join(
                    _dependency_text(d) for d in spec.dependencies))
            extras = _supervision_text(spec)
            if extras:
                lines.append(f'       {extras}')
    manual = [s.name for s in registry.services if not s.autostart]
    if manual:
        lines.append('Manual start only: ' + ', '.join(manual))
    implied = [s.name for s in registry.services if s.oneshot and detaches(s.cmd, s.args)]
    if implied:
        lines.append('Oneshot (the command detaches, e.g. docker compose up -d): '
                     + ', '.join(implied))
    warning = stop_grace_warning(registry, stop_grace)
    if warning:
        lines.append(warning)
    return '\n'.join(lines)


def _supervision_text(spec: ServiceSpec) -> str:
    """What else watches the service: probes, lifecycle, limits, retries, group."""
    parts = [f'{kind} probe {probe.kind}' for kind, probe in
             (('startup', spec.startup), ('liveness', spec.liveness)) if probe is not None]
    if spec.lifecycle:
        parts.append(f'lifecycle node {spec.ros_node}')
    limits = spec.limits
    for label, value, unit in (('memory', limits.memory_mb, ' MB'),
                               ('memory soft', limits.memory_soft_mb, ' MB'),
                               ('cpu', limits.cpu_percent, ' %'),
                               ('cpu soft', limits.cpu_soft_percent, ' %')):
        if value is not None:
            parts.append(f'{label} limit {value:g}{unit}')
    if spec.restart.retry_failed_after is not None:
        parts.append(f'retried {spec.restart.retry_failed_after:g} s after a failure')
    if spec.group:
        parts.append(f'group {spec.group}')
    return '; '.join(parts)


def _dependency_text(dep: DependencySpec) -> str:
    """'db' (up or given up), 'db is healthy', 'db is healthy, restarts with it'."""
    if dep.condition is None:
        return f'{dep.name} is up or has given up'
    state = {'started': 'has started', 'healthy': 'is healthy',
             'completed': 'has completed'}[dep.condition]
    return f'{dep.name} {state}' + (' (restarts with it)' if dep.restart_with else '')


def stop_grace_warning(registry: Registry, stop_grace: float | None) -> str | None:
    """'warning: ...' when stopping every service can take longer than stop_grace seconds."""
    if stop_grace is None:
        return None
    return grace_warning(registry_stop_plan(registry), stop_grace)


def check(args: argparse.Namespace, registry: Registry, api_port: int | None = None) -> int:
    """--check: print the plan, then what is missing on this machine, as warnings.

    Returns 0, or 1 with --strict (which prints them as errors) when a file or command the
    registry names is missing here; the registry itself is valid (an invalid one exits 2
    earlier, in load_or_exit). A missing script fails that one service at run time, not the
    others: plain --check, as the systemd units run it before each start, must not keep the
    whole robot down.
    """
    print(describe_plan(registry, args.stop_grace))
    problems = registry_problems(registry, robot_environment(os.environ, sys.prefix))
    clashes = [f"service '{s.name}' field 'port': {s.port} is the REST API's port"
               for s in registry.services if api_port is not None and s.port == api_port]
    for line in clashes:
        print(f'warning: {line}')
    level = 'error' if args.strict else 'warning'
    for line in problems:
        print(f'{level}: {line}')
    if not problems:
        return 0
    print(f'{len(problems)} file(s) or command(s) missing on this machine: the services '
          'naming them will fail to start'
          + ('.' if args.strict else ' (--strict makes this an error).'))
    return 1 if args.strict else 0


def load_or_exit(path: str, base_dir: str | None = None) -> Registry:
    """Load the registry, or print every problem and exit with status 2."""
    try:
        return load_registry(path, base_dir)
    except RegistryError as exc:
        print(f'error: {exc}', file=sys.stderr)
        raise SystemExit(2) from None
