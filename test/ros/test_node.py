"""The orchestrator node, end to end: a separate orchestrator process, a real client node."""

import json
import os
from pathlib import Path
import signal

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from omega_orchestrator_interfaces.msg import ServiceEvent, ServiceStatus, ServiceStatusArray
from omega_orchestrator_interfaces.srv import (
    GetLogs,
    ListServices,
    ReloadRegistry,
    RestartService,
    StartService,
    StopService,
)
import psutil

from test.ros.aggregator import OK, roll_up
from test.ros.support import by_name, LATCHED, latest_diagnostics
from test.support import py, wait_until

SLEEP = 'import time\nprint("hello from the service", flush=True)\ntime.sleep(600)'
STUBBORN = ('import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
            'time.sleep(600)')


def latest(received: list) -> dict:
    return by_name(received[-1]) if received else {}


def test_status_is_latched_and_lists_every_service(orchestrator, client):
    orchestrator.start([py(SLEEP, name='a', autostart=True), py(SLEEP, name='b')])
    first = client.collect(ServiceStatusArray, orchestrator.at('status'), LATCHED)
    wait_until(lambda: latest(first).get('a') and latest(first)['a'].pid, what='a running')
    # a late subscriber sees the current state at once (transient local)
    late = client.collect(ServiceStatusArray, orchestrator.at('status'), LATCHED)
    wait_until(lambda: late, what='latched status')
    services = by_name(late[-1])
    assert set(services) == {'a', 'b'}
    assert services['a'].state == ServiceStatus.STATE_RUNNING
    assert services['a'].state_name == 'running' and services['a'].pid > 0
    assert services['b'].state == ServiceStatus.STATE_STOPPED


def test_every_call_and_its_error_codes(orchestrator, client):
    orchestrator.start([py(SLEEP, name='web', autostart=True),
                        py(STUBBORN, name='stubborn', stop_timeout=3),
                        {'name': 'broken', 'cmd': 'no-such-program-xyz'}])
    wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid,
               what='web running')
    listed = client.call(ListServices, orchestrator.at('list'))
    assert listed.success and [s.name for s in listed.services] == ['web', 'stubborn', 'broken']

    missing = client.call(StartService, orchestrator.at('start'), name='ghost')
    assert not missing.success and missing.error_code == StartService.Response.ERR_NOT_FOUND
    assert "'ghost'" in missing.message
    twice = client.call(StartService, orchestrator.at('start'), name='web')
    assert twice.error_code == StartService.Response.ERR_WRONG_STATE
    assert twice.status.name == 'web' and twice.status.state_name == 'running'
    spawn = client.call(StartService, orchestrator.at('start'), name='broken')
    assert spawn.error_code == StartService.Response.ERR_SPAWN_FAILED
    assert spawn.status.state_name == 'failed' and 'not found' in spawn.status.message

    started = client.call(StartService, orchestrator.at('start'), name='stubborn')
    assert started.success and started.status.state_name == 'running'
    # the stop takes 3 s (SIGTERM ignored), but the call answers once the stop is accepted
    stopping = client.call(StopService, orchestrator.at('stop'), name='stubborn', timeout=2.5)
    assert stopping.success and stopping.status.state_name == 'stopping'
    stopped_again = client.call(StopService, orchestrator.at('stop'), name='broken')
    assert stopped_again.success and stopped_again.status.state_name == 'stopped'
    not_running = client.call(StopService, orchestrator.at('stop'), name='broken')
    assert not_running.error_code == StopService.Response.ERR_WRONG_STATE
    assert not_running.status.state_name == 'stopped'

    old_pid = client.call(ListServices, orchestrator.at('list')).services[0].pid
    restarted = client.call(RestartService, orchestrator.at('restart'), name='web')
    assert restarted.success
    wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid not in
               (0, old_pid), what='new pid after restart')
    forced = client.call(StopService, orchestrator.at('stop'), name='web', force=True)
    assert forced.success


def test_get_logs(orchestrator, client):
    orchestrator.start([py('import sys\nfor i in range(5): print("out", i)\n'
                           'print("err line", file=sys.stderr)\nimport time\ntime.sleep(600)',
                           name='talker', autostart=True)])
    logs = wait_until(lambda: (r := client.call(GetLogs, orchestrator.at('get_logs'),
                                                name='talker',
                                                stream='both', lines=3)).stdout and r,
                      what='log lines')
    assert logs.success and logs.stdout == ['out 2', 'out 3', 'out 4']
    assert logs.stderr == ['err line']
    only = client.call(GetLogs, orchestrator.at('get_logs'), name='talker', stream='stderr',
                       lines=0)
    assert only.stdout == [] and only.stderr == ['err line']
    bad = client.call(GetLogs, orchestrator.at('get_logs'), name='talker', stream='dmesg', lines=3)
    assert bad.error_code == GetLogs.Response.ERR_INVALID_ARGUMENT
    ghost = client.call(GetLogs, orchestrator.at('get_logs'), name='ghost', stream='both', lines=3)
    assert ghost.error_code == GetLogs.Response.ERR_NOT_FOUND


