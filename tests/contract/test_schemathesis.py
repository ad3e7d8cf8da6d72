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

import asyncio
import itertools
import json
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.parameters import ParameterLocation
from sqlalchemy import insert
from sqlalchemy.engine import make_url
from stdnum.ua import edrpou, rntrc

from registry.api.schemas.families import FamilyCreate
from registry.auth.principal import Principal
from registry.auth.roles import ROLE_PERMISSIONS, Role
from registry.db.engine import Database
from registry.demo.providers import DEMO_PROVIDER_ID, seed_demo_providers
from registry.domain.families import commands as family_commands
from registry.domain.military import commands as military_commands
from registry.domain.military.tables import military_unit_table, unit_provider_table
from registry.domain.programmes import commands as programme_commands
from registry.domain.providers import commands as provider_commands
from registry.domain.shared.caller import Caller
from registry.domain.shared.clock import utc_today
from registry.main import create_app
from tests.support import (
    BUCHA,
    IDENTIFIER_KEYS,
    KYIV,
    KYIV_OBLAST,
    LVIV,
    clone_template,
    drop_database,
    family,
)

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
#: Active services of the classifier (migration 0003) that generated offers are given.
KNOWN_SERVICES = ("002.0", "012.0", "013.0", "015.1", "021.0")
#: Serial numbers for identifiers the runs register (each one new: no needless 409).
_IDENTIFIER_SERIALS = itertools.count(3_000_000)
#: Classifier codes from 500.0 on (the seeded ones end at 021.0), one per created service,
#: and the keys of requests that create.
_SERVICE_SERIALS = itertools.count(5000)
CONFIG = Path(__file__).with_name("schemathesis.toml")

#: The unit the contract template registers, whose liaison the run calls as, and another unit
#: (a transfer's destination).
LIAISON_UNIT_ID = "00000000-0000-4000-8000-000000000005"
OTHER_UNIT_ID = "00000000-0000-4000-8000-000000000006"
#: Unit numbers for the units the runs register (each one new: no needless 409).
_UNIT_SERIALS = itertools.count(2000)
#: Servicemembers a support case may name: the seeded one, and those a sequence created.
KNOWN_SERVICEMEMBERS: set[str] = set()

#: The callers the run uses: (role, confinement claims).
IDENTITIES: dict[str, tuple[str, dict[str, str]]] = {
    "auditor": ("auditor", {}),
    "ministry_admin": ("ministry_admin", {}),
    "kyiv_officer": ("community_officer", {"territory": KYIV}),
    # The peer: same role, another hromada. Never sends a request of its own.
    "bucha_officer": ("community_officer", {"territory": BUCHA}),
    # Staff of the demo provider the contract template registers (see ``SEEDED``).
    "provider": ("provider_staff", {"provider_id": DEMO_PROVIDER_ID}),
    # Only the run over every role calls as these.
    "kyiv_worker": ("social_worker", {"territory": KYIV}),
    "kyiv_oblast_officer": ("regional_officer", {"territory": KYIV_OBLAST}),
    "analyst": ("ministry_analyst", {}),
    "liaison": ("military_liaison", {"unit_id": LIAISON_UNIT_ID}),
    "national_system": (
        "integration",
        {
            "scope": "reach:national territories:read reference:read providers:read "
            "families:read cases:read service-records:read",
        },
    ),
}
#: The callers of the run over every role: one of each role (the peer only stands by).
EVERY_ROLE = tuple(identity for identity in IDENTITIES if identity != "bucha_officer")
#: Which identity each group of operations is called with: one that may call every operation.
ROLE_BY_PREFIX = (
    ("/api/v1/audit-", "auditor"),  # the events and the signed head
    ("/api/v1/families", "kyiv_officer"),
    ("/api/v1/cases", "kyiv_officer"),
    ("/api/v1/referrals", "kyiv_officer"),
    ("/api/v1/caseload", "kyiv_officer"),
    ("/api/v1/service-records", "provider"),
    ("/api/v1/servicemembers", "liaison"),
    ("/api/v1/support-cases", "liaison"),
    ("/api/v1/reports", "analyst"),
    ("/api/v1/", "ministry_admin"),
)
_PROGRAMME = "/api/v1/programmes/{programme_id}"
#: Operations called by another role than their path's: a Kyiv officer works the programmes
#: the ministry manages (enrols, distributes, reverses, records the aid received).
ROLE_BY_OPERATION = {
    ("POST", f"{_PROGRAMME}/enrolments"): "kyiv_officer",
    ("POST", f"{_PROGRAMME}/enrolments/{{enrolment_id}}/withdrawal"): "kyiv_officer",
    ("POST", f"{_PROGRAMME}/distributions"): "kyiv_officer",
    ("POST", f"{_PROGRAMME}/distributions/{{distribution_id}}/reversal"): "kyiv_officer",
    ("POST", "/api/v1/aid-receipts"): "kyiv_officer",
}
#: What the contract template holds beyond the migrations: the demo providers, and a Kyiv
#: family linked to the demo provider (ids filled in when the template is made).
SEEDED: dict[str, str] = {}
PEER = "bucha_officer"

