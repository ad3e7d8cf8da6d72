"""Property-based contract tests: schemathesis generates requests from the committed OpenAPI
document (valid and invalid ones) and checks every answer of the application against it.

The application is called in-process (ASGI) on schemathesis's own event loop, so it gets a
database of its own, cloned from the migrated template, where commits are real (reading the
audit log writes to it), through an engine without a pool (a pooled asyncpg connection
belongs to the loop that opened it).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.parameters import ParameterLocation
from sqlalchemy.engine import make_url

from registry.db.engine import Database
from registry.main import create_app
from tests.conftest import KYIV_OBLAST, _admin, _with_database

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"

#: Which role each group of operations is called with: one that may call every operation.
ROLE_BY_PREFIX = (("/api/v1/audit-events", "auditor"), ("/api/v1/", "ministry_admin"))

HYPOTHESIS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def _all_checks() -> list[Callable[..., Any]]:
    """Every response check schemathesis has (class-based checks run on their own)."""
    load_all_checks()
    return [check for check in CHECKS.get_all() if not isinstance(check, type)]


async def _clone_template(database_url: str) -> str:
    """A database of its own, cloned from the migrated template (as ``fresh_database_url``)."""
    base = make_url(database_url).database
    name = f"{base}_contract_{uuid.uuid4().hex[:8]}"
    admin = await _admin(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base}_template"')
    finally:
        await admin.close()
    return _with_database(database_url, name)


async def _drop(database_url: str) -> None:
    name = make_url(database_url).database
    admin = await _admin(database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def contract_database(database_url: str) -> AsyncIterator[Database]:
    url = await _clone_template(database_url)
    database = Database.connect(url, pooled=False)
    try:
        yield database
    finally:
        await database.dispose()
        await _drop(url)


class AppUnderTest:
    """The ASGI application schemathesis calls.

    Operations are bound to an application, and some cases (the coverage phase's) are built
    with their credentials, when the tests are collected: before any fixture exists. So they
    are bound to this stand-in and carry a stand-in bearer token naming a role; the
    ``app_under_test`` fixture points the stand-in at the real application, and each request's
    stand-in token is swapped for a real token of that role on its way in. Any other
    Authorization value (schemathesis's own invalid or missing credentials) passes unchanged.
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.tokens: dict[bytes, bytes] = {}

    def use(self, app: FastAPI | None, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = {stand_in(role).encode(): f"Bearer {token}".encode()
                       for role, token in tokens.items()}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            raise RuntimeError("the app_under_test fixture is not active")
        if scope["type"] == "http":
            scope = {**scope, "headers": [
                (name, self.tokens.get(value, value) if name == b"authorization" else value)
                for name, value in scope["headers"]
            ]}
        await self.app(scope, receive, send)


def stand_in(role: str) -> str:
    return f"Bearer stand-in-for-{role}"


STAND_INS = {stand_in(role) for _, role in ROLE_BY_PREFIX}


def role_for(path: str) -> str | None:
    for prefix, role in ROLE_BY_PREFIX:
        if path.startswith(prefix):
            return role
    return None


APP = AppUnderTest()
schema = schemathesis.openapi.from_path(SPEC)
schema.app = APP


@schema.auth(refresh_interval=None)
class RoleToken:
    """A token of a role that may call the operation (none for the health checks)."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str | None:
        return role_for(context.operation.path)

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": stand_in(data)}


@pytest.fixture(scope="module")
def app_under_test(contract_database, settings, verifier, make_token) -> Iterator[AppUnderTest]:
    APP.use(create_app(settings, database=contract_database, verifier=verifier, seal_audit=False),
            {role: make_token(role) for _, role in ROLE_BY_PREFIX})
    yield APP
    APP.use(None, {})


def only_values_the_api_knows(case: schemathesis.Case) -> None:
    """Two query values are valid only if the server knows them, which JSON Schema cannot say:
    a ``cursor`` is opaque (only one the API issued continues a list; any other is a 422) and a
    ``parent`` must be a unit of the codifier (an unknown code is a 422). In a case meant to be
    valid, then, an invented cursor is left out and the parent is a real unit; cases meant to be
    invalid keep whatever was generated."""
    if not isinstance(case.query, dict):
        return
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.QUERY):
        return
    case.query.pop("cursor", None)
    if case.query.get("parent") is not None:
        case.query["parent"] = KYIV_OBLAST


@schema.parametrize()
@HYPOTHESIS
def test_api_conforms_to_its_contract(case: schemathesis.Case, app_under_test) -> None:
    only_values_the_api_knows(case)
    sent_with = (case.headers or {}).get("Authorization")
    response = case.call_and_validate(checks=_all_checks())
    if sent_with in STAND_INS:
        assert response.status_code != 401, "the stand-in token did not become a real one"


def test_every_check_runs() -> None:
    names = {check.__name__ for check in _all_checks()}
    assert {
        "not_a_server_error", "status_code_conformance", "content_type_conformance",
        "response_headers_conformance", "response_schema_conformance",
        "negative_data_rejection", "positive_data_acceptance", "missing_required_header",
        "unsupported_method", "allow_header_conformance", "ignored_auth",
        "use_after_free", "ensure_resource_availability",
    } <= names


@pytest.mark.parametrize(
    ("path", "role"),
    [("/api/v1/audit-events", "auditor"), ("/api/v1/territories", "ministry_admin")],
)
def test_stand_in_tokens_reach_the_app_as_real_ones(app_under_test, path, role) -> None:
    assert role_for(path) == role
    operation = schema[path]["GET"]
    allowed = operation.Case(query={"limit": 1}, headers={"Authorization": stand_in(role)})
    assert allowed.call().status_code == 200
    forged = operation.Case(query={"limit": 1}, headers={"Authorization": stand_in("nobody")})
    assert forged.call().status_code == 401


def test_api_conforms_in_sequences(app_under_test) -> None:
    """Sequences along the links schemathesis infers (a listed unit's code to its detail)."""
    checks = _all_checks()
    answered: set[tuple[str, int]] = set()

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            super().before_call(case)
            only_values_the_api_knows(case)

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            answered.add((case.operation.label, response.status_code))

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=checks, additional_checks=additional_checks,
                                   transport_kwargs=kwargs or None,
                                   recorder=getattr(self, "recorder", None))

    Sequences.run(settings=settings(HYPOTHESIS, max_examples=25, stateful_step_count=6))
    assert ("GET /api/v1/territories", 200) in answered
    assert ("GET /api/v1/territories/{code}", 200) in answered
