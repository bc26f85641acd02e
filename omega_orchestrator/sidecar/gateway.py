"""RosGateway: how the sidecar reaches the orchestrators of the DDS domain over ROS.

RosGateway owns an rclpy context, a node and an executor thread (like launch_ros's adapter),
and one RobotLink (robot_link.py) per orchestrator: the local robot's from the start, every
other one as the ROS graph shows it (a `.../status` topic of the orchestrator's status type),
without a list in config. A robot that goes silent stays known, unreachable, with the time it
was last seen; it comes back by itself when its liveliness (or its messages) does.
"""

import asyncio
import logging
import threading

import rclpy
from rclpy.executors import ExternalShutdownException, ShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from omega_orchestrator.robot_names import robot_name
from omega_orchestrator.sidecar.errors import ERR_ROBOT_NOT_FOUND, GatewayError
from omega_orchestrator.sidecar.robot_link import MAX_IN_FLIGHT, RobotLink

log = logging.getLogger('omega_orchestrator.sidecar')
STATUS_TYPE = 'omega_orchestrator_interfaces/msg/ServiceStatusArray'
DISCOVERY_PERIOD = 5.0    # seconds between looks at the ROS graph (the page polls as often)
FORGET_AFTER = 3600.0     # seconds a robot gone from the graph stays listed (unreachable)


class RosGateway:
    """The fleet over ROS 2: one node in its own context, spun in its own thread."""

    def __init__(self, orchestrator: str = 'omega_orchestrator', timeout: float = 10.0,
                 ros_args: list[str] | None = None, max_in_flight: int = MAX_IN_FLIGHT,
                 discover: bool = True) -> None:
        """`orchestrator`: the local robot's (relative: in the sidecar's namespace);
        `discover`: also find every other orchestrator on the domain.
        """
        self.timeout = timeout
        self._max_in_flight = max_in_flight
        self._slots: asyncio.Semaphore | None = None   # made on the HTTP loop at first use
        self.context = rclpy.Context()
        # the process's signals belong to the HTTP server, which shuts this down in order
        rclpy.init(args=ros_args, context=self.context,
                   signal_handler_options=SignalHandlerOptions.NO)
        # no parameter services: it has no parameters, and six services fewer make every
        # turn of the executor cheaper
        self.node = rclpy.create_node('omega_sidecar', context=self.context,
                                      start_parameter_services=False)
        # relative names resolve in the sidecar's namespace, like any ROS client's
        self.orchestrator = self.node.resolve_topic_name(orchestrator.rstrip('/') or '/')
        self.local = robot_name(self.orchestrator)
        self._lock = threading.Lock()
        self._links: dict[str, RobotLink] = {}
        self._shadowed: set[str] = set()     # orchestrators whose robot name was taken
        self._add(self.orchestrator, local=True)
        self.discover = discover
        self.node.create_timer(DISCOVERY_PERIOD, self._look_at_graph)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name='sidecar-ros', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while True:     # an error escaping a callback must not end every answer
            try:
                self.executor.spin()
                return
            except (ExternalShutdownException, ShutdownException, KeyboardInterrupt):
                return     # shutting down
            except Exception:
                log.exception('a ROS callback failed; the sidecar goes on')

    # -- the fleet --------------------------------------------------------------------------------

    def robot(self, name: str | None = None) -> RobotLink:
        """The robot called `name` (None: the local one); 404 when no such robot is known."""
        with self._lock:
            link = self._links.get(name or self.local)
            if link is None:
                raise GatewayError(ERR_ROBOT_NOT_FOUND, f"no robot named '{name}' (known: "
                                                        f"{', '.join(sorted(self._links))})")
            return link

    def robots(self) -> list[dict]:
        """Every robot known, by name: reachable or not, last seen, its services counted."""
        with self._lock:
            links = sorted(self._links.values(), key=lambda link: link.name)
        return [link.summary() for link in links]

    def _slots_for_calls(self) -> asyncio.Semaphore:
        if self._slots is None:        # on the HTTP loop, at the first call
            self._slots = asyncio.Semaphore(self._max_in_flight)
        return self._slots

    def _add(self, orchestrator: str, local: bool = False) -> None:
        name = robot_name(orchestrator)
        with self._lock:
            known = self._links.get(name)
            if known is not None:
                if known.orchestrator != orchestrator and orchestrator not in self._shadowed:
                    self._shadowed.add(orchestrator)         # said once, not every look
                    log.warning('two orchestrators name the robot %s: %s and %s; showing the '
                                'first', name, known.orchestrator, orchestrator)
                return
        link = RobotLink(self.node, orchestrator, name, timeout=self.timeout,
                         slots=self._slots_for_calls, local=local)
        with self._lock:
            self._links[name] = link
        if not local:
            log.info('found robot %s (%s)', name, orchestrator)

    def _look_at_graph(self) -> None:
        """On the executor thread: every orchestrator the graph shows that is not known yet
        (when discovering); whose control services this sidecar can see; how to follow one
        that is not reachable (robot_link.follow_writer); which name two orchestrators share;
        and which robot, gone from the graph, has been silent for FORGET_AFTER s.
        """
        with self._lock:
            known = {link.orchestrator for link in self._links.values()}
        on_graph = set()
        for topic, types in self.node.get_topic_names_and_types() if self.discover else ():
            if topic.endswith('/status') and STATUS_TYPE in types:
                orchestrator = topic[:-len('/status')] or '/'
                on_graph.add(orchestrator)
                if orchestrator not in known:
                    self._add(orchestrator)
        with self._lock:
            links = list(self._links.values())
        for link in links:
            if not link.reachable():
                link.follow_writer([info.qos_profile for info in
                                    self.node.get_publishers_info_by_topic(
                                        f'{link.orchestrator}/status_updates')])
            link.control_seen = self._serves(f'{link.orchestrator}/start')
            conflict = self.node.count_publishers(f'{link.orchestrator}/status') > 1
            if conflict and not link.conflict:
                log.warning('more than one orchestrator publishes as %s (robot %s): host names '
                            'cloned from one image? Give each its own --namespace (a run '
                            "killed a moment ago can also linger for DDS's 20 s lease)",
                            link.orchestrator, link.name)
            link.conflict = conflict
            if self.discover and not link.local and link.orchestrator not in on_graph and \
                    link.silent_for() > FORGET_AFTER:
                log.info('forgetting robot %s: gone from the graph, silent for %.0f s',
                         link.name, link.silent_for())
                with self._lock:
                    self._links.pop(link.name, None)
                link.close()

    def _serves(self, service: str) -> bool:
        """Some node on the graph (seen from here) serves `service`."""
        count = getattr(self.node, 'count_services', None)      # Jazzy and later
        if count is not None:
            return count(service) > 0
        return any(name == service for name, _ in self.node.get_service_names_and_types())

    def close(self) -> None:
        """Stop the executor thread and release the node and context."""
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=2.0)


