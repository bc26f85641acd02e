"""The /services page with several robots, in real headless Chromium: the robot picker, the
overview of every robot, and every request made for the chosen robot; over one real
orchestrator per robot and one sidecar. With one robot the page stays as it was.
"""

import re

from playwright.sync_api import expect
import pytest

from test.support import free_port, py
from test.web.chromium import BROWSER_TESTS, watched_tab
from test.web.test_page import T, XSS

pytestmark = BROWSER_TESTS
SLOW = 45_000    # ms: a robot found unreachable or back (the sidecar's own deadlines first)
COUNTS = ('running', 'unhealthy', 'failed', 'total')


def hello(text: str) -> str:
    """A service that says who it is, then sleeps."""
    return f'import time\nprint({text!r}, flush=True)\ntime.sleep(600)'


def fleet_services() -> dict[str, list[dict]]:
    """Three robots with different services; `shared` runs on alpha and beta alike."""
    deaf = {'type': 'tcp', 'interval': 0.5, 'timeout': 1}     # nothing listens: unhealthy
    return {
        'alpha': [py(hello('camera on alpha'), name='camera', autostart=True),
                  py(hello('shared on alpha'), name='shared', autostart=True)],
        'beta': [py(hello('arm on beta'), name='arm', autostart=True, display_name=XSS),
                 py(hello('shared on beta'), name='shared', autostart=True),
                 py(hello('deaf on beta'), name='deaf', autostart=True, port=free_port(),
                    health_check=deaf),
                 py(hello('gripper on beta'), name='gripper')],
        'gamma': [py(hello('lidar on gamma'), name='lidar', autostart=True),
                  {'name': 'broken', 'cmd': 'no-such-program-xyz', 'autostart': True,
                   'restart_policy': 'never'}],
    }


@pytest.fixture
def page(browser, fleet, stack):
    """A fresh tab (clock in UTC, as the API's times); fails the test on a script error or a
    Content-Security-Policy violation. Closed before the robots and sidecars stop.
    """
    with watched_tab(browser, timezone_id='UTC') as tab:
        yield tab


def robots(f) -> dict[str, dict]:
    """GET /api/robots: name -> robot."""
    answer = f.get('/api/robots')
    return {r['name']: r for r in answer.json()['robots']} if answer.status_code == 200 else {}


def has_counts(f, expected: dict[str, dict]) -> dict[str, dict] | None:
    """The robots once each one's counts include `expected` (name -> count -> value)."""
    now = robots(f)
    ok = all(r in now and now[r]['reachable'] and
             all(now[r]['services'][k] == v for k, v in want.items())
             for r, want in expected.items())
    return now if ok else None


def card(page, name):
    return page.locator(f'#robots [data-robot="{name}"]')


def row_of(page, name):
    return page.locator(f'tr[data-service="{name}"]')


def rows_are(page, names):
    expect(page.locator('#rows tr')).to_have_count(len(names), timeout=T)
    for name in names:
        expect(row_of(page, name)).to_have_count(1)


def stop_button(row):
    return row.get_by_role('button', name=re.compile('^Stop '))


