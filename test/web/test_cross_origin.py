"""The original OmegaOS web client's way of calling the API: a page of another origin.

The original's Next.js page is served on port 3000 of the robot and calls the API on another
port with plain `fetch`, no token. A page of our own, served from a second origin here, does
the same in real Chromium (with a JSON content type, so every call is preflighted), against
the real sidecar and orchestrator started with the documented configuration.
"""

import functools
import http.server
import threading

from playwright.sync_api import sync_playwright
import pytest

from test.support import free_port, py
from test.web.chromium import ARGS, BROWSER_TESTS, CHROMIUM

pytestmark = BROWSER_TESTS

CLIENT = """<!doctype html><meta charset="utf-8"><title>robot client</title>
<script>
window.api = async (method, path) => {
  const response = await fetch(window.API + path, {
    method, headers: {'Content-Type': 'application/json'}, mode: 'cors'});
  return {status: response.status, body: await response.json()};
};
</script>"""
TICKER = ('import itertools, time\nfor i in itertools.count():\n'
          '    print(f"tick {i}", flush=True)\n    time.sleep(0.2)')


@pytest.fixture
def client_origin(tmp_path):
    """A second origin: a plain HTTP server for the client page, on another port."""
    folder = tmp_path / 'client'
    folder.mkdir()
    (folder / 'index.html').write_text(CLIENT)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_a_page_of_another_origin_lists_starts_stops_restarts_and_reads_logs(
        stack, client_origin):
    s = stack([py(TICKER, name='camera', autostart=True), py(TICKER, name='motors')],
              sidecar_args=('--cors-origin', client_origin))
    s.wait_for(lambda: s.service('camera')['pid'], 'camera running')
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(client_origin + '/index.html')
            page.evaluate(f'window.API = {s.url!r}')
            call = lambda method, path: page.evaluate(  # noqa: E731
                'async ([m, p]) => await window.api(m, p)', [method, path])

            listed = call('GET', '/api/services/list')
            assert listed['status'] == 200 and listed['body']['count'] == 2
            started = call('POST', '/api/services/start/motors')
            assert started['status'] == 200, started
            assert started['body']['service']['status'] == 'running'
            old_pid = s.service('camera')['pid']
            restarted = call('POST', '/api/services/restart/camera')
            assert restarted['status'] == 200, restarted
            s.wait_for(lambda: s.service('camera')['pid'] not in (None, old_pid), 'new pid')
            logs = s.wait_for(lambda: (r := call('GET', '/api/services/logs/motors?lines=100'))
                              ['body']['logs']['stdout'] and r, 'motors logs')
            assert logs['body']['logs']['stdout'][0].startswith('tick')
            stopped = call('POST', '/api/services/stop/motors')
            assert stopped['status'] == 200, stopped
            missing = call('POST', '/api/services/start/ghost')
            assert missing['status'] == 404 and missing['body']['error'] == \
                "no service named 'ghost'"          # the original's shape: words in `error`
        finally:
            browser.close()


def test_a_page_of_an_origin_not_listed_is_refused(stack, client_origin):
    s = stack([py(TICKER, name='camera')])       # no --cors-origin: the default
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(client_origin + '/index.html')
            outcome = page.evaluate(f"""async () => {{
                try {{
                    await fetch({(s.url + '/api/services/start/camera')!r}, {{
                        method: 'POST', headers: {{'Content-Type': 'application/json'}}}});
                    return 'answered';
                }} catch (err) {{ return 'blocked'; }}
            }}""")
            assert outcome == 'blocked'                 # the browser's CORS check refuses
        finally:
            browser.close()
    assert s.service('camera')['status'] == 'stopped'   # and nothing happened
