"""The whole benchmark of issue 12 in one command: every table, one JSON, the plots.

Run from the repository root with the project venv's interpreter::

    .venv/bin/python bench/all.py [--quick] [--parts sides storm memory scale floors]
        [--only SIDE ...] [--kills 30] [--idle-seconds 20] [--storm-seconds 60]
        [--restarts 10000] [--sizes 10 50 200 1000] [--json bench/results-all.json]
        [--plots bench/plots]

Parts, in this order (see bench/README.md):
- sides: run_bench.py's scenarios (crash, idle fleet, start/stop, grandchildren) side by
  side for omega, omega-engine, supervisord, circus and ros2 launch;
- storm: 10 sleepers beside 20 services crash-looping on /bin/false, for every side;
- memory: 10,000 restarts through the orchestrator and its sidecar, RSS/fds/threads sampled;
- scale: scale.py's measure() at 10, 50, 200, 1,000 services, with the ROS node and the
  sidecar, then the engine alone;
- floors: start-all of 50 Python services against 50 bare interpreters (start_floor.py), and
  idle at 50 against bare rclpy nodes and the sidecar's bare HTTP server (idle_floor.py);
then the plots (PNG, bench/.venv-plot with matplotlib) of every scale figure against the
number of services, and of the memory samples against the restarts.

Markdown goes to stdout as each part ends (the header first: date, CPU, cores, Python),
progress to stderr, everything raw to --json (rewritten after each part). --quick makes
every count and window small: a smoke run of a few minutes, not figures to publish.
"""

import argparse
from dataclasses import asdict
import json
import os
from pathlib import Path
import subprocess
import sys
import time

from benchkit.machine import header, machine
from benchkit.memory import run_memory
from benchkit.procs import sweep
from benchkit.report import (
    log,
    markdown_table,
    memory_caption,
    memory_table,
    Results,
    storm_rows,
)
from benchkit.scaling import scale_passes, scale_table
from benchkit.sides import check_sides, ORDER, skip_line, SUPERVISORS
from benchkit.storm import run_storm
from benchkit.supervisors import CHILD_FLAGS
from benchkit.venvs import PrivateVenv
import idle_floor
from run_bench import (
    CRASH_SIZE,
    FLEET_SIZE,
    install_signal_handlers,
    ORPHAN_SIZE,
    rows,
    run_all,
    run_one,
    safe_version,
    Scenario,
    scenario_table,
)
import scale
import start_floor

BENCH_DIR = Path(__file__).resolve().parent
PARTS = ('sides', 'storm', 'memory', 'scale', 'floors')
STORM_SLEEPERS = 10
FLOOR_SERVICES = 50
STORM_SIZE = 20
PLOT_VENV = PrivateVenv(BENCH_DIR / '.venv-plot',
                        ('-r', str(BENCH_DIR / 'requirements-plot.txt')))

#: Defaults of the full run, and of --quick; an explicit flag wins over both.
FULL = {'kills': 30, 'idle_seconds': 20.0, 'storm_seconds': 60.0, 'storm_stop_timeout': 30.0,
        'restarts': 10000, 'sizes': [10, 50, 200, 1000], 'scale_idle_seconds': 20.0,
        'requests': 300, 'start_floor_runs': 5, 'idle_floor_runs': 3,
        'idle_floor_seconds': 30.0}
QUICK = {'kills': 6, 'idle_seconds': 3.0, 'storm_seconds': 10.0, 'storm_stop_timeout': 20.0,
         'restarts': 1000, 'sizes': [10, 50], 'scale_idle_seconds': 3.0, 'requests': 50,
         'start_floor_runs': 1, 'idle_floor_runs': 1, 'idle_floor_seconds': 5.0}

HELP = {'kills': 'sides, storm: SIGKILLs of the sleepers, one at a time',
        'idle_seconds': 'sides: idle CPU window (s)',
        'storm_seconds': 'storm: the measured window (s)',
        'storm_stop_timeout': 'storm: seconds after SIGINT before "hangs"',
        'restarts': 'memory: restarts to drive',
        'scale_idle_seconds': 'scale: idle CPU window (s)',
        'requests': 'scale: GET /api/services/list requests per size',
        'start_floor_runs': 'floors: start-all runs against the bare interpreters',
        'idle_floor_runs': 'floors: idle runs against bare rclpy and uvicorn',
        'idle_floor_seconds': 'floors: each idle window (s)'}


