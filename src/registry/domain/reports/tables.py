"""The families' counts the families report reads, kept up to date as families are written,
so that the report reads thousands of rows rather than scanning a million families.

``report_family_counts`` holds, per hromada, the active families under each recipient
category and hardship factor (``kind``, ``code``) and, under ``code = ''``, those with any
of the kind (the row's total). A statement trigger on ``families`` (migration 0019) appends
what each statement changed to ``report_family_count_changes`` — never updating a count, so
writers of families never wait on each other — and a report read first folds the changes
into the counts (``report_family_counts_fold()``, one folder at a time), then reads the
counts plus whatever changes are left. Neither table is personal: they hold counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Identity, String, Text
from sqlmodel import Field, SQLModel

from registry.db.base import table_of
from registry.domain.territories.tables import CODE_LENGTH

#: ``code`` of the row's total: families with any code of the kind.
ANY_CODE = ""


def _code(*, primary_key: bool = False, nullable: bool = False) -> Any:
    return Field(sa_column=Column(String(CODE_LENGTH), primary_key=primary_key, nullable=nullable))


class FamilyCount(SQLModel, table=True):
    __tablename__ = "report_family_counts"

    hromada_code: str = _code(primary_key=True)
    kind: str = Field(sa_column=Column(String(24), primary_key=True))
    code: str = Field(sa_column=Column(Text, primary_key=True))
    oblast_code: str = _code()
    raion_code: str | None = _code(nullable=True)
    families: int = Field(sa_column=Column(BigInteger, nullable=False))


class FamilyCountChange(SQLModel, table=True):
    __tablename__ = "report_family_count_changes"

    position: int = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    hromada_code: str = _code()
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    code: str = Field(sa_column=Column(Text, nullable=False))
    oblast_code: str = _code()
    raion_code: str | None = _code(nullable=True)
    #: What the statement added (negative: took away).
    families: int = Field(sa_column=Column(BigInteger, nullable=False))


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
family_count_table = table_of(FamilyCount)
family_count_change_table = table_of(FamilyCountChange)
