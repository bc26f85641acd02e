"""Crash storm: 10 sleepers beside 20 services that crash-loop on ``/bin/false``.

Each storm service is ``/bin/sh -c 'printf . >> COUNTER; exec /bin/false' storm --tag TAG``:
it appends one byte to its own counter file, becomes ``/bin/false`` and exits 1 at once, so
the counters hold the exact number of spawns however short-lived the processes are (a scan
of the process table would miss most of them). The supervisor keeps its default restart
behaviour for them: ``restart_policy: always`` with no ``restart`` object for omega,
``autorestart=true`` for supervisord, circus's ``respawn``, launch's ``respawn=True``.

Phases, one supervisor run: wait for the sleepers, settle, then over ``seconds`` the
supervisor's CPU (% of one core) and the storm's spawns per second; then, the storm still
going, the crash -> new PID latency of the sleepers (the kills of the crash scenario); then
SIGINT and the time until the supervisor exits, ``None`` when it has not within
``stop_timeout`` (it hangs, and is killed).
"""

from dataclasses import dataclass
from pathlib import Path
import shlex
import shutil
import signal
import statistics
import tempfile
import time

from benchkit.launch import Launched, launched
from benchkit.procs import count_pids, scan, wait_for
from benchkit.scenarios import (
    cpu_seconds,
    kill_round_robin,
    make_services,
    percentile,
    SETTLE_S,
    STOP_POLL_S,
    wait_up,
)
from benchkit.supervisors import Service, Supervisor

SHELL = '/bin/sh'
ORPHAN_GRACE_S = 2.0


@dataclass
class StormWindow:
    """The supervisor's cost over the storm window, and the storm's rate."""

    window_s: float
    cpu_s: float
    cpu_percent: float
    storm_spawns: int
    storm_restarts_per_s: float
    spawns_per_service: list[int]
    rss_mb: float
    threads: int


@dataclass
class StormStop:
    """SIGINT during the storm: seconds to exit (None: it hung and was killed)."""

    sigint_exit_s: float | None
    hung: bool
    exit_code: int | None
    sleepers_alive_after_exit: int


@dataclass
class StormResult:
    """What a crash storm costs the supervisor and does to the other services."""

    sleepers: int
    storm_services: int
    window: StormWindow
    latencies_ms: list[float]
    median_ms: float | None
    p95_ms: float | None
    stop: StormStop


def storm_services(prefix: str, count: int, counters: Path) -> list[Service]:
    """``count`` services ``storm_NN`` crash-looping on /bin/false, each counting spawns."""
    false = shutil.which('false') or '/bin/false'
    services = []
    for index in range(count):
        name = f'storm_{index:02d}'
        tag = f'{prefix}{name}'
        counter = shlex.quote(str(counters / f'{name}.count'))
        script = f'printf . >> {counter}; exec {shlex.quote(false)}'
        services.append(Service(name, tag, command=(SHELL, '-c', script, 'storm', '--tag', tag)))
    return services


def spawn_counts(counters: Path, services: list[Service]) -> list[int]:
    """Spawns so far of each storm service (the size of its counter file)."""
    counts = []
    for svc in services:
        try:
            counts.append((counters / f'{svc.name}.count').stat().st_size)
        except FileNotFoundError:
            counts.append(0)
    return counts


def run_storm(sup: Supervisor, prefix: str, sleepers: int, storm: int, seconds: float,
              kills: int, stop_timeout: float) -> StormResult:
    """The storm scenario for one supervisor (see the module docstring)."""
    counters = Path(tempfile.mkdtemp(prefix='bench-storm-'))
    try:
        calm = make_services(prefix, sleepers, 'sleeper.py')
        wild = storm_services(prefix, storm, counters)
        tags = [svc.tag for svc in calm]
        with launched(sup, calm + wild, prefix) as run:
            wait_up(run, prefix, tags)
            time.sleep(SETTLE_S)
            window = measure_window(run, counters, wild, seconds)
            found = wait_up(run, prefix, tags)
            latencies = kill_round_robin(run, tags, found, kills) if kills else []
            stop = interrupt(run, prefix, tags, stop_timeout)
    finally:
        shutil.rmtree(counters, ignore_errors=True)
    median = statistics.median(latencies) if latencies else None
    p95 = None
    if latencies:
        p95 = latencies[0] if len(latencies) == 1 else percentile(latencies, 95)
    return StormResult(sleepers, storm, window, latencies, median, p95, stop)


def measure_window(run: Launched, counters: Path, wild: list[Service],
                   seconds: float) -> StormWindow:
    """Supervisor CPU and storm spawns over ``seconds``."""
    before = spawn_counts(counters, wild)
    cpu_before, wall_before = cpu_seconds(run.process), time.monotonic()
    time.sleep(seconds)
    cpu_used = cpu_seconds(run.process) - cpu_before
    wall = time.monotonic() - wall_before
    after = spawn_counts(counters, wild)
    run.ensure_alive()
    per_service = [b - a for a, b in zip(before, after, strict=True)]
    spawns = sum(per_service)
    return StormWindow(wall, cpu_used, cpu_used / wall * 100, spawns, spawns / wall,
                       per_service, run.process.memory_info().rss / 2**20,
                       run.process.num_threads())


def interrupt(run: Launched, prefix: str, tags: list[str], timeout: float) -> StormStop:
    """SIGINT; seconds until the supervisor exited, and the sleepers alive 2 s after."""
    sent = run.terminate(signal.SIGINT)
    try:
        wait_for(lambda: not run.alive(), timeout, 'exit after SIGINT', STOP_POLL_S)
    except TimeoutError:
        return StormStop(None, True, None, count_pids(scan(prefix), tags))
    exit_s = time.perf_counter() - sent
    time.sleep(ORPHAN_GRACE_S)
    return StormStop(exit_s, False, run.popen.returncode, count_pids(scan(prefix), tags))
