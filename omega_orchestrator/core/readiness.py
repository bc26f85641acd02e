"""When may a service's dependants start? (pure; the wave logic of start_all asks it)"""

from omega_orchestrator.core.states import PROCESS_STATES, ServiceState


def settled(state: ServiceState, *, oneshot: bool) -> bool:
    """Up (running; a oneshot: ended) or given up (failed, crashed, stopped): dependants
    may start. Starting, and a restart pending after a crash, are not settled. Waiting for a
    dependency's condition is settled: it starts by itself later, and holding back the
    next wave for it would hold back branches that do not depend on it.
    """
    if oneshot:
        return state not in PROCESS_STATES and state is not ServiceState.BACKOFF
    return state not in (ServiceState.STARTING, ServiceState.BACKOFF)
