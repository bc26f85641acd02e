"""The shipped systemd units: valid for systemd, commands that exist, stops that stay clean.

systemd does not run here: `systemd-analyze verify` checks the unit files, and what a unit
does is tested through its underlying behaviour: its ExecStartPre check run as systemd would
(with the unit's environment only), signals to a process group, and the launcher (the main
process of omega-orchestrator.service) failing when it must. Both units keep the original
OmegaOS unit's hardening and environment.
"""

import ast
import configparser
import json
import os
from pathlib import Path
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from omega_orchestrator.launcher import Sidecar, SIDECAR_GRACE
from omega_orchestrator.robot_names import host_namespace, with_namespace
from test.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / 'config' / 'systemd'
LAUNCHER_UNIT = UNITS / 'omega-orchestrator.service'
LAUNCH_UNIT = UNITS / 'omega-orchestrator-launch.service'
BOTH = [LAUNCHER_UNIT, LAUNCH_UNIT]
INSTALL_DIR = '/opt/omega_orchestrator'   # where the launcher unit expects the checkout
REGISTRY = f'{INSTALL_DIR}/config/service_registry.json'
ROS_SETUP = '/opt/ros/jazzy/setup.bash'   # the launch unit's ROS distribution
WORKSPACE = '/opt/omega_ws'               # and its colcon workspace
WORKSPACE_REGISTRY = f'{WORKSPACE}/src/omega_orchestrator/config/service_registry.json'
ORCHESTRATOR = 'install/omega_orchestrator/lib/omega_orchestrator/orchestrator'
ROBOT_PATH = '/usr/local/bin:/usr/bin:/bin'   # the original unit's PATH: the robot's


def service_section(path: Path, name: str = 'Service') -> configparser.SectionProxy:
    """A section ([Service] by default), with systemd's line continuations joined.

    A key given more than once (Environment=) keeps its last value here: see assignments().
    """
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str    # keys are case-sensitive for systemd
    unit.read_string(path.read_text().replace('\\\n', ' '))
    return unit[name]


def assignments(path: Path, section: str = 'Service') -> list[tuple[str, str]]:
    """Every (key, value) of a section in order, repeated keys included."""
    found, current = [], None
    for line in path.read_text().replace('\\\n', ' ').splitlines():
        line = line.strip()
        if line.startswith('['):
            current = line.strip('[]')
        elif line and not line.startswith(('#', ';')) and current == section:
            key, _, value = line.partition('=')
            found.append((key.strip(), value.strip()))
    return found


def environment(path: Path) -> dict[str, str]:
    """The variables the unit's Environment= lines set."""
    return dict(value.split('=', 1) for key, value in assignments(path) if key == 'Environment')


def launch_constants() -> dict[str, str]:
    """The launch file's module-level string constants (STOP_GRACE, SIGKILL_TIMEOUT)."""
    tree = ast.parse((ROOT / 'launch' / 'orchestrator.launch.py').read_text())
    return {n.targets[0].id: n.value.value for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
            and isinstance(n.value, ast.Constant)}


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_launcher_unit_runs_the_launcher_and_lets_it_stop_the_services():
    service = service_section(LAUNCHER_UNIT)
    argv = shlex.split(service['ExecStart'])
    assert argv[1:3] == ['-m', 'omega_orchestrator.launcher']
    assert (ROOT / 'omega_orchestrator' / 'launcher.py').exists()
    assert '--registry' in argv and '--log-dir' in argv
    assert service['KillMode'] == 'mixed' and service['KillSignal'] == 'SIGTERM'
    # the orchestrator's stop, then the sidecar's, both inside systemd's patience
    grace = float(option(argv, '--stop-grace'))
    assert grace >= 20
    assert int(service['TimeoutStopSec']) >= grace + SIDECAR_GRACE + 2


def test_launcher_unit_is_notified_by_the_orchestrator():
    service = service_section(LAUNCHER_UNIT)
    assert service['Type'] == 'notify'
    assert service['NotifyAccess'] == 'all', 'the launcher is the main process'
    assert int(service['WatchdogSec']) >= 10
    assert service['Restart'] == 'on-failure'
    assert service['RestartPreventExitStatus'] == '2', 'an invalid registry stays invalid'


