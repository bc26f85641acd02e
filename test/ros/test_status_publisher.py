"""StatusPublisher's timing (ros/face.py) on a real asyncio loop, in front of a node that
records what it is asked: the period, the liveliness between periods, the rate's change.
"""

import asyncio

from omega_orchestrator.ros.face import StatusPublisher
from omega_orchestrator.ros.presence import ASSERT_PERIOD


class RecordingNode:
    """What the publisher asks of the orchestrator's node, with the time it asked."""

    def __init__(self, rate: float, assert_every: float = ASSERT_PERIOD) -> None:
        self.status_rate = rate
        self.assert_every = assert_every
        self.published: list[float] = []
        self.kept_alive: list[float] = []

    def publish_status(self, now: float, *, final: bool = False) -> None:
        self.published.append(now)

    def keep_alive(self, now: float) -> float:
        self.kept_alive.append(now)
        return now + self.assert_every              # when the next assertion is due


async def test_a_slow_rate_still_keeps_the_liveliness_asserted_between_periods():
    node = RecordingNode(rate=0.01, assert_every=1.5)   # a status period every 100 s
    publisher = StatusPublisher(node)
    publisher.start_periodic()
    assert len(node.published) == 1 and len(node.kept_alive) == 1
    due = publisher._tick.when() - asyncio.get_running_loop().time()
    assert 1.4 < due <= 1.5                       # when the node's next assertion is due
    publisher.close()
    assert publisher._tick is None


async def test_a_new_rate_restarts_the_period_and_never_starts_a_second_chain():
    node = RecordingNode(rate=0.01)
    publisher = StatusPublisher(node)
    publisher.rate_changed()                      # before the start: nothing
    assert node.published == []
    publisher.start_periodic()
    publisher.start_periodic()                    # once only
    assert len(node.published) == 1
    node.status_rate = 1000.0
    publisher.rate_changed()                      # at once, not in 100 s
    assert len(node.published) == 2
    first = publisher._tick
    publisher.rate_changed()
    assert first.cancelled() and publisher._tick is not first   # one chain, restarted
    publisher.close()
    publisher.rate_changed()                      # after the close: nothing
    assert len(node.published) == 3 and publisher._tick is None
