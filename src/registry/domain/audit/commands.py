"""Writing the audit log: events, in the caller's own transaction (no audit, no answer), and
the sealing of settled events into signed, hash-chained blocks.

Writers only ever INSERT events, so they never wait on each other or on the chain; the
database numbers and times each one. The sealer (one at a time, by a transaction-scoped
advisory lock) takes the unsealed events up to ``audit_seal_horizon()`` — the highest id
below which no running transaction can still commit an event (migration 0008) — digests them
in id order together with the previous block's digest, signs the block's head with the
application's key, and stamps the events with the block through ``audit_stamp_block``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
import structlog
from sqlalchemy import (
    BigInteger,
    Insert,
    Row,
    Text,
    bindparam,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import RowMapping
from sqlalchemy.event import listen
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from registry.auth.audit_keys import AuditSigner
from registry.db.statements import compile_statement
from registry.domain.audit.rules import (
    SEALED_FIELDS,
    WRITTEN_FIELDS,
    BlockHead,
    EventClock,
    Outcome,
    block_digest,
)
from registry.domain.audit.tables import (
    assigned_from_event_id,
    audit_block_table,
    audit_event_table,
)
from registry.domain.shared.caller import Caller

log = structlog.get_logger("registry.audit")

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


#: ``record`` as a statement compiled once, for writers on the driver connection.
_EVENT_INSERT = compile_statement(
    insert(audit_event_table).values(
        {name: bindparam(name, type_=audit_event_table.c[name].type) for name in WRITTEN_FIELDS}
    )
)


async def record_on(
    connection: asyncpg.Connection,
    caller: Caller,
    action: str,
    resource_type: str,
    resource_ids: Iterable[Any],
    outcome: Outcome = Outcome.SUCCESS,
) -> None:
    """``record`` on the driver connection of the caller's transaction (``db.engine.
    driver_connection``): the same event, without building and compiling a statement per
    request, for the hot writes that run their statements there."""
    values = event_values(caller, action, resource_type, resource_ids, outcome)
    await connection.execute(_EVENT_INSERT.sql, *_EVENT_INSERT.arguments(**values))


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


def audit_arguments(caller: Caller) -> dict[str, Any]:
    """The values of ``audit_insert``'s parameters for ``caller``'s event."""
    principal = caller.principal
    return {
        "actor": principal.sub,
        "role": principal.role.value,
        "request_id": caller.request_id,
        "purpose": caller.purpose,
    }


async def seal(session: AsyncSession, block_size: int, signer: AuditSigner) -> int:
    """Seal up to ``block_size`` settled events into one signed block; how many were sealed.

    ``session`` must be READ COMMITTED (the default): the events are read by a statement
    after the horizon, so every transaction that let go of its fence by then is seen."""
    await session.execute(select(func.pg_advisory_xact_lock(literal(_SEALER_LOCK, BigInteger))))
    horizon = await session.scalar(select(func.audit_seal_horizon()))
    events = (
        (
            await session.execute(
                select(*(audit_event_table.c[name] for name in SEALED_FIELDS))
                .where(audit_event_table.c.block_id.is_(None), audit_event_table.c.id <= horizon)
                .order_by(audit_event_table.c.id)
                .limit(block_size)
            )
        )
        .mappings()
        .all()
    )
    if not events:
        return 0
    previous = (
        await session.execute(
            select(
                audit_block_table.c.digest,
                audit_block_table.c.last_event_id,
                audit_event_table.c.occurred_at,
            )
            .select_from(audit_block_table)
            .outerjoin(
                audit_event_table,
                audit_event_table.c.id == audit_block_table.c.last_event_id,
            )
            .order_by(audit_block_table.c.id.desc())
            .limit(1)
        )
    ).first()
    block_id, sealed_at, assigned_from = (
        await session.execute(
            select(
                func.nextval(func.pg_get_serial_sequence(audit_block_table.name, "id")),
                func.now(),
                assigned_from_event_id(),
            )
        )
    ).one()
    previous_digest = previous.digest if previous else None
    head = BlockHead(
        block_id=block_id,
        first_event_id=events[0]["id"],
        last_event_id=events[-1]["id"],
        event_count=len(events),
        previous_digest=previous_digest,
        digest=block_digest(previous_digest, events),
        sealed_at=sealed_at,
        assigned_from_event_id=assigned_from,
    )
    _flag_out_of_order(head, events, previous, assigned_from)
    signature = signer.sign(head.message())
    await session.execute(
        insert(audit_block_table).values(
            id=head.block_id,
            first_event_id=head.first_event_id,
            last_event_id=head.last_event_id,
            event_count=head.event_count,
            previous_digest=head.previous_digest,
            digest=head.digest,
            sealed_at=head.sealed_at,
            signature=signature,
            key_id=signer.key_id,
        )
    )
    # Through the database's SECURITY DEFINER function: the runtime role may not UPDATE
    # the audit tables at all.
    await session.execute(
        select(
            func.audit_stamp_block(
                literal(head.block_id, BigInteger),
                literal([event["id"] for event in events], ARRAY(BigInteger)),
            )
        )
    )
    _log_once_committed(
        session,
        block_id=head.block_id,
        first_event_id=head.first_event_id,
        last_event_id=head.last_event_id,
        event_count=head.event_count,
        digest=head.digest.hex(),
        key_id=signer.key_id,
        signature=base64.b64encode(signature).decode(),
    )
    return len(events)


def _log_once_committed(session: AsyncSession, **head: Any) -> None:
    """The signed head leaves the database in the log, to wherever logs are kept: a copy
    outside it. Only once the block is committed (the caller commits), so that no logged
    head names a block that never existed."""

    def committed(_: Session) -> None:
        log.info("audit_block_sealed", **head)

    listen(session.sync_session, "after_commit", committed, once=True)


def _flag_out_of_order(
    head: BlockHead,
    events: Sequence[RowMapping],
    previous: Row[Any, Any, Any] | None,
    assigned_from: int,
) -> None:
    """Warn of events that break the order: legitimate writers never do (the fence keeps
    them in order), so these were put in by hand. They are sealed all the same, so that
    the signed chain keeps them as evidence, and ``verify`` names them from now on."""
    clock = EventClock(assigned_from)
    after = previous.last_event_id if previous else None
    if previous is not None and previous.occurred_at is not None:
        clock.lag(previous.last_event_id, previous.occurred_at)
    misplaced = [
        event["id"]
        for event in events
        if (after is not None and event["id"] <= after)
        or clock.lag(event["id"], event["occurred_at"]) is not None
    ]
    if misplaced:
        log.warning("audit_events_out_of_order", block_id=head.block_id, event_ids=misplaced)
