"""Every edge of ServiceMachine, driven by replaying event histories with an explicit clock."""

import pytest

from omega_orchestrator.core import commands as cmd
from omega_orchestrator.core import events as ev
from omega_orchestrator.core.errors import WrongStateError
from omega_orchestrator.core.machine import ServiceMachine
from omega_orchestrator.core.registry import ProbeSpec, RestartSpec, ServiceSpec, StopSpec
from omega_orchestrator.core.states import ServiceState as S


def make(policy: str = 'always', **restart: object) -> ServiceMachine:
    spec = ServiceSpec(name='svc', cmd='x', restart_policy=policy,
                       restart=RestartSpec(**restart), stop=StopSpec(timeout=5.0))
    return ServiceMachine(spec, rng=lambda: 0.5)


def oneshot() -> ServiceMachine:
    return ServiceMachine(ServiceSpec(name='job', cmd='x', oneshot=True,
                                      restart_policy='on-failure'), rng=lambda: 0.5)


def kinds(commands: list) -> list[str]:
    return [type(c).__name__ for c in commands]


def running(machine: ServiceMachine, pid: int = 100, at: float = 0.0) -> ServiceMachine:
    machine.handle(ev.StartRequested(), at)
    machine.handle(ev.Spawned(pid=pid), at)
    assert machine.state is S.RUNNING
    return machine


def backing_off() -> tuple[ServiceMachine, int]:
    """A machine that crashed twice quickly (t=1, t=2) and now waits in BACKOFF, with the
    token of its restart timer.
    """
    m = running(make('always', stable_after=10.0))
    m.handle(ev.Exited(pid=100, code=1), 1.0)
    m.handle(ev.Spawned(pid=101), 1.0)
    out = m.handle(ev.Exited(pid=101, code=1), 2.0)
    assert m.state is S.BACKOFF
    return m, next(c.token for c in out if isinstance(c, cmd.StartTimer))


def test_transition_stopped_to_starting():
    m = make()
    out = m.handle(ev.StartRequested(), 0.0)
    assert m.state is S.STARTING
    assert kinds(out) == ['AnnounceTransition', 'Spawn']


def test_transition_starting_to_running():
    m = make()
    m.handle(ev.StartRequested(), 0.0)
    m.handle(ev.Spawned(pid=42), 0.1)
    assert m.state is S.RUNNING
    assert m.view.pid == 42 and m.view.started_at == 0.1


def test_transition_starting_to_failed_on_spawn_failure():
    m = make()
    m.handle(ev.StartRequested(), 0.0)
    m.handle(ev.SpawnFailed(error="command 'nope' not found in PATH"), 0.0)
    assert m.state is S.FAILED
    assert "'nope' not found" in m.view.message


def test_transition_running_to_stopping_then_stopped():
    m = running(make())
    out = m.handle(ev.StopRequested(), 1.0)
    assert m.state is S.STOPPING
    assert cmd.SignalGroup(signal='SIGTERM') in out
    assert any(isinstance(c, cmd.StartTimer) and c.delay == 5.0 for c in out)
    out = m.handle(ev.Exited(pid=100, signal=15), 1.1)
    assert m.state is S.STOPPED
    assert 'Sweep' in kinds(out) and 'CancelTimer' in kinds(out)
    assert m.view.restart_count == 0 and m.view.crash_count == 0


def test_transition_stopping_escalates_to_sigkill_after_timeout():
    m = running(make())
    out = m.handle(ev.StopRequested(), 1.0)
    token = next(c.token for c in out if isinstance(c, cmd.StartTimer))
    out = m.handle(ev.TimerFired(token=token), 6.0)
    assert out == [cmd.SignalGroup(signal='SIGKILL')]
    assert m.state is S.STOPPING
    m.handle(ev.Exited(pid=100, signal=9), 6.01)
    assert m.state is S.STOPPED


def test_forced_stop_sends_sigkill_at_once():
    m = running(make())
    out = m.handle(ev.StopRequested(force=True), 1.0)
    assert cmd.SignalGroup(signal='SIGKILL') in out
    assert not any(isinstance(c, cmd.StartTimer) for c in out)


def test_forced_stop_while_stopping_escalates():
    m = running(make())
    m.handle(ev.StopRequested(), 1.0)
    assert m.handle(ev.StopRequested(force=True), 1.5) == [cmd.SignalGroup(signal='SIGKILL')]


