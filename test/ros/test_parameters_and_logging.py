"""Parameters mean what ROS tools show, and the orchestrator's log lines reach /rosout."""

from omega_orchestrator_interfaces.msg import ServiceStatusArray
from omega_orchestrator_interfaces.srv import ListServices, StopService
from rcl_interfaces.msg import Log, Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from omega_orchestrator.ros.presence import updates_qos
from test.support import py, wait_until

SLEEP = 'import time\ntime.sleep(600)'
GROWING = ('import time\nheld = []\nwhile True:\n'
           '    held.append(b"x" * (1 << 20))\n    time.sleep(0.2)')
ROSOUT = QoSProfile(depth=1000, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                    reliability=ReliabilityPolicy.RELIABLE)


def get(client, orchestrator, *names: str) -> list:
    values = client.call(GetParameters, orchestrator.at('get_parameters'),
                         names=list(names)).values
    return [v.string_value if v.type == ParameterType.PARAMETER_STRING else v.double_value
            for v in values]


def set_rate(client, orchestrator, value: ParameterValue):
    answer = client.call(SetParameters, orchestrator.at('set_parameters'),
                         parameters=[Parameter(name='status_rate', value=value)])
    return answer.results[0]


def test_parameters_are_read_only_or_live(orchestrator, client, tmp_path):
    other = tmp_path / 'other.json'
    orchestrator.start([py(SLEEP, name='a', autostart=True)], '--status-rate', '0.01',
                       '--ros-args', '-p', f'registry:={other}', '-p', 'log_dir:=/nowhere',
                       '-p', 'status_rate:=2')
    wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid,
               what='a up')
    registry, log_dir, rate = get(client, orchestrator, 'registry', 'log_dir', 'status_rate')
    # what ros2 param get shows is what the engine uses: the command line, never the override
    assert (registry, log_dir) == (str(orchestrator.registry), str(orchestrator.log_dir))
    assert rate == 2.0                                    # an integer override is taken
    assert "parameter 'registry' is read-only" in orchestrator.stderr()
    assert "parameter 'log_dir' is read-only" in orchestrator.stderr()

    described = client.call(DescribeParameters, orchestrator.at('describe_parameters'),
                            names=['registry', 'status_rate']).descriptors
    assert described[0].read_only
    (bounds,) = described[1].floating_point_range
    assert bounds.from_value > 0 and bounds.to_value >= 10

    refused = set_rate(client, orchestrator, ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                              double_value=0.0))
    assert not refused.successful
    refused = set_rate(client, orchestrator, ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                              double_value=-1.0))
    assert not refused.successful
    assert not client.call(SetParameters, orchestrator.at('set_parameters'), parameters=[Parameter(
        name='registry', value=ParameterValue(type=ParameterType.PARAMETER_STRING,
                                              string_value=str(other)))]).results[0].successful
    assert get(client, orchestrator, 'status_rate') == [2.0]


def test_a_new_status_rate_takes_effect_at_once(orchestrator, client):
    orchestrator.start([py(GROWING, name='a', autostart=True)], '--status-rate', '0.01',
                       '--metrics-interval', '0.5')
    wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid,
               what='a up')
    received = client.collect(ServiceStatusArray, orchestrator.at('status_updates'),
                              updates_qos())
    # a's memory grows at every sample, which goes out at the next period: 100 s away at
    # 0.01 Hz; an integer rate of 20 is taken and the period restarts now, so its updates
    # flow within the deadline
    accepted = set_rate(client, orchestrator, ParameterValue(type=ParameterType.PARAMETER_INTEGER,
                                               integer_value=20))
    assert accepted.successful, accepted.reason
    wait_until(lambda: len({m.services[0].memory_bytes for m in received if m.services}) >= 3,
               timeout=20, what='usage at the new rate')


def test_log_lines_reach_rosout(orchestrator, client):
    logs = client.collect(Log, '/rosout', ROSOUT)
    orchestrator.start([py(SLEEP, name='a', autostart=True)])
    wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid,
               what='a up')
    client.call(StopService, orchestrator.at('stop'), name='a')
    line = wait_until(lambda: [m for m in logs if 'a: running -> stopping' in m.msg],
                      what='a transition on /rosout')[0]
    assert line.name.endswith('omega_orchestrator') and line.level == Log.INFO
    # where the line was logged, not the handler that forwarded it
    assert line.file.endswith('.py') and not line.file.endswith('rosout.py')
    assert line.function and line.function != 'emit' and line.line > 0
    assert 'a: running -> stopping' in (orchestrator.log_dir / 'services.log').read_text()


def test_ros_log_level_applies_to_the_orchestrator(orchestrator, client):
    logs = client.collect(Log, '/rosout', ROSOUT)
    orchestrator.start([py(SLEEP, name='a', autostart=True),
                        py('import sys\nsys.exit(3)', name='dies', restart_policy='never')],
                       '--ros-args', '--log-level', 'warn')
    wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid,
               what='a up')
    client.call(StopService, orchestrator.at('stop'), name='a')
    from omega_orchestrator_interfaces.srv import StartService
    client.call(StartService, orchestrator.at('start'), name='dies')
    wait_until(lambda: [m for m in logs if 'dies: running -> crashed' in m.msg],
               what='the crash (a warning) on /rosout')
    text = (orchestrator.log_dir / 'services.log').read_text()
    assert 'dies: running -> crashed' in text
    assert 'a: running -> stopping' not in text and ' INFO ' not in text
    assert not [m for m in logs if m.name.endswith('omega_orchestrator')
                and m.level < Log.WARN]


def test_the_sidecars_log_lines_reach_rosout_too(stack):
    from test.ros.support import RosClient
    s = stack([py(SLEEP, name='a')])
    ros = RosClient(int(s.env['ROS_DOMAIN_ID']))
    try:
        logs = ros.collect(Log, '/rosout', ROSOUT)     # transient local: earlier lines too
        wait_until(lambda: [m for m in logs if m.name.endswith('omega_sidecar')],
                   what="the sidecar's lines on /rosout")
    finally:
        ros.close()
