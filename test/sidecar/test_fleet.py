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


def test_a_robot_refusing_remote_writes_serves_them_on_a_local_participant(fleet):
    """On one machine its own sidecar still drives it; its control services sit on a node of
    their own (the LOCALHOST participant), the rest on the robot's node. That another host
    is refused is shown with network namespaces: test/test_fleet_netns.py.
    """
    import rclpy
    stack = fleet({'alpha': [py(SLEEP, name='camera', autostart=True)],
                   'beta': [py(SLEEP, name='lidar', autostart=True)]}, local='alpha',
                  orchestrator_args={'beta': ('--refuse-remote-writes',
                                              '--control-discovery-range', 'SUBNET')})
    stack.wait_for(lambda: robots_by_name(stack)['beta']['writable'],
                   "beta's control services are seen from this machine")
    stopped = stack.post('/api/services/stop/lidar?robot=beta')
    assert stopped.status_code == 200, stopped.text
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(stack.env['ROS_DOMAIN_ID']))
    try:
        node = rclpy.create_node('graph_reader', context=context)

        def served_by(name: str) -> set[str]:
            try:
                return {n for n, _ in node.get_service_names_and_types_by_node(name, '/beta')}
            except Exception:       # the node is not discovered yet
                return set()
        stack.wait_for(lambda: '/beta/omega_orchestrator/start' in
                       served_by('omega_orchestrator_control'), 'the control node is seen')
        assert {f'/beta/omega_orchestrator/{kind}' for kind in (
            'start', 'stop', 'restart', 'reload', 'set_maintenance', 'group')} <= \
            served_by('omega_orchestrator_control')
        on_the_robot_node = stack.wait_for(
            lambda: (found := served_by('omega_orchestrator')) and
            '/beta/omega_orchestrator/list' in found and found, "the robot's node is seen")
        assert '/beta/omega_orchestrator/get_logs' in on_the_robot_node
        assert '/beta/omega_orchestrator/start' not in on_the_robot_node
        node.destroy_node()
    finally:
        context.try_shutdown()
