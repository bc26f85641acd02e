"""What probes cost the engine: CPU of the orchestrator with N probed services vs none.

    .venv/bin/python bench/probe_cost.py [--services 50] [--seconds 20] [--runs 3]

Runs the orchestrator (`--no-ros`, the engine alone) over N services that each listen on a
port, once without probes and once with a tcp readiness and a tcp liveness probe every
second on each (2N checks/s), and reads the orchestrator's CPU time over the same window.
The difference divided by the checks made is the cost of one tcp check; medians of --runs.
"""

import argparse
import json
import os
from pathlib import Path
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchstack import free_port, ROOT, SERVICE_PYTHON

LISTEN = ('import socket, sys, time\ns = socket.socket()\n'
          's.bind(("127.0.0.1", int(sys.argv[1])))\ns.listen()\ntime.sleep(3600)')


def registry(count: int, probed: bool) -> dict:
    services = []
    for index in range(count):
        port = free_port()
        service = {'name': f's{index}', 'cmd': SERVICE_PYTHON, 'autostart': True,
                   'args': ['-c', LISTEN, str(port)], 'port': port}
        if probed:
            probe = {'type': 'tcp', 'interval': 1.0, 'timeout': 1.0}
            service.update(readiness_probe=probe, liveness_probe=dict(probe,
                                                                       failure_threshold=3))
        services.append(service)
    return {'services': services}


def cpu_seconds(count: int, probed: bool, seconds: float) -> float:
    folder = Path(tempfile.mkdtemp(prefix='omega-probe-bench-'))
    (folder / 'r.json').write_text(json.dumps(registry(count, probed)))
    proc = subprocess.Popen([sys.executable, '-m', 'omega_orchestrator', '--no-ros',
                             '--registry', str(folder / 'r.json'), '--log-dir',
                             str(folder / 'logs')], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        me = psutil.Process(proc.pid)
        deadline = time.monotonic() + 30
        while len(me.children()) < count + 1 and time.monotonic() < deadline:   # + guardian
            time.sleep(0.1)
        time.sleep(3)          # start-up settles; the first probes ran
        before = me.cpu_times()
        time.sleep(seconds)
        after = me.cpu_times()
        return (after.user + after.system) - (before.user + before.system)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--services', type=int, default=50)
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    bare, probed = [], []
    for run in range(args.runs):
        bare.append(cpu_seconds(args.services, False, args.seconds))
        probed.append(cpu_seconds(args.services, True, args.seconds))
        print(f'run {run + 1}: {bare[-1]:.3f} s without probes, {probed[-1]:.3f} s with',
              file=sys.stderr)
    checks = 2 * args.services * args.seconds
    extra = statistics.median(p - b for p, b in zip(probed, bare, strict=True))
    print(f'| services | probes/s | engine CPU without | with | per tcp check |\n'
          f'| --- | --- | --- | --- | --- |\n'
          f'| {args.services} | {2 * args.services} | '
          f'{100 * statistics.median(bare) / args.seconds:.2f} % | '
          f'{100 * statistics.median(probed) / args.seconds:.2f} % | '
          f'{1e6 * extra / checks:.0f} us |')


if __name__ == '__main__':
    main()
