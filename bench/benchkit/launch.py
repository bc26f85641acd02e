"""Launch a supervisor as an external process and always clean up after it.

``launched()`` writes the supervisor's config into a fresh temp dir, starts the
supervisor in its own session (so that terminal signals meant for the benchmark
do not reach it), and on the way out -- normal or not -- SIGKILLs the supervisor
if it is still running, SIGKILLs every process carrying one of this scenario's
tags, and removes the temp dir.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
import shutil
import signal
import subprocess
import tempfile
import time

import psutil

from benchkit.procs import sweep
from benchkit.supervisors import Service, Supervisor

OUTPUT_TAIL_LINES = 15


class ScenarioError(RuntimeError):
    """A scenario could not be measured; the message says why."""


@dataclass
class Launched:
    """A running supervisor process and what the benchmark knows about it."""

    popen: subprocess.Popen[bytes]
    process: psutil.Process
    started_at: float
    workdir: Path
    stop_signal: int = signal.SIGTERM

    def alive(self) -> bool:
        """True while the supervisor process has not exited."""
        return self.popen.poll() is None

    def ensure_alive(self) -> None:
        """Raise if the supervisor died, e.g. because it failed to start."""
        code = self.popen.poll()
        if code is not None:
            raise ScenarioError(f'supervisor exited early with code {code}')

    def terminate(self, signum: int | None = None) -> float:
        """Send its stop signal (or ``signum``); return the perf_counter time it was sent."""
        sent = time.perf_counter()
        self.popen.send_signal(self.stop_signal if signum is None else signum)
        return sent

    def output_tail(self) -> str:
        """Last lines that the supervisor wrote to its stdout/stderr."""
        out = self.workdir / 'supervisor.out'
        lines = out.read_text(errors='replace').splitlines() if out.exists() else []
        return '\n'.join(lines[-OUTPUT_TAIL_LINES:])


@contextmanager
def launched(sup: Supervisor, services: list[Service], prefix: str) -> Iterator[Launched]:
    """Run ``sup`` over ``services`` for the duration of the ``with`` block."""
    workdir = Path(tempfile.mkdtemp(prefix=f'bench-{sup.label}-'))
    try:
        argv = sup.prepare(services, workdir)
        with open(workdir / 'supervisor.out', 'wb') as out:
            started_at = time.perf_counter()
            popen = subprocess.Popen(
                argv,
                cwd=sup.cwd(workdir),
                env=sup.env(workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        run = Launched(popen, psutil.Process(popen.pid), started_at, workdir, sup.stop_signal)
        try:
            yield run
        except Exception as exc:
            tail = run.output_tail()
            raise ScenarioError(f'{exc}\n--- supervisor output tail ---\n{tail}') from exc
        finally:
            kill_supervisor(popen)
            sweep(prefix)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def kill_supervisor(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL the supervisor if it still runs, and reap it."""
    if popen.poll() is None:
        popen.kill()
    popen.wait(timeout=10)
