"""Reading service records: by id, lists, and every version of one. Every read is confined
to what the caller may see (``access.visible_records``) and audited."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ARRAY, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.db.engine import transaction_connection
from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.db.statements import Compiled, compile_statement
from registry.domain.audit.commands import record
from registry.domain.service_records.access import visible_records
from registry.domain.service_records.rules import CONTENT_FIELDS, VERSIONED_FIELDS
from registry.domain.service_records.tables import (
    service_record_table,
    service_record_version_table,
)
from registry.domain.shared.caller import Caller
from registry.errors import NotFound

SERVICE_RECORD = "service_record"
NOT_FOUND = "No service record with this id is within your reach."

RECORD_COLUMNS = (
    service_record_table.c.id,
    service_record_table.c.provider_id,
    service_record_table.c.external_ref,
    *(service_record_table.c[name] for name in CONTENT_FIELDS),
    service_record_table.c.hromada_code,
    service_record_table.c.status,
    service_record_table.c.void_reason,
    service_record_table.c.voided_at,
    service_record_table.c.changed_by,
    service_record_table.c.change_reason,
    service_record_table.c.created_at,
    service_record_table.c.updated_at,
    service_record_table.c.version,
)


@functools.lru_cache(maxsize=1024)
def _records_read(principal: Principal) -> Compiled:
    """The visible records among an array of ids, compiled once per confinement (the
    caller's reach is bound in it): every write answers with the record it wrote, read
    through here, so its statement is not built anew per request."""
    return compile_statement(
        select(*RECORD_COLUMNS).where(
            service_record_table.c.id == func.any(bindparam("ids", type_=ARRAY(Uuid))),
            visible_records(principal),
        )
    )


async def records_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    """The visible records among ``ids``, in that order (not audited: the caller records);
    read on the driver connection of the session's transaction."""
    if not ids:
        return []
    statement = _records_read(caller.principal.confinement)
    connection = await transaction_connection(session)
    rows = await connection.fetch(statement.sql, *statement.arguments(ids=list(ids)))
    by_id = {row["id"]: dict(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def get_record(session: AsyncSession, caller: Caller, record_id: uuid.UUID) -> dict[str, Any]:
    found = await records_by_id(session, caller, [record_id])
    if not found:
        raise NotFound(NOT_FOUND)
    await record(
        session, caller, "get_service_record", SERVICE_RECORD, [record_id, found[0]["family_id"]]
    )
    return found[0]


@dataclass(frozen=True, slots=True)
class RecordFilter:
    provider_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    service_code: str | None = None
    status: str | None = None
    delivered_from: date | None = None
    delivered_to: date | None = None
    external_ref: str | None = None


async def list_records(
    session: AsyncSession, caller: Caller, page: PageRequest, where: RecordFilter
) -> Page[dict[str, Any]]:
    statement = select(*RECORD_COLUMNS).where(visible_records(caller.principal))
    for name in ("provider_id", "family_id", "service_code", "status", "external_ref"):
        value = getattr(where, name)
        if value is not None:
            statement = statement.where(service_record_table.c[name] == value)
    if where.delivered_from is not None:
        statement = statement.where(service_record_table.c.delivered_on >= where.delivered_from)
    if where.delivered_to is not None:
        statement = statement.where(service_record_table.c.delivered_on <= where.delivered_to)
    rows = (
        (await session.execute(keyset(statement, [service_record_table.c.id], page)))
        .mappings()
        .all()
    )
    result = page_of([dict(row) for row in rows], page, key=lambda row: (row["id"],))
    await record(
        session,
        caller,
        "list_service_records",
        SERVICE_RECORD,
        [*(r["id"] for r in result.items), *{r["family_id"] for r in result.items}],
    )
    return result


async def history(
    session: AsyncSession, caller: Caller, record_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every version of a record, oldest first; the last is the current one."""
    current = await records_by_id(session, caller, [record_id])
    if not current:
        raise NotFound(NOT_FOUND)
    now = current[0]
    earlier = (
        (
            await session.execute(
                select(
                    service_record_version_table.c.version,
                    service_record_version_table.c.record,
                    service_record_version_table.c.changed_by,
                    service_record_version_table.c.change_reason,
                    service_record_version_table.c.valid_from,
                    service_record_version_table.c.valid_to,
                )
                .where(service_record_version_table.c.service_record_id == record_id)
                .order_by(service_record_version_table.c.version)
            )
        )
        .mappings()
        .all()
    )
    versions = [dict(row) for row in earlier]
    versions.append(
        {
            "version": now["version"],
            "record": {name: now[name] for name in VERSIONED_FIELDS},
            "changed_by": now["changed_by"],
            "change_reason": now["change_reason"],
            "valid_from": now["updated_at"],
            "valid_to": None,
        }
    )
    families = {v["record"]["family_id"] for v in versions}
    await record(
        session, caller, "get_service_record_history", SERVICE_RECORD, [record_id, *families]
    )
    return versions
