"""EventRelay: holds the transitions that happen before their consumer (the ROS face) is up.

Services start before the ROS node (rclpy takes a few hundred ms); the face replays what it
missed, then gets every new transition as it happens.
"""

from collections.abc import Callable

from omega_orchestrator.runtime.status import TransitionEvent

Consumer = Callable[[TransitionEvent], None]


class EventRelay:
    """Keeps transitions until a consumer is attached, then hands it those and every new one."""

    def __init__(self) -> None:
        self.early: list[TransitionEvent] = []
        self.target: Consumer | None = None

    def __call__(self, event: TransitionEvent) -> None:
        if self.target is None:
            self.early.append(event)
        else:
            self.target(event)

    def connect(self, target: Consumer) -> None:
        """Replay what was kept, then forward."""
        for event in self.early:
            target(event)
        self.early.clear()
        self.target = target
