"""ROS-side latencies of the orchestrator: crash -> ~/events message, and a Restart call.

    .venv/bin/python bench/ros_latency.py [--crashes 30] [--restarts 30]

Runs `python -m omega_orchestrator` with 10 sleeper services on a private ROS domain and a
client node in this process. Prints medians and p95 in ms; bounded in count and time.
"""

import argparse
import json
import os
from pathlib import Path
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchstack import ORCHESTRATOR, percentile, SERVICE_PYTHON
from omega_orchestrator_interfaces.msg import ServiceEvent
from omega_orchestrator_interfaces.srv import ListServices, RestartService
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy

ROOT = Path(__file__).resolve().parents[1]
SLEEPER = 'import time\ntime.sleep(3600)'


class Client:
    """A client node spun in its own thread."""

    def __init__(self, domain: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node('omega_bench', context=self.context)
        self.events: list[tuple[float, ServiceEvent]] = []
        self.node.create_subscription(
            ServiceEvent, f'{ORCHESTRATOR}/events',
            lambda msg: self.events.append((time.perf_counter(), msg)),
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def call(self, srv_type, srv_name: str, **fields):
        client = self.node.create_client(srv_type, srv_name)
        assert client.wait_for_service(timeout_sec=30)
        done = threading.Event()
        future = client.call_async(srv_type.Request(**fields))
        future.add_done_callback(lambda _: done.set())
        assert done.wait(30)
        self.node.destroy_client(client)
        return future.result()

    def pids(self) -> dict[str, int]:
        services = self.call(ListServices, f'{ORCHESTRATOR}/list').services
        return {s.name: s.pid for s in services}


def wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError('benchmark condition not met')
        time.sleep(0.001)
    return value


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--crashes', type=int, default=30)
    parser.add_argument('--restarts', type=int, default=30)
    args = parser.parse_args()
    domain = random.randint(1, 100)
    folder = Path(tempfile.mkdtemp(prefix='omega-ros-bench-'))
    services = [{'name': f'svc{i}', 'cmd': SERVICE_PYTHON, 'args': ['-c', SLEEPER],
                 'autostart': True, 'restart_policy': 'always',
                 'restart': {'stable_after': 0.5, 'crash_loop_max': 1000}} for i in range(10)]
    (folder / 'r.json').write_text(json.dumps({'services': services}))
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    orchestrator = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator', '--registry', str(folder / 'r.json'),
         '--log-dir', str(folder / 'logs')], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    client = Client(domain)
    try:
        wait(lambda: all(client.pids().values()))
        crash_ms = []
        for i in range(args.crashes):
            name = f'svc{i % 10}'
            pid = wait(lambda name=name: client.pids()[name])
            time.sleep(0.6)                      # a stable run: restart at once
            seen = len(client.events)
            killed = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            got = wait(lambda name=name, seen=seen: next(
                (t for t, e in client.events[seen:] if e.service == name and e.has_exit), None))
            crash_ms.append((got - killed) * 1000)
        restart_ms = []
        for i in range(args.restarts):
            name = f'svc{i % 10}'
            wait(lambda name=name: client.pids()[name])
            start = time.perf_counter()
            response = client.call(RestartService, f'{ORCHESTRATOR}/restart', name=name)
            restart_ms.append((time.perf_counter() - start) * 1000)
            assert response.success, response.message
        print('| metric | median ms | p95 ms | samples |')
        print('| --- | ---: | ---: | ---: |')
        for label, samples in (('crash -> ~/events message', crash_ms),
                               ('Restart call round trip', restart_ms)):
            print(f'| {label} | {statistics.median(samples):.1f} | '
                  f'{percentile(samples, 0.95):.1f} | {len(samples)} |')
    finally:
        orchestrator.send_signal(signal.SIGINT)
        orchestrator.wait(30)
        client.executor.shutdown()
        client.thread.join(5)
        client.node.destroy_node()
        client.context.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
