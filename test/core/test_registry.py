"""The registry loader: the seed format loads unchanged; every kind of bad input is reported."""

import json
from pathlib import Path

import pytest

from omega_orchestrator.core.errors import RegistryError
from omega_orchestrator.core.registry import load_registry, parse_registry

SEED = {
    'services': [{
        'name': 'movement_ws_server', 'display_name': 'Movement Server', 'type': 'python',
        'cmd': 'python3', 'args': ['movement/movement_ws_server.py'], 'working_dir': 'movement',
        'autostart': True, 'restart_policy': 'always', 'health_check': 'movement_check',
        'port': 8081, 'description': 'Movement WebSocket server'}]}


def problems(doc: object, source: str = 'reg.json') -> list[str]:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source)
    assert str(info.value).startswith(source)
    return info.value.problems


def service(**fields: object) -> dict:
    return {'services': [{'name': 'cam', 'cmd': 'camera', **fields}]}


def test_seed_format_loads_unchanged(tmp_path: Path):
    path = tmp_path / 'service_registry.json'
    path.write_text(json.dumps({'version': 1, 'description': 'robot', **SEED}))  # a number
    registry = load_registry(path)
    spec = registry.services[0]
    assert spec.name == 'movement_ws_server' and spec.display_name == 'Movement Server'
    assert spec.args == ('movement/movement_ws_server.py',)
    assert spec.working_dir == str(tmp_path / 'movement')
    assert spec.health.kind == 'tcp' and spec.health.port == 8081
    assert spec.health.label == 'movement_check' and spec.health.interval == 10.0
    assert spec.stop.signal == 'SIGTERM' and spec.stop.timeout == 5.0
    assert spec.restart.max_retries is None and spec.restart.cooldown == 30.0


def test_every_seed_named_check_is_known():
    for check in ('movement_check', 'video_check', 'api_check', 'ultrasonic_check',
                  'line_tracker_check', 'gateway_check'):
        spec = parse_registry(json.dumps(service(health_check=check, port=9000))).services[0]
        assert spec.health.kind == 'tcp'
    spec = parse_registry(json.dumps(service(health_check='ros_core_check'))).services[0]
    assert spec.health.kind == 'ros_core'


def test_defaults_and_extensions():
    doc = service(type='ros2', env={'A': '1'}, restart_policy='on-failure', oneshot=True,
                  restart={'backoff_initial': 0.5, 'max_retries': 7},
                  health_check={'type': 'http', 'url': 'http://127.0.0.1:1/h', 'timeout': 1})
    spec = parse_registry(json.dumps(doc)).services[0]
    assert spec.stop.signal == 'SIGINT'            # ros2 nodes stop on SIGINT by default
    assert spec.env == (('A', '1'),) and spec.oneshot
    assert spec.restart.backoff_initial == 0.5 and spec.restart.max_retries == 7
    assert spec.health.kind == 'http' and spec.health.timeout == 1.0
    on_failure = parse_registry(json.dumps(service(restart_policy='on-failure'))).services[0]
    assert on_failure.restart.max_retries == 3


def test_malformed_json_names_line_and_column():
    (problem,) = problems('{\n  "services": [\n    {"name": "a",}\n  ]\n}')
    assert 'line 3 column' in problem


def test_empty_file():
    (problem,) = problems('   \n')
    assert 'empty' in problem


def test_unknown_keys_suggest_the_right_one():
    found = problems(service(restart_polcy='always'))
    assert found == ["services[0] 'cam': unknown field 'restart_polcy' "
                     "(did you mean 'restart_policy'?)"]


def test_wrong_types_name_service_and_field():
    found = problems(service(autostart='yes', port='80', args='a b'))
    assert "services[0] 'cam' field 'autostart': must be true or false, got str 'yes'" in found
    assert any("field 'port': must be an integer" in p for p in found)
    assert any("field 'args': must be a list" in p for p in found)


def test_missing_cmd():
    assert problems({'services': [{'name': 'cam'}]}) == [
        "services[0] 'cam' field 'cmd': is required"]


