"""How the orchestrator grows with the number of services: 10, 50, 200, 1,000.

    .venv/bin/python bench/scale.py [--sizes 10 50 200 1000] [--idle-seconds 20]
                                    [--json bench/scale.json]

For each size, the whole product as a robot runs it (the orchestrator with its ROS node and
the sidecar, on a private ROS domain and a free port on 127.0.0.1) over N autostart services
whose command is a light binary (`sleep 3600`), and measures from outside:
- start-all: the spread of the services' process start times (first to last spawn);
- idle CPU (% of one core) and RSS of the orchestrator, and CPU of the sidecar without
  clients, over --idle-seconds once everything runs;
- GET /api/services/list p50 / p99 (sequential requests on one connection);
- the size of one serialized `~/status` message;
- the /services page in headless Chromium: load (navigation to every row drawn), a filter
  (typing a name to one row left), a scroll to the last row, and the sidecar's CPU while
  the page stays open (its event stream) for --idle-seconds;
- stop-all: SIGINT to the orchestrator -> every service gone, and the orchestrator exited.
A Markdown table goes to stdout, the raw numbers to --json.
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
import threading
import time

from benchstack import free_port, ORCHESTRATOR, percentile, ROOT, sleepers, wait
import httpx
import psutil

ENGINE_ARGS: list[str] = []     # e.g. --no-ros (set by --engine-only)


def registry(count: int) -> dict:
    sleep = shutil.which('sleep') or '/bin/sleep'
    return {'services': [{'name': f's{i:04d}', 'cmd': sleep, 'args': ['3600'],
                          'autostart': True} for i in range(count)]}


def alive(pid: int) -> bool:
    """The process runs (a zombie, or one gone between two questions, does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def status_size(domain: int, stop: threading.Event, sizes: list[int]) -> None:
    """Subscribe raw to ~/status on `domain` and record serialized sizes until `stop`."""
    from omega_orchestrator_interfaces.msg import ServiceStatusArray
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node('scale_bench', context=context)
    qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(ServiceStatusArray, f'{ORCHESTRATOR}/status',
                             lambda raw: sizes.append(len(raw)), qos, raw=True)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.2)
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()


def cpu_percent(proc: psutil.Process, seconds: float) -> float:
    before = proc.cpu_times()
    time.sleep(seconds)
    after = proc.cpu_times()
    used = (after.user + after.system) - (before.user + before.system)
    return 100.0 * used / seconds


def measure(count: int, idle_seconds: float, requests: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f'omega-scale-{count}-'))
    (folder / 'r.json').write_text(json.dumps(registry(count)))
    domain = random.randint(1, 100)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    port = free_port()
    quiet = {'env': env, 'cwd': ROOT, 'stdout': subprocess.DEVNULL,
             'stderr': subprocess.DEVNULL}
    orchestrator = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator', '--registry', str(folder / 'r.json'),
         '--log-dir', str(folder / 'logs'), *ENGINE_ARGS], **quiet)
    sidecar = subprocess.Popen([sys.executable, '-m', 'omega_orchestrator.sidecar', '--port',
                                str(port)], **quiet)
    sizes: list[int] = []
    stop_listening = threading.Event()
    listener = threading.Thread(target=status_size, args=(domain, stop_listening, sizes),
                                daemon=True)
    listener.start()
    result: dict = {'services': count}
    try:
        me = psutil.Process(orchestrator.pid)
        procs = wait(lambda: p if len(p := sleepers(me)) == count else None, 120,
                     'every service spawned')
        starts = sorted(p.create_time() for p in procs)
        result['start_spread_s'] = starts[-1] - starts[0]
        if '--no-ros' in ENGINE_ARGS:
            time.sleep(3)                      # settle: the first metrics
            result['engine_idle_cpu_percent'] = cpu_percent(me, idle_seconds)
            result['engine_rss_mb'] = me.memory_info().rss / 2**20
        else:
            result.update(measure_api(me, psutil.Process(sidecar.pid), port, count,
                                      idle_seconds, requests))
        result['status_message_bytes'] = max(sizes) if sizes else None
        pids = [p.pid for p in procs]
        began = time.monotonic()
        orchestrator.send_signal(signal.SIGINT)
        wait(lambda: not any(alive(pid) for pid in pids), 120, 'every service gone')
        result['stop_services_gone_s'] = time.monotonic() - began
        orchestrator.wait(120)
        result['stop_orchestrator_exited_s'] = time.monotonic() - began
    finally:
        stop_listening.set()
        for proc in (orchestrator, sidecar):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in (orchestrator, sidecar):
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        listener.join(5)
        shutil.rmtree(folder, ignore_errors=True)
    return result


def measure_api(me: psutil.Process, side: psutil.Process, port: int, count: int,
                idle_seconds: float, requests: int) -> dict:
    """Idle cost of the orchestrator and the sidecar, then the list latency."""
    result: dict = {}
    url = f'http://127.0.0.1:{port}/api/services/list'
    with httpx.Client(timeout=10) as http:
        def listed() -> bool:
            try:
                body = http.get(url).json()
            except (httpx.TransportError, ValueError):
                return False
            return body.get('count') == count
        wait(listed, 120, 'the API lists every service')
        time.sleep(3)                      # settle: the first metrics and statuses
        result['engine_idle_cpu_percent'] = cpu_percent(me, idle_seconds)
        result['sidecar_idle_cpu_percent'] = cpu_percent(side, min(idle_seconds, 10))
        result['engine_rss_mb'] = me.memory_info().rss / 2**20
        result['sidecar_rss_mb'] = side.memory_info().rss / 2**20
        samples = []
        for _ in range(requests):
            began = time.perf_counter()
            http.get(url).raise_for_status()
            samples.append((time.perf_counter() - began) * 1000)
    result['list_p50_ms'] = statistics.median(samples)
    result['list_p99_ms'] = percentile(samples, 0.99)
    if PAGE:
        result.update(measure_page(side, port, count, idle_seconds))
    return result


