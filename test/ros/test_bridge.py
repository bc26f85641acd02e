"""LoopBridge: work handed to the asyncio loop; a call is answered, or known not to happen.

The unit tests drive the bridge with a real loop in a thread and a fake clock; the last test
serves a slow call from a real rclpy node on a one-thread executor, 50 at once.
"""

import asyncio
from collections.abc import Callable, Iterator
import threading
from typing import Any

from omega_orchestrator_interfaces.srv import ListServices
import pytest
import rclpy
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy

from omega_orchestrator.core.errors import OrchestratorError, RequestTimeoutError
from omega_orchestrator.ros.bridge import LoopBridge
from test.support import wait_until

DEEP = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop running in a thread of its own, like the engine's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name='engine-loop', daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bridge(loop: asyncio.AbstractEventLoop, clock: Clock) -> LoopBridge:
    bridge = LoopBridge(loop, timeout=5.0, clock=clock)
    bridge.wakes = 0     # type: ignore[attr-defined]

    def wake() -> None:
        bridge.wakes += 1     # type: ignore[attr-defined]
    bridge.wake = wake
    return bridge


def answer(future: Any, timeout: float = 10.0) -> Any:
    """Wait for an rclpy future set from another thread; its result (or its error)."""
    wait_until(future.done, timeout, 'an answer')
    return future.result()


def wedge(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Block the loop (as a stuck engine would) until the returned function is called."""
    release, blocked = threading.Event(), threading.Event()

    def stuck() -> None:
        blocked.set()
        release.wait(30)
    loop.call_soon_threadsafe(stuck)
    assert blocked.wait(10)
    return release.set


def test_a_call_runs_on_the_loop_and_wakes_the_executor(bridge):
    future = bridge.call(lambda: threading.current_thread().name)
    assert answer(future) == 'engine-loop'
    assert bridge.wakes == 1 and bridge.pending() == 0


def test_an_error_on_the_loop_is_the_answer(bridge):
    def fail() -> None:
        raise OrchestratorError('refused')
    with pytest.raises(OrchestratorError, match='refused'):
        answer(bridge.call(fail))


def test_a_coroutine_runs_to_its_end(bridge):
    async def work() -> str:
        await asyncio.sleep(0.01)
        return 'done'
    assert answer(bridge.run(work)) == 'done'


def test_a_call_the_loop_takes_up_after_its_deadline_never_runs(bridge, loop, clock):
    ran = []
    release = wedge(loop)
    future = bridge.call(lambda: ran.append(True))
    clock.now += 5.1                 # the engine was stuck past the call's deadline
    release()
    with pytest.raises(RequestTimeoutError, match='not applied'):
        answer(future)
    assert answer(bridge.call(lambda: 'after')) == 'after'    # the loop went past it
    assert ran == []


def test_the_watchdog_answers_for_a_wedged_loop_and_the_call_never_runs_later(
        bridge, loop, clock):
    ran = []
    release = wedge(loop)
    future = bridge.call(lambda: ran.append(True))
    assert bridge.expire_overdue() == 0 and not future.done()    # not overdue yet
    clock.now += 5.1
    assert bridge.expire_overdue() == 1
    with pytest.raises(RequestTimeoutError, match='not applied'):
        future.result()
    assert bridge.wakes == 1
    release()
    assert answer(bridge.call(lambda: 'after')) == 'after'
    assert ran == [] and bridge.pending() == 0


def test_a_running_call_is_never_expired(bridge, loop, clock):
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return 'finished'
    future = bridge.run(work)
    wait_until(lambda: bridge.pending() == 0, 10, 'the loop takes the call up')
    clock.now += 60
    assert bridge.expire_overdue() == 0 and not future.done()
    loop.call_soon_threadsafe(gate.set)
    assert answer(future) == 'finished'


def test_a_closed_loop_answers_not_applied(clock):
    closed = asyncio.new_event_loop()
    closed.close()
    future = LoopBridge(closed, clock=clock).call(lambda: 'never')
    with pytest.raises(RequestTimeoutError, match='shutting down.*not applied'):
        future.result()


def test_many_slow_calls_share_one_executor_thread(loop, domain):
    """50 calls that each take 0.5 s on the loop, served by a ONE-thread executor."""
    server_ctx, client_ctx = rclpy.Context(), rclpy.Context()
    rclpy.init(context=server_ctx, domain_id=domain)
    rclpy.init(context=client_ctx, domain_id=domain)
    server = rclpy.create_node('bridge_test_server', context=server_ctx)
    bridge = LoopBridge(loop, timeout=5.0)
    bridge.wake = lambda: server.executor.wake()

    in_flight, most = 0, 0            # calls inside the handler at once (executor thread)

    async def slow(request: Any, response: Any) -> Any:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            response.message = await bridge.run(lambda: asyncio.sleep(0.5, 'slept'))
        finally:
            in_flight -= 1
        response.success = True
        return response
    server.create_service(ListServices, 'slow', slow, qos_profile=DEEP,
                          callback_group=ReentrantCallbackGroup())
    client = rclpy.create_node('bridge_test_client', context=client_ctx)
    caller = client.create_client(ListServices, 'slow', qos_profile=DEEP)
    executors, threads = [], []
    for node, ctx in ((server, server_ctx), (client, client_ctx)):
        executor = SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        threads.append(threading.Thread(target=executor.spin, daemon=True))
        threads[-1].start()
        executors.append(executor)
    try:
        assert caller.wait_for_service(timeout_sec=20)
        futures = [caller.call_async(ListServices.Request()) for _ in range(50)]
        wait_until(lambda: all(f.done() for f in futures), 60, 'every answer')
        assert all(f.result().message == 'slept' for f in futures)
        # one after another, a single thread would hold one call at a time
        assert most > 10, f'at most {most} call(s) at once: served one after another'
    finally:
        for executor in executors:
            executor.shutdown(timeout_sec=2.0)
        for thread in threads:
            thread.join(10)     # a spin thread alive at exit aborts the interpreter
        for node, ctx in ((server, server_ctx), (client, client_ctx)):
            node.destroy_node()
            ctx.try_shutdown()
