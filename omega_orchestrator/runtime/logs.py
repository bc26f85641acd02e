"""Service output: pipes -> size-rotated files + an in-memory tail of recent lines per stream.

Reading is driven by the event loop (add_reader on non-blocking pipes) and takes at most one
chunk per wake-up, so a service that writes very fast cannot starve supervision of the others;
rotation keeps disk use bounded at (backups + 1) x max_bytes per stream.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
import logging
import os
from typing import IO

log = logging.getLogger('omega_orchestrator')
CHUNK = 65536
MAX_LINE = 4096          # longer lines are cut in the in-memory tail (files keep them whole)


@dataclass(frozen=True, kw_only=True)
class LogSettings:
    """Where logs go and how much of them is kept."""

    log_dir: str
    max_bytes: int = 10 * 1024 * 1024
    backups: int = 5
    tail_lines: int = 1000


class RotatingFile:
    """An append-only file that rolls over to name.1 .. name.N when it grows past max_bytes.

    It is open only while a process writes to it (a stopped service holds no descriptor), and
    it never raises: when the file cannot be opened or written (read-only or full disk, a
    folder in its place) the bytes are counted in `dropped`, `error` says why, and the
    problem is logged once per streak, not once per line. `on_error_change` is called
    whenever `error` changes (a problem begins, changes or ends).
    """

    def __init__(self, path: str, max_bytes: int, backups: int,
                 on_error_change: Callable[[], None] | None = None) -> None:
        if max_bytes < 1:
            raise ValueError('max_bytes must be at least 1')
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.dropped = 0         # bytes lost to write errors (disk full, ...)
        self.error = ''          # why the last write failed; '' while writing works
        self._on_error_change = on_error_change
        self._file: IO[bytes] | None = None
        self._size = 0

    def open(self) -> None:
        """Open for appending (a new run begins); a failure is recorded, not raised."""
        self.write(b'')

    def write(self, data: bytes) -> None:
        """Append data; never raises: bytes that cannot be written are counted in `dropped`."""
        try:
            if self._file is None:
                self._file = open(self.path, 'ab', buffering=0)
                self._size = self._file.tell()
            self._write(data)
        except (OSError, ValueError) as exc:
            self._close_quietly()
            if not self.error:
                log.error('cannot write %s: %s; keeping its output in memory only until it '
                          'works again', self.path, getattr(exc, 'strerror', None) or exc)
            self.dropped += len(data)
            self._set_error(f'cannot write {self.path}: {getattr(exc, "strerror", None) or exc}')
            return
        if self.error:
            log.warning('writing %s works again (%d byte(s) were lost)', self.path,
                        self.dropped)
            self._set_error('')

    def _set_error(self, error: str) -> None:
        if error != self.error:
            self.error = error
            if self._on_error_change is not None:
                self._on_error_change()

    def _close_quietly(self) -> None:
        try:
            if self._file is not None:
                self._file.close()
        except OSError:
            pass
        self._file = None

    def _write(self, data: bytes) -> None:
        """A file never grows past max_bytes (cut at a line end when possible)."""
        while data:
            room = self.max_bytes - self._size
            if len(data) <= room:
                self._append(data)
                return
            cut = data.rfind(b'\n', 0, room) + 1 or room   # a line longer than room is split
            self._append(data[:cut])
            data = data[cut:]
            self._rotate()

    def _append(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)
        self._size += len(data)

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        if self.backups > 0:
            for index in range(self.backups - 1, 0, -1):
                older = f'{self.path}.{index}'
                if os.path.exists(older):
                    os.replace(older, f'{self.path}.{index + 1}')
            os.replace(self.path, f'{self.path}.1')
        self._file = open(self.path, 'wb', buffering=0)
        self._size = 0

    def close(self) -> None:
        """Close the file (the run's output has ended)."""
        self._close_quietly()

    def last_lines(self, count: int, limit: int = 256 * 1024) -> list[str]:
        """The last `count` lines already in the file (and its newest backup), read from at
        most `limit` bytes at its end: the history a restarted orchestrator shows.
        """
        chunks: list[bytes] = []
        for path in (self.path, f'{self.path}.1'):
            if not os.path.isfile(path):     # a device or a folder holds no history
                continue
            try:
                with open(path, 'rb') as handle:
                    size = handle.seek(0, os.SEEK_END)
                    handle.seek(max(0, size - limit))
                    chunks.insert(0, handle.read(limit))
            except OSError:
                continue
            if chunks[0].count(b'\n') > count:
                break
        lines = b''.join(chunks).split(b'\n')
        if lines and lines[-1] == b'':
            lines.pop()
        return [decode_line(raw) for raw in lines[-count:]] if count > 0 else []


def decode_line(raw: bytes) -> str:
    """One line as text: cut at MAX_LINE, invalid UTF-8 replaced, no trailing CR."""
    return raw[:MAX_LINE].decode('utf-8', errors='replace').rstrip('\r')


class StreamLog:
    """One stream (stdout or stderr) of one service: the file and the tail."""

    def __init__(self, path: str, settings: LogSettings,
                 on_error_change: Callable[[], None] | None = None) -> None:
        self.file = RotatingFile(path, settings.max_bytes, settings.backups, on_error_change)
        self.tail: deque[str] = deque(self.file.last_lines(settings.tail_lines),
                                      maxlen=settings.tail_lines)
        self._partial = b''
        self.count = 0           # lines ever added: marks where a run's output begins
        self._skipping = False   # inside a line too long for the tail, already added cut

    def feed(self, data: bytes) -> None:
        """Take bytes read from the pipe. A line longer than MAX_LINE enters the tail once,
        cut (the file keeps it whole); the rest of it is skipped up to its newline.
        """
        self.file.write(data)
        lines = (self._partial + data).split(b'\n')
        self._partial = lines.pop()
        if self._skipping and lines:      # the long line ends in this chunk
            lines.pop(0)
            self._skipping = False
        if self._skipping:
            self._partial = b''
        elif len(self._partial) > MAX_LINE:
            lines.append(self._partial)
            self._partial, self._skipping = b'', True
        for raw in lines:
            self._add_line(raw)

    def flush_partial(self) -> None:
        """The pipe closed: a last line without a newline still counts."""
        if self._partial:
            self._add_line(self._partial)
            self._partial = b''

    def _add_line(self, raw: bytes) -> None:
        line = decode_line(raw)
        self.tail.append(line)
        self.count += 1


class ServiceLogs:
    """stdout and stderr of one service, kept across restarts. `on_problem_change` is
    called whenever `problem` may have changed.
    """

    def __init__(self, name: str, settings: LogSettings,
                 on_problem_change: Callable[[], None] | None = None) -> None:
        try:
            os.makedirs(settings.log_dir, exist_ok=True)
        except OSError:
            pass         # each file reports what is wrong when it is opened
        self.streams = {
            stream: StreamLog(os.path.join(settings.log_dir, f'{name}.{stream}.log'), settings,
                              on_problem_change)
            for stream in ('stdout', 'stderr')}
        self._files = (self.streams['stdout'].file, self.streams['stderr'].file)

    @property
    def problem(self) -> str:
        """Why output is not reaching the files right now, or ''."""
        out, err = self._files     # asked for every service by every snapshot
        return out.error or err.error

    def lines(self, stream: str, count: int) -> list[str]:
        """The last `count` lines of a stream."""
        tail = self.streams[stream].tail
        return list(tail)[-count:] if count > 0 else []

    def mark(self, stream: str) -> int:
        """A mark of how far the stream is now, for lines_since()."""
        return self.streams[stream].count

    def lines_since(self, stream: str, mark: int, count: int) -> list[str]:
        """The last `count` lines added after `mark` (e.g. those of the current run)."""
        log = self.streams[stream]
        wanted = min(count, log.count - mark, len(log.tail))
        return list(log.tail)[-wanted:] if wanted > 0 else []

    def attach(self, loop: asyncio.AbstractEventLoop, stdout: IO[bytes],
               stderr: IO[bytes]) -> Callable[[], None]:
        """Pump a new process's pipes into the logs until they close.

        Returns drain(): reads what is already buffered in both pipes, e.g. once the process
        has exited, so its last lines are in the tail before the exit is reported.
        """
        for stream in self.streams.values():
            stream.file.open()
        drains = [_pump(loop, pipe, self.streams[stream])
                  for stream, pipe in (('stdout', stdout), ('stderr', stderr))]

        def drain_all() -> None:
            for drain in drains:
                drain()
        return drain_all

    def close(self) -> None:
        """Close the files."""
        for stream in self.streams.values():
            stream.file.close()


def _pump(loop: asyncio.AbstractEventLoop, pipe: IO[bytes],
          log: StreamLog) -> Callable[[], None]:
    fd = pipe.fileno()
    closed = False

    def readable() -> bool:
        nonlocal closed
        if closed:
            return False
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            data = b''
        if data:
            log.feed(data)
            return True
        closed = True
        loop.remove_reader(fd)
        pipe.close()
        log.flush_partial()
        log.file.close()          # the run's output has ended: hold no descriptor
        return False

    def drain() -> None:
        for _ in range(16):      # at most 1 MiB at once: a chatty survivor cannot stall us
            if not readable():
                return

    loop.add_reader(fd, readable)
    return drain
