"""What the tests share: territory codes, tokens, request bodies valid by default (overridden
per test), the answers every route shares, template databases and the CLI runner. Fixtures
are in ``tests/conftest.py``."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from registry.auth.keys import SigningKey
from registry.auth.tokens import issue
from registry.db.engine import Database
from registry.db.provision import asyncpg_dsn
from registry.domain.shared.identifiers import rnokpp_for, unzr_for
from registry.domain.shared.sealing import IdentifierKeys, new_keys_document
from registry.errors import PROBLEM_TYPE_PREFIX

# --- territory codes (KATOTTG) -----------------------------------------------------------------

KYIV = "UA80000000000093317"  # city with special status: oblast- and hromada-level
BUCHA = "UA32080070000050759"  # hromada in Kyiv oblast, Bucha raion
BUCHA_CITY = "UA32080070010087821"  # the city of Bucha, a settlement of that hromada
VORZEL = "UA32080070030073716"
IRPIN = "UA32080150000035443"  # another hromada of the same raion and oblast
KYIV_OBLAST = "UA32000000000030281"
BUCHA_RAION = "UA32080000000084076"
LVIV = "UA46060250000025047"  # hromada in Lviv oblast
LVIV_OBLAST = "UA46000000000026241"

#: The role the tests' application runs as (the settings' default, which the migrations
#: create and grant): a right the API lacks fails the tests that need it.
RUNTIME_ROLE = "registry_app"

# --- identifier keys ---------------------------------------------------------------------------

#: What every application, seed and CLI run of a test session seals identifiers with (the
#: ``settings`` fixture's ``identifier_keys_file`` holds the same document).
IDENTIFIER_KEYS_DOCUMENT = new_keys_document("test-1")
IDENTIFIER_KEYS = IdentifierKeys.from_document(IDENTIFIER_KEYS_DOCUMENT)

# --- tokens and headers ------------------------------------------------------------------------

ISSUER = "registry-test"
AUDIENCE = "registry"

TokenFactory = Callable[..., str]


def token_factory(signing_key: SigningKey) -> TokenFactory:
    """``factory("community_officer", territory=KYIV)``: a valid token for that role."""

    def factory(role: str, sub: str | None = None, **claims: Any) -> str:
        return issue(
            signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=sub or f"test-{role}",
            role=role,
            **claims,
        )

    return factory


_signed: dict[tuple[Any, ...], str] = {}


def token(make_token: Any, role: str, **claims: Any) -> str:
    """``make_token``, remembered for the session: signing a token takes tens of
    milliseconds, and the matrix tests use the same few hundreds of times."""
    key = (role, *sorted(claims.items()))
    if key not in _signed:
        _signed[key] = make_token(role, **claims)
    return _signed[key]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def if_match(headers: dict[str, str], version: int | str) -> dict[str, str]:
    """``headers`` with ``If-Match``: a version number as its ETag, or a tag as given."""
    tag = version if isinstance(version, str) else f'"{version}"'
    return {**headers, "If-Match": tag}


# --- answers every route shares ----------------------------------------------------------------

PROBLEM_JSON = "application/problem+json"
LINK_NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_TYPE_PREFIX)
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def error_fields(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body.get("errors") or []}


# --- families ----------------------------------------------------------------------------------

FAMILIES = "/api/v1/families"

_serials = itertools.count(1)


def person(**overrides: Any) -> dict[str, Any]:
    """A valid member (with a unique RNOKPP and UNZR unless overridden)."""
    born = overrides.get("birth_date", date(1985, 4, 12))
    if isinstance(born, str):
        born = date.fromisoformat(born)
    sex = overrides.get("sex", "female")
    serial = next(_serials)
    body = {
        "last_name": "Шевченко",
        "first_name": "Оксана",
        "patronymic": "Петрівна",
        "birth_date": born.isoformat(),
        "sex": sex,
        "relation": "head",
        "rnokpp": rnokpp_for(born, sex, serial % 5000),
        "unzr": unzr_for(born, serial % 10000),
    }
    body.update(overrides)
    if isinstance(body["birth_date"], date):
        body["birth_date"] = body["birth_date"].isoformat()
    return body


def child(**overrides: Any) -> dict[str, Any]:
    return person(
        **{
            "first_name": "Марʼяна",
            "patronymic": "Андріївна",
            "birth_date": "2016-09-01",
            "relation": "child",
            "rnokpp": None,
            **overrides,
        }
    )


def family(hromada: str = KYIV, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hromada_code": hromada,
        "address_line": "вул. Хрещатик, 1, кв. 5",
        "phone": "+380441234567",
        "categories": ["idp", "large_family"],
        "factors": ["hostilities_harm", "low_income"],
        "consent": {
            "given_at": "2025-03-01T10:00:00Z",
            "given_by": "head of the family",
            "scope": ["registry", "social_accompaniment"],
        },
        "members": [person()],
    }
    body.update(overrides)
    return body


def years_ago(years: int, *, days: int = 30) -> date:
    """A birth date ``years`` years and ``days`` days before today: the person is ``years``
    old (for a small ``days``)."""
    today = date.today()
    anniversary = today.replace(year=today.year - years, day=min(today.day, 28))
    return anniversary - timedelta(days=days)


def rnokpp(born: date | str, sex: str = "female") -> str:
    """A valid RNOKPP for that birth date and sex, unique in this test session."""
    if isinstance(born, str):
        born = date.fromisoformat(born)
    return rnokpp_for(born, sex, next(_serials) % 5000)


def unzr(born: date | str) -> str:
    """A valid UNZR for that birth date, unique in this test session."""
    if isinstance(born, str):
        born = date.fromisoformat(born)
    return unzr_for(born, next(_serials) % 10000)


async def create_family(
    client: Any, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """POST the family; it must be created. Returns the created family."""
    response = await client.post(FAMILIES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# --- providers ---------------------------------------------------------------------------------

PROVIDERS = "/api/v1/providers"
_edrpou_serials = itertools.count(2_000_000)


def edrpou() -> str:
    """A valid EDRPOU, unique in this test session."""
    from stdnum.ua import edrpou as stdnum_edrpou

    base = f"{next(_edrpou_serials):07d}"
    return base + stdnum_edrpou.calc_check_digit(base)


def provider_body(**overrides: Any) -> dict[str, Any]:
    """A valid non-state organisation in Kyiv offering counselling and crisis intervention
    (with a unique EDRPOU unless overridden)."""
    body: dict[str, Any] = {
        "kind": "organisation",
        "sector": "non_state",
        "edrpou": edrpou(),
        "full_name": "Громадська організація «Дружня громада»",
        "short_name": "ГО «Дружня громада»",
        "legal_form": "громадська організація",
        "phone": "+380441234567",
        "email": "info@druzhnia.org.ua",
        "hromada_code": KYIV,
        "address_line": "вул. Хрещатик, 10",
        "services": [
            {"service_code": "002.0", "frequency": "periodic", "places": ["home", "online"]},
            {"service_code": "012.0", "frequency": "crisis", "places": ["home", "online"]},
        ],
    }
    body.update(overrides)
    return body


async def create_provider(
    client: Any,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    *,
    activate: bool = True,
) -> dict[str, Any]:
    """POST the provider (it must be created) and, when ``activate``, include it in the
    register. Returns the provider."""
    response = await client.post(PROVIDERS, json=body or provider_body(), headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    if activate:
        response = await client.post(
            f"{PROVIDERS}/{created['id']}/status", json={"to": "active"}, headers=headers
        )
        assert response.status_code == 200, response.text
        created = response.json()
    return created


# --- service records ---------------------------------------------------------------------------

RECORDS = "/api/v1/service-records"
BATCH = f"{RECORDS}/batch"


def record(family_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid record of counselling at home three days ago for that family."""
    body = {
        "family_id": family_id,
        "service_code": "002.0",
        "delivered_on": (date.today() - timedelta(days=3)).isoformat(),
        "units": 1,
        "duration_minutes": 60,
        "place": "home",
        "outcome": "delivered",
    }
    body.update(overrides)
    return body


