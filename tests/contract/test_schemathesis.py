"""Property-based contract tests: schemathesis generates requests from the committed OpenAPI
document (valid and invalid ones) and checks every answer of the application against it, plus
one check of ours: a family one hromada's officer reaches is never reachable by a peer in
another hromada (broken object-level authorisation).

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
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.parameters import ParameterLocation
from sqlalchemy.engine import make_url

from registry.db.engine import Database
from registry.main import create_app
from tests.conftest import KYIV_OBLAST, _admin, _with_database
from tests.factories import BUCHA, KYIV

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
CONFIG = Path(__file__).with_name("schemathesis.toml")

#: The callers the run uses: (role, confinement claims).
IDENTITIES: dict[str, tuple[str, dict[str, str]]] = {
    "auditor": ("auditor", {}),
    "ministry_admin": ("ministry_admin", {}),
    "kyiv_officer": ("community_officer", {"territory": KYIV}),
    # The peer: same role, another hromada. Never sends a request of its own.
    "bucha_officer": ("community_officer", {"territory": BUCHA}),
}
#: Which identity each group of operations is called with: one that may call every operation.
ROLE_BY_PREFIX = (
    ("/api/v1/audit-events", "auditor"),
    ("/api/v1/families", "kyiv_officer"),
    ("/api/v1/", "ministry_admin"),
)
PEER = "bucha_officer"

HYPOTHESIS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def _all_checks() -> list[Callable[..., Any]]:
    """Every response check schemathesis has, and ours (class-based checks run on their
    own; ``object_level_authorization`` needs a WFC identities document, which our own
    ``peers_cannot_reach_families`` stands in for)."""
    load_all_checks()
    return [check for check in CHECKS.get_all()
            if not isinstance(check, type) and check.__name__ != "object_level_authorization"]


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


STAND_INS = {stand_in(identity) for identity in IDENTITIES}


def role_for(path: str) -> str | None:
    for prefix, role in ROLE_BY_PREFIX:
        if path.startswith(prefix):
            return role
    return None


APP = AppUnderTest()
schema = schemathesis.openapi.from_path(SPEC, config=schemathesis.config.SchemathesisConfig
                                       .from_path(CONFIG))
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
            {name: make_token(role, sub=name, **claims)
             for name, (role, claims) in IDENTITIES.items()})
    yield APP
    APP.use(None, {})


def only_values_the_api_knows(case: schemathesis.Case) -> None:
    """Some values are valid only if the server knows them, which JSON Schema cannot say: a
    ``cursor`` is opaque (only one the API issued continues a list), a territory must be a
    unit of the codifier (and a settlement inside the hromada), reference codes must be in
    their lists, a national identifier must carry its check digit and agree with the birth
    date, dates must not lie in the future, and a patched consent must end up complete. In
    a case meant to be valid such values are replaced by known good ones; cases meant to be
    invalid keep whatever was generated."""
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.QUERY):
        pass
    elif isinstance(case.query, dict):
        case.query.pop("cursor", None)
        for name, known in (("parent", KYIV_OBLAST), ("hromada", KYIV),
                            ("category", "idp"), ("factor", "low_income")):
            if case.query.get(name) is not None:
                case.query[name] = known
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY):
        return
    if isinstance(case.body, dict) and case.path.startswith("/api/v1/families"):
        _known_family_values(case.body)


def _known_family_values(body: dict[str, Any]) -> None:
    if body.get("hromada_code") is not None:
        body["hromada_code"] = KYIV
    if "settlement_code" in body:
        body["settlement_code"] = None
    if body.get("phone") is not None:
        body["phone"] = "+380441234567"
    for name, known in (("categories", ["idp"]), ("factors", ["low_income"])):
        if body.get(name):
            body[name] = known
    consent = body.get("consent")
    if isinstance(consent, dict):
        # A patch may send part of the consent, but on a family without one the merged
        # consent must still say when, by whom and for what: give all three.
        consent.update(given_at="2025-01-01T00:00:00Z", given_by=consent.get("given_by") or "x",
                       scope=consent.get("scope") or ["registry"])
    for person in [body, *(m for m in body.get("members") or [] if isinstance(m, dict))]:
        for identifier in ("rnokpp", "unzr"):
            if person.get(identifier) is not None:
                person[identifier] = None
        if person.get("birth_date") is not None:
            person["birth_date"] = "1990-01-01"


@schemathesis.check
def peers_cannot_reach_families(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A family the caller created or reached is a 404 for an officer of another hromada, and
    never appears in that officer's lists."""
    if not case.path.startswith("/api/v1/families") or not 200 <= response.status_code < 300:
        return None
    family_id = (case.path_parameters or {}).get("family_id")
    if family_id is None and case.method == "POST" and case.path == "/api/v1/families":
        family_id = response.json()["id"]
    if family_id is None:
        return None
    as_peer = {"Authorization": stand_in(PEER)}
    peer_read = schema["/api/v1/families/{family_id}"]["GET"].Case(
        path_parameters={"family_id": family_id}, headers=as_peer).call()
    if peer_read.status_code != 404:
        raise AssertionError(f"a peer in another hromada got {peer_read.status_code} for a "
                             f"family of {case.operation.label}")
    peer_list = schema["/api/v1/families"]["GET"].Case(query={"limit": 200},
                                                       headers=as_peer).call()
    if str(family_id) in peer_list.text:
        raise AssertionError("a peer in another hromada listed the family")
    return True


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
        "use_after_free", "ensure_resource_availability", "peers_cannot_reach_families",
    } <= names


@pytest.mark.parametrize(
    ("path", "role"),
    [("/api/v1/audit-events", "auditor"), ("/api/v1/territories", "ministry_admin"),
     ("/api/v1/families", "kyiv_officer")],
)
def test_stand_in_tokens_reach_the_app_as_real_ones(app_under_test, path, role) -> None:
    assert role_for(path) == role
    operation = schema[path]["GET"]
    allowed = operation.Case(query={"limit": 1}, headers={"Authorization": stand_in(role)})
    assert allowed.call().status_code == 200
    forged = operation.Case(query={"limit": 1}, headers={"Authorization": stand_in("nobody")})
    assert forged.call().status_code == 401


@pytest.fixture
async def app_on_fresh_database(app_under_test, database_url, settings, verifier, make_token):
    """The application on a database of its own: a sequence run starts from the same state
    every time (the stateless run leaves families behind), so a failure replays exactly."""
    url = await _clone_template(database_url)
    database = Database.connect(url, pooled=False)
    APP.use(create_app(settings, database=database, verifier=verifier, seal_audit=False),
            {name: make_token(role, sub=name, **claims)
             for name, (role, claims) in IDENTITIES.items()})
    yield APP
    await database.dispose()
    await _drop(url)


def test_api_conforms_in_sequences(app_on_fresh_database) -> None:
    """Sequences along the links: a created family to its reads, updates (If-Match from the
    ETag), members and archive; a listed territory's code to its detail."""
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

    # No shrinking: each step changes the database, so a shortened replay would not meet the
    # state the failing run met; the failure is reported as found.
    Sequences.run(settings=settings(HYPOTHESIS, max_examples=80, stateful_step_count=8,
                                    phases=[Phase.explicit, Phase.reuse, Phase.generate]))
    assert ("POST /api/v1/families", 201) in answered
    assert ("GET /api/v1/families/{family_id}", 200) in answered
    assert ("PATCH /api/v1/families/{family_id}", 200) in answered
