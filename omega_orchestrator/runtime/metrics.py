"""CPU, memory and threads per service, summed over its whole process tree.

On Linux one pass reads, per process of a service's tree, /proc/PID/stat (CPU ticks, threads,
RSS) and /proc/PID/task/*/children (the tree), so the cost grows with the services' own
processes, not with everything running on the robot. Elsewhere, or when the kernel lacks
/proc/PID/task/*/children, the same numbers come from psutil. CPU % is the change in CPU time
over a window of at least MIN_WINDOW s (100 % = one core): CPU time is counted in clock ticks
(10 ms), so two passes a few milliseconds apart would turn one tick into hundreds of percent.
A pass sooner than that repeats the last rate and keeps the older baseline.
Sampling is blocking I/O: the supervisor runs it in a worker thread.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import logging
import os
import time

import psutil

from omega_orchestrator.runtime.process import (
    children_from_proc,
    children_from_psutil,
    PROC_CHILDREN,
)

log = logging.getLogger('omega_orchestrator')
_TICKS = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
_PAGE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096
#: The shortest wall time a CPU rate is measured over: a tick of error is at most 4 % of a core.
MIN_WINDOW = 0.25


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Resource use of one service's process tree."""

    cpu_percent: float = 0.0
    memory_bytes: int = 0
    threads: int = 0
    processes: int = 0
    paused: bool = False     # the main process is stopped by a signal (SIGSTOP, SIGTSTP)


@dataclass(frozen=True)
class _Baseline:
    cpu_seconds: float
    at: float
    rate: float         # the last CPU % measured from this process


@dataclass(frozen=True)
class _Reading:
    cpu_seconds: float
    threads: int
    rss: int
    started: int        # start time in clock ticks: tells a reused pid apart
    stopped: bool = False   # state T or t: stopped by a signal or traced


def _read_proc(pid: int) -> _Reading | None:
    try:
        with open(f'/proc/{pid}/stat', 'rb') as stat:
            data = stat.read()
    except OSError:
        return None
    fields = data[data.rfind(b')') + 2:].split()
    if fields[0] == b'Z':
        return None
    return _Reading(cpu_seconds=(int(fields[11]) + int(fields[12])) / _TICKS,
                    threads=int(fields[17]), rss=int(fields[21]) * _PAGE,
                    started=int(fields[19]), stopped=fields[0] in (b'T', b't'))


def _read_psutil(pid: int) -> _Reading | None:
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            times = proc.cpu_times()
            return _Reading(cpu_seconds=times.user + times.system, threads=proc.num_threads(),
                            rss=proc.memory_info().rss, started=int(proc.create_time() * 100),
                            stopped=proc.status() in (psutil.STATUS_STOPPED,
                                                      psutil.STATUS_TRACING_STOP))
    except psutil.Error:
        return None


class MetricsSampler:
    """Samples many process trees; remembers each process's CPU time between passes."""

    def __init__(self, use_proc: bool | None = None) -> None:
        fast = PROC_CHILDREN if use_proc is None else use_proc
        self._read = _read_proc if fast else _read_psutil
        self._children = children_from_proc if fast else children_from_psutil
        self._previous: dict[tuple[int, int], _Baseline] = {}

    def sample(self, roots: dict[str, int]) -> dict[str, Usage]:
        """Usage per service name, given each service's main pid."""
        now = time.monotonic()
        current: dict[tuple[int, int], _Baseline] = {}
        result = {name: self._tree_usage(root, now, current) for name, root in roots.items()}
        self._previous = current
        return result

    def _tree_usage(self, root: int, now: float,
                    current: dict[tuple[int, int], _Baseline]) -> Usage:
        cpu, rss, threads, count, paused = 0.0, 0, 0, 0, False
        stack, seen = [root], set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            reading = self._read(pid)
            if reading is None:
                continue
            paused = paused or (pid == root and reading.stopped)
            key = (pid, reading.started)
            current[key] = baseline = _advance(self._previous.get(key), reading.cpu_seconds, now)
            cpu += baseline.rate
            rss += reading.rss
            threads += reading.threads
            count += 1
            stack.extend(self._children(pid))
        return Usage(cpu_percent=round(max(cpu, 0.0), 1), memory_bytes=rss, threads=threads,
                     processes=count, paused=paused)


def _advance(before: _Baseline | None, cpu_seconds: float, now: float) -> _Baseline:
    """The baseline after a reading: a new rate once MIN_WINDOW has passed, else the old one."""
    if before is None:
        return _Baseline(cpu_seconds, now, 0.0)
    if now - before.at < MIN_WINDOW:
        return before
    rate = max(100.0 * (cpu_seconds - before.cpu_seconds) / (now - before.at), 0.0)
    return _Baseline(cpu_seconds, now, rate)


async def sample_forever(sampler: MetricsSampler, roots: Callable[[], dict[str, int]],
                         publish: Callable[[dict[str, Usage]], None], interval: float,
                         before: Callable[[], object] | None = None) -> None:
    """Sample the services' trees every `interval` s in a worker thread until cancelled;
    `before` runs in the same thread first (the orphan reaper). A failed pass publishes
    empty usage and is logged; the loop goes on.
    """
    def sample(pids: dict[str, int]) -> dict[str, Usage]:
        if before is not None:
            before()
        return sampler.sample(pids)
    while True:
        try:
            usage = await asyncio.to_thread(sample, roots())
        except Exception:
            log.exception('metrics sampling failed')
            usage = {}
        publish(usage)
        await asyncio.sleep(interval)
