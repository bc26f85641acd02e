"""How robots are named on the DDS domain: the host's default namespace, the override rules."""

import pytest

from omega_orchestrator.robot_names import (
    given_namespace,
    host_namespace,
    namespace_problem,
    robot_name,
    with_namespace,
)


@pytest.mark.parametrize('hostname, namespace', [
    ('robot7', '/robot7'),
    ('Robot-7.lab.local', '/robot_7'),      # the first label, lower case, '-' -> '_'
    ('7robot', '/host_7robot'),             # a ROS name token cannot start with a digit
    ('--', '/robot'),                       # nothing usable left
    ('jetson nano', '/jetson_nano'),
    ('a_-b', '/a_b'),                       # ROS names allow no '__'
])
def test_the_host_namespace_is_a_valid_ros_namespace(hostname, namespace):
    assert host_namespace(hostname) == namespace


def test_without_a_namespace_the_hosts_is_added():
    args = with_namespace([], None)
    assert args == ['--ros-args', '-r', f'__ns:={host_namespace()}']
    assert given_namespace(args) == host_namespace()


def test_a_namespace_option_is_used_and_made_absolute():
    args = with_namespace(['--ros-args', '--log-level', 'debug'], 'lab/r1/')
    assert given_namespace(args) == '/lab/r1'
    assert args[:3] == ['--ros-args', '--log-level', 'debug']     # kept as they were


def test_an_explicit_remap_wins_over_the_option_and_the_host():
    launch = ['--ros-args', '-r', '__ns:=/robot1', '-r', '__node:=x']
    assert with_namespace(launch, '/other') == launch
    # rcl applies the first rule that matches; the launcher names the sidecar's target so
    both = ['--ros-args', '-r', '__ns:=/a', '--remap', '__ns:=/b', '-r', '__node:=n1', '-r',
            '__node:=n2']
    assert given_namespace(both) == '/a'
    from omega_orchestrator.launcher import orchestrator_fqn
    assert orchestrator_fqn(both) == '/a/n1'


@pytest.mark.parametrize('orchestrator, robot', [
    ('/robot_7/omega_orchestrator', 'robot_7'),
    ('/lab/r1/omega_orchestrator', 'lab/r1'),
    ('/omega_orchestrator', 'omega_orchestrator'),
    ('/r2/renamed', 'r2'),
])
def test_a_robot_is_named_by_its_namespace(orchestrator, robot):
    assert robot_name(orchestrator) == robot


@pytest.mark.parametrize('namespace, good', [
    ('/robot_7', True), ('robot_7', True), ('/lab/r1/', True), ('/', True),
    ('/robot-7', False), ('/7robot', False), ('/a__b', False), ('//a', False),
    ('/a b', False),
])
def test_a_namespace_is_checked_before_anything_starts(namespace, good):
    assert (namespace_problem(namespace) is None) is good
    for hostname in ('Robot-7.lab', '9lives', 'x__y', '...'):
        assert namespace_problem(host_namespace(hostname)) is None


def test_a_bad_namespace_or_a_widening_profile_is_refused_before_any_service_starts(tmp_path):
    import json
    import os
    import subprocess
    import sys
    marker = tmp_path / 'started'
    registry = tmp_path / 'r.json'
    registry.write_text(json.dumps({'services': [{
        'name': 'touch', 'cmd': sys.executable, 'autostart': True,
        'args': ['-c', f'open({str(marker)!r}, "w").close()']}]}))
    base = [sys.executable, '-m', 'omega_orchestrator', '--registry', str(registry),
            '--log-dir', str(tmp_path / 'logs')]
    for extra, env, says in (
            (['--namespace', 'robot-7'], {}, "'/robot-7' is not a ROS namespace"),
            (['--ros-args', '-r', '__ns:=/7up'], {}, "'/7up' is not a ROS namespace"),
            (['--refuse-remote-writes'], {'FASTDDS_DEFAULT_PROFILES_FILE': '/x.xml'},
             'FASTDDS_DEFAULT_PROFILES_FILE is set')):
        done = subprocess.run([*base, *extra], capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, **env))
        assert done.returncode == 2, done.stderr
        assert says in done.stderr
        assert not marker.exists()


def test_the_control_participant_keeps_its_own_node_name():
    from omega_orchestrator.ros.local_control import _without_node_rules
    assert _without_node_rules(['--ros-args', '-r', '__node:=x', '-r', '__ns:=/a',
                                '--remap', '__node:=y', '--log-level', 'info']) == \
        ['--ros-args', '-r', '__ns:=/a', '--log-level', 'info']
