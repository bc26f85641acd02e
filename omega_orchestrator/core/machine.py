"""ServiceMachine: the lifecycle of one service, and the only writer of its state.

`handle(event, now)` applies one event at monotonic time `now` and returns the commands the
runtime must execute. Each edge is commented `# FROM -> TO` and has a test of its own.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
import random
from typing import Any

from omega_orchestrator.core import commands as cmd
from omega_orchestrator.core import events as ev
from omega_orchestrator.core.errors import WrongStateError
from omega_orchestrator.core.limits import judge
from omega_orchestrator.core.policy import after_exit, CrashHistory
from omega_orchestrator.core.registry import ServiceSpec
from omega_orchestrator.core.states import ServiceState as S


@dataclass(frozen=True, kw_only=True)
class Health:
    """The latest health verdict of a service."""

    checked: bool = False
    healthy: bool = False
    message: str = ''
    checked_at: float | None = None
    failures: int = 0
    successes: int = 0


@dataclass(frozen=True, kw_only=True)
class MachineView:
    """An immutable picture of one machine; times are monotonic seconds."""

    name: str
    state: S
    pid: int | None = None
    message: str = ''
    restart_count: int = 0
    crash_count: int = 0
    last_exit_code: int | None = None
    last_exit_signal: int | None = None
    started_at: float | None = None
    last_restart_at: float | None = None
    last_change_at: float | None = None
    next_restart_at: float | None = None
    health: Health = Health()
    limit_warning: str = ''     # what is over a soft (or hard) limit now, in words
    lifecycle_state: str = ''   # of a managed node: 'unconfigured', 'active'...; '' otherwise
    maintenance: bool = False   # supervision paused by an operator


class ServiceMachine:
    """The state machine of one service. Requests that make no sense raise WrongStateError."""

    def __init__(self, spec: ServiceSpec, rng: Callable[[], float] | None = None) -> None:
        self.spec = spec
        self._rng = rng or random.random
        self._view = MachineView(name=spec.name, state=S.STOPPED)
        self._history = CrashHistory()
        self._timer = 0              # token of the pending timer; 0 = none
        self._then_start = False     # a restart is waiting for the stop to finish
        self._blocking: str | None = None   # the unmet dependency condition, if any
        self._start_is_restart = False      # the start WAITING holds back is a restart
        self._started_up = False            # the startup probe passed in this run
        self._probe_failures: dict[str, int] = {}   # startup / liveness failures in a row
        self._failing: str | None = None    # why a stop in progress is a failure (probe, limit)
        self._over_hard = 0                 # samples over a hard limit in a row
        self._signal_after_lifecycle = False   # a stop waits for the node's shutdown first

    @property
    def view(self) -> MachineView:
        """The current immutable picture."""
        return self._view

    @property
    def blocking(self) -> str | None:
        """The unmet dependency condition the runtime last reported, or None."""
        return self._blocking

    @property
    def state(self) -> S:
        """The current state."""
        return self._view.state

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        """Apply `event` at monotonic time `now`; return the commands to execute."""
        match event:
            case ev.StartRequested():
                return self._on_start_requested(event, now)
            case ev.StopRequested():
                return self._on_stop_requested(event, now)
            case ev.RestartRequested():
                return self._on_restart_requested(event, now)
            case ev.Spawned():
                return self._on_spawned(event, now)
            case ev.SpawnFailed():
                return self._on_spawn_failed(event, now)
            case ev.Exited():
                return self._on_exited(event, now)
            case ev.TimerFired():
                return self._on_timer_fired(event, now)
            case ev.HealthReported():
                return self._on_health_reported(event, now)
            case ev.ProbeReported():
                return self._on_probe_reported(event, now)
            case ev.UsageReported():
                return self._on_usage_reported(event, now)
            case ev.LifecycleReported():
                return self._on_lifecycle_reported(event, now)
            case ev.MaintenanceSet():
                return self._on_maintenance_set(event, now)
            case ev.InternalError():
                return self._on_internal_error(event, now)
            case ev.DependenciesChanged():
                return self._on_dependencies_changed(event, now)
            case ev.DependencyLost():
                return self._on_dependency_lost(event, now)
        raise TypeError(f'not an event: {event!r}')

    # -- operator requests ------------------------------------------------------------------

    def _on_start_requested(self, event: ev.StartRequested, now: float) -> list[cmd.Command]:
        state = self.state
        if state in (S.STARTING, S.RUNNING):
            raise WrongStateError(f"'{self.spec.name}' is already {state.value}")
        if state is S.STOPPING:
            raise WrongStateError(f"'{self.spec.name}' is stopping; restart it instead")
        if state is S.WAITING:
            return []       # WAITING -> WAITING: it starts as soon as its dependencies allow
        # STOPPED | EXITED | CRASHED | FAILED | BACKOFF | COOLDOWN -> STARTING
        self._history = CrashHistory()
        out: list[cmd.Command] = [cmd.CancelTimer()] if self._timer else []
        self._timer = 0
        return out + self._begin_start(now, event.reason, counts_as_restart=False)

    def _on_stop_requested(self, event: ev.StopRequested, now: float) -> list[cmd.Command]:
        state = self.state
        self._then_start = False
        self._failing = None             # an operator's stop is not a failure
        if state in (S.STARTING, S.RUNNING):
            # RUNNING | STARTING -> STOPPING
            return self._begin_stop(now, event.reason, event.force)
        if state is S.STOPPING:
            # STOPPING -> STOPPING: a forced stop escalates at once
            return [cmd.SignalGroup(signal='SIGKILL')] if event.force else []
        if state in (S.BACKOFF, S.COOLDOWN):
            # BACKOFF | COOLDOWN -> STOPPED: the pending restart is cancelled
            self._timer = 0
            return [cmd.CancelTimer()] + self._move(S.STOPPED, now, event.reason,
                                                    next_restart_at=None)
        if state is S.WAITING:
            # WAITING -> STOPPED: it no longer waits to start
            return self._move(S.STOPPED, now, event.reason, message='')
        if state in (S.CRASHED, S.FAILED, S.EXITED):
            # CRASHED | FAILED | EXITED -> STOPPED: acknowledged; leftovers are swept (and a
            # retry of a failed service is cancelled)
            out = [cmd.CancelTimer()] if self._timer else []
            self._timer = 0
            return out + [cmd.Sweep()] + self._move(S.STOPPED, now, event.reason,
                                                    next_restart_at=None)
        raise WrongStateError(f"'{self.spec.name}' is not running")

    def _on_restart_requested(self, event: ev.RestartRequested, now: float) -> list[cmd.Command]:
        state = self.state
        if state in (S.STARTING, S.RUNNING):
            # RUNNING | STARTING -> STOPPING, then STARTING once the process is gone
            out = self._begin_stop(now, event.reason, force=False)
            self._then_start = True
            return out
        if state is S.STOPPING:
            # STOPPING -> STOPPING: start again once the stop completes
            self._then_start = True
            self._failing = None         # the operator's restart wins over the policy
            return []
        return self._on_start_requested(ev.StartRequested(reason=event.reason), now)

    # -- runtime facts ------------------------------------------------------------------------

    def _on_spawned(self, event: ev.Spawned, now: float) -> list[cmd.Command]:
        if self.state is not S.STARTING:
            return []
        # STARTING -> RUNNING (spawned means running; readiness is the `healthy` field)
        self._started_up, self._probe_failures, self._over_hard = False, {}, 0
        out = self._move(S.RUNNING, now, f'started with pid {event.pid}', pid=event.pid,
                         started_at=now, message='') + self._probe_commands(start=True)
        if self.spec.lifecycle:    # configure and activate the managed node, every run
            self._view = replace(self._view, lifecycle_state='unknown')
            out.append(cmd.DriveLifecycle(goal='active'))
        return out

    def _on_spawn_failed(self, event: ev.SpawnFailed, now: float) -> list[cmd.Command]:
        if self.state is not S.STARTING:
            return []
        # STARTING -> FAILED: the command could not be started; waits for an operator (or
        # for retry_failed_after)
        return self._fail_for_now(now, f'spawn failed: {event.error}', pid=None)

    def _on_exited(self, event: ev.Exited, now: float) -> list[cmd.Command]:
        view = self._view
        if view.pid != event.pid or self.state not in (S.STARTING, S.RUNNING, S.STOPPING):
            return []
        how = _describe_exit(event)
        ran_for = now - view.started_at if view.started_at is not None else 0.0
        self._view = replace(view, pid=None, started_at=None, last_exit_code=event.code,
                             last_exit_signal=event.signal, health=Health(), limit_warning='',
                             lifecycle_state='')
        self._signal_after_lifecycle = False
        out: list[cmd.Command] = self._probe_commands(start=False)
        failed_probe, self._failing = self._failing, None
        if self.state is S.STOPPING and failed_probe is None:
            return out + self._finish_stop(now, how)
        success = event.success
        if failed_probe is not None:
            # stopped because a liveness or startup probe failed: a failure, for the policy
            if self._timer:
                out.append(cmd.CancelTimer())
                self._timer = 0
            self._then_start, success, how = False, False, failed_probe
        if not success:
            self._view = replace(self._view, crash_count=self._view.crash_count + 1)
        decision, self._history = after_exit(
            self.spec.restart, self.spec.restart_policy, self._history, success=success,
            oneshot=self.spec.oneshot, ran_for=ran_for, now=now, rng=self._rng)
        if not (self.spec.oneshot and success):
            out.append(cmd.Sweep())
        # RUNNING -> CRASHED (failure) | EXITED (success): every end of a run is announced
        # on its own, with the exit; what the policy does next is the following transition.
        ended = S.EXITED if success else S.CRASHED
        if self._view.maintenance and decision.action != 'done':
            # CRASHED | EXITED, and no further step: supervision is paused
            return out + self._move(ended, now, how, message=f'{how}; maintenance: not '
                                    'restarted')
        reason = f'{how}; {decision.why}'
        out += self._move(ended, now, how, message=reason)
        if decision.action == 'done':
            return out
        if decision.action == 'give_up':
            # CRASHED | EXITED -> FAILED: out of retries; waits for an operator (or for
            # retry_failed_after)
            return out + self._fail_for_now(now, decision.why, message=reason)
        if decision.action == 'restart' and decision.delay == 0:
            # CRASHED | EXITED -> STARTING: the first restart after a stable run is immediate
            return out + self._begin_start(now, decision.why, counts_as_restart=True)
        # CRASHED | EXITED -> BACKOFF | COOLDOWN: a timer brings it back to STARTING
        target = S.COOLDOWN if decision.action == 'cooldown' else S.BACKOFF
        self._timer += 1
        out.append(cmd.StartTimer(delay=decision.delay, token=self._timer))
        return out + self._move(target, now, decision.why, message=reason,
                                next_restart_at=now + decision.delay)

    def _on_timer_fired(self, event: ev.TimerFired, now: float) -> list[cmd.Command]:
        if event.token != self._timer or self._timer == 0:
            return []
        if self.state in (S.BACKOFF, S.COOLDOWN):
            # BACKOFF | COOLDOWN -> STARTING
            return self._begin_start(now, f'{self.state.value} over', counts_as_restart=True)
        if self.state is S.FAILED:
            # FAILED -> STARTING: retry_failed_after is over; a fresh set of retries
            self._history = CrashHistory()
            return self._begin_start(now, f'retrying {self.spec.restart.retry_failed_after:g} s '
                                     'after the failure', counts_as_restart=True)
        if self.state is S.STOPPING and self._signal_after_lifecycle:
            # STOPPING -> STOPPING: the node's shutdown took the whole grace: signal, then wait
            self._signal_after_lifecycle = False
            self._timer += 1
            return [cmd.SignalGroup(signal=self.spec.stop.signal),
                    cmd.StartTimer(delay=self.spec.stop.timeout, token=self._timer)]
        if self.state is S.STOPPING:
            # STOPPING -> STOPPING: the grace period is over; escalate to SIGKILL
            self._view = replace(self._view, message=(
                f'did not stop within {self.spec.stop.timeout:g} s; sent SIGKILL'))
            return [cmd.SignalGroup(signal='SIGKILL')]
        return []

    def _on_internal_error(self, event: ev.InternalError, now: float) -> list[cmd.Command]:
        # ANY -> FAILED: whatever went wrong, the process is not left unsupervised
        out: list[cmd.Command] = [cmd.CancelTimer()] if self._timer else []
        self._timer, self._then_start, self._failing = 0, False, None
        if self.state in (S.STARTING, S.RUNNING, S.STOPPING):
            out += [cmd.SignalGroup(signal='SIGKILL'), cmd.Sweep()]
        out += self._probe_commands(start=False)
        reason = f'internal error: {event.error}'
        return out + self._move(S.FAILED, now, reason, pid=None, started_at=None,
                                next_restart_at=None, message=reason)

    def _on_health_reported(self, event: ev.HealthReported, now: float) -> list[cmd.Command]:
        if self.state is not S.RUNNING:
            return []
        old = self._view.health
        failures = 0 if event.ok else old.failures + 1
        successes = old.successes + 1 if event.ok else 0
        probe = self.spec.health
        threshold = probe.failure_threshold if probe else 1
        needed = probe.success_threshold if probe else 1
        healthy = (event.ok and (old.healthy or successes >= needed)) or \
            (not event.ok and old.healthy and failures < threshold)
        self._view = replace(self._view, health=Health(
            checked=True, healthy=healthy, message=event.message, checked_at=now,
            failures=failures, successes=successes))
        return []

    def _on_probe_reported(self, event: ev.ProbeReported, now: float) -> list[cmd.Command]:
        if self.state is not S.RUNNING:
            return []
        if self.spec.startup is not None and self._started_up is (event.probe == 'startup'):
            return []       # a startup probe after it passed, a liveness probe before
        probe = self.spec.startup if event.probe == 'startup' else self.spec.liveness
        if probe is None:
            return []
        if event.ok:
            self._probe_failures[event.probe] = 0
            if event.probe == 'liveness':
                return []
            # RUNNING -> RUNNING: started up; readiness and liveness take over
            self._started_up = True
            self._view = replace(self._view, message='')
            return [cmd.StartProbes(kinds=self._steady_probes())]
        failures = self._probe_failures.get(event.probe, 0) + 1
        self._probe_failures[event.probe] = failures
        if failures < probe.failure_threshold:
            if event.probe == 'startup':
                self._view = replace(self._view, message=(
                    f'starting up: {event.message} ({failures}/{probe.failure_threshold})'))
            return []
        return self._stop_as_failure(
            now, f'{event.probe}: {event.message} ({failures} checks in a row)')

    def _on_usage_reported(self, event: ev.UsageReported, now: float) -> list[cmd.Command]:
        if self.state is not S.RUNNING:
            return []
        limits = self.spec.limits
        verdict = judge(limits, event.memory_bytes, event.cpu_percent)
        out: list[cmd.Command] = []
        was = self._view.limit_warning
        self._view = replace(self._view, limit_warning=verdict.soft or '')
        if bool(verdict.soft) != bool(was):
            # RUNNING -> RUNNING: over a soft limit, or back under it, is an event of its own
            out.append(cmd.AnnounceTransition(
                from_state=S.RUNNING, to_state=S.RUNNING,
                reason=verdict.soft or f'back under its limits ({was.split(" (")[0]})'))
        self._over_hard = self._over_hard + 1 if verdict.hard else 0
        if verdict.hard is None or self._over_hard < limits.over_samples:
            return out
        return out + self._stop_as_failure(
            now, f'{verdict.hard} for {self._over_hard} samples in a row')

    def _on_lifecycle_reported(self, event: ev.LifecycleReported,
                               now: float) -> list[cmd.Command]:
        if event.pid != self._view.pid:
            return []               # about an earlier run
        self._view = replace(self._view, lifecycle_state=event.state)
        if event.goal == 'finalized':
            if self.state is not S.STOPPING or not self._signal_after_lifecycle:
                return []
            # STOPPING -> STOPPING: the node is shut down (or refused): now the stop signal
            self._signal_after_lifecycle = False
            if not event.ok:
                self._view = replace(self._view, message=f'lifecycle: {event.message}')
            return [cmd.SignalGroup(signal=self.spec.stop.signal)]
        if self.state is not S.RUNNING or event.ok:
            return []               # RUNNING -> RUNNING: configured and activated
        return self._stop_as_failure(now, f'lifecycle: {event.message}')

    def _on_maintenance_set(self, event: ev.MaintenanceSet, now: float) -> list[cmd.Command]:
        if event.enabled == self._view.maintenance:
            return []
        self._view = replace(self._view, maintenance=event.enabled)
        out: list[cmd.Command] = []
        if event.enabled and self.state in (S.BACKOFF, S.COOLDOWN, S.FAILED) and self._timer:
            # BACKOFF | COOLDOWN -> CRASHED (FAILED stays): the pending restart is cancelled
            self._timer = 0
            out.append(cmd.CancelTimer())
            if self.state is not S.FAILED:
                out += self._move(S.CRASHED, now, 'maintenance: automatic restart cancelled',
                                  next_restart_at=None)
            else:
                self._view = replace(self._view, next_restart_at=None)
        what = 'maintenance: supervision paused' if event.enabled else \
            'maintenance over: supervision resumed'
        # an event of its own, in the state it is in
        return out + [cmd.AnnounceTransition(from_state=self.state, to_state=self.state,
                                             reason=what)]

    def _stop_as_failure(self, now: float, reason: str) -> list[cmd.Command]:
        if self._view.maintenance:
            # RUNNING -> RUNNING: in maintenance a failed probe or limit is shown, not acted on
            self._view = replace(self._view, message=f'maintenance: not acted on: {reason}')
            return []
        # RUNNING -> STOPPING, then the policy decides as after a crash
        out = self._begin_stop(now, reason, force=False)
        self._failing = reason
        return [cmd.StopProbes()] + out

    def _on_dependencies_changed(self, event: ev.DependenciesChanged,
                                 now: float) -> list[cmd.Command]:
        self._blocking = event.blocking
        if self.state is not S.WAITING:
            return []
        if event.blocking is not None:
            # WAITING -> WAITING: the reason now (the dependency's state, for how long)
            self._view = replace(self._view, message=f'waiting for {event.blocking}')
            return []
        # WAITING -> STARTING: every dependency condition holds
        return self._begin_start(now, 'dependencies ready',
                                 counts_as_restart=self._start_is_restart)

    def _on_dependency_lost(self, event: ev.DependencyLost, now: float) -> list[cmd.Command]:
        if self.state not in (S.STARTING, S.RUNNING) or self._view.maintenance:
            return []
        # RUNNING | STARTING -> STOPPING, then STARTING (or WAITING) once it is gone
        out = self._begin_stop(now, event.reason, force=False)
        self._then_start = True
        return out

    # -- helpers --------------------------------------------------------------------------------

    def _begin_start(self, now: float, reason: str, *,
                     counts_as_restart: bool) -> list[cmd.Command]:
        if self._blocking is not None:
            # -> WAITING: a dependency's condition does not hold; its change starts this
            self._start_is_restart = counts_as_restart
            message = f'waiting for {self._blocking}'
            return self._move(S.WAITING, now, f'{reason}; {message}', message=message,
                              next_restart_at=None)
        self._start_is_restart = False
        view = self._view
        if counts_as_restart:
            self._view = replace(view, restart_count=view.restart_count + 1,
                                 last_restart_at=now)
        return self._move(S.STARTING, now, reason, next_restart_at=None) + [cmd.Spawn()]

    def _begin_stop(self, now: float, reason: str, force: bool) -> list[cmd.Command]:
        signal = 'SIGKILL' if force else self.spec.stop.signal
        out: list[cmd.Command] = [cmd.SignalGroup(signal=signal)]
        if not force and self._view.lifecycle_state in ('active', 'inactive'):
            # a managed node is deactivated and shut down first; the signal follows
            self._signal_after_lifecycle = True
            out = [cmd.DriveLifecycle(goal='finalized')]
            signal = f'lifecycle shutdown, then {signal}'
        if not force:
            self._timer += 1
            out.append(cmd.StartTimer(delay=self.spec.stop.timeout, token=self._timer))
        return self._move(S.STOPPING, now, f'{reason} ({signal})') + out

    def _finish_stop(self, now: float, how: str) -> list[cmd.Command]:
        out: list[cmd.Command] = [cmd.Sweep()]
        if self._timer:
            out.append(cmd.CancelTimer())
            self._timer = 0
        if self._then_start:
            # STOPPING -> STARTING: the second half of an operator's restart
            self._then_start = False
            self._history = CrashHistory()
            return out + self._begin_start(now, f'{how}; restarting', counts_as_restart=True)
        # STOPPING -> STOPPED
        return out + self._move(S.STOPPED, now, f'stopped ({how})')

    def _fail_for_now(self, now: float, reason: str, **changes: Any) -> list[cmd.Command]:
        """-> FAILED; with retry_failed_after, a timer starts it again and the status says when."""
        retry = self.spec.restart.retry_failed_after
        message = changes.pop('message', reason)
        if retry is None:
            return self._move(S.FAILED, now, reason, message=message, **changes)
        self._timer += 1
        return [cmd.StartTimer(delay=retry, token=self._timer)] + self._move(
            S.FAILED, now, reason, message=f'{message}; retried in {retry:g} s',
            next_restart_at=now + retry, **changes)

    def _steady_probes(self) -> tuple[str, ...]:
        spec = self.spec
        return (('readiness',) if spec.health else ()) + (('liveness',) if spec.liveness else ())

    def _probe_commands(self, *, start: bool) -> list[cmd.Command]:
        spec = self.spec
        if spec.health is None and spec.liveness is None and spec.startup is None:
            return []
        if not start:
            return [cmd.StopProbes()]
        return [cmd.StartProbes(kinds=('startup',) if spec.startup else self._steady_probes())]

    def _move(self, target: S, now: float, reason: str, **changes: Any) -> list[cmd.Command]:
        source = self.state
        self._view = replace(self._view, state=target, last_change_at=now, **changes)
        return [cmd.AnnounceTransition(from_state=source, to_state=target, reason=reason)]


def _describe_exit(event: ev.Exited) -> str:
    if event.signal is not None:
        return f'killed by signal {event.signal}'
    if event.code is None:          # an adopted process: not our child, no exit status
        return 'ended (its exit status is not known)'
    return f'exited with code {event.code}'
