"""Managed (lifecycle) ROS nodes, as the engine sees them: who drives them, and the task that
takes one service's node to a goal and reports back.

The engine has no rclpy: the ROS face hands it a LifecycleDriver (ros/lifecycle.py) once the
node is up, or says there will be none (--no-ros). A DriveLifecycle command of the machine
becomes a task here; its outcome returns to the machine as LifecycleReported.
"""

import asyncio
from collections.abc import Callable
from typing import Protocol

from omega_orchestrator.core import events as ev
from omega_orchestrator.runtime.unit import ServiceUnit

NO_ROS = ('managing a lifecycle node needs the ROS node, which is not running (--no-ros, or '
          'it did not come up)')


class LifecycleDriver(Protocol):
    """Drives managed ROS nodes (the ROS face provides one)."""

    async def drive(self, node: str, goal: str, timeout: float) -> tuple[bool, str, str]:
        """Take `node` to `goal` ('active' | 'finalized'): (ok, its state after, message)."""


class ManagedNodes:
    """The driver (once known) and the drives in progress."""

    def __init__(self) -> None:
        self._driver: LifecycleDriver | None = None
        self._known = asyncio.Event()    # the driver was given, or there is none

    def use(self, driver: LifecycleDriver | None) -> None:
        """Drive with `driver`; None: there is no ROS node, so drives fail at once."""
        self._driver = driver
        self._known.set()

    def drive(self, unit: ServiceUnit, goal: str,
              report: Callable[[ServiceUnit, ev.Event], None]) -> None:
        """Take the service's node to `goal` in a task (replacing one in progress); the
        outcome is reported as LifecycleReported for the current run's pid.
        """
        pid, node, timeout = unit.machine.view.pid, unit.spec.ros_node or '', \
            unit.spec.lifecycle_timeout
        assert pid is not None

        async def drive() -> None:
            try:       # the ROS face comes up after the first services are spawned
                await asyncio.wait_for(self._known.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            if self._driver is None:
                ok, state, message = False, 'unknown', NO_ROS
            else:
                ok, state, message = await self._driver.drive(node, goal, timeout)
            report(unit, ev.LifecycleReported(pid=pid, goal=goal, ok=ok, state=state,
                                              message=message))
        if unit.lifecycle_task is not None:
            unit.lifecycle_task.cancel()
        unit.lifecycle_task = asyncio.get_running_loop().create_task(drive())
