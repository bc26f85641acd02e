"""The /services page in real headless Chromium, over the real orchestrator and sidecar."""

import os
import re
import signal

from playwright.sync_api import expect
import pytest

from test.support import py
from test.web.chromium import BROWSER_TESTS, watched_tab

pytestmark = BROWSER_TESTS
T = 20_000   # ms: generous, the machine is shared
SLEEP = 'import time\nprint("service up", flush=True)\ntime.sleep(600)'
TICKER = ('import itertools, time\nfor i in itertools.count():\n'
          '    print(f"tick {i}", flush=True)\n    time.sleep(0.3)')
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture
def page(browser, stack):
    """A fresh tab; fails the test on a script error or a Content-Security-Policy violation.

    Depends on `stack` so that the tab (and its open event stream) is closed before the
    stack stops: the sidecar waits for open streams when asked to stop.
    """
    with watched_tab(browser) as tab:
        yield tab


def open_page(page, s):
    page.goto(s.url + '/services')
    return page


def row_of(page, name):
    return page.locator(f'tr[data-service="{name}"]')


def button(row, verb):
    """A row's button; their accessible names are '<verb> <display name>'."""
    return row.get_by_role('button', name=re.compile(f'^{verb} '))


def test_page_lists_the_services(stack, page):
    s = stack([py(SLEEP, name='camera', autostart=True, display_name='Front camera'),
               py(SLEEP, name='motors', display_name='Motor driver'),
               {'name': 'broken', 'cmd': 'no-such-program-xyz'}])
    s.wait_for(lambda: s.service('camera')['pid'], 'camera running')
    open_page(page, s)
    expect(page).to_have_title(re.compile('Services'))
    csp = page.locator('meta[http-equiv="Content-Security-Policy"]')
    expect(csp).to_have_attribute('content', re.compile(r"script-src 'self'"))
    expect(page.locator('#rows tr')).to_have_count(3, timeout=T)
    expect(page.locator('#rows th')).to_have_text(
        [re.compile('Front camera'), re.compile('Motor driver'), re.compile('broken')])
    camera, motors = row_of(page, 'camera'), row_of(page, 'motors')
    expect(camera.locator('.badge')).to_have_text('running', timeout=T)
    expect(camera.locator('.badge')).to_have_attribute('data-state', 'running')
    expect(motors.locator('.badge')).to_have_text('stopped')
    expect(camera.locator('td.pid')).to_have_text(str(s.service('camera')['pid']))
    # no health check defined: a dash, as the original page showed, never "Unhealthy"
    expect(camera.locator('.health')).to_have_attribute('data-health', 'none')
    expect(camera.locator('.health')).to_have_attribute('aria-label', 'No health check')
    expect(camera.locator('.spark')).to_have_count(2)
    expect(button(camera, 'Start')).to_be_disabled()
    expect(button(camera, 'Stop')).to_be_enabled()
    expect(button(motors, 'Start')).to_be_enabled()
    expect(button(motors, 'Stop')).to_be_disabled()
    expect(page.locator('#table-state')).to_be_hidden()
    expect(page.locator('#connection')).to_have_attribute('data-state', 'live', timeout=T)
    # the sparklines fill up once a second, also for a stopped service whose status frames
    # stopped coming (a frame carries only what changed)
    for name in ('camera', 'motors'):
        page.wait_for_function(
            f"() => (document.querySelector('tr[data-service={name}] .spark-line')"
            ".getAttribute('points') || '').split(' ').length >= 3", timeout=T)

    page.get_by_label('Filter services').fill('motor')
    expect(page.locator('#rows tr:visible')).to_have_count(1)
    expect(motors).to_be_visible()
    page.get_by_label('Filter services').fill('running')
    expect(page.locator('#rows tr:visible')).to_have_count(1)
    expect(camera).to_be_visible()
    page.get_by_label('Filter services').fill('nothing-like-this')
    expect(page.locator('#table-state')).to_contain_text('No service matches')
    page.get_by_label('Filter services').fill('')
    expect(page.locator('#rows tr:visible')).to_have_count(3)

    # a tablet: the table still fits; a phone: one card per service; buttons stay >= 40 px
    page.set_viewport_size({'width': 800, 'height': 1100})
    assert page.evaluate("(w => w.scrollWidth <= w.clientWidth)"
                         "(document.querySelector('.table-wrap'))")
    page.set_viewport_size({'width': 600, 'height': 900})
    expect(page.locator('#services thead')).to_be_hidden()
    assert page.evaluate('document.documentElement.scrollWidth') <= 600
    for verb in ('Start', 'Stop', 'Restart', 'Logs'):
        assert button(camera, verb).bounding_box()['height'] >= 40


