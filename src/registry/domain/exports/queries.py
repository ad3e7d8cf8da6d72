"""Reading exports (a requester's own only) and the records an export holds.

The records are read in keyset batches by id (``record_batches``), each batch rendered by the
context that owns the type exactly as its API reads render it for the requester
(``families.queries.families_by_id``, ``cases.queries.cases_by_id``,
``service_records.queries.records_by_id``, ``military.queries.support_cases_by_id``), so
memory holds one batch however large the export, and a line of a file is what
``GET /families/{id}`` (``/cases/{id}``, ``/service-records/{id}``, ``/support-cases/{id}``)
would answer the requester at the export's moment.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.cases.access import visible_cases
from registry.domain.cases.queries import cases_by_id
from registry.domain.cases.tables import case_table, referral_table
from registry.domain.changes.tables import change_event_table
from registry.domain.exports.access import own_exports
from registry.domain.exports.rules import ExportStatus
from registry.domain.exports.tables import export_table
from registry.domain.families.access import sees_provider_view, visible_families
from registry.domain.families.queries import families_by_id, family_for_provider
from registry.domain.families.tables import family_table, person_table
from registry.domain.military.access import visible_support_cases
from registry.domain.military.queries import support_cases_by_id
from registry.domain.military.tables import support_case_table
from registry.domain.service_records.access import visible_records
from registry.domain.service_records.queries import records_by_id
from registry.domain.service_records.tables import service_record_table
from registry.domain.shared.caller import Caller
from registry.domain.shared.territory import within
from registry.errors import Gone, NotFound

EXPORT = "export"
NOT_FOUND = "No export with this id is yours."

#: What the API shows of an export (``ExportView``).
_SHOWN = (
    export_table.c.id,
    export_table.c.status,
    export_table.c.types,
    export_table.c.since,
    export_table.c.territory,
    export_table.c.created_at,
    export_table.c.started_at,
    export_table.c.finished_at,
    export_table.c.as_of,
    export_table.c.changes_after,
    export_table.c.counts,
    export_table.c.files,
    export_table.c.expires_at,
    export_table.c.expired_at,
    export_table.c.error,
)


def render_export(row: Any) -> dict[str, Any]:
    export = {column.name: row[column.name] for column in _SHOWN}
    export["files"] = export["files"] or []
    export["counts"] = export["counts"] or {}
    return export


async def get_export(session: AsyncSession, caller: Caller, export_id: uuid.UUID) -> dict[str, Any]:
    """The caller's export: its state and, once ready, its files (404 for anyone else's)."""
    row = (
        (
            await session.execute(
                select(*_SHOWN).where(export_table.c.id == export_id, own_exports(caller.principal))
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(NOT_FOUND)
    await record(session, caller, "get_export", EXPORT, [export_id])
    return render_export(row)


async def list_exports(
    session: AsyncSession, caller: Caller, page: PageRequest
) -> Page[dict[str, Any]]:
    """The caller's own exports, oldest first (ids are time-ordered)."""
    statement = select(*_SHOWN).where(own_exports(caller.principal))
    rows = (await session.execute(keyset(statement, [export_table.c.id], page))).mappings().all()
    found = page_of([render_export(row) for row in rows], page, key=lambda e: (str(e["id"]),))
    await record(session, caller, "list_exports", EXPORT, [e["id"] for e in found.items])
    return found