#: 25 examples an operation: the run over every operation and role, the sequences and the
#: behaviour tests beside it cover what more examples found, and CI's 15 minutes hold.
HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def _all_checks() -> list[Callable[..., Any]]:
    """Every response check schemathesis has, and ours (class-based checks run on their
    own; ``object_level_authorization`` needs a WFC identities document, which our own
    ``peers_cannot_reach_families`` stands in for)."""
    load_all_checks()
    return [
        check
        for check in CHECKS.get_all()
        if not isinstance(check, type) and check.__name__ != "object_level_authorization"
    ]


async def _seed(url: str) -> dict[str, str]:
    """The demo providers, and a Kyiv family linked to the demo provider: what service
    records and cases need to exist before a generated request can be valid."""
    database = Database.connect(url, pooled=False)
    caller = Caller(
        Principal(sub="contract-seed", role=Role.COMMUNITY_OFFICER, territory=KYIV),
        request_id="contract-seed",
        keys=IDENTIFIER_KEYS,
    )
    try:
        async with database.transaction() as session:
            await seed_demo_providers(session, IDENTIFIER_KEYS)
            created = await family_commands.create_family(
                session, caller, FamilyCreate.model_validate(family(KYIV)).model_dump()
            )
            await provider_commands.link(
                session, caller, created["id"], uuid.UUID(DEMO_PROVIDER_ID), "contract"
            )
            servicemember = await _seed_units(session, created["members"][0]["id"])
            programme, item = await _seed_programme(session, caller, created["id"])
    finally:
        await database.dispose()
    KNOWN_SERVICEMEMBERS.add(str(servicemember["id"]))
    return {
        "family_id": str(created["id"]),
        "person_id": str(created["members"][0]["id"]),
        "servicemember_id": str(servicemember["id"]),
        "programme_id": str(programme["id"]),
        "item_id": str(item["id"]),
    }