def test_crash_and_restart_are_seen_as_events(orchestrator, client):
    events = client.collect(ServiceEvent, orchestrator.at('events'))
    code = 'import sys, time\ntime.sleep(0.5)\nprint("sensor lost", file=sys.stderr)\nsys.exit(4)'
    orchestrator.start([py(code, name='flaky', autostart=True, restart_policy='always',
                           restart={'stable_after': 0.2, 'crash_loop_max': 100})])
    crashes = lambda: [e for e in events if e.has_exit]  # noqa: E731
    first, second = wait_until(lambda: crashes()[:2] if len(crashes()) >= 2 else None,
                               what='two crash events')
    for crash in (first, second):
        assert crash.service == 'flaky' and crash.exit_code == 4
        assert crash.from_state == ServiceStatus.STATE_RUNNING
        assert crash.to_state == ServiceStatus.STATE_CRASHED and crash.to_state_name == 'crashed'
        assert list(crash.stderr_tail) == ['sensor lost']     # this run's lines only
    after = events[events.index(first) + 1]
    assert (after.from_state_name, after.has_exit) == ('crashed', False)
    assert after.to_state_name in ('starting', 'backoff')
    wait_until(lambda: [e for e in events[events.index(second):]
                        if e.to_state_name == 'running'], what='running again after a crash')


def test_diagnostics_report_each_service(orchestrator, client):
    diagnostics = client.collect(DiagnosticArray, '/diagnostics')
    orchestrator.start([py(SLEEP, name='ok', autostart=True),
                        py('import sys\nsys.exit(1)', name='dead', autostart=True,
                           restart_policy='never'),
                        py(SLEEP, name='idle')])

    def levels():
        if not diagnostics:
            return None
        found = {n.split(': ')[-1]: s for n, s in latest_diagnostics(diagnostics).items()}
        return found if found.get('dead') and found['dead'].level == DiagnosticStatus.ERROR \
            and found['ok'].level == DiagnosticStatus.OK else None
    found = wait_until(levels, what='diagnostic levels')
    assert found['idle'].level == DiagnosticStatus.OK      # never started: not STALE
    keys = {kv.key for kv in found['ok'].values}
    assert {'pid', 'cpu_percent', 'memory_mb', 'restarts', 'tracking'} <= keys
    tracking = dict((kv.key, kv.value) for kv in found['ok'].values)['tracking']
    assert tracking in ('cgroup', 'subreaper', 'process scan')
    assert found['ok'].name == f'{orchestrator.ns}: ok'


def test_demo_registry_at_rest_rolls_up_to_ok(orchestrator, client, tmp_path):
    diagnostics = client.collect(DiagnosticArray, '/diagnostics')
    demo = Path(__file__).resolve().parents[2] / 'config' / 'service_registry.json'
    services = json.loads(demo.read_text())['services']
    for service in services:   # the demo's files stay where they are
        service['working_dir'] = str(demo.parent / service.get('working_dir', '.'))
    orchestrator.start(services, '--ros-args', '-r', '__ns:=/robot7')
    names = {s['name'] for s in services}

    def at_rest():
        if not diagnostics:
            return None
        mine = [s for s in latest_diagnostics(diagnostics).values()
                if s.name.startswith('/robot7/omega_orchestrator: ')]
        values = {s.name.split(': ')[1]: dict((kv.key, kv.value) for kv in s.values)
                  for s in mine}
        checked = [n for n in ('web_api', 'sensor_worker') if 'health' in values.get(n, {})]
        return mine if {s.name.split(': ')[1] for s in mine} == names and len(checked) == 2 \
            and all(s.level == DiagnosticStatus.OK for s in mine
                    if s.name.endswith(': prepare')) and \
            all(v['state'] in ('running', 'exited') for v in values.values()) else None
    mine = wait_until(at_rest, what='the demo registry at rest')
    assert roll_up(s.level for s in mine) == OK, [(s.name, s.level, s.message) for s in mine]
    client.call(StopService, '/robot7/omega_orchestrator/stop', name='sensor_worker')
    stopped = wait_until(lambda: [s for s in latest_diagnostics(diagnostics).values()
                                  if s.name == '/robot7/omega_orchestrator: sensor_worker'
                                  and s.message == 'stopped'], what='stopped reported')
    assert stopped[0].level == DiagnosticStatus.OK


