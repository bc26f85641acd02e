"""The environment a service starts in: the robot's, not the orchestrator's.

A service gets the environment the orchestrator was started in, minus what this project
added for itself, plus its registry `env`:
- the venv's `bin/` on PATH (scripts/run, the systemd unit) and VIRTUAL_ENV: a registry's
  `python3` is the robot's Python, not the one carrying our ROS wheels;
- LD_LIBRARY_PATH entries the PyPI ROS wheels' bootstrap added (the venv's ROS libraries);
- systemd's notification socket and watchdog (meant for the orchestrator alone);
- secrets: the API token (`OMEGA_API_TOKEN`, and any variable named with --drop-env).
The control plane's own DDS settings are applied to the orchestrator's process only after
this copy is taken (see control_plane), so services keep the robot's ROS discovery settings.
"""

from collections.abc import Mapping
import os

from omega_orchestrator.core.registry import ServiceSpec
from omega_orchestrator.runtime import sdnotify

BOOTSTRAP_GUARD = '_ROS_WHEELS_BOOTSTRAP_COMPLETE'
#: Variables meant for the orchestrator alone: systemd's notification socket and watchdog
#: (a service that inherited them could report READY or feed the watchdog in our name).
OURS_ONLY = frozenset(sdnotify.VARIABLES)
#: Secrets that never reach a service, whatever the registry says.
SECRETS = frozenset({'OMEGA_API_TOKEN'})
DISCOVERY = 'ROS_AUTOMATIC_DISCOVERY_RANGE'
DISCOVERY_RANGES = ('LOCALHOST', 'SUBNET', 'SYSTEM_DEFAULT', 'OFF')


def robot_environment(environ: dict[str, str] | os._Environ, prefix: str,
                      drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment services inherit (see the module docstring). `prefix` is the venv's
    (sys.prefix); `drop` names further variables that must never reach a service.
    """
    gone = OURS_ONLY | SECRETS | set(drop)
    env = {k: v for k, v in environ.items() if k not in gone}
    venv_bin = os.path.join(prefix, 'bin')
    if 'PATH' in env:
        env['PATH'] = os.pathsep.join(p for p in env['PATH'].split(os.pathsep)
                                      if p and os.path.normpath(p) != venv_bin)
    if env.get('VIRTUAL_ENV') and os.path.normpath(env['VIRTUAL_ENV']) == prefix:
        del env['VIRTUAL_ENV']
    if env.pop(BOOTSTRAP_GUARD, None) is None:
        return env
    ours = (os.path.join(prefix, 'lib'),)
    kept = [part for part in env.get('LD_LIBRARY_PATH', '').split(os.pathsep)
            if part and part not in ours and not os.path.basename(part).startswith('ros_')]
    if kept:
        env['LD_LIBRARY_PATH'] = os.pathsep.join(kept)
    else:
        env.pop('LD_LIBRARY_PATH', None)
    return env


def service_environment(robot: Mapping[str, str], spec: ServiceSpec) -> dict[str, str]:
    """What a service's processes (its run, stop_cmd, exec probe) start in: the robot's
    environment plus the service's registry `env`.
    """
    return dict(robot, **dict(spec.env))


#: A Fast DDS XML profile can set transports and peers of its own: with one, the control
#: services cannot be promised to stay on this machine (ros/local_control.py).
PROFILES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def local_control_problem(environ: Mapping[str, str]) -> str | None:
    """Why --refuse-remote-writes cannot keep the control services on this machine in this
    environment (None: it can).
    """
    for name in PROFILES:
        if environ.get(name):
            return (f'--refuse-remote-writes: {name} is set, and a Fast DDS profile may give '
                    'the control services transports or peers beyond this machine; unset it, '
                    'or keep the robot on a ROS domain of its own')
    return None


def control_plane(discovery_range: str) -> None:
    """Set the orchestrator's (or sidecar's) own DDS reach before rclpy starts: LOCALHOST by
    default, so its control services are not on the robot's network unless asked for;
    'inherit' keeps whatever the environment says.
    """
    if discovery_range != 'inherit':
        os.environ[DISCOVERY] = discovery_range
