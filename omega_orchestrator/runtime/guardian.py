"""The guardian: a watcher process that stops the services when the orchestrator dies.

A SIGKILLed process runs no code, so only another process can clean up after it. The
orchestrator (see lifeline.py) starts this module as a script, `python -I -S guardian.py OWNER
LOG_FILE`, and keeps the write end of a pipe whose read end is the guardian's stdin. It tells
the guardian each service's process group (`add PGID SIGNAL TIMEOUT`, `del PGID`), and `bye`
before it closes the pipe on purpose. When the pipe reaches end-of-file (the orchestrator
exited, however it ended) the guardian sends each group its stop signal, SIGKILLs it once its
stop timeout (at most 10 s) is over, then kills every process whose environment marker starts
with OWNER (descendants that left the group, a service spawned just before the end). After a
normal shutdown it finds nothing and exits.

Standard library only (os, signal, sys, time, typing), so it starts in tens of milliseconds:
`-S` skips site (and so the ROS-wheels bootstrap that would re-exec the interpreter), `-I`
ignores PYTHON* variables and, from Python 3.11, keeps the script's folder off sys.path (no
module there shadows one it imports anyway). It is the place for the marker format and the
/proc readers, which lifeline.py shares.

Why not PR_SET_PDEATHSIG on each service: it reaches only the direct child (not its group or
descendants), it fires when the *thread* that forked ends (services are spawned from a thread
pool), and setting it needs preexec_fn, which is unsafe in a threaded parent.

Its own session: a kill of the orchestrator's process group (a terminal's Ctrl-C,
`kill -- -PGID`) does not reach it, and it ignores SIGINT, SIGTERM and SIGHUP anyway: it ends
when the pipe closes. PR_SET_PDEATHSIG is never set in it (fork clears it).

Under systemd, setsid does not leave the unit's cgroup: a stop's SIGTERM (with
KillMode=control-group) is ignored, and its final SIGKILL ends the guardian with the
services, which is harmless; when the orchestrator alone dies (the OOM killer, `kill -9`)
and the unit goes on, the guardian stops its services. Under `ros2 launch`, Ctrl-C sends
SIGINT, then SIGTERM, then SIGKILL (5 s apart by default) to the orchestrator process alone:
if a long stop gets it SIGKILLed, the guardian finishes the stop, possibly after launch
itself has exited.
"""

from collections.abc import Callable
import os
import signal
import sys
import time
from typing import NamedTuple

MARKER_VAR = 'OMEGA_ORCHESTRATOR_MARKER'
MARKER_VERSION = 'omega1'
GRACE_CAP = 10.0        # the longest the guardian waits before SIGKILL
POLL = 0.05
_ENV_KEY = MARKER_VAR.encode() + b'='

# -- the marker: omega1:<home>:<owner pid>:<owner start ticks>:<instance>:<service>:<gen> -----


class Marker(NamedTuple):
    """A parsed environment marker."""

    home: str           # a hash of the log dir: the orchestrator installation
    owner_pid: int      # the orchestrator that started the process...
    owner_start: int    # ...and its start time (clock ticks), so a reused pid is told apart
    instance: str       # one Supervisor within that orchestrator
    service: str
    generation: int


def owner_prefix(home: str, pid: int, start: int, instance: str) -> str:
    """The part of the marker shared by every process of one Supervisor."""
    return f'{MARKER_VERSION}:{home}:{pid}:{start}:{instance}:'


def make_marker(owner: str, service: str, generation: int) -> str:
    """The marker of one generation of a service."""
    return f'{owner}{service}:{generation}'


def parse_marker(text: str) -> Marker | None:
    """The marker's fields; None for a marker of another format."""
    parts = text.split(':')
    if len(parts) != 7 or parts[0] != MARKER_VERSION:
        return None
    try:
        return Marker(parts[1], int(parts[2]), int(parts[3]), parts[4], parts[5], int(parts[6]))
    except ValueError:
        return None


# -- /proc ------------------------------------------------------------------------------------


class Proc(NamedTuple):
    """A live process that carries a marker."""

    pid: int
    pgid: int
    start: int
    marker: str


