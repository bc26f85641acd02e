"""Start-all of 50 Python services against the floor: 50 interpreters started bare.

    .venv/bin/python bench/start_floor.py [--services 50] [--runs 5]

Each child is `<SERVICE_PYTHON> -c CHILD FILE` (a robot's Python: see benchstack): its first
statement appends the wall-clock time to FILE, then it sleeps. A start-all lasts from the
first child's creation (the kernel's start time, psutil) to the last child's line: the time
until every service runs its own code.
- floor: this script starts the 50 children itself, as fast as Popen goes (no supervisor);
- omega: `python -m omega_orchestrator --no-ros` and with its ROS node, over the same 50
  children as autostart services with no dependencies (one wave).
Both sides are measured the same way, in alternation, `--runs` times; medians are printed
with the ratio omega / floor.
"""

import argparse
import json
import os
from pathlib import Path
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchstack import ROOT, SERVICE_PYTHON
import psutil

CHILD = ('import sys, time\n'
         'with open(sys.argv[1], "a") as f:\n'
         '    f.write(f"{time.time()}\\n")\n'
         'time.sleep(600)')


def last_line_after_first_start(ready: Path, pids: list[int], count: int,
                                timeout: float = 120.0) -> float:
    """Wait for `count` lines in `ready`; seconds from the first child's creation to the last
    line.
    """
    deadline = time.monotonic() + timeout
    while True:
        lines = ready.read_text().split() if ready.exists() else []
        if len(lines) >= count:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f'{len(lines)} of {count} children ready')
        time.sleep(0.01)
    first = min(psutil.Process(pid).create_time() for pid in pids)
    return max(float(x) for x in lines) - first


def services_of(orchestrator: psutil.Process, ready: str) -> list[int]:
    """The children running CHILD with this ready file (not the guardian)."""
    found = []
    for child in orchestrator.children():
        try:
            if ready in child.cmdline():
                found.append(child.pid)
        except psutil.Error:
            pass
    return found


def floor(count: int, folder: Path) -> float:
    ready = folder / 'floor.ready'
    procs = [subprocess.Popen([SERVICE_PYTHON, '-c', CHILD, str(ready)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              start_new_session=True) for _ in range(count)]
    try:
        return last_line_after_first_start(ready, [p.pid for p in procs], count)
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def omega(count: int, folder: Path, ros: bool) -> float:
    ready = folder / f'omega-{ros}.ready'
    registry = folder / 'r.json'
    registry.write_text(json.dumps({'services': [
        {'name': f'p{i:02d}', 'cmd': SERVICE_PYTHON, 'args': ['-c', CHILD, str(ready)],
         'autostart': True} for i in range(count)]}))
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    orchestrator = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator', '--registry', str(registry), '--log-dir',
         str(folder / 'logs'), *([] if ros else ['--no-ros'])], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        me = psutil.Process(orchestrator.pid)
        deadline = time.monotonic() + 60
        while len(pids := services_of(me, str(ready))) < count:
            if time.monotonic() > deadline:
                raise TimeoutError('services not spawned')
            time.sleep(0.01)
        return last_line_after_first_start(ready, pids, count)
    finally:
        orchestrator.send_signal(signal.SIGINT)
        try:
            orchestrator.wait(60)
        except subprocess.TimeoutExpired:    # a hung stop: kill it and its services
            for child in psutil.Process(orchestrator.pid).children(recursive=True):
                child.kill()
            orchestrator.kill()
            orchestrator.wait()


def measure(services: int, runs: int) -> dict[str, list[float]]:
    """Every start-all time (s) by side: the floor, the engine, with its ROS node."""
    results: dict[str, list[float]] = {'floor': [], 'omega --no-ros': [], 'omega': []}
    for run in range(runs):
        folder = Path(tempfile.mkdtemp(prefix='omega-start-floor-'))
        try:
            results['floor'].append(floor(services, folder))
            results['omega --no-ros'].append(omega(services, folder, ros=False))
            results['omega'].append(omega(services, folder, ros=True))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f'run {run + 1}: ' + ', '.join(f'{k} {v[-1]:.3f} s' for k, v in results.items()),
              file=sys.stderr)
    return results


def table(results: dict[str, list[float]], services: int) -> str:
    """Medians against the floor's, as Markdown."""
    base = statistics.median(results['floor'])
    lines = [f'| start-all of {services} Python services (median of '
             f'{len(results["floor"])}) | s | x floor |', '| --- | ---: | ---: |']
    for name, values in results.items():
        median = statistics.median(values)
        lines.append(f'| {name} | {median:.3f} | {median / base:.2f} |')
    return '\n'.join(lines) + '\n'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--services', type=int, default=50)
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()
    print(table(measure(args.services, args.runs), args.services), end='')
    return 0


if __name__ == '__main__':
    sys.exit(main())
