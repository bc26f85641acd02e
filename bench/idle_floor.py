"""Idle CPU of the orchestrator and the sidecar against the floor: what bare rclpy and
uvicorn cost doing the least the same job needs.

    .venv/bin/python bench/idle_floor.py [--services 50] [--runs 3] [--seconds 30]

Three phases per run, each on a fresh private ROS domain, every process measured over the same
window (every thread's time on a CPU, to the nanosecond: benchkit/cputime.py; after 5 s of
settling):
- stack: the orchestrator with its ROS node over N `sleep` services (metrics every 2 s, status
  at 1 Hz) and the sidecar with no client (it subscribes to the orchestrator's status);
- engine: the orchestrator alone (`--no-ros`) over the same services;
- floors, the least the same jobs need in bare rclpy and uvicorn: a bare rclpy node (a
  participant, a node, an executor spinning, nothing else); a publisher node that does what the
  orchestrator's status does at idle, and a little more (the liveliness of `status_updates`
  asserted every ASSERT_PERIOD s from a plain thread; N statuses on `status` every 10 s,
  which the orchestrator sends only while usage moves; see ros/presence.py); a subscriber
  node that takes both, with the liveliness, and does nothing with them; and the sidecar's own
  HTTP server (its uvicorn server class over an empty FastAPI app), without ROS.
Medians of `--runs` runs, then what the orchestrator's ROS face costs (stack - engine) against
the publisher node, and the sidecar against its floor (the subscriber node plus the HTTP
server: two interpreters where the sidecar is one). `--json` writes every sample.
"""

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
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

from benchkit.cputime import CpuClock
from benchkit.machine import header, machine
from benchstack import free_port, ROOT, sleepers
import psutil

SPIN = ('import rclpy\n'
        'from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor\n'
        'rclpy.init()\n'
        'node = rclpy.create_node("idle_floor")\n'
        'executor = SingleThreadedExecutor()\n'
        'executor.add_node(node)\n'
        '{body}\n'
        'try:\n'
        '    executor.spin()\n'
        'except (KeyboardInterrupt, ExternalShutdownException):\n'
        '    pass\n')
BARE = SPIN.format(body='')
PUBLISHER = SPIN.format(body=(
    'import sys, threading, time\n'
    'from omega_orchestrator_interfaces.msg import ServiceStatus, ServiceStatusArray\n'
    'from omega_orchestrator.ros.presence import ASSERT_PERIOD, updates_qos\n'
    'updates = node.create_publisher(ServiceStatusArray, "status_updates", updates_qos())\n'
    'whole = node.create_publisher(ServiceStatusArray, "status", 10)\n'
    'every = ServiceStatusArray(services=[ServiceStatus(name=f"s{i:03d}")\n'
    '                                     for i in range(int(sys.argv[1]))])\n'
    'def beat():\n'
    '    for beat in range(10 ** 9):\n'
    '        time.sleep(ASSERT_PERIOD)\n'
    '        updates.assert_liveliness()\n'
    '        if beat % 5 == 0:\n'
    '            whole.publish(every)\n'
    'threading.Thread(target=beat, daemon=True).start()'))
SUBSCRIBER = SPIN.format(body=(
    'import sys\n'
    'from omega_orchestrator_interfaces.msg import ServiceStatusArray\n'
    'from rclpy.event_handler import SubscriptionEventCallbacks\n'
    'from omega_orchestrator.ros.presence import updates_qos\n'
    'node.create_subscription(ServiceStatusArray, f"{sys.argv[1]}/status", lambda _: None, 10)\n'
    'node.create_subscription(ServiceStatusArray, f"{sys.argv[1]}/status_updates",\n'
    '                         lambda _: None, updates_qos(), event_callbacks=\n'
    '                         SubscriptionEventCallbacks(liveliness=lambda _: None))'))
HTTP_SERVER = (
    'import asyncio, signal, sys, uvicorn\n'
    'from fastapi import FastAPI\n'
    'from omega_orchestrator.sidecar.__main__ import make_quiet_server\n'
    'config = uvicorn.Config(FastAPI(), host="127.0.0.1", port=int(sys.argv[1]),\n'
    '                        log_level="warning")\n'
    'for signum in (signal.SIGINT, signal.SIGTERM):\n'
    '    signal.signal(signum, lambda *_: None)\n'
    'make_quiet_server(uvicorn)(config, asyncio.Event()).run()\n')
SETTLE = 5.0


