"""The shipped JSON Schema is generated from the loader's tables and agrees with the loader."""

import json
from pathlib import Path

import jsonschema
import pytest

from omega_orchestrator.core.errors import RegistryError
from omega_orchestrator.core.registry import parse_registry
from omega_orchestrator.core.schema import registry_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_schema_is_the_generated_one():
    shipped = (ROOT / 'config' / 'service_registry.schema.json').read_text()
    assert shipped == schema_text(), (
        'regenerate: python -m omega_orchestrator.core.schema > '
        'config/service_registry.schema.json')


def test_default_registry_is_valid_for_both():
    doc = json.loads((ROOT / 'config' / 'service_registry.json').read_text())
    jsonschema.validate(doc, registry_schema())
    parse_registry(json.dumps(doc))


@pytest.mark.parametrize('bad', [
    {'services': [{'name': 'a'}]},
    {'services': [{'name': 'a', 'cmd': 'x', 'restart_policy': 'sometimes'}]},
    {'services': [{'name': 'a/b', 'cmd': 'x'}]},
    {'services': [{'name': 'a', 'cmd': 'x', 'stop_timeout': -1}]},
    {'services': [{'name': 'a', 'cmd': 'x', 'colour': 'red'}]},
    {'services': [{'name': 'a', 'cmd': 'x', 'health_check': 'nope_check'}]},
    {'services': [{'name': 'a', 'cmd': 'x', 'restart': {'backof': 1}}]},
])
def test_schema_and_loader_reject_the_same_documents(bad: dict):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, registry_schema())
    with pytest.raises(RegistryError):
        parse_registry(json.dumps(bad))