def test_duplicate_names():
    doc = {'services': [{'name': 'a', 'cmd': 'x'}, {'name': 'a', 'cmd': 'y'}]}
    assert problems(doc) == ["services[1] 'a' field 'name': duplicate of services[0]"]


@pytest.mark.parametrize('name', ['../etc', 'a/b', '', '.hidden', '-rf', 'a b', 'x' * 65])
def test_unsafe_names(name: str):
    found = problems({'services': [{'name': name, 'cmd': 'x'}]})
    assert any("field 'name'" in p for p in found)


def test_unknown_policy_and_check():
    found = problems(service(restart_policy='alway', health_check='camera_check'))
    assert any("unknown value 'alway' (did you mean 'always'?)" in p for p in found)
    assert any("unknown check 'camera_check'" in p for p in found)


def test_named_port_checks_use_the_services_port_or_the_originals():
    spec = parse_registry(json.dumps(service(health_check='video_check'))).services[0]
    assert (spec.health.kind, spec.health.port) == ('tcp', 5000)   # the original's port
    spec = parse_registry(json.dumps(service(health_check='video_check', port=5050)))
    assert spec.services[0].health.port == 5050
    found = problems(service(health_check='port_check'))
    assert found == ["services[0] 'cam' field 'port': is required by health_check "
                     "'port_check' (it checks that the port accepts connections)"]


def test_negative_numbers():
    found = problems(service(stop_timeout=-1, port=-5, restart={'cooldown': -3}))
    assert any("field 'stop_timeout': must be at least 0" in p for p in found)
    assert any("field 'port': must be at least 1" in p for p in found)
    assert any("restart field 'cooldown': must be at least 0" in p for p in found)


def test_probe_object_errors():
    found = problems(service(health_check={'type': 'http', 'intervall': 3}))
    assert any("unknown field 'intervall' (did you mean 'interval'?)" in p for p in found)
    assert any("field 'url': is required for type 'http'" in p for p in found)


def test_dependency_errors():
    doc = {'services': [{'name': 'a', 'cmd': 'x', 'depends_on': ['b']},
                        {'name': 'b', 'cmd': 'x', 'depends_on': ['a']},
                        {'name': 'c', 'cmd': 'x', 'depends_on': ['ghost']}]}
    assert problems(doc) == ["service 'c' field 'depends_on': unknown service 'ghost'"]
    doc['services'].pop()
    (cycle,) = problems(doc)
    assert 'dependency cycle a -> b -> a' in cycle


def test_all_errors_are_reported_at_once():
    doc = {'services': [{'name': 'a'}, {'name': 'b', 'cmd': 'x', 'restart_policy': 'no'},
                        {'name': 'c', 'cmd': 'x', 'colour': 'red'}], 'extra': 1}
    found = problems(doc)
    assert len(found) == 4
    assert found[0] == "registry: unknown field 'extra'"


def test_unreadable_file(tmp_path: Path):
    with pytest.raises(RegistryError) as info:
        load_registry(tmp_path / 'missing.json')
    assert 'missing.json' in str(info.value) and 'cannot read' in str(info.value)


def test_top_level_must_be_an_object():
    assert problems('[1, 2]') == ['registry: must be an object, got list']


def test_ports_urls_and_env_names_are_checked():
    found = problems(service(port=70000, env={'A=B': 'x', 'OK': 'a\0b'},
                             health_check={'type': 'http', 'url': 'http://127.0.0.1:99999/'}))
    assert any("field 'port': must be at most 65535" in p for p in found)
    assert any("'A=B' is not a valid variable name" in p for p in found)
    assert any("the value of 'OK' contains a NUL byte" in p for p in found)
    assert any("field 'url': 'http://127.0.0.1:99999/' is not a valid URL" in p for p in found)
    found = problems(service(health_check={'type': 'http', 'url': 'https://x/'},
                             restart={'jitter': 2}))
    assert any('must be http://HOST[:PORT]/PATH' in p for p in found)
    assert any("restart field 'jitter': must be at most 1" in p for p in found)


