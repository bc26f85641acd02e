"""Gateway errors and their HTTP statuses; codes are the control services' ERR_* constants,
read from the interface itself (one source: the .srv files).
"""

from omega_orchestrator_interfaces.srv import StartService

_CODES = StartService.Response
ERR_NOT_FOUND = _CODES.ERR_NOT_FOUND
ERR_WRONG_STATE = _CODES.ERR_WRONG_STATE
ERR_SPAWN_FAILED = _CODES.ERR_SPAWN_FAILED
ERR_INVALID_ARGUMENT = _CODES.ERR_INVALID_ARGUMENT
ERR_TIMEOUT = _CODES.ERR_TIMEOUT
ERR_INTERNAL = _CODES.ERR_INTERNAL
ERR_REGISTRY_INVALID = _CODES.ERR_REGISTRY_INVALID
ERR_UNREACHABLE = 100     # sidecar-only: the orchestrator is not on the ROS graph
ERR_ROBOT_NOT_FOUND = 101  # sidecar-only: no orchestrator of that robot name is known
ERR_WRITES_REFUSED = 102   # sidecar-only: the robot is there, its control services are not

HTTP_STATUS = {
    ERR_NOT_FOUND: 404, ERR_WRONG_STATE: 409, ERR_SPAWN_FAILED: 502,
    ERR_INVALID_ARGUMENT: 422, ERR_TIMEOUT: 504, ERR_INTERNAL: 500,
    ERR_REGISTRY_INVALID: 422, ERR_UNREACHABLE: 503, ERR_ROBOT_NOT_FOUND: 404,
    ERR_WRITES_REFUSED: 403,
}
ERROR_NAMES = {
    ERR_NOT_FOUND: 'not_found', ERR_WRONG_STATE: 'wrong_state',
    ERR_SPAWN_FAILED: 'spawn_failed', ERR_INVALID_ARGUMENT: 'invalid_argument',
    ERR_TIMEOUT: 'timeout', ERR_INTERNAL: 'internal', ERR_REGISTRY_INVALID: 'registry_invalid',
    ERR_UNREACHABLE: 'orchestrator_unreachable', ERR_ROBOT_NOT_FOUND: 'robot_not_found',
    ERR_WRITES_REFUSED: 'remote_writes_refused',
}


class GatewayError(Exception):
    """A request the orchestrator refused or could not answer."""

    def __init__(self, code: int, message: str, service: dict | None = None,
                 details: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.service = service
        self.details = details or []

    @property
    def http_status(self) -> int:
        """The HTTP status this error maps to."""
        return HTTP_STATUS.get(self.code, 500)

    @property
    def name(self) -> str:
        """A stable machine-readable name of the error."""
        return ERROR_NAMES.get(self.code, 'internal')