def test_picker_overview_and_actions_follow_the_chosen_robot(fleet, page):
    f = fleet(fleet_services(), local='alpha')
    expected = {'alpha': {'total': 2, 'running': 2, 'failed': 0, 'unhealthy': 0},
                'beta': {'total': 4, 'unhealthy': 1, 'failed': 0},
                'gamma': {'total': 2, 'running': 1, 'failed': 1}}
    known = f.wait_for(lambda: has_counts(f, expected), 'every robot counted', timeout=60)
    requests = []
    page.on('request', lambda r: requests.append(r.url) if '/api/' in r.url else None)
    page.goto(f.url + '/services')

    # alpha, the local robot, is shown first; the picker and the overview know all three
    rows_are(page, ['camera', 'shared'])
    picker = page.get_by_label('Robot', exact=True)
    expect(picker).to_be_visible()
    expect(picker).to_have_value('alpha')
    expect(picker.locator('option')).to_have_text(
        [re.compile(r'^alpha \(local\)'), re.compile('^beta'), re.compile('^gamma')])
    expect(page.locator('#robots .robot')).to_have_count(3, timeout=T)
    expect(card(page, 'alpha')).to_have_attribute('aria-pressed', 'true')
    expect(card(page, 'alpha').locator('.tag[data-kind="local"]')).to_have_text('local')
    for name in known:
        expect(card(page, name).locator('.robot-name')).to_have_text(name)
        expect(card(page, name).locator('.robot-reach')).to_have_text('reachable')
        expect(card(page, name)).to_have_attribute('data-reachable', 'true')
        for what in COUNTS:     # what the API says, at its next poll if it moved meanwhile
            expect(card(page, name).locator(f'[data-count="{what}"]')).to_have_text(
                str(robots(f)[name]['services'][what]), timeout=T)
    expect(card(page, 'beta').locator('[data-count="unhealthy"]')).to_have_text('1')
    expect(card(page, 'gamma').locator('[data-count="failed"]')).to_have_text('1')

    # picking beta shows beta's services, keeps it in the URL, and a reload keeps it
    picker.select_option('beta')
    expect(page).to_have_url(re.compile(r'/services\?robot=beta$'))
    rows_are(page, ['arm', 'shared', 'deaf', 'gripper'])
    expect(row_of(page, 'arm').locator('.svc-title')).to_have_text(XSS)
    expect(card(page, 'beta')).to_have_attribute('aria-pressed', 'true')
    expect(card(page, 'alpha')).to_have_attribute('aria-pressed', 'false')
    page.reload()
    expect(picker).to_have_value('beta', timeout=T)
    rows_are(page, ['arm', 'shared', 'deaf', 'gripper'])
    expect(page.locator('#connection')).to_have_attribute('data-state', 'live', timeout=T)

    # logs and a stop are beta's: the same name on alpha is left alone
    shared = row_of(page, 'shared')
    shared.get_by_role('button', name=re.compile('^Logs ')).click()
    expect(page.locator('#log-stdout')).to_contain_text('shared on beta', timeout=T)
    page.get_by_role('button', name='Close logs').click()
    page.on('dialog', lambda dialog: dialog.accept())
    expect(shared.locator('.badge')).to_have_text('running', timeout=T)
    stop_button(shared).click()
    expect(shared.locator('.badge')).to_have_text('stopped', timeout=T)
    assert f.get('/api/services/status/shared?robot=beta').json()['service']['status'] == \
        'stopped'
    assert f.get('/api/services/status/shared?robot=alpha').json()['service']['status'] == \
        'running'
    assert f.get('/api/services/status/shared').json()['service']['status'] == 'running'
    stops = [u for u in requests if '/api/services/stop/' in u]
    assert len(stops) == 1 and stops[0].endswith('/api/services/stop/shared?robot=beta'), stops
    assert any('/api/services/events?robot=beta' in u for u in requests), requests
    assert any('/api/services/logs/shared?lines=' in u and 'robot=beta' in u for u in requests)

    # clicking a robot in the overview shows it
    card(page, 'gamma').click()
    expect(page).to_have_url(re.compile(r'/services\?robot=gamma$'))
    expect(picker).to_have_value('gamma')
    rows_are(page, ['lidar', 'broken'])
    expect(row_of(page, 'lidar').locator('.badge')).to_have_text('running', timeout=T)
    banner = page.locator('#banner')
    expect(banner).to_be_hidden()

    # gamma goes away: marked unreachable with the time it was last seen, its banner shows;
    # the other robots go on
    f.stop_robot('gamma')
    gamma = card(page, 'gamma')
    expect(gamma).to_have_attribute('data-reachable', 'false', timeout=SLOW)
    expect(gamma.locator('.robot-reach')).to_have_text(
        re.compile(r'^unreachable, last seen \d\d:\d\d:\d\d \(\d+ s ago\)$'), timeout=T)
    seen = robots(f)['gamma']
    assert seen['reachable'] is False and seen['last_seen']
    expect(gamma.locator('.robot-reach')).to_contain_text(f'last seen {seen["last_seen"][11:19]}')
    expect(picker.locator('option[value="gamma"]')).to_contain_text('unreachable', timeout=T)
    expect(banner).to_be_visible(timeout=SLOW)
    expect(banner).to_contain_text('unreachable')
    expect(card(page, 'alpha')).to_have_attribute('data-reachable', 'true')
    card(page, 'alpha').click()
    rows_are(page, ['camera', 'shared'])
    expect(row_of(page, 'shared').locator('.badge')).to_have_text('running', timeout=T)
    expect(banner).to_be_hidden(timeout=T)
    expect(page.locator('#connection')).to_have_attribute('data-state', 'live', timeout=T)
    picker.select_option('gamma')
    expect(banner).to_be_visible(timeout=SLOW)

    # and comes back: the mark and the banner go by themselves
    f.start_robot('gamma')
    expect(gamma).to_have_attribute('data-reachable', 'true', timeout=SLOW)
    expect(gamma.locator('.robot-reach')).to_have_text('reachable')
    expect(banner).to_be_hidden(timeout=SLOW)
    expect(row_of(page, 'lidar').locator('.badge')).to_have_text('running', timeout=SLOW)

    # a robot nobody knows stays chosen (nothing is done on another robot in its stead),
    # is said to be unknown, and the picker leads back
    page.goto(f.url + '/services?robot=nosuch')
    expect(banner).to_contain_text('nosuch', timeout=T)
    expect(banner).to_contain_text('Unknown robot')
    expect(page.locator('#table-state')).to_contain_text('nosuch', timeout=T)
    expect(picker).to_have_value('nosuch')
    expect(page.locator('#rows tr')).to_have_count(0)
    picker.select_option('alpha')
    expect(page).to_have_url(re.compile(r'/services\?robot=alpha$'))
    rows_are(page, ['camera', 'shared'])
    expect(banner).to_be_hidden(timeout=T)

    assert page.evaluate('window.__xss') is None
    assert page.locator('img').count() == 0


