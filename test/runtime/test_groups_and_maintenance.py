"""Groups acted on in one call, and maintenance, on real processes."""

import os
import signal

import pytest

from omega_orchestrator.core.errors import InvalidArgumentError, ServiceNotFoundError
from omega_orchestrator.core.states import ServiceState as S
from test.runtime.support import wait_state
from test.support import py, until

SLEEP = 'import time\ntime.sleep(600)'


async def test_a_group_starts_in_order_and_stops_dependants_first(supervise):
    sup = supervise(py(SLEEP, name='driver', group='arm'),
                    py(SLEEP, name='planner', group='arm', depends_on=['driver']),
                    py(SLEEP, name='camera', group='eyes'),
                    py(SLEEP, name='other'))
    order: list[tuple[str, S]] = []
    sup.add_listener(lambda e: order.append((e.service, e.to_state)))
    assert sup.act_on_group('arm', 'start') == ['driver', 'planner']
    await wait_state(sup, 'planner', S.RUNNING)
    assert sup.status('camera').state is S.STOPPED and sup.status('other').state is S.STOPPED
    assert order.index(('driver', S.STARTING)) < order.index(('planner', S.STARTING))
    order.clear()
    assert sup.act_on_group('arm', 'stop') == ['driver', 'planner']
    await wait_state(sup, 'driver', S.STOPPED)
    assert order.index(('planner', S.STOPPED)) < order.index(('driver', S.STOPPING))
    sup.act_on_group('arm', 'start')
    await wait_state(sup, 'planner', S.RUNNING)
    pids = {n: sup.status(n).pid for n in ('driver', 'planner')}
    sup.act_on_group('arm', 'restart')
    await until(lambda: all(sup.status(n).state is S.RUNNING and sup.status(n).pid != pids[n]
                            for n in pids))
    with pytest.raises(ServiceNotFoundError, match="no service in group 'legs'"):
        sup.act_on_group('legs', 'start')
    with pytest.raises(InvalidArgumentError):
        sup.act_on_group('arm', 'explode')


async def test_maintenance_keeps_a_crashed_service_down_until_resumed(supervise):
    sup = supervise(py(SLEEP, name='lidar', autostart=True, restart_policy='always'))
    await sup.start_all()
    await wait_state(sup, 'lidar', S.RUNNING)
    status = sup.set_maintenance('lidar', True)
    assert status.maintenance and status.state is S.RUNNING
    os.kill(status.pid, signal.SIGKILL)
    await wait_state(sup, 'lidar', S.CRASHED)
    assert sup.status('lidar').restart_count == 0
    sup.set_maintenance('lidar', False)
    sup.start('lidar')                        # supervised again, started by hand
    await wait_state(sup, 'lidar', S.RUNNING)
    assert not sup.status('lidar').maintenance
