"""Spawning the processes of services: their environment and marker, a port's holder, the
cgroup of the run, the guardian's record, and whole waves started from a thread pool.

The supervisor decides when (a Spawn command of the machine); this module only starts the
process (or finds the stranger holding the port, for adoption) and hands it back.
"""

import asyncio
from collections.abc import Callable
import concurrent.futures
import subprocess

from omega_orchestrator.runtime import guardian, limits, ports, process
from omega_orchestrator.runtime.cgroups import CgroupTracker
from omega_orchestrator.runtime.environment import service_environment
from omega_orchestrator.runtime.lifeline import Lifeline
from omega_orchestrator.runtime.unit import ServiceUnit

SPAWN_THREADS = 8
Launch = Callable[[], 'subprocess.Popen | ports.Holder']


class Spawner:
    """Starts services' processes; thread-safe launches, waves from a pool."""

    def __init__(self, environment: dict[str, str], lifeline: Lifeline,
                 cgroups: CgroupTracker | None) -> None:
        self.environment = environment
        self.lifeline = lifeline
        self.cgroups = cgroups
        self._pool = concurrent.futures.ThreadPoolExecutor(SPAWN_THREADS, 'spawn')
        self.inflight: set[asyncio.Future] = set()

    def launch(self, unit: ServiceUnit) -> Launch:
        """The next generation's marker, and a function that starts its process (any
        thread): a Popen, or the Holder of the port to adopt; raises process.SpawnError.
        """
        spec = unit.spec
        self.lifeline.start()      # before the first service: see lifeline.py
        unit.generation += 1
        unit.marker = guardian.make_marker(self.lifeline.owner, spec.name, unit.generation)
        env = service_environment(self.environment, spec)
        env[process.MARKER_VAR] = unit.marker
        if spec.type == 'python':
            env.setdefault('PYTHONUNBUFFERED', '1')
        ours = f'{self.lifeline.owner}{spec.name}:'
        run_key = f'{spec.name}-{unit.generation}'     # this run's cgroup

        def launch() -> subprocess.Popen | ports.Holder:
            if spec.port is not None:     # taken by a process we did not start?
                held = ports.holder(spec.port)
                if held is not None and not held.marker.startswith(ours):
                    if spec.adopt_existing and held.pid is not None:
                        return held      # taken over by the supervisor
                    raise process.SpawnError(held.describe() + (
                        '' if spec.adopt_existing else
                        '; stop it, or set "adopt_existing": true to take it over'))
            proc = process.spawn([spec.cmd, *spec.args], cwd=spec.working_dir, env=env)
            in_cgroup = self.cgroups is not None and self.cgroups.add(run_key, proc.pid)
            if spec.limits.watched() or spec.limits.nice is not None or spec.limits.cpu_affinity:
                unit.enforcement = limits.enforce(
                    proc.pid, spec.limits,
                    self.cgroups.path(run_key) if self.cgroups is not None and in_cgroup
                    else None)
            self.lifeline.watch(proc.pid, spec.stop.signal, spec.stop.timeout)
            return proc
        return launch

    async def prespawn(self, units: list[ServiceUnit]) -> None:
        """Start the processes of a wave from the pool, at once: exec'ing a program costs
        milliseconds of waiting in the parent, which threads overlap. Each result waits in
        unit.prespawned until the supervisor's Spawn takes it over, in order.
        """
        loop = asyncio.get_running_loop()
        launches = [self.launch(u) for u in units]
        spawning = asyncio.gather(
            *(loop.run_in_executor(self._pool, launch) for launch in launches),
            return_exceptions=True)
        self.inflight.add(spawning)
        spawning.add_done_callback(self.inflight.discard)
        try:
            results = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            # Shutting down: none of them may be left running. The spawns finish on their
            # own; settle() waits for them, and this callback kills what they started.
            spawning.add_done_callback(lambda done: self._discard_all(units, done.result()))
            raise
        for unit, result in zip(units, results, strict=True):
            unit.prespawned = result

    def discard(self, unit: ServiceUnit) -> None:
        """Kill a prespawned process nobody will take over (the service started meanwhile)."""
        ready, unit.prespawned = unit.prespawned, None
        if isinstance(ready, subprocess.Popen):
            process.signal_group(ready.pid, 'SIGKILL')
            self.lifeline.forget(ready.pid)
            ready.wait()
            process.forget(ready.pid)

    def _discard_all(self, units: list[ServiceUnit], results: list) -> None:
        for unit, result in zip(units, results, strict=True):
            unit.prespawned = result
            self.discard(unit)

    async def settle(self) -> None:
        """Wait for spawns still in flight (a cancelled start-up's), which kill what they
        started.
        """
        if self.inflight:
            await asyncio.gather(*self.inflight, return_exceptions=True)
