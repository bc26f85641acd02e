"""Find, wait for and kill benchmark processes by the ``--tag`` value in their argv.

The benchmark never asks a supervisor about its children: it looks at the
process table. Every child program is started as ``... --tag TAG`` and this
module maps tags to live PIDs.

The PID list comes from psutil; the command lines are read straight from
``/proc/PID/cmdline`` (what psutil's ``cmdline()`` does on Linux) because a scan
then costs about 1 ms instead of 3-5 ms, which matters for the resolution of the
crash-to-restart measurement. Zombies have an empty command line, so they never
count as live.
"""

from collections.abc import Callable, Iterable
import contextlib
import time

import psutil

TagMap = dict[str, list[int]]

TAG_FLAG = b'--tag'
POLL_SLEEP = 0.0005


def read_tag(pid: int, prefix: bytes) -> str | None:
    """Return the ``--tag`` value of ``pid`` if it starts with ``prefix``, else None."""
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as handle:
            raw = handle.read()
    except OSError:
        return None
    if prefix not in raw:
        return None
    argv = raw.split(b'\0')
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag == TAG_FLAG and value.startswith(prefix):
            return value.decode()
    return None


def scan(prefix: str) -> TagMap:
    """Map every live tag that starts with ``prefix`` to the PIDs carrying it."""
    wanted = prefix.encode()
    found: TagMap = {}
    for pid in psutil.pids():
        tag = read_tag(pid, wanted)
        if tag is not None:
            found.setdefault(tag, []).append(pid)
    return found


def count_present(found: TagMap, tags: Iterable[str]) -> int:
    """Number of ``tags`` that have at least one live process in ``found``."""
    return sum(1 for tag in tags if found.get(tag))


def wait_for(
    check: Callable[[], bool], timeout: float, what: str, sleep: float = POLL_SLEEP
) -> float:
    """Poll ``check`` until it is true; return the time it took, raise on timeout."""
    start = time.perf_counter()
    deadline = start + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError(f'timed out after {timeout:.0f} s waiting for {what}')
        time.sleep(sleep)
    return time.perf_counter() - start


def wait_all_present(
    prefix: str, tags: list[str], timeout: float, guard: Callable[[], None]
) -> TagMap:
    """Wait until every tag in ``tags`` has a live process; return the last scan.

    ``guard`` runs before each scan and may raise to abort the wait early.
    """
    latest: TagMap = {}

    def all_up() -> bool:
        nonlocal latest
        guard()
        latest = scan(prefix)
        return count_present(latest, tags) == len(tags)

    wait_for(all_up, timeout, f'{len(tags)} tagged processes', sleep=0.002)
    return latest


def find_other(tag: str, old_pid: int) -> int | None:
    """PID of a live process tagged exactly ``tag`` other than ``old_pid``, if any."""
    wanted = tag.encode()
    for pid in psutil.pids():
        if pid != old_pid and read_tag(pid, wanted) == tag:
            return pid
    return None


def count_pids(found: TagMap, tags: Iterable[str]) -> int:
    """Number of live processes in ``found`` carrying one of ``tags``."""
    return sum(len(found.get(tag, [])) for tag in tags)


def kill_pids(pids: Iterable[int]) -> None:
    """SIGKILL each PID, ignoring the ones that are already gone."""
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def sweep(prefix: str, timeout: float = 5.0) -> int:
    """SIGKILL every live process whose tag starts with ``prefix``; return how many."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [pid for pids in scan(prefix).values() for pid in pids]
        if not pids:
            break
        kill_pids(pids)
        killed.update(pids)
        time.sleep(0.05)
    return len(killed)
