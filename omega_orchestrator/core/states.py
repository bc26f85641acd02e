"""The service lifecycle states and the named groups the rest of the code asks about."""

from enum import Enum


class ServiceState(str, Enum):
    """Where one service is in its lifecycle; the seed's vocabulary plus what policies need."""

    STOPPED = 'stopped'      # not running, by an operator's choice or never started
    STARTING = 'starting'    # accepted a start; the process is being spawned
    RUNNING = 'running'      # the process is alive
    STOPPING = 'stopping'    # a stop signal was sent; waiting for the process to exit
    CRASHED = 'crashed'      # died unexpectedly and the policy does not restart it
    BACKOFF = 'backoff'      # died; a restart is scheduled after a delay
    COOLDOWN = 'cooldown'    # crashed too often in the window; retried when the cooldown ends
    FAILED = 'failed'        # could not be spawned, or ran out of retries; waits for an operator
    EXITED = 'exited'        # ended on its own with success (a oneshot's normal end)
    WAITING = 'waiting'      # a start waits for a dependency's condition; starts when it holds


#: States in which a process of the service may be alive.
PROCESS_STATES = frozenset({ServiceState.STARTING, ServiceState.RUNNING, ServiceState.STOPPING})
#: States with no process and no pending restart: only an operator moves the service on.
STOPPED_STATES = frozenset({
    ServiceState.STOPPED, ServiceState.CRASHED, ServiceState.FAILED, ServiceState.EXITED})
#: States with no process that will start it again by themselves (a timer, a dependency).
WAITING_STATES = frozenset({ServiceState.BACKOFF, ServiceState.COOLDOWN, ServiceState.WAITING})
#: States that signal trouble to an operator.
ERROR_STATES = frozenset({ServiceState.CRASHED, ServiceState.FAILED})
