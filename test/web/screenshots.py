"""Screenshots of the /services page with a few live services, for a look by eye.

    .venv/bin/python -m test.web.screenshots [OUTPUT_DIR]     (default /tmp)

Writes services-desktop.png (1280x800), services-tablet.png (800x1100) and
services-phone.png (390x844). Not a test: pytest does not collect this file.
"""

from pathlib import Path
import sys
import tempfile

from playwright.sync_api import expect, sync_playwright

from test.stack import Stack
from test.support import py
from test.web.chromium import ARGS, CHROMIUM
from test.web.test_page import SLEEP, T, TICKER

BUSY = ('import time\nblob = []\nwhile True:\n    t = time.time()\n'
        '    while time.time() - t < 0.05 * (1 + int(t) % 3): pass\n'
        '    blob.append(bytearray(200_000)) if len(blob) < 150 else None\n'
        '    print(f"frame {int(t * 1000)} processed", flush=True)\n    time.sleep(0.4)')
FLAKY = 'import sys, time\ntime.sleep(2)\nprint("lost the CAN bus", file=sys.stderr)\nsys.exit(1)'
SERVICES = [
    py(BUSY, name='camera', autostart=True, display_name='Front camera',
       description='USB camera driver publishing /camera/image_raw'),
    py(TICKER, name='lidar', autostart=True, display_name='Lidar driver'),
    py(SLEEP, name='motors', display_name='Motor controller'),
    py(FLAKY, name='can_bridge', autostart=True, restart_policy='always',
       display_name='CAN bridge', restart={'backoff_initial': 5, 'backoff_max': 20}),
    py('print("map ready")', name='map_loader', autostart=True, oneshot=True,
       display_name='Map loader'),
    {'name': 'planner', 'cmd': 'no-such-planner', 'display_name': 'Path planner'},
]


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        s = Stack(Path(folder), SERVICES).start()
        try:
            s.post('/api/services/start/planner')
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for name, width, height in (('desktop', 1280, 800), ('tablet', 800, 1100),
                                            ('phone', 390, 844)):
                    page = browser.new_page(viewport={'width': width, 'height': height})
                    page.goto(s.url + '/services')
                    expect(page.locator('#rows tr')).to_have_count(len(SERVICES), timeout=T)
                    page.locator('tr[data-service="lidar"] .btn-logs').click()
                    page.wait_for_timeout(12_000)      # let the sparklines fill
                    page.mouse.move(0, 0)
                    page.evaluate('window.scrollTo(0, 0)')
                    page.screenshot(path=str(out / f'services-{name}.png'), full_page=True)
                    print(out / f'services-{name}.png')
                    page.close()
                browser.close()
        finally:
            s.stop()


if __name__ == '__main__':
    main(Path(sys.argv[1] if len(sys.argv) > 1 else '/tmp'))