async def export_file(
    session: AsyncSession, caller: Caller, export_id: uuid.UUID, number: int
) -> dict[str, Any]:
    """The caller's export's ``number``-th file (its name, size, SHA-256, record count), for
    download: 404 when the export is not theirs or has no such file (yet), 410 once its files
    have expired (whether or not the worker has swept them yet). The download is audited."""
    row = (
        (
            await session.execute(
                select(
                    export_table.c.status,
                    export_table.c.files,
                    (export_table.c.expires_at <= func.now()).label("lapsed"),
                ).where(export_table.c.id == export_id, own_exports(caller.principal))
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(NOT_FOUND)
    if row["status"] == ExportStatus.EXPIRED or (
        row["status"] == ExportStatus.READY and row["lapsed"]
    ):
        raise Gone("The export's files have expired and were deleted; request a new export.")
    files = row["files"] or []
    if row["status"] != ExportStatus.READY or not 1 <= number <= len(files):
        raise NotFound(f"The export has no file {number}.")
    await record(session, caller, "download_export_file", EXPORT, [export_id, f"file={number}"])
    return dict(files[number - 1])


# --- what the worker reads ------------------------------------------------------------------


async def snapshot_facts(session: AsyncSession) -> tuple[datetime, int]:
    """The moment the transaction sees and the change feed's last sequence number visible in
    it (0 when none): a consumer that follows the feed after it misses nothing changed later
    (an event committed before the moment but numbered after it shows again: its record is in
    the files already, as it is now)."""
    row = (
        await session.execute(
            select(func.now(), func.coalesce(func.max(change_event_table.c.sequence), 0))
        )
    ).one()
    return row[0], int(row[1])


def _at(table: Table, territory: str | None) -> ColumnElement[bool]:
    """The rows of ``table`` in the territory asked for; every row when none is asked for.
    Confinement is added apart from it."""
    return true() if territory is None else within(table, territory)


def _family_ids(caller: Caller, since: datetime | None, territory: str | None) -> Any:
    changed: ColumnElement[bool] = true()
    if since is not None:
        # A family's record holds its members: a member's change is the family's.
        changed = or_(
            family_table.c.updated_at >= since,
            exists().where(
                person_table.c.family_id == family_table.c.id, person_table.c.updated_at >= since
            ),
        )
    return (
        select(family_table.c.id)
        .where(visible_families(caller.principal), _at(family_table, territory), changed)
        .order_by(family_table.c.id)
    ), family_table.c.id


def _case_ids(caller: Caller, since: datetime | None, territory: str | None) -> Any:
    changed: ColumnElement[bool] = true()
    if since is not None:
        # A case's record holds its referrals (its other parts change the case's version).
        changed = or_(
            case_table.c.updated_at >= since,
            exists().where(
                referral_table.c.case_id == case_table.c.id, referral_table.c.updated_at >= since
            ),
        )
    return (
        select(case_table.c.id)
        .where(visible_cases(caller.principal), _at(case_table, territory), changed)
        .order_by(case_table.c.id)
    ), case_table.c.id


async def _families(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    families = await families_by_id(session, caller, ids)
    if sees_provider_view(caller.principal):
        return [family_for_provider(family, caller.today) for family in families]
    return families


def _service_record_ids(caller: Caller, since: datetime | None, territory: str | None) -> Any:
    records = service_record_table
    return (
        select(records.c.id)
        .where(
            visible_records(caller.principal),
            _at(records, territory),
            records.c.updated_at >= since if since is not None else true(),
        )
        .order_by(records.c.id)
    ), records.c.id


def _support_case_ids(caller: Caller, since: datetime | None, territory: str | None) -> Any:
    cases = support_case_table
    # A support case is placed by its family's address.
    placed = (
        cases.c.family_id.in_(select(family_table.c.id).where(_at(family_table, territory)))
        if territory is not None
        else true()
    )
    return (
        select(cases.c.id)
        .where(
            visible_support_cases(caller.principal),
            placed,
            cases.c.updated_at >= since if since is not None else true(),
        )
        .order_by(cases.c.id)
    ), cases.c.id


#: What ``records_by_id`` reads that the API's ``ServiceRecord`` does not show: who made the
#: current version is told by the record's history (``GET /service-records/{id}/history``).
_RECORD_NOT_SHOWN = frozenset({"changed_by"})


async def _service_records(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    return [
        {name: value for name, value in found.items() if name not in _RECORD_NOT_SHOWN}
        for found in await records_by_id(session, caller, ids)
    ]


_Render = Callable[[AsyncSession, Caller, Sequence[uuid.UUID]], Awaitable[list[dict[str, Any]]]]
_READERS: dict[str, tuple[Callable[..., Any], _Render]] = {
    "family": (_family_ids, _families),
    "case": (_case_ids, cases_by_id),
    "service_record": (_service_record_ids, _service_records),
    "support_case": (_support_case_ids, support_cases_by_id),
}


async def record_batches(
    session: AsyncSession,
    caller: Caller,
    record_type: str,
    *,
    since: datetime | None,
    territory: str | None,
    batch_size: int,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The records of ``record_type`` the caller reaches (changed at or after ``since``, in
    ``territory``), by id, ``batch_size`` at a time, each rendered as the API renders it for
    the caller. Not audited here: the export's one event lists what it covered."""
    select_ids, key = _READERS[record_type][0](caller, since, territory)
    render = _READERS[record_type][1]
    after: uuid.UUID | None = None
    while True:
        statement = select_ids.limit(batch_size)
        if after is not None:
            statement = statement.where(key > after)
        ids = list((await session.execute(statement)).scalars())
        if not ids:
            return
        yield await render(session, caller, ids)
        if len(ids) < batch_size:
            return
        after = ids[-1]
