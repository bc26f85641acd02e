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

from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.events.process import ProcessExited
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchContext, LaunchDescription, Substitution
from omega_orchestrator.robot_names import host_namespace

PACKAGE = 'omega_orchestrator'
#: what a yes/no launch argument may be: a typo (`ture`, `on`) is refused, never read as no
YES_NO = ['true', 'false', 'True', 'False', '1', '0', 'yes', 'no']
NODE_NAME = 'omega_orchestrator'
STOP_GRACE = '30'  # default seconds between SIGINT and SIGTERM: time to stop every service
SIGKILL_TIMEOUT = '5'  # then seconds between SIGTERM and SIGKILL
ROS_HOME = os.environ.get('ROS_HOME', os.path.join('~', '.ros'))
SIDECAR_ARGUMENTS = ('api_host', 'api_port', 'token_env', 'api_timeout', 'cors_origins',
                     'allowed_hosts', 'open_writes_for_origins', 'token_for_logs',
                     'control_discovery_range')


def orchestrator_fqn(namespace: str, base_namespace: str | None = None) -> str:
    """The orchestrator's fully qualified node name, as launch_ros resolves the namespace.

    A relative namespace goes under the one pushed by an including launch file (PushRosNamespace).
    """
    if not namespace.startswith('/') and base_namespace:
        namespace = f'{base_namespace}/{namespace}'
    parts = [part for part in namespace.split('/') if part]
    return '/' + '/'.join([*parts, NODE_NAME])


def is_true(text: str) -> bool:
    """A launch argument's yes: 'true', '1' or 'yes', in any case."""
    return text.strip().lower() in ('true', '1', 'yes')


class Switch(Substitution):
    """`--flag` when a launch argument is true, else `--no-flag` (the orchestrator's options
    take both forms): one argument either way, on every ROS 2 release (launch's
    IfElseSubstitution came with Iron).
    """

    def __init__(self, flag: str, setting: LaunchConfiguration) -> None:
        super().__init__()
        self.flag, self.setting = flag, setting

    def describe(self) -> str:
        return f'Switch({self.flag!r}, {self.setting.describe()})'

    def perform(self, context: LaunchContext) -> str:
        return self.flag if is_true(self.setting.perform(context)) else '--no-' + self.flag[2:]


def listed(text: str) -> list[str]:
    """'a, b' -> ['a', 'b'] (a launch argument holding several values)."""
    return [item.strip() for item in text.split(',') if item.strip()]


def sidecar_arguments(config: dict[str, str], target: str) -> list[str]:
    """The sidecar's command line from the launch arguments (every sidecar option)."""
    argv = ['--host', config['api_host'], '--port', config['api_port'],
            '--orchestrator', target, '--token-env', config['token_env'],
            '--timeout', config['api_timeout'],
            '--control-discovery-range', config['control_discovery_range']]
    for origin in listed(config['cors_origins']):
        argv += ['--cors-origin', origin]
    for host in listed(config['allowed_hosts']):
        argv += ['--allowed-host', host]
    for flag in ('open_writes_for_origins', 'token_for_logs'):
        if is_true(config[flag]):
            argv.append('--' + flag.replace('_', '-'))
    return argv


def sidecar_node(context: LaunchContext) -> list[Node]:
    """The sidecar, pointed at the orchestrator's fully qualified name."""
    target = orchestrator_fqn(LaunchConfiguration('namespace').perform(context),
                              context.launch_configurations.get('ros_namespace'))
    config = {name: LaunchConfiguration(name).perform(context) for name in SIDECAR_ARGUMENTS}
    return [Node(
        package=PACKAGE, executable='sidecar', namespace=LaunchConfiguration('namespace'),
        output='screen', arguments=sidecar_arguments(config, target))]


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
                   '--stop-grace', LaunchConfiguration('stop_grace'),
                   '--base-dir', LaunchConfiguration('base_dir'),
                   '--drop-env', LaunchConfiguration('token_env'),
                   '--control-discovery-range',
                   LaunchConfiguration('control_discovery_range'),
                   Switch('--refuse-remote-writes',
                          LaunchConfiguration('refuse_remote_writes'))])
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
            'namespace', default_value=host_namespace(),
            description="ROS namespace of both nodes: the robot's name in a fleet (default: "
                        "from the host name; '' puts them at the root)"),
        DeclareLaunchArgument(
            'status_rate', default_value='1.0', description='status publications per second'),
        DeclareLaunchArgument(
            'base_dir', default_value='',
            description="what relative working_dir values are relative to (default: the "
                        "registry's base_dir, else its folder); OmegaOS: the backend folder"),
        DeclareLaunchArgument(
            'control_discovery_range', default_value='LOCALHOST',
            description="how far both nodes' DDS reaches (LOCALHOST, SUBNET, SYSTEM_DEFAULT, "
                        "OFF); services keep the robot's ROS settings"),
        DeclareLaunchArgument(
            'refuse_remote_writes', default_value='false', choices=YES_NO,
            description='serve start, stop, restart, maintenance, group and reload to this '
                        'machine only (status, events, list and logs reach the fleet)'),
        DeclareLaunchArgument(
            'token_env', default_value='OMEGA_API_TOKEN',
            description='variable holding the API token (never passed to a service)'),
        DeclareLaunchArgument(
            'api_timeout', default_value='10',
            description='seconds the API waits for an orchestrator answer'),
        DeclareLaunchArgument(
            'cors_origins', default_value='',
            description='browser origins allowed to call the API, comma-separated'),
        DeclareLaunchArgument(
            'allowed_hosts', default_value='',
            description='Host names the API answers to besides loopback, comma-separated'),
        DeclareLaunchArgument(
            'open_writes_for_origins', default_value='false', choices=YES_NO,
            description='writes from cors_origins pages need no token (trusted networks only)'),
        DeclareLaunchArgument(
            'token_for_logs', default_value='false', choices=YES_NO,
            description='reading logs needs the token too'),
        DeclareLaunchArgument(
            'stop_grace', default_value=STOP_GRACE,
            description='seconds the orchestrator gets to stop every service before SIGTERM '
                        f'(SIGKILL follows {SIGKILL_TIMEOUT} s later)'),
        orchestrator,
        RegisterEventHandler(OnProcessExit(target_action=orchestrator,
                                           on_exit=orchestrator_exited)),
        OpaqueFunction(function=sidecar_node),
    ])
