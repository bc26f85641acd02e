"""The page's buttons (web/app.js ALLOWED) never offer what the state machine refuses.

The page keeps its own table (a UI choice: it offers fewer actions than the machine takes);
this test guards that copy against the one source, core/machine.py.
"""

from pathlib import Path
import re

import pytest

from omega_orchestrator.core import events as ev
from omega_orchestrator.core.errors import WrongStateError
from omega_orchestrator.core.machine import ServiceMachine
from omega_orchestrator.core.registry import RestartSpec, ServiceSpec
from omega_orchestrator.core.states import ServiceState as S

APP = Path(__file__).resolve().parents[2] / 'web' / 'app.js'
REQUESTS = {'start': ev.StartRequested, 'stop': ev.StopRequested,
            'restart': ev.RestartRequested}


def page_table() -> dict[str, set[str]]:
    """ALLOWED of app.js: action -> the states its button is enabled in."""
    text = APP.read_text()
    block = text[text.index('const ALLOWED = {'):]
    block = block[:block.index('};')]
    return {action: set(re.findall(r"'([a-z]+)'", states))
            for action, states in re.findall(r'(\w+): new Set\(\[([^\]]*)\]\)', block)}


def machine_in(state: S) -> ServiceMachine:
    """A machine brought to `state` by replaying events."""
    policy = 'never' if state is S.CRASHED else 'always'
    restart = RestartSpec(crash_loop_max=1 if state is S.COOLDOWN else 100,
                          stable_after=100.0)
    spec = ServiceSpec(name='s', cmd='x', restart_policy=policy, restart=restart,
                       oneshot=state is S.EXITED)
    m = ServiceMachine(spec, rng=lambda: 0.5)
    if state is S.STOPPED:
        return m
    if state is S.WAITING:
        m.handle(ev.DependenciesChanged(blocking='db: stopped'), 0.0)
    m.handle(ev.StartRequested(), 0.0)
    if state is S.WAITING:
        return m
    if state is S.FAILED:
        m.handle(ev.SpawnFailed(error='no'), 0.0)
    if state in (S.STARTING, S.FAILED):
        return m
    m.handle(ev.Spawned(pid=1), 0.0)
    if state is S.STOPPING:
        m.handle(ev.StopRequested(), 1.0)
    elif state is S.EXITED:
        m.handle(ev.Exited(pid=1, code=0), 1.0)
    elif state in (S.CRASHED, S.COOLDOWN):
        m.handle(ev.Exited(pid=1, code=1), 1.0)
    elif state is S.BACKOFF:
        m.handle(ev.Exited(pid=1, code=1), 1.0)      # immediate restart first
        m.handle(ev.Spawned(pid=2), 1.0)
        m.handle(ev.Exited(pid=2, code=1), 2.0)
    return m


@pytest.mark.parametrize('state', list(S))
def test_every_button_the_page_enables_is_accepted(state):
    assert machine_in(state).state is state
    for action, states in page_table().items():
        if state.value in states:
            try:
                machine_in(state).handle(REQUESTS[action](), 10.0)
            except WrongStateError as exc:
                pytest.fail(f'the page offers {action} in {state.value}: {exc}')


def test_the_page_knows_every_action_and_state():
    table = page_table()
    assert set(table) == set(REQUESTS)
    assert set().union(*table.values()) <= {s.value for s in S}
    assert 'stopped' in table['start'] and 'running' in table['stop']
