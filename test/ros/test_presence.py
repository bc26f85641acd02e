"""The orchestrator's presence (presence.py) over real DDS: the liveliness of ~/status_updates
holds while it idles and sends no message there; it lapses when the orchestrator is frozen,
comes back when it runs again, and ends at once when it exits. And how often the node
asserts it: once per ASSERT_PERIOD, not at every status tick.
"""

import asyncio
import json
from pathlib import Path
import signal
import threading

from omega_orchestrator_interfaces.msg import ServiceStatusArray
from omega_orchestrator_interfaces.srv import ListServices

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:                   # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks  # type: ignore[no-redef]

import rclpy

from omega_orchestrator.core.registry import parse_registry
from omega_orchestrator.ros.bridge import LoopBridge
from omega_orchestrator.ros.node import OrchestratorNode
from omega_orchestrator.ros.presence import ASSERT_PERIOD, LEASE, offers_liveliness, updates_qos
from omega_orchestrator.runtime.logs import LogSettings
from omega_orchestrator.runtime.supervisor import Supervisor
from test.support import py, wait_until

SLEEP = 'import time\ntime.sleep(600)'


def test_liveliness_holds_without_messages_lapses_when_frozen_and_ends_at_exit(
        orchestrator, client):
    orchestrator.start([py(SLEEP, name='a', autostart=True)])
    wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid,
               what='a up')
    topic = orchestrator.at('status_updates')
    offered = [i.qos_profile for i in client.node.get_publishers_info_by_topic(topic)]
    assert len(offered) == 1 and offers_liveliness(offered[0])
    changes: list[tuple[int, int]] = []      # (alive_count, not_alive_count_change)
    updates: list = []
    client.node.create_subscription(
        ServiceStatusArray, topic, updates.append, updates_qos(),
        event_callbacks=SubscriptionEventCallbacks(
            liveliness=lambda info: changes.append((info.alive_count,
                                                    info.not_alive_count_change))))
    wait_until(lambda: changes and changes[-1][0] == 1, what='the orchestrator alive')

    # longer than the lease, at idle: liveliness holds, and no empty update (a heartbeat)
    # comes; 'a' may still send its first usage figures
    threading.Event().wait(LEASE + 2.0)
    assert changes[-1][0] == 1 and all(alive for alive, _ in changes)
    assert not [m for m in updates if not m.services]

    orchestrator.proc.send_signal(signal.SIGSTOP)          # a wedged orchestrator
    try:
        wait_until(lambda: changes[-1] == (0, 1), timeout=LEASE * 4,
                   what='its liveliness lapsed')
    finally:
        orchestrator.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: changes[-1][0] == 1, what='alive again')

    assert orchestrator.stop() == 0
    wait_until(lambda: changes[-1] == (0, 0), what='gone as it left, not lapsed')


async def test_the_node_knows_when_to_assert_and_when_a_period_has_work(
        domain: int, tmp_path: Path):
    registry = parse_registry(json.dumps({'services': [{'name': 'a', 'cmd': 'sleep',
                                                        'args': ['600']}]}),
                              str(tmp_path / 'r.json'), base_dir=str(tmp_path))
    supervisor = Supervisor(registry, LogSettings(log_dir=str(tmp_path / 'logs')),
                            metrics_interval=0)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = OrchestratorNode(supervisor, LoopBridge(asyncio.get_running_loop()),
                            registry_path=registry.path, log_dir=str(tmp_path / 'logs'),
                            context=context)
    try:
        assert node.work_due() == float('-inf')      # nothing published yet
        node.assert_alive(1.0)
        assert node.assertion_due == 1.0 + ASSERT_PERIOD
        node.publish_status(1.5, final=True)         # sends on ~/status_updates: asserts too
        assert node.assertion_due == 1.5 + ASSERT_PERIOD
        node.publish_status(2.0)
        assert node.work_due() == 1.5 + 3.0          # the refresh of the diagnostics sent
        node.publish_status(4.5)                     # nobody listens: they wait for someone
        assert node.work_due() == 1.5 + 60.0         # every service is asked once a minute
        supervisor.start('a')                        # a transition touches 'a'
        assert node.work_due() == float('-inf')
        node.publish_status(4.6)                     # nobody to send it to: nothing falls due
        assert node.work_due() == 1.5 + 60.0
    finally:
        node.destroy_node()
        context.try_shutdown()
        await supervisor.close()