def launch_command(service: configparser.SectionProxy, key: str = 'ExecStart') -> list[str]:
    """The command of ExecStart (or `key`) = /bin/bash -c '...'."""
    argv = shlex.split(service[key])
    assert argv[:2] == ['/bin/bash', '-c'] and len(argv) == 3
    return argv


def test_launch_unit_runs_ros2_launch_as_the_main_process():
    service = service_section(LAUNCH_UNIT)
    script = launch_command(service)[2]
    assert re.search(r'source /opt/ros/\w+/setup\.bash', script)
    steps = [step.strip() for step in script.split('&&')]
    launch = shlex.split(steps[-1])
    # exec: ros2 launch replaces bash, so it gets systemd's SIGINT (and is WATCHDOG_PID)
    assert launch[:3] == ['exec', 'ros2', 'launch']
    assert '--noninteractive' in launch, 'launch passes SIGINT on only when noninteractive'
    file = launch.index('orchestrator.launch.py')
    assert launch[file - 1] == 'omega_orchestrator'
    assert (ROOT / 'launch' / launch[file]).is_file()
    result = subprocess.run(['bash', '-n', '-c', script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_launch_unit_stops_ros2_launch_with_sigint_and_waits_long_enough():
    service = service_section(LAUNCH_UNIT)
    assert service['KillSignal'] == 'SIGINT', 'ros2 launch orphans its processes on SIGTERM'
    assert service['KillMode'] == 'mixed', 'SIGINT to ros2 launch alone, SIGKILL to the rest'
    assert service['Restart'] == 'on-failure'
    assert service['Type'] == 'notify' and service['NotifyAccess'] == 'all'
    launch = shlex.split(launch_command(service)[2].split('&&')[-1])
    arguments = dict(a.split(':=', 1) for a in launch if ':=' in a)
    constants = launch_constants()
    grace = float(arguments.get('stop_grace', constants['STOP_GRACE']))
    # launch: SIGINT, SIGTERM after the grace, SIGKILL SIGKILL_TIMEOUT later; then it exits
    assert int(service['TimeoutStopSec']) >= grace + float(constants['SIGKILL_TIMEOUT']) + 5


# -- what both units share: the original's hardening, a check before each start -------------

@pytest.mark.parametrize('unit', BOTH, ids=lambda p: p.name)
def test_unit_keeps_the_original_hardening_and_environment(unit: Path):
    service = service_section(unit)
    assert service['NoNewPrivileges'] == 'true' and service['PrivateTmp'] == 'true'
    # hundreds of services' pipes and log files: not the default soft limit of 1024
    assert int(service['LimitNOFILE']) >= 65536
    env = environment(unit)
    assert env['PYTHONUNBUFFERED'] == '1'
    # the robot's PATH, as the original's: a registry's `python3` is the system's. The venv
    # would be stripped from what services get anyway (runtime/environment.py): keep it out.
    assert env['PATH'] == ROBOT_PATH and '.venv' not in env['PATH']
    # the orchestrator sets its own control-plane DDS range (--control-discovery-range);
    # services keep the robot's
    assert 'ROS_AUTOMATIC_DISCOVERY_RANGE' not in env
    keys = [key for key, _ in assignments(unit) if key != 'Environment']
    assert len(keys) == len(set(keys)), 'a key given twice: systemd may keep both'


@pytest.mark.parametrize('unit', BOTH, ids=lambda p: p.name)
def test_a_failing_check_does_not_restart_forever(unit: Path):
    # a failed ExecStartPre is not the main process: RestartPreventExitStatus does not
    # apply, Restart=on-failure starts it again. The start limit must catch that loop:
    # `burst` failed starts, each up to ~10 s of checking plus RestartSec, within the interval.
    limits = service_section(unit, 'Unit')
    burst, interval = int(limits['StartLimitBurst']), int(limits['StartLimitIntervalSec'])
    restart = int(service_section(unit)['RestartSec'])
    assert burst >= 3 and (burst - 1) * (restart + 10) <= interval


def test_launcher_unit_checks_the_same_registry_before_it_starts():
    service = service_section(LAUNCHER_UNIT)
    pre, start = shlex.split(service['ExecStartPre']), shlex.split(service['ExecStart'])
    assert pre[:3] == [start[0], '-m', 'omega_orchestrator'] and pre[-1] == '--check'
    assert '--strict' not in pre, 'a missing script must not keep every service down'
    for name in ('--registry', '--base-dir', '--stop-grace'):
        assert (name in pre) == (name in start), name
        if name in pre:
            assert option(pre, name) == option(start, name)
    assert option(pre, '--registry') == REGISTRY


def test_launch_unit_checks_with_the_workspaces_orchestrator_before_it_starts():
    service = service_section(LAUNCH_UNIT)
    pre = [step.strip() for step in launch_command(service, 'ExecStartPre')[2].split('&&')]
    start = [step.strip() for step in launch_command(service)[2].split('&&')]
    assert pre[:-1] == start[:-1], 'the same ROS setup and workspace'
    check = shlex.split(pre[-1])
    assert check[:2] == ['exec', f'{WORKSPACE}/{ORCHESTRATOR}'] and check[-1] == '--check'
    assert f'source {WORKSPACE}/install/local_setup.bash' in start
    arguments = dict(a.split(':=', 1) for a in shlex.split(start[-1]) if ':=' in a)
    assert option(check, '--registry') == arguments['registry'] == WORKSPACE_REGISTRY
    assert option(check, '--stop-grace') == arguments['stop_grace']
    assert '--strict' not in check


# -- the check as systemd runs it: the unit's environment only --------------------------------

def fake_venv(install: Path) -> Path:
    """install/.venv/bin/python: a wrapper running this interpreter (which has our package)."""
    python = install / '.venv' / 'bin' / 'python'
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    return python


def fake_ros(folder: Path) -> tuple[Path, Path]:
    """(a ROS setup.bash, a colcon workspace whose installed orchestrator is this package)."""
    setup = folder / 'ros' / 'setup.bash'
    setup.parent.mkdir(parents=True, exist_ok=True)
    setup.write_text('export FAKE_ROS_DISTRO=jazzy\n')
    workspace = folder / 'ws'
    (workspace / 'install').mkdir(parents=True, exist_ok=True)
    (workspace / 'install' / 'local_setup.bash').write_text(
        '[ "$FAKE_ROS_DISTRO" = jazzy ] || exit 9   # sourced after the distribution\n')
    orchestrator = workspace / ORCHESTRATOR
    orchestrator.parent.mkdir(parents=True, exist_ok=True)
    orchestrator.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m omega_orchestrator "$@"\n')
    orchestrator.chmod(0o755)
    return setup, workspace


def run_check(unit: Path) -> subprocess.CompletedProcess:
    """Run the unit's ExecStartPre as systemd would: its Environment= only, its folder."""
    service = service_section(unit)
    cwd = service.get('WorkingDirectory', '/')
    return subprocess.run(shlex.split(service['ExecStartPre']), env=environment(unit),
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def write_registry(path: Path, valid: bool) -> None:
    """A registry whose one service's script is missing; or one with an unknown field."""
    path.parent.mkdir(parents=True, exist_ok=True)
    service = {'name': 'movement', 'cmd': 'python3', 'args': ['movement/server.py']}
    if not valid:
        service['restart_polcy'] = 'always'
    path.write_text(json.dumps({'services': [service]}))


def local_copy(unit: Path, folder: Path) -> Path:
    """The unit with its example paths moved into folder, where they exist."""
    setup, workspace = fake_ros(folder)
    fake_venv(folder / 'install')
    copy = folder / unit.name
    copy.write_text(unit.read_text().replace(INSTALL_DIR, str(folder / 'install'))
                    .replace(ROS_SETUP, str(setup)).replace(WORKSPACE, str(workspace)))
    return copy


def unit_registry(unit: Path, folder: Path) -> Path:
    """Where the local copy of the unit looks for its registry."""
    if unit == LAUNCHER_UNIT:
        return Path(REGISTRY.replace(INSTALL_DIR, str(folder / 'install')))
    return Path(WORKSPACE_REGISTRY.replace(WORKSPACE, str(folder / 'ws')))


@pytest.mark.parametrize('unit', BOTH, ids=lambda p: p.name)
def test_the_check_before_start_fails_only_for_an_invalid_registry(unit: Path,
                                                                    tmp_path: Path):
    copy = local_copy(unit, tmp_path)
    registry = unit_registry(unit, tmp_path)
    write_registry(registry, valid=True)
    result = run_check(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: service 'movement' field 'args'[0]: movement/server.py not found" in \
        result.stdout, 'a missing script is only a warning'
    write_registry(registry, valid=False)
    result = run_check(copy)
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(registry) in result.stderr and "unknown field 'restart_polcy'" in result.stderr


# -- systemd-analyze verify -----------------------------------------------------------------

def verify(unit: Path, scratch: Path) -> list[str]:
    """What `systemd-analyze verify` says about a unit, run on a copy whose paths exist."""
    analyze = shutil.which('systemd-analyze')
    if analyze is None:
        pytest.skip('systemd-analyze is not installed')
    install = scratch / 'install'
    if not (install / '.venv' / 'bin' / 'python').exists():
        fake_venv(install)
    copy = scratch / unit.name
    copy.write_text(unit.read_text().replace(INSTALL_DIR, str(install)))
    result = subprocess.run([analyze, 'verify', str(copy)], capture_output=True, text=True,
                            timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 and not problems:
        problems.append(f'systemd-analyze verify exited {result.returncode}')
    return problems


@pytest.mark.parametrize('unit', [LAUNCHER_UNIT, LAUNCH_UNIT], ids=lambda p: p.name)
def test_systemd_accepts_the_unit(unit: Path, tmp_path: Path):
    assert verify(unit, tmp_path) == []


def test_verify_catches_a_syntax_error(tmp_path: Path):
    broken = tmp_path / 'src' / LAUNCH_UNIT.name
    broken.parent.mkdir()
    broken.write_text(LAUNCH_UNIT.read_text().replace('KillMode=mixed', 'KillMood=mixed'))
    problems = verify(broken, tmp_path)
    assert any("Unknown key 'KillMood'" in line for line in problems), problems


# -- stopping a process group: what systemd, a terminal or `kill -- -PGID` does -------------

DEADLINE = 30.0
# what `ros2 launch` amounts to here: a parent starting both nodes in its own process group,
# dying at once on SIGTERM (launch exits in 0.06 s and leaves its children behind)
LAUNCH_LIKE = ('import json, subprocess, sys\n'
               'children = [subprocess.Popen(argv) for argv in json.loads(sys.argv[1])]\n'
               'for child in children:\n'
               '    child.wait()\n')


def alive(pids: list[int]) -> list[int]:
    """The pids still running (zombies count as gone: they hold nothing)."""
    left = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.NoSuchProcess:
            pass
    return left


def tagged(tag: str) -> list[int]:
    """Pids of the test's services (their command line carries the tag)."""
    return alive([p.pid for p in psutil.process_iter(['cmdline'])
                  if tag in (p.info['cmdline'] or ())])


def descendants(pid: int) -> list[int]:
    """Every process below pid: the nodes, the services and whatever helpers they run."""
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


class Robot:
    """A registry of two services (`user` depends on `base`), a log folder and an API port."""

    def __init__(self, folder: Path) -> None:
        self.tag = f'pgroup-{os.getpid()}-{random.randint(0, 10**9)}'
        self.logs = folder / 'logs'
        self.port = free_port()
        self.registry = folder / 'robot.json'
        sleeper = ['-c', 'import time; time.sleep(600)', self.tag]
        self.registry.write_text(json.dumps({'services': [
            {'name': 'base', 'cmd': sys.executable, 'args': sleeper, 'autostart': True},
            {'name': 'user', 'cmd': sys.executable, 'args': sleeper, 'autostart': True,
             'depends_on': ['base']}]}))
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
                        ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')

    def orchestrator_argv(self) -> list[str]:
        return [sys.executable, '-m', 'omega_orchestrator', '--registry', str(self.registry),
                '--log-dir', str(self.logs), '--no-ros', '--stop-grace', '10']

    def sidecar_argv(self) -> list[str]:
        return [sys.executable, '-m', 'omega_orchestrator.sidecar', '--port', str(self.port),
                '--orchestrator', f'/{self.tag.replace("-", "_")}/omega_orchestrator']

    def wait_up(self) -> list[int]:
        """Wait until both services run and the API listens; the services' pids."""
        services = wait_until(lambda: p if len(p := tagged(self.tag)) == 2 else None,
                              what='both services run')
        wait_until(lambda: listening(self.port), what='the sidecar listens')
        return services

    def assert_stopped_in_order(self) -> None:
        """services.log: the orchestrator stopped `user`, then `base`, itself."""
        text = (self.logs / 'services.log').read_text()
        assert 'shutting down' in text, text
        for name in ('user', 'base'):
            assert f'{name}: running -> stopping' in text, text
            assert f'{name}: stopping -> stopped' in text, text
        assert text.index('user: running -> stopping') < text.index('base: running -> stopping')


def kill_all(pids: list[int]) -> None:
    for pid in alive(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_sigterm_to_a_launch_like_group_leaves_nothing_behind(tmp_path: Path):
    robot = Robot(tmp_path)
    parent = subprocess.Popen(
        [sys.executable, '-c', LAUNCH_LIKE,
         json.dumps([robot.orchestrator_argv(), robot.sidecar_argv()])],
        env=robot.env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    pids = [parent.pid]
    try:
        services = robot.wait_up()
        nodes = psutil.Process(parent.pid).children()
        assert len(nodes) == 2
        pids += descendants(parent.pid) + services
        os.killpg(parent.pid, signal.SIGTERM)   # every member: parent and both nodes
        assert parent.wait(DEADLINE) == -signal.SIGTERM
        wait_until(lambda: not alive(pids), what='the nodes and the services are gone')
    finally:
        kill_all(pids)
    robot.assert_stopped_in_order()


def test_sigterm_to_the_launchers_group_leaves_nothing_behind(tmp_path: Path):
    robot = Robot(tmp_path)
    launcher = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator.launcher', '--registry', str(robot.registry),
         '--log-dir', str(robot.logs), '--api-port', str(robot.port), '--no-ros',
         '--stop-grace', '10'],
        env=robot.env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    pids = [launcher.pid]
    try:
        services = robot.wait_up()
        pids += descendants(launcher.pid) + services
        os.killpg(launcher.pid, signal.SIGTERM)
        assert launcher.wait(DEADLINE) == 0
        wait_until(lambda: not alive(pids), what='the nodes and the services are gone')
    finally:
        kill_all(pids)
    robot.assert_stopped_in_order()


# -- the launcher unit's main process ---------------------------------------------------------

def test_a_sidecar_that_exits_between_two_looks_is_reported_at_once():
    # the launcher's loop: check() saw it alive, then it exits, then timeout() collects it;
    # no exit is left to wake the launcher, so the next check() must come without waiting
    sidecar = Sidecar([sys.executable, '-c', 'pass'], free_port())
    wait_until(lambda: sidecar.proc.poll() is not None, what='the sidecar exited')
    assert sidecar.timeout(stopping=False) == 0.0
    assert sidecar.check(stopping=False) == 1               # died before ever listening
    assert sidecar.timeout(stopping=True) is None            # stopping: nothing to report


@pytest.mark.parametrize('why', ['public address without a token', 'port in use'])
def test_launcher_fails_and_stops_the_orchestrator_when_the_sidecar_cannot_listen(
        tmp_path: Path, why: str):
    robot = Robot(tmp_path)
    blocker = socket.socket()
    blocker.bind(('127.0.0.1', robot.port))
    blocker.listen()
    variable = f'OMEGA_TEST_UNSET_{os.getpid()}'
    api = (['--api-host', '0.0.0.0', '--token-env', variable] if why.startswith('public')
           else ['--api-host', '127.0.0.1'])
    try:
        result = subprocess.run(
            [sys.executable, '-m', 'omega_orchestrator.launcher', '--registry',
             str(robot.registry), '--log-dir', str(robot.logs), '--api-port', str(robot.port),
             '--no-ros', *api], env=robot.env, capture_output=True, text=True, timeout=60)
    finally:
        blocker.close()
        kill_all(tagged(robot.tag))
    assert result.returncode == 1, result.stderr
    assert 'the sidecar exited' in result.stderr and 'stopping the orchestrator' in result.stderr
    if why.startswith('public'):
        assert variable in result.stderr      # --token-env reached the sidecar
    assert tagged(robot.tag) == []


def test_launcher_starts_a_sidecar_again_that_dies_after_listening(tmp_path: Path):
    robot = Robot(tmp_path)
    output = tmp_path / 'launcher.log'
    launcher = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator.launcher', '--registry', str(robot.registry),
         '--log-dir', str(robot.logs), '--api-port', str(robot.port), '--no-ros'],
        env=robot.env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=output.open('w'))
    pids = [launcher.pid]

    def seen_listening(pid: int) -> bool:
        return f'the sidecar (pid {pid}) listens on port {robot.port}' in output.read_text()

    def sidecars() -> list[psutil.Process]:
        found = []
        for child in psutil.Process(launcher.pid).children():
            try:
                if 'omega_orchestrator.sidecar' in child.cmdline():
                    found.append(child)
            except psutil.Error:     # gone, or a zombie not yet reaped
                pass
        return found
    try:
        services = robot.wait_up()
        (first,) = sidecars()
        pids += descendants(launcher.pid) + services
        wait_until(lambda: seen_listening(first.pid), what='the launcher saw the sidecar listen')
        first.kill()
        wait_until(lambda: [s.pid for s in sidecars()] not in ([], [first.pid]),
                   what='a new sidecar runs')
        (second,) = sidecars()
        pids += descendants(launcher.pid)
        wait_until(lambda: seen_listening(second.pid), what='the new sidecar listens')
        assert listening(robot.port)
        # the same services, asked by pid: one between its interpreter's two execs (the
        # venv's ROS-wheels .pth) shows no command line for a moment
        assert launcher.poll() is None and alive(services) == services
        os.killpg(launcher.pid, signal.SIGTERM)
        assert launcher.wait(DEADLINE) == 0
        wait_until(lambda: not alive(pids), what='everything is gone')
    finally:
        kill_all(pids)


def test_launcher_passes_every_sidecar_option_on():
    from omega_orchestrator import DEFAULT_API_PORT
    from omega_orchestrator.launcher import build_parser, sidecar_argv, SIDECAR_OPTIONS
    from omega_orchestrator.sidecar.__main__ import build_parser as sidecar_parser
    theirs = {s for a in sidecar_parser()._actions for s in a.option_strings if s[:2] == '--'}
    # --orchestrator and the namespace follow the ROS arguments both processes get
    assert theirs - {'--help', '--orchestrator', '--namespace'} == set(SIDECAR_OPTIONS.values())
    args, rest = build_parser().parse_known_args([
        '--registry', 'r.json', '--api-host', '0.0.0.0', '--api-port', '8090',
        '--token-env', 'TOKEN', '--cors-origin', 'http://a', '--cors-origin', 'http://b',
        '--api-timeout', '3', '--allowed-host', 'omega1.local', '--open-writes-for-origins',
        '--control-discovery-range', 'SUBNET', '--log-dir', 'x'])
    assert rest == ['--log-dir', 'x']
    argv = sidecar_argv(args, ['--ros-args', '-r', '__ns:=/robot1'])
    assert argv[1:3] == ['-m', 'omega_orchestrator.sidecar']
    parsed = sidecar_parser().parse_args(argv[3:])
    assert (parsed.host, parsed.port, parsed.token_env, parsed.timeout) == \
        ('0.0.0.0', 8090, 'TOKEN', 3.0)
    assert parsed.cors_origin == ['http://a', 'http://b']
    assert parsed.allowed_host == ['omega1.local'] and parsed.open_writes_for_origins
    assert parsed.control_discovery_range == 'SUBNET'
    assert parsed.orchestrator == '/robot1/omega_orchestrator'
    # no namespace given: main puts both nodes in the host's (robot_names.with_namespace)
    defaults = sidecar_parser().parse_args(sidecar_argv(
        build_parser().parse_args(['--registry', 'r.json']), with_namespace([], None))[3:])
    assert (defaults.host, defaults.port, defaults.orchestrator) == \
        ('127.0.0.1', DEFAULT_API_PORT, f'{host_namespace()}/omega_orchestrator')
