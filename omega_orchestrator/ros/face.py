"""The engine's ROS face: the node, an rclpy executor in its own thread, status publishing.

The asyncio loop (main thread) owns the engine; rclpy spins in its own thread and hands every
request to the loop. See run.run for the order of start-up and shutdown.
"""

import argparse
import asyncio
import logging
import math
import threading

import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from omega_orchestrator.ros import rosout
from omega_orchestrator.ros.bridge import LoopBridge
from omega_orchestrator.ros.graph_probes import make_graph_probes
from omega_orchestrator.ros.lifecycle import RosLifecycleDriver
from omega_orchestrator.ros.local_control import LocalControl
from omega_orchestrator.ros.node import OrchestratorNode
from omega_orchestrator.ros.presence import ASSERT_PERIOD
from omega_orchestrator.ros.spinning import spin_until_shutdown
from omega_orchestrator.runtime.relay import EventRelay
from omega_orchestrator.runtime.status import TransitionEvent
from omega_orchestrator.runtime.supervisor import Supervisor

log = logging.getLogger('omega_orchestrator')
EXECUTOR_THREADS = 4
TIMER_SLACK = 0.001       # s: a timer the loop runs this early is on time


class StatusPublisher:
    """Publishes at the status rate, and once per burst of changes; asserts the
    orchestrator's liveliness in between (presence.py).

    A change after a quiet spell is published at once; within a burst (1,000 services
    stopping exit one by one) at most every MIN_GAP s: each transition still goes out on
    ~/events at once, while the changed statuses go out at most 1 / MIN_GAP times a second.
    What each publication sends is the node's plan (status_plan.py); a whole ~/status that
    the plan holds back for a while is published when it may go.

    The status periods lie on a grid (the rate's period, from the start or the last change of
    rate), but the loop wakes only for a period with something to do (a service touched,
    something due: node.work_due) and for the liveliness: at the last period before the
    assertion is due (at most ASSERT_PERIOD s apart), or at the assertion's time when no
    period comes before it. An idle robot at 1 Hz wakes every other second; every period
    that runs also looks for new listeners of what waited for one.
    """

    MIN_GAP = 0.05

    def __init__(self, node: OrchestratorNode) -> None:
        self.node = node
        self._due: asyncio.TimerHandle | None = None
        self._full: asyncio.TimerHandle | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._closed = False
        self._periodic = False         # start_periodic was called
        self._last = float('-inf')
        self._next_status = float('-inf')     # the next period on the grid not run yet
        self._period = 1.0

    def poke(self) -> None:
        """Something changed: publish once the current burst of work is done."""
        if self._due is None and not self._closed:
            loop = asyncio.get_running_loop()
            self._due = loop.call_at(max(loop.time(), self._last + self.MIN_GAP),
                                     self._on_change)

    def period_needed(self) -> None:
        """A service was touched (on the loop): wake at the next period, if not sooner."""
        tick = self._tick
        if tick is not None and tick.when() > self._next_status + TIMER_SLACK:
            tick.cancel()
            self._tick = asyncio.get_running_loop().call_at(self._next_status, self._on_tick)

    def close(self) -> None:
        """No more publications: cancel those still due (the node is about to go)."""
        self._closed = True
        for handle in (self._due, self._full, self._tick):
            if handle is not None:
                handle.cancel()
        self._due = self._full = self._tick = None

    def publish_final(self) -> None:
        """Everything, on every topic: the state the orchestrator leaves behind."""
        self.node.publish_status(asyncio.get_running_loop().time(), final=True)

    def _on_change(self) -> None:
        self._due = None
        self._publish()

    def _on_full_due(self) -> None:
        self._full = None
        self._publish()

    def _publish(self) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        self._last = now = loop.time()
        wait = self.node.publish_status(now)
        if wait is not None and self._full is None:
            self._full = loop.call_at(now + max(wait, self.MIN_GAP), self._on_full_due)

    def start_periodic(self) -> None:
        """From now on (on the loop) until closed: publish at the node's status_rate (Hz), and
        keep ~/status_updates' liveliness asserted at least every ASSERT_PERIOD s whatever
        the rate. A chain of timers: nothing else wakes the loop in between.
        """
        if self._periodic:
            return
        self._periodic = True
        self._next_status = asyncio.get_running_loop().time()
        self._on_tick()

    def rate_changed(self) -> None:
        """The status_rate parameter changed (on the loop): restart the period now (before
        start_periodic, nothing: it starts with the rate of then).
        """
        if self._closed or not self._periodic:
            return
        if self._tick is not None:
            self._tick.cancel()
        self._next_status = asyncio.get_running_loop().time()
        self._on_tick()

    def _on_tick(self) -> None:
        self._tick = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        try:
            if now >= self._next_status - TIMER_SLACK:
                self._period = 1.0 / self.node.status_rate
                self._next_status = _next_on_grid(self._next_status, self._period, now)
                self._publish()
        except Exception:         # the next period tries again
            log.exception('publishing the status failed')
        try:
            wake = self._next_wake(now)
        except Exception:
            log.exception('asserting the liveliness failed')
            wake = min(self._next_status, now + ASSERT_PERIOD)
        if not self._closed:
            self._tick = loop.call_at(wake, self._on_tick)

    def _next_wake(self, now: float) -> float:
        """Asserts the liveliness now if no period comes before it is due; returns when to
        wake next: the first period with work, or the last one before the next assertion is
        due (at that time itself when the rate's period is longer than ASSERT_PERIOD).
        """
        if self._next_status > self.node.assertion_due:
            self.node.assert_alive(now)
        deadline = self.node.assertion_due
        for_assertion = self._last_period_before(deadline)
        return min(deadline if for_assertion is None else for_assertion,
                   self._first_period_from(self.node.work_due()))

    def _last_period_before(self, deadline: float) -> float | None:
        """The last period on the grid from the next one to `deadline`, if any."""
        if self._next_status > deadline:
            return None
        periods = math.floor((deadline - self._next_status) / self._period + 1e-9)
        return self._next_status + periods * self._period

    def _first_period_from(self, due: float) -> float:
        """The first period on the grid, from the next one, at or after `due`."""
        if due <= self._next_status:
            return self._next_status
        if math.isinf(due):                      # nothing falls due
            return due
        periods = math.ceil((due - self._next_status) / self._period - 1e-9)
        return self._next_status + periods * self._period


