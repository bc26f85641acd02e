"""Every side of the comparison, in table order, and which of them can run here."""

from benchkit.circusd import CircusSupervisor
from benchkit.ros2launch import Ros2LaunchSupervisor
from benchkit.supervisors import (
    OmegaEngineSupervisor,
    OmegaSupervisor,
    Supervisor,
    SupervisordSupervisor,
)

SUPERVISORS: dict[str, type[Supervisor]] = {
    cls.label: cls
    for cls in (OmegaSupervisor, OmegaEngineSupervisor, SupervisordSupervisor,
                CircusSupervisor, Ros2LaunchSupervisor)
}
ORDER = list(SUPERVISORS)

#: How a side is named in the skip line ("ros2 launch: skipped (...)").
DISPLAY = {'ros2-launch': 'ros2 launch'}


def check_sides(sides: list[str]) -> dict[str, str]:
    """Side -> why it is skipped, for the ``sides`` that cannot run here (installs first)."""
    skipped: dict[str, str] = {}
    for side in sides:
        reason = SUPERVISORS[side]().unavailable()
        if reason is not None:
            skipped[side] = reason
    return skipped


def skip_line(side: str, reason: str) -> str:
    """The one line that says a side was skipped, and why."""
    return f'{DISPLAY.get(side, side)}: skipped ({reason})'