def at_least_one(text: str) -> int:
    """A count of runs: a median needs one."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'at least 1, not {value}')
    return value


def parse_args() -> argparse.Namespace:
    """Command-line options; unset counts take the full or the --quick defaults."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='small counts and windows: '
                        + ', '.join(f'{k}={v}' for k, v in QUICK.items()))
    parser.add_argument('--parts', nargs='+', choices=PARTS, default=list(PARTS),
                        help='what to run (default: all)')
    parser.add_argument('--only', nargs='+', choices=ORDER, metavar='SIDE',
                        help=f'sides for the sides and storm parts (of {", ".join(ORDER)})')
    number = {'kills': int, 'restarts': int, 'requests': int, 'start_floor_runs': at_least_one,
              'idle_floor_runs': at_least_one}
    for key, value in FULL.items():
        if key == 'sizes':
            continue
        parser.add_argument('--' + key.replace('_', '-'), type=number.get(key, float),
                            help=f'{HELP[key]} (default {value:g}, --quick {QUICK[key]:g})')
    parser.add_argument('--sizes', type=int, nargs='+',
                        help=f'scale sizes (default {FULL["sizes"]}, --quick {QUICK["sizes"]})')
    parser.add_argument('--no-engine-only', action='store_true',
                        help='scale: skip the second pass without the ROS node')
    parser.add_argument('--soak-services', type=int, default=10,
                        help='memory: services restarting (default 10)')
    parser.add_argument('--soak-run', type=float, default=0.1,
                        help='memory: seconds each run lasts before it exits (default 0.1)')
    parser.add_argument('--soak-timeout', type=float, default=1800.0,
                        help='memory: give up after this many seconds (default 1800)')
    parser.add_argument('--light-children', action='store_true',
                        help='sides and storm: start the Python children with -S -E')
    parser.add_argument('--json', type=Path, default=BENCH_DIR / 'results-all.json',
                        help='raw results (default bench/results-all.json)')
    parser.add_argument('--plots', type=Path, default=BENCH_DIR / 'plots',
                        help='folder of the PNG plots (default bench/plots)')
    args = parser.parse_args()
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


class Run:
    """The document being built: printed part by part, saved after each part."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.machine = machine()
        self.meta: dict[str, object] = {'machine': self.machine, 'quick': args.quick,
                                        'args': vars(args).copy()}
        self.comparison: Results = {}
        self.doc: dict[str, object] = {'meta': self.meta, 'comparison': self.comparison}

    def emit(self, text: str) -> None:
        """A piece of the Markdown report, on stdout at once."""
        print(text, flush=True)

    def save(self) -> None:
        """Write the JSON as it stands."""
        self.args.json.write_text(json.dumps(self.doc, indent=2, default=str) + '\n')


def run_sides(run: Run, sides: list[str], skipped: dict[str, str], prefix: str) -> None:
    """run_bench.py's scenarios, side by side."""
    args = run.args
    results = run_all(sides, skipped, scenario_table(args.kills, args.idle_seconds), prefix)
    for side, scenarios in results.items():
        run.comparison.setdefault(side, {}).update(scenarios)
    run.emit(f'\n## Side by side\n\n{args.kills} kills, {args.idle_seconds:g} s idle window\n')
    run.emit(markdown_table(results, rows(FLEET_SIZE, CRASH_SIZE, ORPHAN_SIZE)))


def run_storms(run: Run, sides: list[str], skipped: dict[str, str], prefix: str) -> None:
    """The crash storm for every side, one after the other."""
    args = run.args
    for side in sides:
        if side in skipped:
            result: dict[str, object] = {'skipped': skipped[side]}
        else:
            result = run_one(SUPERVISORS[side](), 'storm', storm_scenario(args),
                             f'{prefix}{side}-storm-')
        run.comparison.setdefault(side, {})['storm'] = result
    table_rows = storm_rows(STORM_SLEEPERS, STORM_SIZE, args.storm_seconds,
                            args.storm_stop_timeout)
    if 'sides' not in args.parts:
        table_rows = [row for row in table_rows if row.scenario == 'storm']
    shown = {side: run.comparison[side] for side in sides}
    run.emit(f'\n## Crash storm\n\n{STORM_SIZE} services on /bin/false restarting always '
             f'beside {STORM_SLEEPERS} sleepers; {args.kills} kills of the sleepers during '
             'the storm\n')
    run.emit(markdown_table(shown, table_rows))


def storm_scenario(args: argparse.Namespace) -> Scenario:
    """The storm as a run_bench scenario: callable(supervisor, tag prefix) -> raw result."""
    return lambda sup, prefix: asdict(run_storm(
        sup, prefix, STORM_SLEEPERS, STORM_SIZE, args.storm_seconds, args.kills,
        args.storm_stop_timeout))


def run_soak(run: Run, prefix: str) -> None:
    """Memory over time of the orchestrator and the sidecar."""
    args = run.args
    log(f'memory: {args.restarts} restarts ...')
    started = time.monotonic()
    try:
        result: dict[str, object] = asdict(run_memory(
            f'{prefix}memory-', args.restarts, args.soak_services, args.soak_run,
            args.soak_timeout))
    except Exception as exc:
        log(f'memory FAILED: {exc}')
        result = {'error': str(exc)}
    log(f'memory done in {time.monotonic() - started:.1f} s')
    run.doc['memory'] = result
    run.emit('\n## Memory over time (omega with its ROS node, and the sidecar)\n')
    run.emit(memory_caption(result) + '\n')
    run.emit(memory_table(result))


