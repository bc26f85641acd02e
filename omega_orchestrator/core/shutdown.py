"""How long a full stop can take, and whether a stop grace (launch, systemd) covers it.

Stopping everything goes wave by wave in reverse dependency order; the services of a wave
stop concurrently, each allowed its `stop_timeout` before SIGKILL. So the worst case is the
sum over the waves of the wave's largest timeout, plus a margin per wave for the SIGKILL and
the sweep of leftovers.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from omega_orchestrator.core.graph import stop_waves
from omega_orchestrator.core.registry import Registry

#: Seconds per wave for the SIGKILL after the timeout and the sweep of escaped processes.
KILL_MARGIN = 1.0


@dataclass(frozen=True, kw_only=True)
class WaveStop:
    """One stop wave: its services, the slowest of them and the wave's worst-case seconds."""

    services: tuple[str, ...]
    slowest: str
    timeout: float
    seconds: float


def stop_plan(deps: Mapping[str, Sequence[str]], timeouts: Mapping[str, float],
              margin: float = KILL_MARGIN) -> tuple[WaveStop, ...]:
    """The stop waves of every service (all may be running), each with its worst case."""
    plan = []
    for wave in stop_waves(deps):
        slowest = max(wave, key=lambda name: timeouts[name])
        plan.append(WaveStop(services=tuple(wave), slowest=slowest,
                             timeout=timeouts[slowest], seconds=timeouts[slowest] + margin))
    return tuple(plan)


def registry_stop_plan(registry: Registry, margin: float = KILL_MARGIN) -> tuple[WaveStop, ...]:
    """stop_plan() of a registry's services."""
    return stop_plan({s.name: s.depends_on for s in registry.services},
                     {s.name: s.stop.timeout for s in registry.services}, margin)


def worst_case(plan: Sequence[WaveStop]) -> float:
    """Seconds a full stop can take at most."""
    return sum(wave.seconds for wave in plan)


def grace_warning(plan: Sequence[WaveStop], grace: float) -> str | None:
    """A one-line warning when a full stop can outlast `grace` seconds, else None."""
    total = worst_case(plan)
    if total <= grace:
        return None
    margin = plan[0].seconds - plan[0].timeout
    waves = '; '.join(_describe(number, wave) for number, wave in enumerate(plan, 1))
    return (f'warning: stopping every service can take up to {total:g} s, more than the '
            f'stop grace of {grace:g} s: the orchestrator would be killed mid-shutdown. '
            f'Stop waves (slowest stop_timeout, +{margin:g} s each to kill and sweep): '
            f'{waves}. Raise the grace or lower stop_timeout.')


def _describe(number: int, wave: WaveStop) -> str:
    others = len(wave.services) - 1
    more = f' (+{others} more)' if others else ''
    return f'{number}. {wave.slowest} {wave.timeout:g} s{more}'
