"""Launch the orchestrator node and its REST/web sidecar.

    ros2 launch omega_orchestrator orchestrator.launch.py
    ros2 launch omega_orchestrator orchestrator.launch.py registry:=/etc/omega/robot.json \
        namespace:=robot1 api_port:=8090

Both processes get SIGINT on shutdown; the orchestrator then stops its services in reverse start
order, so launch waits `sigterm_timeout` seconds before it escalates to SIGTERM.
"""

import os

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'omega_orchestrator'
NODE_NAME = 'omega_orchestrator'
STOP_GRACE = '30'  # seconds between SIGINT and SIGTERM: time to stop every service
ROS_HOME = os.environ.get('ROS_HOME', os.path.join('~', '.ros'))


def orchestrator_fqn(namespace: str, base_namespace: str | None = None) -> str:
    """The orchestrator's fully qualified node name, as launch_ros resolves the namespace.

    A relative namespace goes under the one pushed by an including launch file (PushRosNamespace).
    """
    if not namespace.startswith('/') and base_namespace:
        namespace = f'{base_namespace}/{namespace}'
    parts = [part for part in namespace.split('/') if part]
    return '/' + '/'.join([*parts, NODE_NAME])


def sidecar_node(context: LaunchContext) -> list[Node]:
    """The sidecar, pointed at the orchestrator's fully qualified name."""
    target = orchestrator_fqn(LaunchConfiguration('namespace').perform(context),
                              context.launch_configurations.get('ros_namespace'))
    return [Node(
        package=PACKAGE, executable='sidecar', namespace=LaunchConfiguration('namespace'),
        output='screen',
        arguments=['--host', LaunchConfiguration('api_host'),
                   '--port', LaunchConfiguration('api_port'),
                   '--orchestrator', target])]


def generate_launch_description() -> LaunchDescription:
    """The launch arguments, the orchestrator node and the sidecar."""
    return LaunchDescription([
        DeclareLaunchArgument(
            'registry', description='the service registry JSON file',
            default_value=PathJoinSubstitution(
                [FindPackageShare(PACKAGE), 'config', 'service_registry.json'])),
        DeclareLaunchArgument(
            'log_dir', description='where service logs and services.log go',
            default_value=os.path.expanduser(os.path.join(ROS_HOME, PACKAGE, 'logs'))),
        DeclareLaunchArgument(
            'api_host', default_value='127.0.0.1', description='REST API and web page address'),
        DeclareLaunchArgument(
            'api_port', default_value='8080', description='REST API and web page port'),
        DeclareLaunchArgument(
            'namespace', default_value='', description='ROS namespace of both nodes'),
        DeclareLaunchArgument(
            'status_rate', default_value='1.0', description='status publications per second'),
        Node(
            package=PACKAGE, executable='orchestrator', name=NODE_NAME,
            namespace=LaunchConfiguration('namespace'), output='screen',
            sigterm_timeout=STOP_GRACE,
            arguments=['--registry', LaunchConfiguration('registry'),
                       '--log-dir', LaunchConfiguration('log_dir'),
                       '--status-rate', LaunchConfiguration('status_rate')]),
        OpaqueFunction(function=sidecar_node),
    ])
