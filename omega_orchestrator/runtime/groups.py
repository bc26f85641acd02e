"""Acting on a registry group at once: start it in dependency order, stop it dependants first.

Works through the supervisor's public requests only; a stop (or a restart) waits for each
wave in a task of its own, so the call answers once accepted.
"""

import asyncio
from typing import TYPE_CHECKING

from omega_orchestrator.core.errors import (
    InvalidArgumentError,
    ServiceNotFoundError,
    WrongStateError,
)
from omega_orchestrator.core.graph import start_waves
from omega_orchestrator.core.states import PROCESS_STATES, ServiceState

if TYPE_CHECKING:
    from omega_orchestrator.runtime.supervisor import Supervisor

ACTIONS = ('start', 'stop', 'restart')


class Groups:
    """The groups of one supervisor's registry."""

    def __init__(self, supervisor: 'Supervisor') -> None:
        self._supervisor = supervisor
        self._tasks: set[asyncio.Task] = set()

    def members(self, group: str) -> list[str]:
        """The group's services in start order; ServiceNotFoundError if it has none."""
        specs = self._supervisor.registry.services
        members = [s.name for s in specs if s.group == group]
        if not members:
            raise ServiceNotFoundError(group, what='group')
        deps = {s.name: s.depends_on for s in specs}
        return [n for wave in start_waves(deps, members) for n in wave]

    def act(self, group: str, action: str) -> list[str]:
        """Start, stop or restart the group; returns its services once accepted."""
        if action not in ACTIONS:
            raise InvalidArgumentError(f"action must be start, stop or restart, not '{action}'")
        names = self.members(group)
        if self._supervisor.closing:
            raise WrongStateError('the orchestrator is shutting down')
        if action == 'start':
            self._start(names, group)
        else:
            task = asyncio.get_running_loop().create_task(
                self._stop(names, group, then_start=action == 'restart'))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return names

    def _start(self, names: list[str], group: str) -> None:
        supervisor = self._supervisor
        for name in names:
            if supervisor.status(name).state not in (*PROCESS_STATES, ServiceState.WAITING):
                supervisor.start_quietly(name, f'group {group} started')

    async def _stop(self, names: list[str], group: str, then_start: bool) -> None:
        await self._supervisor.stop_in_order(names, f'group {group} stopped')
        if then_start and not self._supervisor.closing:
            self._start(names, group)
