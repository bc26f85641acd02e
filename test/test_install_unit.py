"""scripts/install-unit: renders a unit of config/systemd/ for a user and paths, into a root.

Always into a scratch root here (--root): the rendered unit must name the user and the paths,
keep the hardening and the check before start, pass `systemd-analyze verify`, and its check
must run; bad arguments exit 2 and write nothing; the real /etc and systemctl stay untouched.
"""

import os
from pathlib import Path
import shlex
import subprocess

import pytest

from test.test_systemd_unit import (
    environment,
    fake_ros,
    fake_venv,
    launch_command,
    option,
    ROBOT_PATH,
    run_check,
    service_section,
    verify,
    write_registry,
)

ROOT = Path(__file__).resolve().parents[1]
INSTALL_UNIT = ROOT / 'scripts' / 'install-unit'
UNIT_FOLDER = Path('etc') / 'systemd' / 'system'


def install_unit(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(INSTALL_UNIT), *argv], capture_output=True, text=True,
                          timeout=30, env=env)


def scratch_root(tmp_path: Path) -> Path:
    root = tmp_path / 'root'
    root.mkdir()
    return root


def assert_hardened(unit: Path) -> None:
    service = service_section(unit)
    assert service['NoNewPrivileges'] == 'true' and service['PrivateTmp'] == 'true'
    assert service['LimitNOFILE'] == '65536'
    env = environment(unit)
    assert env['PATH'] == ROBOT_PATH and env['PYTHONUNBUFFERED'] == '1'
    assert 'ROS_AUTOMATIC_DISCOVERY_RANGE' not in env


