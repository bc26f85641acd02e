"""`omega-services --robot NAME` and `omega-services robots`.

The client's side first, in process against a scripted sidecar (httpx.MockTransport): which
requests each command sends, the table, the exit codes, the errors. Then the fleet end to end:
two robots, each a real orchestrator, behind one real sidecar.
"""

from collections.abc import Callable
import functools
import json
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest

from omega_orchestrator import client
from test.support import py

SLEEP = 'import time\nprint("hello", flush=True)\ntime.sleep(600)'
ODD = 'lab/b&c=d e?'     # names hold '/' ('lab/r1'); whatever else, a key that survives the URL


def robot(name: str, local: bool = False, reachable: bool = True,
          seen_ago_sec: float | None = 0.4, writable: bool = True) -> dict:
    """A robot of GET /api/robots, as the API describes it."""
    return {'name': name, 'orchestrator': f'/{name}/omega_orchestrator', 'local': local,
            'reachable': reachable, 'writable': writable,
            'last_seen': None if seen_ago_sec is None else '2026-12-01T23:20:01.123Z',
            'seen_ago_sec': seen_ago_sec,
            'services': {'total': 12, 'running': 10, 'unhealthy': 1, 'failed': 1,
                         'stopped': 1}}


def fleet_answer(*robots: dict) -> dict:
    local = next((r['name'] for r in robots if r['local']), None)
    return {'ok': True, 'local': local, 'count': len(robots), 'robots': list(robots)}


FLEET = fleet_answer(robot('alpha', local=True), robot('beta'), robot(ODD))


class ScriptedSidecar:
    """Answers as a sidecar does (one that knows fleets, or an older one); keeps each request."""

    def __init__(self, fleet: dict | None = FLEET) -> None:
        self.fleet = fleet
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == '/api/robots':
            if self.fleet is None:
                return httpx.Response(404, json={'ok': False, 'error': 'Not Found',
                                                 'error_code': 'not_found'})
            return httpx.Response(200, json=self.fleet)
        named = request.url.params.get('robot')
        if named is not None and named not in {r['name'] for r in (self.fleet or FLEET)['robots']}:
            return httpx.Response(404, json={'ok': False, 'error': f"no robot named '{named}'",
                                             'error_code': 'not_found'})
        return httpx.Response(200, json=self._answer(path))

    @staticmethod
    def _answer(path: str) -> dict:
        name = path.rsplit('/', 1)[-1]
        if path.startswith('/api/services/logs/'):
            return {'ok': True, 'service': name, 'logs': {'stdout': ['hello'], 'stderr': []}}
        if path.startswith('/api/services/health/'):
            return {'ok': True, 'service': name, 'health': {'healthy': True, 'message': 'ok'}}
        if path == '/api/services/list':
            return {'ok': True, 'services': [], 'count': 0}
        service = {'name': name, 'status': 'running', 'pid': 7, 'cpu_percent': 0.0,
                   'memory_mb': 1.0, 'restart_count': 0, 'uptime_sec': 1.0, 'health': None}
        return {'ok': True, 'message': 'accepted', 'services': [name], 'service': service}

    def sent(self, prefix: str = '/api/services/') -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.startswith(prefix)]


@pytest.fixture
def sidecar(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ScriptedSidecar]:
    """The CLI's Api goes to a ScriptedSidecar instead of the network."""
    monkeypatch.delenv('OMEGA_ROBOT', raising=False)
    monkeypatch.delenv('OMEGA_API_TOKEN', raising=False)
    monkeypatch.delenv('OMEGA_API_URL', raising=False)

    def use(fleet: dict | None = FLEET) -> ScriptedSidecar:
        scripted = ScriptedSidecar(fleet)
        monkeypatch.setattr(client, 'Api', functools.partial(
            client.Api, transport=httpx.MockTransport(scripted)))
        return scripted
    return use


COMMANDS: list[tuple[list[str], dict[str, str]]] = [
    (['list'], {}),
    (['status', 'cam'], {}),
    (['health', 'cam'], {}),
    (['start', 'cam'], {}),
    (['restart', 'cam'], {}),
    (['stop', 'cam', '--force'], {'force': 'true'}),
    (['logs', 'cam', '-n', '7'], {'lines': '7'}),
    (['reload'], {}),
    (['maintenance', 'cam', 'on'], {'enabled': 'true'}),
    (['group', 'arm', 'restart'], {}),
]