def _next_on_grid(due: float, period: float, now: float) -> float:
    """The next period after `due` (the one just run), on the grid it started: a tick that
    runs a little late does not push every later one; after a stall, the periods missed are
    skipped, not run in a burst.
    """
    following = due + period
    return following if following > now else now + period


class RosFace:
    """The node, its executor thread and the status publisher, around a running supervisor.

    Built in a worker thread (rclpy start-up takes a few hundred ms), which starts nothing;
    start() and close() run on the engine's loop (launch_ros's ROSAdapter is the model).
    """

    def __init__(self, supervisor: Supervisor, loop: asyncio.AbstractEventLoop,
                 args: argparse.Namespace, ros_args: list[str]) -> None:
        self.supervisor = supervisor
        self.context = rclpy.Context()
        rclpy.init(args=['omega_orchestrator', *ros_args, *rosout.QUIET_CONSOLE],
                   context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        # a robot that refuses remote writes serves them on a LOCALHOST participant
        self.local_control = LocalControl([*ros_args, *rosout.QUIET_CONSOLE],
                                          EXECUTOR_THREADS) \
            if getattr(args, 'refuse_remote_writes', False) else None
        self.node = OrchestratorNode(
            supervisor, LoopBridge(loop, timeout=args.call_timeout),
            registry_path=supervisor.registry.path, log_dir=args.log_dir,
            status_rate=args.status_rate, base_dir=getattr(args, 'base_dir', None),
            context=self.context,
            control_node=self.local_control.node if self.local_control else None,
            on_rate_change=lambda _: loop.call_soon_threadsafe(self._rate_changed))
        self.log_forwarding: rosout.Forwarding | None = None
        # service callbacks are coroutines that hold no thread while the engine works; the
        # threads only take requests, convert messages and send answers
        self.executor = MultiThreadedExecutor(num_threads=EXECUTOR_THREADS, context=self.context)
        self.executor.add_node(self.node)
        self.spinner = threading.Thread(target=spin_until_shutdown, name='rclpy-executor',
                                        args=(self.executor, 'a ROS callback'), daemon=True)
        self.publisher = StatusPublisher(self.node)

    def _rate_changed(self) -> None:
        self.publisher.rate_changed()

    def start(self, relay: EventRelay) -> None:
        """Serve and publish: the executor thread, then missed transitions first, then
        every change and the rate.
        """
        self.spinner.start()
        if self.local_control is not None:
            self.local_control.start()
        self.log_forwarding = rosout.attach(log, self.node.get_logger())
        self.supervisor.probes.update(make_graph_probes(self.node))
        self.supervisor.use_lifecycle(RosLifecycleDriver(self.node, asyncio.get_running_loop()))
        relay.connect(self._on_transition)
        self.supervisor.on_touched = self.publisher.period_needed
        self.publisher.start_periodic()
        log.info('orchestrator node %s is up with %d service(s)',
                 self.node.get_fully_qualified_name(), len(self.supervisor.names()))

    def _on_transition(self, event: TransitionEvent) -> None:
        self.node.publish_event(event)
        self.publisher.poke()

    def close(self) -> None:
        """Publish the final state, then shut the node down."""
        self.publisher.close()
        if self.log_forwarding is not None:
            self.log_forwarding.close()
        self.publisher.publish_final()
        if self.local_control is not None:
            self.local_control.close()
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        if self.spinner.is_alive():
            self.spinner.join(timeout=2.0)
