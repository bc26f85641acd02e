"""The sidecar's cost with 1, 3 and 10 orchestrators on one machine, and a robot's return.

    .venv/bin/python bench/fleet.py [--sizes 1 3 10] [--services 10] [--idle-seconds 20]
                                    [--returns 3] [--json bench/fleet.json]

For each size N: N orchestrators (robots r00..rNN, each in its own namespace, each over
--services autostart `sleep 3600` services, status at 1 Hz, metrics every 2 s) and one
sidecar (local robot r00) on a private ROS domain. Once /api/robots shows every robot
reachable and the sidecar has had no client for a while, over --idle-seconds:
- the sidecar's CPU (% of one core, to the nanosecond: benchkit/cputime.py) and RSS, with no
  HTTP client;
- the DDS traffic the sidecar causes: the bytes and packets on the loopback interface with
  the sidecar, minus those of a second window without it. The run takes place in a network
  namespace of its own (root and `ip` needed; otherwise this column is skipped with a line),
  where only these processes use the loopback, and Fast DDS's shared-memory transport is
  turned off (FASTDDS_BUILTIN_TRANSPORTS=UDPv4) so that every byte crosses the interface.
Then a robot's return, --returns times: r01's orchestrator is stopped (SIGINT), and once
/api/robots says it is unreachable it is started again; measured: from its start to
/api/services/list?robot=r01 listing every service (the orchestrator's own start-up
included). A Markdown table goes to stdout, the raw numbers to --json.
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

from benchkit.cputime import CpuClock
from benchstack import free_port, ROOT, wait
import httpx
import psutil

INSIDE_FLAG = '--inside-netns'


def loopback() -> tuple[int, int]:
    """(bytes, packets) received on lo so far (in this network namespace)."""
    for line in Path('/proc/net/dev').read_text().splitlines():
        name, _, rest = line.partition(':')
        if name.strip() == 'lo':
            fields = rest.split()
            return int(fields[0]), int(fields[1])
    return 0, 0


class Fleet:
    """N orchestrators and a sidecar on one domain, as processes."""

    def __init__(self, count: int, services: int, folder: Path) -> None:
        self.folder, self.count = folder, count
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
                        ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
        sleep = shutil.which('sleep') or '/bin/sleep'
        registry = folder / 'r.json'
        registry.write_text(json.dumps({'services': [
            {'name': f's{i:02d}', 'cmd': sleep, 'args': ['3600'], 'autostart': True}
            for i in range(services)]}))
        self.registry = registry
        self.services = services
        self.robots = {f'r{i:02d}': self.start_robot(f'r{i:02d}') for i in range(count)}
        self.sidecar = self._spawn(['omega_orchestrator.sidecar', '--port', str(self.port),
                                    '--ros-args', '-r', '__ns:=/r00'])

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, '-m', *args], env=self.env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_robot(self, name: str) -> subprocess.Popen:
        return self._spawn(['omega_orchestrator', '--registry', str(self.registry),
                            '--log-dir', str(self.folder / f'logs-{name}'),
                            '--ros-args', '-r', f'__ns:=/{name}'])

    def robots_seen(self) -> dict[str, dict]:
        try:
            body = httpx.get(self.url + '/api/robots', timeout=10).json()
        except (httpx.TransportError, ValueError):
            return {}
        return {robot['name']: robot for robot in body.get('robots', [])}

    def listed(self, robot: str) -> bool:
        try:
            response = httpx.get(f'{self.url}/api/services/list?robot={robot}', timeout=10)
        except httpx.TransportError:
            return False
        return response.status_code == 200 and response.json()['count'] == self.services

    def stop(self) -> None:
        procs = [self.sidecar, *self.robots.values()]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure(count: int, services: int, idle: float, returns: int, traffic: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f'omega-fleet-{count}-'))
    fleet = Fleet(count, services, folder)
    result: dict = {'orchestrators': count, 'services_each': services}
    try:
        wait(lambda: len([r for r in fleet.robots_seen().values() if r['reachable']]) == count,
             120, 'every robot reachable')
        time.sleep(5)                       # settle: no client since this last request
        side = psutil.Process(fleet.sidecar.pid)
        clock, lo0, began = CpuClock(side.pid), loopback(), time.monotonic()
        time.sleep(idle)
        (cpu, counted), lo1, took = clock.seconds(), loopback(), time.monotonic() - began
        result['sidecar_cpu_percent'] = 100 * cpu / took
        result['sidecar_cpu_counted_in'] = counted
        result['sidecar_rss_mb'] = side.memory_info().rss / 2**20
        with_sidecar = ((lo1[0] - lo0[0]) / took, (lo1[1] - lo0[1]) / took)
        if count > 1:
            result['return_s'] = [robot_return(fleet) for _ in range(returns)]
        if traffic:
            fleet.sidecar.send_signal(signal.SIGINT)
            fleet.sidecar.wait(60)
            time.sleep(5)                   # its participant's goodbye is not counted
            lo0, began = loopback(), time.monotonic()
            time.sleep(idle)
            lo1, took = loopback(), time.monotonic() - began
            without = ((lo1[0] - lo0[0]) / took, (lo1[1] - lo0[1]) / took)
            result['sidecar_dds_bytes_per_s'] = with_sidecar[0] - without[0]
            result['sidecar_dds_packets_per_s'] = with_sidecar[1] - without[1]
            result['fleet_dds_bytes_per_s_without_sidecar'] = without[0]
    finally:
        fleet.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return result


def robot_return(fleet: Fleet) -> float:
    """Stop r01, wait until it is shown unreachable, start it: seconds to its list."""
    proc = fleet.robots['r01']
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    wait(lambda: not fleet.robots_seen()['r01']['reachable'], 60, 'r01 unreachable')
    began = time.monotonic()
    fleet.robots['r01'] = fleet.start_robot('r01')
    wait(lambda: fleet.listed('r01'), 120, 'r01 listed again')
    return time.monotonic() - began


def netns_available() -> str | None:
    """None when a network namespace can be made here, else why not."""
    if os.geteuid() != 0:
        return 'not root'
    if shutil.which('ip') is None:
        return 'no `ip` command'
    probe = f'omega-bench-probe-{os.getpid()}'
    made = subprocess.run(['ip', 'netns', 'add', probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f'`ip netns add` refused: {made.stderr.strip()}'
    subprocess.run(['ip', 'netns', 'del', probe], check=False)
    return None


def table(rows: list[dict]) -> str:
    lines = ['| orchestrators | sidecar CPU, no client | sidecar RSS | DDS traffic the sidecar '
             'causes | a robot back -> its services listed (median) |',
             '| ---: | ---: | ---: | ---: | ---: |']
    for row in rows:
        traffic = (f"{row['sidecar_dds_bytes_per_s'] / 1024:.1f} kB/s, "
                   f"{row['sidecar_dds_packets_per_s']:.0f} packets/s"
                   if 'sidecar_dds_bytes_per_s' in row else 'not measured')
        back = f"{statistics.median(row['return_s']):.2f} s" if row.get('return_s') else '-'
        lines.append(f"| {row['orchestrators']} | {row['sidecar_cpu_percent']:.2f} % | "
                     f"{row['sidecar_rss_mb']:.0f} MB | {traffic} | {back} |")
    return '\n'.join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1, 3, 10])
    parser.add_argument('--services', type=int, default=10)
    parser.add_argument('--idle-seconds', type=float, default=20.0)
    parser.add_argument('--returns', type=int, default=3)
    parser.add_argument('--json', default=str(ROOT / 'bench' / 'fleet.json'))
    parser.add_argument(INSIDE_FLAG, action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.inside_netns:
        why_not = netns_available()
        if why_not is None:           # run again inside a network namespace of our own
            name = f'omega-bench-{os.getpid()}'
            subprocess.run(['ip', 'netns', 'add', name], check=True)
            try:
                subprocess.run(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'],
                               check=True)
                env = dict(os.environ, FASTDDS_BUILTIN_TRANSPORTS='UDPv4')
                return subprocess.call(['ip', 'netns', 'exec', name, sys.executable,
                                        *sys.argv, INSIDE_FLAG], env=env)
            finally:
                subprocess.run(['ip', 'netns', 'del', name], check=False)
        print(f'DDS traffic: skipped ({why_not}: the run needs a network namespace of its '
              'own)', file=sys.stderr)
    rows = []
    for count in args.sizes:
        rows.append(measure(count, args.services, args.idle_seconds, args.returns,
                            traffic=args.inside_netns))
        print(f'{count} orchestrator(s): {rows[-1]}', file=sys.stderr)
    Path(args.json).write_text(json.dumps(rows, indent=1))
    print(table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
