"""Numbers and booleans in request bodies are taken as JSON writes them: ``"units": true`` or
``"units": "2"`` is a 422, never a 1 or a 2 that lax parsing would make of it, and
``"rnokpp_refused": "yes"`` or ``1`` is no boolean."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

import registry.api.schemas as schemas
from registry.api.schemas.base import InputSchema


def _input_schemas() -> list[type[InputSchema]]:
    for module in pkgutil.iter_modules(schemas.__path__):
        importlib.import_module(f"{schemas.__name__}.{module.name}")
    found: list[type[InputSchema]] = []
    pending = list(InputSchema.__subclasses__())
    while pending:
        schema = pending.pop()
        found.append(schema)
        pending.extend(schema.__subclasses__())
    return found


def _fields(kind: type) -> list[tuple[str, Any]]:
    return [
        (f"{schema.__name__}.{name}", schema.model_fields[name])
        for schema in _input_schemas()
        for name, field in schema.model_fields.items()
        if kind.__name__ in str(field.annotation)
    ]


INTEGERS = _fields(int)
BOOLEANS = _fields(bool)


def test_the_input_schemas_are_found():
    assert len(INTEGERS) >= 4
    assert len(BOOLEANS) >= 6


@pytest.mark.parametrize(("name", "field"), INTEGERS, ids=[name for name, _ in INTEGERS])
@pytest.mark.parametrize("value", [True, "2", "1"])
def test_an_integer_field_takes_only_a_json_integer(name, field, value):
    adapter: TypeAdapter[Any] = TypeAdapter(field.rebuild_annotation())
    assert adapter.validate_python(2) == adapter.validate_python(2.0) == 2  # JSON Schema's integer
    with pytest.raises(ValidationError):
        adapter.validate_python(value)


@pytest.mark.parametrize(("name", "field"), BOOLEANS, ids=[name for name, _ in BOOLEANS])
@pytest.mark.parametrize("value", [1, 0, "true", "yes"])
def test_a_boolean_field_takes_only_true_or_false(name, field, value):
    adapter: TypeAdapter[Any] = TypeAdapter(field.rebuild_annotation())
    adapter.validate_python(True)
    with pytest.raises(ValidationError):
        adapter.validate_python(value)
