"""Launch the orchestrator node and its REST/web sidecar.

    ros2 launch omega_orchestrator orchestrator.launch.py
    ros2 launch omega_orchestrator orchestrator.launch.py registry:=/etc/omega/robot.json \
        namespace:=robot1 api_port:=8090 stop_grace:=60

The launch lives as long as the orchestrator: when it exits, launch shuts down (the sidecar
gets SIGINT), and an orchestrator that failed (exit status not 0, or killed) makes
`ros2 launch` exit 1.

Stop it with SIGINT (Ctrl-C; under systemd KillSignal=SIGINT), never SIGTERM: on SIGTERM launch
exits at once and leaves both nodes and every service running. Without a terminal, launch
forwards the SIGINT itself (`--noninteractive`, the default when stdin is not a tty). The
orchestrator then stops its services in reverse start order; launch sends SIGTERM after
`stop_grace` seconds (the orchestrator takes it as the same request) and SIGKILL
SIGKILL_TIMEOUT seconds later.
"""

import os

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.events.process import ProcessExited
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'omega_orchestrator'
NODE_NAME = 'omega_orchestrator'
STOP_GRACE = '30'  # default seconds between SIGINT and SIGTERM: time to stop every service
SIGKILL_TIMEOUT = '5'  # then seconds between SIGTERM and SIGKILL
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


def orchestrator_exited(event: ProcessExited, context: LaunchContext) -> list[EmitEvent]:
    """End the launch with the orchestrator; a failed orchestrator fails `ros2 launch`.

    `ros2 launch` exits with what LaunchService.run() returns: 1 when launch caught an
    exception, else 0 (a process's exit status never counts). So a failure is raised here:
    launch logs it, shuts down as for any shutdown and returns 1.
    """
    code = event.returncode
    if code != 0:
        how = f'was killed by signal {-code}' if code < 0 else f'exited with status {code}'
        raise RuntimeError(f'the orchestrator {how}')
    return [EmitEvent(event=Shutdown(reason='the orchestrator exited'))]


def generate_launch_description() -> LaunchDescription:
    """The launch arguments, the orchestrator node (ending the launch) and the sidecar."""
    orchestrator = Node(
        package=PACKAGE, executable='orchestrator', name=NODE_NAME,
        namespace=LaunchConfiguration('namespace'), output='screen',
        sigterm_timeout=LaunchConfiguration('stop_grace'), sigkill_timeout=SIGKILL_TIMEOUT,
        arguments=['--registry', LaunchConfiguration('registry'),
                   '--log-dir', LaunchConfiguration('log_dir'),
                   '--status-rate', LaunchConfiguration('status_rate'),
                   '--stop-grace', LaunchConfiguration('stop_grace')])
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
            'api_port', default_value='8088', description='REST API and web page port'),
        DeclareLaunchArgument(
            'namespace', default_value='', description='ROS namespace of both nodes'),
        DeclareLaunchArgument(
            'status_rate', default_value='1.0', description='status publications per second'),
        DeclareLaunchArgument(
            'stop_grace', default_value=STOP_GRACE,
            description='seconds the orchestrator gets to stop every service before SIGTERM '
                        f'(SIGKILL follows {SIGKILL_TIMEOUT} s later)'),
        orchestrator,
        RegisterEventHandler(OnProcessExit(target_action=orchestrator,
                                           on_exit=orchestrator_exited)),
        OpaqueFunction(function=sidecar_node),
    ])
