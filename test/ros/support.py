"""Helpers of the ROS tests: the orchestrator as a real separate process, and a real client
node. Each test gets its own ROS_DOMAIN_ID, its own namespace, and keeps discovery on
localhost, so parallel runs and leftovers never see each other.
"""

import json
from pathlib import Path
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from test.support import DEADLINE

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
#: Services whose calls change nothing: sent again when the first answer is lost.
QUERIES = frozenset({'ListServices', 'GetLogs', 'GetParameters', 'DescribeParameters',
                     'GetState'})




class Orchestrator:
    """`python -m omega_orchestrator` in its own process, on the test's domain."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.registry = tmp_path / 'registry.json'
        self.log_dir = tmp_path / 'logs'
        # a namespace of its own: another test on the same domain cannot answer for it
        self.namespace = f'/t{random.randint(0, 10**9)}'
        #: the node's full name: its topics and services are `{ns}/status`, `{ns}/list`...
        self.ns = f'{self.namespace}/omega_orchestrator'

    def at(self, name: str) -> str:
        """The full name of one of its topics or services, e.g. '/tN/omega_orchestrator/list'."""
        return f'{self.ns}/{name}'

    def write_registry(self, services: list[dict], path: Path | None = None) -> Path:
        target = path or self.registry
        target.write_text(json.dumps({'services': services}))
        return target

    def start(self, services: list[dict], *extra: str) -> None:
        """Run it on `services`; in a namespace of its own unless `extra` names one."""
        self.write_registry(services)
        given = [a.removeprefix('__ns:=') for a in extra if a.startswith('__ns:=')]
        if given:
            self.namespace = given[-1]
            self.ns = f'{self.namespace.rstrip("/")}/omega_orchestrator'
        own = [] if given else ['--ros-args', '-r', f'__ns:={self.namespace}']
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'omega_orchestrator', '--registry', str(self.registry),
             '--log-dir', str(self.log_dir), '--status-rate', '5', '--metrics-interval', '0.5',
             *extra, *own], env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(self.tmp_path / 'orchestrator.err', 'w'))

    def stop(self, signum: int = signal.SIGINT, timeout: float = DEADLINE) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        return (self.tmp_path / 'orchestrator.err').read_text()


class RosClient:
    """A client node in the test process, spun by its own executor thread."""

    def __init__(self, domain: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node('omega_test_client', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        self._lock = threading.Lock()
        self._clients: dict[tuple, Any] = {}

    def collect(self, msg_type: Any, topic: str, qos: QoSProfile = RELIABLE) -> list:
        """Subscribe; returns the list that received messages are appended to."""
        received: list = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def call(self, srv_type: Any, srv_name: str, timeout: float = DEADLINE,
             **fields: Any) -> Any:
        """Call a service and return the response (fails the test on timeout).

        Clients are kept per service: DDS matches the reply path of a brand-new client a
        moment after its request path, and a reply sent before that is lost. Queries
        (which change nothing) are therefore sent again while unanswered; changes once.
        """
        with self._lock:
            client = self._clients.get((srv_type, srv_name))
            if client is None:
                client = self.node.create_client(srv_type, srv_name)
                self._clients[(srv_type, srv_name)] = client
        assert client.wait_for_service(timeout_sec=timeout), f'{srv_name} not available'
        deadline = time.monotonic() + timeout
        repeat = srv_type.__name__ in QUERIES
        while True:
            done = threading.Event()
            future = client.call_async(srv_type.Request(**fields))
            future.add_done_callback(lambda _, answered=done: answered.set())
            left = deadline - time.monotonic()
            if done.wait(min(left, 5.0) if repeat else left):
                return future.result()
            client.remove_pending_request(future)
            assert repeat and time.monotonic() < deadline, \
                f'{srv_name} did not answer within {timeout} s'

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.thread.join(DEADLINE)     # a spin thread alive at exit aborts the interpreter
        self.node.destroy_node()
        self.context.try_shutdown()

def by_name(array: Any) -> dict[str, Any]:
    """ServiceStatusArray -> {name: ServiceStatus}."""
    return {s.name: s for s in array.services}


def latest_diagnostics(arrays: list) -> dict[str, Any]:
    """What a diagnostics monitor shows: each item's latest status, by its full name. The
    orchestrator publishes the items that changed, and each other one every few seconds.
    """
    latest: dict[str, Any] = {}
    for array in list(arrays):
        latest.update((item.name, item) for item in array.status)
    return latest
