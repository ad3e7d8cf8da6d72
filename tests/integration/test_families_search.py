"""Finding families: by name (Cyrillic in any case and with any apostrophe, with a typo, or in
the official Latin transliteration), best match first; exactly by RNOKPP or UNZR; by filters;
page by page. Search never reaches outside the caller's confinement, and every family a list
returns is in that request's audit event."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import (
    BUCHA,
    BUCHA_RAION,
    FAMILIES,
    IRPIN,
    KYIV_OBLAST,
    LINK_NEXT,
    LVIV,
    LVIV_OBLAST,
    bearer,
    child,
    create_family,
    family,
    person,
    token,
    years_ago,
)


@pytest.fixture
def regional(make_token) -> dict[str, str]:
    return bearer(token(make_token, "regional_officer", territory=KYIV_OBLAST))


@pytest.fixture
async def seeded(client, connection, make_token, worker) -> dict[str, dict[str, Any]]:
    """Five families in Bucha, one in Irpin and one in Lviv; Коваленко's family archived.
    Children: Марʼяна Шевченко is 10, Денис Левченко 17, Ірина Згурська 19."""

    def local(hromada: str) -> dict[str, str]:
        return bearer(token(make_token, "social_worker", territory=hromada))

    families = {
        "shevchenko": family(
            BUCHA,
            categories=["idp", "large_family"],
            factors=["hostilities_harm", "low_income"],
            members=[person(), child(birth_date=years_ago(10))],
        ),
        "shevchenkiv": family(
            BUCHA,
            categories=["veteran_family"],
            factors=["unemployment"],
            members=[
                person(
                    last_name="Шевченків",
                    first_name="Петро",
                    patronymic="Іванович",
                    sex="male",
                    birth_date="1979-02-03",
                )
            ],
        ),
        "levchenko": family(
            BUCHA,
            categories=["single_parent"],
            factors=["low_income"],
            members=[
                person(
                    last_name="Левченко",
                    first_name="Ганна",
                    patronymic="Іванівна",
                    birth_date="1990-06-30",
                ),
                child(
                    last_name="Левченко",
                    first_name="Денис",
                    patronymic="Олегович",
                    sex="male",
                    birth_date=years_ago(17),
                ),
            ],
        ),
        "zghurskyi": family(
            BUCHA,
            categories=["low_income"],
            factors=["disability"],
            members=[
                person(
                    last_name="Згурський",
                    first_name="Богдан",
                    patronymic="Іванович",
                    sex="male",
                    birth_date="1970-01-15",
                ),
                child(
                    last_name="Згурська",
                    first_name="Ірина",
                    patronymic="Богданівна",
                    birth_date=years_ago(19),
                ),
            ],
        ),
        "kovalenko": family(
            BUCHA,
            categories=[],
            factors=["domestic_violence"],
            members=[
                person(
                    last_name="Коваленко",
                    first_name="Євгенія",
                    patronymic="Олегівна",
                    birth_date="1995-11-11",
                )
            ],
        ),
        "irpin": family(IRPIN, members=[person(), child()]),
        "lviv": family(LVIV, members=[person(), child()]),
    }
    created = {}
    for name, body in families.items():
        created[name] = await create_family(client, local(body["hromada_code"]), body)
    archived = await client.post(
        f"{FAMILIES}/{created['kovalenko']['id']}/archive",
        json={"reason": "moved abroad"},
        headers=worker,
    )
    assert archived.status_code == 200
    created["kovalenko"] = archived.json()
    return created


BUCHA_FAMILIES = {"shevchenko", "shevchenkiv", "levchenko", "zghurskyi", "kovalenko"}
#: What lists and searches show unless asked for archived families.
ACTIVE_BUCHA = BUCHA_FAMILIES - {"kovalenko"}


async def listed(
    client: httpx.AsyncClient, connection, headers: dict[str, str], **params: Any
) -> list[str]:
    """The ids of the families one page lists; checks that the page's audit event names
    exactly those families."""
    response = await client.get(FAMILIES, params={"limit": 200, **params}, headers=headers)
    assert response.status_code == 200, response.text
    ids = [item["id"] for item in response.json()["items"]]
    await assert_audited(connection, response, ids)
    return ids


async def assert_audited(connection, response: httpx.Response, ids: list[str]) -> None:
    events = (
        (
            await connection.execute(
                text(
                    "SELECT action, resource_type, resource_ids, outcome FROM audit_events "
                    "WHERE request_id = :r"
                ),
                {"r": response.headers["x-request-id"]},
            )
        )
        .mappings()
        .all()
    )
    assert [dict(e) for e in events] == [
        {
            "action": "list_families",
            "resource_type": "family",
            "resource_ids": ids,
            "outcome": "success",
        }
    ]


def names(seeded: dict[str, dict[str, Any]], ids: list[str]) -> list[str]:
    by_id = {f["id"]: name for name, f in seeded.items()}
    return [by_id.get(i, i) for i in ids]


# --- by name ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("шевченко", ["shevchenko"]),
        ("ШЕВЧЕНКО", ["shevchenko"]),
        ("шЕвЧеНкО оКсАнА", ["shevchenko"]),
        ("Мар'яна", ["shevchenko"]),
        ("Марʼяна", ["shevchenko"]),
        ("Мар’яна", ["shevchenko"]),
        ("Маряна", ["shevchenko"]),
        ("Шевчнко", ["shevchenko"]),  # a letter missing
        ("Згурский", ["zghurskyi"]),  # a Russian spelling
        ("Shevchenko", ["shevchenko"]),
        ("shevchenko oksana", ["shevchenko"]),
        ("Mariana", ["shevchenko"]),
        ("Zghurskyi", ["zghurskyi"]),
        ("Zghurska", ["zghurskyi"]),
        ("Levchenko Denys", ["levchenko"]),
    ],
)
async def test_name_search_finds_the_family(client, connection, worker, seeded, q, found):
    ids = await listed(client, connection, worker, q=q)
    assert names(seeded, ids)[: len(found)] == found, names(seeded, ids)


async def test_an_archived_family_is_found_only_when_asked_for(client, connection, worker, seeded):
    """An archived family is history: its name, RNOKPP and UNZR find it with
    ``status=archived`` and nowhere else."""
    head = seeded["kovalenko"]["members"][0]
    for params in ({"q": "Коваленко"}, {"q": "Yevheniia"}, {"rnokpp": head["rnokpp"]}, {}):
        assert seeded["kovalenko"]["id"] not in await listed(client, connection, worker, **params)
        archived = await listed(client, connection, worker, status="archived", **params)
        assert archived == [seeded["kovalenko"]["id"]], params
    assert await listed(client, connection, worker, unzr=head["unzr"]) == []
    assert await listed(client, connection, worker, unzr=head["unzr"], status="archived") == [
        seeded["kovalenko"]["id"]
    ]


@pytest.mark.parametrize("q", ["Петренко", "Ivanenko", "Ярема"])
async def test_name_search_leaves_out_unrelated_names(client, connection, worker, seeded, q):
    assert await listed(client, connection, worker, q=q) == []


async def test_best_match_comes_first(client, connection, worker, seeded):
    # Шевченко exactly, then the names one edit away by name: Левченко, Шевченків
    expected = ["shevchenko", "levchenko", "shevchenkiv"]
    assert names(seeded, await listed(client, connection, worker, q="Шевченко")) == expected
    assert names(seeded, await listed(client, connection, worker, q="Shevchenko")) == expected
    # Левченко is three edits from Шевченків
    assert names(seeded, await listed(client, connection, worker, q="Шевченків")) == [
        "shevchenkiv",
        "shevchenko",
    ]


@pytest.mark.parametrize("q", ["12", "--", "' '"])
async def test_a_query_without_letters_is_422(client, worker, seeded, q):
    response = await client.get(FAMILIES, params={"q": q}, headers=worker)
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == {"query.q"}


async def test_a_former_member_still_finds_the_family(client, connection, worker, seeded):
    """A person's earlier family is part of their history: name and number still find it,
    next to the family they belong to now."""
    shevchenko = seeded["shevchenko"]
    mariana = next(m for m in shevchenko["members"] if m["relation"] == "child")
    removed = await client.post(
        f"{FAMILIES}/{shevchenko['id']}/members/{mariana['id']}/remove",
        json={"reason": "moved to her father"},
        headers=worker,
    )
    assert removed.status_code == 200
    fathers = await client.post(
        FAMILIES,
        json=family(
            BUCHA,
            members=[
                person(
                    last_name="Шевченко",
                    first_name="Андрій",
                    sex="male",
                    rnokpp=None,
                    birth_date="1983-02-02",
                ),
                {**child(first_name="Марʼяна", birth_date="2016-09-01", rnokpp=None), "unzr": None},
            ],
        ),
        headers=worker,
    )
    assert fathers.status_code == 201, fathers.text
    found = await listed(client, connection, worker, q="Марʼяна Шевченко")
    assert set(found) == {shevchenko["id"], fathers.json()["id"]}
    assert await listed(client, connection, worker, unzr=mariana["unzr"]) == [shevchenko["id"]]


# --- exactly, by identifier --------------------------------------------------------------------


async def test_exact_lookup_by_rnokpp_and_unzr(client, connection, make_token, worker, seeded):
    head = seeded["shevchenko"]["members"][0]
    assert await listed(client, connection, worker, rnokpp=head["rnokpp"]) == [
        seeded["shevchenko"]["id"]
    ]
    assert await listed(client, connection, worker, unzr=head["unzr"]) == [
        seeded["shevchenko"]["id"]
    ]
    teenager = seeded["levchenko"]["members"][-1]
    assert await listed(client, connection, worker, unzr=teenager["unzr"]) == [
        seeded["levchenko"]["id"]
    ]
    near_miss = head["unzr"][:-1] + ("1" if head["unzr"].endswith("0") else "0")
    assert await listed(client, connection, worker, unzr=near_miss) == []
    # the Irpin family's head is found only by those who may see it
    irpin_head = seeded["irpin"]["members"][0]
    assert await listed(client, connection, worker, rnokpp=irpin_head["rnokpp"]) == []
    admin = bearer(token(make_token, "ministry_admin"))
    assert await listed(client, connection, admin, rnokpp=irpin_head["rnokpp"]) == [
        seeded["irpin"]["id"]
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rnokpp", "12345"),
        ("rnokpp", "123456789a"),
        ("unzr", "1985041200015"),
        ("unzr", "19850412-0001"),
    ],
)
async def test_a_malformed_identifier_is_422(client, worker, name, value):
    response = await client.get(FAMILIES, params={name: value}, headers=worker)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {f"query.{name}"}


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({}, ACTIVE_BUCHA),
        ({"category": "single_parent"}, {"levchenko"}),
        ({"category": "idp"}, {"shevchenko"}),
        ({"category": "foster_family"}, set()),
        ({"factor": "low_income"}, {"shevchenko", "levchenko"}),
        ({"factor": "disability"}, {"zghurskyi"}),
        ({"status": "archived"}, {"kovalenko"}),
        ({"status": "active"}, ACTIVE_BUCHA),
        ({"has_child_under": 18}, {"shevchenko", "levchenko"}),  # 10 and 17, not 19
        ({"has_child_under": 11}, {"shevchenko"}),
        ({"has_child_under": 17}, {"shevchenko"}),  # 17 is not under 17
        ({"has_child_under": 20}, {"shevchenko", "levchenko", "zghurskyi"}),
        ({"factor": "low_income", "has_child_under": 12}, {"shevchenko"}),
        ({"hromada": BUCHA, "status": "active", "category": "low_income"}, {"zghurskyi"}),
        ({"q": "Шевченко", "factor": "low_income"}, {"shevchenko", "levchenko"}),
    ],
)
async def test_filters(client, connection, worker, seeded, params, found):
    assert set(names(seeded, await listed(client, connection, worker, **params))) == found


async def test_hromada_filter_within_a_wider_reach(client, connection, regional, seeded):
    assert set(names(seeded, await listed(client, connection, regional, hromada=IRPIN))) == {
        "irpin"
    }
    assert set(names(seeded, await listed(client, connection, regional, hromada=BUCHA))) == (
        ACTIVE_BUCHA
    )
    # a hromada outside the reach is not an error; it simply has nothing to show
    assert await listed(client, connection, regional, hromada=LVIV) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hromada", "UA99999999999999999"),  # no such unit
        ("hromada", BUCHA_RAION),  # a raion, not a hromada
        ("hromada", "Буча"),
        ("category", "no_such_category"),
        ("factor", "no_such_factor"),
        ("status", "deleted"),
        ("has_child_under", "0"),
        ("has_child_under", "many"),
    ],
)
async def test_an_unknown_filter_value_is_422(client, worker, name, value):
    response = await client.get(FAMILIES, params={name: value}, headers=worker)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in response.json()["errors"]} == {f"query.{name}"}


# --- pages -------------------------------------------------------------------------------------


async def walk(
    client: httpx.AsyncClient, connection, headers: dict[str, str], **params: Any
) -> list[str]:
    """Every id, following ``Link: rel="next"`` two at a time; checks each page's cursor,
    link and audit event."""
    ids: list[str] = []
    response = await client.get(FAMILIES, params={**params, "limit": 2}, headers=headers)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        page_ids = [item["id"] for item in page["items"]]
        await assert_audited(connection, response, page_ids)
        ids += page_ids
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            assert len(page_ids) <= 2
            return ids
        assert len(page_ids) == 2
        match = LINK_NEXT.match(response.headers["link"])
        assert match, response.headers["link"]
        next_url = httpx.URL(match.group(1))
        assert next_url.path == FAMILIES
        assert next_url.params["cursor"] == page["next_cursor"]
        assert next_url.params["limit"] == "2"
        for name, value in params.items():
            assert next_url.params[name] == str(value)  # the filters carry over
        response = await client.get(match.group(1), headers=headers)


@pytest.mark.parametrize(
    "params", [{}, {"q": "Шевченко"}, {"q": "Shevchenko"}, {"status": "active"}]
)
async def test_pages_walk_every_result_once_in_a_stable_order(
    client, connection, regional, seeded, params
):
    everything = await listed(client, connection, regional, **params)
    assert len(everything) >= 3
    walked = await walk(client, connection, regional, **params)
    assert walked == everything
    assert len(set(walked)) == len(walked)
    assert await walk(client, connection, regional, **params) == walked


async def test_a_cursor_from_another_list_is_422(client, worker, seeded):
    plain = await client.get(FAMILIES, params={"limit": 1}, headers=worker)
    cursor = plain.json()["next_cursor"]
    assert cursor
    response = await client.get(
        FAMILIES, params={"limit": 1, "q": "Шевченко", "cursor": cursor}, headers=worker
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"query.cursor"}


# --- confinement -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "Шевченко"},
        {"q": "Shevchenko"},
        {"q": "Марʼяна"},
        {"has_child_under": 18},
        {"factor": "low_income"},
        {"category": "idp"},
    ],
)
async def test_search_never_reaches_outside_the_hromada(
    client, connection, make_token, seeded, params
):
    """The Irpin and Lviv families match every one of these searches, but only their own
    hromada's workers find them."""
    for place, hromada in (("bucha", BUCHA), ("irpin", IRPIN), ("lviv", LVIV)):
        headers = bearer(token(make_token, "community_officer", territory=hromada))
        found = set(names(seeded, await listed(client, connection, headers, **params)))
        if place == "bucha":
            assert found
            assert found <= BUCHA_FAMILIES
        else:
            assert found == {place}