def stat_of(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, start time in clock ticks) from /proc/PID/stat; None if gone."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as source:
            text = source.read()
        fields = text[text.rindex(b')') + 2:].split()
        return fields[0].decode(), int(fields[2]), int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int, start: int) -> bool:
    """True while the process pid, started at `start`, runs (a zombie has ended)."""
    stat = stat_of(pid)
    return stat is not None and stat[0] not in 'ZX' and stat[2] == start


def marker_of(pid: int) -> str:
    """The marker in the process's environment ('' without one, or when unreadable)."""
    try:
        with open(f'/proc/{pid}/environ', 'rb') as source:
            entries = source.read().split(b'\0')
    except OSError:
        return ''
    for entry in entries:
        if entry.startswith(_ENV_KEY):
            return entry[len(_ENV_KEY):].decode(errors='replace')
    return ''


def _pids() -> list[int]:
    me = os.getpid()
    return [int(name) for name in os.listdir('/proc') if name.isdigit() and int(name) != me]


def marked(match: Callable[[Proc], bool]) -> list[Proc]:
    """Live processes (ours excepted) whose marker satisfies match."""
    found = []
    for pid in _pids():
        marker = marker_of(pid)
        stat = stat_of(pid) if marker else None
        if stat is not None and stat[0] not in 'ZX':
            proc = Proc(pid, stat[1], stat[2], marker)
            if match(proc):
                found.append(proc)
    return found


def group_members(pgids: set[int]) -> dict[int, list[tuple[int, int]]]:
    """Live (pid, start) members of each of these process groups (one /proc pass)."""
    members: dict[int, list[tuple[int, int]]] = {}
    for pid in _pids():
        stat = stat_of(pid)
        if stat is not None and stat[1] in pgids and stat[0] not in 'ZX':
            members.setdefault(stat[1], []).append((pid, stat[2]))
    return members


# -- ending processes -------------------------------------------------------------------------


def _signal(pgid: int, signum: int) -> None:
    if pgid > 1 and pgid != os.getpgrp():    # never our own group, never init's
        try:
            os.killpg(pgid, signum)
        except OSError:
            pass


def end_all(groups: dict[int, tuple[int, float]], match: Callable[[Proc], bool], *,
            default_timeout: float, sweep_for: float = 0.0) -> list[Proc]:
    """Stop groups (pgid -> (stop signal, timeout)) and the processes match() picks.

    The groups of the picked processes get SIGTERM and default_timeout. Each group gets its
    signal, and SIGKILL once its timeout (at most GRACE_CAP) is over; then picked processes
    are killed until none is found for sweep_for seconds. Returns those first found.
    """
    found = marked(match)
    targets = dict(groups)
    for proc in found:
        targets.setdefault(proc.pgid, (signal.SIGTERM, default_timeout))
    now = time.monotonic()
    deadlines = {pgid: now + min(GRACE_CAP, timeout) for pgid, (_, timeout) in targets.items()}
    for pgid, (signum, _) in targets.items():
        _signal(pgid, signum)
    while deadlines:
        live = group_members(set(deadlines))
        for pgid in list(deadlines):
            if pgid not in live:
                del deadlines[pgid]
            elif time.monotonic() >= deadlines[pgid]:    # its stop timeout is over
                _signal(pgid, signal.SIGKILL)
                del deadlines[pgid]
        if deadlines:
            time.sleep(POLL)
    quiet_until = time.monotonic() + sweep_for
    for _ in range(50):       # bounded: a fork bomb must not keep us here forever
        left = marked(match)
        for proc in left:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        if not left and time.monotonic() >= quiet_until:
            break
        time.sleep(POLL)
    return found


def same_groups(recorded: dict[int, tuple[int, float, int]]) -> dict[int, tuple[int, float]]:
    """The recorded groups (pgid -> (signal, timeout, leader start)) that still are ours.

    A group number is reused only once the group is empty; a group whose living leader
    started at another time, or with a member older than our leader, is someone else's.
    """
    ours = {}
    for pgid, members in group_members(set(recorded)).items():
        signum, timeout, start = recorded[pgid]
        if all(pid != pgid or born == start for pid, born in members) and \
                all(born >= start for _, born in members):
            ours[pgid] = (signum, timeout)
    return ours


