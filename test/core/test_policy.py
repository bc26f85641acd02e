"""Restart decisions: the policies and the jittered backoff."""

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