# --- template databases ------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` instead."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def template_of(url: str) -> str:
    """The name of the migrated template kept beside ``url``'s database."""
    return f"{make_url(url).database}_template"


async def _admin(url: str) -> asyncpg.Connection:
    dsn, extra = asyncpg_dsn(with_database(url, "postgres"))
    return await asyncpg.connect(dsn, **extra)


async def create_database(url: str, name: str, *, template: str) -> str:
    """A database ``name`` on ``url``'s server, copied from ``template``; its URL."""
    admin = await _admin(url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    return with_database(url, name)


async def drop_database(url: str, name: str | None = None) -> None:
    """Drop ``name`` (by default ``url``'s database), connections and all, if it exists."""
    admin = await _admin(url)
    try:
        await admin.execute(
            f'DROP DATABASE IF EXISTS "{name or make_url(url).database}" WITH (FORCE)'
        )
    finally:
        await admin.close()


async def clone_template(url: str, template: str | None = None, *, label: str = "fresh") -> str:
    """A database of its own, cloned from ``template`` (by default the migrated template of
    ``url``'s database); its URL. Drop it with ``drop_database``."""
    name = f"{make_url(url).database}_{label}_{uuid.uuid4().hex[:10]}"
    return await create_database(url, name, template=template or template_of(url))


@dataclass
class Live:
    """A client of an application on a database of its own, where every request commits."""

    client: httpx.AsyncClient
    database: Database

    async def count(self, sql: str, **params: Any) -> int:
        async with self.database.engine.connect() as conn:
            return int(await conn.scalar(text(sql), params))


# --- the command line --------------------------------------------------------------------------


def run_cli(*argv: str) -> object:
    """``registry *argv`` in this process: its exit code. The command configures logging
    process-wide onto the stdout of the moment (a test's capture, closed after it): the
    configuration before it is put back, so later tests log where they did."""
    import structlog

    from registry.cli import main

    logging_before = structlog.get_config()
    try:
        main(list(argv))
    except SystemExit as exit_:
        return exit_.code
    finally:
        structlog.configure(**logging_before)
    return "returned without exiting"


async def start_cli(*argv: str, env: dict[str, str]) -> Any:
    """``registry *argv`` as a process of its own (for ``serve``, which runs until stopped):
    an ``asyncio.subprocess.Process`` with its stdout and stderr piped."""
    import asyncio
    import sys

    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "registry.cli",
        *argv,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


# --- the application's clock ---------------------------------------------------------------------


class Clock:
    """The application's clock on a day a test chooses (``app.state.clock``)."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day

    def advance(self, days: int) -> None:
        self.day += timedelta(days=days)


@contextmanager
def clock_set_to(app: Any, day: date) -> Iterator[Clock]:
    """The application's clock on ``day`` for the block, restored afterwards."""
    original = app.state.clock
    app.state.clock = Clock(day)
    try:
        yield app.state.clock
    finally:
        app.state.clock = original


# --- servicemember-family support (the military context) -----------------------------------------

UNITS = "/api/v1/military-units"
SERVICEMEMBERS = "/api/v1/servicemembers"
SUPPORT_CASES = "/api/v1/support-cases"
SUPPORT_MEASURES = "/api/v1/support-measures"
SUPPORT_CRITERIA = "/api/v1/support-criteria"
#: The criteria of /support-criteria a provider meets to pass the gate (all of them).
SUPPORT_CRITERIA_CODES = [
    "in_register",
    "accompaniment_experience",
    "trained_staff",
    "psychologist",
    "mobile_team",
    "no_sanctions",
]
_unit_numbers = itertools.count(1000)


def unit_number(letter: str = "А") -> str:
    """A unit's public designation (Cyrillic А or В and four digits), unique in the session."""
    return f"{letter}{next(_unit_numbers) % 9000 + 1000}"


async def eligible_provider(
    client: Any, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    """An active non_state provider meeting every support criterion, verified by ``headers``
    (a ministry administrator)."""
    return await create_provider(
        client, headers, provider_body(support_criteria_met=SUPPORT_CRITERIA_CODES, **overrides)
    )


def unit_body(**overrides: Any) -> dict[str, Any]:
    return {
        "number": unit_number(),
        "name": "Окрема бригада",
        "oblast_codes": [KYIV_OBLAST],
        "stage": "pilot",
        "joined_on": "2024-01-15",
        **overrides,
    }


async def create_unit(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """POST the unit (it must be created). Returns the unit."""
    response = await client.post(UNITS, json=unit_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_servicemember(
    client: Any,
    headers: dict[str, str],
    hromada: str = BUCHA,
    **overrides: Any,
) -> dict[str, Any]:
    """POST a new person with a new family of ``hromada`` as a servicemember of the liaison's
    unit (``headers``); it must be created."""
    body = {"person": person(), "family": family(hromada), "status": "serving", **overrides}
    response = await client.post(SERVICEMEMBERS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def open_support_case(
    client: Any, headers: dict[str, str], servicemember_id: str, **overrides: Any
) -> dict[str, Any]:
    """POST a support case for the servicemember (it must be opened)."""
    body = {"servicemember_id": servicemember_id, "summary": "Родина просить допомоги", **overrides}
    response = await client.post(SUPPORT_CASES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    opened: dict[str, Any] = response.json()
    return opened


@dataclass
class SupportWorld:
    """An eligible provider assigned to a unit, the unit's liaison, a servicemember of the
    unit whose family lives in ``hromada``, and the servicemember's open support case,
    assigned to the provider's ``worker-1``."""

    provider: dict[str, Any]
    unit: dict[str, Any]
    liaison: dict[str, str]
    servicemember: dict[str, Any]
    case: dict[str, Any]


async def support_world(
    client: Any, admin: dict[str, str], make_token: Any, hromada: str = BUCHA
) -> SupportWorld:
    provider = await eligible_provider(client, admin)
    unit = await create_unit(client, admin, provider_ids=[provider["id"]])
    liaison = bearer(token(make_token, "military_liaison", unit_id=unit["id"]))
    servicemember = await create_servicemember(client, liaison, hromada)
    case = await open_support_case(
        client, liaison, servicemember["id"], provider_id=provider["id"], worker_sub="worker-1"
    )
    return SupportWorld(provider, unit, liaison, servicemember, case)


# --- community programmes (the programmes context) ------------------------------------------------

PROGRAMMES = "/api/v1/programmes"
AID_ITEMS = "/api/v1/aid-items"
AID_STOCK = "/api/v1/aid-stock"
AID_RECEIPTS = "/api/v1/aid-receipts"


def programme_body(**overrides: Any) -> dict[str, Any]:
    today = date.today()
    body: dict[str, Any] = {
        "funder": "UNICEF",
        "name": "Цільова фінансова підтримка",
        "kind": "cash",
        "budget": {"amount": "100000.00", "currency": "USD"},
        "starts_on": (today - timedelta(days=30)).isoformat(),
        "ends_on": (today + timedelta(days=300)).isoformat(),
    }
    body.update(overrides)
    return body


async def open_programme(
    client: Any,
    admin: dict[str, str],
    allocations: dict[str, dict[str, Any]],
    **overrides: Any,
) -> dict[str, Any]:
    """A programme (``programme_body`` with ``overrides``) with ``allocations`` per hromada
    (each an allocation body), opened."""
    created = await client.post(PROGRAMMES, json=programme_body(**overrides), headers=admin)
    assert created.status_code == 201, created.text
    programme: dict[str, Any] = created.json()
    for hromada, allocation in allocations.items():
        put = await client.put(
            f"{PROGRAMMES}/{programme['id']}/allocations/{hromada}", json=allocation, headers=admin
        )
        assert put.status_code == 200, put.text
    opened = await client.patch(
        f"{PROGRAMMES}/{programme['id']}",
        json={"status": "open"},
        headers=if_match(admin, programme["version"]),
    )
    assert opened.status_code == 200, opened.text
    return dict(opened.json())


async def create_aid_item(
    client: Any, admin: dict[str, str], name: str, value: str = "100.00", currency: str = "UAH"
) -> dict[str, Any]:
    created = await client.post(
        AID_ITEMS,
        json={"name": name, "unit": "шт.", "unit_value": {"amount": value, "currency": currency}},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def enrol(
    client: Any, officer: dict[str, str], programme_id: str, family_id: str
) -> dict[str, Any]:
    enrolled = await client.post(
        f"{PROGRAMMES}/{programme_id}/enrolments", json={"family_id": family_id}, headers=officer
    )
    assert enrolled.status_code == 201, enrolled.text
    return dict(enrolled.json())


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}
