"""CPU, memory and threads per service, summed over its whole process tree, with psutil.

One sampling pass reads the process table once and walks each service's tree from its main
pid; psutil.Process objects are cached per pid (cpu_percent needs the previous reading).
Sampling is blocking I/O on /proc: the supervisor runs it in a worker thread.
"""

from collections import defaultdict
from dataclasses import dataclass

import psutil


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Resource use of one service's process tree."""

    cpu_percent: float = 0.0
    memory_bytes: int = 0
    threads: int = 0
    processes: int = 0


class MetricsSampler:
    """Samples many process trees; keeps psutil.Process per pid between passes."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def sample(self, roots: dict[str, int]) -> dict[str, Usage]:
        """Usage per service name, given each service's main pid."""
        children = _children_map()
        seen: set[int] = set()
        result = {}
        for name, root in roots.items():
            tree = _tree(root, children)
            seen.update(tree)
            result[name] = self._usage(tree)
        for pid in list(self._procs):
            if pid not in seen:
                del self._procs[pid]
        return result

    def _usage(self, pids: list[int]) -> Usage:
        cpu, rss, threads, count = 0.0, 0, 0, 0
        for pid in pids:
            proc = self._process(pid)
            if proc is None:
                continue
            try:
                with proc.oneshot():
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss
                    threads += proc.num_threads()
                count += 1
            except psutil.Error:
                self._procs.pop(pid, None)
        return Usage(cpu_percent=round(cpu, 1), memory_bytes=rss, threads=threads,
                     processes=count)

    def _process(self, pid: int) -> psutil.Process | None:
        proc = self._procs.get(pid)
        if proc is not None and proc.is_running():
            return proc
        try:
            proc = psutil.Process(pid)
            proc.cpu_percent(None)   # the first reading only primes the counter
        except psutil.Error:
            return None
        self._procs[pid] = proc
        return proc


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for proc in psutil.process_iter(['ppid']):
        ppid = proc.info.get('ppid')
        if ppid is not None:
            children[ppid].append(proc.pid)
    return children


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in pids:
            continue
        pids.append(pid)
        stack.extend(children.get(pid, ()))
    return pids