def test_restart_changes_the_pid_shown(stack, page):
    s = stack([py(SLEEP, name='camera', autostart=True)])
    old = s.wait_for(lambda: s.service('camera')['pid'], 'camera running')
    row = row_of(open_page(page, s), 'camera')
    pid = row.locator('td.pid')
    expect(pid).to_have_text(str(old), timeout=T)
    button(row, 'Restart').click()
    new = s.wait_for(lambda: (p := s.service('camera')['pid']) not in (None, old) and p,
                     'camera restarted with a new pid')
    expect(pid).to_have_text(str(new), timeout=T)
    expect(row.locator('.badge')).to_have_text('running')
    expect(page.locator('#transitions')).to_contain_text('stopping', timeout=T)


def test_log_panel_follows_the_output(stack, page):
    s = stack([py(TICKER, name='ticker', autostart=True, display_name='Ticker')])
    s.wait_for(lambda: s.get('/api/services/logs/ticker?lines=1').json()['logs']['stdout'],
               'ticker printed')
    row = row_of(open_page(page, s), 'ticker')
    button(row, 'Logs').click()
    expect(page.locator('#log-panel')).to_be_visible()
    expect(page.locator('#log-service')).to_have_text('Ticker')
    stdout = page.locator('#log-stdout')
    expect(stdout).to_contain_text('tick ', timeout=T)
    last = s.get('/api/services/logs/ticker?lines=1').json()['logs']['stdout'][-1]
    fresh = int(last.split()[1]) + 3       # printed about a second after we looked
    expect(stdout).to_contain_text(re.compile(rf'tick {fresh}(?!\d)'), timeout=T)

    # it follows the end while the output grows ...
    page.wait_for_function("""() => {
        const p = document.getElementById('log-stdout');
        return p.scrollHeight > p.clientHeight + 100
            && p.scrollHeight - p.scrollTop - p.clientHeight < 24; }""", timeout=T)
    # ... and stops following once the user scrolls up
    stdout.hover()
    page.mouse.wheel(0, -5000)
    expect(page.locator('#log-status')).to_contain_text('paused', timeout=T)
    later = fresh + 10
    expect(stdout).to_contain_text(re.compile(rf'tick {later}(?!\d)'), timeout=T)
    assert page.evaluate("document.getElementById('log-stdout').scrollTop") < 100

    page.get_by_role('button', name='Close logs').click()
    expect(page.locator('#log-panel')).to_be_hidden()


def test_service_text_is_never_html(stack, page):
    loud = f'import sys, time\nprint({XSS!r}, flush=True)\n' \
           f'print({XSS!r}, file=sys.stderr, flush=True)\ntime.sleep(600)'
    dies = f'import sys\nprint({XSS!r}, file=sys.stderr, flush=True)\nsys.exit(3)'
    s = stack([py(loud, name='evil', autostart=True, display_name=XSS, description=XSS),
               py(dies, name='evil_crash', autostart=True, restart_policy='never',
                  display_name=XSS, description=XSS)])
    s.wait_for(lambda: s.get('/api/services/logs/evil?lines=5').json()['logs']['stdout'],
               'evil printed')
    s.wait_for(lambda: s.service('evil_crash')['status'] == 'crashed', 'evil_crash crashed')
    row = row_of(open_page(page, s), 'evil')
    expect(row.locator('.svc-title')).to_have_text(XSS, timeout=T)
    expect(row.locator('th')).to_have_attribute('title', XSS)
    expect(row_of(page, 'evil_crash').locator('.badge')).to_have_text('crashed', timeout=T)

    button(row, 'Logs').click()
    expect(page.locator('#log-service')).to_have_text(XSS)
    expect(page.locator('#log-stdout')).to_contain_text(XSS, timeout=T)
    page.get_by_role('tab', name='stderr').click()
    expect(page.locator('#log-stderr')).to_be_visible()
    expect(page.locator('#log-stderr')).to_contain_text(XSS, timeout=T)
    # a crash while the page is open: its transition, stderr tail and toast are text too
    s.post('/api/services/start/evil_crash')
    expect(page.locator('#transitions')).to_contain_text(XSS, timeout=T)
    expect(page.locator('.transition-tail pre').first).to_contain_text(XSS, timeout=T)

    assert page.evaluate('window.__xss') is None
    assert page.locator('img').count() == 0
    assert page.locator('script').count() == 1          # app.js only


def test_stop_asks_to_confirm(stack, page):
    s = stack([py(SLEEP, name='motors', autostart=True, display_name='Motor driver')])
    s.wait_for(lambda: s.service('motors')['pid'], 'motors running')
    row = row_of(open_page(page, s), 'motors')
    badge, stop = row.locator('.badge'), button(row, 'Stop')
    expect(badge).to_have_text('running', timeout=T)
    stops, questions = [], []
    page.on('request', lambda r: stops.append(r.url) if '/api/services/stop/' in r.url else None)

    def answer(accept):
        def handle(dialog):
            questions.append((dialog.type, dialog.message))
            dialog.accept() if accept else dialog.dismiss()
        return handle

    page.once('dialog', answer(False))
    stop.click()
    assert questions and questions[0][0] == 'confirm' and 'Motor driver' in questions[0][1]
    expect(badge).to_have_text('running')
    assert s.service('motors')['status'] == 'running'

    page.once('dialog', answer(True))
    stop.click()
    expect(badge).to_have_text('stopped', timeout=T)
    assert s.service('motors')['status'] == 'stopped'
    assert len(questions) == 2 and len(stops) == 1      # the dismissed one sent nothing
    expect(stop).to_be_disabled()
    expect(button(row, 'Start')).to_be_enabled()
    expect(row.locator('td.pid')).to_have_text('—')


