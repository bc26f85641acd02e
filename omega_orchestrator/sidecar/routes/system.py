"""GET /api/health (sidecar and orchestrator) and GET /metrics (Prometheus text format)."""

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from omega_orchestrator.sidecar import schemas
from omega_orchestrator.sidecar.deps import Gateway, KnownQueryOnly
from omega_orchestrator.sidecar.errors import GatewayError
from omega_orchestrator.sidecar.rest_objects import STATES
from omega_orchestrator.sidecar.schemas import errors

router = APIRouter(tags=['system'], responses=errors(400),
                   dependencies=[KnownQueryOnly])


@router.get('/api/health', response_model=schemas.SidecarHealth, responses=errors(404, 422))
def health(gateway: Gateway) -> dict:
    """The sidecar is up; is the orchestrator reachable over ROS?"""
    return {'ok': True, 'sidecar': 'up', 'orchestrator_reachable': gateway.reachable()}


class ServicesCollector:
    """Reads the gateway's cached status at scrape time."""

    def __init__(self, gateway: object) -> None:
        self.gateway = gateway

    def collect(self):
        up = GaugeMetricFamily('omega_orchestrator_up', 'Orchestrator status is fresh')
        try:
            services = self.gateway.services()
        except GatewayError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        state = GaugeMetricFamily('omega_service_state', '1 for the current state',
                                  labels=['service', 'state'])
        families = {
            'cpu': GaugeMetricFamily('omega_service_cpu_percent', 'CPU %, whole tree',
                                     labels=['service']),
            'mem': GaugeMetricFamily('omega_service_memory_bytes', 'RSS, whole tree',
                                     labels=['service']),
            'healthy': GaugeMetricFamily('omega_service_healthy', '1 if healthy',
                                         labels=['service']),
            'restarts': CounterMetricFamily('omega_service_restarts', 'Restarts',
                                            labels=['service']),
            'crashes': CounterMetricFamily('omega_service_crashes', 'Crashes',
                                           labels=['service']),
        }
        for s in services:
            for name in STATES:
                state.add_metric([s['name'], name], 1.0 if s['status'] == name else 0.0)
            families['cpu'].add_metric([s['name']], s['cpu_percent'])
            families['mem'].add_metric([s['name']], s['memory_bytes'])
            healthy = s['health'] is None or s['health']['healthy']
            families['healthy'].add_metric([s['name']], 1.0 if healthy else 0.0)
            families['restarts'].add_metric([s['name']], s['restart_count'])
            families['crashes'].add_metric([s['name']], s['crash_count'])
        yield state
        yield from families.values()


@router.get('/metrics', response_class=Response, responses=errors(404, 422))
def metrics(gateway: Gateway) -> Response:
    """Prometheus metrics per service: state, restarts, crashes, CPU, memory, health."""
    registry = CollectorRegistry()
    registry.register(ServicesCollector(gateway))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
