"""The per-client update buffer of the event stream: bounded, status frames dropped first."""

import asyncio

import pytest

from omega_orchestrator.sidecar.routes.events import _ServerStoppingError, UpdateBuffer


async def test_a_slow_client_loses_old_status_frames_before_transitions():
    buffer = UpdateBuffer(limit=3)
    buffer.offer('status', {'n': 1})
    buffer.offer('transition', {'n': 2})
    buffer.offer('status', {'n': 3})
    buffer.offer('transition', {'n': 4})     # full: the oldest status frame goes
    stopping = asyncio.Event()
    got = [await buffer.next(stopping, 1) for _ in range(3)]
    assert got == [('transition', {'n': 2}), ('status', {'n': 3}), ('transition', {'n': 4})]


async def test_next_times_out_and_stops():
    buffer, stopping = UpdateBuffer(), asyncio.Event()
    with pytest.raises(asyncio.TimeoutError):
        await buffer.next(stopping, 0.01)
    asyncio.get_running_loop().call_soon(stopping.set)
    with pytest.raises(_ServerStoppingError):
        await buffer.next(stopping, 10)
