"""The shipped systemd units: valid for systemd, commands that exist, stops that stay clean.

systemd does not run here: `systemd-analyze verify` checks the unit files, and what a stop
does is tested through its underlying behaviour: signals to a process group, and the
launcher (the main process of omega-orchestrator.service) failing when it must.
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
import time
from typing import Callable

import psutil
import pytest

from omega_orchestrator.launcher import SIDECAR_GRACE
from test.stack import free_port

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / 'config' / 'systemd'
LAUNCHER_UNIT = UNITS / 'omega-orchestrator.service'
LAUNCH_UNIT = UNITS / 'omega-orchestrator-launch.service'
INSTALL_DIR = '/opt/omega_orchestrator'   # where the launcher unit expects the checkout


def service_section(path: Path) -> configparser.SectionProxy:
    """The [Service] section, with systemd's line continuations joined."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str    # keys are case-sensitive for systemd
    unit.read_string(path.read_text().replace('\\\n', ' '))
    return unit['Service']


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


def launch_command(service: configparser.SectionProxy) -> list[str]:
    """The command bash runs in ExecStart=/bin/bash -c '...'."""
    argv = shlex.split(service['ExecStart'])
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


# -- systemd-analyze verify -----------------------------------------------------------------

def verify(unit: Path, scratch: Path) -> list[str]:
    """What `systemd-analyze verify` says about a unit, run on a copy whose paths exist."""
    analyze = shutil.which('systemd-analyze')
    if analyze is None:
        pytest.skip('systemd-analyze is not installed')
    install = scratch / 'install'
    (install / '.venv' / 'bin').mkdir(parents=True, exist_ok=True)
    python = install / '.venv' / 'bin' / 'python'
    if not python.exists():
        python.symlink_to(sys.executable)
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


def wait_until(predicate: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """Poll predicate until it is true; fail naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f'timed out waiting until {what}'
        time.sleep(0.05)


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
        wait_until(lambda: len(tagged(self.tag)) == 2, 'both services run')
        wait_until(lambda: listening(self.port), 'the sidecar listens')
        return tagged(self.tag)

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
        wait_until(lambda: not alive(pids), 'the nodes and the services are gone')
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
        wait_until(lambda: not alive(pids), 'the nodes and the services are gone')
    finally:
        kill_all(pids)
    robot.assert_stopped_in_order()


# -- the launcher unit's main process ---------------------------------------------------------

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
        wait_until(lambda: seen_listening(first.pid), 'the launcher saw the sidecar listen')
        first.kill()
        wait_until(lambda: [s.pid for s in sidecars()] not in ([], [first.pid]),
                   'a new sidecar runs')
        (second,) = sidecars()
        pids += descendants(launcher.pid)
        wait_until(lambda: seen_listening(second.pid), 'the new sidecar listens')
        assert listening(robot.port)
        assert launcher.poll() is None and tagged(robot.tag) == services
        os.killpg(launcher.pid, signal.SIGTERM)
        assert launcher.wait(DEADLINE) == 0
        wait_until(lambda: not alive(pids), 'everything is gone')
    finally:
        kill_all(pids)


def test_launcher_passes_every_sidecar_option_on():
    from omega_orchestrator import DEFAULT_API_PORT
    from omega_orchestrator.launcher import build_parser, sidecar_argv, SIDECAR_OPTIONS
    from omega_orchestrator.sidecar.__main__ import build_parser as sidecar_parser
    theirs = {s for a in sidecar_parser()._actions for s in a.option_strings if s[:2] == '--'}
    assert theirs - {'--help', '--orchestrator'} == set(SIDECAR_OPTIONS.values())
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
    defaults = sidecar_parser().parse_args(
        sidecar_argv(build_parser().parse_args(['--registry', 'r.json']), [])[3:])
    assert (defaults.host, defaults.port, defaults.orchestrator) == \
        ('127.0.0.1', DEFAULT_API_PORT, '/omega_orchestrator')
