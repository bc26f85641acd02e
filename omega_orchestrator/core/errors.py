"""One exception hierarchy with stable error codes, mirrored by the srv constants and HTTP."""

from enum import IntEnum


class ErrorCode(IntEnum):
    """Stable codes: the same numbers are the ERR_* constants of the control services."""

    NONE = 0
    NOT_FOUND = 1
    WRONG_STATE = 2
    SPAWN_FAILED = 3
    INVALID_ARGUMENT = 4
    TIMEOUT = 5
    INTERNAL = 6
    REGISTRY_INVALID = 7


class OrchestratorError(Exception):
    """Base of every error the orchestrator reports to a client."""

    code: ErrorCode = ErrorCode.INTERNAL


class ServiceNotFoundError(OrchestratorError):
    """The named service is not in the registry."""

    code = ErrorCode.NOT_FOUND

    def __init__(self, name: str, what: str = 'service') -> None:
        super().__init__(f"no service named '{name}'" if what == 'service' else
                         f"no service in {what} '{name}'")
        self.name = name


class WrongStateError(OrchestratorError):
    """The request makes no sense in the service's current state; `status` is that state."""

    code = ErrorCode.WRONG_STATE

    def __init__(self, message: str, status: object = None) -> None:
        super().__init__(message)
        self.status = status


class SpawnFailedError(OrchestratorError):
    """The service's command could not be started; `status` is the service afterwards."""

    code = ErrorCode.SPAWN_FAILED

    def __init__(self, message: str, status: object = None) -> None:
        super().__init__(message)
        self.status = status


class InvalidArgumentError(OrchestratorError):
    """A request carried a bad parameter."""

    code = ErrorCode.INVALID_ARGUMENT


class RequestTimeoutError(OrchestratorError):
    """The engine did not answer in time."""

    code = ErrorCode.TIMEOUT


class RegistryError(OrchestratorError):
    """The registry file is invalid; carries every problem found, each naming its place."""

    code = ErrorCode.REGISTRY_INVALID

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = list(problems)
        listing = '\n'.join(f'  - {p}' for p in self.problems)
        super().__init__(f'{path}: {len(self.problems)} error(s) in the registry:\n{listing}')