def test_one_robot_shows_no_picker(stack, page):
    s = stack([py(hello('up'), name='camera', autostart=True)])
    asked = []
    page.on('request', lambda r: asked.append(r.url) if '/api/' in r.url else None)
    with page.expect_response(lambda r: r.url.endswith('/api/robots')) as answer:
        page.goto(s.url + '/services')
    assert answer.value.json()['count'] == 1
    expect(row_of(page, 'camera').locator('.badge')).to_have_text('running', timeout=T)
    expect(page.locator('#connection')).to_have_attribute('data-state', 'live', timeout=T)
    expect(page.locator('#robot-picker')).to_be_hidden()
    expect(page.locator('#fleet')).to_be_hidden()
    expect(page.locator('#services-title')).to_have_text('Service table')
    expect(page).to_have_title('Services · Omega Orchestrator')
    assert not [u for u in asked if 'robot=' in u], asked


def test_an_older_sidecar_without_robots(stack, page):
    """/api/robots answers 404: one robot as before; a robot in the URL is dropped."""
    s = stack([py(hello('up'), name='camera', autostart=True)])
    page.route('**/api/robots', lambda route: route.fulfill(
        status=404, json={'detail': 'Not Found'}))
    page.goto(s.url + '/services?robot=beta')
    expect(page).to_have_url(re.compile(r'/services$'), timeout=T)
    expect(row_of(page, 'camera').locator('.badge')).to_have_text('running', timeout=T)
    expect(page.locator('#connection')).to_have_attribute('data-state', 'live', timeout=T)
    expect(page.locator('#robot-picker')).to_be_hidden()
    expect(page.locator('#fleet')).to_be_hidden()


def test_a_read_only_robot_and_one_never_seen(stack, page):
    """The sidecar's answer, altered in the browser: its robot read-only, and a robot it
    never heard from: the write buttons are disabled, the other robot is 'never seen'.
    """
    s = stack([py(hello('up'), name='camera', autostart=True, group='base')])

    def altered(route):
        answer = route.fetch()
        body = answer.json()
        body['robots'][0]['writable'] = False
        body['robots'].append({**body['robots'][0], 'name': 'zz_far', 'local': False,
                               'writable': True, 'reachable': False, 'last_seen': None,
                               'seen_ago_sec': None})
        body['count'] = 2
        route.fulfill(response=answer, json=body)

    page.route('**/api/robots', altered)
    page.goto(s.url + '/services')
    camera = row_of(page, 'camera')
    expect(camera.locator('.badge')).to_have_text('running', timeout=T)
    local = page.locator('#robots .robot').first
    expect(local.locator('.tag[data-kind="read-only"]')).to_have_text('read-only', timeout=T)
    for verb in ('Stop ', 'Restart ', 'Pause the supervision of '):
        expect(camera.get_by_role('button', name=re.compile(f'^{verb}'))).to_be_disabled()
    expect(page.get_by_role('button', name='stop group base', exact=True)).to_be_disabled()
    far = card(page, 'zz_far')
    expect(far).to_have_attribute('data-reachable', 'false')
    expect(far.locator('.robot-reach')).to_have_text('unreachable, never seen')
    expect(page.get_by_label('Robot', exact=True).locator('option')).to_have_text(
        [re.compile(r'\(local\)$'), 'zz_far · unreachable'])
