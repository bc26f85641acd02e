"""Spawning a service's process and ending it without leaving anything behind.

Each service runs in a new session (its own process group). Exits are watched through a pidfd
registered with the event loop, so a child's death wakes the loop at once (no polling).
Every process carries an environment marker (its format: guardian.py); with the orchestrator
as child subreaper, descendants that escape the group are re-parented to us and found by it.
"""

import asyncio
from collections.abc import Callable, Iterator
import contextlib
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import threading
import time

import psutil

from omega_orchestrator.core.errors import InvalidArgumentError
from omega_orchestrator.runtime.guardian import MARKER_VAR

_PR_SET_CHILD_SUBREAPER = 36


class ChildRegistry:
    """The children this process spawned and waits for itself (Popen and a pidfd).

    As a subreaper the orchestrator also collects every re-parented descendant; that orphan
    reaper must never reap one of these. Spawns run in parallel: the reaper runs only when
    no spawn is between fork and recording its pid (else it could reap a new child before we
    know it is ours), and holds them off meanwhile. The kernel's set of children is per
    process, so there is one registry per process (CHILDREN), which each Supervisor holds
    (tests run several supervisors in one process; they must share it).
    """

    def __init__(self) -> None:
        self._pids: set[int] = set()
        self._cond = threading.Condition()
        self._spawning = 0

    @contextlib.contextmanager
    def spawning(self) -> Iterator[Callable[[int], None]]:
        """Around a fork: yields the function that records the new child's pid."""
        recorded: list[int] = []
        with self._cond:
            self._spawning += 1
        try:
            yield recorded.append
        finally:
            with self._cond:
                self._pids.update(recorded)
                self._spawning -= 1
                self._cond.notify_all()

    def owns(self, pid: int) -> bool:
        """Whether pid is a child spawned (and waited for) here."""
        return pid in self._pids

    def owned(self) -> frozenset[int]:
        """The children spawned (and waited for) here, now."""
        with self._cond:
            return frozenset(self._pids)

    def forget(self, pid: int) -> None:
        """The child has been waited for."""
        with self._cond:
            self._pids.discard(pid)

    def reap_orphans(self, children: list[int] | None = None) -> int:
        """Collect exit statuses of re-parented orphans (never of our own children);
        `children`: a recent listing of our children to use instead of listing them now.
        Without one, nothing is listed while no child at all has exited (the usual case).
        """
        reaped = 0
        if children is None and not _some_child_exited():
            return 0
        with self._cond:
            if not self._cond.wait_for(lambda: self._spawning == 0, timeout=1.0):
                return 0          # spawns keep coming: reap next time
            for child in (child_pids(os.getpid()) if children is None else children):
                if child in self._pids or not _is_zombie(child):
                    continue
                try:
                    pid, _ = os.waitpid(child, os.WNOHANG)
                    reaped += pid != 0
                except (ChildProcessError, OSError):
                    pass
        return reaped


#: The one registry of this process (see ChildRegistry).
CHILDREN = ChildRegistry()


class SpawnError(Exception):
    """The command could not be started; the message says why in an operator's words."""


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


#: Descriptors one running service holds here: two pipes, two log files, a pidfd, the metrics
#: sampler's two /proc files of its main process (metrics.py keeps at most a quarter of the
#: limit), one spare.
FDS_PER_SERVICE = 8
FDS_BASE = 200           # the orchestrator's own: ROS, sockets, its log, the sampler...


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft limit of open files to the hard limit (systemd gives 1024 soft by
    default: about 170 running services); returns (soft, hard) afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft, hard


