"""`python -m omega_orchestrator --check`: the start order, or every error and exit 2; what is
missing on this machine as warnings (errors and exit 1 with --strict); the stop-grace warning
(also logged by a running orchestrator); the launcher checks first too.
"""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys

import pytest

from test.support import wait_until

ROOT = Path(__file__).resolve().parents[1]


def check(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'omega_orchestrator', '--registry', str(path),
                           '--check', *extra], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


@pytest.mark.parametrize('extra', [[], ['--strict']], ids=['check', 'strict'])
def test_default_registry_prints_the_start_order(extra: list[str]):
    result = check(ROOT / 'config' / 'service_registry.json', *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert findings(result.stdout) == []
    lines = result.stdout.splitlines()
    assert lines[0].endswith('4 service(s), valid.')
    order = [line.split(':')[0].split('. ')[1] for line in lines if '. ' in line[:6]]
    assert order.index('prepare') < order.index('web_api') < order.index('sensor_worker')


def test_check_prints_the_start_plan_as_levels_with_each_condition(tmp_path: Path):
    path = tmp_path / 'chain.json'
    sleeper = ['-c', 'import time; time.sleep(600)']
    path.write_text(json.dumps({'services': [
        {'name': 'a', 'cmd': sys.executable, 'args': sleeper, 'autostart': True, 'port': 9,
         'health_check': 'port_check'},
        {'name': 'b', 'cmd': sys.executable, 'args': sleeper, 'autostart': True,
         'depends_on': [{'name': 'a', 'condition': 'healthy', 'restart_with': True}]},
        {'name': 'c', 'cmd': sys.executable, 'args': sleeper, 'autostart': True,
         'depends_on': ['a', {'name': 'b', 'condition': 'completed'}], 'group': 'arm',
         'liveness_probe': {'type': 'ros_topic', 'topic': '/scan', 'min_rate': 5},
         'limits': {'memory_mb': 512}, 'restart': {'retry_failed_after': 600}}]}))
    result = check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert [line.split(':')[0] for line in lines if line[:3] in ('1. ', '2. ', '3. ')] == [
        '1. a', '2. b', '3. c']
    assert 'after a is healthy (restarts with it)' in lines
    assert 'after a is up or has given up, b has completed' in lines
    assert ('liveness probe ros_topic; memory limit 512 MB; retried 600 s after a failure; '
            'group arm') in lines
    cycle = tmp_path / 'cycle.json'
    cycle.write_text(json.dumps({'services': [
        {'name': 'a', 'cmd': 'x', 'depends_on': [{'name': 'b', 'condition': 'healthy'}]},
        {'name': 'b', 'cmd': 'x', 'depends_on': ['a']}]}))
    result = check(cycle)
    assert result.returncode == 2
    assert "service 'a' field 'depends_on': dependency cycle a -> b -> a" in result.stderr


def test_errors_exit_2_and_name_file_service_and_field(tmp_path: Path):
    path = tmp_path / 'robot.json'
    path.write_text(json.dumps({'services': [
        {'name': 'camera', 'cmd': 'cam', 'restart_polcy': 'always'},
        {'name': 'nav', 'cmd': 'n', 'depends_on': ['map_server']}]}))
    result = check(path)
    assert result.returncode == 2 and result.stdout == ''
    assert str(path) in result.stderr
    assert "services[0] 'camera': unknown field 'restart_polcy' (did you mean " \
           "'restart_policy'?)" in result.stderr
    assert "service 'nav' field 'depends_on': unknown service 'map_server'" in result.stderr


def findings(stdout: str) -> list[str]:
    """The lines of --check's output that report a problem."""
    return [line for line in stdout.splitlines() if line.startswith(('warning:', 'error:'))]


def missing_registry(folder: Path) -> Path:
    """A valid registry naming a missing script, a missing working_dir and a missing command."""
    path = folder / 'robot.json'
    path.write_text(json.dumps({'services': [
        {'name': 'movement', 'cmd': sys.executable, 'args': ['movement/server.py'],
         'working_dir': '.'},
        {'name': 'sensors', 'cmd': sys.executable, 'working_dir': 'sensors'},
        {'name': 'driver', 'cmd': 'omega-test-no-such-command'},
        {'name': 'fine', 'cmd': sys.executable, 'args': ['-c', 'pass']}]}))
    return path


@pytest.mark.parametrize('strict', [False, True], ids=['check', 'strict'])
def test_what_is_missing_here_warns_or_with_strict_fails(tmp_path: Path, strict: bool):
    path = missing_registry(tmp_path)
    result = check(path, *(['--strict'] if strict else []))
    assert result.returncode == (1 if strict else 0), result.stdout + result.stderr
    assert result.stderr == ''
    lines = result.stdout.splitlines()
    assert lines[0].endswith('4 service(s), valid.')
    level = 'error' if strict else 'warning'
    assert findings(result.stdout) == [
        f"{level}: service 'movement' field 'args'[0]: movement/server.py not found "
        f"(looked at {tmp_path / 'movement' / 'server.py'})",
        f"{level}: service 'sensors' field 'working_dir': {tmp_path / 'sensors'} does not "
        'exist or is not a folder',
        f"{level}: service 'driver' field 'cmd': 'omega-test-no-such-command' not found in PATH"]
    assert lines[-1].startswith('3 file(s) or command(s) missing on this machine')
    assert ('--strict' in lines[-1]) is not strict


def test_strict_passes_once_everything_is_there(tmp_path: Path):
    path = missing_registry(tmp_path)
    (tmp_path / 'movement').mkdir()
    (tmp_path / 'movement' / 'server.py').write_text('')
    (tmp_path / 'sensors').mkdir()
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    command = bin_dir / 'omega-test-no-such-command'
    command.write_text('#!/bin/sh\n')
    command.chmod(0o755)
    result = subprocess.run(
        [sys.executable, '-m', 'omega_orchestrator', '--registry', str(path), '--check',
         '--strict'], capture_output=True, text=True, timeout=60, cwd=ROOT,
        env=dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}'))
    assert result.returncode == 0, result.stdout + result.stderr
    assert findings(result.stdout) == []


def test_strict_still_exits_2_for_an_invalid_registry(tmp_path: Path):
    path = tmp_path / 'robot.json'
    path.write_text(json.dumps({'services': [{'name': 'camera', 'cmd': 'cam', 'bogus': 1}]}))
    result = check(path, '--strict')
    assert result.returncode == 2 and result.stdout == ''
    assert "services[0] 'camera': unknown field 'bogus'" in result.stderr


def test_check_needs_no_ros(tmp_path: Path):
    code = ('import sys, runpy\n'
            'sys.modules["rclpy"] = None\n'
            f'sys.argv = ["x", "--registry", {str(ROOT / "config/service_registry.json")!r}, '
            '"--check"]\n'
            'runpy.run_module("omega_orchestrator", run_name="__main__")')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def slow_registry(tmp_path: Path) -> Path:
    """Web (10 s to stop) depends on db (20 s): a full stop can take 10+1 + 20+1 = 32 s."""
    sleeper = ['-c', 'import time; time.sleep(600)']
    path = tmp_path / 'slow.json'
    path.write_text(json.dumps({'services': [
        {'name': 'db', 'cmd': sys.executable, 'args': sleeper, 'stop_timeout': 20},
        {'name': 'web', 'cmd': sys.executable, 'args': sleeper, 'depends_on': ['db'],
         'stop_timeout': 10}]}))
    return path


def test_check_warns_when_the_stop_timeouts_can_outlast_the_stop_grace(tmp_path: Path):
    path = slow_registry(tmp_path)
    result = check(path, '--stop-grace', '30')
    assert result.returncode == 0, result.stderr
    (warning,) = [line for line in result.stdout.splitlines() if line.startswith('warning:')]
    assert 'up to 32 s, more than the stop grace of 30 s' in warning
    assert '1. web 10 s; 2. db 20 s' in warning


@pytest.mark.parametrize('extra', [[], ['--stop-grace', '32']])
def test_check_is_quiet_when_the_grace_suffices_or_is_not_given(tmp_path: Path, extra):
    result = check(slow_registry(tmp_path), *extra)
    assert result.returncode == 0, result.stderr
    assert 'warning' not in result.stdout + result.stderr


def test_stop_grace_must_be_a_number_of_seconds():
    result = check(ROOT / 'config' / 'service_registry.json', '--stop-grace', '-1')
    assert result.returncode == 2 and 'must be at least 0' in result.stderr


def test_the_running_orchestrator_logs_the_same_warning(tmp_path: Path):
    proc = subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--registry',
                             str(slow_registry(tmp_path)), '--log-dir', str(tmp_path / 'logs'),
                             '--no-ros', '--stop-grace', '5'], stderr=subprocess.DEVNULL)
    log = tmp_path / 'logs' / 'services.log'
    try:
        wait_until(lambda: 'more than the stop grace of 5 s' in
                   (log.read_text() if log.exists() else ''), what='the warning in services.log')
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    assert 'WARNING omega_orchestrator: stopping every service can take up to 32 s' in \
        log.read_text()


def test_the_launcher_validates_the_registry_and_starts_nothing(tmp_path: Path):
    path = tmp_path / 'robot.json'
    path.write_text(json.dumps({'services': [{'name': 'camera', 'cmd': 'cam', 'bogus': 1}]}))
    result = subprocess.run([sys.executable, '-m', 'omega_orchestrator.launcher', '--registry',
                             str(path), '--log-dir', str(tmp_path / 'logs')],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2
    assert "services[0] 'camera': unknown field 'bogus'" in result.stderr
    assert not (tmp_path / 'logs').exists(), 'the orchestrator was started'
