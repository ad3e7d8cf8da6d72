"""Name search by the rule (issue 18): each query word matches a different word of a person's
name within one edit (two for words over seven letters), by a transliteration, or as the
start of it; best first, page by page; the dictionary follows the names written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Text, cast, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, array

from registry.domain.families.tables import PERSON_OBLAST_NAME_WORDS, person_table
from tests.integration.test_families_search import listed, walk
from tests.support import (
    BUCHA,
    FAMILIES,
    IRPIN,
    bearer,
    create_family,
    family,
    if_match,
    person,
    token,
)

#: Kyiv oblast, which holds Bucha.
BUCHA_OBLAST = "UA32000000000030281"

NAMES = {
    "ivanenko": ("Іваненко", "Петро", "Олегович", "male"),
    "ivanenka": ("Іваненка", "Олена", "Петрівна", "female"),
    "ivanenkova": ("Іваненкова", "Галина", "Іванівна", "female"),
    "shevchenko": ("Шевченко", "Тарас", "Григорович", "male"),
    "olehiv": ("Олегів", "Марко", "Юрійович", "male"),
}


@pytest.fixture
async def people(client, worker) -> dict[str, dict[str, Any]]:
    created = {}
    for name, (last, first, middle, sex) in NAMES.items():
        body = family(
            BUCHA,
            members=[
                person(
                    last_name=last,
                    first_name=first,
                    patronymic=middle,
                    sex=sex,
                    birth_date="1980-03-04",
                )
            ],
        )
        created[name] = await create_family(client, worker, body)
    return created


def named(people: dict[str, dict[str, Any]], ids: list[str]) -> list[str]:
    by_id = {f["id"]: name for name, f in people.items()}
    return [by_id[i] for i in ids]


@pytest.mark.parametrize(
    "q",
    [
        "Іваненко",
        "Іваннеко",  # neighbours swapped
        "Іванеко",  # a letter dropped
        "Іваненкко",  # a letter added
        "Іваненьо",  # a letter wrong
        "Ивaненко",  # a Latin а, and Russian И
        "ІВАНЕНКО петро",
        "Петро Іваненко",  # any order
        "Олегович Іваненко Петро",
        "Ivanenko",  # the 2010 standard
        "Ivanenko Petro",
        "Ivanneko",  # mistyped in Latin
    ],
)
async def test_each_kind_of_typing_finds_the_person(client, connection, worker, people, q):
    assert named(people, await listed(client, connection, worker, q=q))[0] == "ivanenko"


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("Ševčenko", "shevchenko"),  # scholarly ISO 9
        ("Sevcenko", "shevchenko"),  # the same without its marks
        ("Shevchenko Taras", "shevchenko"),
        ("Galina", "ivanenkova"),  # an older passport's spelling
        ("Шевч", "shevchenko"),  # a surname cut short
        ("Shevch", "shevchenko"),
    ],
)
async def test_latin_and_short_forms_find_the_person(client, connection, worker, people, q, found):
    assert named(people, await listed(client, connection, worker, q=q)) == [found]


@pytest.mark.parametrize("q", ["Іваненко Іваненко", "Шевченко Петро", "Ів", "Тарасенко"])
async def test_what_the_rule_does_not_match(client, connection, worker, people, q):
    assert await listed(client, connection, worker, q=q) == []


async def test_fewer_edits_first_and_prefixes_below_full_matches(
    client, connection, worker, people
):
    # 0 edits, then 1 (Іваненка), then 2 (Іваненкова: a long word tolerates two)
    assert named(people, await listed(client, connection, worker, q="Іваненко")) == [
        "ivanenko",
        "ivanenka",
        "ivanenkova",
    ]
    # "Олег" is one edit from Олегів (a full match) and begins Олегович (a prefix)
    assert named(people, await listed(client, connection, worker, q="Олег")) == [
        "olehiv",
        "ivanenko",
    ]


async def test_equal_ranks_go_by_name_and_pages_keep_the_order(client, connection, worker, people):
    more = {}
    for first in ("Яків", "Андрій", "Борис", "Віктор"):
        body = family(BUCHA, members=[person(last_name="Мельник", first_name=first)])
        more[first] = (await create_family(client, worker, body))["id"]
    everything = await listed(client, connection, worker, q="Мельник")
    assert everything == [more[n] for n in ("Андрій", "Борис", "Віктор", "Яків")]
    assert await walk(client, connection, worker, q="Мельник") == everything
    assert await walk(client, connection, worker, q="Melnyk") == everything


async def test_a_renamed_person_is_found_by_the_new_name(client, connection, worker, people):
    target = people["olehiv"]
    response = await client.patch(
        f"{FAMILIES}/{target['id']}/members/{target['members'][0]['id']}",
        json={"last_name": "Ярошенко"},
        headers={**if_match(worker, 1), "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    assert named(people, await listed(client, connection, worker, q="Ярошенко")) == ["olehiv"]
    assert named(people, await listed(client, connection, worker, q="Yaroshenko")) == ["olehiv"]
    assert await listed(client, connection, worker, q="Олегів") == []


async def test_search_stays_inside_the_reach(client, connection, make_token, worker, people):
    irpin = bearer(token(make_token, "social_worker", territory=IRPIN))
    elsewhere = await create_family(
        client, irpin, family(IRPIN, members=[person(last_name="Іваненко", first_name="Петро")])
    )
    for q in ("Іваненко", "Іваннеко", "Ivanenko Petro"):
        assert elsewhere["id"] not in await listed(client, connection, worker, q=q)
        assert await listed(client, connection, irpin, q=q) == [elsewhere["id"]]


async def test_more_words_than_a_name_has_are_422(client, worker, people):
    response = await client.get(FAMILIES, params={"q": "а б в г ґ д е"}, headers=worker)
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == {"query.q"}


async def test_a_cursor_not_of_this_search_is_422(client, worker, people):
    plain = await client.get(FAMILIES, params={"limit": 1}, headers=worker)
    response = await client.get(
        FAMILIES,
        params={"limit": 1, "q": "Іваненко", "cursor": plain.json()["next_cursor"]},
        headers=worker,
    )
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == {"query.cursor"}


async def test_persons_are_looked_up_through_the_oblast_name_words_index(connection):
    """Search's expression must be the index's, or every search reads every person."""
    words = cast(array([f"{BUCHA_OBLAST}:іваненко"]), ARRAY(Text))
    statement = select(person_table.c.id).where(PERSON_OBLAST_NAME_WORDS.op("&&")(words))
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    await connection.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join((await connection.execute(text(f"EXPLAIN {sql}"))).scalars())
    assert "ix_persons_oblast_name_words" in plan, plan