def cpu_percent(procs: dict[str, subprocess.Popen], seconds: float) -> dict[str, float]:
    """Each process's CPU (all threads) over the same `seconds`, in % of one core: to the
    nanosecond where its threads stayed the same, else in clock ticks (benchkit/cputime.py).
    """
    clocks = {name: CpuClock(p.pid) for name, p in procs.items()}
    start = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - start
    found = {}
    for name, proc in procs.items():
        if proc.poll() is not None:
            raise RuntimeError(f'{name} exited with {proc.returncode} during the window')
        used, unit = clocks[name].seconds()
        if unit != 'ns':
            print(f'{name}: its threads changed during the window; counted in clock ticks',
                  file=sys.stderr)
        found[name] = 100 * used / wall
    return found


@contextmanager
def processes(argvs: dict[str, list[str]], folder: Path) -> Iterator[dict[str, subprocess.Popen]]:
    """Start each argv on one fresh private domain; SIGINT them all at the end."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, argv in argvs.items():
            with open(folder / f'{name}.out', 'w') as out:
                procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out,
                                               stderr=subprocess.STDOUT)
        yield procs
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGINT)
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for_services(orchestrator: subprocess.Popen, count: int) -> None:
    """Until the orchestrator has `count` services running (`sleep` children)."""
    me, deadline = psutil.Process(orchestrator.pid), time.monotonic() + 60
    while len(sleepers(me)) < count:
        if orchestrator.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError('the services did not all start')
        time.sleep(0.05)


def one_run(count: int, seconds: float, folder: Path) -> dict[str, float]:
    """The three phases once; CPU % by process."""
    registry = folder / 'r.json'
    registry.write_text(json.dumps({'services': [
        {'name': f's{i:03d}', 'cmd': 'sleep', 'args': ['3600'], 'autostart': True}
        for i in range(count)]}))
    orchestrator = [sys.executable, '-m', 'omega_orchestrator', '--registry', str(registry),
                    '--log-dir', str(folder / 'logs')]
    found: dict[str, float] = {}
    with processes({'orchestrator': orchestrator,
                    'sidecar': [sys.executable, '-m', 'omega_orchestrator.sidecar',
                                '--port', str(free_port())]}, folder) as procs:
        wait_for_services(procs['orchestrator'], count)
        time.sleep(SETTLE)
        found.update(cpu_percent(procs, seconds))
    with processes({'engine': [*orchestrator, '--no-ros']}, folder) as procs:
        wait_for_services(procs['engine'], count)
        time.sleep(SETTLE)
        found.update(cpu_percent(procs, seconds))
    with processes({'bare node': [sys.executable, '-c', BARE],
                    'publisher node': [sys.executable, '-c', PUBLISHER, str(count)],
                    'subscriber node': [sys.executable, '-c', SUBSCRIBER, ''],
                    'HTTP server': [sys.executable, '-c', HTTP_SERVER, str(free_port())]},
                   folder) as procs:
        time.sleep(SETTLE)
        found.update(cpu_percent(procs, seconds))
    return found


def measure(services: int, runs: int, seconds: float) -> dict[str, list[float]]:
    """Every window's CPU % by process, over `runs` runs."""
    samples: dict[str, list[float]] = {}
    for run in range(runs):
        folder = Path(tempfile.mkdtemp(prefix='omega-idle-floor-'))
        try:
            for name, value in one_run(services, seconds, folder).items():
                samples.setdefault(name, []).append(value)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f'run {run + 1}: ' + ', '.join(f'{k} {v[-1]:.2f} %' for k, v in samples.items()),
              file=sys.stderr)
    return samples


def table(samples: dict[str, list[float]]) -> str:
    """The medians as Markdown, and each side against its floor."""
    median = {name: statistics.median(values) for name, values in samples.items()}
    face = median['orchestrator'] - median['engine']
    floor = median['subscriber node'] + median['HTTP server']
    lines = ['| process | idle CPU, % of one core |', '| --- | ---: |',
             *(f'| {name} | {value:.2f} |' for name, value in median.items()),
             f"| the orchestrator's ROS face (orchestrator - engine) | {face:.2f} |", '',
             f"The ROS face: {face:.2f} % against the publisher node's "
             f'{median["publisher node"]:.2f} % (a bare node: {median["bare node"]:.2f} %); '
             f'the sidecar: {median["sidecar"]:.2f} % against its floor of {floor:.2f} % '
             '(the subscriber node plus the HTTP server).']
    return '\n'.join(lines) + '\n'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--services', type=int, default=50)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--seconds', type=float, default=30.0)
    parser.add_argument('--json', type=Path, default=None)
    args = parser.parse_args()
    info = machine()
    samples = measure(args.services, args.runs, args.seconds)
    print(f'{header(info)} {args.services} services, medians of {args.runs} runs of '
          f'{args.seconds:g} s.\n')
    print(table(samples), end='')
    if args.json:
        args.json.write_text(json.dumps({'machine': info, 'args': vars(args) | {
            'json': str(args.json)}, 'samples': samples}, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
