"""Aggregate reports' shapes: counts and sums by territory, never a record. A figure that
small-cell suppression withholds is ``{"count": null, "suppressed": true}`` (an amount:
``{"amount": null, "suppressed": true, …}``), never left out, so rows and columns keep their
shape."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from registry.api.schemas.base import Schema
from registry.domain.programmes.rules import Currency
from registry.domain.reports.rules import GroupBy


class Cell(Schema):
    """A count, or null when suppressed."""

    count: int | None = Field(
        ge=0,
        description="The count; null when suppressed (a small count, or one that would "
        "give a small count back from the totals).",
    )
    suppressed: bool = Field(description="Whether the count is withheld.")


class ReportColumn(Schema):
    key: str = Field(description="The key of the column's cells in each row.")
    name_uk: str | None = Field(description="Its name in Ukrainian, where it has one.")
    name_en: str | None = Field(description="Its name in English, where it has one.")


class ReportTerritory(Schema):
    code: str = Field(description="The unit's KATOTTG code.")
    name: str | None = Field(description="Its name in the codifier.")


class ReportRow(Schema):
    territory: ReportTerritory
    cells: dict[str, Cell] = Field(description="One cell per column, by the column's key.")
    total: Cell = Field(description="The row's total (what it is: the table's `totals_mean`).")


class ReportTotals(Schema):
    cells: dict[str, Cell] = Field(description="Each column's total over the rows.")
    total: Cell = Field(description="The grand total.")


class ReportTable(Schema):
    name: str = Field(
        description="What the columns are (`recipient_category`, `status`, …), or the table's "
        "own part of the report (a month `2026-03`, a provider status)."
    )
    counts: str = Field(description="What each count counts.", examples=["families"])
    totals_mean: str = Field(description="What a row's total counts.")
    columns: list[ReportColumn]
    rows: list[ReportRow] = Field(
        description="One row per unit that has anything to count, by code; a unit absent "
        "counts zero."
    )
    totals: ReportTotals


class Report(Schema):
    report: str = Field(examples=["families"])
    as_of: date = Field(description="The day the figures are counted on (deadlines, periods).")
    territory: str | None = Field(
        description="The territory the report is narrowed to; null: all of your reach."
    )
    group_by: GroupBy
    min_cell: int = Field(
        description="k: every count from 1 to k - 1 is suppressed (`REGISTRY_REPORT_MIN_CELL`)."
    )
    tables: list[ReportTable]


class Period(Schema):
    from_month: str = Field(description="The first month counted, `YYYY-MM`.")
    to_month: str = Field(description="The last month counted, `YYYY-MM`.")


class ServiceRecordsReport(Report):
    period: Period


class ReportMoney(Schema):
    amount: str | None = Field(description="Decimal text with 2 decimals; null when suppressed.")
    currency: Currency
    suppressed: bool


class ReportProgramme(Schema):
    id: uuid.UUID
    name: str
    status: str
    currency: Currency


class ProgrammeRow(Schema):
    territory: ReportTerritory
    allocated: ReportMoney = Field(description="Allocated (items at their unit value).")
    distributed: ReportMoney = Field(
        description="Distributed net of reversals; suppressed with the families it went to."
    )
    families_enrolled: Cell


class ProgrammeTotals(Schema):
    allocated: ReportMoney
    distributed: ReportMoney
    families_enrolled: Cell


class ProgrammeTable(Schema):
    programme: ReportProgramme
    rows: list[ProgrammeRow]
    totals: ProgrammeTotals


class ProgrammesReport(Schema):
    report: str = Field(examples=["programmes"])
    as_of: date
    territory: str | None
    group_by: GroupBy
    min_cell: int
    programmes: list[ProgrammeTable]
