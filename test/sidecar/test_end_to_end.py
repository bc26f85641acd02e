"""The sidecar over the real orchestrator and real ROS: REST, SSE, health, metrics, auth."""

import json
import os
import signal

import httpx

from omega_orchestrator.ros.presence import LEASE
from test.support import py

SLEEP = 'import time\nprint("service up", flush=True)\ntime.sleep(600)'


def test_rest_over_ros(stack):
    s = stack([py(SLEEP, name='camera', autostart=True, display_name='Camera'),
               py(SLEEP, name='motors'),
               {'name': 'broken', 'cmd': 'no-such-program-xyz'}])
    listed = s.get('/api/services/list').json()
    assert listed['ok'] and listed['count'] == 3
    assert [x['name'] for x in listed['services']] == ['camera', 'motors', 'broken']
    camera = s.wait_for(lambda: (c := s.service('camera'))['pid'] and c, 'camera running')
    assert camera['display_name'] == 'Camera' and camera['status'] == 'running'

    started = s.post('/api/services/start/motors').json()
    assert started['ok'] and started['service']['status'] == 'running'
    assert s.post('/api/services/start/motors').status_code == 409
    assert s.post('/api/services/start/ghost').status_code == 404
    failed = s.post('/api/services/start/broken')
    assert failed.status_code == 502 and 'not found' in failed.json()['message']

    logs = s.wait_for(lambda: (r := s.get('/api/services/logs/camera?lines=5').json())
                      ['logs']['stdout'] and r, 'camera logs')
    assert logs['logs']['stdout'] == ['service up']
    health = s.get('/api/services/health/camera').json()
    assert health['health']['healthy'] is True

    restarted = s.post('/api/services/restart/camera').json()
    assert restarted['ok']
    s.wait_for(lambda: s.service('camera')['pid'] not in (None, camera['pid']), 'new pid')
    stopped = s.post('/api/services/stop/motors?force=true').json()
    assert stopped['ok'] and stopped['service']['status'] in ('stopping', 'stopped')
    assert s.get('/api/health').json()['orchestrator_reachable'] is True
    metrics = s.get('/metrics').text
    assert 'omega_service_state{service="camera",state="running"} 1.0' in metrics


def test_events_stream_shows_a_crash(stack):
    s = stack([py(SLEEP, name='victim', autostart=True, restart_policy='always')])
    pid = s.wait_for(lambda: s.service('victim')['pid'], 'victim running')
    seen = []
    with httpx.stream('GET', s.url + '/api/services/events', timeout=30) as response:
        assert response.headers['content-type'].startswith('text/event-stream')
        kind = None
        for line in response.iter_lines():
            if line.startswith('event: '):
                kind = line[len('event: '):]
            elif line.startswith('data: '):
                payload = json.loads(line[len('data: '):])
                seen.append((kind, payload))
                if kind == 'status' and len(seen) == 1:
                    assert payload['services'][0]['pid'] == pid
                    os.kill(pid, signal.SIGKILL)
                if kind == 'transition' and payload.get('exit_signal') == 9:
                    break
    crash = seen[-1][1]
    assert crash['service'] == 'victim' and crash['from'] == 'running'


BUSY = ('import time\nwhile True:\n    end = time.monotonic() + 0.05\n'
        '    while time.monotonic() < end:\n        pass\n    time.sleep(0.05)')


def test_what_changed_between_whole_statuses_reaches_the_stream_and_the_list(stack):
    """Usage moves every metrics pass; it travels on ~/status_updates, not in the whole
    ~/status (every 10 s), and the event stream passes it on as a partial frame.
    """
    s = stack([py(SLEEP, name='idle', autostart=True), py(BUSY, name='busy', autostart=True)])
    partial = None
    with httpx.stream('GET', s.url + '/api/services/events', timeout=30) as response:
        kind = None
        for line in response.iter_lines():
            if line.startswith('event: '):
                kind = line[len('event: '):]
            elif line.startswith('data: ') and kind == 'status':
                payload = json.loads(line[len('data: '):])
                if payload.get('partial'):
                    named = {x['name']: x for x in payload['services']}
                    if named.get('busy', {}).get('cpu_percent', 0) > 0 and 'idle' not in named:
                        partial = named['busy']
                        break
    assert partial is not None and partial['status'] == 'running'
    s.wait_for(lambda: s.service('busy')['cpu_percent'] > 0, 'the CPU figure in the list')
    idle = s.service('idle')
    assert idle['status'] == 'running' and idle['uptime_sec'] > 0