async def _seed_programme(
    session: Any, officer: Caller, family_id: uuid.UUID
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An open cash programme allocating to Kyiv with the seeded family enrolled, and an aid
    item: what distributions and receipts name."""
    admin = Caller(
        Principal(sub="contract-seed", role=Role.MINISTRY_ADMIN),
        request_id="contract-seed",
        keys=IDENTIFIER_KEYS,
    )
    plenty = {"amount": "1000000000.00", "currency": "USD"}
    programme = await programme_commands.create_programme(
        session,
        admin,
        {
            "funder": "UNICEF",
            "name": "Контрактна програма",
            "kind": "cash",
            "budget": plenty,
            "starts_on": date(2024, 1, 1),
            "ends_on": date(2035, 12, 31),
            "eligibility": None,
        },
    )
    await programme_commands.put_allocation(
        session, admin, programme["id"], KYIV, {"amount": plenty}
    )
    await programme_commands.update_programme(
        session, admin, programme["id"], {"status": "open"}, programme["version"]
    )
    await programme_commands.enrol(session, officer, programme["id"], family_id)
    item = await programme_commands.create_item(
        session,
        admin,
        {
            "name": "Контрактний обігрівач",
            "unit": "шт.",
            "unit_value": plenty | {"amount": "100.00"},
        },
    )
    return programme, item


async def _seed_units(session: Any, person_id: uuid.UUID) -> dict[str, Any]:
    """The liaison's unit with the demo provider (eligible) assigned, another unit, and the
    seeded family's member as a servicemember of the liaison's unit."""
    for unit_id, number in ((LIAISON_UNIT_ID, "А0005"), (OTHER_UNIT_ID, "В0006")):
        await session.execute(
            insert(military_unit_table).values(
                id=uuid.UUID(unit_id),
                number=number,
                name="Контрактна частина",
                oblast_codes=[KYIV],
                stage="pilot",
                joined_on=date(2024, 1, 1),
                created_by="contract-seed",
            )
        )
        await session.execute(
            insert(unit_provider_table).values(
                id=uuid.uuid4(),
                unit_id=uuid.UUID(unit_id),
                provider_id=uuid.UUID(DEMO_PROVIDER_ID),
                assigned_on=date(2024, 1, 1),
                assigned_by="contract-seed",
            )
        )
    liaison = Caller(
        Principal(
            sub="contract-seed",
            role=Role.MILITARY_LIAISON,
            unit_id=uuid.UUID(LIAISON_UNIT_ID),
            permissions=ROLE_PERMISSIONS[Role.MILITARY_LIAISON],
        ),
        request_id="contract-seed",
        keys=IDENTIFIER_KEYS,
    )
    return await military_commands.create_servicemember(
        session, liaison, {"person_id": person_id, "status": "serving"}
    )


@pytest.fixture(scope="module")
async def contract_template(database_url: str) -> AsyncIterator[str]:
    """The migrated template with ``SEEDED`` added, as a template of its own."""
    url = await clone_template(database_url, label="contract")
    SEEDED.update(await _seed(url))
    try:
        yield make_url(url).database
    finally:
        await drop_database(url)


@pytest.fixture(scope="module")
async def contract_database(database_url: str, contract_template: str) -> AsyncIterator[Database]:
    url = await clone_template(database_url, contract_template, label="contract")
    database = Database.connect(url, pooled=False)
    try:
        yield database
    finally:
        await database.dispose()
        await drop_database(url)


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
        #: While set, every stand-in token becomes this identity's (the run over every role).
        self.calling_as: str | None = None

    def use(self, app: FastAPI | None, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = {
            stand_in(role).encode(): f"Bearer {token}".encode() for role, token in tokens.items()
        }

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            raise RuntimeError("the app_under_test fixture is not active")
        if scope["type"] == "http":
            scope = {**scope, "headers": [self._swapped(h) for h in scope["headers"]]}
        await self.app(scope, receive, send)

    def _swapped(self, header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
        name, value = header
        if name != b"authorization" or value not in self.tokens:
            return header
        if self.calling_as is not None:
            value = stand_in(self.calling_as).encode()
        return name, self.tokens[value]


def stand_in(role: str) -> str:
    return f"Bearer stand-in-for-{role}"


STAND_INS = {stand_in(identity) for identity in IDENTITIES}


def role_for(path: str, method: str = "GET") -> str | None:
    if (method.upper(), path) in ROLE_BY_OPERATION:
        return ROLE_BY_OPERATION[(method.upper(), path)]
    for prefix, role in ROLE_BY_PREFIX:
        if path.startswith(prefix):
            return role
    return None


class RoleToken:
    """A token of a role that may call the operation (none for the health checks)."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str | None:
        return role_for(context.operation.path, context.operation.method)

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": stand_in(data)}


APP = AppUnderTest()


def _load_schema(*, coverage: bool) -> Any:
    """The committed spec, called in process. The coverage phase sends every boundary case
    the schema defines (hundreds per operation, whatever ``max_examples`` says): the run
    that holds each operation to its contract wants them; the run over every role, which
    asks only that each caller gets a documented answer, would repeat them once per role."""
    config = schemathesis.config.SchemathesisConfig.from_path(CONFIG)
    config.projects.default.phases.coverage.enabled = coverage
    loaded = schemathesis.openapi.from_path(SPEC, config=config)
    loaded.app = APP
    loaded.auth(refresh_interval=None)(RoleToken)
    return loaded


schema = _load_schema(coverage=True)
every_role_schema = _load_schema(coverage=False)


@pytest.fixture(scope="module")
def app_under_test(contract_database, settings, verifier, make_token) -> Iterator[AppUnderTest]:
    APP.use(
        create_app(settings, database=contract_database, verifier=verifier, seal_audit=False),
        {name: make_token(role, sub=name, **claims) for name, (role, claims) in IDENTITIES.items()},
    )
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
        case.query.pop("after", None)  # the change feed's cursor
        # A report's period is at most 24 months: the defaults (the last twelve) are.
        case.query.pop("from_month", None)
        case.query.pop("to_month", None)
        for name, known in (
            ("parent", KYIV_OBLAST),
            ("hromada", KYIV),
            ("territory", KYIV),
            ("category", "idp"),
            ("factor", "low_income"),
        ):
            if case.query.get(name) is not None:
                case.query[name] = known
    if "hromada_code" in (case.path_parameters or {}) and not (
        case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
    ):
        # A step is recorded for, and a programme allocates to, a hromada of the codifier.
        case.path_parameters = {**(case.path_parameters or {}), "hromada_code": KYIV}
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY):
        return
    if isinstance(case.body, dict) and case.path.startswith(_FRIENDLY_COMMUNITY):
        # Every step of the run on one past day: neither in the future nor before the last.
        case.body["taken_on"] = "2024-01-01"
    if isinstance(case.body, dict) and case.path.startswith("/api/v1/families"):
        _known_family_values(case.body)
        seeded = str((case.path_parameters or {}).get("family_id")) == SEEDED.get("family_id")
        if case.path.endswith("/relocation") and seeded:
            # The seeded family is every area's (one database for the module): it stays in
            # Kyiv, where the officers of the other areas reach it (moving it "there" is 409).
            case.body["to_hromada_code"] = KYIV
    if isinstance(case.body, dict) and case.path.startswith("/api/v1/providers"):
        _known_provider_values(case.body)
    if case.path.startswith("/api/v1/service-records"):
        _known_record_values(case)
    if isinstance(case.body, dict) and case.path.startswith("/api/v1/cases"):
        _known_case_values(case.body)
    if isinstance(case.body, dict) and case.path.startswith(_PROGRAMME_PATHS):
        _known_programme_values(case.body)
    if isinstance(case.body, dict) and case.path.startswith(_MILITARY_PATHS):
        _known_military_values(case.body, transfer=case.path.endswith("/transfer"))
    if (
        isinstance(case.body, dict)
        and case.path == "/api/v1/exports"
        and case.body.get("territory")
    ):
        case.body["territory"] = KYIV  # a unit of the codifier
    if isinstance(case.body, dict) and case.path.startswith("/api/v1/webhook-subscriptions"):
        case.body.pop("after", None)  # a feed cursor, opaque: only one the API issued
        if case.body.get("url") is not None:  # a public https address (local ones refused)
            case.body["url"] = "https://hub.example.gov.ua/registry/events"
    if isinstance(case.body, dict) and case.path == "/api/v1/services" and "code" in case.body:
        serial = next(_SERVICE_SERIALS)
        case.body["code"] = f"{serial // 10:03d}.{serial % 10}"
    if case.method == "POST" and case.path in (
        "/api/v1/providers",
        "/api/v1/services",
        "/api/v1/military-units",
        "/api/v1/support-measures",
        "/api/v1/aid-items",
    ):
        # Their identifiers are unique, so a replayed step makes a new record every time (a
        # new identifier above, and a new key: a key's first body is replayed for it).
        for name in [name for name in case.headers or {} if name.lower() == "idempotency-key"]:
            case.headers[name] = f"contract-{next(_SERVICE_SERIALS)}"


