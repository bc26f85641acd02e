"""The three benchmark scenarios, each a fresh supervisor run over fresh children.

* ``run_fleet``: N sleepers -- time to start all, idle CPU and RSS of the
  supervisor process, then time to stop all on SIGTERM.
* ``run_crash``: N sleepers -- SIGKILL one child at a time, round-robin, and
  time until a new process with the same tag exists.
* ``run_orphans``: N forkers -- once every grandchild exists, settle, SIGTERM
  the supervisor and count the grandchildren still alive 2 s after it exited.

Times are taken with ``time.perf_counter`` in the benchmark process and
reported in milliseconds.
"""

from dataclasses import dataclass
import os
import signal
import statistics
import time

import psutil

from benchkit.launch import Launched, launched
from benchkit.procs import (
    count_pids,
    count_present,
    find_other,
    POLL_SLEEP,
    scan,
    sweep,
    TagMap,
    wait_all_present,
    wait_for,
)
from benchkit.supervisors import KILL_MIN_AGE, Service, Supervisor

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
KILL_TIMEOUT_S = 10.0
SETTLE_S = 3.0
KILL_GAP_S = 0.1
ORPHAN_GRACE_S = 2.0
STOP_POLL_S = 0.002
MS = 1000.0


@dataclass
class IdleResult:
    """Supervisor-process cost while all children just sleep."""

    window_s: float
    cpu_s: float
    cpu_percent: float
    rss_mb: float
    threads: int
    restarts: int


@dataclass
class StopResult:
    """Time from SIGTERM to supervisor exited and every child gone."""

    stop_ms: float
    supervisor_exit_ms: float
    exit_code: int | None


@dataclass
class FleetResult:
    """Start, idle and stop of one fleet of sleepers."""

    services: int
    start_ms: float
    idle: IdleResult
    stop: StopResult


@dataclass
class CrashResult:
    """Crash-to-new-PID latencies."""

    services: int
    kills: int
    latencies_ms: list[float]
    median_ms: float
    p95_ms: float
    max_ms: float


@dataclass
class OrphanResult:
    """What is left of a fleet of forkers after the supervisor stopped."""

    services: int
    grandchildren_started: int
    supervisor_exit_ms: float
    exit_code: int | None
    grandchildren_surviving: int
    children_surviving: int
    survivors_killed: int


def make_services(prefix: str, count: int, script: str) -> list[Service]:
    """``count`` services ``svc_NN`` running ``script`` with tags ``<prefix>svc_NN``."""
    names = [f'svc_{index:02d}' for index in range(count)]
    return [Service(name, f'{prefix}{name}', script) for name in names]


def wait_up(run: Launched, prefix: str, tags: list[str]) -> TagMap:
    """Wait until every tag has a live process, failing fast if the supervisor dies."""
    return wait_all_present(prefix, tags, START_TIMEOUT_S, run.ensure_alive)


def run_fleet(sup: Supervisor, prefix: str, count: int, idle_seconds: float) -> FleetResult:
    """Start ``count`` sleepers, measure idle cost, then stop them all."""
    services = make_services(prefix, count, 'sleeper.py')
    tags = [svc.tag for svc in services]
    with launched(sup, services, prefix) as run:
        wait_up(run, prefix, tags)
        start_ms = (time.perf_counter() - run.started_at) * MS
        idle = measure_idle(run, prefix, tags, idle_seconds)
        stop = measure_stop(run, prefix, tags)
    return FleetResult(count, start_ms, idle, stop)


def cpu_seconds(process: psutil.Process) -> float:
    """User plus system CPU time of ``process`` (all its threads, not its children)."""
    times = process.cpu_times()
    return times.user + times.system


def pid_snapshot(prefix: str, tags: list[str]) -> dict[str, list[int]]:
    """Sorted PIDs per tag, to detect restarts during a measurement window."""
    found = scan(prefix)
    return {tag: sorted(found.get(tag, [])) for tag in tags}


def measure_idle(run: Launched, prefix: str, tags: list[str], window: float) -> IdleResult:
    """Settle, then measure the supervisor's CPU over ``window`` seconds and its RSS."""
    time.sleep(SETTLE_S)
    before = pid_snapshot(prefix, tags)
    cpu_before, wall_before = cpu_seconds(run.process), time.monotonic()
    time.sleep(window)
    cpu_used = cpu_seconds(run.process) - cpu_before
    wall = time.monotonic() - wall_before
    after = pid_snapshot(prefix, tags)
    restarts = sum(1 for tag in tags if before[tag] != after[tag])
    rss_mb = run.process.memory_info().rss / 2**20
    percent = cpu_used / wall * 100
    return IdleResult(wall, cpu_used, percent, rss_mb, run.process.num_threads(), restarts)


