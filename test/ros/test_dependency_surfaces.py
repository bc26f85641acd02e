"""A service waiting for a dependency, as ROS tools and the REST API see it."""

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from omega_orchestrator_interfaces.msg import ServiceStatus
from omega_orchestrator_interfaces.srv import ListServices

from test.ros.support import latest_diagnostics
from test.support import free_port, py, wait_until

SLEEP = 'import time\ntime.sleep(600)'


def never_ready(port: int) -> dict:
    """A service whose readiness probe (a port nobody opens) never passes."""
    return py(SLEEP, name='camera', autostart=True, port=port,
              health_check={'type': 'tcp', 'interval': 0.2, 'timeout': 0.5})


def vision() -> dict:
    return py(SLEEP, name='vision', autostart=True, limits={'memory_mb': 256, 'nice': 3},
              depends_on=[{'name': 'camera', 'condition': 'healthy'}])


def test_waiting_in_the_status_message_and_diagnostics(orchestrator, client):
    diagnostics = client.collect(DiagnosticArray, '/diagnostics')
    orchestrator.start([never_ready(free_port()), vision()])

    def waiting():
        found = {s.name: s for s in client.call(ListServices, orchestrator.at('list')).services}
        return found['vision'] if 'refused' in found['vision'].message else None
    status = wait_until(waiting, what='vision waiting with the reason')
    assert status.state == ServiceStatus.STATE_WAITING and status.state_name == 'waiting'
    assert status.message.startswith('waiting for camera to be healthy: unhealthy for ')
    assert status.pid == 0 and status.restart_count == 0

    def level():
        found = {n.split(': ')[-1]: s for n, s in latest_diagnostics(diagnostics).items()}
        item = found.get('vision')
        return item if item is not None and 'refused' in item.message else None
    item = wait_until(level, what='vision in /diagnostics')
    assert item.level == DiagnosticStatus.WARN
    assert item.message.startswith('waiting for camera to be healthy')


def test_waiting_in_the_rest_api(stack):
    s = stack([never_ready(free_port()), vision()])
    status = s.wait_for(lambda: (v := s.service('vision'))['status'] == 'waiting' and
                        'refused' in v['message'] and v, 'vision waiting over REST')
    assert status['message'].startswith('waiting for camera to be healthy: unhealthy for ')
    assert status['limits'] == 'memory 256 MB (samples); nice 3'      # not started: no kernel
    assert status['limit_warning'] is None
    assert s.post('/api/services/stop/vision').status_code == 200
    s.wait_for(lambda: s.service('vision')['status'] == 'stopped', 'the wait ended by a stop')
