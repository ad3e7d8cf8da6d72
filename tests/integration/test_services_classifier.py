"""The classifier of social services: read by everyone (filters, pages), kept by ministry
administrators (create, merge patch with If-Match, deactivation), audited writes, and the
import of the official list from a CSV file (function and command)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from registry.db.engine import Database
from registry.domain.classifier.commands import change_key, import_services_csv
from registry.domain.classifier.queries import SERVICE
from registry.domain.classifier.rules import parse_csv
from registry.errors import InvalidInput
from tests.support import KYIV, assert_problem, bearer, error_fields, if_match, run_cli, token

SERVICES = "/api/v1/services"
#: The codes migration 0003 seeds (order No. 429 of 2020).
SEEDED = [
    "001.0",
    "002.0",
    "003.0",
    "004.0",
    "009.1",
    "010.2",
    "012.0",
    "013.0",
    "015.1",
    "015.2",
    "015.3",
    "017.1",
    "017.3",
    "018.1",
    "021.0",
]
HEADER = "code,name_uk,name_en,purpose,kind,is_basic,active"


def service(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "005.0",
        "name_uk": "Соціальна профілактика",
        "name_en": "Social prevention",
        "purpose": "prevention",
        "kind": "simple",
        "is_basic": True,
        **overrides,
    }


async def codes(client, headers, **params: Any) -> list[str]:
    response = await client.get(SERVICES, params={"limit": 200, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [s["code"] for s in response.json()["items"]]


# --- reading -----------------------------------------------------------------------------------


async def test_the_seeded_classifier_in_code_order(client, admin):
    assert await codes(client, admin) == SEEDED
    counselling = await client.get(f"{SERVICES}/002.0", headers=admin)
    assert counselling.status_code == 200
    assert counselling.headers["etag"] == '"1"'
    assert {
        k: v for k, v in counselling.json().items() if k not in ("created_at", "updated_at")
    } == {
        "code": "002.0",
        "name_uk": "Консультування",
        "name_en": "Counselling",
        "purpose": "prevention",
        "kind": "simple",
        "is_basic": True,
        "active": True,
        "version": 1,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"purpose": "care"}, ["015.1", "015.2", "015.3", "018.1"]),
        ({"kind": "simple"}, ["001.0", "002.0", "003.0", "004.0", "021.0"]),
        ({"basic": "false", "purpose": "care"}, ["015.2", "018.1"]),
        ({"q": "ДОГЛЯД вдома"}, ["015.1"]),
        ({"q": "rehabilitation"}, ["017.1", "017.3"]),
        ({"q": "100%"}, []),
    ],
    ids=lambda value: str(value),
)
async def test_filters(client, admin, params, expected):
    assert await codes(client, admin, **params) == expected


async def test_an_inactive_service_is_listed_and_filtered(client, admin, connection):
    await connection.execute(text("UPDATE services SET active = false WHERE code = '001.0'"))
    assert await codes(client, admin, active="false") == ["001.0"]
    assert "001.0" not in await codes(client, admin, active="true")


async def test_pages_follow_the_cursor(client, admin):
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        page = (await client.get(SERVICES, params=params, headers=admin)).json()
        seen.extend(s["code"] for s in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == SEEDED


@pytest.mark.parametrize(
    ("role", "claims", "expected"),
    [
        ("ministry_analyst", {}, 200),
        ("provider_staff", {"provider_id": str(uuid.uuid4())}, 200),
        ("community_officer", {"territory": KYIV}, 200),
        ("integration", {"scope": "reference:read"}, 200),
        ("integration", {"scope": "providers:read"}, 403),
        ("auditor", {}, 403),
    ],
)
async def test_everyone_but_the_auditor_reads_it(client, make_token, role, claims, expected):
    headers = bearer(token(make_token, role, **claims))
    assert (await client.get(SERVICES, headers=headers)).status_code == expected
    assert (await client.get(f"{SERVICES}/012.0", headers=headers)).status_code == expected


async def test_an_unknown_code_is_404_and_a_malformed_one_422(client, admin):
    assert_problem(await client.get(f"{SERVICES}/999.9", headers=admin), 404)
    assert error_fields(
        assert_problem(await client.get(f"{SERVICES}/2.0", headers=admin), 422)
    ) == {"path.code"}


# --- keeping it by hand ------------------------------------------------------------------------


async def test_an_administrator_adds_a_service(client, connection, admin):
    response = await client.post(SERVICES, json=service(), headers=admin)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{SERVICES}/005.0"
    assert response.headers["etag"] == '"1"'
    assert response.json()["active"] is True
    assert "005.0" in await codes(client, admin, purpose="prevention")
    event = (
        await connection.execute(
            text("SELECT actor, resource_ids FROM audit_events WHERE action = 'create_service'")
        )
    ).one()
    assert event == ("test-ministry_admin", ["005.0"])

    again = assert_problem(await client.post(SERVICES, json=service(), headers=admin), 409)
    assert error_fields(again) == {"body.code"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "5.0"}, "body.code"),
        ({"purpose": "rehabilitation"}, "body.purpose"),
        ({"kind": "compound"}, "body.kind"),
        ({"name_uk": "   "}, "body.name_uk"),
        ({"version": 3}, "body.version"),
    ],
)
async def test_an_invalid_service_is_422(client, admin, overrides, field):
    response = await client.post(SERVICES, json=service(**overrides), headers=admin)
    assert error_fields(assert_problem(response, 422)) == {field}


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("community_officer", {"territory": KYIV}),
        ("ministry_analyst", {}),
        ("provider_staff", {"provider_id": str(uuid.uuid4())}),
        ("integration", {"scope": "reference:read providers:manage reach:national"}),
    ],
)
async def test_only_the_ministry_keeps_the_classifier(client, make_token, role, claims):
    headers = bearer(token(make_token, role, **claims))
    assert_problem(await client.post(SERVICES, json=service(), headers=headers), 403)
    assert_problem(
        await client.patch(
            f"{SERVICES}/002.0", json={"active": False}, headers=if_match(headers, 1)
        ),
        403,
    )


async def test_an_integration_client_granted_classifiers_manage_keeps_it(client, make_token):
    headers = bearer(token(make_token, "integration", scope="classifiers:manage"))
    assert (await client.post(SERVICES, json=service(), headers=headers)).status_code == 201


async def test_a_patch_needs_a_current_if_match_and_deactivates_instead_of_deleting(
    client, connection, admin
):
    url = f"{SERVICES}/015.2"
    assert_problem(await client.patch(url, json={"active": False}, headers=admin), 428)
    response = await client.patch(
        url,
        json={"active": False, "name_en": "Residential care (in an institution)"},
        headers=if_match(admin, 1),
    )
    assert response.status_code == 200, response.text
    assert (response.headers["etag"], response.json()["active"]) == ('"2"', False)
    assert (await client.get(url, headers=admin)).json()["active"] is False

    stale = assert_problem(
        await client.patch(url, json={"is_basic": True}, headers=if_match(admin, 1)), 412
    )
    assert (stale["current_version"], stale["changed_fields"]) == (2, ["active", "name_en"])
    # The same values again are no change: no new version.
    same = await client.patch(url, json={"active": False}, headers=if_match(admin, 2))
    assert same.json()["version"] == 2
    assert_problem(await client.patch(url, json={"name_uk": None}, headers=if_match(admin, 2)), 422)
    assert (
        await connection.scalar(
            text("SELECT count(*) FROM audit_events WHERE action = 'update_service'")
        )
        == 2
    )


async def test_patching_an_unknown_service_is_404(client, admin):
    assert_problem(
        await client.patch(f"{SERVICES}/999.9", json={"active": False}, headers=if_match(admin, 1)),
        404,
    )


# --- importing the official list ---------------------------------------------------------------


def _csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


async def test_an_import_adds_updates_and_reports(connection):
    session = Database.bound_to(connection).session()
    text_ = "\ufeff" + _csv(
        "002.0,Консультування,Counselling,prevention,simple,true,true",  # unchanged
        "015.2,Стаціонарний догляд,Residential care,care,complex,false,false",  # deactivated
        '005.0,Соціальна профілактика,"Social prevention, general",prevention,simple,так,1',
        "",
        "020.0,Натуральна допомога,In-kind aid,support,simple,yes,true",
    )
    report = await import_services_csv(session, text_, "test-import")
    await session.flush()
    assert (report.added, report.updated, report.unchanged) == (
        ["005.0", "020.0"],
        ["015.2"],
        ["002.0"],
    )
    rows = {
        row.code: row
        for row in (
            await connection.execute(
                text(
                    "SELECT code, name_en, is_basic, active, version FROM services "
                    "WHERE code IN ('005.0', '015.2', '020.0', '002.0')"
                )
            )
        ).all()
    }
    assert (rows["005.0"].name_en, rows["005.0"].is_basic, rows["005.0"].version) == (
        "Social prevention, general",
        True,
        1,
    )
    assert (rows["015.2"].active, rows["015.2"].version) == (False, 2)
    assert rows["002.0"].version == 1
    changed = await connection.scalar(
        text(
            "SELECT changed_fields FROM record_changes WHERE resource_type = :type "
            "AND resource_id = :id AND version = 2"
        ),
        {"type": SERVICE, "id": change_key("015.2")},
    )
    assert changed == ["active"]

    # Importing the same file again changes nothing.
    again = await import_services_csv(session, text_, "test-import")
    assert (again.added, again.updated) == ([], [])


async def test_an_import_with_bad_rows_names_each_and_writes_nothing(connection):
    session = Database.bound_to(connection).session()
    before = await connection.scalar(text("SELECT count(*) FROM services"))
    bad = _csv(
        "005.0,Соціальна профілактика,Social prevention,prevention,simple,true,true",
        "5.1,Щось,Something,prevention,simple,true,true",
        "006.0,,Nameless,sometimes,compound,maybe,true",
        "005.0,Дубль,Duplicate,care,simple,false,true",
        "007.0,Замало,Too few",
        "008.0,Червоне \u001b[31mслово,Red,care,simple,false,true",
    )
    with pytest.raises(InvalidInput) as error:
        await import_services_csv(session, bad, "test-import")
    assert [(e.field, e.message) for e in error.value.errors] == [
        ("line 3.code", "must be a classifier code such as 002.0"),
        ("line 4.name_uk", "must not be empty"),
        ("line 4.purpose", "must be one of prevention, support, care"),
        ("line 4.kind", "must be one of simple, complex"),
        ("line 4.is_basic", "must be true or false"),
        ("line 5.code", "005.0 is also on line 2"),
        ("line 6", "has 3 values where the header has 7"),
        ("line 7.name_uk", "must not contain control characters"),
    ]
    assert await connection.scalar(text("SELECT count(*) FROM services")) == before


def test_an_import_file_needs_the_header():
    with pytest.raises(InvalidInput) as error:
        parse_csv("code;name_uk;name_en\n001.0;Інформування;Informing\n")
    assert [e.field for e in error.value.errors] == ["line 1"]
    # The columns may come in any order.
    assert parse_csv(
        "active,is_basic,kind,purpose,name_en,name_uk,code\n"
        "true,false,simple,support,Escort,Супровід,021.0\n"
    ) == [
        {
            "active": True,
            "is_basic": False,
            "kind": "simple",
            "purpose": "support",
            "name_en": "Escort",
            "name_uk": "Супровід",
            "code": "021.0",
        }
    ]


async def test_the_import_command(cli_database, tmp_path: Path, capsys):
    good = tmp_path / "services.csv"
    good.write_text(
        _csv(
            "020.0,Натуральна допомога,In-kind aid,support,simple,true,true",
            "002.0,Консультування,Counselling,prevention,simple,true,true",
        ),
        encoding="utf-8",
    )
    assert await asyncio.to_thread(run_cli, "services", "import", str(good)) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["added"], report["updated"], report["unchanged"]) == (1, 0, 1)

    bad = tmp_path / "bad.csv"
    bad.write_text(
        _csv("021.0,Фізичний супровід,Physical escort,support,simple,true,perhaps"),
        encoding="utf-8",
    )
    assert await asyncio.to_thread(run_cli, "services", "import", str(bad)) == 1
    assert "line 2.active: must be true or false" in capsys.readouterr().err
    database = Database.connect(cli_database, pool_size=1, max_overflow=0)
    try:
        async with database.transaction() as session:
            assert (
                await session.scalar(text("SELECT active FROM services WHERE code = '021.0'"))
                is True
            )
            assert (
                await session.scalar(text("SELECT count(*) FROM services WHERE code = '020.0'"))
                == 1
            )
    finally:
        await database.dispose()