def test_unreachable_banner_when_the_orchestrator_stops(stack, page):
    s = stack([py(SLEEP, name='a', autostart=True)])
    open_page(page, s)
    banner = page.locator('#banner')
    expect(row_of(page, 'a').locator('.badge')).to_have_text('running', timeout=T)
    expect(banner).to_be_hidden()
    s.orchestrator.send_signal(signal.SIGINT)
    s.orchestrator.wait(30)
    s.procs.remove(s.orchestrator)
    expect(banner).to_be_visible(timeout=T)
    expect(banner).to_contain_text('unreachable')
    expect(banner).to_have_attribute('aria-live', 'assertive')
    expect(page.locator('#connection')).to_have_attribute('data-state', 'down')


def test_token_is_asked_for_and_then_used(stack, page):
    token = 'tok-7f3a9c'
    s = stack([py(SLEEP, name='camera', autostart=True)], token=token)
    old = s.wait_for(lambda: s.service('camera')['pid'], 'camera running')
    row = row_of(open_page(page, s), 'camera')
    expect(row.locator('td.pid')).to_have_text(str(old), timeout=T)
    dialog, field = page.locator('#token-dialog'), page.get_by_label('Token', exact=True)

    button(row, 'Restart').click()
    expect(dialog).to_be_visible(timeout=T)
    field.fill('wrong-token')
    page.get_by_role('button', name='Use token').click()
    expect(page.locator('#token-hint')).to_contain_text('refused', timeout=T)
    expect(dialog).to_be_visible()
    field.fill(token)
    page.get_by_role('button', name='Use token').click()
    expect(dialog).to_be_hidden()
    new = s.wait_for(lambda: (p := s.service('camera')['pid']) not in (None, old) and p,
                     'camera restarted with the token')
    expect(row.locator('td.pid')).to_have_text(str(new), timeout=T)
    assert page.evaluate("sessionStorage.getItem('omega.apiToken')") == token

    # the kept token is sent again without asking
    button(row, 'Restart').click()
    s.wait_for(lambda: s.service('camera')['pid'] not in (None, old, new),
               'second restart with the kept token')
    expect(dialog).to_be_hidden()


def test_empty_registry(stack, page):
    s = stack([])
    open_page(page, s)
    expect(page.locator('#table-state')).to_have_text(
        'No services are configured in the registry.', timeout=T)
    expect(page.locator('#connection')).to_have_attribute('data-state', 'live', timeout=T)


def test_waiting_maintenance_lifecycle_and_groups_on_the_page(stack, page):
    s = stack([py(SLEEP, name='db', group='base'),
               py(SLEEP, name='app', group='base', autostart=True, restart_policy='always',
                  depends_on=[{'name': 'db', 'condition': 'started'}])])
    open_page(page, s)
    app = row_of(page, 'app')
    expect(app.locator('.badge')).to_have_text('waiting', timeout=T)
    expect(app.locator('.status-note')).to_have_text('waiting for db: stopped', timeout=T)
    expect(app.locator('.tag[data-kind="group"]')).to_have_text('base')
    # a whole group in one click: db starts, app follows by itself
    page.get_by_role('button', name='start group base', exact=True).click()
    expect(app.locator('.badge')).to_have_text('running', timeout=T)
    expect(row_of(page, 'db').locator('.badge')).to_have_text('running', timeout=T)
    # maintenance: shown as a tag, the button pressed; a crash is not restarted
    button(app, 'Pause the supervision of').click()
    expect(app.locator('.tag[data-kind="maintenance"]')).to_have_text('maintenance', timeout=T)
    expect(button(app, 'Resume the supervision of')).to_have_attribute('aria-pressed', 'true')
    os.kill(s.service('app')['pid'], signal.SIGKILL)
    expect(app.locator('.badge')).to_have_text('crashed', timeout=T)
    assert s.service('app')['message'].endswith('maintenance: not restarted')
    button(app, 'Resume the supervision of').click()
    expect(app.locator('.tag[data-kind="maintenance"]')).to_have_count(0, timeout=T)
    page.on('dialog', lambda dialog: dialog.accept())
    page.get_by_role('button', name='stop group base', exact=True).click()
    expect(row_of(page, 'db').locator('.badge')).to_have_text('stopped', timeout=T)
    expect(app.locator('.badge')).to_have_text('stopped', timeout=T)
