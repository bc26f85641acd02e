"""Soak, long form: the soak tests of test/test_soak.py with the counts of issue 9 and more.

    .venv/bin/python bench/soak.py [--cycles 10000] [--restarts 1000]

Runs on this machine's loopback only, bounded by the counts; prints pytest's verdict and
the time it took. CI runs the same tests with smaller counts.
"""

import argparse
import os
from pathlib import Path
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Run the soak tests with the given counts; returns pytest's exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cycles', type=int, default=10000, help='crash/restart cycles')
    parser.add_argument('--restarts', type=int, default=1000, help='REST restarts')
    args = parser.parse_args()
    env = dict(os.environ, OMEGA_SOAK_CYCLES=str(args.cycles),
               OMEGA_SOAK_RESTARTS=str(args.restarts),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    started = time.monotonic()
    status = subprocess.call([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                              '-o', 'timeout=7200', 'test/test_soak.py'], cwd=ROOT, env=env)
    print(f'soak: {args.cycles} crash cycles, {args.restarts} REST restarts: '
          f'{"passed" if status == 0 else "FAILED"} in {time.monotonic() - started:.0f} s')
    return status


if __name__ == '__main__':
    sys.exit(main())