def test_operator_stop_is_never_restarted():
    m = running(make('always'))
    m.handle(ev.StopRequested(), 1.0)
    m.handle(ev.Exited(pid=100, code=1), 1.1)
    assert m.state is S.STOPPED


def test_transition_running_to_starting_first_crash_after_stable_run_is_immediate():
    m = running(make('always', stable_after=10.0))
    out = m.handle(ev.Exited(pid=100, code=1), 60.0)
    assert m.state is S.STARTING
    assert kinds(out)[-1] == 'Spawn'
    assert m.view.restart_count == 1 and m.view.crash_count == 1
    assert m.view.last_exit_code == 1


def test_transition_running_to_backoff_on_repeated_crashes():
    m = running(make('always', backoff_initial=1.0, backoff_factor=2.0, stable_after=10.0))
    m.handle(ev.Exited(pid=100, code=1), 1.0)          # immediate restart
    m.handle(ev.Spawned(pid=101), 1.0)
    out = m.handle(ev.Exited(pid=101, code=1), 2.0)    # crashed again quickly: back off
    assert m.state is S.BACKOFF
    timer = next(c for c in out if isinstance(c, cmd.StartTimer))
    assert timer.delay == pytest.approx(1.0)
    assert m.view.next_restart_at == pytest.approx(3.0)


def test_transition_backoff_to_starting_when_timer_fires():
    m, token = backing_off()
    assert m.handle(ev.TimerFired(token=token + 99), 3.0) == []     # a stale timer is ignored
    out = m.handle(ev.TimerFired(token=token), 3.0)
    assert m.state is S.STARTING and kinds(out)[-1] == 'Spawn'
    assert m.view.next_restart_at is None


