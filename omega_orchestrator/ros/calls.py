"""Awaiting an rclpy service call on the engine's asyncio loop.

The call's rclpy future is completed by the node's executor thread; its done callback hands
the news to the loop with call_soon_threadsafe (never awaiting the rclpy future itself).
"""

import asyncio

from rclpy.client import Client
from rclpy.task import Future


async def answer(client: Client, future: Future, timeout: float, *,
                 forget: bool = True) -> object | None:
    """The call's response, or None after `timeout` s (the request is then forgotten unless
    `forget` is False, so that a late answer can still be awaited again).
    """
    loop = asyncio.get_running_loop()
    answered = loop.create_future()

    def settle(_: object) -> None:
        loop.call_soon_threadsafe(lambda: answered.done() or answered.set_result(None))
    future.add_done_callback(settle)
    try:
        await asyncio.wait_for(answered, max(timeout, 0.0))
    except asyncio.TimeoutError:
        if forget:
            client.remove_pending_request(future)
        return None
    except asyncio.CancelledError:
        client.remove_pending_request(future)
        raise
    return future.result()


async def query(client: Client, request: object, retry_after: float = 1.0) -> object:
    """A call without side effects, sent again while unanswered (DDS may drop the first
    reply to a brand-new client); bounded by the caller's timeout (cancellation).
    """
    while True:
        response = await answer(client, client.call_async(request), retry_after)
        if response is not None:
            return response