def measure_stop(run: Launched, prefix: str, tags: list[str]) -> StopResult:
    """SIGTERM the supervisor; time until it exited and no tagged child is alive."""
    exited_at: float | None = None

    def stopped() -> bool:
        nonlocal exited_at
        if exited_at is None and not run.alive():
            exited_at = time.perf_counter()
        return exited_at is not None and count_present(scan(prefix), tags) == 0

    sent = run.terminate()
    wait_for(stopped, STOP_TIMEOUT_S, 'supervisor exit and all children gone', STOP_POLL_S)
    stop_ms = (time.perf_counter() - sent) * MS
    assert exited_at is not None
    return StopResult(stop_ms, (exited_at - sent) * MS, run.popen.returncode)


def run_crash(sup: Supervisor, prefix: str, count: int, kills: int) -> CrashResult:
    """SIGKILL children round-robin ``kills`` times; collect the restart latencies."""
    services = make_services(prefix, count, 'sleeper.py')
    tags = [svc.tag for svc in services]
    with launched(sup, services, prefix) as run:
        found = wait_up(run, prefix, tags)
        latencies = kill_round_robin(run, tags, found, kills)
    return summarize_crash(count, latencies)


def kill_round_robin(run: Launched, tags: list[str], found: TagMap, kills: int) -> list[float]:
    """Kill one tag's process at a time; never kill one younger than KILL_MIN_AGE."""
    current = {tag: found[tag][0] for tag in tags}
    seen_at = dict.fromkeys(tags, time.monotonic())
    latencies: list[float] = []
    for index in range(kills):
        tag = tags[index % len(tags)]
        time.sleep(max(0.0, seen_at[tag] + KILL_MIN_AGE - time.monotonic()))
        latency, current[tag] = kill_and_wait(run, tag, current[tag])
        seen_at[tag] = time.monotonic()
        latencies.append(latency)
        time.sleep(KILL_GAP_S)
    return latencies


def kill_and_wait(run: Launched, tag: str, old_pid: int) -> tuple[float, int]:
    """SIGKILL ``old_pid``; return (ms until another ``tag`` process exists, its PID)."""
    new_pid: int | None = None

    def replaced() -> bool:
        nonlocal new_pid
        run.ensure_alive()
        new_pid = find_other(tag, old_pid)
        return new_pid is not None

    killed_at = time.perf_counter()
    os.kill(old_pid, signal.SIGKILL)
    wait_for(replaced, KILL_TIMEOUT_S, f'a new process for {tag}', POLL_SLEEP)
    latency_ms = (time.perf_counter() - killed_at) * MS
    assert new_pid is not None
    return latency_ms, new_pid


def summarize_crash(count: int, latencies: list[float]) -> CrashResult:
    """Median, p95 (inclusive method) and max of the latencies."""
    p95 = latencies[0] if len(latencies) < 2 else percentile(latencies, 95)
    median = statistics.median(latencies)
    return CrashResult(count, len(latencies), latencies, median, p95, max(latencies))


def percentile(values: list[float], pct: int) -> float:
    """The ``pct``-th percentile, linear interpolation between closest ranks."""
    return statistics.quantiles(values, n=100, method='inclusive')[pct - 1]


def run_orphans(sup: Supervisor, prefix: str, count: int) -> OrphanResult:
    """Start ``count`` forkers, SIGTERM the supervisor, count surviving descendants."""
    services = make_services(prefix, count, 'forker.py')
    tags = [svc.tag for svc in services]
    grand_tags = [f'{tag}-grandchild' for tag in tags]
    with launched(sup, services, prefix) as run:
        started = count_pids(wait_up(run, prefix, tags + grand_tags), grand_tags)
        time.sleep(SETTLE_S)
        sent = run.terminate()
        wait_for(lambda: not run.alive(), STOP_TIMEOUT_S, 'supervisor exit', STOP_POLL_S)
        exit_ms = (time.perf_counter() - sent) * MS
        time.sleep(ORPHAN_GRACE_S)
        found = scan(prefix)
        killed = sweep(prefix)
    grand, children = count_pids(found, grand_tags), count_pids(found, tags)
    code = run.popen.returncode
    return OrphanResult(count, started, exit_ms, code, grand, children, killed)
