"""The orchestrator's ties to its parent, to its services, and to what a previous run left.

Three guarantees, one per part of this module:

- The orchestrator does not outlive its parent silently. exit_with_parent() asks the kernel
  for SIGTERM when the parent dies (PR_SET_PDEATHSIG; not when the parent is PID 1, e.g.
  systemd starting it directly, nor when it is PID 1 itself) and wraps the stop handler so
  that such a stop logs 'parent process N died: stopping all services'; the usual SIGTERM
  path then stops every service in reverse start order. So `nohup ... &` from a shell that
  then exits stops it too; a double-forking daemonizer does not (its parent is already init).
  Caveat of the kernel feature: the signal comes when the parent *thread* that forked us
  ends; `ros2 launch` and our launcher start it from their main thread.
- Its services do not outlive it, even after a SIGKILL: each Supervisor keeps a Lifeline, a
  pipe to a guardian process (guardian.py) that stops every recorded process group, and every
  process carrying the Supervisor's marker, once the pipe closes. On a normal shutdown the
  pipe is closed after every service has stopped, so the guardian finds nothing.
- A new run cleans up what a previous one left, it does not adopt it: clean_leftovers()
  finds processes whose marker has this installation's home (a hash of the log directory)
  and an owner that is no longer alive (its pid is gone, or has another start time), and
  stops them (SIGTERM to their groups, a grace, SIGKILL) before the first service starts.
  Adopting would mean supervising processes that are not our children (no exit status, no
  output pipes, no subreaper sweep) through a second, weaker code path; a clean restart
  keeps one path and costs one restart of services that had already lost their supervisor.
  Orchestrators with other log directories, and live ones with the same, are never touched.
"""

import asyncio
from collections.abc import Callable
import ctypes
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading

from omega_orchestrator.runtime import guardian, process

log = logging.getLogger('omega_orchestrator')
_PR_SET_PDEATHSIG = 1
LEFTOVER_TIMEOUT = 5.0   # the grace a previous run's processes get before SIGKILL


def home_key(log_dir: str) -> str:
    """A short, stable key for one installation: a hash of its log directory."""
    return hashlib.sha256(os.path.realpath(log_dir).encode()).hexdigest()[:12]


def new_owner(log_dir: str) -> str:
    """The marker prefix of a new Supervisor in this process (see guardian.owner_prefix)."""
    stat = guardian.stat_of(os.getpid())
    start = stat[2] if stat is not None else 0
    return guardian.owner_prefix(home_key(log_dir), os.getpid(), start, secrets.token_hex(4))


# -- the parent -------------------------------------------------------------------------------


def exit_with_parent(on_stop: Callable[[], None]) -> Callable[[], None]:
    """Get SIGTERM when the parent dies; return on_stop, wrapped to log that death.

    Call on the loop, and install the returned function as the SIGINT/SIGTERM handler. If
    the parent died before we asked, the stop is scheduled on the loop at once.
    """
    parent = os.getppid()
    warned = False

    def stop() -> None:
        nonlocal warned
        if parent > 1 and os.getppid() != parent and not warned:
            warned = True
            log.warning('parent process %d died: stopping all services', parent)
        on_stop()

    if parent <= 1:      # started by init (systemd) or as a container's first process
        return stop
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    except (OSError, AttributeError):
        armed = False
    if not armed:
        log.warning('prctl(PR_SET_PDEATHSIG) failed: a death of the parent goes unnoticed')
    elif os.getppid() != parent:    # it died before the request took effect
        asyncio.get_running_loop().call_soon(stop)
    return stop


# -- the services -----------------------------------------------------------------------------


