"""Turn raw scenario results into the Markdown comparison table.

Results are plain dicts (``dataclasses.asdict`` of the scenario results, or
``{'error': message}`` when a scenario failed), keyed by side then scenario.
"""

from dataclasses import dataclass

Results = dict[str, dict[str, dict[str, object]]]

BASELINE = 'supervisord'
CANDIDATE = 'omega'
ENGINE_ONLY = 'omega-engine'


@dataclass(frozen=True)
class Row:
    """One table row: a label and where its value sits in a scenario's result."""

    label: str
    scenario: str
    path: tuple[str, ...]
    decimals: int


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


def lookup(results: Results, side: str, row: Row) -> float | None:
    """The numeric value of ``row`` for ``side``, or None if missing or failed."""
    node: object = results.get(side, {}).get(row.scenario, {})
    for key in row.path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return float(node) if isinstance(node, (int, float)) else None


def cell(results: Results, side: str, row: Row) -> str:
    """Formatted value, 'error' for a failed scenario, '-' for a side not run."""
    if side not in results:
        return '-'
    value = lookup(results, side, row)
    if value is None:
        return 'error'
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
    """Markdown table: one row per metric; a column per side run (omega first, then the
    engine-only variant, then supervisord) and the ratio omega / supervisord.
    """
    order = [CANDIDATE, ENGINE_ONLY, BASELINE]
    sides = [s for s in order if s in results] + [s for s in results if s not in order]
    lines = [
        '| metric (lower is better) | ' + ' | '.join(sides)
        + f' | ratio {CANDIDATE}/{BASELINE} |',
        '| --- |' + ' ---: |' * (len(sides) + 1),
    ]
    for row in table_rows:
        values = ' | '.join(cell(results, side, row) for side in sides)
        lines.append(f'| {row.label} | {values} | {ratio(results, row)} |')
    return '\n'.join(lines)
