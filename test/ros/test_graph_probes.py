"""ROS-aware health checks from the registry, against a real rclpy node run as a service."""

from omega_orchestrator_interfaces.srv import ListServices

from test.ros.conftest import py, wait_until

NS = '/omega_orchestrator'
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
        found = {s.name: s for s in client.call(ListServices, f'{NS}/list').services}
        return found if all(s.health_checked for s in found.values()) and \
            found['camera'].healthy and found['watch_node'].healthy else None
    found = wait_until(statuses, timeout=45, what='all probes reported healthy')
    assert 'Hz' in found['camera'].health_message
    assert found['camera'].ros_node == '/camera_driver' and found['camera'].type == 'ros2'
    assert not found['missing_node'].healthy
    assert found['missing_node'].health_message == 'node /lidar_driver is not on the graph'
    assert found['core'].healthy and 'ROS graph reachable' in found['core'].health_message
