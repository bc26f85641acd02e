"""The REST routes over a fake gateway: shapes, status codes, auth, validation, metrics."""

import functools
from urllib.parse import quote

from fastapi.testclient import TestClient
import hypothesis
from hypothesis import strategies as st
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


def test_maintenance_and_group_routes(http, gateway):
    gateway.items['camera']['group'] = gateway.items['motors']['group'] = 'base'
    body = http.post('/api/services/maintenance/camera').json()
    assert body['ok'] and body['service']['maintenance'] is True
    assert gateway.calls[-1] == ('maintenance', 'camera', True)
    http.post('/api/services/maintenance/camera?enabled=false')
    assert gateway.calls[-1] == ('maintenance', 'camera', False)
    body = http.post('/api/services/group/base/restart').json()
    assert body == {'ok': True, 'message': "group 'base': restart accepted",
                    'services': ['camera', 'motors']}
    assert http.post('/api/services/group/legs/start').status_code == 404
    assert http.post('/api/services/group/base/explode').status_code in (404, 422)
    guarded = TestClient(create_app(gateway, Settings(token='s3cret')))
    assert guarded.post('/api/services/group/base/stop').status_code == 401
    assert guarded.post('/api/services/maintenance/camera').status_code == 401


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


# -- issue 9: names, framing, hosts, hostile requests, the documented errors ------------------

@pytest.mark.parametrize('name', ['app%00x', 'app%0A', 'app%0Ax', '.hidden', '-x', 'a' * 65,
                                  'a%20b', 'a%2Fb', '%C3%A9t%C3%A9', '%FF'])
def test_a_name_outside_the_registry_rule_is_refused_before_ros(http, gateway, name):
    for method, path in (('post', 'restart'), ('post', 'stop'), ('post', 'start'),
                         ('get', 'status'), ('get', 'logs'), ('get', 'health')):
        response = getattr(http, method)(f'/api/services/{path}/{name}')
        assert response.status_code in (404, 422), (path, response.text)   # %2F: no route
        body = response.json()
        assert body['ok'] is False and body['error_code'] in ('invalid_argument', 'not_found')
    assert gateway.calls == []       # nothing reached the orchestrator ('app\0x' is 'app')


def test_the_name_rule_is_the_registry_rule():
    from omega_orchestrator.core.registry_model import NAME_PATTERN
    from omega_orchestrator.sidecar.routes.services import NAME_PATTERN as ROUTE_PATTERN
    assert ROUTE_PATTERN == NAME_PATTERN


def test_names_the_registry_allows_are_served(gateway):
    gateway.items.update({n: service(n) for n in ('a', 'cam_1.v2-x', '_x', 'n' * 64)})
    http = TestClient(create_app(gateway))
    for name in ('a', 'cam_1.v2-x', '_x', 'n' * 64):
        assert http.get(f'/api/services/status/{name}').status_code == 200
        assert http.post(f'/api/services/restart/{name}').status_code == 200


FRAMING = {'x-frame-options': 'DENY', 'content-security-policy': "frame-ancestors 'none'"}


class Exploding(FakeGateway):
    """A gateway with a bug: every read raises."""

    def services(self) -> list[dict]:
        raise RuntimeError('a bug')


@pytest.mark.parametrize('settings, method, path, headers, status', [
    (Settings(), 'get', '/api/services/list', {}, 200),
    (Settings(), 'get', '/services', {}, 200),
    (Settings(), 'get', '/services/assets/app.js', {}, 200),
    (Settings(), 'get', '/openapi.json', {}, 200),
    (Settings(), 'get', '/docs', {}, 200),
    (Settings(), 'get', '/metrics', {}, 200),
    (Settings(), 'get', '/nowhere', {}, 404),
    (Settings(), 'get', '/api/services/logs/camera?lines=0', {}, 422),
    (Settings(), 'post', '/api/services/start/camera', {}, 409),
    (Settings(), 'post', '/api/services/stop/camera', {'Origin': 'http://evil.example'}, 403),
    (Settings(token='t'), 'post', '/api/services/stop/camera', {}, 401),
    (Settings(allowed_hosts=('127.0.0.1',)), 'get', '/services', {'Host': 'evil.example'}, 400),
])
def test_no_site_can_frame_any_answer(gateway, settings, method, path, headers, status):
    response = getattr(TestClient(create_app(gateway, settings)), method)(
        path, headers=headers, follow_redirects=False)
    assert response.status_code == status
    for key, value in FRAMING.items():
        assert response.headers[key] == value, (key, path)


def test_even_an_internal_error_cannot_be_framed():
    http = TestClient(create_app(Exploding('camera')), raise_server_exceptions=False)
    response = http.get('/api/services/list')
    assert response.status_code == 500 and response.json()['error_code'] == 'internal'
    for key, value in FRAMING.items():
        assert response.headers[key] == value


