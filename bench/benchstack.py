"""The orchestrator and its sidecar on a private ROS domain, for the latency benches."""

from collections.abc import Iterator
from contextlib import contextmanager
import json
import os
from pathlib import Path
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psutil

from omega_orchestrator.robot_names import host_namespace, NODE_NAME

ROOT = Path(__file__).resolve().parents[1]
#: The Python the benchmarks' services run: the interpreter this venv was made from, as a
#: robot's `python3`. Not the venv's own: its ROS-wheels `.pth` re-executes the interpreter
#: when its guard variable is missing, and the orchestrator (rightly) keeps that guard and the
#: wheels' library path out of a service's environment, while supervisord, circus and a bare
#: Popen pass the bench's environment on, guard included: the venv's Python would start twice
#: under omega only (measured: 2x the CPU and page faults of each child).
SERVICE_PYTHON = getattr(sys, '_base_executable', None) or sys.executable
#: The orchestrator's node as the benchmarks start it (no namespace given: this host's).
ORCHESTRATOR = f'{host_namespace()}/{NODE_NAME}'


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait(predicate, timeout: float, what: str):
    """The first true value of predicate(), asked every 50 ms; TimeoutError(what) after
    timeout s.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def sleepers(orchestrator: psutil.Process) -> list[psutil.Process]:
    """The orchestrator's children running `sleep` (one that ends meanwhile does not count)."""
    found = []
    for child in orchestrator.children():
        try:
            if child.name() == 'sleep':
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of samples, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@contextmanager
def running_stack(services: list[dict], label: str) -> Iterator[str]:
    """Run orchestrator + sidecar over `services`; yields the base URL; stops both after."""
    folder = Path(tempfile.mkdtemp(prefix=f'omega-{label}-bench-'))
    (folder / 'r.json').write_text(json.dumps({'services': services}))
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    port = free_port()
    quiet = {'env': env, 'cwd': ROOT, 'stdout': subprocess.DEVNULL,
             'stderr': subprocess.DEVNULL}
    procs = [
        subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--registry',
                          str(folder / 'r.json'), '--log-dir', str(folder / 'logs')], **quiet),
        subprocess.Popen([sys.executable, '-m', 'omega_orchestrator.sidecar', '--port',
                          str(port)], **quiet)]
    try:
        yield f'http://127.0.0.1:{port}'
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait(30)
