"""The dependency gate: which condition holds in which state, and the reason it gives."""

from omega_orchestrator.core.dependencies import (
    blocking,
    condition_met,
    DependencySpec,
    DependencyView,
    lost,
)
from omega_orchestrator.core.errors import RegistryError
from omega_orchestrator.core.registry import parse_registry
from omega_orchestrator.core.states import ServiceState as S


def test_each_condition_holds_in_its_states_only():
    cases = {
        'started': {S.RUNNING, S.EXITED},
        'healthy': set(),              # running but not healthy: below
        'completed': {S.EXITED},
    }
    for condition, states in cases.items():
        for state in S:
            assert condition_met(condition, DependencyView(state=state)) is (state in states), \
                (condition, state)
    assert condition_met('healthy', DependencyView(state=S.RUNNING, healthy=True))
    assert not condition_met('healthy', DependencyView(state=S.STARTING, healthy=True))


def test_the_reason_names_the_dependency_its_state_and_for_how_long():
    deps = (DependencySpec(name='plain'),
            DependencySpec(name='cam', condition='healthy'),
            DependencySpec(name='migrate', condition='completed'))
    views = {'plain': DependencyView(state=S.FAILED),        # a plain name never blocks
             'cam': DependencyView(state=S.RUNNING, since=100.0,
                                   health_message='port 8081 refused the connection'),
             'migrate': DependencyView(state=S.RUNNING, since=110.0)}
    assert blocking(deps, views, now=112.0) == (
        'cam to be healthy: unhealthy for 12 s (port 8081 refused the connection)')
    views['cam'] = DependencyView(state=S.RUNNING, healthy=True)
    assert blocking(deps, views, now=112.0) == 'migrate to complete: still running for 2 s'
    views['migrate'] = DependencyView(state=S.EXITED)
    assert blocking(deps, views, now=112.0) is None
    views['cam'] = DependencyView(state=S.FAILED, since=50.0)
    assert blocking(deps, views, now=112.0) == 'cam to be healthy: failed for 62 s'


def test_only_a_bound_dependency_leaving_running_is_lost():
    bound = DependencySpec(name='db', condition='started', restart_with=True)
    assert lost(bound, S.RUNNING, S.CRASHED) and lost(bound, S.RUNNING, S.STOPPING)
    assert not lost(bound, S.STARTING, S.FAILED) and not lost(bound, S.RUNNING, S.RUNNING)
    assert not lost(DependencySpec(name='db', condition='started'), S.RUNNING, S.CRASHED)


def _problems(services: list) -> list[str]:
    import json
    try:
        parse_registry(json.dumps({'services': services}), 'reg.json')
    except RegistryError as exc:
        return exc.problems
    return []


def test_the_registry_takes_names_and_condition_objects():
    reg = parse_registry('{"services": ['
                         '{"name": "db", "cmd": "x", "health_check": "port_check", "port": 5432},'
                         '{"name": "app", "cmd": "x", "depends_on": ["db", {"name": "db",'
                         ' "condition": "healthy", "restart_with": true}]}]}')
    app = reg.get('app')
    assert app.depends_on == ('db', 'db')
    assert app.dependencies == (DependencySpec(name='db'), DependencySpec(
        name='db', condition='healthy', restart_with=True))


def test_bad_dependency_entries_name_the_service_and_the_field():
    assert _problems([{'name': 'a', 'cmd': 'x', 'depends_on': [{'name': 'b',
                                                                  'condition': 'ready'}]},
                      {'name': 'b', 'cmd': 'x'}]) == [
        "services[0] 'a' field 'depends_on'[0] field 'condition': unknown value 'ready'; "
        'expected one of started, healthy, completed']
    assert _problems([{'name': 'a', 'cmd': 'x', 'depends_on': [{'condition': 'started'}]}]) == [
        "services[0] 'a' field 'depends_on'[0] field 'name': is required"]
    assert _problems([{'name': 'a', 'cmd': 'x', 'depends_on': [3]}]) == [
        "services[0] 'a' field 'depends_on'[0]: must be a service name or an object "
        '{"name": ..., "condition": ...}']
    assert _problems([{'name': 'a', 'cmd': 'x', 'depends_on': [{'name': 'b',
                                                                  'condition': 'healthy'}]},
                      {'name': 'b', 'cmd': 'x'}]) == [
        "service 'a' field 'depends_on': condition 'healthy' needs a health_check on 'b', "
        'which has none']
    cycle = _problems([{'name': 'a', 'cmd': 'x', 'depends_on': [{'name': 'b'}]},
                       {'name': 'b', 'cmd': 'x', 'depends_on': ['a']}])
    assert cycle == ["service 'a' field 'depends_on': dependency cycle a -> b -> a"]