LOOPBACK = Settings(allowed_hosts=('127.0.0.1', 'localhost', '::1', '127.0.0.2'))


@pytest.mark.parametrize('host, status', [
    ('[::1]', 200), ('[::1]:8088', 200), ('127.0.0.2:8088', 200), ('127.0.0.2', 200),
    ('localhost:8088', 200), ('127.0.0.1', 200),
    ('[::1', 400), ('[::1]evil:80', 400), ('127.0.0.3:8088', 400), ('', 400),
    ('evil.example', 400), ('[::2]:8088', 400), ('x' * 10000, 400),
])
def test_host_headers_of_every_loopback_form(gateway, host, status):
    response = TestClient(create_app(gateway, LOOPBACK)).get('/api/services/list',
                                                             headers={'Host': host})
    assert response.status_code == status, response.text
    if status == 400:
        body = response.json()
        assert body['error_code'] == 'bad_host' and len(body['error']) < 200


@pytest.mark.parametrize('argv, host', [
    (['--host', '127.0.0.2', '--port', '8088'], '127.0.0.2:8088'),
    (['--host', '::1', '--port', '8088'], '[::1]:8088'),
    (['--port', '8088'], '[::1]'),
    (['--port', '8088'], '127.0.0.1:8088'),
])
def test_the_listen_address_is_an_allowed_host(gateway, argv, host):
    from omega_orchestrator.sidecar.__main__ import build_parser, settings_from
    settings = settings_from(build_parser().parse_args(argv), None)
    assert {'127.0.0.1', 'localhost', '::1'} <= set(settings.allowed_hosts)
    http = TestClient(create_app(gateway, settings))
    assert http.get('/api/services/list', headers={'Host': host}).status_code == 200
    assert http.get('/api/services/list', headers={'Host': 'evil.example'}).status_code == 400


@pytest.mark.parametrize('method, path, headers', [
    ('get', '/api/services/list?' + 'a' * 60000, {}),
    ('get', '/api/services/list?' + 'x=1&' * 12000, {}),
    ('get', '/api/services/list?%ZZ=%ZZ&a=%00&b=%FF&%00', {}),
    ('get', '/api/services/logs/camera?lines=' + '9' * 10000, {}),
    ('get', '/api/services/logs/camera?lines=%00', {}),
    ('get', '/api/services/logs/camera?lines=1&lines=' + 'x' * 50000, {}),
    ('post', '/api/services/stop/camera?force=%FF', {}),
    ('get', '/nowhere?' + 'q' * 60000, {}),
    ('get', '/services/assets/%00?%00', {}),
    ('get', '/services/assets/' + 'a' * 5000, {}),
    ('post', '/api/services/reload?' + 'x' * 50000, {'Origin': 'http://[' + 'x' * 1000}),
    ('post', '/api/services/stop/camera', {'Origin': 'http://['}),
    ('post', '/api/services/stop/camera', {'Origin': 'http://a:99999999'}),
    ('post', '/api/services/stop/camera', {'Origin': 'null'}),
])
def test_hostile_requests_get_json_errors_never_a_500(gateway, method, path, headers):
    for settings in (Settings(), Settings(token='t', cors_origins=('http://a',),
                                          open_writes_for_origins=True)):
        http = TestClient(create_app(gateway, settings), raise_server_exceptions=False)
        response = getattr(http, method)(path, headers=headers, follow_redirects=False)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            body = response.json()
            assert body['ok'] is False and body['error_code'] and len(body['error']) < 1000


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                    blacklist_characters='\x7f'), max_size=80)
PATHS = st.sampled_from(['/api/services/list', '/api/services/status/camera',
                         '/api/services/logs/camera', '/api/services/stop/camera',
                         '/api/services/reload', '/api/health', '/metrics', '/nowhere',
                         '/services', '/services/assets/app.js', '/'])


@functools.cache
def clients() -> tuple[TestClient, ...]:
    """One app per kind of settings, made once for the property below."""
    return tuple(TestClient(create_app(FakeGateway('camera', 'motors'), config),
                            raise_server_exceptions=False)
                 for config in (Settings(), LOOPBACK, Settings(
                     token='t', cors_origins=('http://a',), open_writes_for_origins=True)))


@hypothesis.settings(max_examples=100, deadline=None, database=None)
@hypothesis.given(path=PATHS, query=st.text(max_size=200), origin=HEADER_TEXT, host=HEADER_TEXT,
       authorization=HEADER_TEXT, post=st.booleans())
