"""What a service's environment is: the robot's, never ours."""

from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import py


def test_services_do_not_inherit_the_ros_wheels_library_path():
    import sys

    from omega_orchestrator.runtime.environment import robot_environment
    venv_lib = f'{sys.prefix}/lib'
    libs = f'{sys.prefix}/lib/python3.11/site-packages/ros_rcl.libs'
    env = robot_environment({'LD_LIBRARY_PATH': f'{libs}:/opt/vendor/lib:{venv_lib}',
                               '_ROS_WHEELS_BOOTSTRAP_COMPLETE': '1', 'HOME': '/root'},
                              sys.prefix)
    assert env == {'LD_LIBRARY_PATH': '/opt/vendor/lib', 'HOME': '/root'}
    untouched = {'LD_LIBRARY_PATH': '/opt/ros/jazzy/lib'}
    assert robot_environment(untouched, sys.prefix) == untouched


def test_services_do_not_get_systemds_notification_socket_or_watchdog():
    import sys

    from omega_orchestrator.runtime.environment import robot_environment
    env = robot_environment({'NOTIFY_SOCKET': '/run/systemd/notify', 'WATCHDOG_USEC': '30',
                               'WATCHDOG_PID': '1', 'HOME': '/root'}, sys.prefix)
    assert env == {'HOME': '/root'}


async def test_env_is_merged_into_the_inherited_environment(supervise):
    code = 'import os\nprint(os.environ["ROBOT"], "PATH" in os.environ)'
    sup = supervise(py(code, name='s', env={'ROBOT': 'omega1'}))
    sup.start('s')
    await wait_state(sup, 's', S.EXITED)
    assert sup.logs('s', 'stdout', 5) == ['omega1 True']
