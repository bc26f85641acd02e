"""Time from a crash to the /services page showing it, in real headless Chromium.

    .venv/bin/python bench/page_latency.py [--crashes 20]

Starts the orchestrator (10 sleepers, restart always) and the sidecar on a private ROS domain,
opens the page, then SIGKILLs a service and records, inside the page, the wall-clock moment
its PID cell changes (a MutationObserver); the kill's wall-clock time is taken here. Both
clocks are this machine's. Prints median and p95 in ms.
"""

import argparse
import os
import signal
import statistics
import sys
import time

from api_latency import wait_until_all_running
from benchstack import percentile, running_stack, SERVICE_PYTHON
import httpx
from playwright.sync_api import Page, sync_playwright

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
    services = [{'name': f'svc{i}', 'cmd': SERVICE_PYTHON,
                 'args': ['-c', 'import time\ntime.sleep(3600)'], 'autostart': True,
                 'restart_policy': 'always',
                 'restart': {'stable_after': 0.5, 'crash_loop_max': 1000}} for i in range(10)]
    samples = []
    with running_stack(services, 'page') as base, sync_playwright() as play:
        browser = play.chromium.launch(executable_path='/usr/bin/chromium', args=CHROMIUM_ARGS)
        page = browser.new_page()
        wait_until_all_running(httpx.Client(timeout=10), base + '/api/services/list',
                               len(services))
        page.goto(base + '/services')
        for i in range(args.crashes):
            samples.append(crash_and_watch(page, f'svc{i % 10}'))
        browser.close()
    print(f'| crash -> page shows the new PID | median {statistics.median(samples):.0f} ms '
          f'| p95 {percentile(samples, 0.95):.0f} ms | {len(samples)} crashes |')
    return 0


def crash_and_watch(page: Page, name: str) -> float:
    """Kill the service's process; ms until the page's PID cell changed."""
    cell = page.locator(f'tr[data-service="{name}"] td.pid')
    page.wait_for_function(f'document.querySelector(\'tr[data-service="{name}"] td.pid\')'
                           '.textContent.match(/^[0-9]+$/)', timeout=30000)
    time.sleep(0.6)                  # a stable run, so the restart is immediate
    pid = int(cell.text_content())
    page.evaluate(WATCH, name)
    killed = time.time() * 1000
    os.kill(pid, signal.SIGKILL)
    return page.evaluate('window.__shown') - killed


if __name__ == '__main__':
    sys.exit(main())
