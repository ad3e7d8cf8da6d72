"""Families and members as records: creating them (addresses, reference codes, validation
with nothing written on failure), changing them (JSON merge patch, ETag / If-Match),
archiving and removing (history kept), duplicate identifiers and possible duplicates,
and idempotent creation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from registry.domain.shared.identifiers import rnokpp_for, unzr_for
from tests.support import (
    BUCHA,
    BUCHA_CITY,
    BUCHA_RAION,
    FAMILIES,
    IRPIN,
    KYIV,
    KYIV_OBLAST,
    PROBLEM_JSON,
    VORZEL,
    bearer,
    child,
    create_family,
    family,
    if_match,
    person,
    token,
)

BORN = date(1985, 4, 12)


@pytest.fixture
def irpin_worker(make_token) -> dict[str, str]:
    return bearer(token(make_token, "social_worker", territory=IRPIN))


def url(family_id: Any, *rest: Any) -> str:
    return "/".join([FAMILIES, str(family_id), *map(str, rest)])


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def error_fields(response: httpx.Response) -> set[str]:
    return {error["field"] for error in problem(response, 422).get("errors") or []}


TABLES = ("families", "persons", "record_changes", "idempotency_keys")


async def row_counts(connection) -> dict[str, int]:
    return {
        table: await connection.scalar(text(f"SELECT count(*) FROM {table}")) for table in TABLES
    }


# --- creating ----------------------------------------------------------------------------------


async def test_create_answers_201_with_location_etag_and_the_derived_codes(client, worker):
    body = family(BUCHA, settlement_code=BUCHA_CITY, members=[person(), child()])
    response = await client.post(FAMILIES, json=body, headers=worker)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == url(created["id"])
    assert response.headers["etag"] == '"1"'
    assert created["version"] == 1
    assert (
        created["oblast_code"],
        created["raion_code"],
        created["hromada_code"],
        created["settlement_code"],
    ) == (KYIV_OBLAST, BUCHA_RAION, BUCHA, BUCHA_CITY)
    assert created["status"] == "active"
    assert created["categories"] == ["idp", "large_family"]
    assert created["possible_duplicates"] == []
    assert {
        (m["first_name"], m["relation"], m["status"], m["version"]) for m in created["members"]
    } == {("Оксана", "head", "active", 1), ("Марʼяна", "child", "active", 1)}

    again = await client.get(response.headers["location"], headers=worker)
    assert again.status_code == 200
    assert again.headers["etag"] == '"1"'
    assert again.json() == {k: v for k, v in created.items() if k != "possible_duplicates"}


async def test_kyiv_city_is_a_hromada_and_its_own_oblast(client, make_token):
    kyiv = bearer(token(make_token, "social_worker", territory=KYIV))
    created = await create_family(client, kyiv, family(KYIV))
    assert (created["oblast_code"], created["raion_code"], created["hromada_code"]) == (
        KYIV,
        None,
        KYIV,
    )
    regional = bearer(token(make_token, "regional_officer", territory=KYIV))
    assert (await client.get(url(created["id"]), headers=regional)).status_code == 200


@pytest.mark.parametrize(
    ("hromada", "settlement"),
    [
        (IRPIN, BUCHA_CITY),  # a settlement of another hromada
        (IRPIN, IRPIN),  # the hromada itself
        (IRPIN, BUCHA_RAION),  # a raion
        (IRPIN, "UA99999999999999999"),  # no such unit
    ],
    ids=["other-hromada", "itself", "raion", "unknown"],
)
async def test_settlement_must_lie_inside_the_hromada(
    client, connection, irpin_worker, hromada, settlement
):
    before = await row_counts(connection)
    response = await client.post(
        FAMILIES, json=family(hromada, settlement_code=settlement), headers=irpin_worker
    )
    assert error_fields(response) == {"body.settlement_code"}
    assert await row_counts(connection) == before


async def test_a_settlement_inside_the_hromada_is_kept(client, worker):
    created = await create_family(client, worker, family(BUCHA, settlement_code=VORZEL))
    assert (created["hromada_code"], created["settlement_code"]) == (BUCHA, VORZEL)


@pytest.mark.parametrize(
    "code",
    [BUCHA_RAION, KYIV_OBLAST, BUCHA_CITY, "UA99999999999999999"],
    ids=["raion", "oblast", "settlement", "unknown"],
)
async def test_hromada_code_must_name_a_hromada(client, connection, worker, code):
    before = await row_counts(connection)
    response = await client.post(FAMILIES, json=family(code), headers=worker)
    assert error_fields(response) == {"body.hromada_code"}
    assert await row_counts(connection) == before


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"categories": ["idp", "no_such_category"]}, {"body.categories"}),
        ({"factors": ["low_income", "no_such_factor"]}, {"body.factors"}),
        (
            {"categories": ["no_such_category"], "factors": ["no_such_factor"]},
            {"body.categories", "body.factors"},
        ),
    ],
    ids=["category", "factor", "both"],
)
async def test_unknown_reference_codes_are_422(client, connection, worker, overrides, fields):
    before = await row_counts(connection)
    response = await client.post(FAMILIES, json=family(BUCHA, **overrides), headers=worker)
    assert error_fields(response) == fields
    assert "no_such_" in str(response.json()["errors"])
    assert await row_counts(connection) == before


TOMORROW = datetime.now(UTC).date() + timedelta(days=2)  # in every time zone
OTHER_DAY = date(1986, 4, 12)
_VALID_UNZR = unzr_for(BORN, 4321)
_VALID_RNOKPP = rnokpp_for(BORN, "female", 4321)

#: (member overrides, family overrides, the field named)
INVALID = {
    "mixed-alphabets": ({"last_name": "Шевчеnко"}, {}, "body.members.0.last_name"),
    "punctuation": ({"first_name": "Эдуарда!"}, {}, "body.members.0.first_name"),
    "control-character": ({"patronymic": "Артёмівна\u001b"}, {}, "body.members.0.patronymic"),
    "digits": ({"last_name": "Шевченко2"}, {}, "body.members.0.last_name"),
    "leading-apostrophe": ({"first_name": "'Яна"}, {}, "body.members.0.first_name"),
    "born-tomorrow": (
        {"birth_date": TOMORROW.isoformat(), "rnokpp": None, "unzr": None},
        {},
        "body.members.0.birth_date",
    ),
    "born-before-1900": (
        {"birth_date": "1899-12-31", "rnokpp": None, "unzr": None},
        {},
        "body.members.0.birth_date",
    ),
    "rnokpp-check-digit": (
        {"rnokpp": _VALID_RNOKPP[:9] + str((int(_VALID_RNOKPP[9]) + 1) % 10)},
        {},
        "body.members.0.rnokpp",
    ),
    "rnokpp-other-birth-date": (
        {"rnokpp": rnokpp_for(OTHER_DAY, "female", 1)},
        {},
        "body.members.0.rnokpp",
    ),
    "rnokpp-other-sex": ({"rnokpp": rnokpp_for(BORN, "male", 1)}, {}, "body.members.0.rnokpp"),
    "rnokpp-and-refused": ({"rnokpp_refused": True}, {}, "body.members.0.rnokpp_refused"),
    "rnokpp-not-digits": ({"rnokpp": "31148001O5"}, {}, "body.members.0.rnokpp"),
    "unzr-check-digit": (
        {"unzr": _VALID_UNZR[:13] + str((int(_VALID_UNZR[13]) + 1) % 10)},
        {},
        "body.members.0.unzr",
    ),
    "unzr-other-birth-date": ({"unzr": unzr_for(OTHER_DAY, 1)}, {}, "body.members.0.unzr"),
    "unknown-member-field": ({"nickname": "Ксюша"}, {}, "body.members.0.nickname"),
    "bad-sex": ({"sex": "x"}, {}, "body.members.0.sex"),
    "bad-relation": ({"relation": "cousin"}, {}, "body.members.0.relation"),
    "phone-not-e164": ({}, {"phone": "+0441234567"}, "body.phone"),
    "phone-too-short": ({}, {"phone": "+38044"}, "body.phone"),
    "phone-letters": ({}, {"phone": "call me"}, "body.phone"),
    "phone-no-country": ({}, {"phone": "441234567"}, "body.phone"),
    "unknown-family-field": ({}, {"income": 1000}, "body.income"),
    "consent-in-the-future": (
        {},
        {
            "consent": {
                "given_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                "given_by": "head",
                "scope": ["registry"],
            }
        },
        "body.consent.given_at",
    ),
    "consent-without-offset": (
        {},
        {"consent": {"given_at": "2025-03-01T10:00:00", "given_by": "head", "scope": ["registry"]}},
        "body.consent.given_at",
    ),
    "consent-unknown-purpose": (
        {},
        {
            "consent": {
                "given_at": "2025-03-01T10:00:00Z",
                "given_by": "head",
                "scope": ["marketing"],
            }
        },
        "body.consent.scope.0",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_invalid_input_is_422_naming_the_field_and_nothing_is_written(
    client, connection, worker, case
):
    member_overrides, family_overrides, field = INVALID[case]
    body = family(BUCHA, members=[{**person(), **member_overrides}], **family_overrides)
    before = await row_counts(connection)
    response = await client.post(FAMILIES, json=body, headers=worker)
    assert error_fields(response) == {field}
    assert await row_counts(connection) == before


async def test_an_invalid_member_is_422_on_add_too(client, connection, worker):
    created = await create_family(client, worker, family(BUCHA))
    before = await row_counts(connection)
    response = await client.post(
        url(created["id"], "members"),
        json=person(rnokpp=rnokpp_for(BORN, "male", 7)),
        headers=worker,
    )
    assert error_fields(response) == {"body.rnokpp"}
    assert await row_counts(connection) == before


async def test_every_invalid_field_is_named_at_once(client, connection, worker):
    """Rules the schema can check (patterns, unknown fields) are all reported together."""
    body = family(
        BUCHA,
        phone="call me",
        income=1,
        members=[person(last_name="Smith1"), {**person(), "sex": "x"}],
    )
    response = await client.post(FAMILIES, json=body, headers=worker)
    assert error_fields(response) == {
        "body.phone",
        "body.income",
        "body.members.0.last_name",
        "body.members.1.sex",
    }


async def test_every_invalid_field_is_named_at_once_by_the_domain_rules_too(
    client, connection, worker
):
    """Rules only the domain checks (E.164, check digits) in the family and in two members:
    the client learns every bad field from one answer, not one per attempt."""
    bad_rnokpp = _VALID_RNOKPP[:9] + str((int(_VALID_RNOKPP[9]) + 1) % 10)
    bad_unzr = _VALID_UNZR[:13] + str((int(_VALID_UNZR[13]) + 1) % 10)
    body = family(
        BUCHA,
        phone="+0441234567",
        members=[person(rnokpp=bad_rnokpp), person(first_name="Ірина", unzr=bad_unzr)],
    )
    before = await row_counts(connection)
    response = await client.post(FAMILIES, json=body, headers=worker)
    assert await row_counts(connection) == before
    assert error_fields(response) == {"body.phone", "body.members.0.rnokpp", "body.members.1.unzr"}


@pytest.mark.parametrize("apostrophe", ["'", "’", "ʼ", "‘"])
async def test_apostrophe_variants_are_stored_as_the_modifier_letter(client, worker, apostrophe):
    created = await create_family(
        client,
        worker,
        family(
            BUCHA,
            members=[
                person(
                    first_name=f"Мар{apostrophe}яна",
                    last_name=f"Солов{apostrophe}як",
                    patronymic=f"В{apostrophe}ячеславівна",
                )
            ],
        ),
    )
    (member,) = created["members"]
    assert (member["first_name"], member["last_name"], member["patronymic"]) == (
        "Марʼяна",
        "Соловʼяк",
        "Вʼячеславівна",
    )


@pytest.mark.parametrize(
    "phone", ["0671234567", "067 123-45-67", "067.123.45.67", "+380 67 123 45 67"]
)
async def test_a_local_ukrainian_phone_gets_its_country_code(client, worker, phone):
    created = await create_family(client, worker, family(BUCHA, phone=phone))
    assert created["phone"] == "+380671234567"


async def test_a_person_may_refuse_an_rnokpp(client, worker):
    created = await create_family(
        client, worker, family(BUCHA, members=[person(rnokpp=None, rnokpp_refused=True)])
    )
    assert (created["members"][0]["rnokpp"], created["members"][0]["rnokpp_refused"]) == (
        None,
        True,
    )


# --- changing: merge patch and optimistic concurrency ------------------------------------------


async def test_merge_patch_changes_only_what_is_sent(client, connection, worker):
    created = await create_family(client, worker, family(BUCHA, settlement_code=BUCHA_CITY))
    response = await client.patch(
        url(created["id"]),
        json={"phone": None, "address_line": "вул. Вокзальна, 7", "settlement_code": VORZEL},
        headers={**if_match(worker, 1), "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert response.headers["etag"] == '"2"'
    assert patched["version"] == 2
    assert patched["phone"] is None
    assert patched["address_line"] == "вул. Вокзальна, 7"
    assert patched["settlement_code"] == VORZEL
    unchanged = (
        "hromada_code",
        "oblast_code",
        "raion_code",
        "categories",
        "factors",
        "consent",
        "members",
        "created_at",
        "status",
    )
    assert {k: patched[k] for k in unchanged} == {k: created[k] for k in unchanged}
    assert (await client.get(url(created["id"]), headers=worker)).json() == patched


async def test_patching_consent_merges_and_null_removes_it(client, worker):
    created = await create_family(client, worker, family(BUCHA))
    merged = await client.patch(
        url(created["id"]), json={"consent": {"given_by": "мати"}}, headers=if_match(worker, 1)
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["consent"] == {**created["consent"], "given_by": "мати"}
    cleared = await client.patch(
        url(created["id"]), json={"consent": None}, headers=if_match(worker, 2)
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["consent"] is None
    assert cleared.json()["version"] == 3


async def test_a_patch_changing_nothing_keeps_the_version(client, worker):
    created = await create_family(client, worker, family(BUCHA))
    response = await client.patch(
        url(created["id"]), json={"phone": created["phone"]}, headers=if_match(worker, 1)
    )
    assert response.status_code == 200
    assert (response.json()["version"], response.headers["etag"]) == (1, '"1"')


@pytest.mark.parametrize("field", ["hromada_code", "categories", "factors"])
async def test_null_on_a_required_field_is_422(client, connection, worker, field):
    created = await create_family(client, worker, family(BUCHA))
    before = await row_counts(connection)
    response = await client.patch(
        url(created["id"]), json={field: None}, headers=if_match(worker, 1)
    )
    assert error_fields(response) == {f"body.{field}"}
    assert await row_counts(connection) == before
    assert (await client.get(url(created["id"]), headers=worker)).json()["version"] == 1


async def test_a_patch_does_not_move_a_family_to_another_hromada(client, worker):
    """Moving moves the family's cases too: that is relocation's, one operation of its own."""
    created = await create_family(client, worker, family(BUCHA))
    response = await client.patch(
        url(created["id"]), json={"hromada_code": IRPIN}, headers=if_match(worker, 1)
    )
    body = problem(response, 422)
    assert error_fields(response) == {"body.hromada_code"}
    assert "relocation" in body["errors"][0]["message"]
    again = (await client.get(url(created["id"]), headers=worker)).json()
    assert (again["hromada_code"], again["version"]) == (BUCHA, 1)


async def test_patch_without_if_match_is_428(client, worker):
    created = await create_family(client, worker, family(BUCHA))
    member_id = created["members"][0]["id"]
    problem(await client.patch(url(created["id"]), json={"phone": None}, headers=worker), 428)
    problem(
        await client.patch(
            url(created["id"], "members", member_id), json={"patronymic": None}, headers=worker
        ),
        428,
    )
    again = (await client.get(url(created["id"]), headers=worker)).json()
    assert again == {k: v for k, v in created.items() if k != "possible_duplicates"}


async def test_stale_if_match_is_412_naming_the_fields_changed_since(client, worker):
    created = await create_family(client, worker, family(BUCHA))
    family_url = url(created["id"])
    first = await client.patch(
        family_url, json={"phone": "+380671234567"}, headers=if_match(worker, 1)
    )
    second = await client.patch(
        family_url,
        json={"address_line": "вул. Нова, 1", "factors": ["unemployment"]},
        headers=if_match(worker, 2),
    )
    assert (first.status_code, second.status_code) == (200, 200)

    stale = await client.patch(
        family_url, json={"categories": ["idp"]}, headers=if_match(worker, 1)
    )
    body = problem(stale, 412)
    assert body["current_version"] == 3
    assert body["changed_fields"] == ["address_line", "factors", "phone"]
    assert stale.headers["etag"] == '"3"'

    body = problem(
        await client.patch(family_url, json={"categories": ["idp"]}, headers=if_match(worker, 2)),
        412,
    )
    assert body["changed_fields"] == ["address_line", "factors"]

    current = (await client.get(family_url, headers=worker)).json()
    assert current["categories"] == created["categories"]  # the stale change was not applied
    assert current["version"] == 3


@pytest.mark.parametrize("tag", ['W/"1"', '"1"', ' "1" '])
async def test_if_match_forms_accepted(client, worker, tag):
    created = await create_family(client, worker, family(BUCHA))
    response = await client.patch(
        url(created["id"]), json={"phone": None}, headers=if_match(worker, tag)
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("tag", ['"abc"', "*x", '"2"'])
async def test_if_match_naming_no_current_version_is_412(client, worker, tag):
    created = await create_family(client, worker, family(BUCHA))
    problem(
        await client.patch(url(created["id"]), json={"phone": None}, headers=if_match(worker, tag)),
        412,
    )


async def test_member_patch_merges_and_checks_its_own_version(client, worker):
    created = await create_family(client, worker, family(BUCHA))
    member = created["members"][0]
    member_url = url(created["id"], "members", member["id"])
    got = await client.get(member_url, headers=worker)
    assert got.headers["etag"] == '"1"'

    response = await client.patch(
        member_url, json={"patronymic": None, "disability_group": "II"}, headers=if_match(worker, 1)
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert (patched["patronymic"], patched["disability_group"], patched["version"]) == (
        None,
        "II",
        2,
    )
    assert response.headers["etag"] == '"2"'
    assert {k: patched[k] for k in ("last_name", "first_name", "rnokpp", "unzr")} == {
        k: member[k] for k in ("last_name", "first_name", "rnokpp", "unzr")
    }

    stale = await client.patch(
        member_url, json={"is_servicemember": True}, headers=if_match(worker, 1)
    )
    body = problem(stale, 412)
    assert (body["current_version"], body["changed_fields"]) == (
        2,
        ["disability_group", "patronymic"],
    )


@pytest.mark.parametrize("field", ["last_name", "birth_date", "sex"])
async def test_null_on_a_required_member_field_is_422(client, worker, field):
    created = await create_family(client, worker, family(BUCHA))
    response = await client.patch(
        url(created["id"], "members", created["members"][0]["id"]),
        json={field: None},
        headers=if_match(worker, 1),
    )
    assert error_fields(response) == {f"body.{field}"}


async def test_member_patch_is_validated_as_a_whole(client, worker):
    """Changing the birth date alone leaves an RNOKPP and UNZR that no longer match it."""
    created = await create_family(client, worker, family(BUCHA))
    response = await client.patch(
        url(created["id"], "members", created["members"][0]["id"]),
        json={"birth_date": "1986-04-12"},
        headers=if_match(worker, 1),
    )
    assert error_fields(response) == {"body.rnokpp", "body.unzr"}


# --- archiving and removing --------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, None])
async def test_archive_needs_a_reason(client, worker, body):
    created = await create_family(client, worker, family(BUCHA))
    response = await client.post(url(created["id"], "archive"), json=body, headers=worker)
    assert response.status_code == 422, response.text
    assert (await client.get(url(created["id"]), headers=worker)).json()["status"] == "active"


async def test_an_archived_family_is_kept_and_can_no_longer_change(client, connection, worker):
    created = await create_family(client, worker, family(BUCHA))
    member_id = created["members"][0]["id"]
    response = await client.post(
        url(created["id"], "archive"), json={"reason": "registered twice"}, headers=worker
    )
    assert response.status_code == 200, response.text
    archived = response.json()
    assert (archived["status"], archived["archive_reason"], archived["version"]) == (
        "archived",
        "registered twice",
        2,
    )
    assert archived["archived_at"] is not None
    assert response.headers["etag"] == '"2"'
    (ended,) = archived["members"]
    assert (ended["id"], ended["status"], ended["removal_reason"]) == (
        member_id,
        "removed",
        "family archived: registered twice",
    )
    assert ended["removed_at"] is not None

    attempts = {
        "patch": await client.patch(
            url(created["id"]), json={"phone": None}, headers=if_match(worker, 2)
        ),
        "add_member": await client.post(
            url(created["id"], "members"), json=child(), headers=worker
        ),
        "patch_member": await client.patch(
            url(created["id"], "members", member_id),
            json={"patronymic": None},
            headers=if_match(worker, 1),
        ),
        "remove_member": await client.post(
            url(created["id"], "members", member_id, "remove"),
            json={"reason": "left"},
            headers=worker,
        ),
        "archive": await client.post(
            url(created["id"], "archive"), json={"reason": "again"}, headers=worker
        ),
    }
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 409)
    for r in attempts.values():
        problem(r, 409)
    assert (await client.get(url(created["id"]), headers=worker)).json() == archived
    assert (
        await connection.scalar(
            text("SELECT count(*) FROM families WHERE id = :i"), {"i": created["id"]}
        )
        == 1
    )


async def test_archiving_frees_the_members_numbers_for_their_next_family(client, worker):
    member = person()
    created = await create_family(client, worker, family(BUCHA, members=[member]))
    assert (
        await client.post(url(created["id"], "archive"), json={"reason": "moved"}, headers=worker)
    ).status_code == 200

    again = await client.post(
        "/api/v1/families", json=family(BUCHA, members=[member]), headers=worker
    )

    assert again.status_code == 201, again.text


async def test_archive_with_a_stale_if_match_is_412(client, worker):
    created = await create_family(client, worker, family(BUCHA))
    await client.patch(url(created["id"]), json={"phone": None}, headers=if_match(worker, 1))
    body = problem(
        await client.post(
            url(created["id"], "archive"), json={"reason": "x"}, headers=if_match(worker, 1)
        ),
        412,
    )
    assert body["changed_fields"] == ["phone"]


async def test_removing_a_member_keeps_the_record_with_the_reason(client, connection, worker):
    created = await create_family(client, worker, family(BUCHA, members=[person(), child()]))
    kid = next(m for m in created["members"] if m["relation"] == "child")
    kid_url = url(created["id"], "members", kid["id"])

    problem(await client.post(kid_url + "/remove", json={}, headers=worker), 422)
    response = await client.post(
        kid_url + "/remove", json={"reason": "placed in foster care"}, headers=worker
    )
    assert response.status_code == 200, response.text
    removed = response.json()
    assert (removed["status"], removed["removal_reason"], removed["version"]) == (
        "removed",
        "placed in foster care",
        2,
    )
    assert removed["removed_at"] is not None
    assert response.headers["etag"] == '"2"'

    members = (await client.get(url(created["id"], "members"), headers=worker)).json()["items"]
    assert {m["id"]: m["status"] for m in members} == {
        m["id"]: ("removed" if m["id"] == kid["id"] else "active") for m in created["members"]
    }
    assert (
        await connection.scalar(
            text("SELECT count(*) FROM persons WHERE id = :i"), {"i": kid["id"]}
        )
        == 1
    )

    problem(await client.post(kid_url + "/remove", json={"reason": "again"}, headers=worker), 409)
    problem(
        await client.patch(kid_url, json={"patronymic": None}, headers=if_match(worker, 2)), 409
    )


# --- duplicate identifiers ---------------------------------------------------------------------


def _same_person_as(holder: dict[str, Any], identifier: str) -> dict[str, Any]:
    """Another record of ``holder``: the identifier shared, the other one left out."""
    other = "unzr" if identifier == "rnokpp" else "rnokpp"
    return person(
        first_name="Ірина",
        birth_date=holder["birth_date"],
        sex=holder["sex"],
        **{identifier: holder[identifier], other: None},
    )


@pytest.mark.parametrize("identifier", ["rnokpp", "unzr"])
async def test_a_known_identifier_in_a_new_family_is_409_naming_the_family(
    client, connection, worker, identifier
):
    existing = await create_family(client, worker, family(BUCHA))
    holder = existing["members"][0]
    before = await row_counts(connection)
    response = await client.post(
        FAMILIES,
        json=family(BUCHA, members=[child(), _same_person_as(holder, identifier)]),
        headers=worker,
    )
    body = problem(response, 409)
    assert body["existing_family_id"] == existing["id"]
    assert {e["field"] for e in body["errors"]} == {f"body.members.1.{identifier}"}
    assert await row_counts(connection) == before


@pytest.mark.parametrize("identifier", ["rnokpp", "unzr"])
async def test_a_known_identifier_in_a_new_member_is_409_naming_the_family(
    client, connection, worker, identifier
):
    existing = await create_family(client, worker, family(BUCHA))
    other = await create_family(client, worker, family(BUCHA, members=[child()]))
    before = await row_counts(connection)
    response = await client.post(
        url(other["id"], "members"),
        json=_same_person_as(existing["members"][0], identifier),
        headers=worker,
    )
    body = problem(response, 409)
    assert body["existing_family_id"] == existing["id"]
    assert {e["field"] for e in body["errors"]} == {f"body.{identifier}"}
    assert await row_counts(connection) == before


@pytest.mark.parametrize("identifier", ["rnokpp", "unzr"])
async def test_a_known_identifier_patched_into_a_member_is_409_naming_the_family(
    client, worker, identifier
):
    existing = await create_family(client, worker, family(BUCHA))
    holder = existing["members"][0]
    other = await create_family(
        client, worker, family(BUCHA, members=[person(first_name="Ірина", rnokpp=None, unzr=None)])
    )
    member_url = url(other["id"], "members", other["members"][0]["id"])
    response = await client.patch(
        member_url, json={identifier: holder[identifier]}, headers=if_match(worker, 1)
    )
    body = problem(response, 409)
    assert body["existing_family_id"] == existing["id"]
    assert (await client.get(member_url, headers=worker)).json()[identifier] is None


async def _irpin_holder(client, irpin_worker) -> dict[str, Any]:
    return await create_family(client, irpin_worker, family(IRPIN))


@pytest.mark.parametrize("identifier", ["rnokpp", "unzr"])
@pytest.mark.parametrize("via", ["family", "member", "patch"])
async def test_a_holder_outside_your_reach_gives_a_neutral_409(
    client, worker, irpin_worker, via, identifier
):
    hidden = await _irpin_holder(client, irpin_worker)
    holder = hidden["members"][0]
    if via == "family":
        response = await client.post(
            FAMILIES,
            json=family(BUCHA, members=[_same_person_as(holder, identifier)]),
            headers=worker,
        )
    elif via == "member":
        mine = await create_family(client, worker, family(BUCHA, members=[child()]))
        response = await client.post(
            url(mine["id"], "members"), json=_same_person_as(holder, identifier), headers=worker
        )
    else:
        mine = await create_family(
            client,
            worker,
            family(BUCHA, members=[person(first_name="Ірина", rnokpp=None, unzr=None)]),
        )
        response = await client.patch(
            url(mine["id"], "members", mine["members"][0]["id"]),
            json={identifier: holder[identifier]},
            headers=if_match(worker, 1),
        )
    body = problem(response, 409)
    assert "existing_family_id" not in body
    assert hidden["id"] not in response.text
    assert holder["id"] not in response.text


async def test_two_members_of_one_new_family_with_the_same_rnokpp(client, connection, worker):
    """Refused without pointing at a family that does not exist (the one being created)."""
    twin = person()
    before = await row_counts(connection)
    response = await client.post(
        FAMILIES,
        json=family(BUCHA, members=[twin, {**twin, "first_name": "Ірина", "unzr": None}]),
        headers=worker,
    )
    assert response.status_code in (409, 422), response.text
    assert await row_counts(connection) == before
    named = response.json().get("existing_family_id")
    if named is not None:
        assert (await client.get(url(named), headers=worker)).status_code == 200, (
            "the 409 names a family that does not exist"
        )


@pytest.mark.parametrize("identifier", ["rnokpp", "unzr"])
async def test_a_removed_member_may_join_another_family(client, worker, identifier):
    first = await create_family(client, worker, family(BUCHA, members=[person(), child()]))
    moving = first["members"][0]
    removed = await client.post(
        url(first["id"], "members", moving["id"], "remove"),
        json={"reason": "moved to another household"},
        headers=worker,
    )
    assert removed.status_code == 200
    joined = await client.post(
        FAMILIES, json=family(BUCHA, members=[_same_person_as(moving, identifier)]), headers=worker
    )
    assert joined.status_code == 201, joined.text
    # and back again: the removed membership does not block re-adding either
    second = await create_family(client, worker, family(BUCHA, members=[child()]))
    again = await client.post(
        url(second["id"], "members"),
        json=_same_person_as(moving, "rnokpp" if identifier == "unzr" else "unzr"),
        headers=worker,
    )
    assert again.status_code == 201, again.text


# --- possible duplicates -----------------------------------------------------------------------


async def _mariana_families(client, worker, irpin_worker) -> dict[str, dict[str, Any]]:
    """Марʼяна Шевченко, born 2016-09-01, in a Bucha family and an Irpin one."""
    return {
        "bucha": await create_family(client, worker, family(BUCHA, members=[person(), child()])),
        "irpin": await create_family(
            client, irpin_worker, family(IRPIN, members=[person(), child()])
        ),
    }


def _mariana(found: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in found["members"] if m["first_name"] == "Марʼяна")


async def test_same_name_and_birth_date_elsewhere_is_listed_as_a_possible_duplicate(
    client, worker, irpin_worker
):
    existing = await _mariana_families(client, worker, irpin_worker)
    # the same name typed differently (apostrophe, case), no identifiers to compare
    again = child(first_name="Мар'яна", last_name="ШЕВЧЕНКО", unzr=None)
    response = await client.post(FAMILIES, json=family(BUCHA, members=[again]), headers=worker)
    assert response.status_code == 201, response.text
    created = response.json()
    (duplicate,) = created["possible_duplicates"]  # the Irpin one is outside the reach
    assert duplicate["person_id"] == created["members"][0]["id"]
    assert duplicate["matching_person_id"] == _mariana(existing["bucha"])["id"]
    assert duplicate["family_id"] == existing["bucha"]["id"]
    assert (duplicate["last_name"], duplicate["first_name"], duplicate["birth_date"]) == (
        "Шевченко",
        "Марʼяна",
        "2016-09-01",
    )
    assert duplicate["score"] == pytest.approx(1.0)

    other_day = await client.post(
        FAMILIES, json=family(BUCHA, members=[child(birth_date="2016-09-02")]), headers=worker
    )
    assert other_day.json()["possible_duplicates"] == []


async def test_adding_a_possible_duplicate_member_lists_it(client, worker, irpin_worker):
    existing = await _mariana_families(client, worker, irpin_worker)
    target = await create_family(
        client, worker, family(BUCHA, members=[person(last_name="Коваль")])
    )
    response = await client.post(
        url(target["id"], "members"), json=child(unzr=None), headers=worker
    )
    assert response.status_code == 201, response.text
    added = response.json()
    assert [(d["person_id"], d["family_id"]) for d in added["possible_duplicates"]] == [
        (added["id"], existing["bucha"]["id"])
    ]


async def test_possible_duplicates_lists_matches_in_visible_families_only(
    client, make_token, worker, irpin_worker
):
    existing = await _mariana_families(client, worker, irpin_worker)
    third = await create_family(client, worker, family(BUCHA, members=[child(unzr=None)]))
    third_mariana = third["members"][0]

    def matches(response: httpx.Response) -> set[tuple[str, str, str]]:
        assert response.status_code == 200, response.text
        assert response.json()["next_cursor"] is None
        return {
            (d["person_id"], d["matching_person_id"], d["family_id"])
            for d in response.json()["items"]
        }

    duplicates_url = url(third["id"], "possible-duplicates")
    assert matches(await client.get(duplicates_url, headers=worker)) == {
        (third_mariana["id"], _mariana(existing["bucha"])["id"], existing["bucha"]["id"])
    }
    regional = bearer(token(make_token, "regional_officer", territory=KYIV_OBLAST))
    assert matches(await client.get(duplicates_url, headers=regional)) == {
        (third_mariana["id"], _mariana(existing[place])["id"], existing[place]["id"])
        for place in ("bucha", "irpin")
    }
    # a family with no one alike
    lonely = await create_family(
        client,
        worker,
        family(
            BUCHA,
            members=[
                person(
                    last_name="Ґонта",
                    first_name="Іван",
                    sex="male",
                    patronymic=None,
                    rnokpp=None,
                    unzr=None,
                )
            ],
        ),
    )
    assert (
        matches(await client.get(url(lonely["id"], "possible-duplicates"), headers=worker)) == set()
    )


# --- idempotent creation -----------------------------------------------------------------------


def _with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def test_a_replay_returns_the_first_answer_byte_for_byte(client, connection, worker):
    key = str(uuid.uuid4())
    body = family(BUCHA)
    before = await row_counts(connection)
    first = await client.post(FAMILIES, json=body, headers=_with_key(worker, key))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # the same JSON value, keys in another order
    reordered = dict(reversed(list(body.items())))
    replays = [
        await client.post(FAMILIES, json=b, headers=_with_key(worker, key))
        for b in (body, reordered)
    ]
    for replay in replays:
        assert replay.status_code == 201
        assert replay.content == first.content
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.headers["location"] == first.headers["location"]
        assert replay.headers["etag"] == first.headers["etag"]
    after = await row_counts(connection)
    assert (after["families"], after["persons"]) == (before["families"] + 1, before["persons"] + 1)
    # each replay discloses the family again, so each is audited
    request_ids = [r.headers["x-request-id"] for r in replays]
    audited = (
        (
            await connection.execute(
                text("SELECT resource_ids FROM audit_events WHERE request_id = ANY(:r)"),
                {"r": request_ids},
            )
        )
        .scalars()
        .all()
    )
    assert len(audited) == 2
    assert all(first.json()["id"] in ids for ids in audited)


async def _age_stored_answers(connection, key: str, hours: float) -> None:
    await connection.execute(
        text(
            "UPDATE idempotency_keys SET created_at = now() - make_interval(secs => :s) "
            "WHERE key = :key"
        ),
        {"key": key, "s": hours * 3600},
    )


async def test_a_stored_answer_expires_after_the_retention(client, connection, worker):
    """A stored answer holds what it disclosed: kept 24 h (the default), then the key is a
    new request's and the old answer is gone."""
    key, body = str(uuid.uuid4()), family(BUCHA)
    first = await client.post(FAMILIES, json=body, headers=_with_key(worker, key))
    assert first.status_code == 201
    await _age_stored_answers(connection, key, 23.9)
    kept = await client.post(FAMILIES, json=body, headers=_with_key(worker, key))
    assert kept.headers["idempotent-replayed"] == "true"
    assert kept.json()["id"] == first.json()["id"]

    await _age_stored_answers(connection, key, 24.1)
    # another request under the old key: before expiry a 409 (the key's other request)
    other = family(BUCHA)
    again = await client.post(FAMILIES, json=other, headers=_with_key(worker, key))
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    # and the new answer is the one a retry now gets
    retry = await client.post(FAMILIES, json=other, headers=_with_key(worker, key))
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == again.json()["id"] != first.json()["id"]


