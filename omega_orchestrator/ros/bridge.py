"""Hands work from rclpy's executor threads to the asyncio loop, with a timeout."""

import asyncio
import concurrent.futures
from typing import Awaitable, Callable, TypeVar

from omega_orchestrator.core.errors import RequestTimeoutError

T = TypeVar('T')


class LoopBridge:
    """Runs callables and coroutines on the engine's loop from any other thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float = 5.0) -> None:
        self.loop = loop
        self.timeout = timeout

    def call(self, func: Callable[[], T], timeout: float | None = None) -> T:
        """Run a plain callable on the loop and return its result (or raise its error)."""
        async def wrapper() -> T:
            return func()
        return self.run(wrapper(), timeout)

    def run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop; raise RequestTimeoutError when it takes too long."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(self.timeout if timeout is None else timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise RequestTimeoutError('the engine did not answer in time') from None
