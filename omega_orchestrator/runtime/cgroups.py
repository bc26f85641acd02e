"""Tracking a service's processes by cgroup (v2), as systemd does, where the kernel allows.

Every descendant of a process stays in its cgroup whatever it does (setsid, double fork,
dropping the environment marker), so a stop that ends with `cgroup.kill` leaves nothing.
This needs a cgroup2 hierarchy we may write: ours must allow sub-cgroups (systemd:
`Delegate=yes`; a container's root) — checked once at start by creating our own folder.
Where that fails, tracking falls back to what the subreaper sees: the orphans re-parented
to the orchestrator, recognised by their environment marker (process.sweep).

A new process is moved into its service's cgroup right after it is spawned; anything it
forks in those first microseconds is still found by the marker sweep.
All of this is blocking /sys I/O: call it from a worker thread.
"""

import logging
import os
import signal
import time

log = logging.getLogger('omega_orchestrator')


def cgroup2_mount() -> str | None:
    """Where the cgroup2 hierarchy is mounted (/sys/fs/cgroup or .../unified), or None."""
    try:
        with open('/proc/self/mountinfo') as table:
            for line in table:
                left, _, right = line.partition(' - ')
                if right.split(' ', 1)[0] == 'cgroup2':
                    return left.split()[4]
    except OSError:
        pass
    return None


def own_cgroup() -> str | None:
    """This process's cgroup2 path ('0::/path' in /proc/self/cgroup), or None."""
    try:
        with open('/proc/self/cgroup') as entries:
            for line in entries:
                if line.startswith('0::'):
                    return line[3:].strip()
    except OSError:
        pass
    return None


class CgroupTracker:
    """One cgroup per run of a service (`name-generation`) under a folder of our own.

    A cgroup per run, not per service: a crash is followed by an immediate restart, and the
    sweep of the old run (in a worker thread) must not kill the new one.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self._made: set[str] = set()

    @classmethod
    def create(cls, name: str) -> 'CgroupTracker | None':
        """A tracker in a new sub-cgroup `name` of our own cgroup, or None if not allowed."""
        mount, ours = cgroup2_mount(), own_cgroup()
        if mount is None or ours is None:
            return None
        base = os.path.join(mount, ours.lstrip('/'), name)
        try:
            os.makedirs(base, exist_ok=True)
            probe = os.path.join(base, 'probe')
            os.mkdir(probe)
            os.rmdir(probe)
        except OSError as exc:
            log.info('cgroup tracking not available (%s): using the subreaper and markers',
                     exc.strerror or exc)
            return None
        return cls(base)

    def path(self, service: str) -> str:
        """The folder of one service's cgroup."""
        return os.path.join(self.base, service)

    def add(self, service: str, pid: int) -> bool:
        """Move pid into the service's cgroup; False when that failed (markers still work)."""
        folder = self.path(service)
        try:
            if service not in self._made:
                os.makedirs(folder, exist_ok=True)
                self._made.add(service)
            with open(os.path.join(folder, 'cgroup.procs'), 'w') as procs:
                procs.write(str(pid))
            return True
        except OSError as exc:
            log.warning('%s: cannot move pid %d into its cgroup: %s', service, pid, exc)
            return False

    def pids(self, service: str) -> list[int]:
        """The processes in the service's cgroup now."""
        try:
            with open(os.path.join(self.path(service), 'cgroup.procs')) as procs:
                return [int(line) for line in procs if line.strip()]
        except (OSError, ValueError):
            return []

    def kill(self, service: str) -> int:
        """SIGKILL everything in the run's cgroup, then remove it; returns how many there
        were.
        """
        found = self.pids(service)
        if not found:
            self._remove(service)
            return 0
        try:
            with open(os.path.join(self.path(service), 'cgroup.kill'), 'w') as kill:
                kill.write('1')       # Linux 5.14+: the kernel kills them all, forks included
        except OSError:
            for pid in found:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self._remove(service)
        return len(found)

    def _remove(self, service: str, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pids(service) and time.monotonic() < deadline:
            time.sleep(0.01)            # SIGKILLed processes leave the cgroup as they die
        try:
            os.rmdir(self.path(service))
            self._made.discard(service)
        except OSError:
            pass

    def close(self) -> None:
        """Remove the cgroups we made; a non-empty one is killed first."""
        for service in list(self._made):
            self.kill(service)
        try:
            os.rmdir(self.base)
        except OSError:
            pass
