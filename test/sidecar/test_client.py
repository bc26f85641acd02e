"""`omega-services` against the real stack: table, JSON, exit codes, token, follow logic."""

import json
import subprocess
import sys

from omega_orchestrator.client import _new_lines
from test.support import py

SLEEP = 'import time\nprint("hello", flush=True)\ntime.sleep(600)'


def cli(s, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = dict(s.env, OMEGA_API_URL=s.url)
    env.pop('OMEGA_API_TOKEN', None)
    if token:
        env['OMEGA_API_TOKEN'] = token
    return subprocess.run([sys.executable, '-m', 'omega_orchestrator.client', *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_commands_and_exit_codes(stack):
    s = stack([py(SLEEP, name='camera', autostart=True), py(SLEEP, name='motors')])
    s.wait_for(lambda: s.service('camera')['pid'], 'camera running')
    listed = cli(s, 'list')
    assert listed.returncode == 0
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ['NAME', 'STATUS', 'PID']
    assert rows[0].split()[:2] == ['camera', 'running'] and rows[1].split()[:2] == [
        'motors', 'stopped']
    as_json = json.loads(cli(s, '--json', 'list').stdout)
    assert as_json['count'] == 2
    assert cli(s, 'start', 'motors').returncode == 0
    again = cli(s, 'start', 'motors')
    assert again.returncode == 1 and 'already running' in again.stderr
    assert cli(s, 'status', 'ghost').returncode == 1
    logs = s.wait_for(lambda: (r := cli(s, 'logs', 'camera')).stdout.strip() and r, 'logs')
    assert logs.stdout.splitlines() == ['hello']
    assert cli(s, 'health', 'camera').returncode == 0
    assert cli(s, 'stop', 'motors', '--force').returncode == 0
    unreachable = subprocess.run(
        [sys.executable, '-m', 'omega_orchestrator.client', '--url', 'http://127.0.0.1:9', 'list'],
        capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 3


def test_cli_groups_and_maintenance_over_ros(stack):
    """The CLI, the REST API, the sidecar's srv calls and the orchestrator's srv, end to end."""
    s = stack([py(SLEEP, name='driver', group='arm', restart_policy='always'),
               py(SLEEP, name='planner', group='arm', depends_on=['driver'])])
    started = cli(s, 'group', 'arm', 'start')
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "group 'arm': start of 2 service(s) accepted: driver, planner"
    s.wait_for(lambda: s.service('planner')['status'] == 'running', 'the group running')
    paused = cli(s, 'maintenance', 'driver', 'on')
    assert paused.returncode == 0 and "'driver' is in maintenance" in paused.stdout
    s.wait_for(lambda: s.service('driver')['maintenance'], 'maintenance in the status')
    assert '(maint.)' in cli(s, 'list').stdout
    assert cli(s, 'group', 'legs', 'stop').returncode == 1
    assert cli(s, 'group', 'arm', 'stop').returncode == 0
    s.wait_for(lambda: s.service('driver')['status'] == 'stopped', 'the group stopped')
    assert cli(s, 'maintenance', 'driver', 'off').returncode == 0


def test_cli_sends_the_token(stack):
    s = stack([py(SLEEP, name='a')], token='t0ken')
    assert cli(s, 'start', 'a').returncode == 4
    assert cli(s, 'start', 'a', token='t0ken').returncode == 0


def test_follow_prints_only_new_lines():
    assert _new_lines(['a', 'b', 'c'], ['b', 'c', 'd', 'e']) == ['d', 'e']
    assert _new_lines([], ['a']) == ['a']
    assert _new_lines(['x'], ['y']) == ['y']
    assert _new_lines(['a', 'b'], ['a', 'b']) == []
