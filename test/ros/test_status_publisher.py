"""StatusPublisher's timing (ros/face.py) on a real asyncio loop, in front of a node that
records what it is asked: the period, when the loop wakes, the liveliness between periods,
the rate's change.
"""

import asyncio

import pytest

from omega_orchestrator.ros.face import _next_on_grid, StatusPublisher
from omega_orchestrator.ros.presence import ASSERT_PERIOD


class RecordingNode:
    """What the publisher asks of the orchestrator's node, with the time it asked."""

    def __init__(self, rate: float, due: float = float('inf')) -> None:
        self.status_rate = rate
        self.due = due                # when a period has something to do
        self.published: list[float] = []
        self.asserted: list[float] = []

    def publish_status(self, now: float, *, final: bool = False) -> None:
        self.published.append(now)

    @property
    def assertion_due(self) -> float:
        return (self.asserted[-1] if self.asserted else float('-inf')) + ASSERT_PERIOD

    def assert_alive(self, now: float) -> None:
        self.asserted.append(now)

    def work_due(self) -> float:
        return self.due


def started(node: RecordingNode) -> tuple[StatusPublisher, float]:
    """A publisher started now; returns it and how far away its next wake is."""
    publisher = StatusPublisher(node)
    publisher.start_periodic()
    assert publisher._tick is not None
    return publisher, publisher._tick.when() - asyncio.get_running_loop().time()


async def test_a_slow_rate_still_keeps_the_liveliness_asserted_between_periods():
    node = RecordingNode(rate=0.01)              # a status period every 100 s
    publisher, wake = started(node)
    assert len(node.published) == 1 and len(node.asserted) == 1
    assert 0 < wake <= ASSERT_PERIOD             # the next wake asserts, well before 100 s
    publisher.close()
    assert publisher._tick is None


async def test_an_idle_robot_wakes_at_the_last_period_before_the_assertion_is_due():
    node = RecordingNode(rate=1.0)
    publisher, wake = started(node)
    assert len(node.asserted) == len(node.published) == 1     # the start asserted
    assert wake == pytest.approx(ASSERT_PERIOD, abs=0.01)   # the period at +2 s, not +1 s
    publisher.close()


async def test_a_period_with_work_wakes_at_the_next_period():
    node = RecordingNode(rate=1.0, due=float('-inf'))      # a service touched
    publisher, wake = started(node)
    assert wake == pytest.approx(1.0, abs=0.01)
    publisher.close()


async def test_work_due_between_periods_wakes_at_the_first_period_after_it():
    node = RecordingNode(rate=4.0, due=asyncio.get_running_loop().time() + 0.6)
    publisher, wake = started(node)                  # periods every 0.25 s
    assert wake == pytest.approx(0.75, abs=0.01)     # not 0.25 (nothing to do), nor 2 s
    publisher.close()


async def test_a_touch_while_asleep_brings_the_next_period_forward():
    node = RecordingNode(rate=1.0)
    publisher, wake = started(node)
    assert wake == pytest.approx(ASSERT_PERIOD, abs=0.01)
    publisher.period_needed()                        # a service's usage moved
    assert publisher._tick is not None
    wake = publisher._tick.when() - asyncio.get_running_loop().time()
    assert wake == pytest.approx(1.0, abs=0.01)
    first = publisher._tick
    publisher.period_needed()                        # already due then: nothing changes
    assert publisher._tick is first and not first.cancelled()
    publisher.close()


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


def test_the_status_period_keeps_its_grid_and_skips_what_a_stall_missed():
    assert _next_on_grid(10.0, 1.0, now=10.004) == 11.0       # a late tick: still 11
    assert _next_on_grid(10.0, 1.0, now=13.5) == 14.5         # a stall: no burst of ticks
