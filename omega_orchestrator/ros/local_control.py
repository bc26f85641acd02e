"""The control services on a DDS participant of their own, reachable from this machine only
(`--refuse-remote-writes`).

In a fleet the orchestrator's node reaches the robot's network (--control-discovery-range
SUBNET), so that any sidecar can watch it. A robot that refuses remote writes serves its
status, events, diagnostics, list and logs there, and its control services (start, stop,
restart, maintenance, group, reload) on a second node in a second rclpy context whose
discovery is LOCALHOST: its locators are loopback ones, which another host cannot reach, and
it announces itself on loopback only. A sidecar on the same machine calls it as before; one
on another host sees the robot but not its control services, and says the robot refuses
writes from there. This is a network boundary, not an authentication: on a shared network,
protect the control services with SROS2 enclaves or a separate ROS domain (README).
"""

import os
import threading

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from omega_orchestrator.ros.spinning import spin_until_shutdown
from omega_orchestrator.runtime.environment import DISCOVERY, local_control_problem

CONTROL_NODE = 'omega_orchestrator_control'


#: What the control participant must not inherit: static peers and a discovery server would
#: reach past LOCALHOST (static peers work at every range but OFF).
WIDER = ('ROS_STATIC_PEERS', 'ROS_DISCOVERY_SERVER')


class LocalControl:
    """A node for the control services in a LOCALHOST context, spun in its own thread."""

    def __init__(self, ros_args: list[str], threads: int) -> None:
        problem = local_control_problem(os.environ)
        if problem:                    # the command line checks it first (__main__)
            raise RuntimeError(problem)
        self.context = rclpy.Context()
        # rcl reads these at init, for this context only. The engine's loop runs meanwhile,
        # and what it starts copies no ROS variable from here: services get the robot's
        # environment taken at start-up, the guardian is no ROS process
        changed = {DISCOVERY: 'LOCALHOST', **{name: None for name in WIDER}}
        before = {name: os.environ.get(name) for name in changed}
        _set(changed)
        try:
            # the node's own name stays its own: a global __node rule would give two
            # participants the same full node name
            rclpy.init(args=['omega_orchestrator', *_without_node_rules(ros_args)],
                       context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        finally:
            _set(before)
        self.node = Node(CONTROL_NODE, context=self.context, start_parameter_services=False)
        self.executor = MultiThreadedExecutor(num_threads=threads, context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=spin_until_shutdown, name='rclpy-local-control',
                                        args=(self.executor, 'a control service callback'),
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)


def _set(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _without_node_rules(ros_args: list[str]) -> list[str]:
    """ros_args without `-r __node:=...` (a rename of the process's nodes)."""
    kept: list[str] = []
    skip = False
    for index, arg in enumerate(ros_args):
        if skip:
            skip = False
            continue
        following = ros_args[index + 1] if index + 1 < len(ros_args) else ''
        if arg in ('-r', '--remap') and following.startswith('__node:='):
            skip = True
            continue
        kept.append(arg)
    return kept
