"""The per-client update buffer of the event stream: bounded, status frames give way first."""

import asyncio

import pytest

from omega_orchestrator.sidecar.routes.events import _ServerStoppingError, RESYNC, UpdateBuffer


async def test_a_slow_client_gets_every_service_anew_instead_of_lost_status_frames():
    buffer = UpdateBuffer(limit=3)
    buffer.offer('status', {'n': 1})
    buffer.offer('transition', {'n': 2})
    buffer.offer('status', {'n': 3, 'partial': True})
    buffer.offer('transition', {'n': 4})     # full: the status frames give way to a resync
    assert list(buffer.items) == [('transition', {'n': 2}), ('status', RESYNC),
                                  ('transition', {'n': 4})]
    buffer.offer('status', {'n': 5, 'partial': True})    # full again: one resync, last
    stopping = asyncio.Event()
    got = [await buffer.next(stopping, 1) for _ in range(3)]
    assert got == [('transition', {'n': 2}), ('transition', {'n': 4}), ('status', RESYNC)]
    with pytest.raises(asyncio.TimeoutError):
        await buffer.next(stopping, 0.01)


async def test_the_buffer_stays_bounded_with_a_resync_waiting():
    buffer = UpdateBuffer(limit=3)
    buffer.offer('status', {'n': 0})
    for n in range(1, 11):
        buffer.offer('transition', {'n': n})
        assert len(buffer.items) <= 3
    assert ('status', RESYNC) in buffer.items and ('transition', {'n': 10}) in buffer.items


async def test_a_buffer_of_transitions_only_loses_the_oldest():
    buffer = UpdateBuffer(limit=2)
    for n in range(3):
        buffer.offer('transition', {'n': n})
    stopping = asyncio.Event()
    assert [await buffer.next(stopping, 1) for _ in range(2)] == [
        ('transition', {'n': 1}), ('transition', {'n': 2})]


async def test_next_times_out_and_stops():
    buffer, stopping = UpdateBuffer(), asyncio.Event()
    with pytest.raises(asyncio.TimeoutError):
        await buffer.next(stopping, 0.01)
    asyncio.get_running_loop().call_soon(stopping.set)
    with pytest.raises(_ServerStoppingError):
        await buffer.next(stopping, 10)
