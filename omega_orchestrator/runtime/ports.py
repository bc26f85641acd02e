"""Who holds a TCP port: found before a service with a `port` is spawned.

A service whose port is already taken by a process the orchestrator did not start would only
crash-loop on "address in use" (while the other process answers its health check). So the
listening sockets of /proc/net/tcp and tcp6 are read first (one small file each, no process
scan); only when the port is taken is the holder looked up by its socket inode in
/proc/PID/fd. The caller then reports the holder, or adopts it (`adopt_existing`).
Blocking reads of /proc: run them in a worker thread.
"""

from dataclasses import dataclass
import os

from omega_orchestrator.runtime.guardian import MARKER_VAR

_LISTEN = '0A'


@dataclass(frozen=True, kw_only=True)
class Holder:
    """A process listening on a port."""

    port: int
    pid: int | None          # None: the socket's owner is not visible to us
    cmdline: str = ''
    marker: str = ''         # its OMEGA_ORCHESTRATOR_MARKER, if it has one

    def describe(self) -> str:
        """'port 8081 held by pid 123: python3 server.py' (an operator's words)."""
        if self.pid is None:
            return f'port {self.port} is held by a process that is not visible here'
        return f'port {self.port} held by pid {self.pid}: {self.cmdline or "?"}'[:300]


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` on any local address (IPv4 and IPv6)."""
    inodes = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as handle:
                next(handle, None)
                for line in handle:
                    fields = line.split()
                    if len(fields) > 9 and fields[3] == _LISTEN and \
                            int(fields[1].rsplit(':', 1)[1], 16) == port:
                        inodes.add(fields[9])
        except (OSError, ValueError):
            continue
    return inodes


def _owner_of(inodes: set[str]) -> int | None:
    wanted = {f'socket:[{inode}]' for inode in inodes}
    for entry in os.scandir('/proc'):
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(f'/proc/{entry.name}/fd'):
                try:
                    if os.readlink(fd.path) in wanted:
                        return int(entry.name)
                except OSError:
                    continue
        except OSError:
            continue
    return None


def _read(path: str) -> bytes:
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except OSError:
        return b''


def holder(port: int) -> Holder | None:
    """The process listening on `port`, or None when the port is free."""
    inodes = listening_inodes(port)
    if not inodes:
        return None
    pid = _owner_of(inodes)
    if pid is None:
        return Holder(port=port, pid=None)
    cmdline = _read(f'/proc/{pid}/cmdline').replace(b'\0', b' ').decode(errors='replace')
    marker = ''
    for item in _read(f'/proc/{pid}/environ').split(b'\0'):
        if item.startswith(MARKER_VAR.encode() + b'='):
            marker = item.split(b'=', 1)[1].decode(errors='replace')
    return Holder(port=port, pid=pid, cmdline=cmdline.strip(), marker=marker)
