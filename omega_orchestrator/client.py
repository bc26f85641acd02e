"""`omega-services`: the command-line client, over the REST API.

    omega-services list | status NAME | start NAME | stop NAME [--force] | restart NAME
                  | logs NAME [-n N] [-f] | health NAME | reload | robots
                  [--json] [--url URL] [--robot NAME]

Exit codes: 0 ok, 1 the orchestrator refused (not found, wrong state, spawn failed, ...),
an unhealthy service (`health`) or an unreachable robot (`robots`), 2 bad usage (also: a
sidecar too old for --robot and `robots`), 3 the API or the orchestrator is unreachable,
4 not authorised.
The token comes from $OMEGA_API_TOKEN; the URL from --url or $OMEGA_API_URL; the robot from
--robot or $OMEGA_ROBOT (none: the sidecar's own).
"""

import argparse
from collections.abc import Sequence
import json
import os
import sys
import time
from typing import Any

import httpx

from omega_orchestrator import DEFAULT_API_PORT

DEFAULT_URL = f'http://127.0.0.1:{DEFAULT_API_PORT}'
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_UNAUTHORIZED = 0, 1, 2, 3, 4
EXIT_CODES = __doc__[__doc__.index('Exit codes'):]


class ApiError(Exception):
    """An error answer, with the exit code it maps to."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Api:
    """A thin client of /api/services (of one robot) and /api/robots."""

    def __init__(self, url: str, token: str | None, timeout: float = 15.0,
                 robot: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {'Authorization': f'Bearer {token}'} if token else {}
        self.http = httpx.Client(base_url=url.rstrip('/'), headers=headers, timeout=timeout,
                                 transport=transport)
        self.robot = robot or None
        self._fleet_checked = False

    def request(self, method: str, path: str, **params: Any) -> dict:
        """Send one request to /api/services/PATH; raise ApiError for anything but ok.

        With a robot, the request names it (`?robot=`); the sidecar is asked once first
        whether it knows robots at all: an older one would ignore the parameter and act on
        its own robot.
        """
        if self.robot:
            if not self._fleet_checked:
                self.robots()
                self._fleet_checked = True
            params['robot'] = self.robot
        return self._answer(self._send(method, f'/api/services/{path}', params))

    def robots(self) -> dict:
        """GET /api/robots: every robot the sidecar knows."""
        response = self._send('GET', '/api/robots', {})
        if response.status_code == 404:
            raise ApiError(f'the API at {self.http.base_url} has no /api/robots: its sidecar '
                           'is older than fleets (--robot and `robots` need a newer one)',
                           EXIT_USAGE)
        return self._answer(response)

    def _send(self, method: str, path: str, params: dict[str, Any]) -> httpx.Response:
        try:
            return self.http.request(method, path, params=params)
        except httpx.TransportError as exc:
            raise ApiError(f'cannot reach the API at {self.http.base_url}: {exc}',
                           EXIT_UNREACHABLE) from None

    @staticmethod
    def _answer(response: httpx.Response) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise ApiError(f'HTTP {response.status_code} without JSON', EXIT_REFUSED) from None
        if response.status_code == 401:
            raise ApiError(_said(body, 'unauthorised') + ' (set OMEGA_API_TOKEN)',
                           EXIT_UNAUTHORIZED)
        if response.status_code in (503, 504):
            raise ApiError(_said(body, 'orchestrator unreachable'), EXIT_UNREACHABLE)
        if not body.get('ok'):
            raise ApiError(_said(body, f'HTTP {response.status_code}'), EXIT_REFUSED)
        return body


def _said(body: dict, fallback: str) -> str:
    """The words of an error answer (`error` in the original's shape)."""
    return str(body.get('error') or body.get('message') or fallback)


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f'{seconds}s'
    if seconds < 3600:
        return f'{seconds // 60}m{seconds % 60:02d}s'
    return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'


def format_table(services: list[dict]) -> str:
    """A readable table of services."""
    rows = [('NAME', 'STATUS', 'PID', 'CPU%', 'MEM MB', 'RESTARTS', 'UPTIME', 'HEALTH')]
    for s in services:
        health = s['health']
        shown = '-' if health is None else \
            ('ok' if health['healthy'] else 'FAIL') + f": {health['message']}"
        state = s['status'] + (' (maint.)' if s.get('maintenance') else '')
        rows.append((s['name'], state, str(s['pid'] or '-'), f"{s['cpu_percent']:.1f}",
                     f"{s['memory_mb']:.1f}", str(s['restart_count']),
                     _age(s['uptime_sec']) if s['pid'] else '-', shown))
    return _columns(rows)


def format_robots(robots: list[dict]) -> str:
    """A readable table of robots: the local one marked, the unreachable ones with their age."""
    rows = [('NAME', 'LOCAL', 'RUNNING', 'UNHEALTHY', 'FAILED', 'TOTAL', 'STATE')]
    for r in robots:
        counts = r.get('services') or {}
        rows.append((r['name'], 'yes' if r.get('local') else '-',
                     *(str(counts.get(k, '-')) for k in ('running', 'unhealthy', 'failed',
                                                          'total')),
                     _robot_state(r)))
    return _columns(rows)


def _robot_state(robot: dict) -> str:
    if robot.get('reachable'):
        return 'reachable' if robot.get('writable', True) else 'reachable (read-only)'
    ago = robot.get('seen_ago_sec')
    return 'unreachable (never seen)' if ago is None else \
        f'unreachable (last seen {_age(ago)} ago)'


def _columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows aligned in columns; the last one, free text, is not padded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + '  ' + r[-1]
                     for r in rows)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(prog='omega-services', description=__doc__.split('\n')[0],
                                     epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--url', default=os.environ.get('OMEGA_API_URL', DEFAULT_URL))
    parser.add_argument('--robot', metavar='NAME', default=os.environ.get('OMEGA_ROBOT') or None,
                        help="act on this robot of the fleet (default: $OMEGA_ROBOT, else the "
                             "sidecar's own robot)")
    parser.add_argument('--json', action='store_true', help='print the raw JSON answer')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('list', help='all services')
    commands.add_parser(
        'robots', help='the robots of the fleet; exit code 1 when any is unreachable',
        description='The robots the sidecar knows, its own marked local, with their '
                    'services. Exit code 0 when every robot is reachable, 1 when any is '
                    'unreachable (also with --json), 3 when the API is. --robot is ignored.')
    for name in ('status', 'start', 'restart', 'health'):
        commands.add_parser(name, help=f'{name} one service').add_argument('name')
    stop = commands.add_parser('stop', help='stop one service')
    stop.add_argument('name')
    stop.add_argument('--force', action='store_true', help='SIGKILL at once')
    logs = commands.add_parser('logs', help='recent output of one service')
    logs.add_argument('name')
    logs.add_argument('-n', '--lines', type=int, default=50)
    logs.add_argument('-f', '--follow', action='store_true', help='keep printing new lines')
    commands.add_parser('reload', help='re-read the registry file')
    pause = commands.add_parser('maintenance', help="pause or resume a service's supervision")
    pause.add_argument('name')
    pause.add_argument('switch', choices=('on', 'off'))
    group = commands.add_parser('group', help='start, stop or restart a whole group')
    group.add_argument('group')
    group.add_argument('action', choices=('start', 'stop', 'restart'))
    return parser


def run(args: argparse.Namespace, api: Api, out: Any = sys.stdout) -> int:
    """Carry out one command; returns the exit code."""
    if args.command == 'logs':
        return _logs(args, api, out)
    if args.command == 'robots':
        return _robots(args, api, out)
    if args.command == 'list':
        body = api.request('GET', 'list')
        text = format_table(body['services'])
    elif args.command in ('status', 'health'):
        body = api.request('GET', f'{args.command}/{args.name}')
        text = format_table([body['service']]) if args.command == 'status' else \
            ('healthy' if body['health']['healthy'] else 'UNHEALTHY') + \
            f": {body['health']['message']}"
    elif args.command == 'reload':
        body = api.request('POST', 'reload')
        text = body['message']
    elif args.command == 'maintenance':
        body = api.request('POST', f'maintenance/{args.name}',
                           enabled='true' if args.switch == 'on' else 'false')
        text = body['message']
    elif args.command == 'group':
        body = api.request('POST', f'group/{args.group}/{args.action}')
        text = f"{body['message']}: {', '.join(body['services'])}"
    else:
        params = {'force': 'true'} if getattr(args, 'force', False) else {}
        body = api.request('POST', f'{args.command}/{args.name}', **params)
        text = body['message']
    print(json.dumps(body, indent=2) if args.json else text, file=out)
    if args.command == 'health' and not body['health']['healthy']:
        return EXIT_REFUSED
    return EXIT_OK


def _robots(args: argparse.Namespace, api: Api, out: Any) -> int:
    body = api.robots()
    print(json.dumps(body, indent=2) if args.json else format_robots(body['robots']), file=out)
    return EXIT_OK if all(r['reachable'] for r in body['robots']) else EXIT_REFUSED


def _logs(args: argparse.Namespace, api: Api, out: Any) -> int:
    body = api.request('GET', f'logs/{args.name}', lines=args.lines)
    if args.json and not args.follow:
        print(json.dumps(body, indent=2), file=out)
        return EXIT_OK
    seen: dict[str, list[str]] = {'stdout': [], 'stderr': []}
    while True:
        for stream in ('stdout', 'stderr'):
            lines = body['logs'][stream]
            new = _new_lines(seen[stream], lines)
            for line in new:
                print(f'[{stream}] {line}' if stream == 'stderr' else line, file=out,
                      flush=True)
            seen[stream] = lines
        if not args.follow:
            return EXIT_OK
        time.sleep(1.0)
        body = api.request('GET', f'logs/{args.name}', lines=200)


def _new_lines(old: list[str], new: list[str]) -> list[str]:
    """The lines of `new` after the longest suffix of `old` that starts `new`."""
    for start in range(len(old)):
        overlap = old[start:]
        if new[:len(overlap)] == overlap:
            return new[len(overlap):]
    return new


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    api = Api(args.url, os.environ.get('OMEGA_API_TOKEN'), robot=args.robot)
    try:
        return run(args, api, sys.stdout)
    except ApiError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
