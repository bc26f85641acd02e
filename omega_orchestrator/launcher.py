"""`python -m omega_orchestrator.launcher`: the orchestrator and its sidecar, together.

What `scripts/run` starts when no ROS 2 install (and so no `ros2 launch`) is at hand:
SIGINT/SIGTERM go to both; the sidecar is stopped once the orchestrator has stopped its
services. Options it does not know are passed on to the orchestrator.
"""

import argparse
import signal
import subprocess
import sys


def main(argv: list[str] | None = None) -> int:
    """Run both processes until a signal or until the orchestrator exits."""
    parser = argparse.ArgumentParser(prog='omega_orchestrator.launcher')
    parser.add_argument('--api-host', default='127.0.0.1')
    parser.add_argument('--api-port', default='8080')
    args, orchestrator_args = parser.parse_known_args(argv)
    # own sessions: a terminal's Ctrl-C reaches only us, and we forward it exactly once
    orchestrator = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator', *orchestrator_args],
        start_new_session=True)
    sidecar = subprocess.Popen(
        [sys.executable, '-m', 'omega_orchestrator.sidecar', '--host', args.api_host,
         '--port', str(args.api_port)], start_new_session=True)
    signalled: set[int] = set()

    def forward(signum: int, _frame: object) -> None:
        # the orchestrator first: the API keeps showing the services while they stop
        if orchestrator.poll() is None and orchestrator.pid not in signalled:
            signalled.add(orchestrator.pid)
            orchestrator.send_signal(signum)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    status = orchestrator.wait()
    if sidecar.poll() is None and sidecar.pid not in signalled:
        sidecar.send_signal(signal.SIGINT)
    try:
        sidecar.wait(10)
    except subprocess.TimeoutExpired:
        sidecar.kill()
    return status


if __name__ == '__main__':
    sys.exit(main())
