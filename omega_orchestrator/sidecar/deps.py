"""FastAPI dependencies: the gateway, the bearer-token guard, and their Annotated aliases."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from omega_orchestrator.sidecar.protocol import OrchestratorGateway
from omega_orchestrator.sidecar.security import token_matches

#: The bearer scheme in the OpenAPI document. It never refuses anything itself
#: (auto_error=False): require_token decides, from the raw header.
bearer = HTTPBearer(scheme_name='bearer', auto_error=False,
                    description='The token in the environment variable named by the '
                                "sidecar's --token-env (default OMEGA_API_TOKEN); changes "
                                'need it when the sidecar has one.')


def get_gateway(request: Request) -> OrchestratorGateway:
    """The gateway given to create_app."""
    return request.app.state.gateway


def unauthorized(to: str) -> HTTPException:
    """The 401 for a request without the token; `to` says what it is needed for."""
    return HTTPException(status_code=401, detail='a valid "Authorization: Bearer <token>" '
                                                 f'header is required to {to}',
                         headers={'WWW-Authenticate': 'Bearer'})


def require_token(request: Request,
                  _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> None:
    """401 unless the request carries the configured token (no token configured: open)."""
    settings = request.app.state.settings
    if settings.open_writes_for_origins and \
            request.headers.get('origin') in settings.cors_origins:
        return      # the operator opened writes to these pages (and was warned)
    token = settings.token
    if token and not token_matches(request.headers.get('authorization'), token):
        raise unauthorized('change services')


def require_token_for_logs(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> None:
    """With --token-for-logs: reading logs needs the token too (services may print secrets)."""
    settings = request.app.state.settings
    if settings.token_for_logs and settings.token and \
            not token_matches(request.headers.get('authorization'), settings.token):
        raise unauthorized('read logs here')


Gateway = Annotated[OrchestratorGateway, Depends(get_gateway)]
Authorized = Depends(require_token)
LogsAuthorized = Depends(require_token_for_logs)
