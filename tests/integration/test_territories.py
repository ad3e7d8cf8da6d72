"""The KATOTTG codifier import and code validation."""

from __future__ import annotations

import asyncpg
import openpyxl
import pytest
from sqlalchemy import text

from registry.db.engine import Database, driver_connection
from registry.domain.territories import queries as territory_queries
from registry.domain.territories.commands import import_codifier
from registry.domain.territories.queries import known_units, require_territory
from registry.errors import InvalidInput
from tests.support import KYIV, bearer

# The 2024 edition, as DOMAIN.md counts it.
EXPECTED = {"O": 25, "K": 2, "P": 136, "H": 1772, "M": 461, "C": 27261, "X": 1979, "B": 108}


async def test_the_whole_codifier_is_imported(connection):
    counts = dict(
        (
            await connection.execute(
                text("SELECT category, count(*) FROM territories GROUP BY category")
            )
        ).all()
    )
    assert counts == EXPECTED
    assert sum(counts.values()) == 31744


async def test_every_unit_hangs_off_a_broader_parent(connection):
    orphans = await connection.scalar(
        text(
            "SELECT count(*) FROM territories t LEFT JOIN territories p ON p.code = t.parent_code "
            "WHERE (t.parent_code IS NULL) <> (t.category IN ('O', 'K')) "
            "   OR (t.parent_code IS NOT NULL AND p.level >= t.level)"
        )
    )
    assert orphans == 0
    hromada_parents = set(
        (
            await connection.execute(
                text(
                    "SELECT DISTINCT p.category FROM territories t JOIN territories p "
                    "ON p.code = t.parent_code WHERE t.category = 'H'"
                )
            )
        ).scalars()
    )
    assert hromada_parents == {"P"}


async def test_reimporting_the_same_edition_changes_nothing(connection):
    session = Database.bound_to(connection).session()
    assert await import_codifier(session) is None


@pytest.mark.parametrize(
    ("code", "categories", "message"),
    [
        ("UA123", None, "not a KATOTTG code"),
        ("ua80000000000093317", None, "not a KATOTTG code"),
        ("UA99999999999999999", None, "no such code"),
        (KYIV, {"H"}, "category K where H is required"),
    ],
)
async def test_codes_are_checked_for_shape_existence_and_category(
    connection, code, categories, message
):
    session = Database.bound_to(connection).session()
    with pytest.raises(InvalidInput) as raised:
        await require_territory(session, "body.hromada", code, categories)
    assert raised.value.errors[0].field == "body.hromada"
    assert message in raised.value.errors[0].message


async def test_an_unknown_parent_filter_is_invalid_input(client, make_token):
    response = await client.get(
        "/api/v1/territories",
        params={"parent": "UA99999999999999999"},
        headers=bearer(make_token("ministry_admin")),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.parent"


def _lookups_sent(monkeypatch) -> list[object]:
    """The codifier lookups sent from now on (``require_territory`` reads on the driver's
    connection, whether handed one or a session)."""
    sent: list[object] = []
    fetchrow = asyncpg.Connection.fetchrow

    async def counted(self, query, *args, **kwargs):
        sent.append(query)
        return await fetchrow(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "fetchrow", counted)
    return sent


async def test_a_unit_found_is_not_read_again_until_its_time_is_up(connection, monkeypatch):
    session = Database.bound_to(connection).session()
    sent = _lookups_sent(monkeypatch)
    known_units.clear()

    await require_territory(session, "query.hromada", KYIV, {"H", "K"})
    assert len(sent) == 1
    await require_territory(session, "query.hromada", KYIV, {"H", "K"})
    assert len(sent) == 1
    # Known, the unit is still held to the category asked for.
    with pytest.raises(InvalidInput, match="category"):
        await require_territory(session, "query.hromada", KYIV, {"H"})
    assert len(sent) == 1
    monkeypatch.setattr(territory_queries, "KNOWN_UNIT_SECONDS", 0.0)
    await require_territory(session, "query.hromada", KYIV, {"H", "K"})
    assert len(sent) == 2


async def test_a_code_not_found_is_asked_for_every_time(connection, monkeypatch):
    driver = await driver_connection(Database.bound_to(connection).session())
    sent = _lookups_sent(monkeypatch)
    known_units.clear()

    for _ in range(2):
        with pytest.raises(InvalidInput, match="not in the codifier"):
            await require_territory(driver, "query.hromada", "UA99999999999999999")
    assert len(sent) == 2


async def test_an_edition_imported_is_seen_at_once(connection, tmp_path):
    session = Database.bound_to(connection).session()
    assert (await require_territory(session, "query.hromada", KYIV))["name"] != "Київ (нова назва)"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Перший рівень", None, None, None, None, "Категорія", "Назва"])
    workbook.active.append([KYIV, None, None, None, None, "K", "Київ (нова назва)"])
    edition = tmp_path / "kodifikator.xlsx"
    workbook.save(edition)

    try:
        assert await import_codifier(session, edition) == 1
        renamed = await require_territory(session, "query.hromada", KYIV)
        assert renamed["name"] == "Київ (нова назва)"
    finally:
        known_units.clear()  # the edition is rolled back with the test; so must its units be
