"""The committed OpenAPI document is the contract: it must be what the application serves, and
every operation of the API must say how it authenticates and how it fails."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from registry.api.problems import PROBLEM_JSON
from registry.main import create_app

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def served(settings) -> dict[str, Any]:
    """What the application serves, as JSON would carry it."""
    return json.loads(json.dumps(create_app(settings).openapi()))


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    assert SPEC.exists(), f"{SPEC} is missing: run `registry openapi` and commit it"
    return json.loads(SPEC.read_text(encoding="utf-8"))


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _differences(committed: dict[str, Any], served: dict[str, Any]) -> list[str]:
    found = [
        f"paths.{path}"
        for path in sorted(set(committed["paths"]) | set(served["paths"]))
        if committed["paths"].get(path) != served["paths"].get(path)
    ]
    schemas = (
        committed.get("components", {}).get("schemas", {}),
        served.get("components", {}).get("schemas", {}),
    )
    found += [
        f"components.schemas.{name}"
        for name in sorted(set(schemas[0]) | set(schemas[1]))
        if schemas[0].get(name) != schemas[1].get(name)
    ]
    found += [
        key
        for key in sorted(set(committed) | set(served))
        if key not in ("paths", "components") and committed.get(key) != served.get(key)
    ]
    return found


def test_committed_document_is_what_the_app_serves(committed, served):
    assert committed == served, (
        "openapi/openapi.json is out of date; run `registry openapi` and commit the result. "
        f"Differs at: {', '.join(_differences(committed, served)) or 'components'}"
    )


def test_the_document_is_written_the_way_registry_openapi_writes_it(served):
    """Sorted keys, two-space indent, non-ASCII kept, a final newline: regenerating it gives
    no diff noise."""
    expected = json.dumps(served, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    assert SPEC.read_text(encoding="utf-8") == expected, (
        "openapi/openapi.json is not as `registry openapi` writes it; run `registry openapi`"
    )


def test_the_document_describes_the_api(served):
    paths = set(served["paths"])
    assert {
        "/api/v1/territories",
        "/api/v1/territories/{code}",
        "/api/v1/audit-events",
        "/health/live",
        "/health/ready",
    } <= paths
    assert served["openapi"].startswith("3.")
    assert served["info"]["title"] == "Social Services Registry API"


def test_operation_ids_are_unique(served):
    ids = [operation.get("operationId") for _, _, operation in _operations(served)]
    assert None not in ids
    duplicated = [name for name, count in Counter(ids).items() if count > 1]
    assert duplicated == []


def test_the_bearer_scheme_is_http_bearer(served):
    schemes = served["components"]["securitySchemes"]
    assert schemes, "no security scheme is declared"
    for scheme in schemes.values():
        assert scheme["type"] == "http"
        assert scheme["scheme"].lower() == "bearer"


def _api_operations() -> list[tuple[str, str]]:
    spec = json.loads(json.dumps(create_app().openapi()))
    return [(method, path) for method, path, _ in _operations(spec) if path.startswith("/api/v1/")]


API_OPERATIONS = _api_operations()


def test_there_are_api_operations_to_check():
    assert len(API_OPERATIONS) >= 3


def _problem_response(operation: dict[str, Any], status: str) -> dict[str, Any]:
    responses = operation["responses"]
    assert status in responses, f"{status} is not documented"
    content = responses[status].get("content", {})
    assert list(content) == [PROBLEM_JSON], f"{status} is not {PROBLEM_JSON}: {list(content)}"
    return content[PROBLEM_JSON]["schema"]


@pytest.mark.parametrize(("method", "path"), API_OPERATIONS)
def test_api_operation_is_complete(served, method, path):
    operation = served["paths"][path][method]
    assert operation.get("operationId"), "no operationId"
    assert operation.get("description"), "no description (the handler has no docstring)"

    schemes = served["components"]["securitySchemes"]
    security = operation.get("security")
    assert security, "no security requirement"
    for requirement in security:
        assert requirement, "an empty requirement would allow anonymous calls"
        for name in requirement:
            assert schemes[name]["scheme"].lower() == "bearer"

    for status in ("401", "422"):
        assert _problem_response(operation, status) == {"$ref": PROBLEM_REF}


@pytest.mark.parametrize(("method", "path"), API_OPERATIONS)
def test_every_error_of_an_api_operation_is_a_problem(served, method, path):
    operation = served["paths"][path][method]
    errors = [status for status in operation["responses"] if status[0] in "45"]
    assert "500" in errors
    for status in errors:
        assert _problem_response(operation, status) == {"$ref": PROBLEM_REF}


def test_fastapi_validation_shapes_are_gone(served):
    text = json.dumps(served)
    assert "HTTPValidationError" not in text
    assert '"ValidationError"' not in text
    problem = served["components"]["schemas"]["Problem"]
    assert {"type", "title", "status"} <= set(problem["required"])
