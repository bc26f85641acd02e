"""The JSON Schema of the registry, generated from the same tables the loader validates with.

`python -m omega_orchestrator.core.schema > config/service_registry.schema.json`
"""

import json
from typing import Any

from omega_orchestrator.core.registry_model import (
    Field,
    NAME_PATTERN,
    NAMED_CHECKS,
    OBJECTS,
    STRING_OR_OBJECT_ITEMS,
)

_JSON_TYPES = {'string': 'string', 'integer': 'integer', 'number': 'number',
               'boolean': 'boolean', 'array': 'array', 'map': 'object', 'object': 'object'}


def _field_schema(field: Field) -> dict[str, Any]:
    schema: dict[str, Any] = {'description': field.help}
    if field.obj and field.kind == 'object':
        schema['$ref'] = f'#/$defs/{field.obj}'
    elif field.obj:   # health_check: a named check or a probe object
        schema['anyOf'] = [{'type': 'string', 'enum': list(NAMED_CHECKS)},
                           {'$ref': f'#/$defs/{field.obj}'}]
    elif field.alt_kinds:
        schema['type'] = [_JSON_TYPES[k] for k in (field.kind, *field.alt_kinds)]
    else:
        schema['type'] = _JSON_TYPES[field.kind]
    if field.max_length is not None:
        limit = {'string': 'maxLength', 'array': 'maxItems', 'map': 'maxProperties'}
        schema[limit[field.kind]] = field.max_length
    if field.choices:
        schema['enum'] = list(field.choices)
    if field.pattern:
        schema['pattern'] = field.pattern     # ECMA: '$' is the end of the text
    if field.minimum is not None:
        key = 'exclusiveMinimum' if field.exclusive_minimum else 'minimum'
        schema[key] = field.minimum
    if field.maximum is not None:
        schema['maximum'] = field.maximum
    if field.kind == 'array' and field.items in STRING_OR_OBJECT_ITEMS:
        schema['items'] = {'anyOf': [{'type': 'string', 'pattern': NAME_PATTERN},
                                     {'$ref': f'#/$defs/{field.items}'}]}
    elif field.kind == 'array':
        schema['items'] = ({'$ref': f'#/$defs/{field.items}'} if field.items in OBJECTS
                           else {'type': field.items or 'string'})
    if field.kind == 'map':
        schema['additionalProperties'] = {'type': field.items or 'string'}
    if field.nullable:
        schema = {'anyOf': [schema, {'type': 'null'}], 'description': field.help}
    if not field.required and isinstance(field.default, (bool, int, float, str)):
        schema['default'] = field.default
    return schema


def _object_schema(table: str) -> dict[str, Any]:
    fields = OBJECTS[table]
    return {
        'type': 'object',
        'properties': {f.name: _field_schema(f) for f in fields},
        'required': [f.name for f in fields if f.required],
        'additionalProperties': False,
    }


def registry_schema() -> dict[str, Any]:
    """The whole schema, draft 2020-12."""
    schema = {
        '$schema': 'https://json-schema.org/draft/2020-12/schema',
        'title': 'Omega Orchestrator service registry',
        **_object_schema('registry'),
        '$defs': {name: _object_schema(name) for name in OBJECTS if name != 'registry'},
    }
    return schema


def schema_text() -> str:
    """The schema as the text shipped in config/."""
    return json.dumps(registry_schema(), indent=2) + '\n'


if __name__ == '__main__':
    print(schema_text(), end='')
