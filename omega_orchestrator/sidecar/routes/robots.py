"""GET /api/robots: every orchestrator on the DDS domain, reachable or last seen when."""

from fastapi import APIRouter

from omega_orchestrator.sidecar import schemas
from omega_orchestrator.sidecar.deps import FleetDep, KnownQueryOnly
from omega_orchestrator.sidecar.schemas import errors

router = APIRouter(tags=['robots'], responses=errors(400),
                   dependencies=[KnownQueryOnly])


@router.get('/api/robots', response_model=schemas.RobotList, responses=errors(422))
def list_robots(fleet: FleetDep) -> dict:
    """Every robot this sidecar knows (found on the ROS graph, none configured), by name:
    reachable or not, when it was last seen, and its services counted. Every other route
    takes `robot=NAME` to be about one of them.
    """
    robots = fleet.robots()
    return {'ok': True, 'local': fleet.local, 'count': len(robots), 'robots': robots}
