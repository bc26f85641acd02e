"""Checks one JSON object against a field table; every problem names where it was found."""

import difflib
import math
import re
from typing import Any

from omega_orchestrator.core.registry_model import Field, MAX_TEXT, OBJECTS

_KIND_NAMES = {
    'string': 'a string', 'integer': 'an integer', 'number': 'a number',
    'boolean': 'true or false', 'array': 'a list', 'map': 'an object of strings',
    'object': 'an object',
}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == 'string':
        return isinstance(value, str)
    if kind == 'integer':
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == 'number':
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == 'boolean':
        return isinstance(value, bool)
    if kind == 'array':
        return isinstance(value, list)
    return isinstance(value, dict)   # map and object


MAX_UNKNOWN = 20      # unknown keys of one object reported one by one (each with a hint)


def shown(text: str, limit: int = 64) -> str:
    r"""Text from the file, quoted for a problem line: at most `limit` characters, control
    characters escaped ('a\\n', not a line break), '...' when it was cut.
    """
    return repr(text[:limit]) + ('...' if len(text) > limit else '')


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    """A ' (did you mean 'x'?)' hint, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ''


def check_object(raw: Any, table: str, where: str, problems: list[str]) -> dict[str, Any]:
    """Validate `raw` against OBJECTS[table]; return known keys with defaults filled in.

    Problems are appended as '<where> field '<key>': <what is wrong>'.
    """
    fields = OBJECTS[table]
    if not isinstance(raw, dict):
        problems.append(f'{where}: must be an object, got {type(raw).__name__}')
        return {}
    known = {f.name: f for f in fields}
    unknown = [key for key in raw if key not in known]
    for key in unknown[:MAX_UNKNOWN]:
        problems.append(f'{where}: unknown field {shown(key, 60)}'
                        f'{did_you_mean(key[:60], list(known))}')
    if len(unknown) > MAX_UNKNOWN:
        problems.append(f'{where}: {len(unknown) - MAX_UNKNOWN} more unknown fields')
    values: dict[str, Any] = {}
    for field in fields:
        if field.name not in raw:
            if field.required:
                problems.append(f"{where} field '{field.name}': is required")
            values[field.name] = None if field.required else field.default
            continue
        values[field.name] = check_value(field, raw[field.name], where, problems)
    return values


def check_value(field: Field, value: Any, where: str, problems: list[str]) -> Any:
    """Validate one value; return it (lists become tuples) or the default when it is bad."""
    place = f"{where} field '{field.name}'"
    fallback = None if field.required else field.default
    if value is None:
        if field.nullable:
            return None
        problems.append(f'{place}: must not be null')
        return fallback
    kinds = (field.kind,) + field.alt_kinds
    if not any(_is_kind(value, k) for k in kinds):
        wanted = ' or '.join(_KIND_NAMES[k] for k in kinds)
        problems.append(f'{place}: must be {wanted}, got {_describe(value)}')
        return fallback
    before = len(problems)
    if isinstance(value, str):
        _check_string(field, value, place, problems)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_number(field, value, place, problems)
    elif isinstance(value, list):
        return _check_items(field, value, place, problems)
    elif isinstance(value, dict) and field.kind == 'map':
        _check_size(field, value, place, problems)
        for key, item in value.items():
            if not isinstance(item, str):
                problems.append(f'{place}: value of {shown(key)} must be a string, '
                                f'got {_describe(item)}')
            elif len(item) > MAX_TEXT:
                problems.append(f'{place}: value of {shown(key)} is longer than {MAX_TEXT} '
                                'characters')
        return dict(value) if len(problems) == before else fallback
    return value if len(problems) == before else fallback


def _check_size(field: Field, value: str | list | dict, place: str,
                problems: list[str]) -> None:
    if field.max_length is not None and len(value) > field.max_length:
        unit = 'characters' if isinstance(value, str) else 'entries'
        problems.append(f'{place}: has {len(value)} {unit}, at most {field.max_length} allowed')


def _check_string(field: Field, value: str, place: str, problems: list[str]) -> None:
    if '\0' in value:
        problems.append(f'{place}: contains a NUL byte')
    _check_size(field, value, place, problems)
    if field.choices and value not in field.choices:
        problems.append(f'{place}: unknown value {shown(value, 60)}'
                        f"{did_you_mean(value[:60], field.choices)}; "
                        f"expected one of {', '.join(field.choices)}")
    if field.pattern and not re.fullmatch(field.pattern.strip('^$'), value):
        problems.append(f"{place}: {value[:70]!r} is not allowed: use 1-64 letters, digits, "
                        "'_', '-' or '.', not starting with '.' or '-' (no path separators)")
    if not field.choices and not field.pattern and field.name in ('cmd', 'name') and not value:
        problems.append(f'{place}: must not be empty')


def _check_number(field: Field, value: float, place: str, problems: list[str]) -> None:
    # an int is compared exactly (float(10 ** 400) would overflow) and shown cut short
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f'{place}: must be a finite number, got {value}')
        return
    if field.kind == 'string' and field.max_length is not None and \
            len(str(value)) > field.max_length:    # version: 1 or "1.0", not 10 ** 4000
        problems.append(f'{place}: {_number(value)} is longer than {field.max_length} '
                        'characters')
    if field.maximum is not None and value > field.maximum:
        problems.append(f'{place}: must be at most {field.maximum:g}, got {_number(value)}')
    if field.minimum is None:
        return
    if value < field.minimum or (field.exclusive_minimum and value == field.minimum):
        relation = 'greater than' if field.exclusive_minimum else 'at least'
        problems.append(f'{place}: must be {relation} {field.minimum:g}, '
                        f'got {_number(value)}')


def _number(value: float) -> str:
    """A number as the problem shows it: a huge integer by its first digits and length."""
    text = str(value)
    return text if len(text) <= 40 else f'{text[:12]}... ({len(text)} digits)'


def _check_items(field: Field, value: list, place: str, problems: list[str]) -> tuple:
    _check_size(field, value, place, problems)
    if field.items != 'string' or (field.max_length and len(value) > field.max_length):
        return tuple(value)
    bad = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            bad.append(f'{place}[{index}]: must be a string, got {_describe(item)}')
        elif '\0' in item:
            bad.append(f'{place}[{index}]: contains a NUL byte')
        elif len(item) > MAX_TEXT:
            bad.append(f'{place}[{index}]: is longer than {MAX_TEXT} characters')
    problems.extend(bad)
    return tuple(value) if not bad else tuple(field.default or ())


def _describe(value: Any) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (dict, list)):
        return 'an object' if isinstance(value, dict) else 'a list'
    if isinstance(value, int):
        return f'int {_number(value)}'
    text = repr(value[:61] if isinstance(value, str) else value)
    return f'{type(value).__name__} {text if len(text) <= 60 else text[:57] + "..."}'