ORIGINAL = {
    'version': '1.0',
    'description': 'Omega-1 services',
    'services': [
        {'name': 'movement_ws_server', 'display_name': 'Movement Server', 'type': 'python',
         'cmd': 'python3', 'args': ['movement/movement_ws_server.py'], 'working_dir': '.',
         'autostart': True, 'restart_policy': 'always', 'health_check': 'movement_check',
         'port': 8081, 'description': 'Movement WebSocket server'},
        {'name': 'ultrasonic_server', 'display_name': 'Ultrasonic', 'type': 'go',
         'cmd': 'go', 'args': ['run', 'main_ultrasonic.go'], 'working_dir': 'sensors',
         'autostart': True, 'health_check': 'ultrasonic_check', 'port': 8080},
        {'name': 'ros_stack', 'display_name': 'ROS 2', 'type': 'docker', 'cmd': 'docker',
         'args': ['compose', '-f', 'ros/docker-compose.yml', 'up', '-d'],
         'autostart': False, 'health_check': 'ros_core_check', 'port': None},
        {'name': 'sensors', 'type': 'python', 'cmd': 'python3', 'args': ['sensors/i2c.py'],
         'health_check': 'sensor_check'},
        {'name': 'telemetry', 'type': 'go', 'cmd': 'go', 'args': ['run', 'telemetry.go'],
         'health_check': 'telemetry_check'},
        {'name': 'manual_tool', 'type': 'go', 'cmd': 'go', 'args': ['run', 'tool.go'],
         'autostart': False, 'health_check': None, 'restart_policy': 'never'},
    ]}


def test_the_original_registry_loads_unchanged(tmp_path: Path):
    folder = tmp_path / 'backend' / 'omega_services'
    folder.mkdir(parents=True)
    path = folder / 'service_registry.json'
    path.write_text(json.dumps(ORIGINAL, indent=2))
    registry = load_registry(path, base_dir=str(tmp_path / 'backend'))
    assert registry.version == '1.0'
    specs = {s.name: s for s in registry.services}
    assert specs['movement_ws_server'].working_dir == str(tmp_path / 'backend')
    assert specs['ultrasonic_server'].working_dir == str(tmp_path / 'backend' / 'sensors')
    assert specs['ultrasonic_server'].restart_policy == 'never'     # the original's default
    assert specs['ros_stack'].oneshot and specs['ros_stack'].port is None
    assert specs['ros_stack'].health.kind == 'ros_core'
    assert (specs['sensors'].health.kind, specs['sensors'].health.path) == ('path',
                                                                           '/dev/i2c-1')
    assert specs['telemetry'].health.port == 8000
    assert specs['manual_tool'].health is None
    assert load_registry(path).services[0].working_dir == str(folder)   # no base: its folder


def test_base_dir_in_the_file_is_relative_to_the_file(tmp_path: Path):
    (tmp_path / 'omega_services').mkdir()
    path = tmp_path / 'omega_services' / 'r.json'
    path.write_text(json.dumps({'base_dir': '..', **service(working_dir='sensors')}))
    assert load_registry(path).services[0].working_dir == str(tmp_path / 'omega_services' / '..'
                                                               / 'sensors')
    assert load_registry(path, base_dir=str(tmp_path / 'x')).services[0].working_dir == \
        str(tmp_path / 'x' / 'sensors')


@pytest.mark.parametrize('args, oneshot', [
    (['compose', '-f', 'x.yml', 'up', '-d'], True),
    (['compose', 'up', '--detach'], True),
    (['compose', 'up'], False),
    (['run', '-d', 'nginx'], False),
])
def test_docker_compose_up_detached_is_a_oneshot(args, oneshot):
    spec = parse_registry(json.dumps(service(cmd='docker', args=args))).services[0]
    assert spec.oneshot is oneshot
    said = parse_registry(json.dumps(service(cmd='docker', args=args, oneshot=False)))
    assert said.services[0].oneshot is False


