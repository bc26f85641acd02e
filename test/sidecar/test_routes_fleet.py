"""The robot selector of every route, and /api/robots, over fake robots (the routes are under
test; the real fleet over ROS is test/sidecar/test_fleet.py).
"""

from fastapi.testclient import TestClient
import pytest

from omega_orchestrator.sidecar.app import create_app
from omega_orchestrator.sidecar.fleet import count_services
from test.sidecar.fake_gateway import FakeFleet, FakeGateway, service


@pytest.fixture
def fleet() -> FakeFleet:
    return FakeFleet(alpha=FakeGateway('camera', 'motors'), beta=FakeGateway('lidar'))


@pytest.fixture
def http(fleet: FakeFleet) -> TestClient:
    return TestClient(create_app(fleet), raise_server_exceptions=False)


def test_without_a_robot_every_route_is_about_the_local_one(http, fleet):
    assert [s['name'] for s in http.get('/api/services/list').json()['services']] == \
        ['camera', 'motors']
    assert http.post('/api/services/stop/camera').status_code == 200
    assert fleet.gateways['alpha'].calls == [('stop', 'camera', False)]


def test_robot_chooses_whose_services_are_read_and_changed(http, fleet):
    listed = http.get('/api/services/list?robot=beta').json()
    assert [s['name'] for s in listed['services']] == ['lidar']
    assert http.get('/api/services/status/lidar?robot=beta').json()['service']['name'] == 'lidar'
    assert http.get('/api/services/status/lidar').status_code == 404     # not alpha's
    assert http.post('/api/services/stop/lidar?robot=beta&force=true').status_code == 200
    assert fleet.gateways['beta'].calls == [('stop', 'lidar', True)]
    assert fleet.gateways['alpha'].calls == []


def test_an_unknown_robot_is_a_404_that_changes_nothing(http, fleet):
    response = http.post('/api/services/stop/camera?robot=gamma')
    assert response.status_code == 404
    assert response.json()['error_code'] == 'robot_not_found'
    assert 'gamma' in response.json()['error']
    assert fleet.gateways['alpha'].calls == [] and fleet.gateways['beta'].calls == []


def test_a_mistyped_selector_is_refused_not_applied_to_the_local_robot(http, fleet):
    response = http.post('/api/services/stop/camera?robto=beta')
    assert response.status_code == 422
    assert response.json()['error_code'] == 'invalid_argument'
    assert "'robto'" in response.json()['error']
    assert fleet.gateways['alpha'].calls == []
    assert http.get('/api/services/list?robot=../etc').status_code == 422     # not a name


def test_robots_lists_every_robot_with_its_services_counted(http, fleet):
    fleet.gateways['alpha'].items['motors']['status'] = 'crashed'
    fleet.gateways['beta'].up = False
    body = http.get('/api/robots').json()
    assert body['ok'] is True and body['local'] == 'alpha' and body['count'] == 2
    alpha, beta = body['robots']
    assert (alpha['name'], alpha['local'], alpha['reachable']) == ('alpha', True, True)
    assert alpha['services'] == {'total': 2, 'running': 1, 'unhealthy': 0, 'failed': 1,
                                 'stopped': 0}
    assert (beta['name'], beta['local'], beta['reachable']) == ('beta', False, False)
    assert beta['last_seen'] == '2023-11-14T22:13:20.000+00:00' and beta['seen_ago_sec'] == 2.5
    assert http.get('/api/services/list?robot=beta').status_code == 503


def test_a_single_gateway_is_a_fleet_of_one_called_local():
    http = TestClient(create_app(FakeGateway('camera')))
    body = http.get('/api/robots').json()
    assert body['local'] == 'local' and [r['name'] for r in body['robots']] == ['local']
    assert body['robots'][0]['services']['running'] == 1
    assert http.get('/api/services/list?robot=local').status_code == 200
    assert http.get('/api/services/list?robot=other').status_code == 404


def test_services_are_counted_by_what_they_do():
    unhealthy = dict(service('b'), health={'healthy': False, 'message': 'no answer'})
    counts = count_services([service('a'), unhealthy, service('c', 'failed'),
                             service('d', 'exited'), service('e', 'backoff')])
    assert counts == {'total': 5, 'running': 2, 'unhealthy': 1, 'failed': 1, 'stopped': 1}


def test_the_token_guards_writes_to_every_robot(fleet):
    from omega_orchestrator.sidecar.app import Settings
    http = TestClient(create_app(fleet, Settings(token='s3cret')))
    assert http.post('/api/services/stop/lidar?robot=beta').status_code == 401
    assert fleet.gateways['beta'].calls == []
    authorized = http.post('/api/services/stop/lidar?robot=beta',
                           headers={'Authorization': 'Bearer s3cret'})
    assert authorized.status_code == 200
    assert fleet.gateways['beta'].calls == [('stop', 'lidar', False)]
    assert http.get('/api/services/list?robot=beta').status_code == 200     # reads stay open