def test_bash_accepts_the_script():
    result = subprocess.run(['bash', '-n', str(INSTALL_UNIT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(INSTALL_UNIT, os.X_OK)


def test_launcher_unit_gets_the_user_and_the_paths(tmp_path: Path):
    root = scratch_root(tmp_path)
    install = tmp_path / 'install'
    fake_venv(install)
    registry = tmp_path / 'backend' / 'omega_services' / 'service_registry.json'
    write_registry(registry, valid=True)
    result = install_unit('--user', 'robot', f'--prefix={install}/', '--registry', str(registry),
                          '--base-dir', str(tmp_path / 'backend'),
                          '--log-dir', '/var/log/omega/robot', '--root', str(root))
    assert result.returncode == 0, result.stderr
    unit = root / UNIT_FOLDER / 'omega-orchestrator.service'
    assert f'wrote {unit}' in result.stdout
    assert 'systemctl was not run' in result.stdout
    assert sorted(p.name for p in unit.parent.iterdir()) == [unit.name], 'no temporary left'
    assert unit.stat().st_mode & 0o777 == 0o644
    text = unit.read_text()
    assert 'omega1' not in text and '/opt/omega_orchestrator' not in text
    assert text.startswith('# Written by scripts/install-unit') and text.endswith('\n')
    service = service_section(unit)
    assert service['User'] == 'robot' and service['WorkingDirectory'] == str(install)
    assert service['LogsDirectory'] == 'omega/robot'   # systemd makes /var/log/omega/robot
    start, pre = shlex.split(service['ExecStart']), shlex.split(service['ExecStartPre'])
    python = str(install / '.venv' / 'bin' / 'python')
    assert start[:3] == [python, '-m', 'omega_orchestrator.launcher']
    assert pre[:3] == [python, '-m', 'omega_orchestrator'] and pre[-1] == '--check'
    for argv in (start, pre):
        assert option(argv, '--registry') == str(registry)
        assert option(argv, '--base-dir') == str(tmp_path / 'backend')
    assert option(start, '--log-dir') == '/var/log/omega/robot'
    assert_hardened(unit)
    assert verify(unit, tmp_path / 'verify') == []
    # the rendered check runs: a missing script warns, an invalid registry fails the start
    result = run_check(unit)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: service 'movement'" in result.stdout
    write_registry(registry, valid=False)
    assert run_check(unit).returncode == 2


def test_launch_unit_gets_the_ros_setup_the_workspace_and_the_paths(tmp_path: Path):
    root = scratch_root(tmp_path)
    setup, workspace = fake_ros(tmp_path)
    registry = tmp_path / 'robot.json'
    write_registry(registry, valid=True)
    logs = tmp_path / 'logs'
    result = install_unit('--unit', 'launch', '--user', 'robot', '--ros-setup', str(setup),
                          '--workspace', str(workspace), '--registry', str(registry),
                          '--log-dir', str(logs), '--root', str(root), '--no-enable')
    assert result.returncode == 0, result.stderr
    unit = root / UNIT_FOLDER / 'omega-orchestrator-launch.service'
    assert f'wrote {unit}' in result.stdout
    # outside /var/log systemd does not make the folder: the installer says so
    assert f'{logs} must exist' in result.stderr
    text = unit.read_text()
    for example in ('omega1', '/opt/ros/jazzy', '/opt/omega_ws', '/var/log/omega_orchestrator'):
        assert example not in text
    service = service_section(unit)
    assert service['User'] == 'robot' and 'LogsDirectory' not in service
    assert environment(unit)['ROS_LOG_DIR'] == f'{logs}/ros'
    for key in ('ExecStartPre', 'ExecStart'):
        script = launch_command(service, key)[2]
        assert f'source {setup} && source {workspace}/install/local_setup.bash' in \
            ' '.join(script.split())
        check = subprocess.run(['bash', '-n', '-c', script], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    launch = shlex.split(launch_command(service)[2].split('&&')[-1])
    assert f'registry:={registry}' in launch and f'log_dir:={logs}' in launch
    assert_hardened(unit)
    assert verify(unit, tmp_path / 'verify') == []
    result = run_check(unit)
    assert result.returncode == 0, result.stdout + result.stderr
    write_registry(registry, valid=False)
    assert run_check(unit).returncode == 2
    # the other unit beside it: one or the other, not both
    fake_venv(tmp_path / 'install')
    result = install_unit('--user', 'robot', '--prefix', str(tmp_path / 'install'),
                          '--registry', str(registry), '--root', str(root))
    assert result.returncode == 0, result.stderr
    assert 'omega-orchestrator-launch.service is installed too' in result.stderr


def test_no_warning_when_everything_exists_below_the_root(tmp_path: Path):
    root = scratch_root(tmp_path)
    fake_venv(root / 'opt' / 'omega')
    write_registry(root / 'etc' / 'omega' / 'robot.json', valid=True)
    result = install_unit('--user', 'omega1', '--prefix', '/opt/omega', '--registry',
                          '/etc/omega/robot.json', '--root', str(root))
    assert result.returncode == 0 and result.stderr == ''
    result = install_unit('--user', 'omega1', '--prefix', '/opt/elsewhere', '--registry',
                          '/etc/omega/other.json', '--root', str(root))
    assert result.returncode == 0
    assert '/opt/elsewhere/.venv/bin/python does not exist' in result.stderr
    assert 'the registry /etc/omega/other.json does not exist' in result.stderr


LAUNCHER = ['--user', 'robot', '--prefix', '/opt/omega', '--registry', '/etc/omega/r.json']
LAUNCH = ['--unit', 'launch', '--user', 'robot', '--ros-setup', '/opt/ros/jazzy/setup.bash',
          '--workspace', '/opt/ws', '--registry', '/etc/omega/r.json']


@pytest.mark.parametrize('argv, message', [
    (['--bogus', *LAUNCHER], 'unknown argument: --bogus'),
    ([*LAUNCHER, 'extra'], 'unknown argument: extra'),
    ([*LAUNCHER, '--log-dir'], '--log-dir needs a value'),
    (['--user', '--prefix', '/opt/omega', '--registry', '/r.json'], '--user needs a value'),
    (LAUNCHER[2:], '--user is required'),
    (LAUNCHER[:4], '--registry is required'),
    (LAUNCHER[:2] + LAUNCHER[4:], '--prefix is required with --unit launcher'),
    (LAUNCH[:6] + LAUNCH[8:], '--workspace is required with --unit launch'),
    (['--unit', 'both', *LAUNCHER], "--unit is launcher or launch, not 'both'"),
    ([*LAUNCHER, '--workspace', '/opt/ws'], '--workspace does not apply to --unit launcher'),
    ([*LAUNCH, '--base-dir', '/srv'], 'set "base_dir" in the registry instead'),
    ([*LAUNCHER[:-1], 'relative.json'], "--registry: 'relative.json' is not an absolute path"),
    ([*LAUNCHER[:-1], '/etc/my robot.json'], 'is not an absolute path'),
    ([*LAUNCHER[:-1], '/etc/robot%i.json'], 'is not an absolute path'),
    ([*LAUNCHER[:-1], "/etc/'robot.json"], 'is not an absolute path'),
    ([*LAUNCHER, '--log-dir', '/var/log/../etc'], "'/var/log/../etc' has . or .. in it"),
    (['--user', 'ro bot', *LAUNCHER[2:]], "--user: 'ro bot' is not a user name"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_bad_arguments_exit_2_with_the_usage_and_write_nothing(tmp_path: Path, argv, message):
    root = scratch_root(tmp_path)
    result = install_unit(*argv, '--root', str(root))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ''
    assert result.stderr.startswith('install-unit: ') and message in result.stderr
    assert 'usage: scripts/install-unit' in result.stderr
    assert list(root.iterdir()) == []


def test_a_root_that_is_not_a_folder_is_a_usage_error(tmp_path: Path):
    result = install_unit(*LAUNCHER, '--root', str(tmp_path / 'missing'))
    assert result.returncode == 2 and 'is not a folder' in result.stderr
    assert not (tmp_path / 'missing').exists()


def test_help_goes_to_stdout():
    result = install_unit('--help')
    assert result.returncode == 0 and result.stdout.startswith('usage: scripts/install-unit')


def test_with_a_root_the_real_etc_and_systemctl_are_left_alone(tmp_path: Path):
    root = scratch_root(tmp_path)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    called = tmp_path / 'systemctl-called'
    fake = bin_dir / 'systemctl'
    fake.write_text(f'#!/bin/sh\necho "$@" >> {shlex.quote(str(called))}\n')
    fake.chmod(0o755)
    real = Path('/etc/systemd/system/omega-orchestrator.service')
    before = real.stat().st_mtime_ns if real.exists() else None
    result = install_unit(*LAUNCHER, '--root', str(root),
                          env=dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}'))
    assert result.returncode == 0, result.stderr
    assert (root / UNIT_FOLDER / 'omega-orchestrator.service').is_file()
    assert not called.exists(), 'systemctl ran for a scratch root'
    assert (real.stat().st_mtime_ns if real.exists() else None) == before
