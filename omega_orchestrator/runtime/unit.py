"""ServiceUnit: the runtime side of one service (machine, process, logs, timer, probes)."""

import asyncio
from collections.abc import Callable
from dataclasses import replace
import subprocess

from omega_orchestrator.core.machine import MachineView, ServiceMachine
from omega_orchestrator.core.readiness import settled
from omega_orchestrator.core.registry import ServiceSpec
from omega_orchestrator.runtime import ports
from omega_orchestrator.runtime.clock import Clock, TimerHandle, wall_offset
from omega_orchestrator.runtime.limits import describe as describe_limits
from omega_orchestrator.runtime.logs import ServiceLogs
from omega_orchestrator.runtime.metrics import NO_USAGE
from omega_orchestrator.runtime.status import EngineStatus


class ServiceUnit:
    """Everything the supervisor keeps for one service besides its state (the machine's)."""

    def __init__(self, spec: ServiceSpec, logs: ServiceLogs, clock: Clock) -> None:
        self.spec = spec
        self.clock = clock
        self.machine = ServiceMachine(spec)
        self.logs = logs
        self.proc: subprocess.Popen | None = None
        self.pgid: int | None = None
        self.marker = ''
        self.generation = 0
        self.drain: Callable[[], None] | None = None
        self.stderr_mark = 0        # where the current run's stderr begins in the logs
        self.timer: TimerHandle | None = None
        self.probe_tasks: dict[str, asyncio.Task] = {}     # by kind: startup, readiness...
        self.sweeps: set[asyncio.Future] = set()
        self.usage = NO_USAGE
        # a wave's process started ahead (spawning.Spawner.prespawn), or why it failed
        self.prespawned: subprocess.Popen | ports.Holder | BaseException | None = None
        self.adopted: int | None = None    # pid of a process taken over (adopt_existing)
        self.enforcement: dict[str, str] = {}   # who enforces which limit (runtime.limits)
        self.lifecycle_task: asyncio.Task | None = None   # driving the managed node
        self._last_status: tuple[tuple, EngineStatus] | None = None   # see status()

    def settled(self) -> bool:
        """Up or given up: dependants may start (core.readiness decides)."""
        return settled(self.machine.state, oneshot=self.spec.oneshot)

    def status(self) -> EngineStatus:
        """The immutable status now, with monotonic times turned into wall-clock times.

        Asked often (for every service by a whole snapshot, by the API's lists): while nothing
        it is made of changed (the machine's view, the usage, the logs' problem... all
        replaced, never mutated), the last one is reused with only its uptime moved.
        """
        view, mono = self.machine.view, self.clock.monotonic()
        uptime = mono - view.started_at if view.started_at is not None else 0.0
        offset = wall_offset(self.clock, mono)     # a step of it rebuilds the wall-clock times
        parts = (view, self.usage, self.logs.problem, self.adopted, self.enforcement, self.spec,
                 offset)
        last = self._last_status
        if last is not None:
            was = last[0]
            if was[0] is view and was[1] is self.usage and was[2] == parts[2] and \
                    was[3] == self.adopted and was[4] is self.enforcement and \
                    was[5] is self.spec and was[6] == offset:
                return last[1].at_uptime(uptime)
        status = self._build_status(view, mono, uptime)
        self._last_status = (parts, status)
        return status

    def _build_status(self, view: MachineView, mono: float, uptime: float) -> EngineStatus:
        wall = self.clock.time()

        def to_wall(t: float | None) -> float | None:
            # to the millisecond: the same instant gives the same number in every snapshot,
            # so a status whose fields did not change compares equal (ros.messages caches)
            return None if t is None else round(wall - (mono - t), 3)
        health = view.health
        if health.checked_at is not None:
            health = replace(health, checked_at=to_wall(health.checked_at))
        message = view.message
        if self.adopted is not None and not message:
            message = f'adopted pid {self.adopted} (it was already running): its output is ' \
                      'not captured'
        if view.limit_warning:    # over a soft limit (or a hard one, for a few samples)
            message = f'{message}; {view.limit_warning}' if message else view.limit_warning
        if self.logs.problem:     # the service runs on; its output is kept in memory only
            message = f'{message}; {self.logs.problem}' if message else self.logs.problem
        return EngineStatus(
            spec=self.spec, state=view.state, pid=view.pid, message=message,
            restart_count=view.restart_count, crash_count=view.crash_count,
            last_exit_code=view.last_exit_code, last_exit_signal=view.last_exit_signal,
            uptime=uptime, start_time=to_wall(view.started_at),
            last_restart=to_wall(view.last_restart_at), last_change=to_wall(view.last_change_at),
            next_restart=to_wall(view.next_restart_at), health=health,
            usage=self.usage if view.pid is not None else NO_USAGE,
            adopted=self.adopted is not None,
            paused=view.pid is not None and self.usage.paused,
            log_problem=self.logs.problem, limit_warning=view.limit_warning,
            lifecycle_state=view.lifecycle_state, maintenance=view.maintenance,
            limits=describe_limits(self.spec.limits, self.enforcement))