def test_reload_keeps_running_services_when_the_file_is_broken(orchestrator, client, tmp_path):
    orchestrator.start([py(SLEEP, name='keep', autostart=True)])
    pid = wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid)
    orchestrator.registry.write_text('{"services": [{"name": "keep"}]')
    broken = client.call(ReloadRegistry, orchestrator.at('reload'))
    assert broken.error_code == ReloadRegistry.Response.ERR_REGISTRY_INVALID
    assert broken.errors and 'invalid JSON' in broken.errors[0]
    assert client.call(ListServices, orchestrator.at('list')).services[0].pid == pid
    other = orchestrator.write_registry([py(SLEEP, name='keep', autostart=True),
                                         py(SLEEP, name='extra', autostart=True)],
                                        tmp_path / 'other.json')
    reloaded = client.call(ReloadRegistry, orchestrator.at('reload'), path=str(other))
    assert reloaded.success and list(reloaded.added) == ['extra'] and not reloaded.changed
    services = {s.name: s for s in client.call(ListServices, orchestrator.at('list')).services}
    assert services['keep'].pid == pid and services['extra'].state_name == 'running'


def test_shutdown_stops_every_service_and_leaves_no_child(orchestrator, client):
    tag = f'grandchild-{os.getpid()}-{id(client)}'
    forker = ('import subprocess, sys, time\n'
              f'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {tag!r}])'
              '\ntime.sleep(600)')
    orchestrator.start([py(forker, name='forker', autostart=True),
                        py(STUBBORN, name='stubborn', autostart=True, stop_timeout=1),
                        py(SLEEP, name='plain', autostart=True, depends_on=['forker'])])
    wait_until(lambda: all(s.pid for s in
                           client.call(ListServices, orchestrator.at('list')).services),
               what='all running')
    tree = psutil.Process(orchestrator.proc.pid).children(recursive=True)
    assert len(tree) >= 4
    assert orchestrator.stop(signal.SIGINT) == 0
    survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
    assert 'plain: running -> stopping' in orchestrator.stderr()
    log = orchestrator.stderr()
    assert log.index('plain: stopping -> stopped') < log.index('forker: running -> stopping')


def test_sigterm_also_shuts_down_cleanly(orchestrator, client):
    final = client.collect(ServiceStatusArray, orchestrator.at('status'), LATCHED)
    orchestrator.start([py(SLEEP, name='a', autostart=True)])
    wait_until(lambda: client.call(ListServices, orchestrator.at('list')).services[0].pid)

    def present() -> bool:
        return ('omega_orchestrator', orchestrator.namespace) in \
            client.node.get_node_names_and_namespaces()
    wait_until(present, what='the node on the graph')
    assert orchestrator.stop(signal.SIGTERM) == 0
    # the process ends without Python's teardown, after the node has left the graph: it is
    # gone at once, not when DDS's lease of 20 s runs out; its last status says stopped
    wait_until(lambda: not present(), timeout=5, what='the node gone from the graph')
    assert final[-1].services[0].state_name == 'stopped'
    assert orchestrator.stderr().rstrip().endswith('a: stopping -> stopped (stopped '
                                                   '(killed by signal 15))')


def test_namespaced_orchestrators_do_not_collide(orchestrator, client, tmp_path, ros_env):
    from test.ros.support import Orchestrator
    second = Orchestrator(tmp_path / 'second', ros_env)
    (tmp_path / 'second').mkdir()
    orchestrator.start([py(SLEEP, name='one')], '--ros-args', '-r', '__ns:=/robot1')
    second.start([py(SLEEP, name='two')], '--ros-args', '-r', '__ns:=/robot2')
    try:
        one = client.call(ListServices, '/robot1/omega_orchestrator/list')
        two = client.call(ListServices, '/robot2/omega_orchestrator/list')
        assert [s.name for s in one.services] == ['one']
        assert [s.name for s in two.services] == ['two']
    finally:
        assert second.stop() == 0


def test_hundreds_of_concurrent_calls_are_all_answered(orchestrator, client):
    """More calls at once than the executor has threads or rclpy's default queue holds."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    names = [f's{i}' for i in range(10)]
    orchestrator.start([py(SLEEP, name=n, autostart=i % 2 == 0) for i, n in enumerate(names)])
    deep = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    kinds = {'start': StartService, 'stop': StopService, 'restart': RestartService,
             'get_logs': GetLogs, 'list': ListServices}
    clients = {k: client.node.create_client(t, f'{orchestrator.ns}/{k}', qos_profile=deep)
               for k, t in kinds.items()}
    assert all(c.wait_for_service(timeout_sec=30) for c in clients.values())
    futures = []
    for i in range(300):
        kind = list(kinds)[i % len(kinds)]
        fields = {'name': names[(i * 7) % len(names)]} if kind != 'list' else {}
        futures.append(clients[kind].call_async(kinds[kind].Request(**fields)))
    wait_until(lambda: all(f.done() for f in futures), 30, 'every answer')
    codes = [f.result().error_code for f in futures]
    assert set(codes) <= {StartService.Response.ERR_NONE, StartService.Response.ERR_WRONG_STATE}
    assert codes.count(StartService.Response.ERR_NONE) >= 120    # logs and lists: 120
