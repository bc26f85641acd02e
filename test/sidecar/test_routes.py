"""The REST routes over a fake gateway: shapes, status codes, auth, validation, metrics."""

from fastapi.testclient import TestClient
import pytest

from omega_orchestrator.sidecar.app import create_app, Settings
from test.sidecar.fake_gateway import FakeGateway, service


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway('camera', 'motors')


@pytest.fixture
def http(gateway: FakeGateway) -> TestClient:
    return TestClient(create_app(gateway), raise_server_exceptions=False)


ORIGINAL_FIELDS = {  # the original's service object: every field, with its JSON type(s)
    'name': (str,), 'display_name': (str,), 'type': (str,), 'description': (str,),
    'autostart': (bool,), 'port': (int, type(None)), 'status': (str,),
    'pid': (int, type(None)), 'restart_policy': (str,), 'crash_count': (int,),
    'last_restart': (float, type(None)), 'start_time': (float, type(None)),
    'cpu_percent': (float,), 'memory_mb': (float,),
    'last_health_check': (float, type(None)), 'health_status': (str, type(None)),
}


def test_list_has_the_original_shape(http):
    body = http.get('/api/services/list').json()
    assert body['ok'] is True and body['count'] == 2
    first = body['services'][0]
    for name, types in ORIGINAL_FIELDS.items():
        assert isinstance(first[name], types), (name, first[name])
    assert first['start_time'] == 1_699_999_995.0 and first['last_health_check'] == 1.7e9
    assert first['health'] == {'healthy': True, 'message': 'ok'}
    assert first['health_status'] == 'healthy'
    assert first['memory_mb'] == 12.0 and first['restart_count'] == 1


def test_a_service_without_a_check_has_no_health_object(http, gateway):
    gateway.items['motors'] = service('motors', check=False)
    motors = http.get('/api/services/status/motors').json()['service']
    assert motors['health'] is None and motors['health_status'] is None
    assert motors['last_health_check'] is None
    assert http.get('/api/services/health/motors').json() == {
        'ok': True, 'service': 'motors',
        'health': {'healthy': True, 'message': 'No health check defined'}}


def test_status_health_and_logs(http, gateway):
    assert http.get('/api/services/status/camera').json()['service']['name'] == 'camera'
    assert http.get('/api/services/health/motors').json() == {
        'ok': True, 'service': 'motors',
        'health': {'healthy': True, 'message': 'ok'}}
    logs = http.get('/api/services/logs/camera?lines=10').json()
    assert logs == {'ok': True, 'service': 'camera',
                    'logs': {'stdout': ['line 7', 'line 8', 'line 9'], 'stderr': []}}
    assert http.get('/api/services/logs/camera').status_code == 200
    assert gateway.calls[-1] == ('logs', 'camera', 50)     # the seed's default


def test_control_routes(http, gateway):
    stopped = http.post('/api/services/stop/camera?force=true')
    assert stopped.status_code == 200
    assert stopped.json()['ok'] and stopped.json()['service']['status'] == 'stopping'
    assert gateway.calls[-1] == ('stop', 'camera', True)
    assert http.post('/api/services/start/camera').json()['message'] == "'camera' is running"
    assert http.post('/api/services/restart/motors').status_code == 200
    assert http.post('/api/services/reload').json()['ok']


@pytest.mark.parametrize('method, path, status, error', [
    ('get', '/api/services/status/ghost', 404, 'not_found'),
    ('post', '/api/services/start/ghost', 404, 'not_found'),
    ('post', '/api/services/start/camera', 409, 'wrong_state'),
    ('get', '/api/services/logs/camera?lines=0', 422, 'invalid_argument'),
    ('get', '/api/services/logs/camera?lines=1001', 422, 'invalid_argument'),
    ('get', '/api/services/logs/camera?lines=abc', 422, 'invalid_argument'),
    ('post', '/api/services/stop/camera?force=maybe', 422, 'invalid_argument'),
    ('get', '/api/services/nope', 404, 'not_found'),
])
def test_errors_are_json(http, method, path, status, error):
    response = getattr(http, method)(path)
    assert response.status_code == status
    body = response.json()
    assert body['ok'] is False and body['error_code'] == error
    assert body['error'] == body['message'] and ' ' in body['error']    # words, for people


def test_wrong_state_carries_the_service(http):
    body = http.post('/api/services/start/camera').json()
    assert body['service']['name'] == 'camera'


