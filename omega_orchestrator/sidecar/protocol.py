"""OrchestratorGateway: what the HTTP routes need from one orchestrator, whatever the
transport; Fleet: every orchestrator the sidecar knows, by robot name. The routes, the app
and the route tests import this module, never rclpy: RosGateway (gateway.py) is the ROS
fleet and RobotLink (robot_link.py) its gateway to one robot; test/sidecar/fake_gateway.py is
a fake gateway, made a fleet of one by fleet.OneRobot.
"""

from collections.abc import Callable, Sequence
from typing import Protocol

# (kind: 'status' | 'transition', payload); a status payload is {'services': [...]}, with
# 'partial': True when it holds only the services that changed
Listener = Callable[[str, dict], None]


class OrchestratorGateway(Protocol):
    """What the routes need from the orchestrator, whatever the transport."""

    def services(self) -> Sequence[dict]:
        """The latest service objects (read-only: the same sequence may be handed out again);
        raises GatewayError(ERR_UNREACHABLE) when unknown.
        """

    def reachable(self) -> bool:
        """True while the orchestrator's status is fresh."""

    async def control(self, action: str, name: str, force: bool = False) -> tuple[str, dict]:
        """'start' | 'stop' | 'restart' one service -> (message, service object)."""

    async def maintenance(self, name: str, enabled: bool) -> tuple[str, dict]:
        """Pause (enabled) or resume one service's supervision -> (message, service)."""

    async def group(self, group: str, action: str) -> tuple[str, list[str]]:
        """'start' | 'stop' | 'restart' a registry group -> (message, its services)."""

    async def logs(self, name: str, lines: int) -> dict[str, list[str]]:
        """The last lines of stdout and stderr."""

    async def reload(self, path: str = '') -> dict:
        """Re-read the registry -> {'added': [...], 'removed': [...], 'changed': [...]}."""

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call listener on every status or transition (any thread); returns a remover."""


class Fleet(Protocol):
    """Every orchestrator the sidecar knows, each a robot with a name."""

    local: str
    """The robot a request without `robot=` is about (this machine's)."""

    def robot(self, name: str | None = None) -> OrchestratorGateway:
        """The robot called name (None: the local one); GatewayError(ERR_ROBOT_NOT_FOUND)
        when none is known by that name.
        """

    def robots(self) -> list[dict]:
        """Every robot known, by name (see fleet.summary for the fields)."""
