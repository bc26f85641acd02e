"""REST latency: GET /api/services/list with 50 services, through the real sidecar and ROS.

    .venv/bin/python bench/api_latency.py [--requests 1000]

Starts the orchestrator (50 sleepers) and the sidecar on a private ROS domain and a free
port on 127.0.0.1, sends sequential requests over one keep-alive connection, prints p50/p99.
"""

import argparse
import statistics
import sys
import time

from benchstack import percentile, running_stack, SERVICE_PYTHON
import httpx


def wait_until_all_running(http: httpx.Client, url: str, count: int) -> None:
    """Poll the list until it shows `count` services, all running (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            body = http.get(url).json()
            if body.get('count') == count and all(
                    s['status'] == 'running' for s in body['services']):
                return
        except (httpx.TransportError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError('the API never listed every service running')
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--requests', type=int, default=1000)
    parser.add_argument('--services', type=int, default=50)
    args = parser.parse_args()
    services = [{'name': f'svc{i:02d}', 'cmd': SERVICE_PYTHON,
                 'args': ['-c', 'import time\ntime.sleep(3600)'], 'autostart': True}
                for i in range(args.services)]
    samples = []
    with running_stack(services, 'api') as base, httpx.Client(timeout=10) as http:
        url = f'{base}/api/services/list'
        wait_until_all_running(http, url, args.services)
        for _ in range(args.requests):
            start = time.perf_counter()
            response = http.get(url)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    print(f'| GET /api/services/list, {args.services} services | '
          f'p50 {statistics.median(samples):.2f} ms | p99 {percentile(samples, 0.99):.2f} ms'
          f' | {len(samples)} requests, {len(response.content)} bytes |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
