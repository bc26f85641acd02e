"""The seed-compatible /api/services/* routes."""

from collections.abc import Sequence
import json
from typing import Annotated
import weakref

from fastapi import APIRouter, Path, Query, Response

from omega_orchestrator.sidecar import schemas
from omega_orchestrator.sidecar.deps import Authorized, Gateway, KnownQueryOnly, LogsAuthorized
from omega_orchestrator.sidecar.errors import ERR_NOT_FOUND, GatewayError
from omega_orchestrator.sidecar.rest_objects import NO_CHECK
from omega_orchestrator.sidecar.schemas import errors

router = APIRouter(prefix='/api/services', tags=['services'], responses=errors(400),
                   dependencies=[KnownQueryOnly])
#: The registry's name rule (core/registry_model.NAME_PATTERN; a route test checks they
#: agree). Anything else is refused here: ROS strings end at a NUL ('app\0x' would be 'app').
NAME_PATTERN = r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$'
Name = Annotated[str, Path(description='the service name (a registry key, never a path)',
                           pattern=NAME_PATTERN, max_length=64)]
READ = errors(404, 422, 503)
CHANGE = errors(401, 403, 404, 409, 422, 502, 503, 504)


def find(services: Sequence[dict], name: str) -> dict:
    """The service called name, or a 404 GatewayError."""
    for service in services:
        if service['name'] == name:
            return service
    raise GatewayError(ERR_NOT_FOUND, f"no service named '{name}'")


class _ListBody:
    """Each robot's last list answer, as bytes, for as long as its gateway hands out the same
    services: at 1,000 services validating and encoding them anew took 40 ms a request. Kept
    per gateway, so that clients of two robots do not throw each other's away (and a robot
    the fleet forgets takes its answer with it).
    """

    def __init__(self) -> None:
        self._last: weakref.WeakKeyDictionary[object, tuple[Sequence[dict], bytes]] = \
            weakref.WeakKeyDictionary()

    def of(self, gateway: object, services: Sequence[dict]) -> bytes:
        last = self._last.get(gateway)
        if last is None or last[0] is not services:
            body = json.dumps({'ok': True, 'services': list(services), 'count': len(services)},
                              separators=(',', ':')).encode()
            self._last[gateway] = last = (services, body)
        return last[1]


_LIST_BODY = _ListBody()


@router.get('/list', response_model=schemas.ServiceList, responses=errors(404, 422, 503))
def list_services(gateway: Gateway) -> Response:
    """Every service with its status, in registry order."""
    return Response(_LIST_BODY.of(gateway, gateway.services()),
                    media_type='application/json')


@router.get('/status/{name}', response_model=schemas.StatusResponse, responses=READ)
def service_status(name: Name, gateway: Gateway) -> dict:
    """One service's status."""
    return {'ok': True, 'service': find(gateway.services(), name)}


@router.get('/health/{name}', response_model=schemas.ServiceHealth, responses=READ)
def service_health(name: Name, gateway: Gateway) -> dict:
    """One service's latest health check ("No health check defined" when it has none)."""
    health = find(gateway.services(), name)['health']
    return {'ok': True, 'service': name, 'health': health or NO_CHECK}


@router.get('/logs/{name}', response_model=schemas.LogsResponse,
            responses=errors(401, 404, 422, 503, 504), dependencies=[LogsAuthorized])
async def service_logs(name: Name, gateway: Gateway,
                       lines: Annotated[int, Query(ge=1, le=1000)] = 50) -> dict:
    """The last lines of the service's stdout and stderr."""
    return {'ok': True, 'service': name, 'logs': await gateway.logs(name, lines)}


@router.post('/start/{name}', response_model=schemas.ControlResult, responses=CHANGE,
             dependencies=[Authorized])
async def start_service(name: Name, gateway: Gateway) -> dict:
    """Start a service; answers once the start is accepted."""
    message, service = await gateway.control('start', name)
    return {'ok': True, 'message': message, 'service': service}


@router.post('/stop/{name}', response_model=schemas.ControlResult, responses=CHANGE,
             dependencies=[Authorized])
async def stop_service(name: Name, gateway: Gateway, force: bool = False) -> dict:
    """Stop a service and keep it stopped; force=true kills at once."""
    message, service = await gateway.control('stop', name, force=force)
    return {'ok': True, 'message': message, 'service': service}


@router.post('/restart/{name}', response_model=schemas.ControlResult, responses=CHANGE,
             dependencies=[Authorized])
async def restart_service(name: Name, gateway: Gateway) -> dict:
    """Stop (if running) and start again."""
    message, service = await gateway.control('restart', name)
    return {'ok': True, 'message': message, 'service': service}


@router.post('/maintenance/{name}', response_model=schemas.ControlResult, responses=CHANGE,
             dependencies=[Authorized])
async def set_maintenance(name: Name, gateway: Gateway, enabled: bool = True) -> dict:
    """Pause (enabled=true) or resume a service's supervision: no automatic restart; its
    probes and limits are shown but not acted on.
    """
    message, service = await gateway.maintenance(name, enabled)
    return {'ok': True, 'message': message, 'service': service}


@router.post('/group/{group}/{action}', response_model=schemas.GroupResult,
             responses=CHANGE, dependencies=[Authorized])
async def group_action(group: Name, action: Annotated[str, Path(
        pattern='^(start|stop|restart)$', description='start, stop or restart')],
        gateway: Gateway) -> dict:
    """Start (in dependency order), stop or restart (dependants first) a whole group;
    answers once accepted.
    """
    message, names = await gateway.group(group, action)
    return {'ok': True, 'message': message, 'services': names}


@router.post('/reload', response_model=schemas.ReloadResult,
             responses=errors(401, 403, 404, 409, 422, 503, 504), dependencies=[Authorized])
async def reload_registry(gateway: Gateway) -> dict:
    """Re-read the registry file; a broken file changes nothing and answers 422."""
    return {'ok': True, **await gateway.reload()}
