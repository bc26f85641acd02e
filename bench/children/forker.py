"""Benchmark child: fork a grandchild that sleeps forever, then sleep forever too.

The grandchild execs ``sleeper.py --tag TAG-grandchild``; it stays in this
process's process group and session, so only a supervisor that signals the
whole group (or sweeps descendants) stops it together with this process.
"""

import argparse
import os
from pathlib import Path
import sys
import time

SLEEPER = Path(__file__).resolve().with_name('sleeper.py')


def main() -> None:
    """Fork the grandchild, announce the start and sleep until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--tag', required=True, help='identifier carried in argv')
    args = parser.parse_args()
    sys.stdout.flush()
    child = os.fork()
    if child == 0:
        grandchild_argv = [sys.executable, str(SLEEPER), '--tag', f'{args.tag}-grandchild']
        os.execv(sys.executable, grandchild_argv)
    print(f'forker {args.tag} started, pid {os.getpid()}, grandchild {child}', flush=True)
    while True:
        time.sleep(3600)


if __name__ == '__main__':
    main()
