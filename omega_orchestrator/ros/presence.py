"""How a listener knows that an orchestrator is there: DDS liveliness on ~/status_updates.

The orchestrator's ~/status_updates writer offers MANUAL_BY_TOPIC liveliness with a lease of
LEASE s, and asserts it from the engine's loop at least every ASSERT_PERIOD s (each
publication on the topic asserts it too). A listener that asks for the same liveliness learns
from its DDS library's own threads whether the orchestrator is alive: no message a second has
to wake its executor, only a change (alive, then gone). A wedged engine loop stops asserting,
so after LEASE s its listeners see it gone, as they do a dead process or a cut link; a
process that exits is seen gone at once.

Orchestrators before this sent an empty ~/status_updates every status period instead (a
heartbeat) and offer the default liveliness: `offers_liveliness` tells them apart, from the
QoS the graph reports for their writer, so that a listener can fall back to timing their
messages. Shared by the orchestrator's node and the sidecar.
"""

from typing import Any

from rclpy.duration import Duration
from rclpy.qos import HistoryPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy

LEASE = 5.0               # seconds without an assertion -> the orchestrator is gone
ASSERT_PERIOD = 2.0       # seconds between assertions, at most: a loop held up for 3 s is
                          # still there; each assertion costs ~0.3 ms and wakes DDS threads
UPDATES_DEPTH = 10


def updates_qos(*, liveliness: bool = True) -> QoSProfile:
    """~/status_updates: reliable, volatile (a lost update would show a stale entry until
    the next whole ~/status); with the lease above (`liveliness` False: the default
    liveliness, which an orchestrator before this offers and which the lease would refuse).
    """
    qos = QoSProfile(depth=UPDATES_DEPTH, history=HistoryPolicy.KEEP_LAST,
                     reliability=ReliabilityPolicy.RELIABLE)
    if liveliness:
        qos.liveliness = LivelinessPolicy.MANUAL_BY_TOPIC
        qos.liveliness_lease_duration = Duration(seconds=LEASE)
    return qos


def offers_liveliness(qos: Any) -> bool:
    """A writer's QoS (as `get_publishers_info_by_topic` reports it) that a listener asking
    for `updates_qos()` matches: asserted by topic, with a lease no longer than LEASE.
    """
    if qos.liveliness != LivelinessPolicy.MANUAL_BY_TOPIC:
        return False
    lease = qos.liveliness_lease_duration.nanoseconds
    return 0 < lease <= Duration(seconds=LEASE).nanoseconds
