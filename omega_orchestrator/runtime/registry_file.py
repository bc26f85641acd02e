"""Reloading the registry from a file that may never answer: off the loop, with a timeout.

A reload's path can point anywhere: at a FIFO nobody writes to (open() blocks for ever), a
device, a folder, or a file on a mount that stopped answering (even stat() blocks). None of
that may freeze the orchestrator (DESIGN rule 14), so RegistryFileReader:

- checks and reads the file in a worker thread of its own, never on the asyncio loop nor in a
  ROS callback; the loop waits for it at most `timeout` seconds (REGISTRY_INVALID after);
- refuses anything but a regular file at once (REGISTRY_INVALID, naming the path and what
  it is); a file swapped for a FIFO between the check and the read is caught by the timeout;
- keeps at most one hung thread: a thread cannot be killed, so a read that timed out keeps
  its thread until the system lets go, and while it does every new read is refused at once.

RegistryReloader runs one reload at a time: the read, then Supervisor.reload. A second reload
while one is reading or applying is refused ('a reload is in progress', WRONG_STATE), not
queued. A reload whose stops take longer than `wait` answers 'accepted, still applying' with
the changes it is making, and goes on; watch the status for the rest.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import logging
import os
import stat
import threading
import time

from omega_orchestrator.core.errors import RegistryError, WrongStateError
from omega_orchestrator.core.registry import load_registry, Registry
from omega_orchestrator.core.reload import service_changes
from omega_orchestrator.runtime.supervisor import Supervisor

log = logging.getLogger('omega_orchestrator')
Loader = Callable[[str, str | None], Registry]     # (path, base_dir) -> Registry; may block
KINDS = ((stat.S_ISDIR, 'a folder'), (stat.S_ISFIFO, 'a FIFO (named pipe)'),
         (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'),
         (stat.S_ISSOCK, 'a socket'))


def load_regular_file(path: str, base_dir: str | None = None) -> Registry:
    """load_registry, for regular files only (blocks while the file system does)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise RegistryError(path, [f'cannot read the file: {exc.strerror or exc}']) from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in KINDS if test(mode)), 'not a file')
        raise RegistryError(path, [f'not a regular file but {kind}: the registry must be a '
                                   'JSON file'])
    return load_registry(path, base_dir)


@dataclass(frozen=True)
class _Hung:
    path: str
    since: float
    thread: threading.Thread


class RegistryFileReader:
    """Loads registry files in worker threads, with a timeout and at most one hung thread."""

    def __init__(self, timeout: float = 5.0, loader: Loader = load_regular_file,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.loader = loader
        self.clock = clock
        self._hung: _Hung | None = None

    def hung(self) -> str | None:
        """The path whose read is still hanging, if any."""
        if self._hung is not None and not self._hung.thread.is_alive():
            self._hung = None
        return self._hung.path if self._hung else None

    async def load(self, path: str, base_dir: str | None = None) -> Registry:
        """Read and validate the file at path; RegistryError on any problem or a timeout."""
        if self.hung() is not None:
            assert self._hung is not None
            age = self.clock() - self._hung.since
            raise RegistryError(path, [
                f'not read: reading {self._hung.path} has hung for {age:.0f} s (an '
                'unresponsive mount or device?); try again once it has returned'])
        loop = asyncio.get_running_loop()
        answer: asyncio.Future = loop.create_future()
        thread = threading.Thread(target=self._work, args=(loop, answer, path, base_dir),
                                  name='registry-read', daemon=True)
        started = self.clock()
        thread.start()
        try:
            return await asyncio.wait_for(answer, self.timeout)
        except asyncio.TimeoutError:
            self._hung = _Hung(path, started, thread)
            log.error('reading the registry %s: no answer within %g s', path, self.timeout)
            raise RegistryError(path, [f'cannot read the file: no answer within '
                                       f'{self.timeout:g} s (an unresponsive mount or '
                                       'device?)']) from None

    def _work(self, loop: asyncio.AbstractEventLoop, answer: asyncio.Future, path: str,
              base_dir: str | None) -> None:
        """The worker thread: load, then hand the outcome to the loop."""
        try:
            outcome: object = self.loader(path, base_dir)
        except Exception as exc:
            outcome = exc
        try:
            loop.call_soon_threadsafe(_settle, answer, outcome)
        except RuntimeError:
            pass      # the loop is closed: nobody waits any more


def _settle(answer: asyncio.Future, outcome: object) -> None:
    if answer.done():
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)


@dataclass(frozen=True)
class Reloaded:
    """What a reload changes; `finished` is False while its stops and starts go on."""

    path: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    finished: bool


class RegistryReloader:
    """One reload at a time: read the file off the loop, then adopt it (call on the loop)."""

    def __init__(self, supervisor: Supervisor, base_dir: str | None = None,
                 reader: RegistryFileReader | None = None) -> None:
        self.supervisor = supervisor
        self.base_dir = base_dir
        self.reader = reader or RegistryFileReader()
        self._busy: str | None = None     # what the reload in progress is doing
        self._applying: asyncio.Task | None = None
        self._detached = False

    @property
    def busy(self) -> str | None:
        """What the reload in progress is doing ('reading ...', 'applying ...'), or None."""
        return self._busy

    async def reload(self, path: str = '', wait: float = 20.0) -> Reloaded:
        """Reload from path (default: the current file); refused while another one runs."""
        if self._busy is not None:
            raise WrongStateError(f'a reload is in progress ({self._busy}); try again when '
                                  'it has finished')
        path = path or self.supervisor.registry.path
        self._busy = f'reading {path}'
        try:
            registry = await self.reader.load(path, self.base_dir)
        except BaseException:
            self._busy = None
            raise
        added, removed, changed = service_changes(self.supervisor.registry.by_name(),
                                                  registry.by_name())
        self._busy = f'applying {path}'
        task = asyncio.get_running_loop().create_task(self.supervisor.reload(registry))
        self._applying = task
        task.add_done_callback(self._applied)
        try:
            done, _ = await asyncio.wait({task}, timeout=wait)
        except asyncio.CancelledError:
            self._detached = True
            raise
        if task in done:
            applied = task.result()    # an error is the caller's answer
            return Reloaded(path, *applied, finished=True)
        self._detached = True       # nobody waits for the end: an error is logged
        return Reloaded(path, list(added), list(removed), list(changed), finished=False)

    def _applied(self, task: asyncio.Task) -> None:
        detached, self._detached = self._detached, False
        self._busy, self._applying = None, None
        if detached and not task.cancelled() and task.exception() is not None:
            log.error('applying the reloaded registry failed: %r', task.exception())
