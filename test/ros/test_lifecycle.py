"""Managed (lifecycle) nodes: a real rclpy LifecycleNode run as a service, driven by the
orchestrator through configure and activate after every start, and shut down before a stop.
"""

import os
import signal

from lifecycle_msgs.srv import GetState
from omega_orchestrator_interfaces.msg import ServiceStatus
from omega_orchestrator_interfaces.srv import GetLogs, ListServices, StopService

from test.support import py, wait_until

#: A lifecycle node that says each transition on stdout; argv[1] == 'refuse': activate fails.
MANAGED = """
import sys
import rclpy
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
class Driver(LifecycleNode):
    def __init__(self):
        super().__init__("arm_driver")
    def say(self, what):
        print(what, flush=True)
        return TransitionCallbackReturn.SUCCESS
    def on_configure(self, state):
        return self.say("configured")
    def on_activate(self, state):
        if sys.argv[-1] == "refuse":
            print("refusing to activate", flush=True)
            return TransitionCallbackReturn.FAILURE
        return self.say("activated")
    def on_deactivate(self, state):
        return self.say("deactivated")
    def on_shutdown(self, state):
        return self.say("shut down")
rclpy.init()
node = Driver()
try:
    rclpy.spin(node)
except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
    pass
"""


def managed(name: str, *extra: str) -> dict:
    return py(MANAGED, name=name, type='ros2', autostart=True, restart_policy='always',
              ros_node='/arm_driver', lifecycle=True, lifecycle_timeout=20,
              args=['-c', MANAGED, *extra], restart={'backoff_initial': 0.5})


def services(client, orchestrator) -> dict:
    return {s.name: s for s in client.call(ListServices, orchestrator.at('list')).services}


def node_state(client) -> str:
    return client.call(GetState, '/arm_driver/get_state').current_state.label


def test_a_lifecycle_node_is_activated_after_every_start_and_shut_down_at_a_stop(
        orchestrator, client):
    orchestrator.start([managed('arm')])
    first = wait_until(lambda: (s := services(client, orchestrator)['arm']).lifecycle_state
                       == 'active' and s, what='the node activated')
    assert node_state(client) == 'active'          # the node itself says so
    assert first.state == ServiceStatus.STATE_RUNNING
    os.kill(first.pid, signal.SIGKILL)              # a crash: restarted, and active again
    again = wait_until(lambda: (s := services(client, orchestrator)['arm']).pid not in
                       (0, first.pid) and s.lifecycle_state == 'active' and s,
                       what='the restarted node activated')
    assert again.restart_count == 1 and node_state(client) == 'active'
    client.call(StopService, orchestrator.at('stop'), name='arm')
    wait_until(lambda: services(client, orchestrator)['arm'].state ==
               ServiceStatus.STATE_STOPPED, what='stopped')
    out = client.call(GetLogs, orchestrator.at('get_logs'), name='arm', stream='stdout',
                      lines=20).stdout
    assert out[-4:] == ['configured', 'activated', 'deactivated', 'shut down']


def test_a_failed_transition_is_a_failure_of_the_service(orchestrator, client, tmp_path):
    from omega_orchestrator_interfaces.msg import ServiceEvent
    events = client.collect(ServiceEvent, orchestrator.at('events'))
    orchestrator.start([managed('arm', 'refuse')])
    crash = wait_until(lambda: next((e for e in events if e.to_state_name == 'crashed'), None),
                       what='the failed activation as a crash')
    assert crash.reason == 'lifecycle: activate of /arm_driver failed (inactive)'
