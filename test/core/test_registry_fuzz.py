"""The registry loader under fuzzing: any text is a Registry or a RegistryError, nothing else.

Every problem of a RegistryError is a short string: one line of a report a person reads,
never a copy of the 50 MB value that caused it. Bounded: a few hundred examples per property,
no example database written to the work tree.
"""

import functools
import json
import re
from typing import Any

from hypothesis import example, given, HealthCheck, settings
from hypothesis import strategies as st

from omega_orchestrator.core.errors import RegistryError
from omega_orchestrator.core.registry import parse_registry, Registry
from omega_orchestrator.core.registry_model import (
    Field,
    NAME_PATTERN,
    NAMED_CHECKS,
    OBJECTS,
    PROBE_TYPES,
    RESTART_POLICIES,
    SERVICE_TYPES,
    STOP_SIGNALS,
)

MAX_PROBLEM = 400          # characters: a line of a report, not a copy of the input
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])

FIELD_NAMES = sorted({f.name for fields in OBJECTS.values() for f in fields})
CHOICES = (*NAMED_CHECKS, *PROBE_TYPES, *RESTART_POLICIES, *SERVICE_TYPES, *STOP_SIGNALS)
NAMES = ('a', 'b', 'c', 'cam', 'n' * 64, 'n' * 65, 'a\n', '.a', '-a', 'a/b', 'a\0b', '')


def service_doc(**fields: Any) -> str:
    """A one-service registry's text."""
    return json.dumps({'services': [{'name': 'a', 'cmd': 'x', **fields}]})


# the hostile set: each once, whatever hypothesis draws
HOSTILE = (
    '[' * 100000,
    '[' * 100000 + ']' * 100000,
    '{"services": ' * 50000 + '[]' + '}' * 50000,
    '{"version": 1' + '0' * 5000 + '}',
    service_doc()[:-3] + ', "port": 1' + '0' * 5000 + '}]}',
    service_doc()[:-3] + ', "port": 1' + '0' * 4000 + '}]}',
    service_doc()[:-3] + ', "stop_timeout": 1' + '0' * 400 + '}]}',
    service_doc()[:-3] + ', "stop_timeout": 1e400}]}',
    service_doc()[:-3] + ', "stop_timeout": -1e400}]}',
    service_doc()[:-3] + ', "stop_timeout": NaN}]}',
    service_doc()[:-3] + ', "stop_timeout": Infinity}]}',
    '{"services": [{"name": "a", "cmd": "x", "port": 1, "port": 2}]}',
    '{"services": [], "services": []}',
    '{' + ','.join(['"a": 1'] * 200000) + '}',
    '{' + ','.join(f'"k{i}": 1' for i in range(200000)) + '}',
    '{"version": 1' + '0' * 4000 + ', "services": []}',
    service_doc(name='a\n'),
    service_doc(args=['ok', 'a\0b']),
    service_doc(cmd='x\0'),
    service_doc(env={'A': 'x\0'}),
    service_doc(env={'A' * 5000: '1'}),
    service_doc(env={'A-' * 2500: '1'}),
    service_doc(depends_on=['b' * 5000]),
    service_doc(depends_on=['b' * 4000]),
    service_doc(depends_on=['b\nc']),
    service_doc(depends_on=['a']),
    service_doc(health_check='x' * 5000),
    service_doc(health_check={'type': 'http', 'url': 'h' * 4000}),
    service_doc(health_check={'type': 'http', 'url': 'http://[' + 'h' * 4000}),
    service_doc(restart={'backoff_initial': 10 ** 400, 'max_retries': 10 ** 400}),
    service_doc(restart={'cooldown': 1e308, 'crash_loop_max': 1e308}),
    service_doc(**{'x' * 5000: 1}),
    json.dumps({'services': [{'name': 'x' * 5000, 'cmd': 'x'}] * 2}),
    json.dumps({'services': [{'name': f's{i}', 'cmd': 'x', 'depends_on': [f's{i + 1}']}
                             for i in range(300)] + [{'name': 's300', 'cmd': 'x',
                                                      'depends_on': ['s0']}]}),
    json.dumps({'description': 'd' * (50 * 2 ** 20)}),
    '\ufeff{}',
    '"\\ud800"',
    '\0',
    '',
)


def hostile(function: Any) -> Any:
    """Every text of the hostile set as a fixed example of a property over `text`."""
    for text in HOSTILE:
        function = example(text=text)(function)
    return function


def assert_clean_outcome(text: str) -> None:
    """A Registry, or a RegistryError whose every problem is a short line; nothing else."""
    try:
        registry = parse_registry(text, 'fuzz.json')
    except RegistryError as exc:
        assert exc.problems, 'a RegistryError names at least one problem'
        for problem in exc.problems:
            assert isinstance(problem, str) and '\n' not in problem, repr(problem[:200])
            assert len(problem) < MAX_PROBLEM, f'{len(problem)} characters: {problem[:200]!r}'
        assert str(exc).startswith('fuzz.json: ')
        return
    assert isinstance(registry, Registry) and len(registry.version) <= 32
    names = registry.names()
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(NAME_PATTERN.strip('^$'), name) for name in names)
    for spec in registry.services:
        assert set(spec.depends_on) <= set(names)
        assert all('\0' not in part for part in (spec.cmd, *spec.args))


