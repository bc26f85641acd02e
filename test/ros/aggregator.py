"""A small roll-up with diagnostic_aggregator's documented rules, to judge /diagnostics.

GenericAnalyzer's header takes the highest level of its items; an item that is STALE (or
silent too long) counts as STALE; the header is STALE only when every item is, and a STALE
item among live ones turns the header into ERROR. So one STALE service makes the robot ERROR.
"""

from collections.abc import Iterable

OK, WARN, ERROR, STALE = 0, 1, 2, 3


def roll_up(levels: Iterable[int | bytes]) -> int:
    """The header level GenericAnalyzer reports for items at these levels."""
    levels = [level[0] if isinstance(level, bytes) else int(level) for level in levels]
    if not levels:
        return OK
    level = max(levels)
    if all(item == STALE for item in levels):
        return STALE
    return ERROR if level == STALE else level


def test_roll_up_follows_the_rules():
    assert roll_up([OK, OK]) == OK
    assert roll_up([OK, WARN]) == WARN
    assert roll_up([OK, STALE]) == ERROR
    assert roll_up([STALE, STALE]) == STALE
    assert roll_up([WARN, ERROR]) == ERROR
    assert roll_up([b'\x00', b'\x03']) == ERROR      # DiagnosticStatus.level is a byte