async def test_expired_stored_answers_are_pruned(client, connection, worker):
    from datetime import timedelta

    from sqlalchemy.ext.asyncio import AsyncSession

    from registry.domain import idempotency

    old, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    for key in (old, fresh):
        response = await client.post(FAMILIES, json=family(BUCHA), headers=_with_key(worker, key))
        assert response.status_code == 201
    await _age_stored_answers(connection, old, 25)
    async with AsyncSession(bind=connection) as session:
        pruned = await idempotency.prune(session, timedelta(hours=24))
    assert pruned >= 1
    left = (
        (
            await connection.execute(
                text("SELECT key FROM idempotency_keys WHERE key = ANY(:k)"), {"k": [old, fresh]}
            )
        )
        .scalars()
        .all()
    )
    assert left == [fresh]


async def test_the_same_key_with_another_body_is_409(client, connection, worker):
    key = str(uuid.uuid4())
    first = await client.post(FAMILIES, json=family(BUCHA), headers=_with_key(worker, key))
    assert first.status_code == 201
    before = await row_counts(connection)
    problem(
        await client.post(
            FAMILIES, json=family(BUCHA, phone="0671234567"), headers=_with_key(worker, key)
        ),
        409,
    )
    created = await create_family(client, worker, family(BUCHA))  # a path without the key
    problem(
        await client.post(
            url(created["id"], "members"), json=child(), headers=_with_key(worker, key)
        ),
        409,
    )
    assert (await row_counts(connection))["families"] == before["families"] + 1


