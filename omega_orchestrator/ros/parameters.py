"""The orchestrator node's parameters: what each one means, its constraints, and who wins.

`registry` and `log_dir` are read-only and always show what the engine really uses: the
command line (`--registry`, `--log-dir`) decides them before the node exists, because the
services start before ROS is up. An override (`-p registry:=...` or a params file) cannot
take effect, so it is refused loudly at start-up instead of being shown and ignored.
`status_rate` is live: a change (an integer or a double, inside its range) takes effect at
once, and `ros2 param describe` shows the range.
"""

from collections.abc import Callable
import logging
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

log = logging.getLogger('omega_orchestrator')

STATUS_RATE_MIN = 0.01
STATUS_RATE_MAX = 100.0
READ_ONLY = {
    'registry': 'The service registry file in use (set with --registry; reload a new path '
                'with ~/reload).',
    'log_dir': 'Where service logs and services.log go (set with --log-dir).',
}


def _rate_descriptor() -> ParameterDescriptor:
    return ParameterDescriptor(
        type=ParameterType.PARAMETER_DOUBLE,
        description='Periodic ~/status and /diagnostics publications per second '
                    '(an integer is accepted); a change takes effect at once.',
        floating_point_range=[FloatingPointRange(from_value=STATUS_RATE_MIN,
                                                 to_value=STATUS_RATE_MAX, step=0.0)])


def _as_rate(value: Any) -> float | None:
    """A valid status rate from an int or float, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    rate = float(value)
    return rate if STATUS_RATE_MIN <= rate <= STATUS_RATE_MAX else None


class NodeParameters:
    """Declares the parameters on `node` and keeps the read-only ones true."""

    def __init__(self, node: Node, *, registry: str, log_dir: str, status_rate: float,
                 on_rate_change: Callable[[float], None] | None = None) -> None:
        self.node = node
        self._on_rate_change = on_rate_change
        overrides = dict(getattr(node, '_parameter_overrides', {}))
        for name, value in (('registry', registry), ('log_dir', log_dir)):
            node.declare_parameter(name, value, ParameterDescriptor(
                description=READ_ONLY[name], read_only=True), ignore_override=True)
            given = overrides.get(name)
            if given is not None and given.value != value:
                log.error("parameter '%s' is read-only: it is set by --%s (%s); the override "
                          "%r is ignored", name, name.replace('_', '-'), value, given.value)
        rate = _as_rate(status_rate) or 1.0
        given = overrides.get('status_rate')
        if given is not None:
            if _as_rate(given.value) is None:
                log.error("parameter 'status_rate': %r is not a number from %g to %g; "
                          'keeping %g', given.value, STATUS_RATE_MIN, STATUS_RATE_MAX, rate)
            else:
                rate = _as_rate(given.value) or rate
        node.declare_parameter('status_rate', rate, _rate_descriptor(), ignore_override=True)
        node.add_pre_set_parameters_callback(self._coerce)
        node.add_post_set_parameters_callback(self._changed)

    @property
    def status_rate(self) -> float:
        """Periodic status publications per second."""
        return float(self.node.get_parameter('status_rate').value)

    def set_registry(self, path: str) -> None:
        """The engine now runs another registry file (after a reload with a path)."""
        param = Parameter('registry', Parameter.Type.STRING, path)
        # read-only for clients, but it must follow the engine: update the node's own copy
        self.node._parameters['registry'] = param

    @staticmethod
    def _coerce(parameters: list[Parameter]) -> list[Parameter]:
        """`ros2 param set ... status_rate 2` sends an integer: take it as 2.0."""
        out = []
        for param in parameters:
            if param.name == 'status_rate' and param.type_ == Parameter.Type.INTEGER:
                param = Parameter('status_rate', Parameter.Type.DOUBLE, float(param.value))
            out.append(param)
        return out

    def _changed(self, parameters: list[Parameter]) -> None:
        for param in parameters:
            if param.name == 'status_rate' and self._on_rate_change is not None:
                self._on_rate_change(float(param.value))
