"""Separate network hosts on one machine: Linux network namespaces joined by veth links.

`Network(hosts=3)` builds, as a context manager, N+1 namespaces with unique random names:

    omega-<rand>-hub                 omega-<rand>-h0 ... omega-<rand>-h<N-1>
      br0 10.213.X.1/24  <- h0 ---veth--- eth0 10.213.X.10/24
      (bridge, multicast    h1 ---veth--- eth0 10.213.X.11/24 (in omega-<rand>-h1)
       snooping off)        ...

Every namespace has its loopback up and a multicast route on its link, so DDS discovery
(SUBNET range: multicast 239.255.0.1 plus unicast) crosses the bridge and nothing else: the
namespaces have no route out of the subnet. (Fast DDS 3.2 needs neither the multicast route,
as it names the interface of each multicast socket, nor snooping off, as a bridge floods
groups it has no member list for; both stay, so that other DDS stacks and a querier on the
bridge change nothing.) `cut(i)` / `restore(i)` take host i's link down / up at the hub's end
of its veth (the host's end then has no carrier either).

`run(where, argv)` starts a process inside a namespace with `ip netns exec`, which execs the
command in place (no fork), so the returned Popen's pid is the real process and signals sent
to it reach it. `call(where, fn)` runs a Python callable on a thread that lives in that
namespace: every socket it opens belongs there (setns(2) moves only the calling thread), so
the test can talk HTTP to a server bound to 127.0.0.1 inside the hub without a proxy.

On exit, even after a failure: the processes started with `run` get SIGINT, then SIGKILL after
a grace period; whatever else still lives in the namespaces (a service an orchestrator left
behind) is killed; the namespaces are deleted, which deletes the bridge and the veths.

`available()` says whether this machine allows all of it, with a reason for pytest.skip.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
import contextlib
import ctypes
import functools
import os
import secrets
import shutil
import signal
import subprocess
import time
from typing import Any, TypeVar

T = TypeVar('T')
HUB = 'hub'
CLONE_NEWNET = 0x40000000
GRACE = 15.0   # seconds a process started with run() has to end after SIGINT


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `ip args...`; raise with its stderr when it fails and check is set."""
    done = subprocess.run(['ip', *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f'ip {" ".join(args)}: {done.stderr.strip() or done.returncode}')
    return done


@functools.cache
def available() -> tuple[bool, str]:
    """(True, '') when namespaces, a bridge and a veth pair can be made here, else (False,
    why): not root, no `ip`, or the kernel refusing one of them.
    """
    if os.geteuid() != 0:
        return False, 'network namespaces need root'
    if shutil.which('ip') is None:
        return False, 'no `ip` command (iproute2) on PATH'
    name = f'omega-probe-{secrets.token_hex(3)}'
    try:
        ip('netns', 'add', name)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return False, f'the kernel refuses a network namespace: {exc}'
    try:
        ip('-n', name, 'link', 'add', 'br0', 'type', 'bridge')
        ip('-n', name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1')
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return False, f'no bridge or veth link in a network namespace: {exc}'
    finally:
        ip('netns', 'del', name, check=False)
    return True, ''


def _enter(path: str) -> None:
    """Move the calling thread (only it) into the network namespace mounted at path."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f'setns {path}: {os.strerror(err)}')
    finally:
        os.close(fd)


class Network:
    """A hub namespace with a bridge, and `hosts` namespaces each linked to it by a veth."""

    def __init__(self, hosts: int) -> None:
        self.tag = f'omega-{secrets.token_hex(3)}'
        self.subnet = f'10.213.{secrets.randbelow(254) + 1}'
        self.hosts = hosts
        self.procs: list[subprocess.Popen] = []
        self._made: list[str] = []
        self._threads: dict[str, ThreadPoolExecutor] = {}

    # names and addresses
    def ns(self, where: int | str) -> str:
        """The namespace's name: where is a host index or 'hub'."""
        return f'{self.tag}-{HUB if where == HUB else f"h{where}"}'

    def address(self, where: int | str) -> str:
        """The IPv4 address of the hub (its bridge) or of host i (its eth0)."""
        return f'{self.subnet}.{1 if where == HUB else 10 + int(where)}'

    def _veth(self, host: int) -> str:
        """The hub's end of host's link (the host's end is eth0 in its own namespace)."""
        return f'h{host}'

    # building and tearing down
    def __enter__(self) -> 'Network':
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add(self, where: int | str) -> str:
        name = self.ns(where)
        ip('netns', 'add', name)
        self._made.append(name)
        ip('-n', name, 'link', 'set', 'lo', 'up')
        return name

    def _build(self) -> None:
        hub = self._add(HUB)
        # multicast snooping off: the bridge floods multicast (DDS discovery) to every port,
        # whatever IGMP membership it has or has not seen
        ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
        ip('-n', hub, 'addr', 'add', f'{self.address(HUB)}/24', 'dev', 'br0')
        ip('-n', hub, 'link', 'set', 'br0', 'multicast', 'on', 'up')
        ip('-n', hub, 'route', 'add', '224.0.0.0/4', 'dev', 'br0')
        for host in range(self.hosts):
            name = self._add(host)
            # made in place: neither end ever exists in the root namespace
            ip('-n', hub, 'link', 'add', self._veth(host), 'type', 'veth',
               'peer', 'name', 'eth0', 'netns', name)
            ip('-n', hub, 'link', 'set', self._veth(host), 'master', 'br0')
            ip('-n', hub, 'link', 'set', self._veth(host), 'multicast', 'on', 'up')
            ip('-n', name, 'addr', 'add', f'{self.address(host)}/24', 'dev', 'eth0')
            ip('-n', name, 'link', 'set', 'eth0', 'multicast', 'on', 'up')
            ip('-n', name, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')

    def close(self) -> None:
        """Stop what runs in the namespaces, then delete them (idempotent)."""
        self.stop_all()
        for pool in self._threads.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._threads.clear()
        for name in self._made:
            self._kill_inside(name)
        for name in reversed(self._made):
            ip('netns', 'del', name, check=False)
        self._made.clear()

    def _kill_inside(self, name: str) -> None:
        """SIGKILL every process left in namespace name; wait until they are gone."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = [int(p) for p in ip('netns', 'pids', name, check=False).stdout.split()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for proc in self.procs:   # reap our own children so they leave no zombie
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.05)
            time.sleep(0.05)

    # the links
    def cut(self, host: int) -> None:
        """Take host's link down at the hub: nothing reaches it or leaves it any more.

        Start DDS processes in a host while its link is up: Fast DDS reads the interfaces
        with carrier once, when a participant is made; one made with no link announces only
        loopback and stays unreachable after the link comes up.
        """
        ip('-n', self.ns(HUB), 'link', 'set', self._veth(host), 'down')

    def restore(self, host: int) -> None:
        """Bring host's link back up."""
        ip('-n', self.ns(HUB), 'link', 'set', self._veth(host), 'up')

    # running things inside
    def run(self, where: int | str, argv: Sequence[str], env: dict[str, str] | None = None,
            **popen: Any) -> subprocess.Popen:
        """Start argv in the namespace (`ip netns exec` execs it in place: the Popen is the
        process itself); it is stopped when the Network closes, if not before.
        """
        proc = subprocess.Popen(['ip', 'netns', 'exec', self.ns(where), *argv], env=env,
                                **popen)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = GRACE) -> int:
        """SIGINT, then SIGKILL after grace seconds; the exit code."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        return self._reap(proc, time.monotonic() + grace)

    def stop_all(self) -> None:
        """Stop every process started with run, the last started first: SIGINT to all at
        once (once: a second one would cut an orderly shutdown short), SIGKILL to those left
        after GRACE seconds.
        """
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + GRACE
        for proc in reversed(self.procs):
            self._reap(proc, deadline)

    @staticmethod
    def _reap(proc: subprocess.Popen, deadline: float) -> int:
        """Wait for proc until deadline, then SIGKILL it; its exit code."""
        try:
            return proc.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def call(self, where: int | str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(*args, **kwargs) on a thread inside the namespace: the sockets it opens are
        there (an HTTP request to 127.0.0.1 reaches the namespace's own loopback).
        """
        name = self.ns(where)
        if name not in self._threads:
            self._threads[name] = ThreadPoolExecutor(
                1, thread_name_prefix=name, initializer=_enter, initargs=(f'/run/netns/{name}',))
        return self._threads[name].submit(fn, *args, **kwargs).result()