_NAME_FIELDS = ("last_name", "first_name", "patronymic")


def _assigned_names_only(node: Any) -> None:
    """A name is letters, and a letter is an assigned character: the spec's ``\\p{L}`` and
    ``\\p{M}`` are drawn from a newer Unicode than the server's Python knows, and a code
    point unassigned there (``Cn``) is refused as no letter. Such a name is replaced."""
    if isinstance(node, list):
        for item in node:
            _assigned_names_only(item)
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _NAME_FIELDS and isinstance(value, str):
            if any(unicodedata.category(char) == "Cn" for char in value):
                node[key] = "Шевченко"
        else:
            _assigned_names_only(value)


def _known_family_values(body: dict[str, Any]) -> None:
    _assigned_names_only(body)
    if body.get("provider_id") is not None:  # linking a provider: the seeded, active one
        body["provider_id"] = DEMO_PROVIDER_ID
    if body.get("hromada_code") is not None:
        body["hromada_code"] = KYIV
    if body.get("to_hromada_code") is not None:
        # A relocation: to a hromada of the codifier, not the peer's (it would reach it then).
        body["to_hromada_code"] = LVIV
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
        consent.update(
            given_at="2025-01-01T00:00:00Z",
            given_by=consent.get("given_by") or "x",
            scope=consent.get("scope") or ["registry"],
        )
    for person in [body, *(m for m in body.get("members") or [] if isinstance(m, dict))]:
        for identifier in ("rnokpp", "unzr"):
            if person.get(identifier) is not None:
                person[identifier] = None
        if person.get("birth_date") is not None:
            person["birth_date"] = "1990-01-01"


def _known_record_values(case: schemathesis.Case) -> None:
    """A record names the seeded family (linked to the demo provider), a service the demo
    provider offers at a place it offers it, a past date, and no case or person it cannot
    name. A batch's items are judged each on its own (a bad one is a rejected result, not a
    4xx), so a valid batch is made of valid records."""
    batch = case.body.get("records") if isinstance(case.body, dict) else case.body
    if case.path.endswith("/batch") and isinstance(batch, list):
        records = [_valid_record(n) for n in range(len(batch))]
        if isinstance(case.body, dict):
            case.body["records"] = records
        else:
            case.body = records
        return
    if isinstance(case.body, dict):
        for name, known in (
            ("family_id", SEEDED.get("family_id")),
            ("service_code", "002.0"),
            ("place", "home"),
            ("delivered_on", "2025-01-01"),
        ):
            if case.body.get(name) is not None:
                case.body[name] = known
        for name in ("person_id", "case_id"):
            if case.body.get(name) is not None:
                case.body[name] = None


def _valid_record(n: int) -> dict[str, Any]:
    return {
        "family_id": SEEDED.get("family_id"),
        "service_code": "002.0",
        "place": "home",
        "delivered_on": "2025-01-01",
        "outcome": "delivered",
        "units": 1 + n % 3,
    }


def _known_case_values(body: dict[str, Any]) -> None:
    """A case names the seeded family; dates lie in the past (an extension's in the future);
    transitions that need a reason (and closure a closure reason, a transfer its target)
    have one; a completed assessment covers every domain; referrals and measures name the
    demo provider or none."""
    if body.get("family_id") is not None:
        body["family_id"] = SEEDED.get("family_id")
    if body.get("received_on") is not None:
        body["received_on"] = "2025-01-01"
    # Nothing of a case is dated before it was received (a case opened without a date was
    # received today): a visit or review is today's, a measure is due ahead.
    for name in ("visited_on", "reviewed_on"):
        if body.get(name) is not None:
            body[name] = utc_today().isoformat()
    if body.get("due_on") is not None:
        body["due_on"] = "2035-01-01"
    if body.get("until") is not None:
        body["until"] = "2035-01-01"
    if isinstance(body.get("agreement"), dict):
        body["agreement"]["agreed_at"] = "2025-01-01T00:00:00Z"
    if body.get("to") in ("suspended", "transferred", "closed"):
        body["reason"] = body.get("reason") or "x"
    if body.get("to") == "closed":
        body["closure_reason"] = body.get("closure_reason") or "other"
    if body.get("to") == "transferred":
        body["transfer_to"] = {"worker_sub": "contract-worker"}
    elif "transfer_to" in body:
        body["transfer_to"] = None
    if body.get("complete"):
        for domain in ("child_development", "parenting_capacity", "family_environment"):
            body[domain] = {"level": "low"}
        body["conclusions"] = body.get("conclusions") or "x"
    if body.get("provider_id") is not None:
        body["provider_id"] = DEMO_PROVIDER_ID
    if body.get("service_code") is not None:
        body["service_code"] = "002.0"
    if body.get("measure_id") is not None:
        body["measure_id"] = None


