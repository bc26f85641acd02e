"""create_app(fleet, settings): the FastAPI application, its error answers and the page."""

import asyncio
from dataclasses import dataclass
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from omega_orchestrator.sidecar.errors import GatewayError
from omega_orchestrator.sidecar.fleet import OneRobot
from omega_orchestrator.sidecar.protocol import Fleet, OrchestratorGateway
from omega_orchestrator.sidecar.routes import events, robots, services, system

log = logging.getLogger('omega_orchestrator.sidecar')
LOGS_PATH = '/api/services/logs/{name}'
#: On every answer: no site may frame the page (clickjacking); the page's own CSP meta tag
#: cannot say frame-ancestors, so the header does.
SECURITY_HEADERS = {'X-Frame-Options': 'DENY',
                    'Content-Security-Policy': "frame-ancestors 'none'",
                    'X-Content-Type-Options': 'nosniff'}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What the sidecar was started with."""

    token: str | None = None
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()   # Host header values accepted; () = any
    open_writes_for_origins: bool = False  # writes from cors_origins need no token
    token_for_logs: bool = False           # reading logs needs the token too
    web_dir: str | None = None


def find_web_dir() -> Path | None:
    """web/ of a source checkout, of the installed package share, or $OMEGA_WEB_DIR."""
    candidates = [os.environ.get('OMEGA_WEB_DIR'),
                  str(Path(__file__).resolve().parents[2] / 'web')]
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(os.path.join(get_package_share_directory('omega_orchestrator'),
                                       'web'))
    except Exception:
        pass
    for candidate in candidates:
        if candidate and (Path(candidate) / 'index.html').is_file():
            return Path(candidate)
    return None


def create_app(gateway: Fleet | OrchestratorGateway, settings: Settings | None = None) -> FastAPI:
    """The sidecar application over a fleet (RosGateway in production), or over one gateway
    (a fake in route tests), which is then the only robot, called 'local'.
    """
    settings = settings or Settings()
    app = FastAPI(title='Omega Orchestrator API', version='0.1.0',
                  description='Control and watch the services of an Omega Orchestrator.')
    app.state.fleet = gateway if hasattr(gateway, 'robots') else OneRobot(gateway)
    app.state.settings = settings
    app.state.stopping = asyncio.Event()   # set when the server shuts down: streams end
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=['GET', 'POST'],
                           allow_headers=['Authorization', 'Content-Type'], max_age=600)
    _add_request_guards(app, settings)
    for router in (services.router, events.router, system.router, robots.router):
        app.include_router(router)
    _add_error_handlers(app)
    _add_page(app, Path(settings.web_dir) if settings.web_dir else find_web_dir())
    _add_security_headers(app)      # last added: outermost, so on the guards' answers too
    _document_token(app, required=bool(settings.token) and not settings.open_writes_for_origins,
                    logs_guarded=bool(settings.token) and settings.token_for_logs)
    return app


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    """The original's error shape: `error` in words, `error_code` for programs."""
    return JSONResponse({'ok': False, 'error': message, 'error_code': code,
                         'message': message, **extra}, status_code=status,
                        headers=SECURITY_HEADERS)   # a 500 never passes the middleware


def _add_security_headers(app: FastAPI) -> None:
    @app.middleware('http')
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response


def _document_token(app: FastAPI, required: bool, logs_guarded: bool = False) -> None:
    """The bearer scheme guards the changes in the OpenAPI document; unless this sidecar
    requires the token, each says the token is optional (an empty security alternative).
    Reading logs shows the scheme (and its 401) only when --token-for-logs guards it.
    """
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            for path, item in document['paths'].items():
                for method, operation in item.items():
                    if path == LOGS_PATH and method == 'get' and not logs_guarded:
                        operation.pop('security', None)
                        operation['responses'].pop('401', None)
                    elif operation.get('security') and not required:
                        operation['security'].append({})
        return app.openapi_schema
    app.openapi = openapi


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        return _error(exc.http_status, exc.name, exc.message, service=exc.service,
                      details=exc.details)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(422, 'invalid_argument', '; '.join(problems), details=problems)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        names = {401: 'unauthorized', 404: 'not_found', 405: 'method_not_allowed'}
        response = _error(exc.status_code, names.get(exc.status_code, 'http_error'),
                          str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception('unexpected error in %s %s', request.method, request.url.path)
        return _error(500, 'internal', f'internal error: {type(exc).__name__}')


def host_name(host: str) -> str:
    """The name in a Host header: 'a:80' -> 'a', '[::1]:80' and '[::1]' -> '::1'."""
    if host.startswith('['):
        end = host.find(']')
        if end < 0 or host[end + 1:] and not host[end + 1:].startswith(':'):
            return host      # '[::1' or '[::1]x': no name of ours
        return host[1:end]
    return host.rsplit(':', 1)[0] if host.count(':') == 1 else host


def same_site(origin: str, host: str) -> bool:
    """True when an Origin header names the host the request was sent to."""
    try:
        return urlsplit(origin).netloc == host
    except ValueError:       # 'http://[' and the like: no site at all
        return False


def _add_request_guards(app: FastAPI, settings: Settings) -> None:
    """Refuse cross-site writes (a page elsewhere POSTing here) and, on loopback, foreign
    Host headers (DNS rebinding). Clients that send no Origin, like curl, are unaffected.
    """
    @app.middleware('http')
    async def guard(request: Request, call_next):
        host = request.headers.get('host', '')
        if settings.allowed_hosts and host_name(host) not in settings.allowed_hosts:
            return _error(400, 'bad_host', f'requests for host {host[:100]!r} are not served '
                                           'here')
        origin = request.headers.get('origin')
        if request.method not in ('GET', 'HEAD', 'OPTIONS') and origin and \
                not same_site(origin, host) and origin not in settings.cors_origins:
            return _error(403, 'cross_origin', f'writes from {origin[:100]!r} are not allowed')
        return await call_next(request)


def _add_page(app: FastAPI, web_dir: Path | None) -> None:
    if web_dir is None:
        log.warning('web/ not found: the /services page is not served')
        return
    app.mount('/services/assets', StaticFiles(directory=web_dir), name='assets')

    @app.middleware('http')
    async def revalidate_assets(request: Request, call_next):
        response = await call_next(request)
        if request.url.path.startswith('/services/assets/'):
            response.headers['Cache-Control'] = 'no-cache'   # after an upgrade: the new page
        return response

    @app.get('/services', include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(web_dir / 'index.html', headers={'Cache-Control': 'no-cache'})

    @app.get('/', include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse('/services')
