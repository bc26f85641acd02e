"""Backoff arithmetic and the dependency graph."""

from omega_orchestrator.core.graph import find_cycle, start_waves, stop_waves
from omega_orchestrator.core.policy import backoff_delay, wants_restart
from omega_orchestrator.core.registry import RestartSpec


def test_policies():
    assert not wants_restart('never', False)
    assert wants_restart('on-failure', False) and not wants_restart('on-failure', True)
    assert wants_restart('always', True) and wants_restart('always', False)


def test_jitter_spreads_around_the_base_delay():
    spec = RestartSpec(backoff_initial=2.0, jitter=0.1)
    assert backoff_delay(spec, 1, lambda: 0.0) == 1.8
    assert backoff_delay(spec, 1, lambda: 1.0) == 2.2
    assert backoff_delay(spec, 0, lambda: 1.0) == 0.0


def test_start_and_stop_waves_follow_dependencies():
    deps = {'db': (), 'api': ('db',), 'ui': ('api',), 'log': ()}
    assert start_waves(deps) == [['db', 'log'], ['api'], ['ui']]
    assert stop_waves(deps) == [['ui'], ['api'], ['db', 'log']]
    assert start_waves(deps, ['ui', 'log']) == [['ui', 'log']]


def test_find_cycle():
    assert find_cycle({'a': ('b',), 'b': ('c',), 'c': ('a',)}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': ('b',), 'b': ()}) is None
