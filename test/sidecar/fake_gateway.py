"""An in-memory OrchestratorGateway for route tests: the routes are under test, not this."""

from collections.abc import Callable

from builtin_interfaces.msg import Time
from omega_orchestrator_interfaces.msg import ServiceStatus

from omega_orchestrator.sidecar.errors import (
    ERR_NOT_FOUND,
    ERR_UNREACHABLE,
    ERR_WRONG_STATE,
    GatewayError,
)
from omega_orchestrator.sidecar.rest_objects import service_dict


def service(name: str, status: str = 'running', pid: int | None = 100,
            check: bool = True) -> dict:
    """A REST service object made by the real conversion from a real status message."""
    msg = ServiceStatus(
        name=name, display_name=name.title(), type='python', state_name=status,
        pid=pid or 0, restart_policy='always', autostart=True, cpu_percent=1.5,
        memory_bytes=12582912, threads=3, uptime_sec=5.0, restart_count=1,
        has_health_check=check, health_checked=check, healthy=True, health_message='ok',
        health_checked_at=Time(sec=1_700_000_000), start_time=Time(sec=1_699_999_995))
    return service_dict(msg)


class FakeGateway:
    """Holds services in a dict; start/stop flip their status."""

    def __init__(self, *names: str) -> None:
        self.items = {n: service(n) for n in names}
        self.up = True
        self.calls: list[tuple] = []
        self.listeners: list[Callable[[str, dict], None]] = []

    def services(self) -> list[dict]:
        if not self.up:
            raise GatewayError(ERR_UNREACHABLE, 'orchestrator is not publishing its status')
        return list(self.items.values())

    def reachable(self) -> bool:
        return self.up

    def _get(self, name: str) -> dict:
        if name not in self.items:
            raise GatewayError(ERR_NOT_FOUND, f"no service named '{name}'")
        return self.items[name]

    async def control(self, action: str, name: str, force: bool = False) -> tuple[str, dict]:
        self.calls.append((action, name, force))
        item = self._get(name)
        if action == 'start' and item['status'] == 'running':
            raise GatewayError(ERR_WRONG_STATE, f"'{name}' is already running", item)
        item['status'] = 'stopping' if action == 'stop' else 'running'
        return f"'{name}' is {item['status']}", item

    async def maintenance(self, name: str, enabled: bool) -> tuple[str, dict]:
        self.calls.append(('maintenance', name, enabled))
        item = self._get(name)
        item['maintenance'] = enabled
        return f"'{name}' is {'in maintenance' if enabled else 'supervised'}", item

    async def group(self, group: str, action: str) -> tuple[str, list[str]]:
        self.calls.append(('group', group, action))
        names = [n for n, s in self.items.items() if s.get('group') == group]
        if not names:
            raise GatewayError(ERR_NOT_FOUND, f"no service in group '{group}'")
        return f"group '{group}': {action} accepted", names

    async def logs(self, name: str, lines: int) -> dict[str, list[str]]:
        self.calls.append(('logs', name, lines))
        self._get(name)
        return {'stdout': [f'line {i}' for i in range(lines)][-3:], 'stderr': []}

    async def reload(self, path: str = '') -> dict:
        return {'message': 'reloaded', 'added': [], 'removed': [], 'changed': []}

    def add_listener(self, listener: Callable[[str, dict], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


class FakeFleet:
    """Robots by name, each a FakeGateway; 'alpha' is the local one."""

    def __init__(self, **robots: FakeGateway) -> None:
        self.gateways = robots
        self.local = 'alpha'

    def robot(self, name: str | None = None) -> FakeGateway:
        from omega_orchestrator.sidecar.errors import ERR_ROBOT_NOT_FOUND
        if (name or self.local) not in self.gateways:
            raise GatewayError(ERR_ROBOT_NOT_FOUND, f"no robot named '{name}'")
        return self.gateways[name or self.local]

    def robots(self) -> list[dict]:
        from omega_orchestrator.sidecar.fleet import summary
        return [summary(name, f'/{name}/omega_orchestrator', local=name == self.local,
                        reachable=gateway.up, seen_at=1_700_000_000.0, now=1_700_000_002.5,
                        services=gateway.items.values())
                for name, gateway in sorted(self.gateways.items())]
