"""ROS-aware health checks from the registry, against a real rclpy node run as a service."""

from omega_orchestrator_interfaces.srv import ListServices

from test.support import py, wait_until

TALKER = """
import rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("camera_driver")
pub = node.create_publisher(String, "/camera/status", 10)
node.create_timer(0.05, lambda: pub.publish(String(data="ok")))
try:
    rclpy.spin(node)
except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
    pass
"""


def test_ros_probes_follow_the_graph(orchestrator, client):
    fast = {'interval': 0.5, 'timeout': 2.0}
    orchestrator.start([
        py(TALKER, name='camera', type='ros2', autostart=True, ros_node='/camera_driver',
           health_check={'type': 'ros_topic', 'topic': '/camera/status', 'min_rate': 5,
                         **fast}),
        py('import time\ntime.sleep(600)', name='watch_node', autostart=True,
           health_check={'type': 'ros_node', 'node': '/camera_driver', **fast}),
        py('import time\ntime.sleep(600)', name='missing_node', autostart=True,
           health_check={'type': 'ros_node', 'node': '/lidar_driver', **fast}),
        py('import time\ntime.sleep(600)', name='core', autostart=True,
           health_check='ros_core_check'),
    ])

    def statuses():
        found = {s.name: s for s in client.call(ListServices, orchestrator.at('list')).services}
        # the first ros_core check may run before the talker is on the graph: wait for one
        # that sees it (the named check probes every 10 s, the original's interval)
        return found if all(s.health_checked for s in found.values()) and \
            found['camera'].healthy and found['watch_node'].healthy and \
            found['core'].healthy else None
    found = wait_until(statuses, timeout=45, what='all probes reported healthy')
    assert 'Hz' in found['camera'].health_message
    assert found['camera'].ros_node == '/camera_driver' and found['camera'].type == 'ros2'
    assert not found['missing_node'].healthy
    assert found['missing_node'].health_message == 'node /lidar_driver is not on the graph'
    assert found['core'].healthy and 'ROS graph reachable' in found['core'].health_message


def test_ros_core_check_needs_a_node_other_than_ours(stack):
    # only the orchestrator and its sidecar are on this domain: that is not "ROS is up"
    s = stack([py('import time\ntime.sleep(600)', name='core', autostart=True,
                  health_check={'type': 'ros_core', 'interval': 0.5}),
               py(TALKER, name='camera', type='ros2')])
    lonely = s.wait_for(lambda: (c := s.service('core'))['last_health_check'] and
                        c['health'], 'first ros_core check')
    assert not lonely['healthy']
    assert lonely['message'] == 'no ROS node other than the orchestrator is on the graph'
    s.post('/api/services/start/camera')
    s.wait_for(lambda: s.service('core')['health']['healthy'], 'ros_core healthy')


#: Publishes /scan at 20 Hz, or at 1 Hz while the file argv[1] exists (a stalling driver).
SCANNER = """
import os, sys, time
import rclpy
from std_msgs.msg import String
flag = sys.argv[1]
rclpy.init()
node = rclpy.create_node("scanner")
pub = node.create_publisher(String, "/scan", 10)
last = [0.0]
def tick():
    period = 1.0 if os.path.exists(flag) else 0.05
    if time.monotonic() - last[0] >= period:
        last[0] = time.monotonic()
        pub.publish(String(data="scan"))
node.create_timer(0.02, tick)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
    pass
"""


def test_a_topic_rate_liveness_probe_restarts_a_stalling_driver(orchestrator, client, tmp_path):
    from omega_orchestrator_interfaces.msg import ServiceEvent
    events = client.collect(ServiceEvent, orchestrator.at('events'))
    stalled = tmp_path / 'stalled'
    orchestrator.start([py(SCANNER, name='lidar', type='ros2', autostart=True,
                           restart_policy='always', args=['-c', SCANNER, str(stalled)],
                           liveness_probe={'type': 'ros_topic', 'topic': '/scan',
                                           'min_rate': 5, 'interval': 0.5, 'timeout': 1.5,
                                           'failure_threshold': 2,
                                           'initial_delay': 3})])

    def lidar():
        found = {s.name: s for s in client.call(ListServices, orchestrator.at('list')).services}
        return found['lidar'] if found['lidar'].pid else None
    first = wait_until(lidar, what='lidar running').pid
    stalled.touch()

    def crashed():
        return next((e for e in events if e.service == 'lidar' and e.to_state_name == 'crashed'),
                    None)
    crash = wait_until(crashed, timeout=45, what='the liveness restart')
    assert crash.reason.startswith('liveness: topic /scan at ')
    assert crash.reason.endswith('below 5 Hz (2 checks in a row)')
    stalled.unlink()
    again = wait_until(lambda: (s := lidar()) and s.pid != first and s, what='restarted')
    assert again.restart_count >= 1 and again.crash_count >= 1


#: A std_srvs/Trigger health endpoint that answers success only once the file argv[1] exists.
HEALTH_SERVER = """
import os, sys
import rclpy
from std_srvs.srv import Trigger
flag = sys.argv[1]
rclpy.init()
node = rclpy.create_node("planner")
def check(request, response):
    response.success = os.path.exists(flag)
    response.message = "ready" if response.success else "map not loaded"
    return response
node.create_service(Trigger, "/planner/health", check)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
    pass
"""


def test_a_ros_service_probe_calls_the_service(orchestrator, client, tmp_path):
    loaded = tmp_path / 'map-loaded'
    fast = {'interval': 0.3, 'timeout': 3.0}
    orchestrator.start([
        py(HEALTH_SERVER, name='planner', type='ros2', autostart=True,
           args=['-c', HEALTH_SERVER, str(loaded)],
           readiness_probe={'type': 'ros_service', 'service': '/planner/health', 'call': True,
                            **fast}),
        py('import time\ntime.sleep(600)', name='watcher', autostart=True,
           readiness_probe={'type': 'ros_service', 'service': '/planner/health', **fast})])

    def statuses(ready: bool):
        found = {s.name: s for s in client.call(ListServices, orchestrator.at('list')).services}
        answered = 'answered' in found['planner'].health_message     # the server is up
        return found if answered and found['watcher'].healthy and \
            found['planner'].healthy is ready else None
    found = wait_until(lambda: statuses(False), timeout=45, what='the server up, not ready')
    assert found['planner'].health_message == \
        'service /planner/health answered success=false: map not loaded'
    assert found['watcher'].health_message == \
        'service /planner/health has a server (std_srvs/srv/Trigger)'
    loaded.touch()
    found = wait_until(lambda: statuses(True), timeout=45, what='the planner ready')
    assert found['planner'].health_message == 'service /planner/health answered'
