"""Reading the audit log (auditors only; reading it is itself audited), and verifying its
chain: ``verify`` recomputes every block and names each one that no longer matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.access import require_auditor
from registry.domain.audit.commands import record
from registry.domain.audit.rules import SEALED_FIELDS, block_digest
from registry.domain.audit.tables import audit_block_table, audit_event_table
from registry.domain.shared.caller import Caller

_COLUMNS = (
    audit_event_table.c.id,
    audit_event_table.c.occurred_at,
    audit_event_table.c.actor,
    audit_event_table.c.role,
    audit_event_table.c.action,
    audit_event_table.c.resource_type,
    audit_event_table.c.resource_ids,
    audit_event_table.c.request_id,
    audit_event_table.c.purpose,
    audit_event_table.c.outcome,
    audit_event_table.c.block_id,
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
    require_auditor(caller.principal)
    statement = select(*_COLUMNS)
    if where.actor is not None:
        statement = statement.where(audit_event_table.c.actor == where.actor)
    if where.resource_id is not None:
        statement = statement.where(audit_event_table.c.resource_ids.contains([where.resource_id]))
    if where.since is not None:
        statement = statement.where(audit_event_table.c.occurred_at >= where.since)
    if where.until is not None:
        statement = statement.where(audit_event_table.c.occurred_at < where.until)
    rows = (
        (await session.execute(keyset(statement, [audit_event_table.c.id], page))).mappings().all()
    )
    result = page_of(rows, page, key=lambda row: (row["id"],))
    await record(session, caller, "list", "audit_event", [row["id"] for row in result.items])
    return result


@dataclass
class VerificationReport:
    blocks: int = 0
    events: int = 0
    head_digest: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "blocks": self.blocks,
            "events": self.events,
            "head_digest": self.head_digest,
            "problems": self.problems,
        }


async def verify(session: AsyncSession) -> VerificationReport:
    """Recompute the chain from the first block; every mismatch is a problem."""
    report = VerificationReport()
    blocks = await session.execute(
        select(
            audit_block_table.c.id,
            audit_block_table.c.first_event_id,
            audit_block_table.c.last_event_id,
            audit_block_table.c.event_count,
            audit_block_table.c.previous_digest,
            audit_block_table.c.digest,
        ).order_by(audit_block_table.c.id)
    )
    previous: bytes | None = None
    for block in blocks.mappings().all():
        report.blocks += 1
        if block["previous_digest"] != previous:
            report.problems.append(f"block {block['id']}: chain broken (previous digest differs)")
        events = (
            (
                await session.execute(
                    select(*(audit_event_table.c[name] for name in SEALED_FIELDS))
                    .where(audit_event_table.c.block_id == block["id"])
                    .order_by(audit_event_table.c.id)
                )
            )
            .mappings()
            .all()
        )
        report.events += len(events)
        ids = [event["id"] for event in events]
        if (len(ids), ids[:1], ids[-1:]) != (
            block["event_count"],
            [block["first_event_id"]],
            [block["last_event_id"]],
        ):
            report.problems.append(
                f"block {block['id']}: events added or removed "
                f"({len(ids)} found, {block['event_count']} sealed)"
            )
        if block_digest(block["previous_digest"], events) != block["digest"]:
            report.problems.append(f"block {block['id']}: digest differs (events edited)")
        previous = block["digest"]
    report.head_digest = previous.hex() if previous else None
    return report
