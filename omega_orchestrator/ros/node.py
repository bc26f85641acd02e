"""OrchestratorNode: the supervisor's ROS 2 surface.

Publishes ~/status (latched), ~/status_updates, ~/events and /diagnostics (what goes out
when: status_plan.py), and asserts the liveliness of ~/status_updates (presence.py); serves
~/start, ~/stop, ~/restart, ~/list, ~/get_logs and ~/reload. Callbacks only translate:
each is an ``async def`` that hands its work to the engine's asyncio loop through the bridge
and awaits the answer without holding an executor thread, so hundreds of calls can be in
flight and a slow one blocks nothing. A call the engine did not take up within the bridge's
timeout is answered ERR_TIMEOUT and is never applied (see bridge.py). No file is read here:
a reload reads its file in a worker thread, with a timeout (see runtime/registry_file.py).

The services keep up to SERVICE_DEPTH requests queued (reliable): DDS drops what is beyond a
KEEP_LAST queue's depth, and rclpy's default depth of 10 lost calls from about 12 concurrent.
"""

from collections.abc import Callable, Coroutine
import functools
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from omega_orchestrator_interfaces.msg import ServiceEvent, ServiceStatusArray
from omega_orchestrator_interfaces.srv import (
    GetLogs,
    GroupAction,
    ListServices,
    ReloadRegistry,
    RestartService,
    SetMaintenance,
    StartService,
    StopService,
)
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from omega_orchestrator.core.errors import (
    ErrorCode,
    InvalidArgumentError,
    OrchestratorError,
    RegistryError,
)
from omega_orchestrator.ros.bridge import LoopBridge
from omega_orchestrator.ros.messages import event_to_msg, MessageCache, status_to_msg
from omega_orchestrator.ros.parameters import NodeParameters
from omega_orchestrator.ros.presence import ASSERT_PERIOD, updates_qos
from omega_orchestrator.ros.status_plan import StatusPlan
from omega_orchestrator.runtime.registry_file import RegistryFileReader, RegistryReloader, Reloaded
from omega_orchestrator.runtime.status import EngineStatus, TransitionEvent
from omega_orchestrator.runtime.supervisor import Supervisor

LATCHED = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
UPDATES = updates_qos()
EVENTS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                    reliability=ReliabilityPolicy.RELIABLE)
SERVICE_DEPTH = 1000
SERVICES = QoSProfile(depth=SERVICE_DEPTH, history=HistoryPolicy.KEEP_LAST,
                      durability=DurabilityPolicy.VOLATILE,
                      reliability=ReliabilityPolicy.RELIABLE)
STREAMS = ('stdout', 'stderr')
MAX_LOG_LINES = 1000
RELOAD_WAIT = 4           # a reload answers 'still applying' after this many call timeouts
ASK_ALL_PERIOD = 60.0     # s: every service is asked for its status at least this often
Handler = Callable[[Any, Any], Coroutine[Any, Any, Any]]