_FRIENDLY_COMMUNITY = "/api/v1/friendly-communities/"
_PROGRAMME_PATHS = ("/api/v1/programmes", "/api/v1/aid-")
_AID_ITEM_SERIALS = itertools.count(1)


def _known_programme_values(body: dict[str, Any]) -> None:
    """Money in the programmes' one currency (the registry converts none) and money
    programmes only (an in-kind one is given items, which the run cannot pair with the
    programme it drew); a period around today; an eligibility rule the seeded family meets
    (it is the family the run enrols); the seeded family, the demo provider, Kyiv, the seeded
    item and programme; days of today; a new name for a new item."""
    today = utc_today().isoformat()
    for name in ("budget", "amount", "unit_value"):
        if isinstance(body.get(name), dict):
            body[name]["currency"] = "USD"
    if body.get("kind") is not None:
        body["kind"] = "cash"
    if body.get("status") is not None:
        # A programme the run changes is opened (closing it would end every sequence there).
        body["status"] = "open"
    if body.get("items") is not None:
        del body["items"]
        body["amount"] = {"amount": "1.00", "currency": "USD"}
    if body.get("starts_on") is not None:
        body["starts_on"] = "2024-01-01"
    if body.get("ends_on") is not None:
        body["ends_on"] = "2035-12-31"
    if isinstance(body.get("eligibility"), dict):
        body["eligibility"] = _rule_the_seeded_family_meets(body["eligibility"])
    if body.get("family_id") is not None:
        body["family_id"] = SEEDED.get("family_id")
    if body.get("provider_id") is not None:
        body["provider_id"] = DEMO_PROVIDER_ID
    if body.get("hromada_code") is not None:
        body["hromada_code"] = KYIV
    for name in ("distributed_on", "received_on"):
        if body.get(name) is not None:
            body[name] = today
    if body.get("item_id") is not None:
        body["item_id"] = SEEDED.get("item_id")
    if body.get("programme_id") is not None:
        body["programme_id"] = SEEDED.get("programme_id")
    if body.get("unit") is not None and body.get("name") is not None:
        body["name"] = f"Контрактний товар {next(_AID_ITEM_SERIALS)}"


def _rule_the_seeded_family_meets(node: Any) -> Any:
    """The rule's shape kept, each condition one the seeded family meets (an IDP family)."""
    for combinator in ("all", "any"):
        if isinstance(node.get(combinator), list):
            return {
                combinator: [
                    _rule_the_seeded_family_meets(part) if isinstance(part, dict) else part
                    for part in node[combinator]
                ]
            }
    return {"condition": "category", "code": "idp"}


_MILITARY_PATHS = (
    "/api/v1/military-units",
    "/api/v1/support-measures",
    "/api/v1/servicemembers",
    "/api/v1/support-cases",
)


def _known_military_values(body: dict[str, Any], *, transfer: bool) -> None:
    """A unit has a new number, oblasts of the codifier and the eligible demo provider; a
    measure a new code; a servicemember a person the registry knows (the seeded member) or a
    valid new family; a support case names a servicemember the database holds, the demo
    provider, the catalogue's measures, and days from its opening (today) on; transitions
    that need a reason (and closure its reason) have one, and a delivery its day."""
    today = utc_today().isoformat()
    if body.get("number") is not None:
        serial = next(_UNIT_SERIALS) % 10_000
        body["number"] = f"А{serial:04d}"
    if body.get("oblast_codes"):
        body["oblast_codes"] = [KYIV_OBLAST]
    if body.get("provider_ids"):
        body["provider_ids"] = [DEMO_PROVIDER_ID]
    if body.get("provider_id") is not None or (
        body.get("worker_sub") is not None and "servicemember_id" in body
    ):
        # (a support case names its worker only with their provider)
        body["provider_id"] = DEMO_PROVIDER_ID
    if body.get("joined_on") is not None:
        body["joined_on"] = "2024-01-01"
    if "left_on" in body:
        body["left_on"] = None
    if body.get("code") is not None:
        body["code"] = f"contract_{next(_UNIT_SERIALS)}"
    if "person_id" in body or "person" in body or "family" in body:
        if isinstance(body.get("person"), dict) and isinstance(body.get("family"), dict):
            body.pop("person_id", None)
            _known_family_values(body["person"])
            _known_family_values(body["family"])
        else:
            body["person_id"] = SEEDED.get("person_id")
            body.pop("person", None)
            body.pop("family", None)
    if body.get("unit_id") is not None:
        # A new servicemember joins the liaison's unit; a transfer goes to the other one.
        body["unit_id"] = OTHER_UNIT_ID if transfer else LIAISON_UNIT_ID
    if body.get("servicemember_id") is not None and body["servicemember_id"] not in (
        KNOWN_SERVICEMEMBERS
    ):
        body["servicemember_id"] = SEEDED.get("servicemember_id")
    for name in ("effective_on", "opened_on", "contacted_on", "delivered_on"):
        if body.get(name) is not None:
            body[name] = today
    if body.get("status") == "delivered":
        body["delivered_on"] = today
    if body.get("due_on") is not None:
        body["due_on"] = "2035-01-01"
    if body.get("measure_code") is not None:
        body["measure_code"] = "psychosocial_support"
    if body.get("to") in ("suspended", "closed"):
        body["reason"] = body.get("reason") or "x"
    if body.get("to") == "closed":
        body["closure_reason"] = body.get("closure_reason") or "other"


