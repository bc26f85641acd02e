"""ROS-aware health probes for the registry: ros_core, ros_node, ros_topic and ros_service.

They read the ROS graph through the orchestrator's node. Graph queries are blocking rcl
calls, so they run in a worker thread, never on the engine's loop.
"""

import asyncio
import importlib
import threading
import time

from rclpy.client import Client
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from omega_orchestrator.core.registry import ProbeSpec, ServiceSpec
from omega_orchestrator.ros.calls import query
from omega_orchestrator.runtime.probes import Probe, ProbeResult

#: This project's own nodes, which never make the ROS graph count as "up".
OWN_NODES = frozenset({'omega_orchestrator', 'omega_sidecar'})


def _full_name(name: str, namespace: str) -> str:
    return (namespace.rstrip('/') + '/' + name) if namespace != '/' else '/' + name


def make_graph_probes(node: Node) -> dict[str, Probe]:
    """Probe functions bound to `node`, keyed by probe kind."""

    async def ros_core(spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
        # our own nodes do not count: the graph must show the robot's ROS, not us
        names = await asyncio.to_thread(node.get_node_names_and_namespaces)
        others = [_full_name(n, ns) for n, ns in names if n not in OWN_NODES]
        if not others:
            return False, 'no ROS node other than the orchestrator is on the graph'
        return True, f'ROS graph reachable: {len(others)} other node(s) visible'

    async def ros_node(spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
        wanted = spec.node if (spec.node or '').startswith('/') else '/' + (spec.node or '')
        names = await asyncio.to_thread(node.get_node_names_and_namespaces)
        if any(_full_name(n, ns) == wanted for n, ns in names):
            return True, f'node {wanted} is present'
        return False, f'node {wanted} is not on the graph'

    async def ros_topic(spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
        topic = spec.topic or ''
        count = await asyncio.to_thread(node.count_publishers, topic)
        if count == 0:
            return False, f'topic {topic} has no publisher'
        if not spec.min_rate:
            return True, f'topic {topic} has {count} publisher(s)'
        rate = await _measure_rate(node, topic, window=spec.timeout * 0.8)
        if rate is None:
            return False, f'topic {topic}: type unknown, cannot measure its rate'
        if rate < spec.min_rate:
            return False, f'topic {topic} at {rate:.1f} Hz, below {spec.min_rate:g} Hz'
        return True, f'topic {topic} at {rate:.1f} Hz'

    clients: dict[tuple[str, str], Client] = {}

    async def ros_service(spec: ProbeSpec, service: ServiceSpec) -> ProbeResult:
        wanted = spec.service if (spec.service or '').startswith('/') else \
            '/' + (spec.service or '')
        types = dict(await asyncio.to_thread(node.get_service_names_and_types)).get(wanted)
        if not types:
            return False, f'service {wanted} has no server'
        if not spec.call:
            return True, f'service {wanted} has a server ({types[0]})'
        srv_type = _interface(types[0], '/srv/')
        if srv_type is None:
            return False, f'service {wanted}: type {types[0]} is not installed here'
        client = clients.get((wanted, types[0]))
        if client is None:
            client = clients[(wanted, types[0])] = node.create_client(srv_type, wanted)
        response = await query(client, srv_type.Request())   # bounded by the probe's timeout
        if getattr(response, 'success', True) is False:
            return False, f'service {wanted} answered success=false: ' \
                f'{getattr(response, "message", "")}'[:300]
        return True, f'service {wanted} answered'

    return {'ros_core': ros_core, 'ros_node': ros_node, 'ros_topic': ros_topic,
            'ros_service': ros_service}


def _interface(full: str, kind: str) -> type | None:
    """The Python class of 'pkg/srv/Name' (kind '/srv/') or 'pkg/msg/Name', or None."""
    package, _, name = full.partition(kind)
    try:
        return getattr(importlib.import_module(f'{package}.{kind.strip("/")}'), name)
    except (ImportError, AttributeError):
        return None


async def _measure_rate(node: Node, topic: str, window: float) -> float | None:
    types = dict(await asyncio.to_thread(node.get_topic_names_and_types)).get(topic)
    if not types:
        return None
    msg_type = _interface(types[0], '/msg/')
    if msg_type is None:
        return None
    lock, count = threading.Lock(), [0]

    def on_message(_: object) -> None:
        with lock:
            count[0] += 1
    subscription = node.create_subscription(msg_type, topic, on_message, qos_profile_sensor_data,
                                            raw=True)
    try:
        started = time.monotonic()
        await asyncio.sleep(window)
        with lock:
            return count[0] / (time.monotonic() - started)
    finally:
        node.destroy_subscription(subscription)
