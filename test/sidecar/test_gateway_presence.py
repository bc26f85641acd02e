"""How the sidecar knows an orchestrator is there (presence.py), against real DDS: a real
RosGateway, and an orchestrator's topics published by a real node in the test: one from
before liveliness (an empty update every period) is followed by its messages, and one that
offers liveliness again by its liveliness.
"""

from collections.abc import Iterator
import random
import threading

from omega_orchestrator_interfaces.msg import ServiceStatus, ServiceStatusArray
import pytest
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from omega_orchestrator.ros.presence import LEASE, updates_qos
from omega_orchestrator.sidecar.gateway import DISCOVERY_PERIOD, RosGateway
from test.support import wait_until

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
DEADLINE = DISCOVERY_PERIOD * 4


class OrchestratorTopics:
    """An orchestrator's ~/status and ~/status_updates, from a node of the test's own."""

    def __init__(self, namespace: str) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('omega_orchestrator', namespace=namespace,
                                      context=self.context)
        self.status = self.node.create_publisher(ServiceStatusArray, '~/status', LATCHED)
        self.updates = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def publish_status(self, *names: str) -> None:
        self.status.publish(ServiceStatusArray(services=[
            ServiceStatus(name=name, state_name='running', pid=7) for name in names]))

    def beat(self, *, liveliness: bool) -> None:
        """Updates from now on: the old way (an empty one every half second, the default
        liveliness), or the new (the lease, asserted every half second, no message).
        """
        self.quiet()
        if self.updates is not None:
            self.node.destroy_publisher(self.updates)
        self.updates = self.node.create_publisher(
            ServiceStatusArray, '~/status_updates', updates_qos(liveliness=liveliness))
        self._stop = threading.Event()

        def beat(updates=self.updates, stop=self._stop) -> None:
            while not stop.wait(0.5):
                if liveliness:
                    updates.assert_liveliness()
                else:
                    updates.publish(ServiceStatusArray())
        self._beat = threading.Thread(target=beat, daemon=True)
        self._beat.start()

    def quiet(self) -> None:
        """No more updates nor assertions (the node and its topics stay)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()

    def close(self) -> None:
        self.quiet()
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def robot() -> Iterator[tuple[OrchestratorTopics, RosGateway]]:
    namespace = f'/presence_test_{random.randrange(1 << 30)}'
    topics = OrchestratorTopics(namespace)
    gateway = RosGateway(orchestrator=f'{namespace}/omega_orchestrator', discover=False,
                         ros_args=['--ros-args', '-r', '__node:=presence_test'])
    yield topics, gateway
    gateway.close()
    topics.close()


def test_an_orchestrator_before_liveliness_is_followed_by_its_messages_then_by_liveliness(
        robot):
    topics, gateway = robot
    link = gateway.robot()
    topics.publish_status('arm')
    topics.beat(liveliness=False)
    # its writer offers no liveliness, which the lease refuses: the graph shows that within
    # a look or two, and the link follows its empty updates instead
    wait_until(link.reachable, timeout=DEADLINE, what='the older orchestrator reachable')
    assert [s['name'] for s in link.services()] == ['arm']
    topics.quiet()
    wait_until(lambda: not link.reachable(), timeout=DEADLINE, what='silent: unreachable')

    topics.beat(liveliness=True)          # upgraded: liveliness, no message at all
    wait_until(link.reachable, timeout=DEADLINE, what='the new orchestrator reachable')
    summary = gateway.robots()[0]
    assert summary['reachable'] and summary['services']['total'] == 1
    topics.quiet()
    wait_until(lambda: not link.reachable(), timeout=DEADLINE, what='lapsed: unreachable')
    assert gateway.robots()[0]['seen_ago_sec'] >= LEASE - 1.0     # last there a lease ago