def check_descriptor_budget(running: int) -> None:
    """Raise InvalidArgumentError when `running` services cannot have their descriptors
    under the current soft limit of open files.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FDS_BASE + FDS_PER_SERVICE * running
    if soft != resource.RLIM_INFINITY and needed > soft:
        raise InvalidArgumentError(
            f'{running} running service(s) need about {needed} open files, but the limit is '
            f'{soft}: raise it (LimitNOFILE= in the unit, ulimit -n) or run fewer')


def resolve_command(cmd: str, cwd: str, env: dict[str, str]) -> str:
    """The executable to run: looked up in PATH, or relative to cwd when it has a slash."""
    if not os.path.isdir(cwd):
        raise SpawnError(f"working_dir '{cwd}' does not exist or is not a folder")
    if '/' in cmd:
        path = cmd if os.path.isabs(cmd) else os.path.join(cwd, cmd)
        if not os.path.exists(path):
            raise SpawnError(f"command '{cmd}' not found (looked at {path})")
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise SpawnError(f"command '{cmd}' is not executable")
        return path
    found = shutil.which(cmd, path=env.get('PATH', os.defpath))
    if found is None:
        raise SpawnError(f"command '{cmd}' not found in PATH")
    return found


def spawn(argv: list[str], *, cwd: str, env: dict[str, str], capture: bool = True,
          stdin: int | None = None) -> subprocess.Popen:
    """Start argv in a new session, stdout/stderr piped (or discarded); raise SpawnError.

    stdin: a file descriptor for the child's stdin (default: /dev/null).
    """
    executable = resolve_command(argv[0], cwd, env)
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    with CHILDREN.spawning() as record:
        try:
            proc = subprocess.Popen(
                [executable] + argv[1:], cwd=cwd, env=env,
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=output, stderr=output, start_new_session=True, close_fds=True)
        except OSError as exc:
            raise SpawnError(f"cannot start '{argv[0]}': {exc.strerror or exc}") from None
        record(proc.pid)
    for stream in (proc.stdout, proc.stderr) if capture else ():
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
    return proc


def forget(pid: int) -> None:
    """A child spawned here has been waited for elsewhere."""
    CHILDREN.forget(pid)


def watch_exit(loop: asyncio.AbstractEventLoop, proc: subprocess.Popen,
               on_exit: Callable[[int | None, int | None], None]) -> None:
    """Call on_exit(code, signal) on the loop as soon as proc ends (pidfd, no polling)."""
    pidfd = os.pidfd_open(proc.pid)

    def ready() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(proc.pid, 0)
        CHILDREN.forget(proc.pid)
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        on_exit(code if code >= 0 else None, -code if code < 0 else None)

    loop.add_reader(pidfd, ready)


def read_proc_file(fd: int) -> bytes:
    """All of an open /proc file, from its start. The kernel hands out at most a page of
    records per read, so a read that comes back nearly a page long is followed by more.
    """
    data = os.pread(fd, 4096, 0)
    if len(data) < 4000:
        return data
    chunks = [data]
    while chunk := os.pread(fd, 65536, sum(map(len, chunks))):
        chunks.append(chunk)
    return b''.join(chunks)


def children_from_proc(pid: int) -> list[int]:
    """Direct children of pid from /proc/PID/task/*/children (Linux 3.5+): no full scan."""
    children: list[int] = []
    try:
        threads = os.listdir(f'/proc/{pid}/task')
    except OSError:
        return children
    for tid in threads:
        try:      # raw descriptors: a third of what open() costs, for 30 threads a pass
            fd = os.open(f'/proc/{pid}/task/{tid}/children', os.O_RDONLY)
            try:
                children.extend(int(c) for c in read_proc_file(fd).split())
            finally:
                os.close(fd)
        except OSError:      # that thread ended meanwhile; the others still count
            pass
    return children


def children_from_psutil(pid: int) -> list[int]:
    """Direct children of pid through psutil (scans the process table)."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


PROC_CHILDREN = os.path.exists(f'/proc/{os.getpid()}/task/{os.getpid()}/children')
child_pids = children_from_proc if PROC_CHILDREN else children_from_psutil


def signal_group(pgid: int, signame: str) -> bool:
    """Send a signal to a whole process group; False when the group is already gone."""
    try:
        os.killpg(pgid, signal.Signals[signame])
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_process(pid: int, signame: str) -> bool:
    """Send a signal to one process; False when it is already gone."""
    try:
        os.kill(pid, signal.Signals[signame])
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _processes(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.Error:     # gone since it was listed
            pass
    return found


def _has_marker(proc: psutil.Process, marker: str) -> bool:
    try:
        return proc.environ().get(MARKER_VAR) == marker
    except (psutil.Error, OSError):
        return False


class _ChildrenSnapshot:
    """Our orphans (children we did not spawn) as listed at one moment, shared by the sweeps
    that run together.

    Listing our children costs O(children); 1,000 services stopping at once made 1,000 sweeps
    list 1,000 children each. A sweep may use a listing made after it was requested (after its
    run's leader was reaped, so its orphans were already re-parented to us), never an older
    one: each listing then serves every sweep queued before it. The orphans are picked out
    once per listing: filtering the whole listing in every sweep, against children reaped
    since, was O(n^2) again (2 s of a stop of 1,000).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = float('-inf')
        self._orphans: list[int] = []

    def orphans_since(self, not_before: float) -> list[int]:
        """The orphans of a listing made at or after `not_before` (monotonic)."""
        with self._lock:
            if self._taken < not_before:
                self._taken = time.monotonic()       # before the listing: conservative
                # ours before the listing: one reaped (and forgotten) while we list is no
                # orphan either (1,000 stops made hundreds of such near misses)
                ours = CHILDREN.owned()
                self._orphans = [pid for pid in child_pids(os.getpid())
                                 if pid not in ours and not CHILDREN.owns(pid)]
            return self._orphans


_CHILDREN_NOW = _ChildrenSnapshot()


def find_escaped(marker: str, subreaper: bool,
                 listed_since: float | None = None) -> list[psutil.Process]:
    """Live processes carrying `marker`: our re-parented orphans, or (fallback) any process.
    `listed_since`: a listing of our children made at or after this monotonic time will do.
    """
    if subreaper:
        candidates = _processes(_CHILDREN_NOW.orphans_since(
            time.monotonic() if listed_since is None else listed_since))
    else:
        candidates = [p for p in psutil.process_iter() if p.pid != os.getpid()]
    found = []
    for proc in candidates:
        if _has_marker(proc, marker):
            try:
                found.extend(proc.children(recursive=True))
            except psutil.Error:
                pass
            found.append(proc)
    return found


def wait_group_gone(pgid: int, timeout: float = 1.0) -> bool:
    """Wait (reaping re-parented members) until no process is left in the group."""
    deadline = time.monotonic() + timeout
    while True:
        try:        # usually gone already: its leader was reaped before the sweep began
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return True
        reap_orphans()
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def sweep(marker: str, subreaper: bool, killed_group: int | None = None,
          requested_at: float | None = None) -> int:
    """SIGKILL every escaped process with the marker; return how many there were.

    `killed_group`: a process group just sent SIGKILL; its members are waited for first, so
    descendants they leave are re-parented to us before we look. `requested_at`: when the
    sweep was asked for (monotonic), after the run's leader was reaped: the first look may use
    a listing of our children made since. Blocking: run it in a thread.
    """
    if killed_group is not None:
        wait_group_gone(killed_group)
    killed = 0
    listed_since = requested_at
    for _ in range(3):   # a process may fork while we look; look again until nothing is found
        found = [p for p in find_escaped(marker, subreaper, listed_since) if p.is_running()]
        listed_since = None                      # a second look lists afresh
        if not found:
            break
        for proc in found:
            try:
                proc.kill()
                killed += 1
            except psutil.Error:
                pass
        psutil.wait_procs(found, timeout=1.0)
    # collect what we killed (re-parented to us) at once; otherwise zombie orphans already
    # listed since the request (a fresh listing per sweep made 1,000 stops O(n^2))
    CHILDREN.reap_orphans(None if killed or requested_at is None
                          else _CHILDREN_NOW.orphans_since(requested_at))
    return killed


def reap_orphans() -> int:
    """Collect exit statuses of re-parented orphans (never of processes spawned here)."""
    return CHILDREN.reap_orphans()


def _some_child_exited() -> bool:
    """Some child of this process (spawned here or re-parented orphan) has exited and waits
    to be collected. One waitid that collects nothing (WNOWAIT), in place of reading the
    children files of every thread of this process (about 0.5 ms with the ROS node's).
    """
    try:
        return os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:          # no child at all
        return False
    except (AttributeError, OSError):  # no waitid here: look the long way
        return True


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
