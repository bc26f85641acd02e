"""Side-by-side benchmark: the Omega orchestrator against supervisord, circus and ros2 launch.

Run from the repository root with the project venv's interpreter::

    .venv/bin/python bench/run_bench.py
        [--only omega omega-engine supervisord circus ros2-launch]
        [--idle-seconds 20] [--kills 30] [--json bench/results.json]

Each supervisor is treated as an external process; its children are observed
with psutil by the ``--tag`` in their argv (see bench/README.md). The Markdown
table goes to stdout, progress to stderr, raw numbers to the JSON file. A side
that cannot run here (no ``ros2`` on PATH, circus not installable) is one
``skipped`` line and a ``skipped`` column. ``bench/all.py`` runs this and the rest.
"""

import argparse
from collections.abc import Callable
from dataclasses import asdict
import json
import os
from pathlib import Path
import platform
import signal
import socket
import sys
import time
from types import FrameType

from benchkit import supervisors
from benchkit.procs import sweep
from benchkit.report import log, markdown_table, Results, rows
from benchkit.scenarios import run_crash, run_fleet, run_orphans
from benchkit.sides import check_sides, ORDER, skip_line, SUPERVISORS
from benchkit.supervisors import Supervisor

BENCH_DIR = Path(__file__).resolve().parent
FLEET_SIZE = 50
CRASH_SIZE = 10
ORPHAN_SIZE = 10

Scenario = Callable[[Supervisor, str], dict[str, object]]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', nargs='+', choices=ORDER, metavar='SIDE',
                        help=f'run these sides only (of {", ".join(ORDER)})')
    parser.add_argument(
        '--idle-seconds', type=float, default=20.0, help='idle CPU window (default 20)'
    )
    parser.add_argument('--kills', type=int, default=30, help='crash kills (default 30)')
    parser.add_argument('--light-children', action='store_true',
                        help='start children with python -S -E (cheap start-up), to see the '
                             "supervisors' own start/stop cost rather than the children's")
    parser.add_argument(
        '--json',
        type=Path,
        default=BENCH_DIR / 'results.json',
        help='raw results file (default bench/results.json)',
    )
    args = parser.parse_args()
    if args.kills < 1 or args.idle_seconds <= 0:
        parser.error('--kills must be >= 1 and --idle-seconds > 0')
    return args


def scenario_table(kills: int, idle_seconds: float) -> dict[str, Scenario]:
    """Scenario name -> callable(supervisor, tag prefix) returning the raw result."""
    return {
        'crash': lambda sup, prefix: asdict(run_crash(sup, prefix, CRASH_SIZE, kills)),
        'fleet': lambda sup, prefix: asdict(run_fleet(sup, prefix, FLEET_SIZE, idle_seconds)),
        'orphans': lambda sup, prefix: asdict(run_orphans(sup, prefix, ORPHAN_SIZE)),
    }


def run_one(sup: Supervisor, name: str, scenario: Scenario, prefix: str) -> dict[str, object]:
    """Run one scenario for one supervisor; a failure becomes ``{'error': ...}``."""
    log(f'[{sup.label}] {name} ...')
    started = time.monotonic()
    try:
        result = scenario(sup, prefix)
    except Exception as exc:
        log(f'[{sup.label}] {name} FAILED: {exc}')
        return {'error': str(exc)}
    log(f'[{sup.label}] {name} done in {time.monotonic() - started:.1f} s')
    return result


def run_all(sides: list[str], skipped: dict[str, str], scenarios: dict[str, Scenario],
            run_prefix: str) -> Results:
    """Every scenario, each run for every side in turn (scenario-major order).

    A side in ``skipped`` gets ``{'skipped': reason}`` for every scenario instead.
    """
    results: Results = {side: {} for side in sides}
    for name, scenario in scenarios.items():
        for side in sides:
            if side in skipped:
                results[side][name] = {'skipped': skipped[side]}
                continue
            prefix = f'{run_prefix}{side}-{name}-'
            results[side][name] = run_one(SUPERVISORS[side](), name, scenario, prefix)
    return results


def metadata(sides: list[str], skipped: dict[str, str],
             args: argparse.Namespace) -> dict[str, object]:
    """Where and how the benchmark ran."""
    versions = {side: 'skipped' if side in skipped else safe_version(SUPERVISORS[side]())
                for side in sides}
    return {
        'time_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'host': socket.gethostname(),
        'platform': platform.platform(),
        'cpus': os.cpu_count(),
        'load_average': os.getloadavg(),
        'python': sys.version.split()[0],
        'python_executable': sys.executable,
        'versions': versions,
        'skipped': skipped,
        'sizes': {'fleet': FLEET_SIZE, 'crash': CRASH_SIZE, 'orphans': ORPHAN_SIZE},
        'args': {'only': args.only, 'idle_seconds': args.idle_seconds, 'kills': args.kills,
                 'light_children': args.light_children},
    }


def safe_version(sup: Supervisor) -> str:
    """Version string of ``sup``, or the error that prevented getting it."""
    try:
        return sup.version()
    except Exception as exc:
        return f'unknown ({exc})'


def exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so that every cleanup block runs."""
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP run the cleanup blocks, like Ctrl-C does."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, exit_on_signal)


def main() -> int:
    """Run the benchmark, print the table, write the JSON; exit code 1 on any error."""
    args = parse_args()
    if args.light_children:
        supervisors.CHILD_FLAGS[:] = ['-S', '-E']
    install_signal_handlers()
    sides = args.only or ORDER
    skipped = check_sides(sides)
    for side, reason in skipped.items():
        log(skip_line(side, reason))
    run_prefix = f'obench{os.getpid()}-'
    meta = metadata(sides, skipped, args)
    try:
        results = run_all(sides, skipped, scenario_table(args.kills, args.idle_seconds),
                          run_prefix)
    finally:
        leftovers = sweep(run_prefix)
        if leftovers:
            log(f'killed {leftovers} leftover tagged processes')
    args.json.write_text(json.dumps({'meta': meta, 'results': results}, indent=2) + '\n')
    log(f'raw results: {args.json}')
    print(markdown_table(results, rows(FLEET_SIZE, CRASH_SIZE, ORPHAN_SIZE)))
    for side, reason in skipped.items():
        print(f'\n{skip_line(side, reason)}')
    failed = any('error' in res for side in results.values() for res in side.values())
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
