"""A process's CPU time to the nanosecond, for idle figures that a clock tick is too coarse
for.

/proc/PID/stat (psutil's `cpu_times`) counts CPU time in clock ticks of 10 ms: over a 30 s
window a tick is 0.033 % of a core, a tenth of a 0.3 % target. Each thread's
/proc/PID/task/TID/schedstat counts its time on a CPU in nanoseconds. `CpuClock` sums those
over a window when the process kept the same threads throughout (a thread that ends takes its
time with it), and falls back to the ticks when it did not, or where schedstat is missing.
"""

import os

import psutil


def thread_nanoseconds(pid: int) -> dict[int, int]:
    """Each thread's time on a CPU so far, in ns (empty: schedstat cannot be read)."""
    found = {}
    try:
        tids = os.listdir(f'/proc/{pid}/task')
    except OSError:
        return {}
    for tid in tids:
        try:
            with open(f'/proc/{pid}/task/{tid}/schedstat') as stat:
                found[int(tid)] = int(stat.read().split()[0])
        except (OSError, ValueError, IndexError):
            return {}
    return found


def tick_seconds(pid: int) -> float:
    """User + system CPU seconds of the whole process, in clock ticks."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


class CpuClock:
    """Started on a process now; `seconds()` is the CPU it used since, and how it was
    counted ('ns', or 'ticks' when its threads changed or schedstat is missing).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._threads = thread_nanoseconds(pid)
        self._ticks = tick_seconds(pid)

    def seconds(self) -> tuple[float, str]:
        threads = thread_nanoseconds(self.pid)
        if threads and threads.keys() == self._threads.keys():
            return (sum(threads.values()) - sum(self._threads.values())) / 1e9, 'ns'
        return tick_seconds(self.pid) - self._ticks, 'ticks'
