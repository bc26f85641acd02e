"""`python -m omega_orchestrator.sidecar [--host H] [--port P] [--orchestrator NAME]`."""

import argparse
import asyncio
from collections.abc import Callable
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from omega_orchestrator import DEFAULT_API_PORT
from omega_orchestrator.robot_names import namespaced
from omega_orchestrator.sidecar.security import is_loopback


def build_parser() -> argparse.ArgumentParser:
    """The sidecar's command line."""
    parser = argparse.ArgumentParser(
        prog='omega_orchestrator.sidecar',
        description='REST API and /services page for an Omega Orchestrator, over ROS 2.')
    parser.add_argument('--host', default='127.0.0.1', help='listen address (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=DEFAULT_API_PORT,
                        help=f'listen port (default {DEFAULT_API_PORT})')
    parser.add_argument('--orchestrator', default='omega_orchestrator',
                        help="the local robot's orchestrator node; a relative name is resolved "
                             "in the sidecar's own namespace (default: omega_orchestrator). "
                             'Every other orchestrator on the domain is found by itself')
    parser.add_argument('--namespace', default=None, metavar='NS',
                        help="the ROS namespace of the sidecar's node (default: from the host "
                             "name, as the orchestrator's; `--ros-args -r __ns:=...` wins)")
    parser.add_argument('--token-env', default='OMEGA_API_TOKEN',
                        help='environment variable holding the API token '
                             '(required to listen beyond loopback)')
    parser.add_argument('--cors-origin', action='append', default=[], metavar='ORIGIN',
                        help='a browser origin allowed to call the API, e.g. '
                             'http://omega1.local:3000 (repeatable; default: none)')
    parser.add_argument('--allowed-host', action='append', default=[], metavar='NAME',
                        help='a Host name the API answers to besides the listen address and '
                             'loopback names, e.g. omega1.local (repeatable; default: any '
                             'name off loopback)')
    parser.add_argument('--open-writes-for-origins', action='store_true',
                        help='writes from a --cors-origin page need no token (for a web '
                             'client that sends none; any program can claim an Origin, so '
                             'only on a trusted network)')
    parser.add_argument('--token-for-logs', action='store_true',
                        help='reading logs needs the token too (a service may print secrets; '
                             'the page asks for it)')
    parser.add_argument('--control-discovery-range', default='LOCALHOST',
                        choices=('LOCALHOST', 'SUBNET', 'SYSTEM_DEFAULT', 'OFF', 'inherit'),
                        help="how far the sidecar's ROS node reaches; must match the "
                             "orchestrator's (default LOCALHOST)")
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='seconds to wait for an orchestrator answer (default 10)')
    return parser


def settings_from(args: argparse.Namespace, token: str | None) -> Any:
    """The app's Settings from the command line; warns about what weakens the defaults."""
    from omega_orchestrator.sidecar.app import Settings
    hosts: tuple[str, ...] = ()
    if is_loopback(args.host) or args.allowed_host:
        hosts = ('127.0.0.1', 'localhost', '::1', args.host, *args.allowed_host)
    if args.open_writes_for_origins:
        logging.getLogger('omega_orchestrator.sidecar').warning(
            'writes from %s need no token (--open-writes-for-origins): any program that '
            'claims one of these origins can change services', ', '.join(args.cors_origin)
            or 'no origin (none given)')
    return Settings(token=token, cors_origins=tuple(args.cors_origin), allowed_hosts=hosts,
                    open_writes_for_origins=args.open_writes_for_origins,
                    token_for_logs=args.token_for_logs)


class _Connections(set):
    """uvicorn's set of open connections, which says when the first one opens."""

    def __init__(self, on_first: Callable[[], None]) -> None:
        super().__init__()
        self._on_first = on_first

    def add(self, connection: Any) -> None:
        if not self:
            self._on_first()
        super().add(connection)


def make_quiet_server(uvicorn: Any) -> type:
    """Uvicorn's Server, but it sleeps while nobody is connected, a stop signal first ends
    the open event streams (so nothing is cancelled mid-response), and a repeated Ctrl-C (a
    terminal and `ros2 run` both send one) does not turn the orderly shutdown into an abort.
    """
    class QuietServer(uvicorn.Server):
        def __init__(self, config: Any, stopping: asyncio.Event) -> None:
            super().__init__(config)
            self.stopping = stopping
            self._wake = asyncio.Event()      # a stop, or a first connection
            self.server_state.connections = _Connections(self._wake.set)

        async def main_loop(self) -> None:
            """Uvicorn's loop wakes ten times a second to see whether to stop; this one
            wakes when told to stop, and while a connection is open once a second for the
            Date header (on_tick renews it when the counter is a multiple of ten). With no
            connection it sleeps until one opens: the Date is renewed then, before the
            request is read (the connection's first data comes in a later turn of the loop).
            """
            counter = 0
            should_exit = await self.on_tick(counter)
            while not should_exit:
                self._wake.clear()
                if self.server_state.connections:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), 1.0)
                elif not self.stopping.is_set():
                    await self._wake.wait()
                counter = (counter + 10) % 864000
                should_exit = await self.on_tick(counter)

        def handle_exit(self, sig: int, frame: Any) -> None:
            for event in (self.stopping, self._wake):
                try:     # a signal handler on the loop's thread: hand the event to the loop
                    asyncio.get_running_loop().call_soon_threadsafe(event.set)
                except RuntimeError:
                    event.set()
            if not self.should_exit:
                super().handle_exit(sig, frame)
    return QuietServer


def main(argv: list[str] | None = None) -> int:
    """Entry point: check the security settings, then serve until SIGINT/SIGTERM."""
    raw = list(sys.argv[1:] if argv is None else argv)
    ros_args = raw[raw.index('--ros-args'):] if '--ros-args' in raw else []
    args = build_parser().parse_args(raw[:len(raw) - len(ros_args)])
    ros_args, problem = namespaced(ros_args, args.namespace)
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 2
    token = os.environ.get(args.token_env) or None
    if args.token_for_logs and not token:
        print(f'error: --token-for-logs needs a token: set {args.token_env}', file=sys.stderr)
        return 2
    if not is_loopback(args.host) and not token:
        print(f'error: refusing to listen on {args.host} without a token: set '
              f'{args.token_env} (every state-changing request will need it)', file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: '
                                                   '%(message)s')
    import uvicorn
    QuietServer = make_quiet_server(uvicorn)  # noqa: N806 - a class

    from omega_orchestrator.ros import rosout
    from omega_orchestrator.sidecar.app import create_app
    from omega_orchestrator.sidecar.gateway import RosGateway
    if args.control_discovery_range != 'inherit':
        os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = args.control_discovery_range
    gateway = RosGateway(args.orchestrator, timeout=args.timeout,
                         ros_args=['omega_sidecar', *ros_args, *rosout.QUIET_CONSOLE])
    try:
        app = create_app(gateway, settings_from(args, token))
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level='info',
                                timeout_graceful_shutdown=3)
        # after uvicorn configured its loggers (it replaces their handlers): ours on /rosout
        for name in ('omega_orchestrator', 'uvicorn.error'):
            rosout.attach(logging.getLogger(name), gateway.node.get_logger())
        # uvicorn re-raises the stop signal to the handler it found once it has shut down:
        # let that be a no-op, so an orderly stop exits 0 instead of dying by the signal
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: None)
        QuietServer(config, app.state.stopping).run()
    finally:
        gateway.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
