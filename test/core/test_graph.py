"""The dependency graph: waves and cycles."""

from omega_orchestrator.core.graph import find_cycle, start_waves, stop_waves


def test_start_and_stop_waves_follow_dependencies():
    deps = {'db': (), 'api': ('db',), 'ui': ('api',), 'log': ()}
    assert start_waves(deps) == [['db', 'log'], ['api'], ['ui']]
    assert stop_waves(deps) == [['ui'], ['api'], ['db', 'log']]
    assert start_waves(deps, ['ui', 'log']) == [['ui', 'log']]


def test_find_cycle():
    assert find_cycle({'a': ('b',), 'b': ('c',), 'c': ('a',)}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': ('b',), 'b': ()}) is None