PAGE = True        # --no-page turns the Chromium measurements off
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run', '--disable-quic']


def measure_page(side: psutil.Process, port: int, count: int, idle_seconds: float) -> dict:
    """The page at this size: load, filter, scroll (ms), and the sidecar with it open."""
    from playwright.sync_api import sync_playwright
    result: dict = {}
    last = f's{count - 1:04d}'
    with sync_playwright() as play:
        browser = play.chromium.launch(executable_path=shutil.which('chromium') or
                                       '/usr/bin/chromium', args=CHROMIUM_ARGS)
        try:
            # the page's CSP forbids eval, which Playwright's waiting predicates use
            page = browser.new_page(viewport={'width': 1400, 'height': 900}, bypass_csp=True)
            began = time.perf_counter()
            page.goto(f'http://127.0.0.1:{port}/services')
            page.wait_for_function(f'document.querySelectorAll("#rows tr").length === {count}',
                                   timeout=120_000)
            result['page_load_ms'] = (time.perf_counter() - began) * 1000
            began = time.perf_counter()
            page.fill('#filter', last)
            page.wait_for_function('[...document.querySelectorAll("#rows tr")]'
                                   '.filter(r => !r.hidden).length === 1', timeout=60_000)
            result['page_filter_ms'] = (time.perf_counter() - began) * 1000
            page.fill('#filter', '')
            page.wait_for_function('[...document.querySelectorAll("#rows tr")]'
                                   f'.filter(r => !r.hidden).length === {count}',
                                   timeout=60_000)
            began = time.perf_counter()
            page.evaluate(f'document.querySelector(\'tr[data-service="{last}"]\')'
                          '.scrollIntoView()')
            page.wait_for_function(f'(() => {{ const e = document.querySelector('
                                   f'\'tr[data-service="{last}"]\'); if (!e) return false;'
                                   ' const r = e.getBoundingClientRect();'
                                   ' return r.top >= 0 && r.bottom <= innerHeight; })()',
                                   timeout=60_000)
            result['page_scroll_ms'] = (time.perf_counter() - began) * 1000
            time.sleep(2)                       # settle: the stream is open and quiet
            result['sidecar_page_cpu_percent'] = cpu_percent(side, idle_seconds)
        finally:
            browser.close()
    return result


COLUMNS = (('services', 'services', '{}'), ('start_spread_s', 'start-all spread', '{:.3f} s'),
           ('engine_idle_cpu_percent', 'idle CPU', '{:.2f} %'),
           ('sidecar_idle_cpu_percent', 'sidecar idle', '{:.2f} %'),
           ('sidecar_page_cpu_percent', 'sidecar, page open', '{:.2f} %'),
           ('engine_rss_mb', 'RSS', '{:.0f} MB'), ('list_p50_ms', 'list p50', '{:.2f} ms'),
           ('list_p99_ms', 'list p99', '{:.2f} ms'),
           ('status_message_bytes', '~/status msg', '{} B'),
           ('page_load_ms', 'page load', '{:.0f} ms'),
           ('page_filter_ms', 'page filter', '{:.0f} ms'),
           ('page_scroll_ms', 'page scroll', '{:.0f} ms'),
           ('stop_services_gone_s', 'stop: services gone', '{:.3f} s'),
           ('stop_orchestrator_exited_s', 'stop: exited', '{:.3f} s'))


def table(rows: list[dict]) -> str:
    lines = ['| ' + ' | '.join(title for _, title, _ in COLUMNS) + ' |',
             '|' + ' ---: |' * len(COLUMNS)]
    for row in rows:
        lines.append('| ' + ' | '.join(
            fmt.format(row[key]) if row.get(key) is not None else '-'
            for key, _, fmt in COLUMNS) + ' |')
    return '\n'.join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[10, 50, 200, 1000])
    parser.add_argument('--idle-seconds', type=float, default=20.0)
    parser.add_argument('--requests', type=int, default=300)
    parser.add_argument('--json', default=str(ROOT / 'bench' / 'scale.json'))
    parser.add_argument('--engine-only', action='store_true',
                        help='the orchestrator without its ROS node (no API: list and '
                             'status columns stay empty)')
    parser.add_argument('--no-page', action='store_true',
                        help='skip the Chromium measurements of the page')
    args = parser.parse_args()
    global PAGE
    PAGE = not args.no_page
    if args.engine_only:
        ENGINE_ARGS.append('--no-ros')
    rows = []
    for count in args.sizes:
        print(f'scale: {count} services...', file=sys.stderr)
        rows.append(measure(count, args.idle_seconds, args.requests))
    Path(args.json).write_text(json.dumps({'date': time.strftime('%Y-%m-%d'),
                                           'cpus': os.cpu_count(), 'rows': rows}, indent=2))
    print(table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
