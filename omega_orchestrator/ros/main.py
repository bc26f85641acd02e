"""Runs the engine inside the ROS node: asyncio loop in the main thread, rclpy executor in its own.

SIGINT/SIGTERM stop every service in reverse start order, then the node shuts down cleanly.
"""

import argparse
import asyncio
import logging
import signal
import threading

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from omega_orchestrator.cli_args import log_settings
from omega_orchestrator.core.registry import Registry
from omega_orchestrator.ros.bridge import LoopBridge
from omega_orchestrator.ros.graph_probes import make_graph_probes
from omega_orchestrator.ros.node import OrchestratorNode
from omega_orchestrator.runtime.supervisor import Supervisor

log = logging.getLogger('omega_orchestrator')


class StatusPublisher:
    """Publishes the snapshot once per burst of changes, and at the status rate."""

    def __init__(self, supervisor: Supervisor, node: OrchestratorNode) -> None:
        self.supervisor = supervisor
        self.node = node
        self._pending = False

    def poke(self) -> None:
        """Something changed: publish once the current burst of work is done."""
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_soon(self._publish)

    def _publish(self) -> None:
        self._pending = False
        self.node.publish_snapshot(self.supervisor.snapshot())

    async def run_periodic(self) -> None:
        """Publish at the node's status_rate (Hz) until cancelled."""
        while True:
            self._publish()
            await asyncio.sleep(1.0 / max(self.node.status_rate, 0.01))


async def serve(registry: Registry, args: argparse.Namespace, ros_args: list[str]) -> None:
    """Run the engine and the node until a stop signal."""
    loop = asyncio.get_running_loop()
    context = rclpy.Context()
    rclpy.init(args=ros_args, context=context,
               signal_handler_options=SignalHandlerOptions.NO)
    supervisor = Supervisor(registry, log_settings(args), metrics_interval=args.metrics_interval)
    node = OrchestratorNode(supervisor, LoopBridge(loop, timeout=args.call_timeout),
                            registry_path=registry.path, log_dir=args.log_dir,
                            status_rate=args.status_rate, context=context)
    supervisor.probes.update(make_graph_probes(node))
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, name='rclpy-executor', daemon=True)
    spinner.start()
    publisher = StatusPublisher(supervisor, node)
    supervisor.add_listener(lambda event: (node.publish_event(event), publisher.poke()))
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    periodic = loop.create_task(publisher.run_periodic())
    try:
        await supervisor.start_all()
        log.info('orchestrator node %s is up with %d service(s)',
                 node.get_fully_qualified_name(), len(supervisor.names()))
        await stop.wait()
        log.info('shutting down: stopping all services in reverse start order')
        await supervisor.close()
        periodic.cancel()
        node.publish_snapshot(supervisor.snapshot())
    finally:
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        context.try_shutdown()
        spinner.join(timeout=2.0)
