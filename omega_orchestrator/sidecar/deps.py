"""FastAPI dependencies: the gateway, the bearer-token guard, and their Annotated aliases."""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from omega_orchestrator.sidecar.errors import ERR_INVALID_ARGUMENT, GatewayError
from omega_orchestrator.sidecar.protocol import Fleet, OrchestratorGateway
from omega_orchestrator.sidecar.security import token_matches

#: The bearer scheme in the OpenAPI document. It never refuses anything itself
#: (auto_error=False): require_token decides, from the raw header.
bearer = HTTPBearer(scheme_name='bearer', auto_error=False,
                    description='The token in the environment variable named by the '
                                "sidecar's --token-env (default OMEGA_API_TOKEN); changes "
                                'need it when the sidecar has one.')


#: The robot selector every robot-scoped route takes; none: the local robot (the seed's API).
ROBOT_NAME = r'^[A-Za-z0-9_/]{1,255}$'


def known_query_only(request: Request) -> None:
    """422 for a query parameter the route does not take: a mistyped `robot=` must never
    turn a change meant for another robot into one of this machine's.
    """
    unknown = set(request.query_params) - _query_names(request.scope.get('route'))
    if unknown:      # named, shortened: a hostile one may be long
        shown = [name if len(name) <= 40 else name[:40] + '...' for name in sorted(unknown)[:5]]
        raise GatewayError(ERR_INVALID_ARGUMENT, 'unknown query parameter(s): '
                           + ', '.join(repr(name) for name in shown)
                           + (f' and {len(unknown) - 5} more' if len(unknown) > 5 else ''))


def _query_names(route: Any) -> frozenset[str]:
    """The query parameters a route takes, its dependencies' included (computed once)."""
    if route is None:
        return frozenset()
    names = getattr(route, '_omega_query_names', None)
    if names is None:
        found: set[str] = set()
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            found.update(field.alias for field in dependant.query_params)
            pending.extend(dependant.dependencies)
        names = frozenset(found)
        route._omega_query_names = names      # kept on the route: it lives as long as its app
    return names


def get_fleet(request: Request) -> Fleet:
    """The fleet given to create_app."""
    return request.app.state.fleet


def get_gateway(request: Request, robot: Annotated[str | None, Query(
        description="the robot (see /api/robots); default: this machine's",
        pattern=ROBOT_NAME, max_length=255)] = None) -> OrchestratorGateway:
    """The chosen robot's gateway (404 robot_not_found for a robot nobody knows)."""
    return request.app.state.fleet.robot(robot)


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
FleetDep = Annotated[Fleet, Depends(get_fleet)]
KnownQueryOnly = Depends(known_query_only)
Authorized = Depends(require_token)
LogsAuthorized = Depends(require_token_for_logs)
