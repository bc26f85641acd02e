"""Three robots on one domain, one sidecar: found on the ROS graph, each read and driven by
name, one that goes away shown unreachable with when it was last seen, then back by itself.
Real orchestrators, a real sidecar, real DDS.
"""

import pytest

from test.support import py

pytestmark = pytest.mark.ros
SLEEP = 'import time\ntime.sleep(600)'


def robots_by_name(fleet) -> dict[str, dict]:
    return {r['name']: r for r in fleet.get('/api/robots').json()['robots']}


def names(fleet, robot: str) -> list[str]:
    response = fleet.get(f'/api/services/list?robot={robot}')
    return [s['name'] for s in response.json()['services']] if response.status_code == 200 \
        else []


def test_three_robots_are_found_read_and_driven_by_name(fleet):
    stack = fleet({'alpha': [py(SLEEP, name='camera', autostart=True),
                             py(SLEEP, name='motors', autostart=True)],
                   'beta': [py(SLEEP, name='lidar', autostart=True),
                            {'name': 'broken', 'cmd': 'no-such-program-xyz',
                             'autostart': True, 'restart': {'max_retries': 0}}],
                   'gamma': [py(SLEEP, name='arm')]}, local='alpha')
    # found without a list in config; the local one is the sidecar's own namespace's
    body = stack.get('/api/robots').json()
    assert body['local'] == 'alpha' and body['count'] == 3
    assert [r['name'] for r in body['robots']] == ['alpha', 'beta', 'gamma']
    assert [r['orchestrator'] for r in body['robots']] == [
        '/alpha/omega_orchestrator', '/beta/omega_orchestrator', '/gamma/omega_orchestrator']
    assert [r['local'] for r in body['robots']] == [True, False, False]
    stack.wait_for(lambda: robots_by_name(stack)['alpha']['services']['running'] == 2 and
                   robots_by_name(stack)['beta']['services']['failed'] == 1,
                   'the services are counted per robot')
    assert robots_by_name(stack)['gamma']['services'] == {
        'total': 1, 'running': 0, 'unhealthy': 0, 'failed': 0, 'stopped': 1}
    # the seed's API is the local robot's; robot= reads another's
    assert names(stack, 'alpha') == ['camera', 'motors']
    assert [s['name'] for s in stack.get('/api/services/list').json()['services']] == \
        ['camera', 'motors']
    assert names(stack, 'beta') == ['lidar', 'broken']
    # a write goes to the chosen robot's orchestrator, and to no other
    started = stack.post('/api/services/start/arm?robot=gamma')
    assert started.status_code == 200, started.text
    stack.wait_for(lambda: stack.get('/api/services/status/arm?robot=gamma').json()
                   ['service']['status'] == 'running', "gamma's arm runs")
    assert stack.post('/api/services/start/arm').json()['error_code'] == 'not_found'
    stopped = stack.post('/api/services/stop/lidar?robot=beta')
    assert stopped.status_code == 200, stopped.text
    stack.wait_for(lambda: stack.get('/api/services/status/lidar?robot=beta').json()
                   ['service']['status'] == 'stopped', "beta's lidar stops")
    assert stack.get('/api/services/status/camera').json()['service']['status'] == 'running'
    assert stack.get('/api/services/list?robot=delta').json()['error_code'] == \
        'robot_not_found'


def test_a_robot_that_goes_away_is_shown_unreachable_then_back_by_itself(fleet):
    stack = fleet({'alpha': [py(SLEEP, name='camera', autostart=True)],
                   'beta': [py(SLEEP, name='lidar', autostart=True)]}, local='alpha')
    stack.wait_for(lambda: names(stack, 'beta') == ['lidar'], "beta's services listed")
    stack.stop_robot('beta')
    stack.wait_for(lambda: not robots_by_name(stack)['beta']['reachable'],
                   'beta is shown unreachable')
    beta = robots_by_name(stack)['beta']
    assert beta['last_seen'] is not None and beta['seen_ago_sec'] >= 0
    assert stack.get('/api/services/list?robot=beta').json()['error_code'] == \
        'orchestrator_unreachable'
    assert stack.get('/api/services/list').status_code == 200       # nothing else waits
    assert robots_by_name(stack)['alpha']['reachable']
    stack.start_robot('beta')
    stack.wait_for(lambda: robots_by_name(stack)['beta']['reachable'], 'beta is back')
    stack.wait_for(lambda: names(stack, 'beta') == ['lidar'], "beta's services again")
