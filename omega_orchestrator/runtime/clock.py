"""Time as a seam: the supervisor reads the clock and sets its timers through a Clock.

LoopClock is the real one (monotonic and wall time, timers on the running asyncio loop);
tests give the supervisor a fake one and replay backoffs, cooldowns and wave timeouts
without waiting real seconds (honcho's injected clock is the model).
"""

import asyncio
from collections.abc import Callable
import time
from typing import Protocol


class TimerHandle(Protocol):
    """What call_later returns."""

    def cancel(self) -> None:
        """Forget the timer."""


class Clock(Protocol):
    """Monotonic time for decisions, wall time for people, and timers."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Call callback (on the loop) after delay seconds."""


def wall_offset(clock: Clock, monotonic: float) -> int:
    """The wall clock's offset to the monotonic one (read at `monotonic`), to the second:
    statuses turn monotonic times into wall-clock times with it, so a change of it is a step
    of the wall clock (NTP on a robot without a real-time clock) that moves them all.
    """
    return round(clock.time() - monotonic)


class LoopClock:
    """The real clock: time.monotonic, time.time, and the running loop's timers."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def time(self) -> float:
        """time.time()."""
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """loop.call_later on the running loop."""
        return asyncio.get_running_loop().call_later(delay, callback)
