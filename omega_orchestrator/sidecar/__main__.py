"""`python -m omega_orchestrator.sidecar [--host H] [--port P] [--orchestrator NAME]`."""

import argparse
import logging
import os
import sys

from omega_orchestrator.sidecar.security import is_loopback


def build_parser() -> argparse.ArgumentParser:
    """The sidecar's command line."""
    parser = argparse.ArgumentParser(
        prog='omega_orchestrator.sidecar',
        description='REST API and /services page for an Omega Orchestrator, over ROS 2.')
    parser.add_argument('--host', default='127.0.0.1', help='listen address (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=8080, help='listen port (default 8080)')
    parser.add_argument('--orchestrator', default='/omega_orchestrator',
                        help='fully qualified name of the orchestrator node')
    parser.add_argument('--token-env', default='OMEGA_API_TOKEN',
                        help='environment variable holding the API token '
                             '(required to listen beyond loopback)')
    parser.add_argument('--cors-origin', action='append', default=[],
                        help='allow this browser origin (repeatable; default: none)')
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='seconds to wait for an orchestrator answer (default 10)')
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: check the security settings, then serve until SIGINT/SIGTERM."""
    raw = list(sys.argv[1:] if argv is None else argv)
    ros_args = raw[raw.index('--ros-args'):] if '--ros-args' in raw else []
    args = build_parser().parse_args(raw[:len(raw) - len(ros_args)])
    token = os.environ.get(args.token_env) or None
    if not is_loopback(args.host) and not token:
        print(f'error: refusing to listen on {args.host} without a token: set '
              f'{args.token_env} (every state-changing request will need it)', file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: '
                                                   '%(message)s')
    import uvicorn

    from omega_orchestrator.sidecar.app import create_app, Settings
    from omega_orchestrator.sidecar.gateway import RosGateway
    gateway = RosGateway(args.orchestrator, timeout=args.timeout,
                         ros_args=['omega_sidecar'] + ros_args)
    try:
        hosts = ('127.0.0.1', 'localhost', '::1') if is_loopback(args.host) else ()
        app = create_app(gateway, Settings(token=token, cors_origins=tuple(args.cors_origin),
                                           allowed_hosts=hosts))
        # open event streams never end by themselves: give them 3 s, then close them
        uvicorn.run(app, host=args.host, port=args.port, log_level='info',
                    timeout_graceful_shutdown=3)
    finally:
        gateway.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