# -- the guardian process ---------------------------------------------------------------------


Groups = dict[int, tuple[int, float, int]]     # pgid -> (stop signal, timeout, leader start)


def follow(fd: int, cgroups: list[str] | None = None) -> tuple[Groups, bool]:
    """Apply `add`/`del`/`cgroup` lines from fd until end-of-file.

    Returns the groups still recorded then, and whether the orchestrator said `bye` (it
    closed the pipe on purpose) rather than died; `cgroup PATH` folders go to `cgroups`.
    """
    groups: dict[int, tuple[int, float, int]] = {}
    pending = b''
    bye = False
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b''
        if not chunk:
            return groups, bye
        *lines, pending = (pending + chunk).split(b'\n')
        for line in lines:
            words = line.decode(errors='replace').split()
            try:
                if words[0] == 'add':
                    stat = stat_of(int(words[1]))
                    if stat is not None:
                        groups[int(words[1])] = (int(words[2]), float(words[3]), stat[2])
                elif words[0] == 'del':
                    groups.pop(int(words[1]), None)
                elif words[0] == 'bye':
                    bye = True
                elif words[0] == 'cgroup' and cgroups is not None:
                    cgroups.append(line.decode(errors='replace')[len('cgroup '):])
            except (IndexError, ValueError):
                pass          # a garbled line must not end the watch


def kill_cgroup(folder: str, timeout: float = 2.0) -> None:
    """SIGKILL everything in a cgroup folder and below (cgroup.kill covers the subtree),
    then remove the emptied folders.
    """
    try:
        with open(os.path.join(folder, 'cgroup.kill'), 'w') as kill:
            kill.write('1')
    except OSError:
        return
    deadline = time.monotonic() + timeout
    while os.path.isdir(folder) and time.monotonic() < deadline:
        try:
            for entry in os.scandir(folder):
                if entry.is_dir():
                    os.rmdir(entry.path)
            os.rmdir(folder)
        except OSError:         # still emptying: the killed processes leave as they die
            time.sleep(POLL)


def note(log_file: str, message: str) -> None:
    """Append a line to the orchestrator's log, in its format."""
    now = time.time()
    stamp = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))
    try:
        with open(log_file, 'a') as out:
            out.write(f'{stamp},{int(now % 1 * 1000):03d} WARNING '
                      f'omega_orchestrator.guardian: {message}\n')
    except OSError:
        pass


def describe(found: list[Proc]) -> str:
    """'web_api pid 123, sensor pid 456' from the markers."""
    names = []
    for proc in found:
        parsed = parse_marker(proc.marker)
        names.append(f'{parsed.service if parsed else "?"} pid {proc.pid}')
    return ', '.join(names)


def main(argv: list[str]) -> int:
    """`guardian.py OWNER LOG_FILE`: watch stdin until end-of-file, then end what is left."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    owner, log_file = argv[1], argv[2]
    try:                           # tracebacks go to the orchestrator's log, not a pipe
        os.dup2(os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), 2)
    except OSError:
        pass
    folders: list[str] = []
    recorded, bye = follow(0, folders)
    groups = same_groups(recorded)
    # after a death, look a little longer: a service forked just before may not have exec'd
    found = end_all(groups, lambda proc: proc.marker.startswith(owner), default_timeout=1.0,
                    sweep_for=0.0 if bye else 0.3)
    for folder in folders:      # the services' cgroups: whatever escaped groups and markers
        kill_cgroup(folder)
    if groups or found:
        parsed = parse_marker(make_marker(owner, 'guardian', 0))
        who = f'the orchestrator (pid {parsed.owner_pid if parsed else "?"})'
        note(log_file, f'{who} {"exited" if bye else "died"} leaving {len(groups)} process '
                       f'group(s) and {len(found)} marked process(es) behind: '
                       f'{describe(found) or "-"}; stopped them')
    return 0


if __name__ == '__main__':
    status = main(sys.argv)
    os._exit(status)       # its log lines are written and closed: skip Python's teardown
