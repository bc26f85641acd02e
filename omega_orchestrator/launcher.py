"""`python -m omega_orchestrator.launcher`: the orchestrator and its sidecar, together.

What `scripts/run` and the systemd unit start when no ROS 2 install (and so no `ros2 launch`)
is at hand. The registry is validated first: an invalid one exits 2 and starts nothing.
SIGINT/SIGTERM go to the orchestrator; the sidecar is stopped once the orchestrator has
stopped its services, and we exit with the orchestrator's status. A sidecar that dies before
it listens (a port in use, a public address without a token) stops the orchestrator: exit 1;
one that dies later is started again. systemd's notify variables reach the orchestrator only.
Options it does not know are passed on to the orchestrator.
"""

import argparse
import os
import select
import signal
import subprocess
import sys
import time

import psutil

from omega_orchestrator import DEFAULT_API_PORT
from omega_orchestrator.command_line import load_or_exit, split_ros_args
from omega_orchestrator.robot_names import given_namespace, given_rule, namespaced, NODE_NAME
from omega_orchestrator.runtime.sdnotify import VARIABLES

#: launcher option -> sidecar option (the sidecar's --orchestrator follows the ROS arguments)
SIDECAR_OPTIONS = {'--api-host': '--host', '--api-port': '--port', '--api-timeout': '--timeout',
                   '--token-env': '--token-env', '--cors-origin': '--cors-origin',
                   '--allowed-host': '--allowed-host',
                   '--open-writes-for-origins': '--open-writes-for-origins',
                   '--token-for-logs': '--token-for-logs',
                   '--control-discovery-range': '--control-discovery-range'}
DEFAULT_TOKEN_ENV = 'OMEGA_API_TOKEN'
SIDECAR_GRACE = 10.0     # seconds the sidecar gets to stop before SIGKILL
SIDECAR_RESTART = 1.0    # seconds before a sidecar that died after listening starts again
PROBE_INTERVAL = 0.2     # seconds between checks whether the sidecar listens yet


def build_parser() -> argparse.ArgumentParser:
    """The launcher's own options; everything else is the orchestrator's."""
    parser = argparse.ArgumentParser(
        prog='omega_orchestrator.launcher', allow_abbrev=False,
        description='Run the orchestrator and its REST sidecar; other options go to the '
                    'orchestrator (see python -m omega_orchestrator --help).')
    parser.add_argument('--registry', required=True, help='the service registry JSON file')
    parser.add_argument('--namespace', default=None, metavar='NS',
                        help="the ROS namespace of both nodes: the robot's name in a fleet "
                             '(default: from the host name; `--ros-args -r __ns:=` wins)')
    parser.add_argument('--api-host', default='127.0.0.1', help='sidecar listen address')
    parser.add_argument('--api-port', type=int, default=DEFAULT_API_PORT,
                        help=f'sidecar listen port (default {DEFAULT_API_PORT})')
    parser.add_argument('--api-timeout', help='sidecar: seconds to wait for the orchestrator')
    parser.add_argument('--token-env', help='sidecar: variable holding the API token')
    parser.add_argument('--cors-origin', action='append', default=[],
                        help='sidecar: allowed browser origin (repeatable)')
    parser.add_argument('--allowed-host', action='append', default=[],
                        help='sidecar: a Host name the API answers to (repeatable)')
    parser.add_argument('--open-writes-for-origins', action='store_const', const='',
                        help='sidecar: writes from --cors-origin pages need no token')
    parser.add_argument('--token-for-logs', action='store_const', const='',
                        help='sidecar: reading logs needs the token too')
    parser.add_argument('--control-discovery-range',
                        help='orchestrator and sidecar: how far their ROS nodes reach')
    return parser


def orchestrator_fqn(ros_args: list[str]) -> str:
    """The orchestrator node's name after `--ros-args -r __ns:=... -r __node:=...`."""
    namespace = given_namespace(ros_args) or ''
    node = given_rule(ros_args, '__node') or NODE_NAME
    return '/' + '/'.join([*(p for p in namespace.split('/') if p), node])


def sidecar_argv(args: argparse.Namespace, ros_args: list[str]) -> list[str]:
    """The sidecar's command line for the launcher's options."""
    argv = [sys.executable, '-m', 'omega_orchestrator.sidecar',
            '--orchestrator', orchestrator_fqn(ros_args)]
    for ours, theirs in SIDECAR_OPTIONS.items():
        value = getattr(args, ours.removeprefix('--').replace('-', '_'))
        for item in value if isinstance(value, list) else [value]:
            if item == '':        # a flag without a value
                argv.append(theirs)
            elif item is not None:
                argv += [theirs, str(item)]
    return argv


def exit_status(code: int) -> int:
    """A Popen returncode as a shell would report it (killed by signal N -> 128 + N)."""
    return 128 - code if code < 0 else code