MATCHING_SHEVCHENKO = {"shevchenko", "shevchenkiv", "levchenko", "irpin", "lviv"}


@pytest.mark.parametrize(
    ("claims", "found"),
    [
        ({"role": "ministry_admin"}, MATCHING_SHEVCHENKO),
        ({"role": "regional_officer", "territory": KYIV_OBLAST}, MATCHING_SHEVCHENKO - {"lviv"}),
        (
            {"role": "integration", "scope": "families:read", "territory": BUCHA_RAION},
            MATCHING_SHEVCHENKO - {"lviv"},
        ),
        ({"role": "integration", "scope": "families:read", "territory": LVIV_OBLAST}, {"lviv"}),
        ({"role": "integration", "scope": "families:read reach:national"}, MATCHING_SHEVCHENKO),
        ({"role": "community_officer", "territory": IRPIN}, {"irpin"}),
    ],
)
@pytest.mark.parametrize("q", ["Шевченко", "Shevchenko"])
async def test_name_search_covers_the_whole_reach(
    client, connection, make_token, seeded, claims, found, q
):
    """Search looks for names only in the caller's oblast (inside the index); whatever the
    reach, it finds every matching family within it."""
    claims = dict(claims)
    headers = bearer(token(make_token, claims.pop("role"), **claims))
    assert set(names(seeded, await listed(client, connection, headers, q=q))) == found


