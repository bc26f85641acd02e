"""Turn raw scenario results into Markdown tables; progress lines go to stderr.

Results are plain dicts (``dataclasses.asdict`` of the scenario results, ``{'error':
message}`` when a scenario failed, ``{'skipped': reason}`` when its side cannot run here),
keyed by side then scenario.
"""

from dataclasses import dataclass
import json
import sys

from benchkit.sides import ORDER

Results = dict[str, dict[str, dict[str, object]]]

BASELINE = 'supervisord'
CANDIDATE = 'omega'


def log(message: str) -> None:
    """Progress message on stderr (stdout is reserved for the tables)."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Row:
    """One table row: a label and where its value sits in a scenario's result.

    ``missing`` is shown when the value is None in a result that did not fail (e.g. the
    storm's exit time of a supervisor that hung).
    """

    label: str
    scenario: str
    path: tuple[str, ...]
    decimals: int
    missing: str = 'error'


def rows(fleet_size: int, crash_size: int, orphan_size: int) -> list[Row]:
    """The metric rows, labelled with the service counts used."""
    return [
        Row(f'crash -> new PID, median ({crash_size} svcs, ms)', 'crash', ('median_ms',), 1),
        Row(f'crash -> new PID, p95 ({crash_size} svcs, ms)', 'crash', ('p95_ms',), 1),
        Row(f'idle CPU, {fleet_size} svcs (% of one core)', 'fleet', ('idle', 'cpu_percent'), 2),
        Row(f'supervisor RSS, {fleet_size} svcs (MB)', 'fleet', ('idle', 'rss_mb'), 1),
        Row(f'start {fleet_size} svcs (ms)', 'fleet', ('start_ms',), 0),
        Row(f'stop {fleet_size} svcs (ms)', 'fleet', ('stop', 'stop_ms'), 0),
        Row(
            f'grandchildren alive 2 s after stop (of {orphan_size})',
            'orphans',
            ('grandchildren_surviving',),
            0,
        ),
    ]


def storm_rows(sleepers: int, storm: int, seconds: float, stop_timeout: float) -> list[Row]:
    """The crash-storm rows; the first latency row comes from the crash scenario."""
    window = f'{storm} on /bin/false, {seconds:g} s'
    return [
        Row(f'storm: supervisor CPU ({window}, % of one core)', 'storm',
            ('window', 'cpu_percent'), 2),
        Row(f'storm: restarts/s of the {storm} storm services', 'storm',
            ('window', 'storm_restarts_per_s'), 1),
        Row('storm: supervisor RSS (MB)', 'storm', ('window', 'rss_mb'), 1),
        Row(f'crash -> new PID, median, no storm ({sleepers} svcs, ms)', 'crash',
            ('median_ms',), 1, '-'),
        Row(f'crash -> new PID, median, during the storm ({sleepers} svcs, ms)', 'storm',
            ('median_ms',), 1, '-'),
        Row(f'crash -> new PID, p95, during the storm ({sleepers} svcs, ms)', 'storm',
            ('p95_ms',), 1, '-'),
        Row(f'storm: exit after SIGINT (s; "hangs": not within {stop_timeout:g} s)', 'storm',
            ('stop', 'sigint_exit_s'), 2, 'hangs'),
        Row(f'storm: sleepers alive 2 s after that exit (of {sleepers})', 'storm',
            ('stop', 'sleepers_alive_after_exit'), 0),
    ]


def lookup(results: Results, side: str, row: Row) -> float | None:
    """The numeric value of ``row`` for ``side``, or None if missing or failed."""
    node: object = results.get(side, {}).get(row.scenario, {})
    for key in row.path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return float(node) if isinstance(node, (int, float)) else None


def cell(results: Results, side: str, row: Row) -> str:
    """Formatted value; 'error', 'skipped', '-' for a side or scenario not run."""
    if side not in results:
        return '-'
    scenario = results[side].get(row.scenario)
    if scenario is None:
        return '-'
    if 'skipped' in scenario:
        return 'skipped'
    if 'error' in scenario:
        return 'error'
    value = lookup(results, side, row)
    if value is None:
        return row.missing
    return f'{value:.{row.decimals}f}'


def ratio(results: Results, row: Row) -> str:
    """Ratio omega / supervisord, or '-' when it is undefined."""
    mine, theirs = lookup(results, CANDIDATE, row), lookup(results, BASELINE, row)
    if mine is None or theirs is None:
        return '-'
    if theirs == 0:
        return '-' if mine == 0 else 'inf'
    return f'{mine / theirs:.2f}'


def markdown_table(results: Results, table_rows: list[Row]) -> str:
    """Markdown table: one row per metric; a column per side (in ``sides.ORDER``) and the
    ratio omega / supervisord.
    """
    sides = [s for s in ORDER if s in results] + [s for s in results if s not in ORDER]
    lines = [
        '| metric (lower is better) | ' + ' | '.join(sides)
        + f' | ratio {CANDIDATE}/{BASELINE} |',
        '| --- |' + ' ---: |' * (len(sides) + 1),
    ]
    for row in table_rows:
        values = ' | '.join(cell(results, side, row) for side in sides)
        lines.append(f'| {row.label} | {values} | {ratio(results, row)} |')
    return '\n'.join(lines)


MEMORY_FIGURES = (('rss_mb', 'RSS (MB)', 1), ('fds', 'open descriptors', 0),
                  ('threads', 'threads', 0))


def memory_table(result: dict[str, object]) -> str:
    """The memory-over-time summary: one row per process and figure."""
    if 'error' in result:
        return f'memory over time: error ({result["error"]})'
    summary = result['summary']
    assert isinstance(summary, dict)
    lines = ['| process | figure | at start | after warm-up | at the end | max | growth after '
             'warm-up | slope per 1,000 restarts |', '| --- | --- |' + ' ---: |' * 6]
    for process in ('orchestrator', 'sidecar'):
        for key, label, decimals in MEMORY_FIGURES:
            stats = summary[process][key]
            values = [stats[name] for name in ('start', 'warm', 'end', 'max',
                                               'growth_after_warmup', 'slope_per_1000')]
            cells = ' | '.join(f'{value:.{decimals if index < 5 else 2}f}'
                               for index, value in enumerate(values))
            lines.append(f'| {process} | {label} | {cells} |')
    return '\n'.join(lines)


def memory_caption(result: dict[str, object]) -> str:
    """One line: how many restarts, how fast, of what, and the end checks."""
    if 'error' in result:
        return ''
    warm = result['summary']['orchestrator']['rss_mb']['warm_restarts']  # type: ignore[index]
    return (f'{result["restarts"]} restarts in {result["seconds"]:.0f} s '
            f'({result["restarts_per_s"]:.0f}/s) of {result["services"]} services running '
            f'`sleep {result["run_s"]:g}`, `"restart": {json.dumps(result["restart"])}`; '
            f'warm-up: the first '
            f'{warm:.0f} restarts; zombies at the end: {result["zombies_at_end"]}; API '
            f'answered at the end: {"yes" if result["api_ok_at_end"] else "NO"}.')