def test_stop_cmd_and_adopt_existing():
    spec = parse_registry(json.dumps(service(
        stop_cmd=['docker', 'compose', 'down'], stop_cmd_timeout=12, adopt_existing=True,
        port=8081))).services[0]
    assert spec.stop_cmd == ('docker', 'compose', 'down') and spec.stop_cmd_timeout == 12.0
    assert spec.adopt_existing


@pytest.mark.parametrize('text, expected', [
    ('[' * 100000 + ']' * 100000, 'nested too deeply'),
    ('{"services": [], "version": ' + '9' * 5000 + '}', 'invalid JSON'),
    ('{"services": [{"name": "a", "cmd": "x", "stop_timeout": NaN}]}', 'NaN'),
    ('{"services": [{"name": "a", "cmd": "x", "stop_timeout": Infinity}]}', 'Infinity'),
    ('{"services": [{"name": "a", "cmd": "x", "port": 1, "port": 2}]}',
     "duplicate key 'port' in the object named 'a'"),
])
def test_hostile_json_is_a_clear_error(text, expected):
    found = problems(text)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize('fields, expected', [
    ({'name': 'cam\n'}, "field 'name': 'cam\\n' is not allowed"),
    ({'args': ['a\0b']}, "field 'args'[0]: contains a NUL byte"),
    ({'cmd': 'x\0'}, "field 'cmd': contains a NUL byte"),
    ({'description': 'x' * 50_000_000}, "field 'description': has 50000000 characters, "
                                          'at most 4096 allowed'),
    ({'stop_timeout': 1e308}, "field 'stop_timeout': must be at most 3600"),
    ({'restart': {'backoff_factor': 10 ** 300}}, "field 'backoff_factor': must be at most 100"),
    ({'args': ['a'] * 5000}, "field 'args': has 5000 entries, at most 1000 allowed"),
])
def test_hostile_values_are_clear_errors(fields, expected):
    found = problems({'services': [{'name': 'cam', 'cmd': 'camera', **fields}]})
    assert any(expected in p for p in found), found
    assert all(len(p) < 400 for p in found)


def test_a_dependency_chain_of_a_thousand_is_fine_and_a_long_cycle_is_named():
    chain = [{'name': f's{i}', 'cmd': 'x', 'depends_on': [f's{i - 1}'] if i else []}
             for i in range(1000)]
    registry = parse_registry(json.dumps({'services': chain}))
    assert len(registry.services) == 1000
    chain[0]['depends_on'] = ['s999']
    found = problems({'services': chain})
    assert len(found) == 1 and 'dependency cycle s0 -> s999' in found[0]


def test_the_three_probes_parse_and_bad_combinations_name_the_field():
    doc = {'services': [{'name': 'nav', 'cmd': 'x', 'port': 80,
                         'startup_probe': {'type': 'tcp', 'interval': 1,
                                           'failure_threshold': 40, 'initial_delay': 2},
                         'readiness_probe': {'type': 'http', 'url': 'http://127.0.0.1:80/',
                                             'success_threshold': 2},
                         'liveness_probe': {'type': 'ros_topic', 'topic': '/scan',
                                            'min_rate': 5, 'failure_threshold': 3}}]}
    spec = parse_registry(json.dumps(doc)).get('nav')
    assert spec.startup.kind == 'tcp' and spec.startup.initial_delay == 2.0
    assert spec.startup.failure_threshold == 40
    assert spec.health.kind == 'http' and spec.health.success_threshold == 2
    assert spec.liveness.topic == '/scan' and spec.liveness.initial_delay is None
    doc['services'][0]['health_check'] = 'port_check'
    doc['services'][0]['liveness_probe']['success_threshold'] = 2
    assert problems(doc) == [
        "services[0] 'nav' field 'readiness_probe': health_check says the same; give one of "
        'the two',
        "services[0] 'nav' liveness_probe field 'success_threshold': must be 1 for a liveness "
        'probe']