def test_unreachable_orchestrator_is_503(http, gateway):
    gateway.up = False
    response = http.get('/api/services/list')
    assert response.status_code == 503
    assert response.json()['error_code'] == 'orchestrator_unreachable'
    assert http.get('/api/health').json() == {'ok': True, 'sidecar': 'up',
                                              'orchestrator_reachable': False}
    metrics = http.get('/metrics').text
    assert 'omega_orchestrator_up 0.0' in metrics


def test_a_name_is_never_a_path(http, gateway):
    response = http.get('/api/services/logs/..%2F..%2Fetc%2Fpasswd')
    assert response.status_code == 404
    assert all(call[1] != 'passwd' for call in gateway.calls)


def test_token_guards_changes_but_not_reads(gateway):
    http = TestClient(create_app(gateway, Settings(token='s3cret')))
    assert http.get('/api/services/list').status_code == 200
    denied = http.post('/api/services/stop/camera')
    assert denied.status_code == 401 and denied.json()['error_code'] == 'unauthorized'
    assert http.post('/api/services/stop/camera',
                     headers={'Authorization': 'Bearer wrong'}).status_code == 401
    assert http.post('/api/services/stop/camera',
                     headers={'Authorization': 'Bearer s3cret'}).status_code == 200
    assert http.post('/api/services/reload').status_code == 401


def test_cors_is_closed_unless_configured(gateway):
    closed = TestClient(create_app(gateway))
    response = closed.get('/api/services/list', headers={'Origin': 'http://evil.example'})
    assert 'access-control-allow-origin' not in response.headers
    opened = TestClient(create_app(gateway, Settings(cors_origins=('http://tablet.local',))))
    response = opened.get('/api/services/list', headers={'Origin': 'http://tablet.local'})
    assert response.headers['access-control-allow-origin'] == 'http://tablet.local'


def test_metrics_in_prometheus_format(http):
    text = http.get('/metrics').text
    assert 'omega_service_state{service="camera",state="running"} 1.0' in text
    assert 'omega_service_restarts_total{service="camera"} 1.0' in text
    assert 'omega_service_memory_bytes{service="motors"} 1.2582912e+07' in text


def test_openapi_documents_the_routes(http):
    paths = http.get('/openapi.json').json()['paths']
    assert '/api/services/list' in paths and '/api/services/stop/{name}' in paths
    assert http.get('/docs').status_code == 200


def test_refuses_to_listen_beyond_loopback_without_a_token(monkeypatch, capsys):
    from omega_orchestrator.sidecar.__main__ import main
    monkeypatch.delenv('OMEGA_API_TOKEN', raising=False)
    assert main(['--host', '0.0.0.0', '--port', '1']) == 2
    assert 'without a token' in capsys.readouterr().err


def test_loopback_detection():
    from omega_orchestrator.sidecar.security import is_loopback
    assert is_loopback('127.0.0.1') and is_loopback('::1') and is_loopback('localhost')
    assert not is_loopback('0.0.0.0') and not is_loopback('192.168.1.5')


def test_assets_are_revalidated(http):
    response = http.get('/services/assets/app.js')
    assert response.status_code == 200 and response.headers['cache-control'] == 'no-cache'
    assert http.get('/services').headers['content-type'].startswith('text/html')


def test_cross_site_writes_are_refused(gateway):
    http = TestClient(create_app(gateway))
    evil = http.post('/api/services/stop/camera', headers={'Origin': 'http://evil.example'})
    assert evil.status_code == 403 and evil.json()['error_code'] == 'cross_origin'
    same = http.post('/api/services/stop/camera', headers={'Origin': 'http://testserver'})
    assert same.status_code == 200
    assert http.post('/api/services/start/camera').status_code in (200, 409)   # curl: no Origin
    assert http.get('/api/services/list', headers={'Origin': 'http://evil.example'}).status_code \
        == 200


def test_loopback_sidecar_refuses_foreign_host_headers(gateway):
    http = TestClient(create_app(gateway, Settings(allowed_hosts=('127.0.0.1', 'localhost'))),
                      base_url='http://127.0.0.1:8080')
    assert http.get('/api/services/list').status_code == 200
    rebound = http.get('/api/services/list', headers={'Host': 'attacker.example:8080'})
    assert rebound.status_code == 400 and rebound.json()['error_code'] == 'bad_host'