@pytest.mark.parametrize(('argv', 'params'), COMMANDS, ids=lambda v: ' '.join(v)
                         if isinstance(v, list) else '')
def test_every_command_names_the_robot(sidecar, argv, params):
    scripted = sidecar()
    assert client.main(['--robot', ODD, *argv]) == client.EXIT_OK
    first, *rest = scripted.requests
    assert first.url.path == '/api/robots' and not first.url.params   # asked once, first
    assert len(rest) == 1 and rest[0].url.path.startswith('/api/services/')
    assert dict(rest[0].url.params) == {**params, 'robot': ODD}      # encoded, and beside them
    assert b'&c=' not in rest[0].url.query


def test_without_a_robot_the_requests_are_as_before(sidecar):
    scripted = sidecar()
    assert client.main(['stop', 'cam', '--force']) == client.EXIT_OK
    [only] = scripted.requests
    assert only.url.path == '/api/services/stop/cam' and dict(only.url.params) == {
        'force': 'true'}


def test_the_robot_comes_from_omega_robot_unless_given(sidecar, monkeypatch):
    scripted = sidecar()
    monkeypatch.setenv('OMEGA_ROBOT', 'beta')
    assert client.main(['list']) == client.EXIT_OK
    assert client.main(['--robot', 'alpha', 'list']) == client.EXIT_OK
    assert [r.url.params['robot'] for r in scripted.sent()] == ['beta', 'alpha']
    monkeypatch.setenv('OMEGA_ROBOT', '')          # set but empty: the sidecar's own robot
    assert client.main(['list']) == client.EXIT_OK
    assert 'robot' not in scripted.sent()[-1].url.params


def test_follow_keeps_naming_the_robot(sidecar, monkeypatch):
    scripted = sidecar()
    naps: list[float] = []

    def nap(seconds: float) -> None:               # the polling pause; the third is Ctrl-C
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt
    monkeypatch.setattr(client.time, 'sleep', nap)
    assert client.main(['--robot', 'beta', 'logs', 'cam', '-f']) == client.EXIT_OK
    polls = scripted.sent()
    assert [dict(r.url.params) for r in polls] == [{'lines': '50', 'robot': 'beta'}] + [
        {'lines': '200', 'robot': 'beta'}] * 2
    assert len(scripted.sent('/api/robots')) == 1


def test_an_unknown_robot_says_what_the_api_said(sidecar, capsys):
    scripted = sidecar()
    assert client.main(['--robot', 'ghost', 'stop', 'cam']) == client.EXIT_REFUSED
    assert capsys.readouterr().err == "error: no robot named 'ghost'\n"
    assert scripted.sent()[0].url.params['robot'] == 'ghost'


def test_a_sidecar_without_fleets_is_never_sent_a_robot(sidecar, capsys):
    """An older sidecar ignores ?robot=: the stop would land on its own robot."""
    scripted = sidecar(fleet=None)
    assert client.main(['--robot', 'beta', 'stop', 'cam']) == client.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f'error: the API at {client.DEFAULT_URL} has no /api/robots: its '
                          'sidecar is older than fleets') and err.count('\n') == 1
    assert not scripted.sent()
    assert client.main(['robots']) == client.EXIT_USAGE
    assert 'older than fleets' in capsys.readouterr().err


def test_robots_table_and_exit_code(sidecar, capsys):
    sidecar(fleet_answer(robot('alpha', local=True), robot('beta', writable=False),
                         robot('gamma', reachable=False, seen_ago_sec=42.7),
                         robot('delta', reachable=False, seen_ago_sec=None)))
    assert client.main(['--robot', 'beta', 'robots']) == client.EXIT_REFUSED
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ['NAME', 'LOCAL', 'RUNNING', 'UNHEALTHY', 'FAILED', 'TOTAL',
                              'STATE']
    assert [row.split(maxsplit=6) for row in rows] == [
        ['alpha', 'yes', '10', '1', '1', '12', 'reachable'],
        ['beta', '-', '10', '1', '1', '12', 'reachable (read-only)'],
        ['gamma', '-', '10', '1', '1', '12', 'unreachable (last seen 42s ago)'],
        ['delta', '-', '10', '1', '1', '12', 'unreachable (never seen)'],
    ]


