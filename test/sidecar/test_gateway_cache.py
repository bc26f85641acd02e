"""The sidecar's status cache (RosGateway) fed whole statuses and updates, as the executor
thread feeds it: a real gateway with its own node, on a namespace nothing publishes on.
"""

from builtin_interfaces.msg import Time
from omega_orchestrator_interfaces.msg import ServiceStatus, ServiceStatusArray
import pytest

from omega_orchestrator.sidecar.errors import GatewayError
from omega_orchestrator.sidecar.gateway import RosGateway
from omega_orchestrator.sidecar.robot_link import RobotLink


def array(stamp: int, *services: ServiceStatus) -> ServiceStatusArray:
    msg = ServiceStatusArray(services=list(services))
    msg.header.stamp = Time(sec=stamp)
    return msg


def status(name: str, state: str = 'running', uptime: float = 0.0) -> ServiceStatus:
    return ServiceStatus(name=name, state_name=state, pid=7 if state == 'running' else 0,
                         uptime_sec=uptime)


@pytest.fixture
def gateway():
    """The local robot's link of a real RosGateway (nothing publishes: the test feeds it,
    and says its liveliness holds).
    """
    made = RosGateway(orchestrator='/nobody_publishes_here/omega_orchestrator',
                      ros_args=['--ros-args', '-r', '__node:=cache_test'], discover=False)
    made.robot().liveliness_changed(alive=True)
    yield made.robot()
    made.close()


def states(gateway: RobotLink) -> dict[str, str]:
    return {s['name']: s['status'] for s in gateway.services()}


def test_updates_patch_the_whole_status_and_an_older_whole_one_never_undoes_them(gateway):
    frames: list = []
    gateway.add_listener(lambda kind, payload: frames.append((kind, payload)))
    gateway._on_updates(array(9, status('a', 'crashed')))
    with pytest.raises(GatewayError):          # nothing to patch before the whole status
        gateway.services()
    gateway._on_status(array(10, status('a'), status('b', 'stopped')))
    assert states(gateway) == {'a': 'running', 'b': 'stopped'}
    gateway._on_updates(array(12, status('a', 'crashed'), status('ghost')))
    assert states(gateway) == {'a': 'crashed', 'b': 'stopped'}     # an unknown name waits
    gateway._on_status(array(11, status('a'), status('b', 'running')))   # sent before
    assert states(gateway) == {'a': 'crashed', 'b': 'running'}
    gateway._on_updates(array(13))                 # nothing changed: no frame
    kinds = [(k, p.get('partial', False), [s['name'] for s in p['services']])
             for k, p in frames]
    assert kinds == [('status', False, ['a', 'b']), ('status', True, ['a']),
                     ('status', False, ['a', 'b'])]


def test_the_same_services_are_handed_out_until_something_changes(gateway):
    gateway._on_status(array(10, status('a', uptime=5.0), status('b', 'stopped')))
    first = gateway.services()
    assert gateway.services() is first           # the list route encodes it once
    gateway._on_updates(array(11, status('b', 'running')))
    assert gateway.services() is not first


def test_a_running_service_uptime_moves_on_between_its_messages(gateway):
    gateway._on_status(array(10, status('a', uptime=5.0), status('b', 'stopped')))
    entry = gateway._entries['a']
    assert entry.rest(entry.received + 3.0)['uptime_sec'] == 8.0
    assert gateway._entries['b'].rest(entry.received + 3.0)['uptime_sec'] == 0.0


def test_an_update_older_than_the_whole_status_is_skipped_and_a_clock_reset_starts_anew(
        gateway):
    gateway._on_status(array(1012, status('a', 'crashed'), status('b')))
    gateway._on_updates(array(1011, status('a')))    # sent before the whole status
    assert states(gateway) == {'a': 'crashed', 'b': 'running'}
    gateway._on_status(array(10, status('a'), status('b', 'stopped')))   # sim time reset
    assert states(gateway) == {'a': 'running', 'b': 'stopped'}


@pytest.fixture
def fleet_gateway():
    """A real RosGateway whose 'other' robot is fed by the test (no orchestrator anywhere)."""
    made = RosGateway(orchestrator='/nobody_publishes_here/omega_orchestrator',
                      ros_args=['--ros-args', '-r', '__node:=fleet_cache_test'], discover=False)
    made._add('/other_robot_nobody_runs/omega_orchestrator')
    made.robot('other_robot_nobody_runs').liveliness_changed(alive=True)
    yield made
    made.close()


async def test_a_robot_without_visible_control_services_refuses_writes_not_reads(
        fleet_gateway, monkeypatch):
    """Reachable (its status flows) but no control service seen: a write is a 503 while it
    may still be discovered, a 403 once it has been reachable for CONTROL_GRACE; reading
    its logs is never refused as a write (get_logs is on the robot's own node).
    """
    from omega_orchestrator.sidecar import robot_link
    monkeypatch.setattr(robot_link, 'DISCOVERY_WAIT', 0.2)
    other = fleet_gateway.robot('other_robot_nobody_runs')
    assert not other.local
    assert fleet_gateway.robots()[1]['writable'] is None      # unreachable: nobody can tell
    other._on_status(array(10, status('arm')))
    summary = {r['name']: r for r in fleet_gateway.robots()}['other_robot_nobody_runs']
    assert summary['reachable'] and summary['writable'] is False and not summary['conflict']
    with pytest.raises(GatewayError) as early:
        await other.control('stop', 'arm')
    assert early.value.name == 'orchestrator_unreachable'      # maybe not discovered yet
    monkeypatch.setattr(robot_link, 'CONTROL_GRACE', 0.0)
    with pytest.raises(GatewayError) as refused:
        await other.control('stop', 'arm')
    assert refused.value.name == 'remote_writes_refused' and refused.value.http_status == 403
    with pytest.raises(GatewayError) as logs:
        await other.logs('arm', 10)
    assert logs.value.name == 'orchestrator_unreachable'


async def test_the_local_robot_is_never_said_to_refuse(gateway, monkeypatch):
    from omega_orchestrator.sidecar import robot_link
    monkeypatch.setattr(robot_link, 'DISCOVERY_WAIT', 0.2)
    monkeypatch.setattr(robot_link, 'CONTROL_GRACE', 0.0)
    gateway._on_status(array(10, status('arm')))
    with pytest.raises(GatewayError) as error:
        await gateway.control('stop', 'arm')
    assert error.value.name == 'orchestrator_unreachable'
