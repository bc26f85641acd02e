"""Pure conversions: codes agree end to end; diagnostics levels follow the states."""

from diagnostic_msgs.msg import DiagnosticStatus
from omega_orchestrator_interfaces.msg import ServiceStatus
from omega_orchestrator_interfaces.srv import (
    GetLogs,
    GroupAction,
    ListServices,
    ReloadRegistry,
    RestartService,
    SetMaintenance,
    StartService,
    StopService,
)
import pytest

from omega_orchestrator.core.errors import ErrorCode
from omega_orchestrator.core.machine import Health
from omega_orchestrator.core.registry import ServiceSpec
from omega_orchestrator.core.states import ServiceState
from omega_orchestrator.ros.messages import (
    diagnostic_level,
    from_time,
    MessageCache,
    STATE_CODES,
    status_to_diagnostic,
    status_to_msg,
    to_time,
)
from omega_orchestrator.runtime.metrics import Usage
from omega_orchestrator.runtime.status import EngineStatus


def engine_status(state: ServiceState, **changes) -> EngineStatus:
    fields = dict(spec=ServiceSpec(name='cam', cmd='x', port=8081), state=state, pid=12,
                  message='', restart_count=2, crash_count=1, last_exit_code=None,
                  last_exit_signal=9, uptime=3.5, start_time=1.7e9 - 3.5, last_restart=None,
                  last_change=1.7e9,
                  next_restart=None, health=Health(), usage=Usage(memory_bytes=2 ** 40))
    fields.update(changes)
    return EngineStatus(**fields)


def test_error_codes_are_the_srv_constants():
    for srv in (StartService, StopService, RestartService, ListServices, GetLogs,
                ReloadRegistry, SetMaintenance, GroupAction):
        for code in ErrorCode:
            assert getattr(srv.Response, f'ERR_{code.name}') == code.value, (srv, code)


def test_every_state_has_its_constant():
    for state in ServiceState:
        assert STATE_CODES[state] == getattr(ServiceStatus, f'STATE_{state.name}')


def test_status_message_fields():
    msg = status_to_msg(engine_status(ServiceState.RUNNING))
    assert msg.name == 'cam' and msg.state_name == 'running' and msg.pid == 12
    assert msg.memory_bytes == 2 ** 40 and msg.port == 8081
    assert msg.has_exit and msg.last_exit_signal == 9 and msg.last_exit_code == 0
    assert from_time(msg.last_change) == 1.7e9 and from_time(msg.next_restart) is None


def test_time_round_trip():
    assert from_time(to_time(1234.5)) == 1234.5
    assert to_time(None).sec == 0


def test_diagnostic_levels():
    level = lambda state, **c: diagnostic_level(engine_status(state, **c))[0]  # noqa: E731
    assert level(ServiceState.RUNNING) == DiagnosticStatus.OK
    unhealthy = Health(checked=True, healthy=False, message='refused')
    assert level(ServiceState.RUNNING, health=unhealthy) == DiagnosticStatus.WARN
    assert level(ServiceState.BACKOFF) == DiagnosticStatus.WARN
    assert level(ServiceState.COOLDOWN) == DiagnosticStatus.WARN
    assert level(ServiceState.FAILED) == DiagnosticStatus.ERROR
    assert level(ServiceState.CRASHED) == DiagnosticStatus.ERROR
    assert level(ServiceState.STOPPED) == DiagnosticStatus.OK      # an operator's stop
    assert level(ServiceState.EXITED) == DiagnosticStatus.OK       # a completed oneshot
    for state in ServiceState:
        assert level(state) != DiagnosticStatus.STALE, state


def test_a_log_problem_is_a_warning():
    level, message = diagnostic_level(engine_status(
        ServiceState.RUNNING, log_problem='cannot write /var/log/x: Read-only file system'))
    assert level == DiagnosticStatus.WARN and 'Read-only' in message


def test_diagnostic_names_carry_the_node_namespace():
    status = engine_status(ServiceState.RUNNING)
    one = status_to_diagnostic(status, '/robot1/omega_orchestrator')
    two = status_to_diagnostic(status, '/robot2/omega_orchestrator')
    assert one.name == '/robot1/omega_orchestrator: cam' and one.name != two.name


def test_the_periodic_messages_are_reused_while_only_uptime_and_usage_move():
    cache = MessageCache()
    first = engine_status(ServiceState.RUNNING)
    (entry,) = cache.update((first,), '/ns/omega_orchestrator', 'subreaper')
    msg, diag, version, diagnosis = (entry.status, entry.diagnostic, entry.version,
                                     entry.diagnostic_version)
    uptime_only = engine_status(ServiceState.RUNNING, uptime=5.0)
    (same,) = cache.update((uptime_only,), '/ns/omega_orchestrator', 'subreaper')
    assert same.status.uptime_sec == pytest.approx(5.0, abs=0.5)          # uptime moved...
    assert same.version == version                                       # ...no change
    later = engine_status(ServiceState.RUNNING, uptime=9.0,
                          usage=Usage(cpu_percent=12.5, memory_bytes=5 * 10 ** 6, threads=4))
    (again,) = cache.update((later,), '/ns/omega_orchestrator', 'subreaper')
    assert again.status is msg and again.diagnostic is diag           # reused...
    got, fresh = again.status, status_to_msg(later)                   # ...equal to a fresh one,
    fresh.uptime_sec = got.uptime_sec                                 # the uptime moving on
    assert got == fresh and got.uptime_sec == pytest.approx(9.0, abs=0.5)
    assert again.diagnostic == status_to_diagnostic(later, '/ns/omega_orchestrator',
                                                    'subreaper')
    assert again.version == version + 1 and again.diagnostic_version == diagnosis
    changed = engine_status(ServiceState.CRASHED, pid=None, message='killed by signal 9')
    (rebuilt,) = cache.update((changed,), '/ns/omega_orchestrator', 'subreaper')
    assert rebuilt.status is not msg and rebuilt.status == status_to_msg(changed)
    assert rebuilt.diagnostic_version == diagnosis + 1
    assert cache.update((), '/ns/omega_orchestrator', 'subreaper') == []   # forgotten