def _known_provider_values(body: dict[str, Any]) -> None:
    """A provider's identifier must carry its check digit, be unused and fit its kind (an
    individual is non-state); codes must name hromadas, active services (each once) and
    criteria; a status change to excluded needs a reason, and its date cannot be ahead."""
    if "to" in body:  # POST /providers/{id}/status
        if body.get("to") == "excluded" and not body.get("reason"):
            body["reason"] = "x"
        if body.get("effective_on") is not None:
            body["effective_on"] = "2024-01-01"
        return
    if any(name in body for name in ("kind", "sector", "edrpou", "rnokpp")):
        serial = next(_IDENTIFIER_SERIALS)
        kind = body.get("kind") or "organisation"
        body["kind"] = kind
        if kind == "organisation":
            base = f"{serial:07d}"
            body.update(edrpou=base + edrpou.calc_check_digit(base), rnokpp=None)
        else:
            number = f"8{serial:08d}"
            body.update(
                edrpou=None, rnokpp=number + rntrc.calc_check_digit(number), sector="non_state"
            )
        body.setdefault("sector", "non_state")
    if body.get("hromada_code") is not None:
        body["hromada_code"] = KYIV
    if body.get("to_hromada_code") is not None:
        # A relocation: to a hromada of the codifier, not the peer's (it would reach it then).
        body["to_hromada_code"] = LVIV
    if "settlement_code" in body:
        body["settlement_code"] = None
    if body.get("hromadas_served"):
        body["hromadas_served"] = [KYIV]
    if body.get("phone") is not None:
        body["phone"] = "+380441234567"
    if body.get("website") is not None:  # a public address (local ones are refused)
        body["website"] = "https://provider.example.org/"
    if body.get("support_criteria_met"):
        body["support_criteria_met"] = ["psychologist"]
    offers = [offer for offer in body.get("services") or [] if isinstance(offer, dict)]
    for offer, code in zip(offers, KNOWN_SERVICES, strict=False):
        offer["service_code"] = code
    if isinstance(body.get("services"), list):
        body["services"] = offers[: len(KNOWN_SERVICES)]


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: Any, value: Any) -> bytes:
    """A batch of records as NDJSON: one JSON value per line. The standard library writes
    what a client may send and orjson refuses (an integer past 64 bits)."""
    values = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode() + b"\n" for item in values)


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
    peer_read = (
        schema["/api/v1/families/{family_id}"]["GET"]
        .Case(path_parameters={"family_id": family_id}, headers=as_peer)
        .call()
    )
    if peer_read.status_code != 404:
        raise AssertionError(
            f"a peer in another hromada got {peer_read.status_code} for a "
            f"family of {case.operation.label}"
        )
    peer_list = schema["/api/v1/families"]["GET"].Case(query={"limit": 200}, headers=as_peer).call()
    if str(family_id) in peer_list.text:
        raise AssertionError("a peer in another hromada listed the family")
    return True


@schema.parametrize()
@HYPOTHESIS
def test_api_conforms_to_its_contract(case: schemathesis.Case, app_under_test) -> None:
    only_values_the_api_knows(case)
    sent_with = (case.headers or {}).get("Authorization")
    checks = _all_checks()
    if case.path.endswith("/batch"):
        # A batch's items are judged each on its own: a record that breaks its schema is a
        # rejected result in a 200, not a 4xx for the batch (README, "Batch submissions in
        # the spec"), so a batch is not held to refusing schema-violating data.
        checks = [check for check in checks if check.__name__ != "negative_data_rejection"]
    response = case.call_and_validate(checks=checks)
    if sent_with in STAND_INS:
        assert response.status_code != 401, "the stand-in token did not become a real one"


