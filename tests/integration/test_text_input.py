"""Text as people and their programs send it: the ``X-Purpose`` header in UTF-8 (raw,
percent-encoded or RFC 8187) kept in the audit log as the text it was, never mojibake; names
in any alphabet; free text without terminal control characters (line breaks only where a
field is multi-line); and search text whose ``%`` and ``_`` are only characters."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from tests.support import (
    FAMILIES,
    KYIV,
    assert_problem,
    create_family,
    family,
    if_match,
    person,
)

PURPOSE = "перевірка"
STRAY_PERCENT = "has a % that begins no %XX escape (a literal % is sent as %25)"
CASES = "/api/v1/cases"


def _with_purpose(headers: dict[str, str], purpose: bytes) -> list[tuple[bytes, bytes]]:
    """The headers as bytes, so that the purpose goes on the wire exactly as given."""
    return [(name.encode(), value.encode()) for name, value in headers.items()] + [
        (b"X-Purpose", purpose)
    ]


async def _purpose_stored(connection, response: httpx.Response) -> list[str | None]:
    rows = await connection.execute(
        text("SELECT purpose FROM audit_events WHERE request_id = :r"),
        {"r": response.headers["x-request-id"]},
    )
    return list(rows.scalars().all())


@pytest.fixture
async def kyiv_family(client, officer) -> dict[str, Any]:
    return await create_family(client, officer, family(KYIV))


# --- X-Purpose ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (PURPOSE.encode(), PURPOSE),  # raw UTF-8 bytes
        (quote(PURPOSE).encode(), PURPOSE),  # percent-encoded
        (quote(PURPOSE).lower().encode(), PURPOSE),  # lower-case hex
        (b"UTF-8''" + quote(PURPOSE).encode(), PURPOSE),  # RFC 8187
        (b"utf-8'uk'" + quote(PURPOSE).encode(), PURPOSE),  # with a language tag
        (b"UTF-8''" + quote("огляд 1").encode(), "огляд 1"),
        (b"case review 2024", "case review 2024"),  # plain ASCII, unchanged
        (b"100%25 sure", "100% sure"),  # a literal % is %25
        ("ÜA-Prüfung".encode(), "ÜA-Prüfung"),
        (("п" * 200).encode(), "п" * 200),  # 200 characters, 400 bytes
    ],
)
async def test_the_purpose_is_stored_as_the_text_sent(
    client, connection, officer, kyiv_family, sent, stored
):
    for url in (f"{FAMILIES}/{kyiv_family['id']}", FAMILIES):  # the fast path and a list
        response = await client.get(url, headers=_with_purpose(officer, sent))
        assert response.status_code == 200, response.text
        assert await _purpose_stored(connection, response) == [stored]


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        (b"\xff\xfe", "is not UTF-8 text"),
        ("café".encode("latin-1"), "is not UTF-8 text"),  # Latin-1, not UTF-8
        (PURPOSE.encode()[:-1], "is not UTF-8 text"),  # a character cut in half
        (b"%FF%FE", "is not UTF-8 text"),
        (b"UTF-8''%D0", "is not UTF-8 text"),
        (b"100% sure", STRAY_PERCENT),  # with a %, the value is percent-encoded
        (b"UTF-8''100%", STRAY_PERCENT),
        (b"%1B[31mred", "must not contain control characters"),
        (b"UTF-8''a%0Ab", "must not contain control characters"),
        ("a\u0085b".encode(), "must not contain control characters"),  # C1 NEL in UTF-8
        (("п" * 201).encode(), "is longer than 200 characters"),
        (quote("п" * 201).encode(), "is longer than 200 characters"),
    ],
)
async def test_a_purpose_that_is_not_utf8_text_is_400(
    client, connection, officer, kyiv_family, sent, message
):
    response = await client.get(
        f"{FAMILIES}/{kyiv_family['id']}", headers=_with_purpose(officer, sent)
    )
    body = assert_problem(response, 400)
    assert "UTF-8" in body["detail"]
    assert body["errors"] == [{"field": "header.X-Purpose", "message": message}]
    assert await _purpose_stored(connection, response) == []  # nothing read, nothing kept


async def test_the_purpose_of_a_write_is_decoded_too(client, connection, officer, kyiv_family):
    response = await client.patch(
        f"{FAMILIES}/{kyiv_family['id']}",
        json={"address_line": "вул. Січових Стрільців, 2"},
        headers=_with_purpose(if_match(officer, kyiv_family["version"]), PURPOSE.encode()),
    )
    assert response.status_code == 200, response.text
    assert await _purpose_stored(connection, response) == [PURPOSE]


async def test_without_a_purpose_none_is_stored(client, connection, officer, kyiv_family):
    response = await client.get(f"{FAMILIES}/{kyiv_family['id']}", headers=officer)
    assert response.status_code == 200
    assert await _purpose_stored(connection, response) == [None]


# --- names -------------------------------------------------------------------------------------


async def test_names_in_any_alphabet_are_stored_in_nfc(client, officer):
    members = [
        person(last_name="Şevkiyeva", first_name="Emine", patronymic=None),
        person(last_name="Ёлкин", first_name="Эмине", patronymic="Подъячевна"),
        person(last_name="O'Connor", first_name="Jose\u0301", patronymic=None),
        person(last_name="Müller-Lüdenscheidt", first_name="Çağrı", patronymic=None),
        person(last_name="ბერიძე", first_name="ნინო", patronymic=None),
        person(last_name="الحسيني", first_name="محمد", patronymic=None),
    ]
    created = await create_family(client, officer, family(KYIV, members=members))
    assert {(m["last_name"], m["first_name"]) for m in created["members"]} == {
        ("Şevkiyeva", "Emine"),
        ("Ёлкин", "Эмине"),
        ("OʼConnor", "José"),
        ("Müller-Lüdenscheidt", "Çağrı"),
        ("ბერიძე", "ნინო"),
        ("الحسيني", "محمد"),
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("R2-D2", "may contain only letters, apostrophes, hyphens and spaces"),
        ("Анна 😀", "may contain only letters, apostrophes, hyphens and spaces"),
        ("Анна\u001b[31m", "may contain only letters, apostrophes, hyphens and spaces"),
        ("Анна.", "may contain only letters, apostrophes, hyphens and spaces"),
        ("Іvаnенко", "must not mix alphabets within a word"),
        ("Мар''яна", "may have an apostrophe only between two letters"),
        ("", "must not be empty"),
    ],
)
async def test_a_name_that_is_not_a_name_is_422_in_words(client, officer, name, message):
    body = family(KYIV, members=[person(first_name=name)])
    response = await client.post(FAMILIES, json=body, headers=officer)
    problem = assert_problem(response, 422)
    assert problem["errors"] == [{"field": "body.members.0.first_name", "message": message}]


async def test_a_renamed_member_is_checked_in_words(client, officer, kyiv_family):
    member = kyiv_family["members"][0]
    url = f"{FAMILIES}/{kyiv_family['id']}/members/{member['id']}"
    refused = await client.patch(
        url, json={"last_name": "Smith3"}, headers=if_match(officer, member["version"])
    )
    problem = assert_problem(refused, 422)
    messages = [e["message"] for e in problem["errors"]]
    assert "may contain only letters, apostrophes, hyphens and spaces" in messages
    assert not [m for m in messages if "pattern" in m]
    renamed = await client.patch(
        url, json={"last_name": "Şevkiyeva"}, headers=if_match(officer, member["version"])
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["last_name"] == "Şevkiyeva"


# --- free text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["\u001b[31mвул. Хрещатик, 1", "вул. Хрещатик, 1\nкв. 5", "вул. Хрещатик\t1", "вул.\x85 1"],
)
async def test_a_one_line_field_refuses_control_characters(client, officer, kyiv_family, address):
    url = f"{FAMILIES}/{kyiv_family['id']}"
    response = await client.patch(
        url, json={"address_line": address}, headers=if_match(officer, kyiv_family["version"])
    )
    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {
            "field": "body.address_line",
            "message": "must be one line without control characters (line breaks, tab, escape…)",
        }
    ]
    unchanged = (await client.get(url, headers=officer)).json()
    assert unchanged["address_line"] == kyiv_family["address_line"]
    assert unchanged["version"] == kyiv_family["version"]


async def test_a_new_family_with_an_escape_in_its_address_is_refused(client, officer):
    before = (await client.get(FAMILIES, params={"limit": 200}, headers=officer)).json()
    response = await client.post(
        FAMILIES, json=family(KYIV, address_line="\u001b[31mred"), headers=officer
    )
    assert_problem(response, 422)
    after = (await client.get(FAMILIES, params={"limit": 200}, headers=officer)).json()
    assert after["items"] == before["items"]


async def test_a_multi_line_field_keeps_line_breaks(client, officer, kyiv_family):
    response = await client.post(
        CASES,
        json={
            "family_id": kyiv_family["id"],
            "source": "application",
            "summary": "Перший рядок.\r\nДругий рядок.\n\nТретій.",
        },
        headers=officer,
    )
    assert response.status_code == 201, response.text
    assert response.json()["summary"] == "Перший рядок.\nДругий рядок.\n\nТретій."


async def test_a_multi_line_field_refuses_other_controls(client, officer, kyiv_family):
    response = await client.post(
        CASES,
        json={"family_id": kyiv_family["id"], "source": "application", "summary": "a\u001b[2Jb"},
        headers=officer,
    )
    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {
            "field": "body.summary",
            "message": "may contain line breaks but no other control characters (tab, escape…)",
        }
    ]


# --- search text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "q"),
    [
        ("/api/v1/territories", "%"),
        ("/api/v1/territories", "_"),
        ("/api/v1/territories", "\\"),
        ("/api/v1/services", "%"),
        ("/api/v1/services", "_"),
        ("/api/v1/services", "%а%"),
    ],
)
async def test_like_wildcards_typed_by_a_user_match_only_themselves(client, admin, url, q):
    everything = await client.get(url, params={"limit": 5}, headers=admin)
    assert len(everything.json()["items"]) == 5
    response = await client.get(url, params={"q": q, "limit": 5}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize("q", ["%а%", "Шевч_нко", "Shev%"])
async def test_a_family_search_takes_wildcards_literally(client, officer, kyiv_family, q):
    response = await client.get(FAMILIES, params={"q": q}, headers=officer)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


async def test_a_family_search_of_wildcards_alone_is_422(client, officer, kyiv_family):
    problem = assert_problem(await client.get(FAMILIES, params={"q": "%%"}, headers=officer), 422)
    assert problem["errors"] == [{"field": "query.q", "message": "must contain letters"}]