def test_robots_exit_0_when_all_are_reachable_and_json_is_the_answer(sidecar, capsys):
    scripted = sidecar()
    assert client.main(['robots']) == client.EXIT_OK
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[1:]] == ['alpha', 'beta', ODD.split()[0]]
    scripted.fleet = fleet_answer(robot('alpha', local=True),
                                  robot('beta', reachable=False, seen_ago_sec=3.0))
    assert client.main(['--json', 'robots']) == client.EXIT_REFUSED
    assert json.loads(capsys.readouterr().out) == scripted.fleet


def test_robots_without_an_api(monkeypatch, capsys):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError('connection refused', request=request)
    monkeypatch.setattr(client, 'Api', functools.partial(
        client.Api, transport=httpx.MockTransport(refuse)))
    assert client.main(['--url', 'http://127.0.0.1:9', 'robots']) == client.EXIT_UNREACHABLE
    assert 'cannot reach the API at http://127.0.0.1:9' in capsys.readouterr().err


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    """The installed command's code in its own process, with no OMEGA_* settings of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('OMEGA_')}
    return subprocess.run([sys.executable, '-m', 'omega_orchestrator.client', '--url', url,
                           *args], env=env, capture_output=True, text=True, timeout=60)


def robots_of(fleet: Any) -> dict[str, dict]:
    answer = fleet.get('/api/robots')
    return {r['name']: r for r in answer.json()['robots']} if answer.status_code == 200 else {}


def service_on(fleet: Any, robot_name: str, name: str) -> dict | None:
    answer = fleet.get(f'/api/services/status/{name}?robot={robot_name}')
    return answer.json()['service'] if answer.status_code == 200 else None


@pytest.mark.ros
def test_fleet_end_to_end(fleet):
    """One sidecar on alpha; --robot beta stops beta's camera only; `robots` sees beta go."""
    f = fleet({'alpha': [py(SLEEP, name='camera', autostart=True)],
               'beta': [py(SLEEP, name='camera', autostart=True)]}, local='alpha')
    running = {'alpha': 0, 'beta': 0}
    for name in running:
        running[name] = f.wait_for(lambda n=name: (s := service_on(f, n, 'camera'))
                                   and s['status'] == 'running' and s['pid'],
                                   f"{name}'s camera running", timeout=60)
    stopped = cli(f.url, '--robot', 'beta', 'stop', 'camera')
    assert stopped.returncode == 0, stopped.stderr
    f.wait_for(lambda: (s := service_on(f, 'beta', 'camera')) and s['status'] == 'stopped',
               "beta's camera stopped", timeout=60)
    alpha = service_on(f, 'alpha', 'camera')
    assert alpha and alpha['status'] == 'running' and alpha['pid'] == running['alpha']
    unknown = cli(f.url, '--robot', 'ghost', 'list')
    assert unknown.returncode == 1 and 'no robot named' in unknown.stderr

    f.wait_for(lambda: f.reachable() == {'alpha', 'beta'}, 'both robots reachable', timeout=60)
    listed = cli(f.url, 'robots')
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == {'alpha', 'beta'}
    assert rows['alpha'].split()[1] == 'yes' and rows['beta'].split()[1] == '-'
    assert all(line.endswith('  reachable') for line in rows.values()), listed.stdout

    f.stop_robot('beta')
    f.wait_for(lambda: (r := robots_of(f).get('beta')) and not r['reachable'],
               '/api/robots: beta unreachable', timeout=90)
    gone = cli(f.url, 'robots')
    assert gone.returncode == 1, gone.stdout + gone.stderr
    rows = {line.split()[0]: line for line in gone.stdout.splitlines()[1:]}
    assert rows['alpha'].endswith('  reachable')
    assert '  unreachable (' in rows['beta'], gone.stdout
