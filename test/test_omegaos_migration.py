"""A robot moving over from OmegaOS: its registry file, its folder layout, its environment.

The registry below has the original's shape (string version, nulls, `go run`, a manual
`docker compose ... up -d` entry, the original's named checks, no restart_policy where the
original relied on its default), in the original's layout: the file in
`backend/omega_services/`, relative working dirs meaning the backend folder. It runs with the
one flag the README's migration section gives: `--base-dir backend`.
"""

import json
import os
from pathlib import Path
import subprocess
import sys

from test.support import free_port

SERVER = """import http.server, json, os, shutil, sys
print(json.dumps({"cwd": os.getcwd(), "python3": shutil.which("python3"),
                  "executable": sys.executable,
                  "discovery": os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE"),
                  "token": os.environ.get("OMEGA_API_TOKEN")}), flush=True)
http.server.test(http.server.SimpleHTTPRequestHandler, port=int(sys.argv[1]),
                 bind="127.0.0.1")
"""
ORIGINAL_FIELDS = ('name', 'display_name', 'type', 'description', 'autostart', 'port', 'status',
                   'pid', 'restart_policy', 'crash_count', 'last_restart', 'start_time',
                   'cpu_percent', 'memory_mb', 'last_health_check', 'health_status')


def original_layout(root: Path, port: int) -> Path:
    """backend/ with the original's registry under omega_services/; returns the file."""
    backend = root / 'backend'
    (backend / 'omega_services').mkdir(parents=True)
    (backend / 'movement').mkdir()
    (backend / 'movement' / 'movement_ws_server.py').write_text(SERVER)
    (backend / 'sensors').mkdir()
    (backend / 'sensors' / 'main_ultrasonic.go').write_text('package main\nfunc main() {}\n')
    registry = {
        'version': '1.0',
        'description': 'Omega-1 robot services',
        'services': [
            {'name': 'movement_ws_server', 'display_name': 'Movement Server', 'type': 'python',
             'cmd': 'python3', 'args': ['movement/movement_ws_server.py', str(port)],
             'working_dir': '.', 'autostart': True, 'restart_policy': 'always',
             'health_check': 'movement_check', 'port': port,
             'description': 'Movement WebSocket server'},
            {'name': 'ultrasonic_server', 'display_name': 'Ultrasonic Sensor', 'type': 'go',
             'cmd': 'go', 'args': ['run', 'main_ultrasonic.go'], 'working_dir': 'sensors',
             'autostart': False, 'health_check': 'ultrasonic_check', 'port': free_port(),
             'description': 'Ultrasonic distance server'},
            {'name': 'ros_docker', 'display_name': 'ROS 2 (Docker)', 'type': 'docker',
             'cmd': 'docker', 'args': ['compose', '-f', 'docker/ros2/docker-compose.yml',
                                       'up', '-d'],
             'working_dir': '.', 'autostart': False, 'health_check': 'ros_core_check',
             'port': None, 'description': 'ROS 2 stack in Docker'},
            {'name': 'manual_tool', 'display_name': 'Manual tool', 'type': 'go', 'cmd': 'go',
             'args': ['run', 'tool.go'], 'working_dir': '.', 'autostart': False,
             'restart_policy': 'never', 'health_check': None, 'port': None,
             'description': 'Started by hand'},
        ]}
    path = backend / 'omega_services' / 'service_registry.json'
    path.write_text(json.dumps(registry, indent=2))
    return path


def test_check_with_the_one_flag_resolves_the_original_layout(tmp_path: Path):
    path = original_layout(tmp_path, free_port())
    backend = tmp_path / 'backend'
    run = lambda *extra: subprocess.run(  # noqa: E731
        [sys.executable, '-m', 'omega_orchestrator', '--registry', str(path), '--check',
         *extra], capture_output=True, text=True, timeout=60)
    without = run()                 # relative to omega_services/: everything is missing
    assert without.returncode == 0
    assert "service 'movement_ws_server' field 'args'[0]: movement/movement_ws_server.py " \
           "not found" in without.stdout
    assert "service 'ultrasonic_server' field 'working_dir'" in without.stdout
    with_base = run('--base-dir', str(backend), '--strict')
    out = with_base.stdout
    assert 'movement_ws_server' in out and 'valid' in out
    assert 'movement/movement_ws_server.py not found' not in out
    assert "'ultrasonic_server' field 'working_dir'" not in out
    assert "field 'args'[1]: tool.go not found" in out     # really missing: named, with path
    assert with_base.returncode == 1                        # --strict: something is missing


def test_the_original_registry_runs_in_its_layout_with_the_robots_environment(stack, tmp_path):
    port = free_port()
    path = original_layout(tmp_path, port)
    venv_bin = str(Path(sys.executable).parent)
    s = stack(path, orchestrator_args=('--base-dir', str(tmp_path / 'backend')),
              env={'PATH': f'{venv_bin}:{os.environ["PATH"]}',   # as scripts/run had it
                   'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET',     # the robot's setting
                   'OMEGA_API_TOKEN': 'secret-token'})
    movement = s.wait_for(lambda: (m := s.service('movement_ws_server'))['health'] and
                          m['health']['healthy'] and m, 'movement server healthy')
    for field in ORIGINAL_FIELDS:
        assert field in movement, field
    assert isinstance(movement['start_time'], float) and movement['restart_policy'] == 'always'
    listed = {x['name']: x for x in s.get('/api/services/list').json()['services']}
    assert listed['ultrasonic_server']['restart_policy'] == 'never'   # the original's default
    assert listed['manual_tool']['health'] is None                     # no check: no object
    assert listed['ros_docker']['type'] == 'docker'

    first = s.wait_for(lambda: (r := s.get('/api/services/logs/movement_ws_server').json())
                       ['logs']['stdout'] and r['logs']['stdout'][0], 'the server said')
    seen = json.loads(first)
    assert seen['cwd'] == str(tmp_path / 'backend')                   # the backend folder
    assert seen['python3'] and not seen['python3'].startswith(venv_bin)   # the robot's
    assert not seen['executable'].startswith(str(Path(sys.prefix)))
    assert seen['discovery'] == 'SUBNET'        # not the control plane's LOCALHOST
    assert seen['token'] is None                # the API token never reaches a service
    # the control plane stayed on localhost all along: the sidecar reached the orchestrator
    assert s.get('/api/health').json()['orchestrator_reachable'] is True
