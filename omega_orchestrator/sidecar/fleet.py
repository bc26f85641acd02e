"""What the sidecar says of a robot in /api/robots, and a fleet of one robot.

`summary` is the one place a robot's entry is made (RosGateway's robots and OneRobot's);
`OneRobot` makes any single OrchestratorGateway a Fleet (the route tests' fake gateway).
"""

from collections.abc import Iterable
from datetime import datetime, timezone
import time

from omega_orchestrator.sidecar.errors import ERR_ROBOT_NOT_FOUND, GatewayError
from omega_orchestrator.sidecar.protocol import OrchestratorGateway


def count_services(services: Iterable[dict]) -> dict[str, int]:
    """How many services there are, run, run unhealthy, failed (crashed or failed) and are
    stopped (stopped or exited); the others are on their way (starting, backoff, ...).
    """
    counts = {'total': 0, 'running': 0, 'unhealthy': 0, 'failed': 0, 'stopped': 0}
    for service in services:
        counts['total'] += 1
        state = service['status']
        if state == 'running':
            counts['running'] += 1
            health = service.get('health')
            if health is not None and not health['healthy']:
                counts['unhealthy'] += 1
        elif state in ('crashed', 'failed'):
            counts['failed'] += 1
        elif state in ('stopped', 'exited'):
            counts['stopped'] += 1
    return counts


def summary(name: str, orchestrator: str, *, local: bool, reachable: bool,
            seen_at: float | None, now: float, services: Iterable[dict],
            writable: bool | None = True, conflict: bool = False) -> dict:
    """One robot's entry in /api/robots. `seen_at`: the wall-clock time its last message
    came (None: never); `now`: the wall clock now; `writable`: None while it is unreachable
    (nobody can tell); `conflict`: more than one orchestrator publishes under its name.
    """
    return {
        'name': name, 'orchestrator': orchestrator, 'local': local, 'reachable': reachable,
        'last_seen': None if seen_at is None else
        datetime.fromtimestamp(seen_at, timezone.utc).isoformat(timespec='milliseconds'),
        'seen_ago_sec': None if seen_at is None else round(max(now - seen_at, 0.0), 1),
        'writable': writable, 'conflict': conflict, 'services': count_services(services)}


class OneRobot:
    """A fleet of one: the given gateway, as the robot `name`."""

    def __init__(self, gateway: OrchestratorGateway, name: str = 'local') -> None:
        self.gateway, self.local = gateway, name

    def robot(self, name: str | None = None) -> OrchestratorGateway:
        if name not in (None, '', self.local):
            raise GatewayError(ERR_ROBOT_NOT_FOUND,
                               f"no robot named '{name}' (known: {self.local})")
        return self.gateway

    def robots(self) -> list[dict]:
        reachable = self.gateway.reachable()
        services = self.gateway.services() if reachable else ()
        now = time.time()
        return [summary(self.local, self.local, local=True, reachable=reachable,
                        seen_at=now if reachable else None, now=now, services=services,
                        writable=True if reachable else None)]
