"""REST latency: GET /api/services/list with 50 services, through the real sidecar and ROS.

    .venv/bin/python bench/api_latency.py [--requests 1000]

Starts the orchestrator (50 sleepers) and the sidecar on a private ROS domain and a free
port on 127.0.0.1, sends sequential requests over one keep-alive connection, prints p50/p99.
"""

import argparse
import json
import os
from pathlib import Path
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--requests', type=int, default=1000)
    parser.add_argument('--services', type=int, default=50)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix='omega-api-bench-'))
    services = [{'name': f'svc{i:02d}', 'cmd': sys.executable,
                 'args': ['-c', 'import time\ntime.sleep(3600)'], 'autostart': True}
                for i in range(args.services)]
    (folder / 'r.json').write_text(json.dumps({'services': services}))
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    port = free_port()
    procs = [
        subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--registry',
                          str(folder / 'r.json'), '--log-dir', str(folder / 'logs')],
                         env=env, cwd=ROOT, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, '-m', 'omega_orchestrator.sidecar', '--port',
                          str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)]
    url = f'http://127.0.0.1:{port}/api/services/list'
    try:
        with httpx.Client(timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    body = http.get(url).json()
                    if body.get('count') == args.services and all(
                            s['status'] == 'running' for s in body['services']):
                        break
                except (httpx.TransportError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError('the API never listed every service running')
                time.sleep(0.2)
            samples = []
            for _ in range(args.requests):
                start = time.perf_counter()
                response = http.get(url)
                samples.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
        print(f'| GET /api/services/list, {args.services} services | '
              f'p50 {statistics.median(samples):.2f} ms | p99 {percentile(samples, 0.99):.2f} ms'
              f' | {len(samples)} requests, {len(response.content)} bytes |')
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait(30)
    return 0


if __name__ == '__main__':
    sys.exit(main())
