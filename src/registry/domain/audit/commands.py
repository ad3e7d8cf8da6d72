"""Writing the audit log: events, in the caller's own transaction (no audit, no answer), and
the sealing of settled events into hash-chained blocks.

Writers only ever INSERT events, so they never wait on each other or on the
chain. The sealer (one at a time, by a transaction-scoped advisory lock) takes
the unsealed events that no open transaction can still precede — those written
by transactions older than the oldest one running — digests them in id order
together with the previous block's digest, and stamps them with the new block.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Insert,
    Text,
    bindparam,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from registry.domain.audit.rules import SEALED_FIELDS, WRITTEN_FIELDS, Outcome, block_digest
from registry.domain.audit.tables import audit_block_table, audit_event_table
from registry.domain.shared.caller import Caller

_SEALER_LOCK = 0x52454749_41554454  # "REGIAUDT": one sealer at a time across replicas


def event_values(
    caller: Caller,
    action: str,
    resource_type: str,
    resource_ids: Iterable[Any],
    outcome: Outcome = Outcome.SUCCESS,
) -> dict[str, Any]:
    return {
        "actor": caller.principal.sub,
        "role": caller.principal.role.value,
        "action": action,
        "resource_type": resource_type,
        "resource_ids": [str(resource_id) for resource_id in resource_ids],
        "request_id": caller.request_id,
        "purpose": caller.purpose,
        "outcome": outcome.value,
    }


async def record(
    session: AsyncSession,
    caller: Caller,
    action: str,
    resource_type: str,
    resource_ids: Iterable[Any],
    outcome: Outcome = Outcome.SUCCESS,
) -> None:
    """One event for one action of one request; a list read lists every id it returned."""
    await session.execute(
        insert(audit_event_table).values(
            event_values(caller, action, resource_type, resource_ids, outcome)
        )
    )


def audit_insert(
    action: str,
    resource_type: str,
    resource_ids: ColumnElement[Any],
    *,
    source: FromClause | None = None,
) -> Insert:
    """The audit event of ``action`` as an INSERT … SELECT, for a statement that reads and
    audits in one. The caller's details are bound parameters (``actor``, ``role``,
    ``request_id``, ``purpose``); with ``source``, the event is written only when it has a
    row (the record read exists)."""
    event = select(
        bindparam("actor", type_=Text),
        bindparam("role", type_=Text),
        literal(action),
        literal(resource_type),
        resource_ids,
        bindparam("request_id", type_=Text),
        bindparam("purpose", type_=Text),
        literal(Outcome.SUCCESS.value),
    )
    if source is not None:
        event = event.select_from(source)
    return insert(audit_event_table).from_select(
        list(WRITTEN_FIELDS),
        event,
    )


async def seal(session: AsyncSession, block_size: int) -> int:
    """Seal up to ``block_size`` settled events into one block; how many were sealed."""
    await session.execute(select(func.pg_advisory_xact_lock(literal(_SEALER_LOCK, BigInteger))))
    # An event is settled once its writing transaction (xid, set by the database) is older
    # than every transaction still running.
    events = (
        (
            await session.execute(
                select(*(audit_event_table.c[name] for name in SEALED_FIELDS))
                .where(
                    audit_event_table.c.block_id.is_(None),
                    audit_event_table.c.xid < func.pg_snapshot_xmin(func.pg_current_snapshot()),
                )
                .order_by(audit_event_table.c.id)
                .limit(block_size)
            )
        )
        .mappings()
        .all()
    )
    if not events:
        return 0
    previous = await session.scalar(
        select(audit_block_table.c.digest).order_by(audit_block_table.c.id.desc()).limit(1)
    )
    block_id = await session.scalar(
        insert(audit_block_table)
        .values(
            first_event_id=events[0]["id"],
            last_event_id=events[-1]["id"],
            event_count=len(events),
            previous_digest=previous,
            digest=block_digest(previous, events),
        )
        .returning(audit_block_table.c.id)
    )
    # Through the database's SECURITY DEFINER function: the runtime role may not UPDATE
    # the audit tables at all.
    await session.execute(
        select(
            func.audit_stamp_block(
                literal(block_id, BigInteger),
                literal([event["id"] for event in events], ARRAY(BigInteger)),
            )
        )
    )
    return len(events)