def test_backoff_grows_exponentially_and_is_capped():
    m = running(make('always', backoff_initial=1.0, backoff_factor=2.0, backoff_max=4.0,
                     stable_after=100.0, crash_loop_max=100))
    delays = []
    pid, now = 100, 0.0
    for _ in range(6):
        out = m.handle(ev.Exited(pid=pid, code=1), now)
        timer = next((c for c in out if isinstance(c, cmd.StartTimer)), None)
        delays.append(timer.delay if timer else 0.0)
        if timer:
            m.handle(ev.TimerFired(token=timer.token), now)
        pid += 1
        m.handle(ev.Spawned(pid=pid), now)
        now += 0.5
    assert delays == [0.0, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_resets_after_a_stable_run():
    m, token = backing_off()
    m.handle(ev.TimerFired(token=token), 3.0)
    m.handle(ev.Spawned(pid=102), 3.0)
    m.handle(ev.Exited(pid=102, code=1), 50.0)   # ran 47 s: stable, so immediate again
    assert m.state is S.STARTING


def test_transition_running_to_cooldown_on_crash_loop():
    m = running(make('always', crash_loop_max=3, crash_loop_window=60.0, cooldown=30.0,
                     backoff_initial=0.0, stable_after=100.0))
    pid = 100
    for now in (1.0, 2.0):
        m.handle(ev.Exited(pid=pid, code=1), now)
        if m.state is S.BACKOFF:
            m.handle(ev.TimerFired(token=m._timer), now)
        pid += 1
        m.handle(ev.Spawned(pid=pid), now)
    out = m.handle(ev.Exited(pid=pid, code=1), 3.0)
    assert m.state is S.COOLDOWN
    assert any(isinstance(c, cmd.StartTimer) and c.delay == 30.0 for c in out)


def test_transition_cooldown_to_starting_is_automatic():
    m = running(make('always', crash_loop_max=1, cooldown=30.0))
    out = m.handle(ev.Exited(pid=100, code=1), 1.0)
    assert m.state is S.COOLDOWN
    token = next(c.token for c in out if isinstance(c, cmd.StartTimer))
    m.handle(ev.TimerFired(token=token), 31.0)
    assert m.state is S.STARTING


def test_transition_running_to_crashed_with_policy_never():
    m = running(make('never'))
    m.handle(ev.Exited(pid=100, code=2), 1.0)
    assert m.state is S.CRASHED and m.view.crash_count == 1


def test_transition_running_to_exited_on_clean_exit_with_policy_never():
    m = running(make('never'))
    m.handle(ev.Exited(pid=100, code=0), 1.0)
    assert m.state is S.EXITED and m.view.crash_count == 0


def test_on_failure_does_not_restart_a_clean_exit():
    m = running(make('on-failure', max_retries=3))
    m.handle(ev.Exited(pid=100, code=0), 1.0)
    assert m.state is S.EXITED


def test_on_failure_restarts_after_a_signal():
    m = running(make('on-failure', max_retries=3))
    m.handle(ev.Exited(pid=100, signal=9), 20.0)
    assert m.state is S.STARTING


def test_transition_running_to_failed_when_retries_run_out():
    m = running(make('on-failure', max_retries=3, backoff_initial=0.0, stable_after=100.0))
    pid, now = 100, 0.0
    for _ in range(3):
        m.handle(ev.Exited(pid=pid, code=1), now)
        if m.state is S.BACKOFF:
            m.handle(ev.TimerFired(token=m._timer), now)
        pid += 1
        m.handle(ev.Spawned(pid=pid), now)
        now += 1.0
    assert m.view.restart_count == 3
    m.handle(ev.Exited(pid=pid, code=1), now)
    assert m.state is S.FAILED
    assert 'max_retries' in m.view.message


def test_always_restarts_a_clean_exit():
    m = running(make('always'))
    m.handle(ev.Exited(pid=100, code=0), 30.0)
    assert m.state is S.STARTING


def test_oneshot_success_is_exited_without_sweep():
    m = running(oneshot())
    out = m.handle(ev.Exited(pid=100, code=0), 1.0)
    assert m.state is S.EXITED and 'Sweep' not in kinds(out)


def test_oneshot_failure_follows_the_policy():
    m = running(oneshot())
    out = m.handle(ev.Exited(pid=100, code=1), 1.0)
    assert m.state is S.STARTING and 'Sweep' in kinds(out)


def test_transition_failed_to_starting_by_operator_resets_retries():
    m = make()
    m.handle(ev.StartRequested(), 0.0)
    m.handle(ev.SpawnFailed(error='x'), 0.0)
    m.handle(ev.StartRequested(), 1.0)
    assert m.state is S.STARTING


def test_transition_crashed_to_stopped_by_operator():
    m = running(make('never'))
    m.handle(ev.Exited(pid=100, code=1), 1.0)
    out = m.handle(ev.StopRequested(), 2.0)
    assert m.state is S.STOPPED and 'Sweep' in kinds(out)


def test_transition_exited_to_stopped_sweeps_leftovers():
    m = running(oneshot())
    m.handle(ev.Exited(pid=100, code=0), 1.0)
    out = m.handle(ev.StopRequested(), 2.0)
    assert m.state is S.STOPPED and 'Sweep' in kinds(out)


def test_transition_backoff_to_stopped_cancels_the_restart():
    m, _ = backing_off()
    out = m.handle(ev.StopRequested(), 2.5)
    assert m.state is S.STOPPED and 'CancelTimer' in kinds(out)


def test_transition_backoff_to_starting_by_operator():
    m, _ = backing_off()
    out = m.handle(ev.StartRequested(), 2.5)
    assert m.state is S.STARTING and kinds(out)[0] == 'CancelTimer'


def test_restart_stops_then_starts():
    m = running(make())
    m.handle(ev.RestartRequested(), 1.0)
    assert m.state is S.STOPPING
    out = m.handle(ev.Exited(pid=100, signal=15), 1.1)
    assert m.state is S.STARTING and kinds(out)[-1] == 'Spawn'
    assert m.view.restart_count == 1 and m.view.crash_count == 0


def test_restart_of_a_stopped_service_starts_it():
    m = make()
    m.handle(ev.RestartRequested(), 0.0)
    assert m.state is S.STARTING


def test_stop_after_restart_request_wins():
    m = running(make())
    m.handle(ev.RestartRequested(), 1.0)
    m.handle(ev.StopRequested(), 1.05)
    m.handle(ev.Exited(pid=100, signal=15), 1.1)
    assert m.state is S.STOPPED


def test_wrong_state_requests_raise():
    m = running(make())
    with pytest.raises(WrongStateError):
        m.handle(ev.StartRequested(), 1.0)
    m.handle(ev.StopRequested(), 1.0)
    with pytest.raises(WrongStateError):
        m.handle(ev.StartRequested(), 1.0)
    m.handle(ev.Exited(pid=100, signal=15), 1.1)
    with pytest.raises(WrongStateError):
        m.handle(ev.StopRequested(), 1.2)


def test_exit_of_an_old_pid_is_ignored():
    m = running(make())
    assert m.handle(ev.Exited(pid=999, code=1), 1.0) == []
    assert m.state is S.RUNNING


def test_health_needs_consecutive_failures_to_turn_unhealthy():
    spec = ServiceSpec(name='svc', cmd='x', health=ProbeSpec(kind='tcp', label='tcp', port=1,
                                                             failure_threshold=2))
    m = ServiceMachine(spec)
    out = m.handle(ev.StartRequested(), 0.0) + m.handle(ev.Spawned(pid=1), 0.0)
    assert 'StartProbes' in kinds(out)
    m.handle(ev.HealthReported(ok=True, message='ok'), 1.0)
    m.handle(ev.HealthReported(ok=False, message='refused'), 2.0)
    assert m.view.health.healthy and m.view.health.message == 'refused'
    m.handle(ev.HealthReported(ok=False, message='refused'), 3.0)
    assert not m.view.health.healthy
    out = m.handle(ev.Exited(pid=1, code=1), 4.0)
    assert 'StopProbes' in kinds(out) and not m.view.health.checked


def test_every_transition_is_announced():
    m = make()
    out = m.handle(ev.StartRequested(reason='autostart'), 0.0)
    assert out[0] == cmd.AnnounceTransition(from_state='stopped', to_state='starting',
                                      reason='autostart')


def transitions(commands: list) -> list[tuple[str, str]]:
    return [(c.from_state, c.to_state) for c in commands if isinstance(c, cmd.AnnounceTransition)]


def test_transition_running_to_crashed_then_starting_announces_the_crash():
    m = running(make('always', stable_after=10.0))
    out = m.handle(ev.Exited(pid=100, code=1), 60.0)
    assert transitions(out) == [('running', 'crashed'), ('crashed', 'starting')]
    crash = next(c for c in out if isinstance(c, cmd.AnnounceTransition))
    assert crash.reason == 'exited with code 1'


def test_transition_running_to_crashed_then_backoff():
    m = running(make('always', stable_after=10.0))
    m.handle(ev.Exited(pid=100, code=1), 1.0)
    m.handle(ev.Spawned(pid=101), 1.0)
    out = m.handle(ev.Exited(pid=101, signal=9), 2.0)
    assert transitions(out) == [('running', 'crashed'), ('crashed', 'backoff')]
    assert m.state is S.BACKOFF and 'killed by signal 9' in m.view.message


def test_transition_running_to_exited_then_starting_for_a_clean_exit_under_always():
    m = running(make('always'))
    out = m.handle(ev.Exited(pid=100, code=0), 30.0)
    assert transitions(out) == [('running', 'exited'), ('exited', 'starting')]


def test_transition_crashed_to_failed_when_retries_run_out_is_announced_after_the_crash():
    m = running(make('on-failure', max_retries=0))
    out = m.handle(ev.Exited(pid=100, code=3), 1.0)
    assert transitions(out) == [('running', 'crashed'), ('crashed', 'failed')]


def test_a_crash_loop_far_past_a_thousand_exits_keeps_restarting():
    m = running(make('always', backoff_initial=1.0, backoff_factor=10.0, backoff_max=30.0,
                     stable_after=1e9, crash_loop_max=10**6, crash_loop_window=1.0))
    pid, now = 100, 0.0
    for _ in range(2100):
        out = m.handle(ev.Exited(pid=pid, code=1), now)
        timer = next((c for c in out if isinstance(c, cmd.StartTimer)), None)
        if timer:
            assert timer.delay <= 30.0 * 1.1
            m.handle(ev.TimerFired(token=timer.token), now)
        pid += 1
        m.handle(ev.Spawned(pid=pid), now)
        now += 2.0
    assert m.state is S.RUNNING and m.view.restart_count == 2100


def test_transition_any_to_failed_on_an_internal_error():
    m = running(make('always'))
    out = m.handle(ev.InternalError(error='RuntimeError: boom'), 1.0)
    assert m.state is S.FAILED and m.view.pid is None
    assert cmd.SignalGroup(signal='SIGKILL') in out and 'Sweep' in kinds(out)
    assert 'internal error: RuntimeError: boom' in m.view.message
    b, _ = backing_off()
    out = b.handle(ev.InternalError(error='x'), 5.0)
    assert b.state is S.FAILED and 'CancelTimer' in kinds(out) and 'SignalGroup' not in kinds(out)
    b.handle(ev.StartRequested(), 6.0)          # an operator can start it again
    assert b.state is S.STARTING


# -- dependency conditions (the gate is fed by the supervisor; core/dependencies decides it) ----

def test_transition_stopped_to_waiting_while_a_dependency_is_not_ready():
    m = make()
    assert m.handle(ev.DependenciesChanged(blocking='cam to be healthy: starting'), 0.0) == []
    out = m.handle(ev.StartRequested(), 0.0)
    assert m.state is S.WAITING and kinds(out) == ['AnnounceTransition']    # no Spawn
    assert m.view.message == 'waiting for cam to be healthy: starting'


def test_waiting_updates_its_reason_without_a_transition():
    m = make()
    m.handle(ev.DependenciesChanged(blocking='cam: starting'), 0.0)
    m.handle(ev.StartRequested(), 0.0)
    assert m.handle(ev.DependenciesChanged(blocking='cam: failed for 3 s'), 3.0) == []
    assert m.state is S.WAITING and m.view.message == 'waiting for cam: failed for 3 s'


def test_transition_waiting_to_starting_when_the_conditions_hold():
    m = make()
    m.handle(ev.DependenciesChanged(blocking='cam: starting'), 0.0)
    m.handle(ev.StartRequested(), 0.0)
    out = m.handle(ev.DependenciesChanged(blocking=None), 5.0)
    assert m.state is S.STARTING and kinds(out) == ['AnnounceTransition', 'Spawn']
    assert m.view.restart_count == 0          # an operator's start, held back: not a restart


def test_transition_waiting_to_stopped_by_operator():
    m = make()
    m.handle(ev.DependenciesChanged(blocking='cam: stopped'), 0.0)
    m.handle(ev.StartRequested(), 0.0)
    m.handle(ev.StopRequested(), 1.0)
    assert m.state is S.STOPPED
    assert kinds(m.handle(ev.DependenciesChanged(blocking=None), 2.0)) == []   # stays stopped


def test_a_start_of_a_waiting_service_is_accepted_as_it_is():
    m = make()
    m.handle(ev.DependenciesChanged(blocking='cam: stopped'), 0.0)
    m.handle(ev.StartRequested(), 0.0)
    assert m.handle(ev.StartRequested(), 1.0) == [] and m.state is S.WAITING
    assert m.handle(ev.RestartRequested(), 1.0) == [] and m.state is S.WAITING


def test_transition_backoff_to_waiting_when_the_dependency_is_down():
    m, token = backing_off()
    m.handle(ev.DependenciesChanged(blocking='db: crashed'), 2.5)
    m.handle(ev.TimerFired(token=token), 3.0)
    assert m.state is S.WAITING               # not another crash against a dead dependency
    restarts = m.view.restart_count
    m.handle(ev.DependenciesChanged(blocking=None), 9.0)
    assert m.state is S.STARTING and m.view.restart_count == restarts + 1


def test_transition_running_to_stopping_to_waiting_when_a_bound_dependency_is_lost():
    m = running(make())
    m.handle(ev.DependenciesChanged(blocking='db: crashed'), 1.0)
    out = m.handle(ev.DependencyLost(reason='db went down (restart_with)'), 1.0)
    assert m.state is S.STOPPING and cmd.SignalGroup(signal='SIGTERM') in out
    m.handle(ev.Exited(pid=100, signal=15), 1.2)
    assert m.state is S.WAITING and m.view.message == 'waiting for db: crashed'
    m.handle(ev.DependenciesChanged(blocking=None), 4.0)
    assert m.state is S.STARTING


def test_a_lost_dependency_does_not_touch_a_stopped_service():
    m = make()
    assert m.handle(ev.DependencyLost(reason='db went down'), 1.0) == []
    assert m.state is S.STOPPED


# -- startup, readiness and liveness probes --------------------------------------------------

def probed(policy: str = 'always', **probes: ProbeSpec) -> ServiceMachine:
    spec = ServiceSpec(name='svc', cmd='x', restart_policy=policy, stop=StopSpec(timeout=5.0),
                       **probes)
    return ServiceMachine(spec, rng=lambda: 0.5)


LIVENESS = ProbeSpec(kind='http', label='http', failure_threshold=3)
STARTUP = ProbeSpec(kind='tcp', label='tcp', failure_threshold=2)
READINESS = ProbeSpec(kind='tcp', label='tcp', success_threshold=2, failure_threshold=2)


def test_a_failing_liveness_probe_restarts_through_the_policy():
    m = running(probed(liveness=LIVENESS))
    for at in (1.0, 2.0):
        assert m.handle(ev.ProbeReported(probe='liveness', ok=False, message='HTTP 500'),
                        at) == []
    out = m.handle(ev.ProbeReported(probe='liveness', ok=False, message='HTTP 500'), 3.0)
    assert m.state is S.STOPPING and cmd.StopProbes() in out
    assert cmd.SignalGroup(signal='SIGTERM') in out
    out = m.handle(ev.Exited(pid=100, signal=15), 3.1)
    reason = 'liveness: HTTP 500 (3 checks in a row)'
    moves = [(c.from_state, c.to_state, c.reason) for c in out
             if isinstance(c, cmd.AnnounceTransition)]
    assert moves[0] == (S.STOPPING, S.CRASHED, reason)     # a crash, with the probe's words
    assert moves[1][1] is S.STARTING                        # always: the first restart at once
    assert m.view.crash_count == 1 and m.view.restart_count == 1


def test_a_liveness_success_resets_the_count_and_policy_never_leaves_it_crashed():
    m = running(probed('never', liveness=LIVENESS))
    failed = ev.ProbeReported(probe='liveness', ok=False, message='down')
    m.handle(failed, 1.0)
    m.handle(failed, 2.0)
    m.handle(ev.ProbeReported(probe='liveness', ok=True, message='up'), 3.0)
    m.handle(failed, 4.0)
    m.handle(failed, 5.0)
    assert m.state is S.RUNNING
    m.handle(failed, 6.0)
    m.handle(ev.Exited(pid=100, signal=15), 6.1)
    assert m.state is S.CRASHED and m.view.message.startswith('liveness: down (3 checks')


def test_an_operator_stop_during_a_liveness_stop_is_not_a_crash():
    m = running(probed(liveness=ProbeSpec(kind='tcp', label='tcp')))
    m.handle(ev.ProbeReported(probe='liveness', ok=False, message='down'), 1.0)
    m.handle(ev.StopRequested(), 1.1)
    m.handle(ev.Exited(pid=100, signal=15), 1.2)
    assert m.state is S.STOPPED and m.view.crash_count == 0


def test_the_startup_probe_holds_liveness_off_then_hands_over():
    m = probed(startup=STARTUP, liveness=LIVENESS, health=READINESS)
    m.handle(ev.StartRequested(), 0.0)
    out = m.handle(ev.Spawned(pid=100), 0.0)
    assert cmd.StartProbes(kinds=('startup',)) in out
    for at in range(1, 10):    # a liveness report before startup passed is not acted on
        m.handle(ev.ProbeReported(probe='liveness', ok=False, message='no'), float(at))
    assert m.state is S.RUNNING
    m.handle(ev.ProbeReported(probe='startup', ok=False, message='refused'), 10.0)
    assert m.view.message == 'starting up: refused (1/2)'
    out = m.handle(ev.ProbeReported(probe='startup', ok=True, message='open'), 11.0)
    assert out == [cmd.StartProbes(kinds=('readiness', 'liveness'))] and m.view.message == ''


def test_a_startup_probe_that_never_passes_restarts_the_service():
    m = probed(startup=STARTUP)
    m.handle(ev.StartRequested(), 0.0)
    m.handle(ev.Spawned(pid=100), 0.0)
    m.handle(ev.ProbeReported(probe='startup', ok=False, message='refused'), 1.0)
    m.handle(ev.ProbeReported(probe='startup', ok=False, message='refused'), 2.0)
    assert m.state is S.STOPPING
    m.handle(ev.Exited(pid=100, signal=15), 2.1)
    assert m.view.crash_count == 1 and m.state is S.STARTING
    assert m.view.last_exit_signal == 15


def test_readiness_needs_success_threshold_successes_in_a_row():
    m = running(probed(health=READINESS))
    ok, bad = (ev.HealthReported(ok=True, message='m'), ev.HealthReported(ok=False, message='m'))
    m.handle(ok, 1.0)
    assert not m.view.health.healthy          # one of two
    m.handle(bad, 2.0)
    m.handle(ok, 3.0)
    assert not m.view.health.healthy          # the count starts again
    m.handle(ok, 4.0)
    assert m.view.health.healthy
    m.handle(bad, 5.0)
    assert m.view.health.healthy              # failure_threshold 2
    m.handle(bad, 6.0)
    assert not m.view.health.healthy


# -- retry_failed_after ----------------------------------------------------------------------

def test_transition_failed_to_starting_after_retry_failed_after():
    m = make('on-failure', retry_failed_after=600.0)
    m.handle(ev.StartRequested(), 0.0)
    out = m.handle(ev.SpawnFailed(error='working_dir /media/usb does not exist'), 0.0)
    timer = next(c for c in out if isinstance(c, cmd.StartTimer))
    assert m.state is S.FAILED and timer.delay == 600.0 and m.view.next_restart_at == 600.0
    assert m.view.message == ('spawn failed: working_dir /media/usb does not exist; '
                              'retried in 600 s')
    out = m.handle(ev.TimerFired(token=timer.token), 600.0)
    assert m.state is S.STARTING and kinds(out) == ['AnnounceTransition', 'Spawn']
    assert m.view.restart_count == 1 and m.view.next_restart_at is None


def test_out_of_retries_is_retried_later_with_fresh_retries():
    m = running(make('on-failure', max_retries=1, backoff_initial=0.0, stable_after=100.0,
                     retry_failed_after=60.0))
    m.handle(ev.Exited(pid=100, code=1), 1.0)        # restarted at once (backoff 0)
    m.handle(ev.Spawned(pid=101), 1.0)
    out = m.handle(ev.Exited(pid=101, code=1), 2.0)  # out of retries
    assert m.state is S.FAILED
    timer = next(c for c in out if isinstance(c, cmd.StartTimer))
    m.handle(ev.TimerFired(token=timer.token), 62.0)
    m.handle(ev.Spawned(pid=102), 62.0)
    m.handle(ev.Exited(pid=102, code=1), 63.0)
    assert m.state in (S.STARTING, S.BACKOFF)        # a retry again, not failed at once


def test_a_stop_cancels_the_retry_of_a_failed_service():
    m = make('never', retry_failed_after=60.0)
    m.handle(ev.StartRequested(), 0.0)
    out = m.handle(ev.SpawnFailed(error='not found'), 0.0)
    token = next(c for c in out if isinstance(c, cmd.StartTimer)).token
    assert cmd.CancelTimer() in m.handle(ev.StopRequested(), 1.0)
    assert m.state is S.STOPPED and m.view.next_restart_at is None
    assert m.handle(ev.TimerFired(token=token), 60.0) == [] and m.state is S.STOPPED


# -- limits --------------------------------------------------------------------------------

def test_usage_over_the_soft_then_the_hard_limit():
    from omega_orchestrator.core.limits import LimitsSpec, MB
    spec = ServiceSpec(name='svc', cmd='x', restart_policy='never', limits=LimitsSpec(
        memory_mb=100, memory_soft_mb=50, cpu_percent=150, over_samples=2))
    m = running(ServiceMachine(spec))
    out = m.handle(ev.UsageReported(memory_bytes=60 * MB, cpu_percent=10), 1.0)
    assert [(c.from_state, c.to_state, c.reason) for c in out] == [
        (S.RUNNING, S.RUNNING, 'memory 60 MB above the soft limit 50 MB')]
    assert m.handle(ev.UsageReported(memory_bytes=61 * MB, cpu_percent=10), 2.0) == []
    out = m.handle(ev.UsageReported(memory_bytes=40 * MB, cpu_percent=10), 3.0)
    assert out[0].reason == 'back under its limits (memory 61 MB above the soft limit 50 MB)'
    assert m.view.limit_warning == ''
    m.handle(ev.UsageReported(memory_bytes=10 * MB, cpu_percent=200), 4.0)   # cpu, once
    m.handle(ev.UsageReported(memory_bytes=10 * MB, cpu_percent=20), 5.0)    # the count resets
    m.handle(ev.UsageReported(memory_bytes=10 * MB, cpu_percent=200), 6.0)
    assert m.state is S.RUNNING
    out = m.handle(ev.UsageReported(memory_bytes=10 * MB, cpu_percent=210), 7.0)
    assert m.state is S.STOPPING
    m.handle(ev.Exited(pid=100, signal=15), 7.1)
    assert m.state is S.CRASHED
    assert m.view.message.startswith('cpu limit 150 % (210 %) for 2 samples in a row')


# -- lifecycle nodes -------------------------------------------------------------------------

def managed_machine() -> ServiceMachine:
    spec = ServiceSpec(name='arm', cmd='x', type='ros2', ros_node='/arm', lifecycle=True,
                       restart_policy='always', stop=StopSpec(signal='SIGINT', timeout=5.0))
    return ServiceMachine(spec, rng=lambda: 0.5)


def test_a_managed_node_is_activated_after_the_spawn_and_shut_down_before_the_signal():
    m = managed_machine()
    m.handle(ev.StartRequested(), 0.0)
    out = m.handle(ev.Spawned(pid=100), 0.0)
    assert cmd.DriveLifecycle(goal='active') in out and m.view.lifecycle_state == 'unknown'
    m.handle(ev.LifecycleReported(pid=100, goal='active', ok=True, state='active',
                                  message='configure, activate done'), 1.0)
    assert m.view.lifecycle_state == 'active' and m.state is S.RUNNING
    out = m.handle(ev.StopRequested(), 2.0)
    assert cmd.DriveLifecycle(goal='finalized') in out
    assert not any(isinstance(c, cmd.SignalGroup) for c in out)     # not yet
    out = m.handle(ev.LifecycleReported(pid=100, goal='finalized', ok=True, state='finalized',
                                        message='deactivate, shutdown done'), 2.5)
    assert out == [cmd.SignalGroup(signal='SIGINT')]
    m.handle(ev.Exited(pid=100, code=0), 2.6)
    assert m.state is S.STOPPED and m.view.lifecycle_state == ''


def test_a_failed_activation_restarts_and_a_stale_report_is_ignored():
    m = managed_machine()
    m.handle(ev.StartRequested(), 0.0)
    m.handle(ev.Spawned(pid=100), 0.0)
    assert m.handle(ev.LifecycleReported(pid=99, goal='active', ok=False, state='x',
                                         message='old run'), 0.5) == []
    out = m.handle(ev.LifecycleReported(pid=100, goal='active', ok=False, state='inactive',
                                        message='activate of /arm failed (inactive)'), 1.0)
    assert m.state is S.STOPPING and cmd.DriveLifecycle(goal='finalized') in out
    m.handle(ev.LifecycleReported(pid=100, goal='finalized', ok=True, state='finalized',
                                  message='shutdown done'), 1.5)
    out = m.handle(ev.Exited(pid=100, code=0), 1.6)
    assert [c.reason for c in out if isinstance(c, cmd.AnnounceTransition)][0] == \
        'lifecycle: activate of /arm failed (inactive)'
    assert m.view.crash_count == 1 and m.state is S.STARTING


def test_a_shutdown_that_takes_the_whole_grace_still_sends_the_signal_then_sigkill():
    m = managed_machine()
    m.handle(ev.StartRequested(), 0.0)
    m.handle(ev.Spawned(pid=100), 0.0)
    m.handle(ev.LifecycleReported(pid=100, goal='active', ok=True, state='active',
                                  message='done'), 1.0)
    out = m.handle(ev.StopRequested(), 2.0)
    token = next(c.token for c in out if isinstance(c, cmd.StartTimer))
    out = m.handle(ev.TimerFired(token=token), 7.0)
    assert cmd.SignalGroup(signal='SIGINT') in out
    token = next(c.token for c in out if isinstance(c, cmd.StartTimer))
    assert m.handle(ev.TimerFired(token=token), 12.0) == [cmd.SignalGroup(signal='SIGKILL')]


# -- maintenance -------------------------------------------------------------------------------

def test_in_maintenance_a_crash_is_not_restarted_and_probes_are_not_acted_on():
    m = running(probed(liveness=ProbeSpec(kind='tcp', label='tcp')))
    out = m.handle(ev.MaintenanceSet(enabled=True), 1.0)
    assert [(c.from_state, c.to_state, c.reason) for c in out] == [
        (S.RUNNING, S.RUNNING, 'maintenance: supervision paused')]
    assert m.handle(ev.ProbeReported(probe='liveness', ok=False, message='down'), 2.0) == []
    assert m.state is S.RUNNING and m.view.message == \
        'maintenance: not acted on: liveness: down (1 checks in a row)'
    m.handle(ev.Exited(pid=100, code=1), 3.0)
    assert m.state is S.CRASHED and m.view.message.endswith('maintenance: not restarted')
    m.handle(ev.MaintenanceSet(enabled=False), 4.0)
    assert not m.view.maintenance and m.state is S.CRASHED       # an operator starts it
    m.handle(ev.StartRequested(), 5.0)
    assert m.state is S.STARTING


def test_maintenance_cancels_a_pending_restart():
    m, token = backing_off()
    out = m.handle(ev.MaintenanceSet(enabled=True), 2.5)
    assert cmd.CancelTimer() in out and m.state is S.CRASHED
    assert m.view.next_restart_at is None
    assert m.handle(ev.TimerFired(token=token), 10.0) == [] and m.state is S.CRASHED
