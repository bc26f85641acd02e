"""Memory over time: the orchestrator (with its ROS node) and the sidecar over many restarts.

The whole product as a robot runs it -- ``python -m omega_orchestrator`` and
``python -m omega_orchestrator.sidecar --port P`` on a private ROS domain with
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` -- over ``services`` services that each run
``/bin/sh -c 'printf . >> COUNTER; echo up; exec sleep RUN' soak --tag TAG``: a short run
(``RUN``, 0.1 s by default) that exits 0 and is restarted at once, forever. Their
``restart`` object asks for exactly that: ``stable_after: 0`` (every run counts as stable,
so no backoff), ``crash_loop_max: 1000000`` over a ``crash_loop_window`` of 1 s (no
cooldown); ``restart_policy: always`` already means unlimited retries. The counter files
count the spawns exactly.

Every ``restarts / SAMPLES`` restarts the RSS, open descriptors and threads of both processes
are sampled (psutil); the summary gives, per figure, the value at the start, after a
warm-up (the first tenth of the restarts), at the end, the maximum, and the least-squares
slope per 1,000 restarts after the warm-up.
"""

from dataclasses import dataclass
import json
import os
from pathlib import Path
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchstack import free_port
import httpx
import psutil

from benchkit.procs import sweep
from benchkit.supervisors import REPO_ROOT

SOAK_RESTART = {'stable_after': 0, 'crash_loop_max': 1_000_000, 'crash_loop_window': 1}
SAMPLES = 50
WARMUP_FRACTION = 0.1
POLL_S = 0.1
SETTLE_S = 3.0
UP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
FIGURES = ('rss_mb', 'fds', 'threads')


@dataclass
class Footprint:
    """One process at one moment."""

    rss_mb: float
    fds: int
    threads: int


@dataclass
class Sample:
    """Both processes after ``restarts`` restarts."""

    restarts: int
    elapsed_s: float
    orchestrator: Footprint
    sidecar: Footprint


@dataclass
class MemoryResult:
    """The samples and their summary (process -> figure -> statistic -> value)."""

    services: int
    run_s: float
    restart: dict[str, float]
    restarts: int
    seconds: float
    restarts_per_s: float
    zombies_at_end: int
    api_ok_at_end: bool
    samples: list[Sample]
    summary: dict[str, dict[str, dict[str, float]]]


def footprint(proc: psutil.Process) -> Footprint:
    """RSS, open descriptors and threads of ``proc``."""
    with proc.oneshot():
        return Footprint(proc.memory_info().rss / 2**20, proc.num_fds(), proc.num_threads())


def soak_registry(prefix: str, services: int, run_s: float, counters: Path) -> dict[str, object]:
    """Registry of ``services`` short runs restarted at once, each counting its spawns."""
    sleep = shutil.which('sleep') or '/bin/sleep'
    entries = []
    for index in range(services):
        name = f'soak_{index:02d}'
        counter = shlex.quote(str(counters / f'{name}.count'))
        script = f'printf . >> {counter}; echo up; exec {shlex.quote(sleep)} {run_s:g}'
        entries.append({'name': name, 'cmd': '/bin/sh',
                        'args': ['-c', script, 'soak', '--tag', f'{prefix}{name}'],
                        'autostart': True, 'restart_policy': 'always',
                        'restart': SOAK_RESTART})
    return {'version': '1.0', 'description': 'omega memory bench', 'services': entries}


def spawns(counters: Path) -> int:
    """Spawns so far of every service (the counter files' sizes)."""
    return sum(path.stat().st_size for path in counters.glob('*.count'))


def run_memory(prefix: str, restarts: int, services: int, run_s: float,
               timeout: float) -> MemoryResult:
    """Drive ``restarts`` restarts through the orchestrator, sampling both processes."""
    folder = Path(tempfile.mkdtemp(prefix='bench-memory-'))
    counters = folder / 'counters'
    counters.mkdir()
    registry = folder / 'registry.json'
    registry.write_text(json.dumps(soak_registry(prefix, services, run_s, counters)))
    port = free_port()
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with open(folder / 'output.log', 'wb') as out:
            for argv in ([sys.executable, '-m', 'omega_orchestrator', '--registry',
                          str(registry), '--log-dir', str(folder / 'logs')],
                         [sys.executable, '-m', 'omega_orchestrator.sidecar', '--port',
                          str(port)]):
                procs.append(subprocess.Popen(
                    argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True))
        return drive(procs, port, counters, restarts, (services, run_s), timeout)
    finally:
        stop_all(procs)
        sweep(prefix)
        shutil.rmtree(folder, ignore_errors=True)


