"""The register of providers: registering (validation with nothing written on failure,
unique identifiers), reading and searching (public, audited, an individual's RNOKPP masked),
changing (JSON merge patch, If-Match), who keeps which providers, register status
transitions with their history, the servicemember-support criteria, and the demo seed."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from stdnum.ua import rntrc

from registry.db.engine import Database
from registry.demo import providers as demo
from registry.domain.providers.queries import provider_values
from registry.domain.providers.rules import validate_edrpou, validate_provider_rnokpp
from tests.support import (
    BUCHA,
    BUCHA_CITY,
    BUCHA_RAION,
    IDENTIFIER_KEYS,
    IRPIN,
    KYIV,
    LVIV,
    PROVIDERS,
    VORZEL,
    assert_problem,
    bearer,
    create_provider,
    edrpou,
    error_fields,
    if_match,
    provider_body,
    token,
)

TODAY = date.today()
_rnokpp_serials = iter(range(100_000_000, 200_000_000, 7919))


def rnokpp() -> str:
    """A valid RNOKPP (any birth date), unique in this module."""
    base = f"{next(_rnokpp_serials):09d}"
    return base + rntrc.calc_check_digit(base)


def individual(kind: str = "natural_person", **overrides: Any) -> dict[str, Any]:
    return provider_body(
        kind=kind,
        edrpou=None,
        rnokpp=rnokpp(),
        full_name="Мельник Ганна Іванівна",
        short_name=None,
        legal_form=None,
        **overrides,
    )


def url(provider_id: Any, *rest: str) -> str:
    return "/".join([PROVIDERS, str(provider_id), *rest])


TABLES = (
    "providers",
    "provider_services",
    "provider_status_changes",
    "record_changes",
    "idempotency_keys",
)


async def row_counts(connection) -> dict[str, int]:
    return {
        table: await connection.scalar(text(f"SELECT count(*) FROM {table}")) for table in TABLES
    }


async def status(
    client: httpx.AsyncClient, headers: dict[str, str], provider_id: str, to: str, **fields: Any
) -> httpx.Response:
    return await client.post(url(provider_id, "status"), json={"to": to, **fields}, headers=headers)


# --- registering -------------------------------------------------------------------------------


async def test_a_provider_is_registered_pending_with_location_etag_and_history(client, admin):
    body = provider_body(
        website="https://druzhnia.org.ua",
        services=[
            {
                "service_code": "002.0",
                "frequency": "periodic",
                "places": ["online", "home", "home"],
                "capacity": 30,
                "tariff": {"amount": "150.5", "unit": "година"},
                "urgent": True,
            }
        ],
    )
    response = await client.post(PROVIDERS, json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == url(created["id"])
    assert response.headers["etag"] == '"1"'
    assert (created["status"], created["included_on"], created["version"]) == ("pending", None, 1)
    assert (created["oblast_code"], created["raion_code"], created["hromada_code"]) == (
        KYIV,
        None,
        KYIV,
    )
    assert created["hromadas_served"] == [KYIV], "defaults to the hromada of the address"
    assert created["services"] == [
        {
            "service_code": "002.0",
            "name_uk": "Консультування",
            "name_en": "Counselling",
            "frequency": "periodic",
            "places": ["home", "online"],
            "capacity": 30,
            "tariff": {"amount": "150.50", "unit": "година"},
            "urgent": True,
        }
    ]
    assert created["servicemember_support"] == {
        "criteria_met": [],
        "eligible": False,
        "verified_by": None,
        "verified_at": None,
    }

    again = await client.get(response.headers["location"], headers=admin)
    assert (again.status_code, again.headers["etag"]) == (200, '"1"')
    assert again.json() == created
    history = (await client.get(url(created["id"], "status-history"), headers=admin)).json()
    assert [
        (c["version"], c["from_status"], c["to_status"], c["effective_on"], c["changed_by"])
        for c in history["items"]
    ] == [(1, None, "pending", TODAY.isoformat(), "test-ministry_admin")]


async def test_a_settlement_inside_the_hromada_and_the_address_codes(client, admin):
    created = await create_provider(
        client,
        admin,
        provider_body(
            hromada_code=BUCHA, settlement_code=VORZEL, hromadas_served=[IRPIN, BUCHA, IRPIN]
        ),
    )
    assert (created["raion_code"], created["hromada_code"], created["settlement_code"]) == (
        BUCHA_RAION,
        BUCHA,
        VORZEL,
    )
    assert created["hromadas_served"] == sorted([BUCHA, IRPIN])


async def test_invalid_fields_are_all_reported_and_nothing_is_written(client, connection, admin):
    before = await row_counts(connection)
    body = provider_body(
        edrpou="20000000",  # wrong check digit
        phone="+0441234567",
        hromada_code=BUCHA,
        settlement_code=BUCHA_RAION,
        hromadas_served=[KYIV, BUCHA_RAION, "UA99999999999999999"],
        support_criteria_met=["psychologist", "no_such_criterion"],
        services=[
            {"service_code": "002.0", "frequency": "periodic", "places": ["home"]},
            {"service_code": "999.9", "frequency": "crisis", "places": ["home"]},
            {"service_code": "002.0", "frequency": "crisis", "places": ["online"]},
        ],
    )
    response = await client.post(PROVIDERS, json=body, headers=admin)
    assert error_fields(assert_problem(response, 422)) == {
        "body.edrpou",
        "body.phone",
        "body.settlement_code",
        "body.hromadas_served",
        "body.support_criteria_met",
        "body.services.1.service_code",
        "body.services.2.service_code",
    }
    assert "UA99999999999999999" in response.text
    assert "no_such_criterion" in response.text
    assert await row_counts(connection) == before


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"edrpou": None}, {"body.edrpou"}),
        ({"rnokpp": "3123456789"}, {"body.rnokpp"}),
        ({"kind": "natural_person"}, {"body.rnokpp", "body.edrpou"}),
        (
            {"kind": "individual_entrepreneur", "edrpou": None, "rnokpp": "1234567890"},
            {"body.rnokpp"},
        ),
        ({"hromada_code": BUCHA_RAION}, {"body.hromada_code"}),
        (
            {"hromada_code": BUCHA, "settlement_code": "UA32080150010000000"},
            {"body.settlement_code"},
        ),
        ({"status": "active"}, {"body.status"}),
        (
            {"services": [{"service_code": "002.0", "frequency": "daily", "places": ["home"]}]},
            {"body.services.0.frequency"},
        ),
        (
            {"services": [{"service_code": "002.0", "frequency": "crisis", "places": []}]},
            {"body.services.0.places"},
        ),
        (
            {
                "services": [
                    {
                        "service_code": "002.0",
                        "frequency": "crisis",
                        "places": ["home"],
                        "capacity": 0,
                    }
                ]
            },
            {"body.services.0.capacity"},
        ),
        (
            {
                "services": [
                    {
                        "service_code": "002.0",
                        "frequency": "crisis",
                        "places": ["home"],
                        "tariff": {"amount": "-1", "unit": "година"},
                    }
                ]
            },
            {"body.services.0.tariff.amount"},
        ),
        (
            {
                "services": [
                    {
                        "service_code": "002.0",
                        "frequency": "crisis",
                        "places": ["home"],
                        "tariff": {"amount": 150, "unit": "година"},
                    }
                ]
            },
            {"body.services.0.tariff.amount"},
        ),
        ({"email": "not-an-address"}, {"body.email"}),
        ({"website": "ftp://example.org"}, {"body.website"}),
    ],
    ids=[
        "organisation-without-edrpou",
        "organisation-with-rnokpp",
        "person-with-edrpou",
        "rnokpp-check-digit",
        "raion-as-hromada",
        "settlement-elsewhere",
        "status-not-input",
        "frequency",
        "no-places",
        "capacity",
        "negative-tariff",
        "tariff-as-number",
        "email",
        "website",
    ],
)
async def test_invalid_provider_is_422(client, connection, admin, overrides, fields):
    before = await row_counts(connection)
    response = await client.post(PROVIDERS, json=provider_body(**overrides), headers=admin)
    assert error_fields(assert_problem(response, 422)) == fields
    assert await row_counts(connection) == before


@pytest.mark.parametrize(
    "website",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:5432/",
        "http://127.1/",
        "http://0x7f.0.0.1/",
        "http://10.1.2.3/admin",
        "https://192.168.0.1",
        "http://[::ffff:127.0.0.1]/",
        "http://metadata.google.internal/",
        "http://printer.local/",
    ],
)
async def test_a_website_on_a_local_or_private_address_is_refused(
    client, connection, admin, website
):
    """Another system may fetch what the register holds: an address inside its own network
    would make that fetch a request forged from inside (SSRF)."""
    before = await row_counts(connection)
    response = await client.post(PROVIDERS, json=provider_body(website=website), headers=admin)
    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {
            "field": "body.website",
            "message": "must be a public web address, not a local, private or link-local one",
        }
    ]
    assert await row_counts(connection) == before
    created = await create_provider(client, admin, provider_body())
    patched = await client.patch(
        url(created["id"]), json={"website": website}, headers=if_match(admin, 2)
    )
    assert error_fields(assert_problem(patched, 422)) == {"body.website"}


async def test_individuals_have_an_rnokpp_and_are_non_state(client, admin):
    created = await create_provider(client, admin, individual("individual_entrepreneur"))
    assert (created["kind"], created["sector"], created["edrpou"]) == (
        "individual_entrepreneur",
        "non_state",
        None,
    )
    response = await client.post(PROVIDERS, json=individual(sector="communal"), headers=admin)
    assert error_fields(assert_problem(response, 422)) == {"body.sector"}


async def test_an_inactive_service_cannot_be_newly_offered(client, admin, connection):
    await connection.execute(text("UPDATE services SET active = false WHERE code = '021.0'"))
    response = await client.post(
        PROVIDERS,
        json=provider_body(
            services=[{"service_code": "021.0", "frequency": "one_off", "places": ["street"]}]
        ),
        headers=admin,
    )
    assert error_fields(assert_problem(response, 422)) == {"body.services.0.service_code"}


@pytest.mark.parametrize("identifier", ["edrpou", "rnokpp"])
async def test_an_identifier_already_registered_is_409_naming_the_provider(
    client, connection, admin, identifier
):
    body = provider_body() if identifier == "edrpou" else individual()
    first = await create_provider(client, admin, body, activate=False)
    before = await row_counts(connection)
    again = {
        **provider_body(),
        "kind": body["kind"],
        "edrpou": body["edrpou"],
        "rnokpp": body.get("rnokpp"),
        "full_name": "Інша назва",
    }
    problem = assert_problem(await client.post(PROVIDERS, json=again, headers=admin), 409)
    assert problem["existing_provider_id"] == first["id"]
    assert error_fields(problem) == {f"body.{identifier}"}
    assert await row_counts(connection) == before


async def test_creating_is_idempotent(client, connection, admin):
    body = provider_body()
    headers = {**admin, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(PROVIDERS, json=body, headers=headers)
    replay = await client.post(PROVIDERS, json=body, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    assert (
        await connection.scalar(
            text("SELECT count(*) FROM providers WHERE edrpou = :e"), {"e": body["edrpou"]}
        )
        == 1
    )


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "claims", "expected"),
    [
        ("ministry_admin", {}, 200),
        ("ministry_analyst", {}, 200),
        ("regional_officer", {"territory": "UA32000000000030281"}, 200),
        ("community_officer", {"territory": LVIV}, 200),
        ("social_worker", {"territory": BUCHA}, 200),
        ("provider_staff", {"provider_id": str(uuid.uuid4())}, 200),
        ("military_liaison", {"unit_id": str(uuid.uuid4())}, 200),
        ("integration", {"scope": "providers:read"}, 200),
        ("integration", {"scope": "families:read reach:national"}, 403),
        ("auditor", {}, 403),
    ],
)
async def test_the_register_is_public_to_whoever_reads_it(
    client, make_token, admin, role, claims, expected
):
    created = await create_provider(client, admin)
    headers = bearer(token(make_token, role, **claims))
    assert (await client.get(url(created["id"]), headers=headers)).status_code == expected
    listed = await client.get(PROVIDERS, params={"edrpou": created["edrpou"]}, headers=headers)
    assert listed.status_code == expected
    if expected == 200:
        assert [p["id"] for p in listed.json()["items"]] == [created["id"]]


async def test_an_unknown_provider_is_404(client, admin):
    for path in (url(uuid.uuid4()), url(uuid.uuid4(), "status-history")):
        assert_problem(await client.get(path, headers=admin), 404)


@pytest.mark.parametrize(
    ("role", "claims", "full"),
    [
        ("ministry_admin", {}, True),
        ("community_officer", {"territory": LVIV}, True),  # providers:manage
        ("social_worker", {"territory": BUCHA}, True),  # identifiers:read
        ("ministry_analyst", {}, False),
        ("provider_staff", {"provider_id": str(uuid.uuid4())}, False),
        ("integration", {"scope": "providers:read"}, False),
        ("integration", {"scope": "providers:read identifiers:read reach:national"}, True),
    ],
)
async def test_an_individuals_rnokpp_is_masked_for_those_who_may_not_see_it(
    client, make_token, admin, role, claims, full
):
    created = await create_provider(client, admin, individual())
    number = created["rnokpp"]
    headers = bearer(token(make_token, role, **claims))
    shown = {
        (await client.get(url(created["id"]), headers=headers)).json()["rnokpp"],
        (await client.get(PROVIDERS, params={"kind": "natural_person"}, headers=headers)).json()[
            "items"
        ][0]["rnokpp"],
    }
    assert shown == ({number} if full else {"********" + number[-2:]})


async def test_reads_are_audited_with_the_ids_returned(client, connection, admin):
    first = await create_provider(client, admin)
    second = await create_provider(client, admin)
    await client.get(url(first["id"]), headers=admin)
    await client.get(PROVIDERS, params={"hromada": KYIV}, headers=admin)
    events = (
        await connection.execute(
            text(
                "SELECT action, resource_ids FROM audit_events WHERE resource_type = 'provider' "
                "AND action IN ('get_provider', 'list_providers') ORDER BY id"
            )
        )
    ).all()
    assert events[0] == ("get_provider", [first["id"]])
    assert events[1][0] == "list_providers"
    assert {first["id"], second["id"]} <= set(events[1][1])


# --- searching ---------------------------------------------------------------------------------


@pytest.fixture
async def register(client, admin) -> dict[str, dict[str, Any]]:
    """A few providers that differ in what the search filters on."""
    made = {
        "ngo": await create_provider(
            client,
            admin,
            provider_body(
                full_name="Благодійний фонд «Обʼєднані заради дітей»",
                short_name="БФ «Обʼєднані»",
                hromadas_served=[KYIV, BUCHA],
            ),
        ),
        "communal": await create_provider(
            client,
            admin,
            provider_body(
                sector="communal",
                full_name="Центр надання соціальних послуг Бучанської міської ради",
                short_name="ЦНСП Буча",
                hromada_code=BUCHA,
                services=[{"service_code": "015.1", "frequency": "permanent", "places": ["home"]}],
            ),
        ),
        "person": await create_provider(client, admin, individual(hromada_code=IRPIN)),
        "pending": await create_provider(
            client, admin, provider_body(full_name="ГО «Світанок»", short_name=None), activate=False
        ),
    }
    return made


async def _found(client, admin, **params: Any) -> set[str]:
    response = await client.get(PROVIDERS, params={"limit": 200, **params}, headers=admin)
    assert response.status_code == 200, response.text
    return {p["id"] for p in response.json()["items"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"service_code": "015.1"}, {"communal"}),
        ({"service_code": "002.0"}, {"ngo", "person", "pending"}),
        ({"hromada": BUCHA}, {"ngo", "communal"}),
        ({"hromada": IRPIN}, {"person"}),
        ({"sector": "communal"}, {"communal"}),
        ({"kind": "natural_person"}, {"person"}),
        ({"status": "pending"}, {"pending"}),
        ({"status": "active", "hromada": KYIV}, {"ngo"}),
        ({"q": "обʼєднані"}, {"ngo"}),
        ({"q": "ОБ'ЄДНАНІ"}, {"ngo"}),  # any case and apostrophe
        ({"q": "обеднані"}, {"ngo"}),  # a typo
        ({"q": "цнсп"}, {"communal"}),  # the short name
        ({"q": "світанок"}, {"pending"}),
        ({"q": "бучанської міської"}, {"communal"}),
    ],
    ids=lambda value: str(value),
)
async def test_search_filters(client, admin, register, params, expected):
    ids = {name: p["id"] for name, p in register.items()}
    assert await _found(client, admin, **params) & set(ids.values()) == {
        ids[name] for name in expected
    }


async def test_search_by_edrpou_is_exact(client, admin, register):
    assert await _found(client, admin, edrpou=register["ngo"]["edrpou"]) == {register["ngo"]["id"]}
    assert await _found(client, admin, edrpou=edrpou()) == set()


async def test_search_by_a_hromada_needs_a_hromada(client, admin):
    response = await client.get(PROVIDERS, params={"hromada": BUCHA_CITY}, headers=admin)
    assert error_fields(assert_problem(response, 422)) == {"query.hromada"}


async def test_pages_follow_the_cursor(client, admin, register):
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1, "service_code": "002.0"}
    while True:
        page = (await client.get(PROVIDERS, params=params, headers=admin)).json()
        seen.extend(p["id"] for p in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen))
    assert {register[n]["id"] for n in ("ngo", "person", "pending")} <= set(seen)
    assert seen == sorted(seen)


# --- changing ----------------------------------------------------------------------------------


async def test_a_patch_replaces_the_services_and_bumps_the_version(client, admin):
    created = await create_provider(client, admin)
    response = await client.patch(
        url(created["id"]),
        headers=if_match(admin, 2),
        json={
            "short_name": None,
            "phone": "044 123 45 67",
            "services": [
                {
                    "service_code": "021.0",
                    "frequency": "one_off",
                    "places": ["street"],
                    "tariff": {"amount": "80", "unit": "супровід"},
                }
            ],
        },
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert (response.headers["etag"], patched["version"]) == ('"3"', 3)
    assert (patched["short_name"], patched["phone"]) == (None, "+380441234567")
    assert [(s["service_code"], s["tariff"]) for s in patched["services"]] == [
        ("021.0", {"amount": "80.00", "unit": "супровід"})
    ]

    # The same values again change nothing.
    same = await client.patch(
        url(created["id"]),
        headers=if_match(admin, 3),
        json={
            "phone": "+380441234567",
            "services": [
                {
                    "service_code": "021.0",
                    "frequency": "one_off",
                    "places": ["street"],
                    "tariff": {"amount": "80.00", "unit": "супровід"},
                }
            ],
        },
    )
    assert same.json()["version"] == 3

    # An offer withdrawn earlier may be offered again.
    again = await client.patch(
        url(created["id"]),
        headers=if_match(admin, 3),
        json={"services": [{"service_code": "002.0", "frequency": "crisis", "places": ["phone"]}]},
    )
    assert [(s["service_code"], s["places"]) for s in again.json()["services"]] == [
        ("002.0", ["phone"])
    ]


async def test_a_patch_needs_if_match_and_a_current_one(client, admin):
    created = await create_provider(client, admin, activate=False)
    assert_problem(
        await client.patch(url(created["id"]), json={"legal_form": "фонд"}, headers=admin), 428
    )
    assert (
        await client.patch(
            url(created["id"]), json={"legal_form": "фонд"}, headers=if_match(admin, 1)
        )
    ).status_code == 200
    stale = assert_problem(
        await client.patch(url(created["id"]), json={"email": None}, headers=if_match(admin, 1)),
        412,
    )
    assert (stale["current_version"], stale["changed_fields"]) == (2, ["legal_form"])


async def test_a_patch_is_validated_whole(client, connection, admin):
    created = await create_provider(client, admin)
    before = await row_counts(connection)
    response = await client.patch(
        url(created["id"]),
        headers=if_match(admin, 2),
        json={"kind": "natural_person", "full_name": None, "hromadas_served": [BUCHA_RAION]},
    )
    assert error_fields(assert_problem(response, 422)) == {"body.full_name"}
    response = await client.patch(
        url(created["id"]),
        headers=if_match(admin, 2),
        json={"kind": "natural_person", "hromadas_served": [BUCHA_RAION]},
    )
    assert error_fields(assert_problem(response, 422)) == {
        "body.rnokpp",
        "body.edrpou",
        "body.hromadas_served",
    }
    assert await row_counts(connection) == before


async def test_changing_the_kind_means_changing_the_identifier(client, admin):
    created = await create_provider(client, admin)
    number = rnokpp()
    response = await client.patch(
        url(created["id"]),
        headers=if_match(admin, 2),
        json={"kind": "individual_entrepreneur", "edrpou": None, "rnokpp": number},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["kind"], response.json()["rnokpp"]) == (
        "individual_entrepreneur",
        number,
    )


async def test_a_patch_to_an_identifier_of_another_provider_is_409(client, admin):
    first = await create_provider(client, admin)
    second = await create_provider(client, admin)
    problem = assert_problem(
        await client.patch(
            url(second["id"]), headers=if_match(admin, 2), json={"edrpou": first["edrpou"]}
        ),
        409,
    )
    assert problem["existing_provider_id"] == first["id"]


async def test_an_excluded_provider_is_not_changed(client, admin):
    created = await create_provider(client, admin)
    await status(client, admin, created["id"], "excluded", reason="ліквідація")
    assert_problem(
        await client.patch(
            url(created["id"]), json={"legal_form": "фонд"}, headers=if_match(admin, 3)
        ),
        409,
    )


async def test_the_server_records_who_verified_the_support_criteria(client, make_token, admin):
    created = await create_provider(
        client, admin, provider_body(support_criteria_met=["psychologist", "in_register"])
    )
    support = created["servicemember_support"]
    assert support["criteria_met"] == ["in_register", "psychologist"]
    assert (support["verified_by"], support["eligible"]) == ("test-ministry_admin", False)
    assert support["verified_at"] is not None

    verifier = bearer(token(make_token, "ministry_admin", sub="verifier"))
    criteria = (await client.get("/api/v1/support-criteria", headers=admin)).json()["items"]
    everything = [c["code"] for c in criteria if c["active"]]
    patched = (
        await client.patch(
            url(created["id"]),
            headers=if_match(verifier, 2),
            json={"support_criteria_met": everything},
        )
    ).json()
    assert patched["servicemember_support"]["verified_by"] == "verifier"
    assert patched["servicemember_support"]["eligible"] is True

    # Other changes leave the verification alone; clients cannot set it.
    other = (
        await client.patch(
            url(created["id"]), headers=if_match(admin, 3), json={"legal_form": "фонд"}
        )
    ).json()
    assert other["servicemember_support"]["verified_by"] == "verifier"
    forged = await client.patch(
        url(created["id"]), headers=if_match(admin, 4), json={"support_verified_by": "me"}
    )
    assert error_fields(assert_problem(forged, 422)) == {"body.support_verified_by"}


# --- who keeps which providers -----------------------------------------------------------------


async def test_a_community_officer_keeps_communal_providers_of_their_hromada(client, officer):
    created = await create_provider(client, officer, provider_body(sector="communal"))
    assert created["status"] == "active"
    response = await client.patch(
        url(created["id"]),
        headers=if_match(officer, 2),
        json={"address_line": "вул. Прорізна, 19"},
    )
    assert response.status_code == 200, response.text
    excluded = await status(client, officer, created["id"], "excluded", reason="закрито")
    assert excluded.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        provider_body(sector="non_state"),
        provider_body(sector="state"),
        provider_body(sector="communal", hromada_code=BUCHA),
    ],
    ids=["non-state", "state", "communal-elsewhere"],
)
async def test_a_community_officer_registers_nothing_else(client, connection, officer, body):
    before = await row_counts(connection)
    assert_problem(await client.post(PROVIDERS, json=body, headers=officer), 403)
    assert await row_counts(connection) == before


@pytest.mark.parametrize(
    "body",
    [
        provider_body(sector="non_state"),
        provider_body(sector="communal", hromada_code=BUCHA),
    ],
    ids=["non-state", "communal-elsewhere"],
)
async def test_a_community_officer_changes_nothing_else(client, admin, officer, body):
    created = await create_provider(client, admin, body)
    assert (await client.get(url(created["id"]), headers=officer)).status_code == 200
    assert_problem(
        await client.patch(
            url(created["id"]), json={"legal_form": "фонд"}, headers=if_match(officer, 2)
        ),
        403,
    )
    assert_problem(await status(client, officer, created["id"], "excluded", reason="x"), 403)


@pytest.mark.parametrize(
    "patch",
    [
        {"sector": "non_state"},
        {"hromada_code": BUCHA},
    ],
    ids=["out-of-communal", "out-of-the-hromada"],
)
async def test_a_community_officer_cannot_let_a_provider_go(client, connection, officer, patch):
    created = await create_provider(client, officer, provider_body(sector="communal"))
    before = await row_counts(connection)
    assert_problem(
        await client.patch(url(created["id"]), json=patch, headers=if_match(officer, 2)), 403
    )
    assert await row_counts(connection) == before


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("social_worker", {"territory": KYIV}),
        ("provider_staff", {"provider_id": str(uuid.uuid4())}),
        ("ministry_analyst", {}),
        ("integration", {"scope": "providers:read"}),
    ],
)
async def test_others_do_not_keep_the_register(client, make_token, admin, role, claims):
    created = await create_provider(client, admin)
    headers = bearer(token(make_token, role, **claims))
    assert_problem(await client.post(PROVIDERS, json=provider_body(), headers=headers), 403)
    assert_problem(
        await client.patch(
            url(created["id"]), json={"legal_form": "фонд"}, headers=if_match(headers, 2)
        ),
        403,
    )
    assert_problem(await status(client, headers, created["id"], "excluded", reason="x"), 403)


async def test_an_integration_client_keeps_providers_of_its_territory(client, make_token):
    headers = bearer(
        token(make_token, "integration", territory=KYIV, scope="providers:read providers:manage")
    )
    assert (await client.post(PROVIDERS, json=provider_body(), headers=headers)).status_code == 201
    assert_problem(
        await client.post(PROVIDERS, json=provider_body(hromada_code=BUCHA), headers=headers), 403
    )


# --- register status ---------------------------------------------------------------------------


async def _provider_in(client, admin, state: str) -> dict[str, Any]:
    created = await create_provider(client, admin, activate=state != "pending")
    if state == "excluded":
        response = await status(client, admin, created["id"], "excluded", reason="порушення")
        assert response.status_code == 200, response.text
        created = response.json()
    assert created["status"] == state
    return created


ALLOWED = {
    ("pending", "active"),
    ("pending", "excluded"),
    ("active", "excluded"),
    ("excluded", "pending"),
}
STATES = ("pending", "active", "excluded")


@pytest.mark.parametrize(("current", "to"), [(a, b) for a in STATES for b in STATES])
async def test_every_status_transition(client, admin, current, to):
    provider = await _provider_in(client, admin, current)
    response = await status(client, admin, provider["id"], to, reason="рішення комісії")
    if (current, to) not in ALLOWED:
        problem = assert_problem(response, 409)
        assert problem["allowed"] == sorted(b for a, b in ALLOWED if a == current)
        return
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["status"], changed["status_reason"]) == (to, "рішення комісії")
    assert changed["version"] == provider["version"] + 1
    assert response.headers["etag"] == f'"{changed["version"]}"'
    expected_dates = {
        "active": (TODAY.isoformat(), None),
        "excluded": (provider["included_on"], TODAY.isoformat()),
        "pending": (None, None),
    }[to]
    assert (changed["included_on"], changed["excluded_on"]) == expected_dates
    history = (await client.get(url(provider["id"], "status-history"), headers=admin)).json()[
        "items"
    ]
    assert (history[-1]["from_status"], history[-1]["to_status"], history[-1]["version"]) == (
        current,
        to,
        changed["version"],
    )


async def test_the_history_keeps_every_change_with_its_date_and_reason(client, make_token, admin):
    created = await create_provider(client, admin, activate=False)
    committee = bearer(token(make_token, "ministry_admin", sub="committee"))
    included = date(2024, 3, 1)
    steps = [
        ("active", {"effective_on": included.isoformat()}),
        ("excluded", {"reason": "порушення стандартів", "effective_on": "2025-01-15"}),
        ("pending", {"reason": "повторна заява"}),
        ("active", {}),
    ]
    for to, fields in steps:
        assert (await status(client, committee, created["id"], to, **fields)).status_code == 200
    history = (await client.get(url(created["id"], "status-history"), headers=admin)).json()[
        "items"
    ]
    assert [
        (c["from_status"], c["to_status"], c["effective_on"], c["reason"], c["changed_by"])
        for c in history
    ] == [
        (None, "pending", TODAY.isoformat(), None, "test-ministry_admin"),
        ("pending", "active", "2024-03-01", None, "committee"),
        ("active", "excluded", "2025-01-15", "порушення стандартів", "committee"),
        ("excluded", "pending", TODAY.isoformat(), "повторна заява", "committee"),
        ("pending", "active", TODAY.isoformat(), None, "committee"),
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"to": "excluded"}, "body.reason"),
        (
            {"to": "active", "effective_on": (TODAY + timedelta(days=2)).isoformat()},
            "body.effective_on",
        ),
        ({"to": "active", "effective_on": "2019-12-31"}, "body.effective_on"),
        ({"to": "suspended"}, "body.to"),
    ],
    ids=["exclusion-without-reason", "in-the-future", "before-the-law", "unknown-status"],
)
async def test_an_invalid_status_change_is_422(client, connection, admin, fields, field):
    created = await create_provider(client, admin, activate=False)
    before = await row_counts(connection)
    response = await client.post(url(created["id"], "status"), json=fields, headers=admin)
    assert error_fields(assert_problem(response, 422)) == {field}
    assert await row_counts(connection) == before


async def test_if_match_is_checked_on_a_status_change_when_sent(client, admin):
    created = await create_provider(client, admin, activate=False)
    assert_problem(
        await client.post(
            url(created["id"], "status"), json={"to": "active"}, headers=if_match(admin, 7)
        ),
        412,
    )
    assert (
        await client.post(
            url(created["id"], "status"), json={"to": "active"}, headers=if_match(admin, 1)
        )
    ).status_code == 200


# --- demo data ---------------------------------------------------------------------------------


async def test_the_demo_providers_are_seeded_once_and_valid(connection):
    session = Database.bound_to(connection).session()
    assert await demo.seed_demo_providers(session, IDENTIFIER_KEYS) == len(demo.PROVIDERS)
    assert await demo.seed_demo_providers(session, IDENTIFIER_KEYS) == 0
    rows = [
        provider_values(row, IDENTIFIER_KEYS)
        for row in (
            await connection.execute(text("SELECT * FROM providers WHERE created_by = 'demo-seed'"))
        )
        .mappings()
        .all()
    ]
    assert len(rows) == len(demo.PROVIDERS) >= 10
    for row in rows:
        if row["edrpou"] is not None:
            assert validate_edrpou(row["edrpou"]) == row["edrpou"]
        else:
            assert validate_provider_rnokpp(row["rnokpp"]) == row["rnokpp"]
    seeded = next(row for row in rows if str(row["id"]) == demo.DEMO_PROVIDER_ID)
    assert (seeded["status"], seeded["sector"], seeded["hromada_code"]) == (
        "active",
        "non_state",
        KYIV,
    )
    offered = set(
        (
            await connection.execute(
                text("SELECT service_code FROM provider_services WHERE provider_id = :id"),
                {"id": seeded["id"]},
            )
        ).scalars()
    )
    assert offered == {"002.0", "012.0", "013.0", "021.0"}
    versions = (
        await connection.execute(
            text(
                "SELECT p.version, max(c.version) FROM providers p JOIN provider_status_changes c "
                "ON c.provider_id = p.id WHERE p.created_by = 'demo-seed' GROUP BY p.id"
            )
        )
    ).all()
    assert all(version == last for version, last in versions)
