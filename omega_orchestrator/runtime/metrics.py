"""CPU, memory and threads per service, summed over its whole process tree.

On Linux one pass reads, per process of a service's tree, /proc/PID/stat (CPU ticks, threads,
RSS) and /proc/PID/task/*/children (the tree), so the cost grows with the services' own
processes, not with everything running on the robot; those files stay open between passes
and are re-read in place (about 12 us per process and pass). Elsewhere, or when the kernel lacks
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
import resource
import threading
import time
from typing import NamedTuple

import psutil

from omega_orchestrator.runtime.process import (
    children_from_proc,
    children_from_psutil,
    PROC_CHILDREN,
    read_proc_file,
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


#: no process, no use
NO_USAGE = Usage()


class _Baseline(NamedTuple):
    cpu_seconds: float
    at: float
    rate: float         # the last CPU % measured from this process


class _Reading(NamedTuple):
    cpu_seconds: float
    threads: int
    rss: int
    started: int        # start time in clock ticks: tells a reused pid apart
    stopped: bool = False   # state T or t: stopped by a signal or traced


class _ProcFiles:
    """Descriptors kept open on each sampled process's /proc/PID/stat and its threads'
    children files: a pass re-reads them in place (pread), which costs a third of opening,
    reading and closing them again. A descriptor belongs to one process, not to its pid: once
    that process is gone it reads ESRCH, so a reused pid is never mistaken for the old one.
    Descriptors of processes not met in a pass are closed at its end (`keep_only`). At most
    `limit` are kept (a quarter of the soft limit of open files, at most 8,192): the
    processes past it are read through a descriptor opened and closed at once, as before.
    """

    def __init__(self, limit: int | None = None) -> None:
        self._stat: dict[int, int] = {}
        self._tasks: dict[int, tuple[tuple, list[int]]] = {}  # pid -> (its tids, their fds)
        self.limit = _held_limit() if limit is None else limit
        self.held = 0

    def reading(self, pid: int) -> _Reading | None:
        fd, data = self._stat.get(pid), b''
        if fd is not None:
            try:
                data = read_proc_file(fd)
            except OSError:      # that process is gone: a new one may have its pid
                pass
            if not data:
                self._drop(pid)
        if not data:
            try:
                data = self._open_and_read(pid, f'/proc/{pid}/stat')
            except OSError:
                self._drop(pid)
                return None
        fields = data[data.rfind(b')') + 2:].split()
        if fields[0] == b'Z':
            return None
        return _Reading((int(fields[11]) + int(fields[12])) / _TICKS, int(fields[17]),
                        int(fields[21]) * _PAGE, int(fields[19]), fields[0] in (b'T', b't'))

    def children(self, pid: int, threads: int) -> list[int]:
        """Direct children, from every thread's children file. A single-threaded process has
        one; a multi-threaded one is listed each pass (a thread that ends reads empty, not an
        error) and its files are opened again only when its threads changed.
        """
        try:
            tids = (pid,) if threads == 1 else tuple(os.listdir(f'/proc/{pid}/task'))
        except OSError:
            return []
        held = self._tasks.get(pid)
        if held is not None and held[0] == tids:
            try:
                return [int(c) for fd in held[1] for c in read_proc_file(fd).split()]
            except OSError:
                pass
        self._close_tasks(pid)
        if self.held + len(tids) > self.limit:      # read once, keep nothing
            return children_from_proc(pid)
        fds: list[int] = []
        for tid in tids:
            try:
                fds.append(os.open(f'/proc/{pid}/task/{tid}/children', os.O_RDONLY))
            except OSError:      # that thread ended meanwhile; the others still count
                pass
        self._tasks[pid] = (tids, fds)
        self.held += len(fds)
        try:
            return [int(c) for fd in fds for c in read_proc_file(fd).split()]
        except OSError:
            return []

    def keep_only(self, pids: set[int]) -> None:
        """Close the descriptors of every process not in `pids`."""
        for pid in [p for p in self._stat if p not in pids]:
            self._drop(pid)
        for pid in [p for p in self._tasks if p not in pids]:
            self._close_tasks(pid)

    def close(self) -> None:
        self.keep_only(set())

    def _open_and_read(self, pid: int, path: str) -> bytes:
        """Open a process's stat file, kept open while there is room."""
        fd = os.open(path, os.O_RDONLY)
        if self.held < self.limit:
            self._stat[pid] = fd
            self.held += 1
            return read_proc_file(fd)
        try:
            return read_proc_file(fd)
        finally:
            os.close(fd)

    def _drop(self, pid: int) -> None:
        fd = self._stat.pop(pid, None)
        if fd is not None:
            os.close(fd)
            self.held -= 1
        self._close_tasks(pid)

    def _close_tasks(self, pid: int) -> None:
        fds = self._tasks.pop(pid, ((), []))[1]
        for fd in fds:
            os.close(fd)
        self.held -= len(fds)


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


