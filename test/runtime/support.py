"""Helpers of the runtime tests (the generic ones are in test/support.py)."""

from omega_orchestrator.core.states import ServiceState
from omega_orchestrator.runtime.supervisor import Supervisor

DEADLINE = 20.0


async def wait_state(supervisor: Supervisor, name: str, *states: ServiceState,
                     timeout: float = DEADLINE) -> None:
    """Wait until the service is in one of `states` (re-checked on every change)."""
    await supervisor.wait_for(lambda: supervisor.status(name).state in states, timeout)
