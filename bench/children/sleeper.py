"""Benchmark child: print one line, then sleep forever.

The ``--tag`` value is only there so that the benchmark can find this process by
its command line; it is not used otherwise.

A failed announcement is ignored: an orphaned grandchild whose inherited stdout
pipe lost its reader (the supervisor exited) must keep sleeping instead of dying
of BrokenPipeError, or the benchmark would count it as cleaned up.
"""

import argparse
import os
import sys
import time


def announce(line: str) -> None:
    """Print ``line`` to stdout; if stdout is gone, silence it and carry on."""
    try:
        print(line, flush=True)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())


def main() -> None:
    """Announce the start on stdout and sleep until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--tag', required=True, help='identifier carried in argv')
    args = parser.parse_args()
    announce(f'sleeper {args.tag} started, pid {os.getpid()}')
    while True:
        time.sleep(3600)


if __name__ == '__main__':
    main()
