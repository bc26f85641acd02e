"""Dependency gates: each service's machine is told whether its conditioned dependencies hold.

core/dependencies.py decides; this module feeds its answer to the machines, as events:
DependenciesChanged when what a service waits for changes (a waiting one starts when it
becomes None), DependencyLost when a `restart_with` dependency goes down. It is told of
every change of a service by the supervisor, and refreshes the reasons of waiting services
once a second ("camera: unhealthy for 12 s") while any waits.
"""

from collections.abc import Callable

from omega_orchestrator.core import events as ev
from omega_orchestrator.core.dependencies import blocking, DependencyView, lost
from omega_orchestrator.core.machine import MachineView
from omega_orchestrator.core.states import ServiceState
from omega_orchestrator.runtime.clock import Clock, TimerHandle
from omega_orchestrator.runtime.unit import ServiceUnit

Apply = Callable[[ServiceUnit, ev.Event], None]
REFRESH_INTERVAL = 1.0


class DependencyGates:
    """The conditioned dependencies of one supervisor's services, kept current."""

    def __init__(self, apply: Apply, clock: Clock) -> None:
        self._apply = apply
        self._clock = clock
        self._units: dict[str, ServiceUnit] = {}
        self._dependants: dict[str, list[ServiceUnit]] = {}
        self._refresh_timer: TimerHandle | None = None

    def rebuild(self, units: dict[str, ServiceUnit]) -> None:
        """Take the services of a (new) registry and feed every gate once."""
        self._units = units
        self._dependants = {}
        for unit in units.values():
            for dep in unit.spec.dependencies:
                if dep.condition is not None and dep.name in units:
                    self._dependants.setdefault(dep.name, []).append(unit)
        for unit in units.values():
            self.refresh(unit)

    def refresh(self, unit: ServiceUnit) -> None:
        """Feed `unit` what it waits for now (before it is asked to start, and on changes)."""
        if not any(d.condition for d in unit.spec.dependencies):
            return
        reason = blocking(unit.spec.dependencies, self._views(unit), self._clock.monotonic())
        machine = unit.machine
        if reason != machine.blocking or machine.state is ServiceState.WAITING:
            self._apply(unit, ev.DependenciesChanged(blocking=reason))
        if machine.state is ServiceState.WAITING:
            self._keep_refreshing()

    def changed(self, unit: ServiceUnit, before: MachineView,
                moves: list[tuple[ServiceState, ServiceState]]) -> None:
        """`unit` was at `before`, made the transitions `moves` (a crash and an immediate
        restart are three) and is now at its machine's view: tell its dependants.
        """
        after = unit.machine.view
        if not moves and (after.health.healthy, after.health.checked) == \
                (before.health.healthy, before.health.checked):
            return
        for dependant in self._dependants.get(unit.spec.name, ()):
            for dep in dependant.spec.dependencies:
                went = next((to for source, to in moves if dep.name == unit.spec.name
                             and lost(dep, source, to)), None)
                if went is not None:
                    self._apply(dependant, ev.DependencyLost(
                        reason=f'{dep.name} went down ({went.value}; restart_with)'))
            self.refresh(dependant)

    def close(self) -> None:
        """Stop refreshing."""
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
            self._refresh_timer = None

    def _views(self, unit: ServiceUnit) -> dict[str, DependencyView]:
        views = {}
        for dep in unit.spec.dependencies:
            other = self._units.get(dep.name)
            if other is not None:
                view = other.machine.view
                views[dep.name] = DependencyView(
                    state=view.state, healthy=view.health.healthy, since=view.last_change_at,
                    health_message=view.health.message)
        return views

    def _keep_refreshing(self) -> None:
        if self._refresh_timer is None:
            self._refresh_timer = self._clock.call_later(REFRESH_INTERVAL, self._refresh_waiting)

    def _refresh_waiting(self) -> None:
        self._refresh_timer = None
        for unit in list(self._units.values()):
            if unit.machine.state is ServiceState.WAITING:
                self.refresh(unit)
