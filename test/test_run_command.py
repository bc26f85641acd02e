"""The run command's launcher with the default registry: demo services really run here."""

import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import time

import httpx

from test.support import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_launcher_runs_the_default_registry_and_stops_cleanly(tmp_path: Path):
    port = free_port()
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    log = open(tmp_path / 'run.log', 'w')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator.launcher', '--registry',
         str(ROOT / 'config' / 'service_registry.json'), '--log-dir', str(tmp_path / 'logs'),
         '--api-port', str(port)], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 40
        services: dict = {}
        while time.monotonic() < deadline:
            try:
                body = httpx.get(f'http://127.0.0.1:{port}/api/services/list', timeout=5).json()
                services = {s['name']: s for s in body.get('services', [])}
                if services.get('sensor_worker', {}).get('status') == 'running':
                    break
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.2)
        assert set(services) == {'prepare', 'web_api', 'sensor_worker', 'flaky_driver'}
        assert services['prepare']['status'] == 'exited'
        assert services['sensor_worker']['status'] == 'running'
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    text = (tmp_path / 'run.log').read_text()
    assert 'Traceback' not in text, text
    assert (tmp_path / 'logs' / 'services.log').exists()
    assert (tmp_path / 'logs' / 'sensor_worker.stdout.log').exists()


def test_a_stop_signal_during_start_up_leaves_no_service_behind(tmp_path: Path):
    import json

    import psutil
    tag = f'early-stop-{os.getpid()}'
    services = [{'name': f's{i}', 'cmd': sys.executable, 'autostart': True,
                 'args': ['-c', 'import time; time.sleep(600)', tag]} for i in range(20)]
    (tmp_path / 'r.json').write_text(json.dumps({'services': services}))
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--registry',
                                 str(tmp_path / 'r.json'), '--log-dir', str(tmp_path / 'logs'),
                                 '--no-ros'], stderr=subprocess.DEVNULL)
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 30
        while not parent.children() and time.monotonic() < deadline:
            time.sleep(0.001)          # poll for the first service, then stop at once
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        left = [p for p in psutil.process_iter(['cmdline'])
                if tag in (p.info['cmdline'] or ()) and p.status() != psutil.STATUS_ZOMBIE]
        for p in left:
            p.kill()
        assert left == [], f'attempt {attempt}: {len(left)} service(s) outlived the orchestrator'
