"""RobotLink: one orchestrator as the sidecar sees it over ROS: its status cache, its event
listeners, and the calls to its control services.

Reads come from a cache of the services' statuses: the latched ~/status (every service) and
~/status_updates (what changed) keep it current; messages are turned into REST objects only
when someone reads them, so the sidecar without clients does next to nothing. Whether the
orchestrator is there comes from the DDS liveliness of its ~/status_updates (presence.py):
DDS's threads follow it, and the executor wakes only when it changes. An orchestrator that
predates that (the graph shows its writer's QoS) is followed the older way: it is there
while its messages, an empty update every period at least, keep coming (STALE_AFTER).
Writes are ROS service calls whose answers are handed back to the asyncio loop, with a
timeout.

Many calls at once: at most MAX_IN_FLIGHT calls are sent to the orchestrator at a time (the
fleet shares one budget); the others wait their turn here, unsent, instead of piling up in
DDS queues. The clients keep up to SERVICE_DEPTH answers queued (reliable): DDS drops what is
beyond a KEEP_LAST queue's depth, and rclpy's default depth of 10 lost calls from about 12
concurrent. The local robot's clients exist from the start; another robot's are made at its
first write (each client is one more entity every turn of the executor walks).

What a 504 means (a call is either answered or known not to have happened):
- a call still waiting for its turn after `timeout` s was never sent: it did not happen;
- the orchestrator applies a request only if its engine takes it up within its own call
  timeout (--call-timeout, 5 s by default) of the request's arrival; past that it answers
  'not applied' (ERR_TIMEOUT). That answer arrives well within our `timeout` (10 s by
  default; keep it above the orchestrator's), so a sent call gets a real answer unless the
  orchestrator process itself stalls, or dies, before it takes the request in.
"""

import asyncio
from collections.abc import Callable
import itertools
import logging
import threading
import time
from typing import Any

from omega_orchestrator_interfaces.msg import ServiceEvent, ServiceStatusArray
from omega_orchestrator_interfaces.srv import (
    GetLogs,
    GroupAction,
    ReloadRegistry,
    RestartService,
    SetMaintenance,
    StartService,
    StopService,
)

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:                   # Humble: the module had its older name
    from rclpy.qos_event import SubscriptionEventCallbacks  # type: ignore[no-redef]
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from omega_orchestrator.ros.presence import LEASE, offers_liveliness, updates_qos
from omega_orchestrator.sidecar.errors import (
    ERR_INTERNAL,
    ERR_TIMEOUT,
    ERR_UNREACHABLE,
    ERR_WRITES_REFUSED,
    GatewayError,
)
from omega_orchestrator.sidecar.fleet import summary
from omega_orchestrator.sidecar.protocol import Listener
from omega_orchestrator.sidecar.rest_objects import event_dict, service_dict, stamp_seconds

log = logging.getLogger('omega_orchestrator.sidecar')
STALE_AFTER = 5.0         # an older orchestrator: seconds without a message -> unreachable
_LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                      reliability=ReliabilityPolicy.RELIABLE)
_EVENTS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
VIEW_AGE = 1.0            # seconds a list of service objects is served again (uptimes move)
CLOCK_RESET = 30.0        # a whole status this much older than what we have: a clock reset
_NO_EVENTS = SubscriptionEventCallbacks(use_default_callbacks=False)
_CONTROL = {'start': StartService, 'stop': StopService, 'restart': RestartService}
_KINDS = {**_CONTROL, 'get_logs': GetLogs, 'reload': ReloadRegistry,
          'set_maintenance': SetMaintenance, 'group': GroupAction}
_WRITES = frozenset(_KINDS) - {'get_logs'}     # served by the control node (local_control)
CONTROL_GRACE = 10.0      # seconds a robot may be reachable before its control services are
DISCOVERY_WAIT = 5.0      # seconds a client made at a first write may take to find its server
MAX_IN_FLIGHT = 32        # calls sent to the orchestrators and not answered yet, at most
SERVICE_DEPTH = 1000
_SERVICES = QoSProfile(depth=SERVICE_DEPTH, history=HistoryPolicy.KEEP_LAST,
                       durability=DurabilityPolicy.VOLATILE,
                       reliability=ReliabilityPolicy.RELIABLE)