def run_scale(run: Run) -> None:
    """scale.py at every size, with the ROS node, then (unless told not to) without."""
    args = run.args
    passes = scale_passes(args.sizes, args.scale_idle_seconds, args.requests,
                          not args.no_engine_only)
    run.doc['scale'] = {'columns': [list(column) for column in scale.COLUMNS], **passes}
    for label, found in passes.items():
        title = 'with its ROS node and the sidecar' if label == 'omega' else \
            'the engine alone (--no-ros)'
        run.emit(f'\n## Scale: {label}, {title}\n')
        run.emit(scale_table(found))
        for row in found:
            if 'error' in row:
                run.emit(f'\n{label} at {row["services"]} services: error ({row["error"]})')
            elif 'first_try_error' in row:
                run.emit(f'\n{label} at {row["services"]} services: measured on the second '
                         f'try (the first: {row["first_try_error"]})')


def run_floors(run: Run) -> None:
    """Start-all and idle of 50 services against what bare interpreters, rclpy and uvicorn
    cost doing the same (start_floor.py, idle_floor.py).
    """
    args = run.args
    try:
        log(f'floors: start-all, {args.start_floor_runs} runs ...')
        starts = start_floor.measure(FLOOR_SERVICES, args.start_floor_runs)
        run.doc['floors'] = {'services': FLOOR_SERVICES, 'start_all_s': starts}
        log(f'floors: idle, {args.idle_floor_runs} runs of {args.idle_floor_seconds:g} s ...')
        idles = idle_floor.measure(FLOOR_SERVICES, args.idle_floor_runs,
                                   args.idle_floor_seconds)
    except Exception as exc:      # recorded like any part's failure: the exit code says so
        log(f'floors FAILED: {exc}')
        run.doc.setdefault('floors', {})['error'] = str(exc)
        run.emit(f'\n## Against the floor\n\nerror ({exc})')
        return
    run.doc['floors'] = {'services': FLOOR_SERVICES, 'start_all_s': starts,
                         'idle_cpu_percent': idles}
    run.emit(f'\n## Against the floor, {FLOOR_SERVICES} services\n')
    run.emit(start_floor.table(starts, FLOOR_SERVICES))
    run.emit(f'Idle, medians of {args.idle_floor_runs} windows of '
             f'{args.idle_floor_seconds:g} s:\n')
    run.emit(idle_floor.table(idles))


def make_plots(run: Run) -> None:
    """Run bench/plot.py in the plot venv over the saved JSON."""
    reason = PLOT_VENV.ensure()
    if reason is not None:
        run.emit(f'\n{skip_line("plots", reason)}')
        return
    argv = [str(PLOT_VENV.python()), str(BENCH_DIR / 'plot.py'), '--json', str(run.args.json),
            '--out', str(run.args.plots)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        run.emit(f'\nplots: error ({done.stderr.strip()[-400:]})')
        return
    written = done.stdout.split()
    run.doc['plots'] = written
    run.emit('\n## Plots\n\n' + '\n'.join(f'- {path}' for path in written))


def run_parts(run: Run, sides: list[str], skipped: dict[str, str]) -> None:
    """The parts asked for, in order, saving after each; sweep our tags whatever happens."""
    prefix = f'oball{os.getpid()}-'
    parts = {'sides': lambda: run_sides(run, sides, skipped, prefix),
             'storm': lambda: run_storms(run, sides, skipped, prefix),
             'memory': lambda: run_soak(run, prefix),
             'scale': lambda: run_scale(run),
             'floors': lambda: run_floors(run)}
    try:
        for name, part in parts.items():
            if name in run.args.parts:
                part()
                run.save()
    finally:
        leftovers = sweep(prefix)
        if leftovers:
            log(f'killed {leftovers} leftover tagged processes')
        run.save()


def main() -> int:
    """Run the parts asked for; exit code 1 when any of them had an error."""
    args = parse_args()
    if args.light_children:
        CHILD_FLAGS[:] = ['-S', '-E']
    install_signal_handlers()
    run = Run(args)
    title = 'Omega orchestrator benchmark' + (' (--quick: a smoke run)' if args.quick else '')
    run.emit(f'# {title}\n\n{header(run.machine)}')
    sides = args.only or ORDER
    skipped = check_sides(sides) if {'sides', 'storm'} & set(args.parts) else {}
    for side, reason in skipped.items():
        log(skip_line(side, reason))
    run.meta['skipped'] = skipped
    run.meta['versions'] = {
        side: 'skipped' if side in skipped else safe_version(SUPERVISORS[side]())
        for side in sides}
    run_parts(run, sides, skipped)
    for side, reason in skipped.items():
        run.emit(f'\n{skip_line(side, reason)}')
    if {'memory', 'scale'} & set(args.parts):
        make_plots(run)
        run.save()
    log(f'raw results: {args.json}')
    return 1 if has_error(run.doc) else 0


def has_error(node: object) -> bool:
    """True when any result in ``node`` is an ``{'error': ...}``."""
    if isinstance(node, dict):
        return 'error' in node or any(has_error(value) for value in node.values())
    if isinstance(node, list):
        return any(has_error(value) for value in node)
    return False


if __name__ == '__main__':
    sys.exit(main())
