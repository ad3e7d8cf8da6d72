"""Reading the audit log (auditors only). Reading it is itself audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.roles import Permission
from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.audit.tables import AuditEvent
from registry.domain.shared.caller import Caller
from registry.errors import Forbidden

_e = AuditEvent.__table__.c  # type: ignore[attr-defined]
_COLUMNS = (
    _e.id,
    _e.occurred_at,
    _e.actor,
    _e.role,
    _e.action,
    _e.resource_type,
    _e.resource_ids,
    _e.request_id,
    _e.purpose,
    _e.outcome,
    _e.block_id,
)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_events(
    session: AsyncSession, caller: Caller, page: PageRequest, where: AuditFilter
) -> Page[RowMapping]:
    if not caller.principal.can(Permission.AUDIT_READ):
        raise Forbidden("Only auditors read the audit log.")
    statement = select(*_COLUMNS)
    if where.actor is not None:
        statement = statement.where(_e.actor == where.actor)
    if where.resource_id is not None:
        statement = statement.where(_e.resource_ids.contains([where.resource_id]))
    if where.since is not None:
        statement = statement.where(_e.occurred_at >= where.since)
    if where.until is not None:
        statement = statement.where(_e.occurred_at < where.until)
    rows = (await session.execute(keyset(statement, [_e.id], page))).mappings().all()
    result = page_of(rows, page, key=lambda row: (row["id"],))
    await record(session, caller, "list", "audit_event", [row["id"] for row in result.items])
    return result
