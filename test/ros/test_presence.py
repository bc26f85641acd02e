"""The orchestrator's presence (presence.py) over real DDS: the liveliness of ~/status_updates
holds while it idles and sends no message there; it lapses when the orchestrator is frozen,
comes back when it runs again, and ends at once when it exits.
"""

import signal
import threading

from omega_orchestrator_interfaces.msg import ServiceStatusArray
from omega_orchestrator_interfaces.srv import ListServices

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:                   # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks  # type: ignore[no-redef]

from omega_orchestrator.ros.presence import LEASE, offers_liveliness, updates_qos
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
