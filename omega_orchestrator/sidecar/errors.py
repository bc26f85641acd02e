"""Gateway errors and their HTTP statuses; codes are the control services' ERR_* constants."""

ERR_NOT_FOUND = 1
ERR_WRONG_STATE = 2
ERR_SPAWN_FAILED = 3
ERR_INVALID_ARGUMENT = 4
ERR_TIMEOUT = 5
ERR_INTERNAL = 6
ERR_REGISTRY_INVALID = 7
ERR_UNREACHABLE = 100     # sidecar-only: the orchestrator is not on the ROS graph

HTTP_STATUS = {
    ERR_NOT_FOUND: 404, ERR_WRONG_STATE: 409, ERR_SPAWN_FAILED: 502,
    ERR_INVALID_ARGUMENT: 422, ERR_TIMEOUT: 504, ERR_INTERNAL: 500,
    ERR_REGISTRY_INVALID: 422, ERR_UNREACHABLE: 503,
}
ERROR_NAMES = {
    ERR_NOT_FOUND: 'not_found', ERR_WRONG_STATE: 'wrong_state',
    ERR_SPAWN_FAILED: 'spawn_failed', ERR_INVALID_ARGUMENT: 'invalid_argument',
    ERR_TIMEOUT: 'timeout', ERR_INTERNAL: 'internal', ERR_REGISTRY_INVALID: 'registry_invalid',
    ERR_UNREACHABLE: 'orchestrator_unreachable',
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