class Lifeline:
    """The orchestrator's end of the pipe to a guardian; thread-safe, never blocks.

    The guardian starts with the first start() (before the first service), so a process
    that never starts a service never starts one.
    """

    def __init__(self, owner: str, log_file: str) -> None:
        self.owner = owner
        self._log_file = log_file
        self._groups: dict[int, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._fd = -1
        self._started = False
        self._guardian: subprocess.Popen | None = None
        self._cgroup = ''

    def start(self) -> None:
        """Start the guardian unless it was started before (then this does nothing)."""
        with self._lock:
            if not self._started:
                self._started = True
                self._start()

    @property
    def pid(self) -> int | None:
        """The guardian's process id (None if it could not be started)."""
        return self._guardian.pid if self._guardian is not None else None

    def watch(self, pgid: int, stop_signal: str, timeout: float) -> None:
        """A service's process group: stopped with stop_signal, SIGKILL after timeout."""
        signum = int(signal.Signals[stop_signal])
        with self._lock:
            self._groups[pgid] = (signum, timeout)
            self._send(f'add {pgid} {signum} {timeout:g}\n')

    def watch_cgroup(self, folder: str) -> None:
        """The services' cgroups live under folder: the guardian kills it all after a death."""
        with self._lock:
            self._cgroup = folder
            self._send(f'cgroup {folder}\n')

    def forget(self, pgid: int) -> None:
        """The group is gone (or killed): the guardian must not signal that number again."""
        with self._lock:
            if self._groups.pop(pgid, None) is not None:
                self._send(f'del {pgid}\n')

    def close(self) -> None:
        """Close the pipe: the guardian ends whatever is still running, then exits."""
        with self._lock:
            self._send('bye\n', restart=False)    # on purpose: we have not died
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def wait(self, timeout: float) -> bool:
        """After close(): wait until the guardian has exited; False if it has not."""
        guard = self._guardian
        if guard is None:
            return True
        try:
            guard.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        process.forget(guard.pid)
        return True

    def _start(self) -> None:
        read, write = os.pipe()
        try:
            self._guardian = process.spawn(
                [sys.executable, '-I', '-S', guardian.__file__, self.owner, self._log_file],
                cwd='/', env={k: v for k, v in os.environ.items() if k != process.MARKER_VAR},
                capture=False, stdin=read)
        except process.SpawnError as exc:
            log.error('cannot start the guardian (services would outlive a SIGKILL): %s', exc)
            os.close(write)
            return
        finally:
            os.close(read)
        os.set_blocking(write, False)
        self._fd = write
        if self._cgroup:
            self._send(f'cgroup {self._cgroup}\n', restart=False)
        for pgid, (signum, timeout) in self._groups.items():
            self._send(f'add {pgid} {signum} {timeout:g}\n', restart=False)

    def _send(self, line: str, restart: bool = True) -> None:
        """Write one line (atomic: shorter than PIPE_BUF); start a new guardian if it died."""
        if self._fd < 0:
            return
        try:
            os.write(self._fd, line.encode())
        except BlockingIOError:   # the guardian is not reading: never block the engine
            log.warning('the guardian is not reading; dropped: %s', line.strip())
        except BrokenPipeError:
            os.close(self._fd)
            self._fd = -1
            if self._guardian is not None and self._guardian.poll() is not None:
                process.forget(self._guardian.pid)
            if restart:
                log.warning('the guardian has died; starting a new one')
                self._start()     # replays every group, this one included
            else:
                log.error('the guardian keeps dying: services would outlive a SIGKILL')


# -- a previous run ---------------------------------------------------------------------------


def clean_leftovers(log_dir: str, timeout: float = LEFTOVER_TIMEOUT) -> list[guardian.Proc]:
    """Stop the processes a dead orchestrator with this log directory left; blocking.

    Returns what was found (and stopped). Never touches a live orchestrator's processes.
    """
    home = home_key(log_dir)
    owners: dict[tuple[int, int], bool] = {}

    def left(proc: guardian.Proc) -> bool:
        marker = guardian.parse_marker(proc.marker)
        if marker is None or marker.home != home:
            return False
        owner = (marker.owner_pid, marker.owner_start)
        if owner not in owners:
            owners[owner] = guardian.alive(*owner)
        return not owners[owner]

    found = guardian.end_all({}, left, default_timeout=timeout)
    by_owner: dict[int, list[guardian.Proc]] = {}
    for proc in found:
        marker = guardian.parse_marker(proc.marker)
        by_owner.setdefault(marker.owner_pid if marker else 0, []).append(proc)
    for owner_pid, procs in by_owner.items():
        log.warning('found %d process(es) left by a previous orchestrator (pid %d): %s — '
                    'stopped them', len(procs), owner_pid, guardian.describe(procs))
    return found