class OrchestratorNode(Node):
    """The ROS node in front of one Supervisor."""

    def __init__(self, supervisor: Supervisor, bridge: LoopBridge, *, registry_path: str,
                 log_dir: str, status_rate: float = 1.0, base_dir: str | None = None,
                 on_rate_change: Callable[[float], None] | None = None,
                 control_node: Node | None = None, **node_kwargs: Any) -> None:
        """`control_node`: where the control services are served, when not on this node
        (local_control: a robot that refuses remote writes).
        """
        super().__init__('omega_orchestrator', **node_kwargs)
        self.supervisor = supervisor
        self.bridge = bridge
        self.control_node = control_node
        bridge.wake = self._wake_executor
        self.reloader = RegistryReloader(supervisor, base_dir,
                                         RegistryFileReader(timeout=bridge.timeout))
        self.fqn = self.get_fully_qualified_name()
        self.params = NodeParameters(self, registry=registry_path, log_dir=log_dir,
                                     status_rate=status_rate, on_rate_change=on_rate_change)
        self._messages = MessageCache()
        self._plan = StatusPlan()
        self._whole_at = float('-inf')      # when every service was last asked
        self._asserted_at = float('-inf')   # when ~/status_updates' liveliness was last asserted
        self.status_pub = self.create_publisher(ServiceStatusArray, '~/status', LATCHED)
        self.updates_pub = self.create_publisher(ServiceStatusArray, '~/status_updates',
                                                 UPDATES)
        self.events_pub = self.create_publisher(ServiceEvent, '~/events', EVENTS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        group = ReentrantCallbackGroup()
        for srv_type, name, handler in (
                (ListServices, 'list', self._on_list),
                (GetLogs, 'get_logs', self._on_get_logs)):
            self.create_service(srv_type, f'~/{name}', _guarded(self, handler),
                                qos_profile=SERVICES, callback_group=group)
        control = control_node or self
        control_group = group if control is self else ReentrantCallbackGroup()
        for srv_type, name, handler in (
                (StartService, 'start', self._on_start),
                (StopService, 'stop', self._on_stop),
                (RestartService, 'restart', self._on_restart),
                (ReloadRegistry, 'reload', self._on_reload),
                (SetMaintenance, 'set_maintenance', self._on_set_maintenance),
                (GroupAction, 'group', self._on_group)):
            # under this node's name either way: '/robot1/omega_orchestrator/start'
            control.create_service(srv_type, f'{self.fqn}/{name}', _guarded(self, handler),
                                   qos_profile=SERVICES, callback_group=control_group)
        # answers the calls the loop did not take up in time (a busy or wedged engine); it
        # runs only while calls are pending, so an idle node never wakes for it
        self._overdue = self.create_timer(min(0.25, bridge.timeout / 4), self._expire_overdue,
                                          callback_group=MutuallyExclusiveCallbackGroup())
        self._overdue.cancel()
        bridge.submitted = self._arm_overdue_check

    def _wake_executor(self) -> None:
        """An answer is ready (any thread): let the executor resume the waiting callback
        (the control node's too, when the control services are on it).
        """
        # (rclpy's own Node calls this too, from its __init__: before control_node is set)
        for node in (self, getattr(self, 'control_node', None)):
            executor = node.executor if node is not None else None
            if executor is not None:
                executor.wake()

    def _arm_overdue_check(self) -> None:
        if self._overdue.is_canceled():
            self._overdue.reset()

    def _expire_overdue(self) -> None:
        try:
            self.bridge.expire_overdue()
        except Exception as exc:
            self.get_logger().error(f'expiring overdue calls failed: {exc!r}')
        if not self.bridge.pending():
            self._overdue.cancel()    # until the next call is handed over...
            if self.bridge.pending():  # ...unless one was, meanwhile, and saw it running
                self._overdue.reset()

    @property
    def status_rate(self) -> float:
        """Periodic status publications per second."""
        return self.params.status_rate

    # -- publishing (called on the engine's loop) -------------------------------------------------

    @property
    def assertion_due(self) -> float:
        """When (loop time) ~/status_updates' liveliness must be asserted again: ASSERT_PERIOD
        after the last assertion or publication on it (presence.py).
        """
        return self._asserted_at + ASSERT_PERIOD

    def assert_alive(self, now: float) -> None:
        """Assert ~/status_updates' liveliness: listeners see the orchestrator there
        (presence.py). Costs no message to anyone.
        """
        self.updates_pub.assert_liveliness()
        self._asserted_at = now

    def work_due(self) -> float:
        """When (loop time) a status period has more to do than look for new listeners:
        -inf when a service was touched since the last publication, else when something
        falls due (a diagnostic's refresh, a whole ~/status, asking every service).
        """
        if self.supervisor.has_touched():
            return float('-inf')
        return min(self._plan.quiet_until, self._whole_at + ASK_ALL_PERIOD)

    def publish_status(self, now: float, *, final: bool = False) -> float | None:
        """Publish what changed (see status_plan); returns the seconds until a whole
        ~/status that is due may go out, or None when none is pending.

        Only the services the engine touched since the last time are asked for their status
        (take_touched names every change but the uptime); every service when the set changed,
        at the last publication, and every ASK_ALL_PERIOD s as a safety net.
        """
        supervisor, tracking = self.supervisor, self.supervisor.tracking
        touched = supervisor.take_touched()
        if final or now - self._whole_at >= ASK_ALL_PERIOD or \
                supervisor.names() != self._messages.names:
            entries = self._messages.update(supervisor.snapshot(), self.fqn, tracking)
            self._whole_at = now
        else:
            entries = self._messages.update_some(
                [supervisor.status(name) for name in touched], self.fqn, tracking)
        self._plan.full_gap = min(1.0, 1.0 / self.status_rate)    # a period, at most 1 s
        publication = self._plan.plan(entries, now, final=final, audience=Listeners(self),
                                      changes=self._messages.changes)
        if publication.full is None and publication.updates is None and \
                publication.diagnostics is None:
            return self._plan.full_due_in(now)
        stamp = self.get_clock().now().to_msg()
        for publisher, statuses in ((self.status_pub, publication.full),
                                    (self.updates_pub, publication.updates)):
            if statuses is not None:
                array = ServiceStatusArray(services=statuses)
                array.header.stamp = stamp
                publisher.publish(array)
        if publication.updates is not None:
            self._asserted_at = now          # a publication asserts liveliness too
        if publication.diagnostics is not None:
            diag = DiagnosticArray(status=publication.diagnostics)
            diag.header.stamp = stamp
            self.diag_pub.publish(diag)
        return self._plan.full_due_in(now)

    def publish_event(self, event: TransitionEvent) -> None:
        """Publish one transition on ~/events."""
        self.events_pub.publish(event_to_msg(event))

    # -- services (rclpy tasks on executor threads; no thread waits for the loop) --------------

    async def _on_start(self, request: Any, response: Any) -> Any:
        _require_name(request)
        status = await self.bridge.call(lambda: self.supervisor.start(request.name))
        return _ok(response, f"'{request.name}' is {status.state.value}", status)

    async def _on_stop(self, request: Any, response: Any) -> Any:
        _require_name(request)
        status = await self.bridge.call(
            lambda: self.supervisor.stop(request.name, request.force))
        return _ok(response, f"'{request.name}' is {status.state.value}", status)

    async def _on_restart(self, request: Any, response: Any) -> Any:
        _require_name(request)
        status = await self.bridge.call(lambda: self.supervisor.restart(request.name))
        return _ok(response, f"'{request.name}' is {status.state.value}", status)

    async def _on_set_maintenance(self, request: Any, response: Any) -> Any:
        _require_name(request)
        status = await self.bridge.call(
            lambda: self.supervisor.set_maintenance(request.name, request.enabled))
        what = 'in maintenance' if status.maintenance else 'supervised'
        return _ok(response, f"'{request.name}' is {what} ({status.state.value})", status)

    async def _on_group(self, request: Any, response: Any) -> Any:
        if not request.group:
            raise InvalidArgumentError('the request needs a group name')
        names = await self.bridge.call(
            lambda: self.supervisor.act_on_group(request.group, request.action))
        response.names = names
        return _ok(response, f"group '{request.group}': {request.action} of "
                             f"{len(names)} service(s) accepted")

    async def _on_list(self, request: Any, response: Any) -> Any:
        snapshot = await self.bridge.call(self.supervisor.snapshot)
        response.services = [status_to_msg(s) for s in snapshot]
        return _ok(response, f'{len(snapshot)} service(s)')

    async def _on_get_logs(self, request: Any, response: Any) -> Any:
        stream = request.stream or 'both'
        if stream not in STREAMS + ('both',):
            raise InvalidArgumentError(f"stream must be stdout, stderr or both, not '{stream}'")
        lines = min(int(request.lines) or MAX_LOG_LINES, MAX_LOG_LINES)   # 0 = all kept
        wanted = [name for name in STREAMS if stream in (name, 'both')]
        found = await self.bridge.call(
            lambda: {n: self.supervisor.logs(request.name, n, lines) for n in wanted})
        for name, text in found.items():
            setattr(response, name, text)
        return _ok(response, f'last {lines} line(s) at most per stream')

    async def _on_reload(self, request: Any, response: Any) -> Any:
        wait = self.bridge.timeout * RELOAD_WAIT
        try:
            done: Reloaded = await self.bridge.run(
                lambda: self.reloader.reload(request.path, wait))
        except RegistryError as exc:
            response.errors = exc.problems
            raise
        if request.path:
            self.params.set_registry(done.path)
        response.added, response.removed, response.changed = done.added, done.removed, \
            done.changed
        counts = (f'{len(done.added)} added, {len(done.removed)} removed, '
                  f'{len(done.changed)} changed')
        if done.finished:
            return _ok(response, f'reloaded {done.path}: {counts}')
        return _ok(response, f'reloading {done.path}: {counts}; still stopping and starting '
                             f'services after {wait:g} s: watch ~/status')


class Listeners:
    """Which of the node's status topics have a subscriber (a status_plan audience), each
    asked of DDS only when the plan needs to know, at most once (most periods send nothing
    and need not ask).
    """

    def __init__(self, node: OrchestratorNode) -> None:
        self._node = node

    @functools.cached_property
    def status(self) -> bool:
        return self._node.status_pub.get_subscription_count() > 0

    @functools.cached_property
    def updates(self) -> bool:
        return self._node.updates_pub.get_subscription_count() > 0

    @functools.cached_property
    def diagnostics(self) -> bool:
        return self._node.diag_pub.get_subscription_count() > 0


def _require_name(request: Any) -> None:
    if not request.name:
        raise InvalidArgumentError('the request needs a service name')


def _ok(response: Any, message: str, status: EngineStatus | None = None) -> Any:
    response.success = True
    response.error_code = int(ErrorCode.NONE)
    response.message = message
    if status is not None:
        response.status = status_to_msg(status)
    return response


def _guarded(node: Node, handler: Handler) -> Handler:
    """Nothing escapes a service callback: errors become an error code and a message.

    (An error escaping an rclpy task would end the executor's spin: no call answered again.)
    """
    async def callback(request: Any, response: Any) -> Any:
        try:
            return await handler(request, response)
        except Exception as exc:
            return _failed(node, handler, response, exc)
    return callback


def _failed(node: Node, handler: Handler, response: Any, exc: Exception) -> Any:
    """The error answer for exc; unexpected errors are logged."""
    if isinstance(exc, OrchestratorError):
        code, message = exc.code, str(exc)
    else:
        node.get_logger().error(f'{handler.__name__} failed: {exc!r}')
        code, message = ErrorCode.INTERNAL, f'internal error: {exc}'
    status = getattr(exc, 'status', None)
    if status is not None and hasattr(response, 'status'):
        try:
            response.status = status_to_msg(status)
        except Exception as bad:
            node.get_logger().error(f'{handler.__name__}: cannot convert the status: {bad!r}')
    response.success = False
    response.error_code = int(code)
    response.message = message
    return response
