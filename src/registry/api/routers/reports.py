"""Aggregate reports: counts by territory for the ministry's analysts and the territories'
officers, with small counts suppressed so that no family can be singled out. No record, no
id; each read is audited as one event naming none."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from registry.api.dependencies import AppSettings, ReportsRead, Session
from registry.api.openapi_responses import problem_responses
from registry.api.responses import respond
from registry.api.schemas.base import KatottgCode
from registry.api.schemas.reports import ProgrammesReport, Report, ServiceRecordsReport
from registry.api.schemas.words import worded
from registry.domain.military.rules import SupportCaseStatus
from registry.domain.reports import queries
from registry.domain.reports.rules import GroupBy

router = APIRouter(tags=["reports"])

_RESPONSES = problem_responses(403, 422)

GroupByQuery = Annotated[
    GroupBy | None,
    Query(
        description="The level of the rows: `oblast`, `raion` or `hromada`, at most as coarse "
        "as the territory counted. Default: the level below it (the whole country: oblasts; "
        "an oblast: raions; a hromada: the hromada)."
    ),
]
TerritoryQuery = Annotated[
    KatottgCode | None,
    Query(
        description="Count only this oblast, raion or hromada (within your own territory). "
        "Default: all you may count."
    ),
]
_MONTH = worded(r"^20[0-9]{2}-(0[1-9]|1[0-2])$", "must be a month as YYYY-MM, such as 2026-03")


def _month(text: str | None) -> date | None:
    return None if text is None else date(int(text[:4]), int(text[5:7]), 1)


@router.get(
    "/reports/families",
    response_model=Report,
    name="get_families_report",
    responses=_RESPONSES,
)
async def get_families_report(
    caller: ReportsRead,
    session: Session,
    settings: AppSettings,
    group_by: GroupByQuery = None,
    territory: TerritoryQuery = None,
) -> Response:
    """Active families by recipient category (table `recipient_category`) and by hardship
    factor (`hardship_factor`), per unit. A family is counted under each of its categories
    and once in its row's total; small counts are suppressed."""
    scope = await queries.report_scope(session, caller, group_by, territory)
    report = await queries.families_report(session, caller, scope, settings.report_min_cell)
    return respond(report, Report)


@router.get(
    "/reports/cases",
    response_model=Report,
    name="get_cases_report",
    responses=_RESPONSES,
)
async def get_cases_report(
    caller: ReportsRead,
    session: Session,
    settings: AppSettings,
    group_by: GroupByQuery = None,
    territory: TerritoryQuery = None,
) -> Response:
    """Cases of social accompaniment by status (table `status`), and open cases by the
    deadline they are past today (`overdue`: a visit, the assessment, the accompaniment's
    duration), per unit; small counts are suppressed."""
    scope = await queries.report_scope(session, caller, group_by, territory)
    report = await queries.cases_report(session, caller, scope, settings.report_min_cell)
    return respond(report, Report)


@router.get(
    "/reports/service-records",
    response_model=ServiceRecordsReport,
    name="get_service_records_report",
    responses=_RESPONSES,
)
async def get_service_records_report(
    caller: ReportsRead,
    session: Session,
    settings: AppSettings,
    group_by: GroupByQuery = None,
    territory: TerritoryQuery = None,
    from_month: Annotated[
        str | None,
        Query(
            pattern=_MONTH,
            description="The first month of delivery counted, `YYYY-MM`. "
            "Default: eleven months before `to_month`.",
        ),
    ] = None,
    to_month: Annotated[
        str | None,
        Query(
            pattern=_MONTH,
            description="The last month counted, `YYYY-MM`. Default: this "
            f"month. At most {queries.MAX_MONTHS} months in all.",
        ),
    ] = None,
) -> Response:
    """Service records (not voided) by service code, one table per month of delivery, per
    unit of the families served; small counts are suppressed."""
    start, end = queries.period_of(caller.today, _month(from_month), _month(to_month))
    scope = await queries.report_scope(session, caller, group_by, territory)
    report = await queries.service_records_report(
        session, caller, scope, settings.report_min_cell, start, end
    )
    return respond(report, ServiceRecordsReport)


@router.get(
    "/reports/providers",
    response_model=Report,
    name="get_providers_report",
    responses=_RESPONSES,
)
async def get_providers_report(
    caller: ReportsRead,
    session: Session,
    settings: AppSettings,
    group_by: GroupByQuery = None,
    territory: TerritoryQuery = None,
) -> Response:
    """Providers by sector, one table per status (`pending`, `active`, `excluded`), per unit
    they are registered in; small counts are suppressed (a provider may be a person)."""
    scope = await queries.report_scope(session, caller, group_by, territory)
    report = await queries.providers_report(session, caller, scope, settings.report_min_cell)
    return respond(report, Report)


@router.get(
    "/reports/support-cases",
    response_model=Report,
    name="get_support_cases_report",
    responses=_RESPONSES,
)
async def get_support_cases_report(
    caller: ReportsRead,
    session: Session,
    settings: AppSettings,
    group_by: GroupByQuery = None,
    territory: TerritoryQuery = None,
    status: Annotated[
        SupportCaseStatus | None,
        Query(description="Only support cases in this status. Default: all."),
    ] = None,
) -> Response:
    """Support cases of servicemembers' families per military unit (table `unit`) and per
    support measure planned or delivered (`measure`), per unit of the families' territory;
    small counts are suppressed."""
    scope = await queries.report_scope(session, caller, group_by, territory)
    report = await queries.support_cases_report(
        session, caller, scope, settings.report_min_cell, None if status is None else status.value
    )
    return respond(report, Report)


@router.get(
    "/reports/programmes",
    response_model=ProgrammesReport,
    name="get_programmes_report",
    responses=_RESPONSES,
)
async def get_programmes_report(
    caller: ReportsRead,
    session: Session,
    settings: AppSettings,
    group_by: GroupByQuery = None,
    territory: TerritoryQuery = None,
    programme_id: Annotated[
        uuid.UUID | None, Query(description="Only this programme. Default: all but drafts.")
    ] = None,
) -> Response:
    """Per programme and unit: what was allocated, what was distributed net of reversals (in
    the programme's currency, as decimal text), and the families enrolled. A unit's
    distributed amount is suppressed with its count of families."""
    scope = await queries.report_scope(session, caller, group_by, territory)
    report = await queries.programmes_report(
        session, caller, scope, settings.report_min_cell, programme_id
    )
    return respond(report, ProgrammesReport)