async def test_keys_belong_to_their_caller(client, connection, make_token):
    key = "shared-key-1"
    body = family(BUCHA, members=[person(rnokpp=None, unzr=None)])
    answers = [
        await client.post(
            FAMILIES,
            json=body,
            headers=_with_key(
                bearer(token(make_token, "social_worker", sub=sub, territory=BUCHA)), key
            ),
        )
        for sub in ("worker-a", "worker-b")
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] != answers[1].json()["id"]
    assert "idempotent-replayed" not in answers[1].headers


async def test_adding_a_member_is_idempotent_too(client, connection, worker):
    created = await create_family(client, worker, family(BUCHA))
    key = str(uuid.uuid4())
    body = child()
    first = await client.post(
        url(created["id"], "members"), json=body, headers=_with_key(worker, key)
    )
    replay = await client.post(
        url(created["id"], "members"), json=body, headers=_with_key(worker, key)
    )
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert first.headers["location"] == url(created["id"], "members", first.json()["id"])
    members = (await client.get(url(created["id"], "members"), headers=worker)).json()["items"]
    assert len(members) == 2


async def test_a_refused_request_does_not_use_up_its_key(client, worker):
    key = str(uuid.uuid4())
    bad = await client.post(
        FAMILIES, json=family(BUCHA, phone="+0441234567"), headers=_with_key(worker, key)
    )
    assert bad.status_code == 422
    good = await client.post(FAMILIES, json=family(BUCHA), headers=_with_key(worker, key))
    assert good.status_code == 201, good.text
    assert "idempotent-replayed" not in good.headers


async def test_a_key_belongs_to_the_whole_identity_not_only_the_subject(
    client, connection, make_token
):
    """The same subject with another reach is another caller: a replay of its key must not
    show it what the first identity created (the Kyiv family to a Bucha token)."""
    key = "shared-key-2"
    body = family(KYIV, members=[person(rnokpp=None, unzr=None)])
    in_kyiv = bearer(token(make_token, "community_officer", sub="officer-1", territory=KYIV))
    in_bucha = bearer(token(make_token, "community_officer", sub="officer-1", territory=BUCHA))
    first = await client.post(FAMILIES, json=body, headers=_with_key(in_kyiv, key))
    assert first.status_code == 201, first.text
    replay = await client.post(FAMILIES, json=body, headers=_with_key(in_bucha, key))
    assert replay.status_code == 403, replay.text
    assert "idempotent-replayed" not in replay.headers
    assert first.json()["id"] not in replay.text
    # the first identity still gets its answer
    again = await client.post(FAMILIES, json=body, headers=_with_key(in_kyiv, key))
    assert (again.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    assert again.content == first.content
