"""`python -m omega_orchestrator --check`: the start order, or every error and exit 2."""

import json
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[1]


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'omega_orchestrator', '--registry', str(path),
                           '--check'], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_default_registry_prints_the_start_order():
    result = check(ROOT / 'config' / 'service_registry.json')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith('4 service(s), valid.')
    order = [line.split(':')[0].split('. ')[1] for line in lines if '. ' in line[:6]]
    assert order.index('prepare') < order.index('web_api') < order.index('sensor_worker')


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


def test_check_needs_no_ros(tmp_path: Path):
    code = ('import sys, runpy\n'
            'sys.modules["rclpy"] = None\n'
            f'sys.argv = ["x", "--registry", {str(ROOT / "config/service_registry.json")!r}, '
            '"--check"]\n'
            'runpy.run_module("omega_orchestrator", run_name="__main__")')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
