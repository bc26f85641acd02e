"""The supervisor: one ServiceMachine per service, executing their commands against the OS.

Everything runs on one asyncio loop. Requests (start/stop/restart) are applied at once and
answer when accepted; process exits (pidfd), timers and probe results come back as events.
"""

import asyncio
from collections.abc import Callable
import functools
import logging
import os
import subprocess
import sys

from omega_orchestrator.core import commands as cmd
from omega_orchestrator.core import events as ev
from omega_orchestrator.core.errors import (
    OrchestratorError,
    ServiceNotFoundError,
    SpawnFailedError,
    WrongStateError,
)
from omega_orchestrator.core.graph import start_waves, stop_waves
from omega_orchestrator.core.registry import Registry
from omega_orchestrator.core.reload import plan_reload
from omega_orchestrator.core.states import (
    PROCESS_STATES,
    ServiceState,
)
from omega_orchestrator.runtime import cgroups, lifeline, ports, process
from omega_orchestrator.runtime.cleanup import start_stop_command, start_sweep
from omega_orchestrator.runtime.clock import Clock, LoopClock, wall_offset
from omega_orchestrator.runtime.environment import robot_environment, service_environment
from omega_orchestrator.runtime.gates import DependencyGates
from omega_orchestrator.runtime.groups import Groups
from omega_orchestrator.runtime.logs import LogSettings, ServiceLogs
from omega_orchestrator.runtime.managed_nodes import LifecycleDriver, ManagedNodes
from omega_orchestrator.runtime.metrics import MetricsSampler, NO_USAGE, sample_forever, Usage
from omega_orchestrator.runtime.probes import (
    DEFAULT_PROBES,
    exec_probe,
    Probe,
    run_probes,
    stop_probes,
)
from omega_orchestrator.runtime.spawning import Spawner
from omega_orchestrator.runtime.status import EngineStatus, TransitionEvent
from omega_orchestrator.runtime.transitions import Announcer
from omega_orchestrator.runtime.unit import ServiceUnit

log = logging.getLogger('omega_orchestrator')
Listener = Callable[[TransitionEvent], None]
DEPENDENCY_WAIT = 30.0
GUARDIAN_EXIT_WAIT = 15.0   # the guardian's grace is at most 10 s


