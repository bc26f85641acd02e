"""Backoff, cooldown and wave timeouts replayed on a fake clock: real processes, no waiting.

The children are real (`/bin/sh -c 'exit 1'` exits in a millisecond); every delay the
engine decides is a timer on the fake clock, moved on by the test.
"""

from omega_orchestrator.core.states import ServiceState as S
from omega_orchestrator.runtime.supervisor import Supervisor

CRASH = {'cmd': '/bin/sh', 'args': ['-c', 'exit 1'], 'restart_policy': 'always'}
SLEEP = {'cmd': '/bin/sh', 'args': ['-c', 'sleep 600']}


async def state(sup: Supervisor, name: str, *states: S) -> None:
    await sup.wait_for(lambda: sup.status(name).state in states, 20)


async def test_backoff_grows_and_is_capped_in_replayed_time(replay):
    sup, clock = replay(dict(CRASH, name='s', restart={
        'backoff_initial': 5, 'backoff_factor': 2, 'backoff_max': 12, 'jitter': 0,
        'stable_after': 100, 'crash_loop_max': 100}))
    sup.start('s')
    delays = []
    for _ in range(4):
        await state(sup, 's', S.BACKOFF)
        (due,) = clock.pending()
        delays.append(due - clock.now)
        clock.advance(due - clock.now - 0.01)
        assert sup.status('s').state is S.BACKOFF           # not a moment early
        clock.advance(0.01)
        await sup.wait_for(lambda: sup.status('s').state is not S.BACKOFF, 20)
    assert delays == [5.0, 10.0, 12.0, 12.0]
    assert sup.status('s').restart_count >= 5


async def test_cooldown_after_a_crash_loop_then_retried(replay):
    sup, clock = replay(dict(CRASH, name='s', restart={
        'backoff_initial': 0, 'crash_loop_max': 3, 'crash_loop_window': 60, 'cooldown': 30,
        'stable_after': 100}))
    sup.start('s')
    await state(sup, 's', S.COOLDOWN)
    assert sup.status('s').crash_count == 3 and clock.pending() == [clock.now + 30]
    clock.advance(29.9)
    assert sup.status('s').state is S.COOLDOWN
    clock.advance(0.1)                           # the cooldown is over: retried by itself
    await sup.wait_for(lambda: sup.status('s').crash_count > 3, 20)


async def test_a_wave_that_never_settles_times_out_in_replayed_time(replay):
    import asyncio
    sup, clock = replay(
        dict(SLEEP, name='prepare', autostart=True, oneshot=True),   # never finishes
        dict(SLEEP, name='after', autostart=True, depends_on=['prepare']))
    starting = asyncio.get_running_loop().create_task(sup.start_all(wave_timeout=30))
    await state(sup, 'prepare', S.RUNNING)       # a oneshot is settled only once it ends
    await asyncio.sleep(0)
    assert sup.status('after').state is S.STOPPED
    clock.advance(29)
    assert sup.status('after').state is S.STOPPED
    clock.advance(1.5)                           # the wave timeout: the next wave starts
    await state(sup, 'after', S.RUNNING)
    await starting