def test_a_quiet_stream_says_alive_while_the_orchestrator_is_there(stack):
    """Whole status frames can be 10 s apart: in between, `alive` tells the page that
    nothing changed (rather than that the stream or the orchestrator died).
    """
    s = stack([py(SLEEP, name='a', autostart=True)])
    s.wait_for(lambda: s.service('a')['pid'], 'a running')
    kinds = []
    with httpx.stream('GET', s.url + '/api/services/events', timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith('event: '):
                kinds.append(line[len('event: '):])
                if kinds[-1] == 'alive':
                    break
    assert kinds[0] == 'status' and 'unreachable' not in kinds


def test_orchestrator_gone_is_503_and_said_on_the_event_stream_then_back(stack):
    s = stack([py(SLEEP, name='a', autostart=True)])
    with httpx.stream('GET', s.url + '/api/services/events', timeout=30) as events:
        lines = events.iter_lines()
        assert next(line for line in lines if line.startswith('event: ')) == 'event: status'
        s.orchestrator.send_signal(signal.SIGINT)
        assert 'event: unreachable' in (line for line in lines
                                        if line.startswith('event: ')
                                        and line != 'event: status')
    s.orchestrator.wait(30)
    s.procs.remove(s.orchestrator)
    response = s.wait_for(lambda: (r := s.get('/api/services/list')).status_code == 503 and r,
                          'sidecar reports the orchestrator gone', timeout=20)
    assert response.json()['error_code'] == 'orchestrator_unreachable'
    assert s.post('/api/services/start/a').status_code == 503
    assert s.get('/api/health').json() == {'ok': True, 'sidecar': 'up',
                                           'orchestrator_reachable': False}
    s.start_orchestrator()          # and back: the sidecar follows by itself
    s.wait_for(lambda: s.get('/api/services/list').status_code == 200, 'reachable again')
    s.wait_for(lambda: s.service('a')['status'] == 'running', 'a running again')
    assert s.get('/api/health').json()['orchestrator_reachable'] is True


def test_a_frozen_orchestrator_is_unreachable_once_its_lease_lapses_then_back(stack):
    """Its liveliness, asserted from the engine's loop, lapses when the process stops
    (SIGSTOP: as a wedged engine would); last seen a lease before that.
    """
    s = stack([py(SLEEP, name='a', autostart=True)])
    s.wait_for(lambda: s.service('a')['pid'], 'a running')
    s.orchestrator.send_signal(signal.SIGSTOP)
    try:
        robot = s.wait_for(lambda: (r := s.get('/api/robots').json()['robots'][0])
                           ['reachable'] is False and r, 'the frozen orchestrator unreachable')
        assert robot['seen_ago_sec'] >= LEASE - 1.0
        assert s.get('/api/services/list').status_code == 503
    finally:
        s.orchestrator.send_signal(signal.SIGCONT)
    s.wait_for(lambda: s.get('/api/services/list').status_code == 200, 'reachable again')
    assert s.get('/api/robots').json()['robots'][0]['seen_ago_sec'] == 0.0


def test_token_is_required_for_changes(stack):
    s = stack([py(SLEEP, name='a')], token='robot-secret')
    assert s.get('/api/services/list').status_code == 200
    assert s.post('/api/services/start/a').status_code == 401
    ok = s.post('/api/services/start/a', headers={'Authorization': 'Bearer robot-secret'})
    assert ok.status_code == 200
    assert 'robot-secret' not in s.logs()


def test_sidecar_stops_promptly_with_an_event_stream_open(stack):
    s = stack([py(SLEEP, name='a')])
    with httpx.stream('GET', s.url + '/api/services/events', timeout=30) as events:
        next(line for line in events.iter_lines() if line.startswith('event: '))
        s.sidecar.send_signal(signal.SIGINT)
        assert s.sidecar.wait(15) == 0     # the stream is closed after a short grace period


def test_ctrl_c_stops_the_sidecar_quietly_with_a_page_open(stack):
    import socket
    s = stack([py(SLEEP, name='camera', autostart=True)])
    page = socket.create_connection(('127.0.0.1', s.port))   # an open event stream
    page.sendall(b'GET /api/services/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    assert b'200 OK' in page.recv(4096)
    s.sidecar.send_signal(signal.SIGINT)
    s.sidecar.send_signal(signal.SIGINT)     # a terminal and `ros2 run` both forward Ctrl-C
    assert s.sidecar.wait(10) == 0
    page.close()
    log = (s.folder / 'sidecar.log').read_text()
    assert 'Traceback' not in log, log
