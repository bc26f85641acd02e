"""Driving managed (lifecycle) nodes with their standard services, for the engine.

After each start of a `lifecycle: true` service the engine asks for 'active' (configure,
then activate); before each stop, for 'finalized' (deactivate, then shutdown). Each step is
a call of `<node>/change_state`, checked with `<node>/get_state`, all within the service's
lifecycle_timeout. The calls are rclpy futures completed by the node's executor thread;
their results come back to the engine's loop with call_soon_threadsafe, so nothing here
blocks the loop or an executor thread.
"""

import asyncio

from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.client import Client
from rclpy.node import Node
from rclpy.task import Future

from omega_orchestrator.ros.calls import answer

#: The transition that leads from each primary state toward each goal.
TOWARD = {
    'active': {State.PRIMARY_STATE_UNCONFIGURED: Transition.TRANSITION_CONFIGURE,
               State.PRIMARY_STATE_INACTIVE: Transition.TRANSITION_ACTIVATE},
    'finalized': {State.PRIMARY_STATE_ACTIVE: Transition.TRANSITION_DEACTIVATE,
                  State.PRIMARY_STATE_INACTIVE: Transition.TRANSITION_INACTIVE_SHUTDOWN,
                  State.PRIMARY_STATE_UNCONFIGURED:
                      Transition.TRANSITION_UNCONFIGURED_SHUTDOWN},
}
GOAL_STATES = {'active': State.PRIMARY_STATE_ACTIVE,
               'finalized': State.PRIMARY_STATE_FINALIZED}
#: The primary state each transition ends in when it succeeds.
AFTER = {Transition.TRANSITION_CONFIGURE: State.PRIMARY_STATE_INACTIVE,
         Transition.TRANSITION_ACTIVATE: State.PRIMARY_STATE_ACTIVE,
         Transition.TRANSITION_DEACTIVATE: State.PRIMARY_STATE_INACTIVE,
         Transition.TRANSITION_INACTIVE_SHUTDOWN: State.PRIMARY_STATE_FINALIZED,
         Transition.TRANSITION_UNCONFIGURED_SHUTDOWN: State.PRIMARY_STATE_FINALIZED}
#: Seconds before an unanswered query is asked again (or a change's effect is looked for).
RETRY_AFTER = 1.0
TRANSITION_NAMES = {Transition.TRANSITION_CONFIGURE: 'configure',
                    Transition.TRANSITION_ACTIVATE: 'activate',
                    Transition.TRANSITION_DEACTIVATE: 'deactivate',
                    Transition.TRANSITION_INACTIVE_SHUTDOWN: 'shutdown',
                    Transition.TRANSITION_UNCONFIGURED_SHUTDOWN: 'shutdown'}


class RosLifecycleDriver:
    """The engine's LifecycleDriver over the orchestrator's own node."""

    def __init__(self, node: Node, loop: asyncio.AbstractEventLoop) -> None:
        self._node = node
        self._loop = loop
        self._clients: dict[str, tuple[Client, Client]] = {}

    async def drive(self, node: str, goal: str, timeout: float) -> tuple[bool, str, str]:
        """Take `node` to `goal`: (ok, the node's state afterwards, what happened)."""
        name = node if node.startswith('/') else '/' + node
        deadline = self._loop.time() + timeout
        get, change = self._clients_for(name)
        while not (get.service_is_ready() and change.service_is_ready()):
            if self._loop.time() > deadline:
                return False, 'unknown', f'{name}/change_state did not appear within ' \
                    f'{timeout:g} s (is it a lifecycle node?)'
            await asyncio.sleep(0.05)
        try:
            state = await self._state(get, deadline)
            done: list[str] = []
            while state.id != GOAL_STATES[goal]:
                transition = TOWARD[goal].get(state.id)
                if transition is None:
                    return False, state.label, f'{name} is {state.label}: cannot reach {goal}'
                step = TRANSITION_NAMES[transition]
                ok, state = await self._change(change, get, transition, deadline)
                if not ok:
                    return False, state.label, f'{step} of {name} failed ({state.label})'
                done.append(step)
        except TimeoutError:
            return False, 'unknown', f'{name} did not answer within {timeout:g} s'
        return True, state.label, ', '.join(done) + (' done' if done else 'already ' + goal)

    def _clients_for(self, name: str) -> tuple[Client, Client]:
        if name not in self._clients:
            self._clients[name] = (self._node.create_client(GetState, f'{name}/get_state'),
                                   self._node.create_client(ChangeState,
                                                            f'{name}/change_state'))
        return self._clients[name]

    async def _state(self, client: Client, deadline: float) -> State:
        """The node's state. A query, so asked again while unanswered: DDS may drop the
        first reply to a brand-new client (its reply path matches a moment later).
        """
        while True:
            answer = await self._call(client, GetState.Request(), deadline, RETRY_AFTER)
            if answer is not None:
                return answer.current_state

    async def _change(self, change: Client, get: Client, transition: int,
                      deadline: float) -> tuple[bool, State]:
        """One transition: (succeeded, the state after). Never sent twice: while its answer
        is missing (lost, or a long on_configure), the state says whether it happened.
        """
        future = change.call_async(ChangeState.Request(transition=Transition(id=transition)))
        expected = AFTER[transition]
        while True:
            answer = await self._wait(change, future, deadline, RETRY_AFTER, keep=True)
            if answer is not None:
                return bool(answer.success), await self._state(get, deadline)
            state = await self._state(get, deadline)
            if state.id == expected:       # done; its answer was lost
                change.remove_pending_request(future)
                return True, state

    async def _call(self, client: Client, request: object, deadline: float,
                    patience: float) -> object | None:
        """One call: its answer, or None when none came within `patience` s (the request is
        forgotten); TimeoutError at the deadline.
        """
        return await self._wait(client, client.call_async(request), deadline, patience)

    async def _wait(self, client: Client, future: Future, deadline: float, patience: float,
                    keep: bool = False) -> object | None:
        left = deadline - self._loop.time()
        if left <= 0:
            client.remove_pending_request(future)
            raise TimeoutError
        response = await answer(client, future, min(patience, left),
                                forget=not keep or patience >= left)
        if response is None and patience >= left:
            raise TimeoutError
        return response
