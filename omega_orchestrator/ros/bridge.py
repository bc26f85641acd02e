"""Hands work from rclpy's executor to the asyncio loop, and answers back, holding no thread.

The node's service callbacks are ``async def``: rclpy's executor runs each one as a task of
its own. A callback hands its work to the loop with call() or run() and awaits the rclpy
Future they return; the loop completes that future and wakes the executor, which resumes the
callback. No executor thread ever waits for the loop, so any number of requests can be in
flight at once, and a slow one (a reload) holds up nothing else.

What an answer means (a call is either answered or known not to have happened):

- A call is applied only if the loop takes it up within `timeout` seconds of its arrival
  (its deadline). Past its deadline it is never run: the answer is RequestTimeoutError,
  'not applied'.
- Running or expiring is decided once, under a lock: by the loop when it takes the call up,
  or by expire_overdue() (the node's watchdog timer) when the loop is too busy, or wedged,
  to take it up at all. So an expired call can never run later.
- Once running, a call runs to its end and its result or error is the answer. Plain
  callables end at once; coroutines that can last bound their own waiting (see
  runtime/registry_file.py: a reload answers 'accepted' when its stops take long).
"""

import asyncio
from collections.abc import Awaitable, Callable
import threading
import time
from typing import Any, TypeVar

from rclpy.task import Future

from omega_orchestrator.core.errors import OrchestratorError, RequestTimeoutError

T = TypeVar('T')


class _Call:
    """One request waiting for, or running on, the loop."""

    __slots__ = ('deadline', 'future')

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.future: Future = Future()


def _nothing() -> None:
    """The default waker: nothing to wake."""


class LoopBridge:
    """Runs callables and coroutines on the engine's loop for rclpy tasks in other threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.loop = loop
        self.timeout = timeout
        self.clock = clock
        #: called (any thread) after an answer is set, so the executor resumes the waiter
        self.wake: Callable[[], None] = _nothing
        #: called (an executor thread) when a call is handed over: arm the overdue check
        self.submitted: Callable[[], None] = _nothing
        self._lock = threading.Lock()
        self._pending: set[_Call] = set()     # handed to the loop, not yet taken up
        self._tasks: set[asyncio.Task] = set()

    def call(self, func: Callable[[], T]) -> Future:
        """Run func() on the loop; await the returned future in an rclpy task."""
        return self._submit(lambda call: self._run_sync(call, func))

    def run(self, make: Callable[[], Awaitable[T]]) -> Future:
        """Run the coroutine make() returns on the loop (made there, and only if it runs)."""
        return self._submit(lambda call: self._run_async(call, make))

    def pending(self) -> int:
        """How many calls wait for the loop to take them up."""
        with self._lock:
            return len(self._pending)

    def expire_overdue(self) -> int:
        """Answer the calls still waiting past their deadline: not applied, and never will be."""
        now = self.clock()
        with self._lock:
            overdue = [call for call in self._pending if now > call.deadline]
            self._pending.difference_update(overdue)
        for call in overdue:
            self._answer(call, error=_not_applied(self.timeout))
        return len(overdue)

    # -- any thread -------------------------------------------------------------------------------

    def _submit(self, start: Callable[[_Call], None]) -> Future:
        call = _Call(self.clock() + self.timeout)
        with self._lock:
            self._pending.add(call)
        self.submitted()
        try:
            self.loop.call_soon_threadsafe(start, call)
        except RuntimeError:      # the loop is closed: the orchestrator is shutting down
            with self._lock:
                self._pending.discard(call)
            self._answer(call, error=RequestTimeoutError(
                'the orchestrator is shutting down; the request was not applied'))
        return call.future

    def _answer(self, call: _Call, result: Any = None,
                error: BaseException | None = None) -> None:
        if error is not None:
            call.future.set_exception(error)      # type: ignore[arg-type]
        else:
            call.future.set_result(result)
        try:
            self.wake()
        except Exception:
            pass

    # -- on the loop ------------------------------------------------------------------------------

    def _claim(self, call: _Call) -> bool:
        """True if the call may run now; an overdue one is answered 'not applied' instead."""
        with self._lock:
            if call not in self._pending:
                return False          # expired by the watchdog meanwhile: already answered
            self._pending.discard(call)
            overdue = self.clock() > call.deadline
        if overdue:
            self._answer(call, error=_not_applied(self.timeout))
        return not overdue

    def _run_sync(self, call: _Call, func: Callable[[], Any]) -> None:
        if not self._claim(call):
            return
        try:
            result = func()
        except Exception as exc:
            self._answer(call, error=exc)
            return
        self._answer(call, result=result)

    def _run_async(self, call: _Call, make: Callable[[], Awaitable[Any]]) -> None:
        if not self._claim(call):
            return
        try:
            task = asyncio.ensure_future(make(), loop=self.loop)
        except Exception as exc:
            self._answer(call, error=exc)
            return
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._settle(call, done))

    def _settle(self, call: _Call, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._answer(call, error=OrchestratorError(
                'interrupted: the orchestrator is shutting down'))
        elif task.exception() is not None:
            self._answer(call, error=task.exception())
        else:
            self._answer(call, result=task.result())


def _not_applied(timeout: float) -> RequestTimeoutError:
    return RequestTimeoutError(f'the engine did not take the request up within {timeout:g} s; '
                               'it was not applied')