class Sidecar:
    """The sidecar process: watched until it listens, started again if it dies after that."""

    def __init__(self, argv: list[str], port: int) -> None:
        self.argv, self.port = argv, port
        # systemd's notify socket and watchdog are the orchestrator's alone
        self.env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
        self.listened = False
        self.restart_at: float | None = None
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen:
        self.listened = False
        return subprocess.Popen(self.argv, env=self.env, start_new_session=True)

    def listening(self) -> bool:
        """Whether the sidecar has its listening socket (ours, not another process's)."""
        try:
            process = psutil.Process(self.proc.pid)
            # psutil < 6 (Ubuntu 22.04) names it connections()
            connections = getattr(process, 'net_connections', None) or process.connections
            sockets = connections('inet')
        except psutil.Error:
            return False
        return any(s.status == psutil.CONN_LISTEN and s.laddr and s.laddr.port == self.port
                   for s in sockets)

    def check(self, stopping: bool) -> int | None:
        """Look after the sidecar; an exit status when it died before ever listening."""
        if self.restart_at is not None:
            if not stopping and time.monotonic() >= self.restart_at:
                self.restart_at, self.proc = None, self._spawn()
            return None
        code = self.proc.poll()
        if code is None:
            if not self.listened and self.listening():
                self.listened = True
                print(f'omega_orchestrator.launcher: the sidecar (pid {self.proc.pid}) listens '
                      f'on port {self.port}', file=sys.stderr)
            return None
        if stopping:
            return None
        if not self.listened:
            return exit_status(code) or 1
        print(f'omega_orchestrator.launcher: the sidecar exited with status {code}; '
              f'starting it again in {SIDECAR_RESTART:g} s', file=sys.stderr)
        self.restart_at = time.monotonic() + SIDECAR_RESTART
        return None

    def timeout(self, stopping: bool) -> float | None:
        """How long the launcher may sleep before check() has something to do (None: until a
        process exits). A sidecar found exited here is news for check() at once (this poll
        collected it, so no exit will wake the launcher for it), unless stopping.
        """
        if self.restart_at is not None:
            return max(0.0, self.restart_at - time.monotonic())
        if self.proc.poll() is not None:
            return None if stopping else 0.0
        return None if self.listened else PROBE_INTERVAL

    def stop(self) -> None:
        """SIGINT, then SIGKILL after SIDECAR_GRACE seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(SIDECAR_GRACE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_any(procs: list[subprocess.Popen], timeout: float | None) -> None:
    """Sleep until one of the live procs exits or timeout seconds pass (or a signal came)."""
    fds: list[int] = []
    try:
        fds = [os.pidfd_open(proc.pid) for proc in procs if proc.poll() is None]
        select.select(fds, [], [], timeout)
    except OSError:       # no pidfd (Linux < 5.3): poll
        time.sleep(PROBE_INTERVAL if timeout is None else min(timeout, PROBE_INTERVAL))
    finally:
        for fd in fds:
            os.close(fd)


def main(argv: list[str] | None = None) -> int:
    """Run both processes until a signal or until the orchestrator exits."""
    ours, ros_args = split_ros_args(list(sys.argv[1:] if argv is None else argv))
    args, orchestrator_args = build_parser().parse_known_args(ours)
    ros_args, problem = namespaced(ros_args, args.namespace)     # one robot: both nodes in it
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 2
    load_or_exit(args.registry)           # exits 2 before anything is started
    token_env = args.token_env or DEFAULT_TOKEN_ENV
    shared = ['--control-discovery-range', args.control_discovery_range] \
        if args.control_discovery_range else []
    # own sessions: a terminal's Ctrl-C reaches only us, and we forward it exactly once;
    # the API token is the sidecar's: the orchestrator (and so every service) never sees it
    orchestrator = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator', '--registry', args.registry,
         '--drop-env', token_env, *shared, *orchestrator_args, *ros_args],
        env={k: v for k, v in os.environ.items() if k != token_env}, start_new_session=True)
    sidecar = Sidecar(sidecar_argv(args, ros_args), args.api_port)
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        # the orchestrator first: the API keeps showing the services while they stop
        if orchestrator.poll() is None and not stopping:
            stopping.append(signum)
            orchestrator.send_signal(signum)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    def pass_hangup(_signum: int, _frame: object) -> None:
        # SIGHUP (systemctl reload): the orchestrator reloads its registry; we stay as we are
        if orchestrator.poll() is None:
            orchestrator.send_signal(signal.SIGHUP)
    signal.signal(signal.SIGHUP, pass_hangup)
    failed = None
    while orchestrator.poll() is None and failed is None:
        wait_any([orchestrator, sidecar.proc], sidecar.timeout(bool(stopping)))
        if orchestrator.poll() is None:
            failed = sidecar.check(bool(stopping))
    if failed is not None:
        print(f'omega_orchestrator.launcher: the sidecar exited with status {failed} before '
              f'listening on port {args.api_port}; stopping the orchestrator', file=sys.stderr)
        forward(signal.SIGTERM, None)
    status = exit_status(orchestrator.wait())
    sidecar.stop()
    return 1 if failed is not None else status


if __name__ == '__main__':
    sys.exit(main())