def _held_limit() -> int:
    """How many /proc descriptors the sampler may keep open: a quarter of the soft limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 8192 if soft == resource.RLIM_INFINITY else max(0, min(8192, soft // 4))


class _PsutilReader:
    """The same readings through psutil, where /proc lacks the children files."""

    @staticmethod
    def reading(pid: int) -> _Reading | None:
        return _read_psutil(pid)

    @staticmethod
    def children(pid: int, threads: int) -> list[int]:
        return children_from_psutil(pid)

    def keep_only(self, pids: set[int]) -> None:
        pass

    def close(self) -> None:
        pass


class MetricsSampler:
    """Samples many process trees; remembers each process's CPU time between passes.

    One pass at a time (the supervisor's worker thread); `close` may come from another thread
    and releases the descriptors once no pass is running.
    """

    def __init__(self, use_proc: bool | None = None, held_limit: int | None = None) -> None:
        """`held_limit`: at most this many /proc descriptors kept open (see _ProcFiles)."""
        fast = PROC_CHILDREN if use_proc is None else use_proc
        self._files: _ProcFiles | _PsutilReader = \
            _ProcFiles(held_limit) if fast else _PsutilReader()
        self._previous: dict[tuple[int, int], _Baseline] = {}
        self._lock = threading.Lock()
        self._busy = self._closed = False

    def sample(self, roots: dict[str, int]) -> dict[str, Usage]:
        """Usage per service name, given each service's main pid."""
        with self._lock:
            if self._closed:
                return {}
            self._busy = True
        try:
            now = time.monotonic()
            current: dict[tuple[int, int], _Baseline] = {}
            result = {name: self._tree_usage(root, now, current)
                      for name, root in roots.items()}
            self._previous = current
            self._files.keep_only({pid for pid, _ in current})
            return result
        finally:
            with self._lock:
                self._busy = False
                if self._closed:
                    self._files.close()

    @property
    def held(self) -> int:
        """/proc descriptors kept open now."""
        return getattr(self._files, 'held', 0)

    def close(self) -> None:
        """Release every descriptor (now, or at the end of the pass that is running)."""
        with self._lock:
            self._closed = True
            if not self._busy:
                self._files.close()

    def _tree_usage(self, root: int, now: float,
                    current: dict[tuple[int, int], _Baseline]) -> Usage:
        cpu, rss, threads, count, paused = 0.0, 0, 0, 0, False
        stack, seen = [root], set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            reading = self._files.reading(pid)
            if reading is None:
                continue
            paused = paused or (pid == root and reading.stopped)
            key = (pid, reading.started)
            current[key] = baseline = _advance(self._previous.get(key), reading.cpu_seconds, now)
            cpu += baseline.rate
            rss += reading.rss
            threads += reading.threads
            count += 1
            stack.extend(self._files.children(pid, reading.threads))
        return Usage(cpu_percent=round(max(cpu, 0.0), 1), memory_bytes=rss, threads=threads,
                     processes=count, paused=paused)


def _advance(before: _Baseline | None, cpu_seconds: float, now: float) -> _Baseline:
    """The baseline after a reading: a new rate once MIN_WINDOW has passed, else the old one."""
    if before is None:
        return _Baseline(cpu_seconds, now, 0.0)
    if now - before.at < MIN_WINDOW:
        return before
    rate = 100.0 * (cpu_seconds - before.cpu_seconds) / (now - before.at)
    return _Baseline(cpu_seconds, now, rate if rate > 0.0 else 0.0)


#: the share of one core the sampling thread may take: past it, passes are spaced further
BUDGET = 0.005


def next_pass_in(interval: float, took: float, budget: float = BUDGET) -> float:
    """Seconds from the end of a pass that took `took` s of CPU to the start of the next one:
    `interval`, stretched so that sampling stays within `budget` of a core (1,000 services
    take about 25 ms a pass: every 5 s instead of 2).
    """
    return max(interval, took / budget - took)


async def sample_forever(sampler: MetricsSampler, roots: Callable[[], dict[str, int]],
                         publish: Callable[[dict[str, Usage]], None], interval: float,
                         before: Callable[[], object] | None = None) -> None:
    """Sample the services' trees every `interval` s (see next_pass_in) in a worker thread
    until cancelled; `before` runs in the same thread first (the orphan reaper). A failed
    pass publishes empty usage and is logged; the loop goes on.
    """
    def sample(pids: dict[str, int]) -> tuple[dict[str, Usage], float]:
        began = time.thread_time()
        if before is not None:
            before()
        return sampler.sample(pids), time.thread_time() - began
    stretched = False
    while True:
        took = 0.0
        try:
            usage, took = await asyncio.to_thread(sample, roots())
        except Exception:
            log.exception('metrics sampling failed')
            usage = {}
        publish(usage)
        wait = next_pass_in(interval, took)
        if wait > interval and not stretched:
            log.info('metrics: a pass over %d service(s) takes %.0f ms of CPU; sampling '
                     'every %.1f s instead of %g s, to stay within %.1f %% of a core',
                     len(usage), took * 1000, wait + took, interval, BUDGET * 100)
        stretched = wait > interval
        await asyncio.sleep(wait)
