"""Time from a crash to the /services page showing it, in real headless Chromium.

    .venv/bin/python bench/page_latency.py [--crashes 20]

Starts the orchestrator (10 sleepers, restart always) and the sidecar on a private ROS domain,
opens the page, then SIGKILLs a service and records, inside the page, the wall-clock moment
its PID cell changes (a MutationObserver); the kill's wall-clock time is taken here. Both
clocks are this machine's. Prints median and p95 in ms.
"""

import argparse
import json
import os
from pathlib import Path
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_latency import free_port, percentile, ROOT  # noqa: E402

CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run', '--disable-quic']
WATCH = """name => { window.__shown = new Promise(resolve => {
  const cell = document.querySelector(`tr[data-service="${name}"] td.pid`);
  const before = cell.textContent;
  const observer = new MutationObserver(() => {
    if (cell.textContent !== before) { observer.disconnect(); resolve(Date.now()); }
  });
  observer.observe(cell, {childList: true, characterData: true, subtree: true});
}); }"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--crashes', type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix='omega-page-bench-'))
    services = [{'name': f'svc{i}', 'cmd': sys.executable,
                 'args': ['-c', 'import time\ntime.sleep(3600)'], 'autostart': True,
                 'restart_policy': 'always',
                 'restart': {'stable_after': 0.5, 'crash_loop_max': 1000}} for i in range(10)]
    (folder / 'r.json').write_text(json.dumps({'services': services}))
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.randint(1, 100)),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    port = free_port()
    procs = [
        subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--registry',
                          str(folder / 'r.json'), '--log-dir', str(folder / 'logs')],
                         env=env, cwd=ROOT, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, '-m', 'omega_orchestrator.sidecar', '--port',
                          str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)]
    base = f'http://127.0.0.1:{port}'
    samples = []
    try:
        with sync_playwright() as play:
            browser = play.chromium.launch(executable_path='/usr/bin/chromium',
                                           args=CHROMIUM_ARGS)
            page = browser.new_page()
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + '/api/services/list', timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, 'the API never came up'
                time.sleep(0.2)
            page.goto(base + '/services')
            for i in range(args.crashes):
                name = f'svc{i % 10}'
                cell = page.locator(f'tr[data-service="{name}"] td.pid')
                page.wait_for_function(
                    f'document.querySelector(\'tr[data-service="{name}"] td.pid\')'
                    '.textContent.match(/^[0-9]+$/)', timeout=30000)
                time.sleep(0.6)                  # a stable run, so the restart is immediate
                pid = int(cell.text_content())
                page.evaluate(WATCH, name)
                killed = time.time() * 1000
                os.kill(pid, signal.SIGKILL)
                shown = page.evaluate('window.__shown')
                samples.append(shown - killed)
            browser.close()
        print(f'| crash -> page shows the new PID | median {statistics.median(samples):.0f} ms '
              f'| p95 {percentile(samples, 0.95):.0f} ms | {len(samples)} crashes |')
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait(30)
    return 0


if __name__ == '__main__':
    sys.exit(main())
