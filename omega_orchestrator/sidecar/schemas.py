"""Response models of the REST API (the seed's shapes, documented in the OpenAPI schema)."""

from typing import Any

from pydantic import BaseModel, Field

from omega_orchestrator.sidecar.rest_objects import STATES


class HealthObject(BaseModel):
    """The original's health object."""

    healthy: bool
    message: str


class Service(BaseModel):
    """One service: every field of the original's service object (same names and types),
    then this project's additions.
    """

    name: str
    display_name: str
    type: str
    description: str
    autostart: bool
    port: int | None
    status: str = Field(description=', '.join(STATES))
    pid: int | None
    restart_policy: str
    crash_count: int
    last_restart: float | None = Field(description='epoch seconds')
    start_time: float | None = Field(description='epoch seconds: when the current run began')
    cpu_percent: float
    memory_mb: float
    last_health_check: float | None = Field(description='epoch seconds')
    health_status: str | None = Field(description='healthy, unhealthy, or null (not checked)')
    health: HealthObject | None = Field(description='null when the service has no health check')
    ros_node: str | None
    memory_bytes: int
    threads: int
    uptime_sec: float
    restart_count: int
    last_exit_code: int | None
    last_exit_signal: int | None
    last_change: str | None = Field(description='ISO 8601')
    next_restart: str | None = Field(description='ISO 8601')
    paused: bool = Field(description='alive but stopped by a signal (SIGSTOP)')
    adopted: bool = Field(description='already running when the orchestrator took it over')
    message: str
    limits: str | None = Field(description='the limits in words, each with who enforces it')
    limit_warning: str | None = Field(description='what is over a soft limit now')
    lifecycle_state: str | None = Field(description="a managed node's state, e.g. 'active'")
    group: str | None = Field(description="the registry's group of the service")
    maintenance: bool = Field(description='supervision paused by an operator')


class ServiceList(BaseModel):
    """GET /api/services/list."""

    ok: bool = True
    services: list[Service]
    count: int


class StatusResponse(BaseModel):
    """GET /api/services/status/{name}."""

    ok: bool = True
    service: Service


class ControlResult(BaseModel):
    """POST start / stop / restart."""

    ok: bool = True
    message: str
    service: Service


class Logs(BaseModel):
    """The two streams."""

    stdout: list[str]
    stderr: list[str]


class LogsResponse(BaseModel):
    """GET /api/services/logs/{name}."""

    ok: bool = True
    service: str
    logs: Logs


class ServiceHealth(BaseModel):
    """GET /api/services/health/{name}."""

    ok: bool = True
    service: str
    health: HealthObject


class GroupResult(BaseModel):
    """POST /api/services/group/{group}/{action}."""

    ok: bool
    message: str
    services: list[str] = Field(description='the services of the group, in the order acted on')


class ReloadResult(BaseModel):
    """POST /api/services/reload."""

    ok: bool = True
    message: str
    added: list[str]
    removed: list[str]
    changed: list[str]


class ServiceCounts(BaseModel):
    """A robot's services counted by what they do."""

    total: int
    running: int
    unhealthy: int = Field(description='running, with a failing health check')
    failed: int = Field(description='crashed or failed')
    stopped: int = Field(description='stopped or exited')


class Robot(BaseModel):
    """One orchestrator on the DDS domain."""

    name: str = Field(description='its namespace without the leading slash: the `robot=` '
                                  'of every other route')
    orchestrator: str = Field(description="the orchestrator node's full name")
    local: bool = Field(description="this machine's robot (the one without `robot=`)")
    reachable: bool = Field(description='its status arrived within the last 5 s')
    last_seen: str | None = Field(description='when its last status arrived (ISO 8601 UTC)')
    seen_ago_sec: float | None
    writable: bool | None = Field(description='it accepts changes from this sidecar (null '
                                              'while it is unreachable)')
    conflict: bool = Field(description='more than one orchestrator publishes under this '
                                       'name (cloned host names: set --namespace)')
    services: ServiceCounts


class RobotList(BaseModel):
    """GET /api/robots."""

    ok: bool = True
    local: str
    count: int
    robots: list[Robot]


class SidecarHealth(BaseModel):
    """GET /api/health."""

    ok: bool = True
    sidecar: str = 'up'
    orchestrator_reachable: bool


class Error(BaseModel):
    """Every error answer: the original's shape ({ok, error: a human message, error_code})."""

    ok: bool = False
    error: str = Field(description='what went wrong, in words')
    error_code: str = Field(description='stable machine-readable code, e.g. not_found')
    message: str = Field(description='the same words as error')
    service: Service | None = None
    details: list = []


#: What each error status means, as the OpenAPI document tells it (`error_code` in quotes).
ERROR_MEANINGS = {
    400: "'bad_host': the Host header names a server this is not (the guard against DNS "
         'rebinding)',
    401: "'unauthorized': the sidecar has a token and the request did not carry it as "
         "'Authorization: Bearer <token>'",
    403: "'cross_origin': a change requested by a page of another origin",
    404: "'not_found': no service of that name",
    409: "'wrong_state': the request makes no sense in the service's state (the service is "
         'in the answer)',
    422: "'invalid_argument': a malformed parameter, or 'registry_invalid': the registry file "
         'is invalid (each problem in details)',
    502: "'spawn_failed': the service's command could not be started",
    503: "'orchestrator_unreachable': the orchestrator is not answering over ROS",
    504: "'timeout': the orchestrator did not answer in time",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status answered with the Error model."""
    return {status: {'model': Error, 'description': ERROR_MEANINGS[status]}
            for status in statuses}
