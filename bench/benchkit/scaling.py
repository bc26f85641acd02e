"""The scale part of bench/all.py: scale.py's measure() at each size, with and without ROS.

``scale.py`` (bench/, next to this package) owns the measurement; this module only calls
``scale.measure(count, idle_seconds, requests)`` at each size, twice when the first try
fails, and switches its module-level ``ENGINE_ARGS`` to ``['--no-ros']`` for the engine-only
pass.
"""

import scale

from benchkit.report import log


def measure_sizes(sizes: list[int], idle: float, requests: int,
                  label: str) -> list[dict[str, object]]:
    """scale.measure at each size, tried twice; a second failure becomes an 'error' row.

    A failed first try (e.g. another ROS 2 process on the same random domain) is logged and
    kept in the row as ``first_try_error``.
    """
    found: list[dict[str, object]] = []
    for count in sizes:
        first_error = None
        for attempt in (1, 2):
            log(f'scale ({label}): {count} services (try {attempt}) ...')
            try:
                row = dict(scale.measure(count, idle, requests))
            except Exception as exc:
                log(f'scale ({label}) at {count} FAILED: {exc!r}')
                if first_error is not None:
                    found.append({'services': count, 'error': repr(exc),
                                  'first_try_error': first_error})
                first_error = repr(exc)
                continue
            if first_error is not None:
                row['first_try_error'] = first_error
            found.append(row)
            break
    return found


def scale_passes(sizes: list[int], idle: float, requests: int,
                 engine_only: bool) -> dict[str, list[dict[str, object]]]:
    """'omega' (ROS node and sidecar) and, when asked and possible, 'omega-engine' rows."""
    passes = {'omega': measure_sizes(sizes, idle, requests, 'omega')}
    if not engine_only:
        return passes
    engine_args = getattr(scale, 'ENGINE_ARGS', None)
    if not isinstance(engine_args, list):
        log('scale: scale.ENGINE_ARGS is gone, no engine-only pass')
        return passes
    engine_args[:] = ['--no-ros']
    try:
        passes['omega-engine'] = measure_sizes(sizes, idle, requests, 'omega-engine')
    finally:
        engine_args[:] = []
    return passes


def scale_table(found: list[dict[str, object]]) -> str:
    """scale.py's table, without the columns that no row has a value for."""
    kept = [col for col in scale.COLUMNS
            if col[0] == 'services' or any(row.get(col[0]) is not None for row in found)]
    lines = ['| ' + ' | '.join(title for _, title, _ in kept) + ' |', '|' + ' ---: |' * len(kept)]
    for row in found:
        lines.append('| ' + ' | '.join(
            fmt.format(row[key]) if row.get(key) is not None else '-'
            for key, _, fmt in kept) + ' |')
    return '\n'.join(lines)
