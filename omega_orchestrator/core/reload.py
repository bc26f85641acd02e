"""What a reload changes: the diff between the running registry and a new one (pure).

Removed services are stopped and dropped; changed ones are stopped, replaced and started
again if they were up; added ones start if they autostart; the rest are not touched.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from omega_orchestrator.core.registry import ServiceSpec
from omega_orchestrator.core.states import ServiceState, STOPPED_STATES


@dataclass(frozen=True, kw_only=True)
class ReloadPlan:
    """The services a reload touches, each list in registry order."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    start_after: tuple[str, ...]      # added autostart ones, and changed ones that were up
    running_after: int                # services with a process once the reload is done

    @property
    def to_stop(self) -> tuple[str, ...]:
        """Removed and changed services: stopped (and swept) before anything else."""
        return self.removed + self.changed


def service_changes(old: Mapping[str, ServiceSpec], new: Mapping[str, ServiceSpec]
                    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(added, removed, changed) service names: added and changed in `new`'s order,
    removed in `old`'s.
    """
    added = tuple(n for n in new if n not in old)
    removed = tuple(n for n in old if n not in new)
    changed = tuple(n for n in new if n in old and old[n] != new[n])
    return added, removed, changed


def plan_reload(old: Mapping[str, ServiceSpec], states: Mapping[str, ServiceState],
                new: Mapping[str, ServiceSpec]) -> ReloadPlan:
    """The plan for going from `old` (with their current `states`) to `new`."""
    added, removed, changed = service_changes(old, new)
    was_up = {n for n in changed if states[n] not in STOPPED_STATES}
    start_after = tuple(n for n in new
                        if n in was_up or (n in added and new[n].autostart))
    untouched_up = sum(1 for n in old if n in new and n not in changed
                       and states[n] not in STOPPED_STATES)
    return ReloadPlan(added=added, removed=removed, changed=changed, start_after=start_after,
                      running_after=untouched_up + len(start_after))