class RobotLink:
    """One orchestrator: subscriptions and clients on the sidecar's node (any thread may
    read; the ROS callbacks run on the executor thread).
    """

    def __init__(self, node: Node, orchestrator: str, name: str, *, timeout: float,
                 slots: Callable[[], asyncio.Semaphore], local: bool = False) -> None:
        """`orchestrator`: the node's full name; `slots`: the fleet's budget of calls in
        flight (made on the HTTP loop at first use); `local`: this machine's robot.
        """
        self.node, self.orchestrator, self.name = node, orchestrator, name
        self.timeout, self.local = timeout, local
        self._slots = slots
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] | None = None   # by name, in registry order
        self._view: tuple[dict, ...] | None = None       # REST objects, built on reading
        self._view_at = 0.0
        self._latest_at = 0.0     # when it was last known there (monotonic)
        self._seen_at: float | None = None               # the same, wall clock
        self._by_liveliness = True   # False: an older orchestrator, followed by its messages
        self._alive = False          # its liveliness holds (by_liveliness)
        self._period = 1.0        # older orchestrator: seen interval between status messages
        self._listeners: dict[int, Listener] = {}
        self._ids = itertools.count()
        self._clients: dict[str, Any] = {}
        self._created = time.monotonic()
        self._reachable_since: float | None = None   # since when its messages flow again
        self.control_seen = False   # its control services are on the graph (fleet discovery)
        self.conflict = False       # two orchestrators publish under its name (discovery)
        if local:
            for kind in _KINDS:
                self._client(kind)
        self._subscriptions = [
            node.create_subscription(ServiceStatusArray, f'{orchestrator}/status',
                                     self._on_status, _LATCHED, event_callbacks=self._events()),
            node.create_subscription(ServiceEvent, f'{orchestrator}/events', self._on_event,
                                     _EVENTS, event_callbacks=self._events())]
        self._updates = self._subscribe_updates()

    def _events(self) -> Any:
        """The QoS-event handlers of a subscription: rclpy adds two by default (a warning on
        an incompatible publisher), and the executor walks them at every wake: kept for the
        local robot, left out for the others (a third less CPU for a fleet of three).
        """
        return None if self.local else _NO_EVENTS

    def _subscribe_updates(self) -> Any:
        """~/status_updates, with the liveliness that tells whether the orchestrator is
        there (an older orchestrator: without, as its writer offers none).
        """
        if self._by_liveliness:
            qos = updates_qos()
            events = SubscriptionEventCallbacks(liveliness=self._on_liveliness,
                                                use_default_callbacks=False)
        else:
            qos, events = updates_qos(liveliness=False), self._events()
        return self.node.create_subscription(
            ServiceStatusArray, f'{self.orchestrator}/status_updates', self._on_updates, qos,
            event_callbacks=events)

    def follow_writer(self, offered: list[Any]) -> None:
        """On the executor thread, from the graph, while the robot is not reachable: the QoS
        its ~/status_updates writers offer. One that offers no liveliness is an older
        orchestrator, followed by its messages from then on; one that does, by liveliness.
        """
        if not offered:
            return
        by_liveliness = any(offers_liveliness(qos) for qos in offered)
        if by_liveliness == self._by_liveliness:
            return
        log.info('robot %s: following %s', self.name, 'its liveliness' if by_liveliness else
                 'the messages of an orchestrator that predates liveliness')
        self.node.destroy_subscription(self._updates)
        with self._lock:
            self._by_liveliness, self._alive = by_liveliness, False
            self._reachable_since = None
        self._updates = self._subscribe_updates()

    def _client(self, kind: str) -> Any:
        client = self._clients.get(kind)
        if client is None:
            client = self._clients[kind] = self.node.create_client(
                _KINDS[kind], f'{self.orchestrator}/{kind}', qos_profile=_SERVICES)
        return client

    def summary(self) -> dict:
        """What /api/robots says of this robot: reachable, last seen, its services counted."""
        now = time.monotonic()
        with self._lock:
            reachable = self._entries is not None and self._present()
            entries = list(self._entries.values()) if self._entries is not None else []
            seen = time.time() if self._by_liveliness and self._alive else self._seen_at
        return summary(self.name, self.orchestrator, local=self.local, reachable=reachable,
                       seen_at=seen, now=time.time(), services=(e.rest(now) for e in entries),
                       writable=self.writable() if reachable else None,
                       conflict=self.conflict)

    def writable(self) -> bool:
        """Its control services can be reached from here (a robot that refuses remote
        writes serves them to its own machine only).
        """
        start = self._clients.get('start')
        return self.control_seen or (start is not None and start.service_is_ready())

    def refusing(self) -> bool:
        """Another robot, reachable for CONTROL_GRACE s on end, whose control services this
        sidecar never saw: it refuses writes from here (not merely being discovered).
        """
        since = self._reachable_since
        return (not self.local and self.reachable() and not self.writable()
                and since is not None and time.monotonic() - since > CONTROL_GRACE)

    def silent_for(self) -> float:
        """Seconds since it was last known there (since it was first known, if never)."""
        if self._by_liveliness and self._alive:
            return 0.0
        return time.monotonic() - (self._latest_at or self._created)

    def close(self) -> None:
        """On the executor thread: forget this robot (its subscriptions and clients go)."""
        for subscription in (*self._subscriptions, self._updates):
            self.node.destroy_subscription(subscription)
        for client in self._clients.values():
            self.node.destroy_client(client)
        self._clients.clear()

    # -- reads ------------------------------------------------------------------------------------

    def services(self) -> tuple[dict, ...]:
        """Service objects from the cache (the same tuple while nothing changed, for at most
        VIEW_AGE s: uptimes move); 503 when the orchestrator is silent.
        """
        with self._lock:
            if self._entries is None or not self._present():
                raise GatewayError(ERR_UNREACHABLE, f'orchestrator {self.orchestrator} is '
                                                    'not there (no status, or its liveliness '
                                                    'lapsed)')
            now = time.monotonic()
            if self._view is None or now - self._view_at >= VIEW_AGE:
                self._view = tuple(e.rest(now) for e in self._entries.values())
                self._view_at = now
            return self._view

    def reachable(self) -> bool:
        """True once its whole status came, while its liveliness holds (an older
        orchestrator: while its messages keep coming).
        """
        with self._lock:
            return self._entries is not None and self._present()

    def _present(self) -> bool:
        """(Under the lock.) Its liveliness holds; an older orchestrator: its last message
        is recent, for the rate it publishes at.
        """
        if self._by_liveliness:
            return self._alive
        limit = max(STALE_AFTER, 3 * self._period)
        return time.monotonic() - self._latest_at < limit

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Register a status/transition listener; returns the function that removes it."""
        key = next(self._ids)
        with self._lock:
            self._listeners[key] = listener
        return lambda: self._listeners.pop(key, None)

    # -- writes -----------------------------------------------------------------------------------

    async def control(self, action: str, name: str, force: bool = False) -> tuple[str, dict]:
        """Start, stop or restart through the orchestrator's service."""
        fields: dict[str, Any] = {'name': name}
        if action == 'stop':
            fields['force'] = force
        response = await self._call(action, _CONTROL[action].Request(**fields))
        return response.message, service_dict(response.status)

    async def maintenance(self, name: str, enabled: bool) -> tuple[str, dict]:
        """Pause or resume one service's supervision."""
        response = await self._call('set_maintenance',
                                    SetMaintenance.Request(name=name, enabled=enabled))
        return response.message, service_dict(response.status)

    async def group(self, group: str, action: str) -> tuple[str, list[str]]:
        """Start, stop or restart a whole group -> (message, its services)."""
        response = await self._call('group', GroupAction.Request(group=group, action=action))
        return response.message, list(response.names)

    async def logs(self, name: str, lines: int) -> dict[str, list[str]]:
        """The last lines of both streams."""
        request = GetLogs.Request(name=name, stream='both', lines=lines)
        response = await self._call('get_logs', request)
        return {'stdout': list(response.stdout), 'stderr': list(response.stderr)}

    async def reload(self, path: str = '') -> dict:
        """Ask the orchestrator to re-read its registry (stops and starts may take a while)."""
        response = await self._call('reload', ReloadRegistry.Request(path=path),
                                    timeout=self.timeout * 6)
        return {'message': response.message, 'added': list(response.added),
                'removed': list(response.removed), 'changed': list(response.changed)}

    async def _call(self, kind: str, request: Any, timeout: float | None = None) -> Any:
        """Send one request when a slot is free; its answer, or a GatewayError."""
        limit = timeout or self.timeout
        client = self._client(kind)
        if not client.service_is_ready():
            control = kind in _WRITES
            if control and self.refusing():
                raise GatewayError(ERR_WRITES_REFUSED, f'robot {self.name} is reachable but its '
                                   f'{kind} service is not, from here: it refuses remote '
                                   'writes (--refuse-remote-writes)')
            if not await self._found(client, limit):
                raise GatewayError(ERR_UNREACHABLE, f'{self.orchestrator}/{kind} is not '
                                                    'available (yet)')
        slots = self._slots()
        try:
            await asyncio.wait_for(slots.acquire(), limit)
        except asyncio.TimeoutError:
            raise GatewayError(ERR_TIMEOUT, f'{kind} was not sent: the orchestrator is busy '
                                            f'with earlier calls for {limit:g} s') from None
        try:
            response = await self._send(client, kind, request, limit)
        finally:
            slots.release()
        if not getattr(response, 'success', True):
            status = getattr(response, 'status', None)
            raise GatewayError(response.error_code or ERR_INTERNAL, response.message,
                               service_dict(status) if status and status.name else None,
                               list(getattr(response, 'errors', [])))
        return response

    async def _found(self, client: Any, limit: float) -> bool:
        """A client not matched yet (another robot's first call, or a robot just back)
        finds its server within DISCOVERY_WAIT s, when the robot is there at all.
        """
        if not self.reachable():
            return False
        wait = min(limit, DISCOVERY_WAIT)
        return await asyncio.to_thread(client.wait_for_service, timeout_sec=wait)

    async def _send(self, client: Any, kind: str, request: Any, limit: float) -> Any:
        """One ROS call; its rclpy future is handed to this loop by the executor thread."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future = loop.create_future()
        future = client.call_async(request)
        future.add_done_callback(lambda done: _hand_over(loop, answer, done))
        try:
            return await asyncio.wait_for(answer, limit)
        except asyncio.TimeoutError:
            client.remove_pending_request(future)
            raise GatewayError(ERR_TIMEOUT, f'{kind} got no answer within {limit:g} s: the '
                                            'orchestrator did not take the request in') from None

    # -- ROS callbacks (executor thread) ---------------------------------------------------------

    def _on_status(self, msg: ServiceStatusArray) -> None:
        """Every service: the cache anew, but an entry an update made newer stays."""
        now, stamp = time.monotonic(), (stamp_seconds(msg.header.stamp) or 0.0)
        with self._lock:
            self._arrived(now)
            old = self._entries or {}
            if old and stamp < max(e.stamp for e in old.values()) - CLOCK_RESET:
                old = {}      # the orchestrator's clock went back (sim time reset): anew
            entries = {}
            for status in msg.services:
                kept = old.get(status.name)
                entries[status.name] = kept if kept is not None and kept.stamp > stamp \
                    else _Entry(status, stamp, now)
            self._entries, self._view = entries, None
            listening = bool(self._listeners)
        if listening:
            self._emit('status', {'services': [e.rest(now) for e in entries.values()]})

    def _on_updates(self, msg: ServiceStatusArray) -> None:
        """The services that changed (none: the orchestrator is there, nothing changed)."""
        now, stamp = time.monotonic(), (stamp_seconds(msg.header.stamp) or 0.0)
        changed = []
        with self._lock:
            self._arrived(now)
            if self._entries is None:
                return              # the whole status comes first (latched)
            for status in msg.services:
                kept = self._entries.get(status.name)
                # a new one comes with the whole status; one the whole status (taken from
                # the other topic first) already has newer is skipped
                if kept is not None and kept.stamp <= stamp:
                    entry = self._entries[status.name] = _Entry(status, stamp, now)
                    changed.append(entry)
            if changed:
                self._view = None
            listening = bool(self._listeners)
        if changed and listening:
            self._emit('status', {'services': [e.rest(now) for e in changed],
                                  'partial': True})

    def _arrived(self, now: float) -> None:
        """A status message arrived (under the lock): the orchestrator is there."""
        if not self._by_liveliness:
            if self._latest_at:
                self._period = 0.8 * self._period + 0.2 * (now - self._latest_at)
            if self._reachable_since is None or not self._present():
                self._reachable_since = now          # back (or here for the first time)
        self._latest_at = now
        self._seen_at = time.time()

    def _on_liveliness(self, info: Any) -> None:
        self.liveliness_changed(alive=info.alive_count > 0,
                                lapsed=info.not_alive_count_change > 0)

    def liveliness_changed(self, alive: bool, lapsed: bool = False) -> None:
        """DDS saw its liveliness change (executor thread). `lapsed`: gone because its
        lease ran out, so it was last there LEASE s ago (not: it left, a moment ago).
        """
        now, wall = time.monotonic(), time.time()
        with self._lock:
            if not self._by_liveliness:
                return
            if alive and not self._alive:
                self._reachable_since = now          # back (or here for the first time)
            if self._alive or alive:
                back = LEASE if lapsed and not alive else 0.0
                self._latest_at, self._seen_at = now - back, wall - back
            self._alive = alive

    def _on_event(self, msg: ServiceEvent) -> None:
        self._emit('transition', event_dict(msg))

    def _emit(self, kind: str, payload: dict) -> None:
        with self._lock:
            listeners = list(self._listeners.values())
        for listener in listeners:
            try:
                listener(kind, payload)
            except Exception:
                log.exception('a %s listener failed', kind)

class _Entry:
    """One service's last status message; its REST object is made on the first read."""

    __slots__ = ('msg', 'stamp', 'received', '_rest')

    def __init__(self, msg: Any, stamp: float, received: float) -> None:
        self.msg, self.stamp, self.received = msg, stamp, received
        self._rest: dict | None = None

    def rest(self, now: float) -> dict:
        """The REST object, its uptime moved on by the time since the message came."""
        if self._rest is None:
            self._rest = service_dict(self.msg)
        rest = self._rest
        if rest['status'] != 'running' or not rest['uptime_sec']:
            return rest
        return dict(rest, uptime_sec=round(rest['uptime_sec'] + now - self.received, 1))


def _hand_over(loop: asyncio.AbstractEventLoop, answer: asyncio.Future, done: Any) -> None:
    """On the executor thread: hand a finished rclpy future to the HTTP loop."""
    try:
        loop.call_soon_threadsafe(_settle, answer, done)
    except RuntimeError:
        pass      # the loop is closed: nobody waits any more


def _settle(answer: asyncio.Future, done: Any) -> None:
    if answer.done():
        return
    exc = done.exception()
    if exc is not None:
        answer.set_exception(GatewayError(ERR_INTERNAL, f'service call failed: {exc}'))
    else:
        answer.set_result(done.result())
