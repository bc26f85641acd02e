"""What follows the end of a run, off the loop: the sweep of whatever the run left, and a
service's stop_cmd. Both are tracked in unit.sweeps, which wait_stopped waits for.
"""

import asyncio
from collections.abc import Callable
import logging
import time

from omega_orchestrator.runtime import process
from omega_orchestrator.runtime.cgroups import CgroupTracker
from omega_orchestrator.runtime.lifeline import Lifeline
from omega_orchestrator.runtime.stop_command import run_stop_command
from omega_orchestrator.runtime.unit import ServiceUnit

log = logging.getLogger('omega_orchestrator')


def start_sweep(unit: ServiceUnit, *, cgroups: CgroupTracker | None, lifeline: Lifeline,
                subreaper: bool, done: Callable[[], None]) -> None:
    """SIGKILL the run's group now, then in a worker thread its cgroup (what escaped the
    group) and the processes carrying its marker; done() when finished.
    """
    pgid, marker = unit.pgid, unit.marker
    if pgid is None and not marker:
        return
    if pgid is not None:
        process.signal_group(pgid, 'SIGKILL')
        lifeline.forget(pgid)
    unit.pgid = None
    run_key = f'{unit.spec.name}-{unit.generation}'

    requested_at = time.monotonic()

    def sweep() -> int:
        escaped = cgroups.kill(run_key) if cgroups is not None else 0
        return escaped + process.sweep(marker, subreaper, pgid, requested_at)
    future = asyncio.get_running_loop().run_in_executor(None, sweep)
    unit.sweeps.add(future)

    def finished(fut: asyncio.Future) -> None:
        unit.sweeps.discard(fut)
        if not fut.cancelled() and fut.exception() is None and fut.result():
            log.warning('%s: killed %d escaped descendant(s)', unit.spec.name, fut.result())
        done()
    future.add_done_callback(finished)


def start_stop_command(unit: ServiceUnit, env: dict[str, str],
                       done: Callable[[], None]) -> None:
    """Run the service's stop_cmd (if it has one) as a task; its outcome is logged."""
    spec = unit.spec
    if not spec.stop_cmd:
        return
    task = asyncio.get_running_loop().create_task(run_stop_command(spec, env))
    unit.sweeps.add(task)

    def finished(ended: asyncio.Task) -> None:
        unit.sweeps.discard(ended)
        if not ended.cancelled():
            outcome = ended.result()
            level = logging.INFO if outcome.endswith('exited 0') else logging.WARNING
            log.log(level, '%s: %s', spec.name, outcome)
        done()
    task.add_done_callback(finished)
