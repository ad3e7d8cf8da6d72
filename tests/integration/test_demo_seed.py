"""Demo families (``registry seed --demo``): valid, searchable, placed where they belong."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from registry.db.engine import Database
from registry.demo.families import DEMO_ACTOR, feminine_surname, patronymic, seed_demo_families
from registry.domain.shared.identifiers import validate_rnokpp, validate_unzr
from registry.domain.shared.names import clean_name_part, latin_key, name_key
from tests.support import KYIV

FAMILIES = 200
FEMALE_PATRONYMIC = re.compile(r".+(івна|ївна|вна)")
MALE_PATRONYMIC = re.compile(r".+(ович|йович|ич|іч)")  # Ілля → Ілліч


async def _seed(connection, families: int = FAMILIES) -> int:
    session = Database.bound_to(connection).session()
    added = await seed_demo_families(session, families=families)
    await session.flush()
    return added


async def _persons(connection):
    return (
        (
            await connection.execute(
                text(
                    "SELECT p.* FROM persons p JOIN families f ON f.id = p.family_id "
                    "WHERE f.created_by = :actor"
                ),
                {"actor": DEMO_ACTOR},
            )
        )
        .mappings()
        .all()
    )


async def test_seeding_adds_the_families_once(connection):
    assert await _seed(connection) == FAMILIES
    assert await _seed(connection) == 0
    count = await connection.scalar(
        text("SELECT count(*) FROM families WHERE created_by = :actor"), {"actor": DEMO_ACTOR}
    )
    assert count == FAMILIES
    sizes = (
        (
            await connection.execute(
                text(
                    "SELECT count(*) FROM persons p JOIN families f ON f.id = p.family_id "
                    "WHERE f.created_by = :actor GROUP BY f.id"
                ),
                {"actor": DEMO_ACTOR},
            )
        )
        .scalars()
        .all()
    )
    assert len(sizes) == FAMILIES
    assert min(sizes) >= 1
    assert max(sizes) <= 6


async def test_members_have_valid_names_and_identifiers(connection):
    await _seed(connection)
    persons = await _persons(connection)
    assert persons
    for person in persons:
        for part in ("last_name", "first_name", "patronymic"):
            assert clean_name_part(person[part]) == person[part]
        if person["rnokpp"] is not None:
            validate_rnokpp(person["rnokpp"], birth_date=person["birth_date"], sex=person["sex"])
            assert not person["rnokpp_refused"]
        if person["unzr"] is not None:
            validate_unzr(person["unzr"], birth_date=person["birth_date"])
    adults = [p for p in persons if p["relation"] != "child"]
    with_rnokpp = sum(p["rnokpp"] is not None for p in adults) / len(adults)
    assert 0.5 < with_rnokpp < 0.85
    assert 0.4 < sum(p["unzr"] is not None for p in persons) / len(persons) < 0.8


async def test_patronymics_agree_in_sex_and_children_share_the_fathers(connection):
    await _seed(connection)
    persons = await _persons(connection)
    for person in persons:
        pattern = FEMALE_PATRONYMIC if person["sex"] == "female" else MALE_PATRONYMIC
        assert pattern.fullmatch(person["patronymic"]), person["patronymic"]
    by_family: dict[object, list] = {}
    for person in persons:
        by_family.setdefault(person["family_id"], []).append(person)
    for members in by_family.values():
        fathers = [m for m in members if m["sex"] == "male" and m["relation"] in ("head", "spouse")]
        children = [m for m in members if m["relation"] == "child"]
        couple = any(m["relation"] == "spouse" for m in members)
        if couple and len(fathers) == 1 and children:
            father = fathers[0]["first_name"]
            assert all(c["patronymic"] == patronymic(father, c["sex"]) for c in children)


@pytest.mark.parametrize(
    ("father", "male", "female"),
    [
        ("Петро", "Петрович", "Петрівна"),
        ("Іван", "Іванович", "Іванівна"),
        ("Сергій", "Сергійович", "Сергіївна"),
        ("Олексій", "Олексійович", "Олексіївна"),
        ("Микола", "Миколайович", "Миколаївна"),
        ("Ілля", "Ілліч", "Іллівна"),
        ("Григорій", "Григорович", "Григорівна"),
        ("Яків", "Якович", "Яківна"),
        ("Лука", "Лукич", "Луківна"),
        ("Василь", "Васильович", "Василівна"),
        ("Демʼян", "Демʼянович", "Демʼянівна"),
    ],
)
def test_patronymics_follow_the_fathers_name(father, male, female):
    assert (patronymic(father, "male"), patronymic(father, "female")) == (male, female)


@pytest.mark.parametrize(
    ("masculine", "feminine"),
    [
        ("Ковальський", "Ковальська"),
        ("Білий", "Біла"),
        ("Шевченко", "Шевченко"),
        ("Ковальчук", "Ковальчук"),
        ("Прокопʼюк", "Прокопʼюк"),
        ("Григорʼєв", "Григорʼєва"),
    ],
)
def test_surnames_agree_in_sex_where_the_language_wants(masculine, feminine):
    assert feminine_surname(masculine) == feminine


async def test_families_lie_in_hromadas_with_their_oblast_and_raion(connection):
    await _seed(connection)
    wrong = await connection.scalar(
        text(
            """
        SELECT count(*) FROM families f
        JOIN territories h ON h.code = f.hromada_code
        LEFT JOIN territories r ON r.code = h.parent_code
        LEFT JOIN territories s ON s.code = f.settlement_code
        WHERE f.created_by = :actor AND NOT (
            CASE h.category
                WHEN 'K' THEN f.oblast_code = h.code AND f.raion_code IS NULL
                              AND f.settlement_code IS NULL
                WHEN 'H' THEN r.category = 'P' AND f.raion_code = r.code
                              AND f.oblast_code = r.parent_code
                              AND (f.settlement_code IS NULL
                                   OR s.parent_code = f.hromada_code)
                ELSE false
            END)
        """
        ),
        {"actor": DEMO_ACTOR},
    )
    assert wrong == 0
    kyiv = await connection.scalar(
        text("SELECT count(*) FROM families WHERE created_by = :actor AND hromada_code = :kyiv"),
        {"actor": DEMO_ACTOR, "kyiv": KYIV},
    )
    assert 0.2 * FAMILIES < kyiv < 0.4 * FAMILIES
    members_elsewhere = await connection.scalar(
        text(
            "SELECT count(*) FROM persons p JOIN families f ON f.id = p.family_id "
            "WHERE f.created_by = :actor AND p.oblast_code <> f.oblast_code"
        ),
        {"actor": DEMO_ACTOR},
    )
    assert members_elsewhere == 0


async def test_categories_and_factors_are_known_codes(connection):
    await _seed(connection)
    unknown = await connection.scalar(
        text(
            """
        SELECT count(*) FROM families f
        WHERE f.created_by = :actor AND (
            NOT f.categories <@ ARRAY(SELECT code::text FROM recipient_categories)
            OR NOT f.factors <@ ARRAY(SELECT code::text FROM hardship_factors)
            OR cardinality(f.categories) > 3 OR cardinality(f.factors) > 3)
        """
        ),
        {"actor": DEMO_ACTOR},
    )
    assert unknown == 0
    large_without_children = await connection.scalar(
        text(
            """
        SELECT count(*) FROM families f
        WHERE f.created_by = :actor AND 'large_family' = ANY (f.categories)
          AND (SELECT count(*) FROM persons p
               WHERE p.family_id = f.id AND p.relation = 'child') < 3
        """
        ),
        {"actor": DEMO_ACTOR},
    )
    assert large_without_children == 0


async def test_search_keys_are_the_ones_the_api_computes(connection):
    await _seed(connection)
    for person in await _persons(connection):
        names = (person["last_name"], person["first_name"], person["patronymic"])
        assert person["name_key"] == name_key(*names)
        assert person["latin_key"] == latin_key(*names)