async def test_a_family_moved_to_another_oblast_is_found_there(
    client, connection, make_token, seeded
):
    """A member's oblast follows the family's (the database keeps them equal), so name search
    in the new oblast finds the family and the old oblast no longer does."""
    mover = bearer(
        token(make_token, "integration", scope="families:read families:write reach:national")
    )
    lviv = seeded["lviv"]
    moved = await client.post(
        f"{FAMILIES}/{lviv['id']}/relocation",
        json={"to_hromada_code": BUCHA, "reason": "переїзд"},
        headers={**mover, "If-Match": f'"{lviv["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["oblast_code"] == KYIV_OBLAST
    oblasts = (
        (
            await connection.execute(
                text("SELECT DISTINCT oblast_code FROM persons WHERE family_id = :id"),
                {"id": lviv["id"]},
            )
        )
        .scalars()
        .all()
    )
    assert oblasts == [KYIV_OBLAST]
    bucha = bearer(token(make_token, "community_officer", territory=BUCHA))
    assert "lviv" in names(seeded, await listed(client, connection, bucha, q="Шевченко"))
    lviv_oblast = bearer(token(make_token, "regional_officer", territory=LVIV_OBLAST))
    assert await listed(client, connection, lviv_oblast, q="Шевченко") == []


async def test_filtering_by_another_hromada_finds_nothing(client, connection, worker, seeded):
    assert await listed(client, connection, worker, hromada=IRPIN) == []
    assert await listed(client, connection, worker, hromada=IRPIN, q="Шевченко") == []


# --- names in other alphabets ------------------------------------------------------------------


@pytest.fixture
async def foreign(client, worker) -> dict[str, dict[str, Any]]:
    """Families in Bucha named in other alphabets: Crimean Tatar in its Latin alphabet,
    Russian letters, German with an umlaut, Georgian."""
    bodies = {
        "sevkiyeva": [
            person(last_name="Şevkiyeva", first_name="Emine", patronymic=None),
            child(last_name="Şevkiyev", first_name="Çağrı", patronymic=None, sex="male"),
        ],
        "yolkin": [
            person(last_name="Ёлкин", first_name="Эмиль", patronymic="Подъячевич", sex="male")
        ],
        "muller": [person(last_name="Müller-Lüdenscheidt", first_name="Jürgen", patronymic=None)],
        "beridze": [person(last_name="ბერიძე", first_name="ნინო", patronymic=None)],
    }
    return {
        name: await create_family(client, worker, family(BUCHA, members=members))
        for name, members in bodies.items()
    }


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("Şevkiyeva", "sevkiyeva"),
        ("Sevkiyeva", "sevkiyeva"),  # without the cedilla, as typed on an English keyboard
        ("SEVKIYEVA", "sevkiyeva"),
        ("Emine Şevkiyeva", "sevkiyeva"),
        ("Emine Sevkiyeva", "sevkiyeva"),
        ("Cagri", "sevkiyeva"),
        ("Çağrı", "sevkiyeva"),
        ("Ёлкин", "yolkin"),
        ("Елкин", "yolkin"),  # ё written as е
        ("ёлкин", "yolkin"),
        ("Эмиль Ёлкин", "yolkin"),
        ("Емиль", "yolkin"),  # э as Ukrainian writes it
        ("Elkyn", "yolkin"),  # the Latin key of a Russian name
        ("Подъячевич", "yolkin"),
        ("Підячевич", "yolkin"),  # ъ like an apostrophe; a typo allowed
        ("Müller", "muller"),
        ("Muller-Ludenscheidt", "muller"),
        ("Jurgen", "muller"),
        ("ნინო", "beridze"),
        ("ბერიძე", "beridze"),
    ],
)
async def test_names_in_other_alphabets_are_found(client, connection, worker, foreign, q, found):
    ids = await listed(client, connection, worker, q=q)
    assert ids[:1] == [foreign[found]["id"]], (q, names(foreign, ids))


async def test_a_cyrillic_name_is_still_found_by_latin_next_to_foreign_ones(
    client, connection, worker, seeded, foreign
):
    assert names(seeded, await listed(client, connection, worker, q="Shevchenko"))[0] == (
        "shevchenko"
    )
    assert await listed(client, connection, worker, q="Sevkiyeva") == [foreign["sevkiyeva"]["id"]]


@pytest.mark.parametrize("q", ["%а%", "%Шевч%", "Шевч_нко", "Shev*", "Шевченко;"])
async def test_wildcards_are_taken_literally_and_find_nothing(client, worker, seeded, q):
    """``%`` and ``_`` are no wildcards: taken literally they are in no name, so the search
    finds nothing (``%а%`` is never widened to every name with an ``а``)."""
    response = await client.get(FAMILIES, params={"q": q}, headers=worker)
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("q", ["%%", "12", "Шев\x1bенко"])
async def test_a_search_without_letters_or_with_control_characters_is_422(
    client, worker, seeded, q
):
    response = await client.get(FAMILIES, params={"q": q}, headers=worker)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["query.q"]