#: What the run over every role holds each answer to: whoever calls, every operation answers
#: as documented, and never with a server error.
EVERY_ROLE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


@pytest.mark.parametrize("identity", EVERY_ROLE)
@every_role_schema.parametrize()
@settings(HYPOTHESIS, max_examples=2)
def test_every_role_gets_documented_answers(
    case: schemathesis.Case, app_under_test, identity: str
) -> None:
    """Every operation called by one caller of each role (allowed or not): answers as the
    contract says, never a 5xx (a refusal is a documented 401, 403, 404 or 429)."""
    only_values_the_api_knows(case)
    checks = [check for check in _all_checks() if check.__name__ in EVERY_ROLE_CHECKS]
    app_under_test.calling_as = identity
    try:
        case.call_and_validate(checks=checks)
    finally:
        app_under_test.calling_as = None


def test_every_check_runs() -> None:
    names = {check.__name__ for check in _all_checks()}
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "ignored_auth",
        "use_after_free",
        "ensure_resource_availability",
        "peers_cannot_reach_families",
    } <= names


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/api/v1/audit-events", "auditor"),
        ("/api/v1/territories", "ministry_admin"),
        ("/api/v1/families", "kyiv_officer"),
    ],
)
def test_stand_in_tokens_reach_the_app_as_real_ones(app_under_test, path, role) -> None:
    assert role_for(path) == role
    operation = schema[path]["GET"]
    allowed = operation.Case(query={"limit": 1}, headers={"Authorization": stand_in(role)})
    assert allowed.call().status_code == 200
    forged = operation.Case(query={"limit": 1}, headers={"Authorization": stand_in("nobody")})
    assert forged.call().status_code == 401


class ScenarioDatabases:
    """A database of its own for each sequence (Hypothesis example), cloned from the migrated
    template: every sequence starts from the same state, so one replayed (Hypothesis replays
    a sequence's choices) meets the answers it met before, and a failure replays exactly.
    Sequences run synchronously, outside the tests' event loop: the database work runs in a
    thread of its own."""

    def __init__(self, server_url: str, template: str, app: FastAPI) -> None:
        self.server_url = server_url
        self.template = template
        self.app = app
        self.url: str | None = None

    @staticmethod
    def _run(coroutine: Any) -> Any:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    def start(self) -> None:
        self.url = self._run(clone_template(self.server_url, self.template, label="contract"))
        self.app.state.database = Database.connect(self.url, pooled=False)

    def stop(self) -> None:
        if self.url is None:
            return
        self._run(self.app.state.database.dispose())
        self._run(drop_database(self.url))
        self.url = None


def test_a_programme_is_worked_along_its_links(app_under_test) -> None:
    """programme → allocation → opened → enrolment → distribution → reversal → balances, each
    call's ids taken from the previous answers as the spec's links say, and every answer
    held to the whole contract."""
    checks = _all_checks()
    admin = {"Authorization": stand_in("ministry_admin")}
    officer = {"Authorization": stand_in("kyiv_officer")}

    def call(path: str, method: str, headers: dict[str, str], **parts: Any) -> Any:
        response = (
            schema[path][method].Case(headers=headers, **parts).call_and_validate(checks=checks)
        )
        assert response.status_code < 300, response.text
        return response

    created = call(
        "/api/v1/programmes",
        "POST",
        admin,
        body={
            "funder": "UNICEF",
            "name": "Ланцюжок контракту",
            "kind": "cash",
            "budget": {"amount": "300.00", "currency": "USD"},
            "starts_on": "2024-01-01",
            "ends_on": "2035-12-31",
        },
    )
    programme = {"programme_id": created.json()["id"]}
    call(
        "/api/v1/programmes/{programme_id}/allocations/{hromada_code}",
        "PUT",
        admin,
        path_parameters={**programme, "hromada_code": KYIV},
        body={"amount": {"amount": "100.00", "currency": "USD"}},
    )
    read = call("/api/v1/programmes/{programme_id}", "GET", admin, path_parameters=programme)
    call(
        "/api/v1/programmes/{programme_id}",
        "PATCH",
        {**admin, "If-Match": read.headers["etag"][0]},
        path_parameters=programme,
        body={"status": "open"},
    )
    call(
        "/api/v1/programmes/{programme_id}/enrolments",
        "POST",
        officer,
        path_parameters=programme,
        body={"family_id": SEEDED["family_id"]},
    )
    distributed = call(
        "/api/v1/programmes/{programme_id}/distributions",
        "POST",
        {**officer, "Idempotency-Key": str(uuid.uuid4())},
        path_parameters=programme,
        body={
            "family_id": SEEDED["family_id"],
            "amount": {"amount": "40.10", "currency": "USD"},
            "distributed_on": date.today().isoformat(),
            "handed_over_by": "Олена Коваль",
        },
    )
    reversed_ = call(
        "/api/v1/programmes/{programme_id}/distributions/{distribution_id}/reversal",
        "POST",
        officer,
        path_parameters={**programme, "distribution_id": distributed.json()["id"]},
        body={"reason": "Помилка в сумі"},
    )
    assert reversed_.json()["reversal"]["reason"] == "Помилка в сумі"
    balances = call(
        "/api/v1/programmes/{programme_id}/allocations/{hromada_code}",
        "GET",
        admin,
        path_parameters={**programme, "hromada_code": KYIV},
    )
    assert balances.json()["amount"] == {
        "allocated": "100.00",
        "distributed": "40.10",
        "reversed": "40.10",
        "remaining": "100.00",
        "currency": "USD",
    }


