"""The worst-case time of a full stop, wave by wave, against a stop grace."""

from omega_orchestrator.core.dependencies import DependencySpec
from omega_orchestrator.core.registry import Registry, ServiceSpec, StopSpec
from omega_orchestrator.core.shutdown import (
    grace_warning,
    KILL_MARGIN,
    registry_stop_plan,
    stop_plan,
    worst_case,
)

# camera and lidar feed nav; nav and map feed planner; logger stands alone
DEPS = {'camera': (), 'lidar': (), 'map': (), 'nav': ('camera', 'lidar', 'map'),
        'planner': ('nav', 'map'), 'logger': ()}
TIMEOUTS = {'camera': 3.0, 'lidar': 8.0, 'map': 2.0, 'nav': 5.0, 'planner': 1.0, 'logger': 4.0}


def test_waves_go_in_reverse_dependency_order_each_as_long_as_its_slowest():
    plan = stop_plan(DEPS, TIMEOUTS)
    assert [w.services for w in plan] == [('planner',), ('nav',),
                                          ('camera', 'lidar', 'map', 'logger')]
    assert [(w.slowest, w.timeout) for w in plan] == [('planner', 1), ('nav', 5), ('lidar', 8)]
    assert [w.seconds for w in plan] == [1 + KILL_MARGIN, 5 + KILL_MARGIN, 8 + KILL_MARGIN]


def test_worst_case_is_the_sum_over_the_waves():
    assert worst_case(stop_plan(DEPS, TIMEOUTS)) == 14 + 3 * KILL_MARGIN
    assert worst_case(stop_plan(DEPS, TIMEOUTS, margin=0)) == 14
    assert worst_case(stop_plan({}, {})) == 0


def test_services_of_a_wave_stop_concurrently_so_they_do_not_add_up():
    deps = {name: () for name in 'abcdef'}
    plan = stop_plan(deps, dict.fromkeys(deps, 10.0))
    assert len(plan) == 1 and worst_case(plan) == 10 + KILL_MARGIN


def test_no_warning_when_the_grace_covers_the_worst_case():
    plan = stop_plan(DEPS, TIMEOUTS)
    assert grace_warning(plan, 17) is None
    assert grace_warning(plan, 30) is None
    assert grace_warning(stop_plan({}, {}), 0) is None


def test_warning_names_the_total_the_grace_and_each_wave():
    warning = grace_warning(stop_plan(DEPS, TIMEOUTS), 10)
    assert warning is not None and '\n' not in warning
    assert warning.startswith('warning: stopping every service can take up to 17 s, more than '
                              'the stop grace of 10 s')
    assert '1. planner 1 s; 2. nav 5 s; 3. lidar 8 s (+3 more)' in warning


def test_registry_plan_uses_each_services_stop_timeout():
    registry = Registry(path='robot.json', services=(
        ServiceSpec(name='driver', cmd='d', stop=StopSpec(timeout=20.0)),
        ServiceSpec(name='app', cmd='a', dependencies=(DependencySpec(name='driver'),)),
    ))
    plan = registry_stop_plan(registry)
    assert [(w.slowest, w.timeout) for w in plan] == [('app', 5.0), ('driver', 20.0)]
    assert worst_case(plan) == 25 + 2 * KILL_MARGIN
