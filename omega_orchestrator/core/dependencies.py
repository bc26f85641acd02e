"""Dependency conditions: may a service start now, and if not, what is it waiting for? (pure)

A dependency given as a plain name only orders the start (start_all starts it first and
waits until it is up or has given up, at most the wave timeout): the original's meaning.
A dependency with a `condition` gates every start of the dependant, by an operator, by
autostart or by a restart after a crash: the dependant waits in `waiting`, with the reason,
and starts by itself once every condition holds.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from omega_orchestrator.core.states import ServiceState


@dataclass(frozen=True, kw_only=True)
class DependencySpec:
    """One entry of depends_on."""

    name: str
    condition: str | None = None     # None: a plain name (order only); else a gate
    restart_with: bool = False       # stop with it, start again once it is back (BindsTo)


@dataclass(frozen=True, kw_only=True)
class DependencyView:
    """What the gate needs to know of a dependency now (times are monotonic seconds)."""

    state: ServiceState
    healthy: bool = False
    since: float | None = None       # when it entered its state (last_change_at)
    health_message: str = ''


def condition_met(condition: str, view: DependencyView) -> bool:
    """Whether a dependency in `view` meets `condition`."""
    if condition == 'completed':
        return view.state is ServiceState.EXITED
    if condition == 'healthy':
        return view.state is ServiceState.RUNNING and view.healthy
    return view.state in (ServiceState.RUNNING, ServiceState.EXITED)     # started


def blocking(dependencies: tuple[DependencySpec, ...], views: Mapping[str, DependencyView],
             now: float) -> str | None:
    """The reason the first unmet condition gives ("camera: unhealthy for 12 s"), or None
    when every condition holds (plain names never block).
    """
    for dep in dependencies:
        view = views.get(dep.name)
        if dep.condition is None or view is None or condition_met(dep.condition, view):
            continue
        return f'{dep.name}{_expected(dep.condition)}: {_describe(dep.condition, view, now)}'
    return None


def lost(dependency: DependencySpec, before: ServiceState, after: ServiceState) -> bool:
    """Whether a restart_with dependency just went down (it was running and is not)."""
    return dependency.restart_with and before is ServiceState.RUNNING and \
        after is not ServiceState.RUNNING


def _expected(condition: str) -> str:
    return {'completed': ' to complete', 'healthy': ' to be healthy'}.get(condition, '')


def _describe(condition: str, view: DependencyView, now: float) -> str:
    state = view.state
    if state is ServiceState.RUNNING and condition == 'healthy':
        what = 'unhealthy' if view.health_message else 'not checked yet'
    elif state is ServiceState.RUNNING:
        what = 'still running'
    else:
        what = state.value
    if view.since is not None:
        what += f' for {max(now - view.since, 0.0):.0f} s'
    if state is ServiceState.RUNNING and view.health_message:
        what += f' ({view.health_message})'
    return what