def test_any_query_and_headers_get_an_answer_never_a_500(path, query, origin, host,
                                                         authorization, post):
    headers = {'Origin': origin.encode('latin-1'),
               'Host': host.encode('latin-1') or b'testserver',
               'Authorization': authorization.encode('latin-1')}
    for http in clients():
        response = (http.post if post else http.get)(
            f'{path}?{quote(query)}', headers=headers, follow_redirects=False)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.json()['ok'] is False
        for key, value in FRAMING.items():
            assert response.headers[key] == value


def test_a_hostile_origin_is_a_foreign_one(gateway):
    http = TestClient(create_app(gateway))
    response = http.post('/api/services/stop/camera', headers={'Origin': 'http://['})
    assert response.status_code == 403 and response.json()['error_code'] == 'cross_origin'
    assert gateway.calls == []


def test_open_writes_for_origins_still_need_no_token(gateway):
    settings = Settings(token='t', cors_origins=('http://tablet.local',),
                        open_writes_for_origins=True)
    http = TestClient(create_app(gateway, settings))
    assert http.post('/api/services/stop/camera',
                     headers={'Origin': 'http://tablet.local'}).status_code == 200
    assert http.post('/api/services/stop/camera').status_code == 401
    assert http.post('/api/services/stop/camera',
                     headers={'Authorization': 'bearer t'}).status_code == 401   # as before
    assert http.post('/api/services/stop/camera',
                     headers={'Authorization': 'Bearer t'}).status_code == 200


ERRORS_OF = {
    ('get', '/api/services/list'): {400, 404, 422, 503},     # 404, 422: robot=
    ('get', '/api/services/status/{name}'): {400, 404, 422, 503},
    ('get', '/api/services/health/{name}'): {400, 404, 422, 503},
    ('get', '/api/services/logs/{name}'): {400, 404, 422, 503, 504},
    ('post', '/api/services/start/{name}'): {400, 401, 403, 404, 409, 422, 502, 503, 504},
    ('post', '/api/services/stop/{name}'): {400, 401, 403, 404, 409, 422, 502, 503, 504},
    ('post', '/api/services/restart/{name}'): {400, 401, 403, 404, 409, 422, 502, 503, 504},
    ('post', '/api/services/maintenance/{name}'): {400, 401, 403, 404, 409, 422, 502, 503,
                                                    504},
    ('post', '/api/services/group/{group}/{action}'): {400, 401, 403, 404, 409, 422, 502, 503,
                                                       504},
    ('post', '/api/services/reload'): {400, 401, 403, 404, 409, 422, 503, 504},
    ('get', '/api/services/events'): {400, 404, 422},
    ('get', '/api/health'): {400, 404, 422},
    ('get', '/metrics'): {400, 404, 422},
    ('get', '/api/robots'): {400, 422},
}


def test_openapi_documents_every_error_with_the_error_model(http):
    document = http.get('/openapi.json').json()
    operations = {(method, path): operation for path, item in document['paths'].items()
                  for method, operation in item.items()}
    assert set(operations) == set(ERRORS_OF)
    for key, operation in operations.items():
        errors = {int(s) for s in operation['responses'] if s != '200'}
        assert errors == ERRORS_OF[key], key
        for status in errors:
            content = operation['responses'][str(status)]['content']['application/json']
            assert content['schema'] == {'$ref': '#/components/schemas/Error'}, (key, status)
    assert 'HTTPValidationError' not in document['components']['schemas']


@pytest.mark.parametrize('settings, security', [
    (Settings(), [{'bearer': []}, {}]),
    (Settings(token='t'), [{'bearer': []}]),
    (Settings(token='t', cors_origins=('http://a',), open_writes_for_origins=True),
     [{'bearer': []}, {}]),
])
def test_openapi_documents_the_bearer_token_on_changes(gateway, settings, security):
    document = TestClient(create_app(gateway, settings)).get('/openapi.json').json()
    scheme = document['components']['securitySchemes']['bearer']
    assert scheme['type'] == 'http' and scheme['scheme'] == 'bearer'
    for path, item in document['paths'].items():
        for method, operation in item.items():
            expected = security if method == 'post' else None
            assert operation.get('security') == expected, (method, path)


def test_token_for_logs_guards_reading_logs(gateway):
    guarded = TestClient(create_app(gateway, Settings(token='t0k', token_for_logs=True)))
    assert guarded.get('/api/services/logs/camera').status_code == 401
    ok = guarded.get('/api/services/logs/camera', headers={'Authorization': 'Bearer t0k'})
    assert ok.status_code == 200 and ok.json()['logs']['stdout']
    assert guarded.get('/api/services/list').status_code == 200        # other reads stay open
    plain = TestClient(create_app(gateway, Settings(token='t0k')))
    assert plain.get('/api/services/logs/camera').status_code == 200  # the default
    logs = guarded.get('/openapi.json').json()['paths']['/api/services/logs/{name}']['get']
    assert logs['security'] == [{'bearer': []}] and '401' in logs['responses']
