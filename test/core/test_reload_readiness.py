"""The pure decisions the supervisor asks: the reload plan, and when dependants may start."""

from omega_orchestrator.core.readiness import settled
from omega_orchestrator.core.registry import ServiceSpec
from omega_orchestrator.core.reload import plan_reload
from omega_orchestrator.core.states import ServiceState as S


def spec(name: str, **fields: object) -> ServiceSpec:
    return ServiceSpec(name=name, cmd='x', **fields)


def test_plan_reload_touches_only_what_changed():
    old = {'same': spec('same'), 'edited': spec('edited'), 'gone': spec('gone'),
           'idle': spec('idle', description='a')}
    states = {'same': S.RUNNING, 'edited': S.RUNNING, 'gone': S.RUNNING, 'idle': S.STOPPED}
    new = {'same': spec('same'), 'edited': spec('edited', description='new'),
           'idle': spec('idle', description='b'), 'fresh': spec('fresh', autostart=True),
           'manual': spec('manual')}
    plan = plan_reload(old, states, new)
    assert plan.removed == ('gone',) and plan.added == ('fresh', 'manual')
    assert plan.changed == ('edited', 'idle')
    assert plan.start_after == ('edited', 'fresh')     # idle was not up; manual not auto
    assert plan.to_stop == ('gone', 'edited', 'idle')
    assert plan.running_after == 3                      # same, edited, fresh


def test_settled_for_dependants():
    assert settled(S.RUNNING, oneshot=False) and settled(S.FAILED, oneshot=False)
    assert not settled(S.STARTING, oneshot=False) and not settled(S.BACKOFF, oneshot=False)
    assert settled(S.EXITED, oneshot=True) and not settled(S.RUNNING, oneshot=True)
    assert not settled(S.BACKOFF, oneshot=True) and settled(S.CRASHED, oneshot=True)