def drive(procs: list[subprocess.Popen[bytes]], port: int, counters: Path, restarts: int,
          fleet: tuple[int, float], timeout: float) -> MemoryResult:
    """Wait for the API, then restart and sample until ``restarts`` restarts are done."""
    services, run_s = fleet
    orchestrator, sidecar = (psutil.Process(p.pid) for p in procs)
    url = f'http://127.0.0.1:{port}/api/services/list'
    with httpx.Client(timeout=10) as http:
        wait_listed(http, url, services, procs)
        time.sleep(SETTLE_S)
        every = max(1, restarts // SAMPLES)
        base, began = spawns(counters), time.monotonic()
        samples: list[Sample] = []
        done = 0
        while True:
            done = spawns(counters) - base
            if not samples or done >= samples[-1].restarts + every or done >= restarts:
                samples.append(Sample(done, time.monotonic() - began,
                                      footprint(orchestrator), footprint(sidecar)))
            if done >= restarts:
                break
            if any(p.poll() is not None for p in procs):
                raise RuntimeError('the orchestrator or the sidecar exited during the soak')
            if time.monotonic() - began > timeout:
                raise TimeoutError(f'{done} of {restarts} restarts after {timeout:.0f} s')
            time.sleep(POLL_S)
        seconds = time.monotonic() - began
        api_ok = http.get(url).status_code == 200
    return MemoryResult(services, run_s, dict(SOAK_RESTART), done, seconds, done / seconds,
                        count_zombies(orchestrator), api_ok, samples,
                        summarize(samples, restarts))


def count_zombies(proc: psutil.Process) -> int:
    """Children of ``proc`` that exited and were still not reaped half a second later."""
    first = zombie_pids(proc)
    time.sleep(0.5)
    return len(first & zombie_pids(proc))


def zombie_pids(proc: psutil.Process) -> set[int]:
    """PIDs of the zombie children of ``proc``."""
    found = set()
    for child in proc.children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                found.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def wait_listed(http: httpx.Client, url: str, services: int,
                procs: list[subprocess.Popen[bytes]]) -> None:
    """Until the sidecar lists every service (through ROS), failing fast if one exited."""
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError('the orchestrator or the sidecar exited at start-up')
        try:
            if http.get(url).json().get('count') == services:
                return
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f'the API did not list {services} services in {UP_TIMEOUT_S:.0f} s')


def summarize(samples: list[Sample], restarts: int) -> dict[str, dict[str, dict[str, float]]]:
    """Per process and figure: start, after warm-up, end, max, slope per 1,000 restarts."""
    warm_at = restarts * WARMUP_FRACTION
    warm = [s for s in samples if s.restarts >= warm_at] or samples[-1:]
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for process in ('orchestrator', 'sidecar'):
        summary[process] = {}
        for figure in FIGURES:
            def value(sample: Sample, figure: str = figure, process: str = process) -> float:
                return float(getattr(getattr(sample, process), figure))
            summary[process][figure] = {
                'start': value(samples[0]), 'warm': value(warm[0]),
                'warm_restarts': float(warm[0].restarts), 'end': value(samples[-1]),
                'max': max(value(s) for s in samples),
                'growth_after_warmup': value(samples[-1]) - value(warm[0]),
                'slope_per_1000': slope([s.restarts for s in warm], [value(s) for s in warm]),
            }
    return summary


def slope(xs: list[int], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs``, per 1,000; 0 with fewer than 2 points."""
    if len(set(xs)) < 2:
        return 0.0
    return statistics.linear_regression(xs, ys).slope * 1000


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT the orchestrator, then the sidecar; SIGKILL whichever does not exit."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