# -- strategies: JSON values, and documents shaped like a registry ---------------------------

HUGE_INTS = st.integers(0, 4200).map(lambda n: 10 ** n) | st.integers(0, 4200).map(
    lambda n: -(10 ** n))
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    (1e308, -1e308, 5e-324, 0.0, -0.0, 1e400))
STRINGS = (st.text(max_size=40) | st.sampled_from(CHOICES + NAMES)
           | st.text(st.sampled_from('a\0\n/.-_ \u2028\ud7ff'), max_size=20)
           | st.integers(0, 20000).map(lambda n: 'x' * n))
SCALARS = st.none() | st.booleans() | st.integers() | HUGE_INTS | FLOATS | STRINGS
KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=20) | st.integers(60, 5000).map(
    lambda n: 'k' * n)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS, inner, max_size=6), max_leaves=20)
GOOD_NAMES = ('a', 'b', 'c', 'cam_1', 'n.x-y')     # few, so depends_on meets them (and cycles)


def valid(field: Field) -> st.SearchStrategy:
    """Values a field accepts (or almost: text may hold a NUL or be too long)."""
    if field.choices:
        values = st.sampled_from(field.choices)
    elif field.kind == 'string':
        values = st.sampled_from(GOOD_NAMES) if field.pattern else st.text(min_size=1,
                                                                            max_size=30)
    elif field.kind in ('integer', 'number'):
        low = 0 if field.minimum is None else int(field.minimum)
        high = 10 ** 6 if field.maximum is None else int(field.maximum)
        values = st.integers(low, high)
        if field.kind == 'number':
            values |= st.floats(low, high)
    elif field.kind == 'boolean':
        values = st.booleans()
    elif field.kind == 'map':
        values = st.dictionaries(st.from_regex(r'[A-Z_][A-Z0-9_]{0,8}', fullmatch=True) | KEYS,
                                 STRINGS, max_size=3)
    elif field.name == 'services':
        values = st.lists(st.deferred(lambda: objects('service')), max_size=6)
    elif field.name == 'depends_on':
        values = st.lists(st.sampled_from(GOOD_NAMES) | STRINGS, max_size=3)
    elif field.kind == 'array':
        values = st.lists(st.text(max_size=20) | STRINGS, max_size=4)
    else:
        values = st.deferred(lambda: objects(field.obj or ''))
    if field.name == 'health_check':
        values = st.sampled_from(NAMED_CHECKS) | st.deferred(lambda: objects('health_check'))
    return values | st.none() if field.nullable else values


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy, odds: int) -> st.SearchStrategy:
    """`good`, but `bad` one time in `odds`: one_of draws its branches alike (and merges
    equal ones, hence the copies).
    """
    return st.one_of(*[good.map(same) for _ in range(odds - 1)], bad)


def same(value: Any) -> Any:
    """The value itself."""
    return value


def near(field: Field) -> st.SearchStrategy:
    """Mostly a value the field accepts; one time in twenty any JSON value at all."""
    return mostly(valid(field), SCALARS | JSON, 20)


@functools.cache
def objects(table: str) -> st.SearchStrategy:
    """An object of OBJECTS[table]: its required fields (mostly), any of the others, now and
    then an unknown key.
    """
    fields = OBJECTS[table]
    required = {f.name: near(f) for f in fields if f.required}
    optional = {f.name: near(f) for f in fields if not f.required}
    whole = st.fixed_dictionaries(required, optional=optional)
    odd = st.fixed_dictionaries({}, optional={**required, **optional, 'nme': JSON})
    return mostly(whole, odd, 10)


DOCUMENT = mostly(objects('registry'), JSON, 10)


# -- the properties ----------------------------------------------------------------------------

@FUZZ
@hostile
@given(text=st.text())
def test_any_text_is_a_registry_or_a_registry_error(text: str) -> None:
    assert_clean_outcome(text)


@FUZZ
@given(doc=DOCUMENT)
def test_any_document_is_a_registry_or_a_registry_error(doc: Any) -> None:
    assert_clean_outcome(json.dumps(doc))


@FUZZ
@given(doc=DOCUMENT, cut=st.integers(0, 10 ** 6), junk=st.text(max_size=8))
def test_any_damaged_document_is_a_registry_or_a_registry_error(doc: Any, cut: int,
                                                                  junk: str) -> None:
    text = json.dumps(doc)
    cut %= len(text) + 1
    assert_clean_outcome(text[:cut] + junk + text[cut + len(junk):])
