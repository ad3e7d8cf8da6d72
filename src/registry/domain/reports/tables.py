"""The counts the biggest reports read, kept up to date as their records are written, so that
a report reads thousands of rows rather than scanning a million families or service records.

``report_counts`` holds, per ``subject`` and hromada, a count per (``kind``, ``code``):

- ``families``: the active families under each recipient category and hardship factor
  (``kind`` ``recipient_category`` / ``hardship_factor``, ``code`` the code) and, under
  ``code = ''``, those with any of the kind (the row's total);
- ``service_records``: the records not voided per month of delivery (``kind`` ``YYYY-MM``)
  and service code.

A statement trigger on each counted table (migration 0019) appends what each statement
changed, net, to ``report_count_changes`` — never updating a count, so writers never wait on
each other — and a report read first folds the changes into the counts
(``report_counts_fold()``, one folder at a time), then reads the counts plus whatever
changes are left. Neither table is personal: they hold counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Identity, String, Text
from sqlmodel import Field, SQLModel

from registry.db.base import table_of
from registry.domain.territories.tables import CODE_LENGTH

FAMILIES = "families"
SERVICE_RECORDS = "service_records"
#: ``code`` of a families row's total: families with any code of the kind.
ANY_CODE = ""


def _code(*, primary_key: bool = False, nullable: bool = False) -> Any:
    return Field(sa_column=Column(String(CODE_LENGTH), primary_key=primary_key, nullable=nullable))


def _text(length: int | None = None, *, primary_key: bool = False) -> Any:
    return Field(
        sa_column=Column(
            Text if length is None else String(length),
            primary_key=primary_key,
            nullable=False,
        )
    )


class ReportCount(SQLModel, table=True):
    __tablename__ = "report_counts"

    subject: str = _text(24, primary_key=True)
    hromada_code: str = _code(primary_key=True)
    kind: str = _text(24, primary_key=True)
    code: str = _text(primary_key=True)
    oblast_code: str = _code()
    raion_code: str | None = _code(nullable=True)
    counted: int = Field(sa_column=Column(BigInteger, nullable=False))


class ReportCountChange(SQLModel, table=True):
    __tablename__ = "report_count_changes"

    position: int = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    subject: str = _text(24)
    hromada_code: str = _code()
    kind: str = _text(24)
    code: str = _text()
    oblast_code: str = _code()
    raion_code: str | None = _code(nullable=True)
    #: What the statement added (negative: took away).
    counted: int = Field(sa_column=Column(BigInteger, nullable=False))


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
report_count_table = table_of(ReportCount)
report_count_change_table = table_of(ReportCountChange)
