"""Response models of the REST API (the seed's shapes, documented in the OpenAPI schema)."""

from pydantic import BaseModel, Field


class Health(BaseModel):
    """The seed's health object."""

    healthy: bool
    message: str
    checked_at: str | None = None


class Service(BaseModel):
    """One service: the seed's fields (name, status, pid, health) and the rest of the status."""

    name: str
    display_name: str
    type: str
    status: str = Field(description='stopped, starting, running, stopping, crashed, backoff, '
                                    'cooldown, failed or exited')
    pid: int | None
    health: Health
    description: str
    restart_policy: str
    autostart: bool
    port: int | None
    ros_node: str | None
    cpu_percent: float
    memory_mb: float
    memory_bytes: int
    threads: int
    uptime_sec: float
    restart_count: int
    crash_count: int
    last_exit_code: int | None
    last_exit_signal: int | None
    last_restart: str | None
    last_change: str | None
    next_restart: str | None
    message: str


class ServiceList(BaseModel):
    """GET /api/services/list."""

    ok: bool = True
    services: list[Service]
    count: int


class ServiceStatus(BaseModel):
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


class ServiceLogs(BaseModel):
    """GET /api/services/logs/{name}."""

    ok: bool = True
    service: str
    logs: Logs


class ServiceHealth(BaseModel):
    """GET /api/services/health/{name}."""

    ok: bool = True
    service: str
    health: Health


class ReloadResult(BaseModel):
    """POST /api/services/reload."""

    ok: bool = True
    message: str
    added: list[str]
    removed: list[str]
    changed: list[str]


class SidecarHealth(BaseModel):
    """GET /api/health."""

    ok: bool = True
    sidecar: str = 'up'
    orchestrator_reachable: bool


class Error(BaseModel):
    """Every error answer."""

    ok: bool = False
    error: str
    message: str
    service: Service | None = None
    details: list = []
