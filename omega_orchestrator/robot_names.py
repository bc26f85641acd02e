"""How a robot is named on the DDS domain: its namespace, its orchestrator, its robot name.

Each machine's orchestrator runs under a namespace, by default derived from the host name
(`robot-7.lab.local` -> `/robot_7`), so that several robots on one domain never collide and
a sidecar can tell them apart. `--ros-args -r __ns:=/NAME` (what `ros2 launch` passes) or
`--namespace` overrides it. The sidecar's node takes the same default, so its relative
default `omega_orchestrator` is its own machine's orchestrator.

A robot's name is its namespace without the leading slash (`/lab/robot_7` -> `lab/robot_7`);
an orchestrator in the root namespace is named after its node. Pure functions, no ROS.
"""

import re
import socket

NODE_NAME = 'omega_orchestrator'
#: What a ROS name token may hold: letters, digits, underscores, not starting with a digit.
_NOT_IN_A_TOKEN = re.compile(r'[^A-Za-z0-9_]+')


def host_namespace(hostname: str | None = None) -> str:
    """The default namespace of this machine: '/' + its host name's first label, made a valid
    ROS name token (lower case; anything else becomes '_'; a leading digit gets 'host_').
    """
    label = (hostname if hostname is not None else socket.gethostname()).split('.')[0]
    # ROS names allow no '__' either: runs of anything else become one '_'
    token = re.sub('_+', '_', _NOT_IN_A_TOKEN.sub('_', label.lower())).strip('_') or 'robot'
    if token[0].isdigit():
        token = f'host_{token}'
    return f'/{token}'


def given_rule(ros_args: list[str], name: str) -> str | None:
    """What a `-r NAME:=...` rule among ros_args sets, if any (as rcl applies them: the first
    one wins), e.g. given_rule(args, '__node').
    """
    for flag, rule in zip(ros_args, ros_args[1:], strict=False):
        if flag in ('-r', '--remap') and rule.startswith(f'{name}:='):
            return rule.removeprefix(f'{name}:=')
    return None


def given_namespace(ros_args: list[str]) -> str | None:
    """The namespace a `-r __ns:=...` rule among ros_args sets, if any."""
    return given_rule(ros_args, '__ns')


_NAMESPACE = re.compile(r'/?([A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*)?/?')


def namespace_problem(namespace: str) -> str | None:
    """Why `namespace` is not a valid ROS namespace (None: it is): tokens of letters, digits
    and underscores, not starting with a digit, no '__', separated by single slashes.
    """
    if not _NAMESPACE.fullmatch(namespace) or '__' in namespace:
        return (f"'{namespace}' is not a ROS namespace: use letters, digits and '_' (not "
                "starting with a digit, no '__'), parts separated by '/', e.g. /robot_7")
    return None


def with_namespace(ros_args: list[str], namespace: str | None) -> list[str]:
    """ros_args that put the node in `namespace` (default: this host's), unless they already
    name one: an explicit `__ns:=` rule (a launch file's) wins.
    """
    if given_namespace(ros_args) is not None:
        return list(ros_args)
    chosen = namespace if namespace is not None else host_namespace()
    # rcl reads every --ros-args section, so one more at the end adds to what is there
    return [*ros_args, '--ros-args', '-r', f"__ns:=/{chosen.strip('/')}"]


def namespaced(ros_args: list[str], namespace: str | None) -> tuple[list[str], str | None]:
    """(with_namespace(ros_args, namespace), why the namespace is not valid or None): what
    every entry point checks before it starts anything.
    """
    args = with_namespace(ros_args, namespace)
    return args, namespace_problem(given_namespace(args) or '/')


def robot_name(orchestrator: str) -> str:
    """The robot of an orchestrator's full node name: '/robot_7/omega_orchestrator' ->
    'robot_7'; '/lab/r1/omega_orchestrator' -> 'lab/r1'; '/omega_orchestrator' ->
    'omega_orchestrator'.
    """
    namespace, _, node = orchestrator.strip('/').rpartition('/')
    return namespace or node
