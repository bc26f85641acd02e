"""A clock for replaying timers: time stands still until the test moves it."""

from collections.abc import Callable
import heapq
import itertools


class FakeTimer:
    """A pending callback; cancel() forgets it."""

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """monotonic/time/call_later like LoopClock, but time moves only with advance()."""

    def __init__(self, start: float = 1000.0, wall_offset: float = 1.7e9) -> None:
        self.now = start
        self.wall_offset = wall_offset
        self._timers: list[tuple[float, int, FakeTimer, Callable[[], None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.wall_offset

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer()
        heapq.heappush(self._timers, (self.now + delay, next(self._order), timer, callback))
        return timer

    def pending(self) -> list[float]:
        """When the live timers are due, soonest first."""
        return sorted(when for when, _, timer, _ in self._timers if not timer.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time on, firing every timer that comes due, in order."""
        until = self.now + seconds
        while self._timers and self._timers[0][0] <= until:
            when, _, timer, callback = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not timer.cancelled:
                callback()
        self.now = until