class Supervisor:
    """Supervises the services of one registry."""

    def __init__(self, registry: Registry, log_settings: LogSettings, *,
                 probes: dict[str, Probe] | None = None, metrics_interval: float = 2.0,
                 environment: dict[str, str] | None = None, clock: Clock | None = None,
                 spawner: Spawner | None = None, use_cgroups: bool = False) -> None:
        """`environment`: what services start in (default: the robot's, see environment.py,
        taken from this process's environment now); `clock`: time and timers (default: the
        real ones; tests pass a fake to replay backoffs without waiting); `spawner`: what
        starts the processes (default: a Spawner over this supervisor's environment);
        `use_cgroups`: track each run in a cgroup of its own where the kernel allows (see
        cgroups.py: it finds what drops the marker, but each move costs the kernel an RCU
        grace period, about 15 ms here, so starting 50 services takes 2.5x as long).
        """
        self.clock = clock or LoopClock()
        self.registry = registry
        self.log_settings = log_settings
        self.probes = dict(DEFAULT_PROBES, **(probes or {}))
        self.metrics_interval = metrics_interval
        # services outlive neither a SIGKILL of this process nor a crash: see lifeline.py
        self._lifeline = lifeline.Lifeline(lifeline.new_owner(log_settings.log_dir),
                                           os.path.join(log_settings.log_dir, 'services.log'))
        self._touched: set[str] = set()      # see take_touched
        #: called (on the loop) when a service is touched while none was: see take_touched
        self.on_touched: Callable[[], None] | None = None
        self._wall_offset = wall_offset(self.clock, self.clock.monotonic())  # take_touched
        self._units = {s.name: ServiceUnit(s, self._new_logs(s.name), self.clock)
                       for s in registry.services}
        self._announcer = Announcer(self.clock)
        self._changed = asyncio.Event()
        self._sampler = MetricsSampler()
        self._metrics_task: asyncio.Task | None = None
        self._subreaper = process.become_subreaper()
        # by cgroup where the kernel lets us (nothing escapes), else subreaper + markers
        self._cgroups = cgroups.CgroupTracker.create(f'omega-{os.getpid()}-{id(self):x}') \
            if use_cgroups else None
        if self._cgroups is not None:
            self._lifeline.watch_cgroup(self._cgroups.base)
        #: how a service's processes are found at a stop: 'cgroup' or 'subreaper'
        self.tracking = 'cgroup' if self._cgroups else \
            'subreaper' if self._subreaper else 'process scan'
        self._base_env = robot_environment(os.environ, sys.prefix) if environment is None \
            else dict(environment)
        self.probes['exec'] = functools.partial(exec_probe, env=self._base_env)
        self._closing = False
        self._reloading = asyncio.Lock()
        #: set once the first autostart wave has been spawned (start-up work may follow)
        self.first_wave_spawned = asyncio.Event()
        self._spawner = spawner or Spawner(self._base_env, self._lifeline, self._cgroups)
        self.children = process.CHILDREN     # the process's own children (see ChildRegistry)
        self._gates = DependencyGates(self._apply, self.clock)
        self._gates.rebuild(self._units)
        self._managed = ManagedNodes()
        self._groups = Groups(self)

    # -- public API (call on the loop) ----------------------------------------------------------

    @property
    def closing(self) -> bool:
        """True once close() began: no new starts are accepted."""
        return self._closing

    def names(self) -> tuple[str, ...]:
        """Service names in registry order."""
        return tuple(self._units)

    def add_listener(self, listener: Listener) -> None:
        """Call listener(TransitionEvent) on every state change (on the loop; must not block)."""
        self._announcer.add_listener(listener)

    def use_lifecycle(self, driver: LifecycleDriver | None) -> None:
        """Managed nodes are driven by `driver` (the ROS face's); None: there is no ROS node
        (--no-ros), so a lifecycle service fails at once instead of waiting for one.
        """
        self._managed.use(driver)

    def start(self, name: str, reason: str = 'start requested') -> EngineStatus:
        """Start a service; returns once accepted.

        Raises ServiceNotFoundError, WrongStateError, or SpawnFailedError (with the status).
        """
        return self._request_start(name, ev.StartRequested(reason=reason))

    def stop(self, name: str, force: bool = False,
             reason: str = 'stop requested') -> EngineStatus:
        """Stop a service and keep it stopped; force = SIGKILL at once. Its stop_cmd, if
        any, runs too (wait_stopped waits for it).
        """
        status = self._request(name, ev.StopRequested(force=force, reason=reason))
        self._run_stop_cmd(self._unit(name))
        return status

    def restart(self, name: str, reason: str = 'restart requested') -> EngineStatus:
        """Stop (if running), then start again; a stopped service is started at once."""
        return self._request_start(name, ev.RestartRequested(reason=reason))

    def set_maintenance(self, name: str, enabled: bool) -> EngineStatus:
        """Pause (or resume) a service's supervision: no automatic restart; its probes and
        limits are shown but not acted on. Starting and stopping it by hand still work.
        """
        return self._request(name, ev.MaintenanceSet(enabled=enabled))

    def group(self, group: str) -> list[str]:
        """The services of a registry group, in start order; ServiceNotFoundError if none."""
        return self._groups.members(group)

    def act_on_group(self, group: str, action: str) -> list[str]:
        """Start (in dependency order), stop or restart (dependants first) a whole group;
        returns its services once accepted (see groups.py).
        """
        return self._groups.act(group, action)

    def status(self, name: str) -> EngineStatus:
        """The current status of one service."""
        return self._unit(name).status()

    def snapshot(self) -> tuple[EngineStatus, ...]:
        """The current status of every service, in registry order."""
        return tuple(u.status() for u in self._units.values())

    def take_touched(self) -> set[str]:
        """The services whose status may have changed since the last call, besides its
        uptime (for a publisher that sends what changed without asking every service each
        time): their machine, usage, limits or log problem changed; every service when the
        wall clock stepped (NTP on a robot without a real-time clock) since their statuses'
        times are wall-clock times. `on_touched` hears of the first touch after a take (not
        of a step of the clock: that is seen at the next take).
        """
        touched, self._touched = self._touched, set()
        offset = wall_offset(self.clock, self.clock.monotonic())
        if offset != self._wall_offset:
            self._wall_offset = offset
            touched.update(self._units)
        return touched

    def has_touched(self) -> bool:
        """Some service was touched since the last take_touched."""
        return bool(self._touched)

    def _touch(self, *names: str) -> None:
        if not self._touched and names and self.on_touched is not None:
            self.on_touched()
        self._touched.update(names)

    def _new_logs(self, name: str) -> ServiceLogs:
        return ServiceLogs(name, self.log_settings,
                           on_problem_change=lambda: self._touch(name))

    def logs(self, name: str, stream: str, lines: int) -> list[str]:
        """The last `lines` lines of a service's 'stdout' or 'stderr'."""
        return self._unit(name).logs.lines(stream, lines)

    async def start_all(self, wave_timeout: float = DEPENDENCY_WAIT) -> None:
        """Start the autostart services in dependency order.

        A wave starts once the one before it is up (running; a oneshot: exited 0) or has
        failed, or after wave_timeout seconds, so one stuck service cannot block the rest.
        A service whose dependency conditions do not hold yet waits (see gates.py) and
        starts by itself once they do; the waves do not wait for it.
        """
        self._ensure_metrics()
        auto = [s.name for s in self.registry.services if s.autostart]
        if not auto:
            self.first_wave_spawned.set()
        for wave in start_waves({n: u.spec.depends_on for n, u in self._units.items()}, auto):
            idle = [self._unit(n) for n in wave
                    if self._unit(n).machine.state not in PROCESS_STATES]
            for unit in idle:
                self._gates.refresh(unit)
            held = [u for u in idle if u.machine.blocking is not None]
            for unit in held:            # -> WAITING, with the reason: it starts by itself
                self.start_quietly(unit.spec.name, 'autostart')
            idle = [u for u in idle if u.machine.blocking is None]
            await self._spawner.prespawn(idle)
            for unit in idle:
                if unit.prespawned is not None and unit.machine.state in PROCESS_STATES:
                    self._spawner.discard(unit)   # started meanwhile by a request
                elif unit.prespawned is not None:
                    self.start_quietly(unit.spec.name, 'autostart')
            self.first_wave_spawned.set()
            await self._wait_settled([self._unit(n) for n in wave], wave_timeout)

    async def _wait_settled(self, units: list[ServiceUnit], timeout: float) -> None:
        """Wait until every unit is up or given up, or `timeout` s on the clock passed."""
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            self._changed.set()
        timer = self.clock.call_later(timeout, expire)   # on the clock: replayable
        await self.wait_for(lambda: bool(expired) or all(u.settled() for u in units))
        timer.cancel()
        if expired and not all(u.settled() for u in units):
            late = [u.spec.name for u in units if not u.settled()]
            log.warning('still not up after %g s: %s; starting the next services anyway',
                        timeout, ', '.join(late))

    async def stop_all(self, timeout: float | None = None) -> None:
        """Stop every service, dependants first; each wave is stopped concurrently.

        Services that ended on their own (exited, crashed, failed) are stopped too, which
        sweeps whatever they left behind, e.g. a oneshot's background process.
        """
        await self.stop_in_order(None, 'orchestrator shutting down', timeout)

    async def stop_in_order(self, names: list[str] | None, reason: str,
                            timeout: float | None = None) -> None:
        """Stop `names` (None: every service), dependants first, each wave waited for."""
        deps = {n: u.spec.depends_on for n, u in self._units.items()}
        for wave in stop_waves(deps, names):
            for name in wave:
                if self._unit(name).machine.state is not ServiceState.STOPPED:
                    self.stop(name, reason=reason)
            await asyncio.gather(*(self.wait_stopped(n, timeout) for n in wave))

    async def wait_stopped(self, name: str, timeout: float | None = None) -> None:
        """Wait until the service has no process and its sweep has finished."""
        unit = self._unit(name)
        await self.wait_for(lambda: unit.machine.state not in PROCESS_STATES, timeout)
        if unit.sweeps:
            await asyncio.wait_for(asyncio.gather(*unit.sweeps), timeout)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """Wait until predicate() is true; it is re-checked after every change."""
        async def waiter() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(waiter(), timeout)

    async def reload(self, registry: Registry,
                     timeout: float | None = None) -> tuple[list[str], list[str], list[str]]:
        """Adopt a new, already validated registry; returns (added, removed, changed).

        Removed services are stopped and dropped; changed ones are stopped, replaced and
        started again if they were running; added ones start if they autostart. Services
        whose spec did not change are not touched.
        """
        async with self._reloading:      # two reloads at once would lose track of processes
            return await self._reload(registry, timeout)

    async def _reload(self, registry: Registry,
                      timeout: float | None) -> tuple[list[str], list[str], list[str]]:
        old = self._units
        plan = plan_reload({n: u.spec for n, u in old.items()},
                           {n: u.machine.state for n, u in old.items()},
                           registry.by_name())
        # before anything changes: will the descriptors last? (else nothing is touched)
        process.check_descriptor_budget(plan.running_after)
        for name in plan.to_stop:        # finished ones too: their leftovers are swept
            if old[name].machine.state is not ServiceState.STOPPED:
                self.stop(name, reason='registry reloaded')
        await asyncio.gather(*(self.wait_stopped(n, timeout) for n in plan.to_stop))
        units = {}
        for spec in registry.services:
            keep = spec.name in old and spec.name not in plan.changed
            units[spec.name] = old[spec.name] if keep else ServiceUnit(
                spec, old[spec.name].logs if spec.name in old else self._new_logs(spec.name),
                self.clock)
        for name in plan.removed:
            old[name].logs.close()
        self.registry, self._units = registry, units
        self._touch(*units)
        self._gates.rebuild(units)
        for name in plan.start_after:
            self.start_quietly(name, 'registry reloaded')
        self._changed.set()
        return list(plan.added), list(plan.removed), list(plan.changed)

    async def close(self) -> None:
        """Stop everything (refusing new starts meanwhile) and release files and tasks."""
        self._closing = True
        self._gates.close()
        await self._spawner.settle()   # a cancelled start-up's spawns: landed, then killed
        await self.stop_all()
        if self._cgroups is not None:
            await asyncio.to_thread(self._cgroups.close)
        self._lifeline.close()      # nothing is left: the guardian finds nothing and exits
        await asyncio.to_thread(self._lifeline.wait, GUARDIAN_EXIT_WAIT)
        if self._metrics_task:
            self._metrics_task.cancel()
        self._sampler.close()
        for unit in self._units.values():
            unit.logs.close()

    # -- events in ------------------------------------------------------------------------------

    def _request_start(self, name: str, event: ev.Event) -> EngineStatus:
        """A start or restart: refused while closing; a failed spawn raises, with the status."""
        if self._closing:
            raise WrongStateError('the orchestrator is shutting down')
        self._ensure_metrics()
        self._gates.refresh(self._unit(name))
        status = self._request(name, event)
        if status.state is ServiceState.FAILED:
            raise SpawnFailedError(status.message, status)
        return status

    def start_quietly(self, name: str, reason: str) -> None:
        """Start without raising on a spawn failure (the FAILED state says it all)."""
        self._gates.refresh(self._unit(name))
        self._request(name, ev.StartRequested(reason=reason))

    def _request(self, name: str, event: ev.Event) -> EngineStatus:
        unit = self._unit(name)
        try:
            self._apply(unit, event)
        except WrongStateError as exc:   # the answer says which state it is in
            exc.status = unit.status()
            raise
        return unit.status()

    def _apply(self, unit: ServiceUnit, event: ev.Event) -> None:
        """One event through the machine and its commands through the OS. A failure in
        this one service's handling fails that service (with the reason); it never escapes
        into the loop, so the others and the engine carry on. Its dependants hear of it.
        """
        before = unit.machine.view
        moves: list[tuple[ServiceState, ServiceState]] = []
        try:
            with self._announcer.holding():      # the OS work first, then the news
                for command in unit.machine.handle(event, self.clock.monotonic()):
                    if isinstance(command, cmd.AnnounceTransition):
                        moves.append((command.from_state, command.to_state))
                    self._execute(unit, command, event)
        except OrchestratorError:      # a refused request (wrong state...): the caller's
            raise
        except Exception as exc:
            self._fail(unit, exc)
        finally:
            self._changed.set()
            self._touch(unit.spec.name)
        self._gates.changed(unit, before, moves)

    def _fail(self, unit: ServiceUnit, exc: Exception) -> None:
        log.exception('%s: unexpected error while handling it; the service is failed',
                      unit.spec.name)
        failure = ev.InternalError(error=f'{type(exc).__name__}: {exc}'[:500])
        try:
            for command in unit.machine.handle(failure, self.clock.monotonic()):
                self._execute(unit, command, failure)
        except Exception:
            log.critical('%s: could not even fail the service', unit.spec.name, exc_info=True)

    def _unit(self, name: str) -> ServiceUnit:
        unit = self._units.get(name)
        if unit is None:
            raise ServiceNotFoundError(name)
        return unit

    # -- commands out ---------------------------------------------------------------------------

    def _execute(self, unit: ServiceUnit, command: cmd.Command, cause: ev.Event) -> None:
        if isinstance(command, cmd.Spawn):
            self._spawn(unit)
        elif isinstance(command, cmd.SignalGroup):
            if unit.pgid is not None:
                process.signal_group(unit.pgid, command.signal)
            elif unit.adopted is not None:       # not our group: the process alone
                process.signal_process(unit.adopted, command.signal)
        elif isinstance(command, cmd.Sweep):
            self._sweep(unit)
        elif isinstance(command, cmd.StartTimer):
            self._set_timer(unit, command)
        elif isinstance(command, cmd.CancelTimer):
            self._cancel_timer(unit)
        elif isinstance(command, cmd.StartProbes):
            run_probes(unit, command.kinds, self.probes, self._apply)
        elif isinstance(command, cmd.StopProbes):
            stop_probes(unit)
        elif isinstance(command, cmd.DriveLifecycle):
            self._managed.drive(unit, command.goal, self._apply)
        elif isinstance(command, cmd.AnnounceTransition):
            self._announcer.announce(unit, command, cause)

    def _spawn(self, unit: ServiceUnit) -> None:
        spec = unit.spec
        ready, unit.prespawned = unit.prespawned, None
        try:
            if isinstance(ready, BaseException):
                raise ready
            launched = ready if ready is not None else self._spawner.launch(unit)()
            if isinstance(launched, ports.Holder):
                self._adopt(unit, launched)
                return
        except process.SpawnError as exc:
            self._apply(unit, ev.SpawnFailed(error=str(exc)))
            return
        except Exception as exc:   # e.g. ValueError from the environment, OSError (EMFILE)
            log.exception('%s: spawning failed', spec.name)
            self._apply(unit, ev.SpawnFailed(error=f'{type(exc).__name__}: {exc}'))
            return
        proc = launched
        assert proc.stdout is not None and proc.stderr is not None
        loop = asyncio.get_running_loop()
        try:
            unit.drain = unit.logs.attach(loop, proc.stdout, proc.stderr)
            unit.stderr_mark = unit.logs.mark('stderr')
            process.watch_exit(loop, proc, lambda code, sig: self._on_exit(unit, proc, code, sig))
        except Exception as exc:   # cannot watch it: do not leave it running unsupervised
            log.exception('%s: cannot watch the new process', spec.name)
            process.signal_group(proc.pid, 'SIGKILL')
            self._lifeline.forget(proc.pid)
            proc.wait()
            self._apply(unit, ev.SpawnFailed(error=f'cannot watch the process: {exc}'))
            return
        unit.proc, unit.pgid = proc, proc.pid
        self._apply(unit, ev.Spawned(pid=proc.pid))

    def _adopt(self, unit: ServiceUnit, held: ports.Holder) -> None:
        """Take over a process that already listens on the service's port (adopt_existing):
        it runs under its own pid; its exit is seen at once through a pidfd (its status is not
        ours to know), a stop signals it, its output is not captured.
        """
        pid = held.pid
        assert pid is not None
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as exc:
            self._apply(unit, ev.SpawnFailed(error=f'cannot adopt pid {pid}: {exc}'))
            return

        def gone() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            unit.adopted = None
            self._apply(unit, ev.Exited(pid=pid))
        loop.add_reader(pidfd, gone)
        unit.proc, unit.pgid, unit.adopted = None, None, pid
        log.info('%s: adopted pid %d, already listening on port %d: %s', unit.spec.name, pid,
                 held.port, held.cmdline)
        self._apply(unit, ev.Spawned(pid=pid))

    def _on_exit(self, unit: ServiceUnit, proc: subprocess.Popen, code: int | None,
                 sig: int | None) -> None:
        try:
            if unit.proc is proc and unit.drain is not None:
                unit.drain()   # the last lines belong in the tail before the exit is reported
        except Exception:      # losing output must never lose the exit
            log.exception('%s: reading the last output failed', unit.spec.name)
        self._apply(unit, ev.Exited(pid=proc.pid, code=code, signal=sig))
        if unit.pgid == proc.pid:
            # Not swept at once (a oneshot's success): the leader is reaped, so its number may
            # be reused; later sweeps go by the environment marker only.
            unit.pgid = None
            self._lifeline.forget(proc.pid)

    def _sweep(self, unit: ServiceUnit) -> None:
        start_sweep(unit, cgroups=self._cgroups, lifeline=self._lifeline,
                    subreaper=self._subreaper, done=self._changed.set)

    def _run_stop_cmd(self, unit: ServiceUnit) -> None:
        start_stop_command(unit, service_environment(self._base_env, unit.spec),
                           self._changed.set)

    def _set_timer(self, unit: ServiceUnit, command: cmd.StartTimer) -> None:
        self._cancel_timer(unit)
        token = command.token
        unit.timer = self.clock.call_later(
            command.delay, lambda: self._apply(unit, ev.TimerFired(token=token)))

    def _cancel_timer(self, unit: ServiceUnit) -> None:
        if unit.timer is not None:
            unit.timer.cancel()
            unit.timer = None

    # -- metrics --------------------------------------------------------------------------------

    def _ensure_metrics(self) -> None:
        if self._metrics_task is None and self.metrics_interval > 0:
            self._metrics_task = asyncio.get_running_loop().create_task(self._metrics_loop())

    async def _metrics_loop(self) -> None:
        def roots() -> dict[str, int]:
            return {n: u.machine.view.pid for n, u in self._units.items()
                    if u.machine.view.pid is not None}

        def publish(usage: dict[str, Usage]) -> None:
            for name, unit in list(self._units.items()):
                measured = usage.get(name, NO_USAGE)
                if measured != unit.usage:      # an equal one is kept: statuses are reused
                    unit.usage = measured
                    self._touch(name)
                if unit.spec.limits.watched() and name in usage:
                    self._apply(unit, ev.UsageReported(memory_bytes=unit.usage.memory_bytes,
                                                       cpu_percent=unit.usage.cpu_percent))
        await sample_forever(self._sampler, roots, publish, self.metrics_interval,
                             before=self.children.reap_orphans)
