"""How robots are named on the DDS domain: the host's default namespace, the override rules."""

import pytest

from omega_orchestrator.robot_names import (
    given_namespace,
    host_namespace,
    robot_name,
    with_namespace,
)


@pytest.mark.parametrize('hostname, namespace', [
    ('robot7', '/robot7'),
    ('Robot-7.lab.local', '/robot_7'),      # the first label, lower case, '-' -> '_'
    ('7robot', '/host_7robot'),             # a ROS name token cannot start with a digit
    ('--', '/robot'),                       # nothing usable left
    ('jetson nano', '/jetson_nano'),
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
    assert given_namespace(['--ros-args', '-r', '__ns:=/a', '--remap', '__ns:=/b']) == '/b'


@pytest.mark.parametrize('orchestrator, robot', [
    ('/robot_7/omega_orchestrator', 'robot_7'),
    ('/lab/r1/omega_orchestrator', 'lab/r1'),
    ('/omega_orchestrator', 'omega_orchestrator'),
    ('/r2/renamed', 'r2'),
])
def test_a_robot_is_named_by_its_namespace(orchestrator, robot):
    assert robot_name(orchestrator) == robot