@pytest.fixture
def app_on_fresh_database(
    app_under_test, database_url, contract_template, settings, verifier, make_token
) -> Iterator[ScenarioDatabases]:
    """The application, pointed at a new database by each sequence (the stateless run leaves
    records behind)."""
    app = create_app(settings, verifier=verifier, seal_audit=False)
    APP.use(
        app,
        {name: make_token(role, sub=name, **claims) for name, (role, claims) in IDENTITIES.items()},
    )
    databases = ScenarioDatabases(database_url, contract_template, app)
    yield databases
    databases.stop()
    APP.use(None, {})


#: Sequence runs: which operations each one calls, and the answers it must have met (one
#: machine over the whole API follows any one link too rarely to count on it).
SEQUENCES: dict[str, tuple[str | None, set[tuple[str, int]]]] = {
    "families": (
        r"^/api/v1/(families|territories)",
        {("POST /api/v1/families", 201), ("GET /api/v1/families/{family_id}", 200)},
    ),
    "providers": (
        r"^/api/v1/(providers|services|support-criteria)",
        {("POST /api/v1/providers", 201), ("GET /api/v1/providers/{provider_id}", 200)},
    ),
    "cases": (
        r"^/api/v1/(cases|referrals|caseload)",
        {("POST /api/v1/cases", 201), ("GET /api/v1/cases/{case_id}", 200)},
    ),
    # A unit with its provider, a servicemember, a support case opened for them, its
    # measures, contacts and transitions up to its closure.
    "military": (
        # (the register's collection too: what a unit's providers are, for the run to know
        # that a unit and a case name one)
        r"^/api/v1/(military-units|servicemembers|support-cases|support-measures|providers$)",
        {
            ("POST /api/v1/military-units", 201),
            ("POST /api/v1/servicemembers", 201),
            ("POST /api/v1/support-cases", 201),
            ("GET /api/v1/support-cases/{case_id}", 200),
        },
    ),
    # A programme, its allocation to Kyiv, opened. A distribution needs all of these and a
    # Kyiv officer's call with the allocation's currency, so a random run reaches one (let
    # alone an enrolment or a reversal) too rarely to count on: CI once went eight runs
    # without one. The whole chain is walked, step by step, by
    # ``test_a_programme_is_worked_along_its_links``.
    "programmes": (
        r"^/api/v1/(programmes|aid-items)",
        {
            ("POST /api/v1/programmes", 201),
            ("PUT /api/v1/programmes/{programme_id}/allocations/{hromada_code}", 200),
            ("PATCH /api/v1/programmes/{programme_id}", 200),
            ("GET /api/v1/programmes/{programme_id}", 200),
        },
    ),
}


@pytest.mark.parametrize("area", SEQUENCES)
def test_api_conforms_in_sequences(app_on_fresh_database, area: str) -> None:
    """Sequences along the links: a created family to its reads, updates (If-Match from the
    ETag), members and archive; a listed territory's code to its detail; a registered
    provider to its reads, updates and status changes; a created service to its update."""
    paths, expected = SEQUENCES[area]
    operations = schema if paths is None else schema.include(path_regex=paths)
    checks = _all_checks()
    answered: set[tuple[str, int]] = set()

    class Sequences(operations.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            super().setup()
            app_on_fresh_database.start()

        def teardown(self) -> None:
            app_on_fresh_database.stop()
            super().teardown()

        def before_call(self, case: schemathesis.Case) -> None:
            super().before_call(case)
            only_values_the_api_knows(case)

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            answered.add((case.operation.label, response.status_code))
            if (
                case.operation.label == "POST /api/v1/servicemembers"
                and response.status_code == 201
            ):
                KNOWN_SERVICEMEMBERS.add(response.json()["id"])

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                checks=checks,
                additional_checks=additional_checks,
                transport_kwargs=kwargs or None,
                recorder=getattr(self, "recorder", None),
            )

    # No shrinking: each step changes the database, so a shortened replay would not meet the
    # state the failing run met; the failure is reported as found. Which link a run follows
    # depends on what the server answered (ids, the identity each call drew), so a run of 10
    # sequences sometimes never follows a created record to its read: further runs, each
    # with a seed of its own, go on until the expected answers are met (every response of
    # every run is checked all the same).
    for attempt in range(8):
        Sequences.run(
            settings=settings(
                HYPOTHESIS,
                max_examples=10,
                stateful_step_count=10,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                derandomize=attempt == 0,
                database=None,
            )
        )
        if expected <= answered:
            break
    assert expected <= answered, sorted(expected - answered)
