"""Writing audit events, in the caller's own transaction: no audit, no answer."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import Insert, Text, bindparam, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from registry.domain.audit.tables import AuditEvent
from registry.domain.shared.caller import Caller


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"


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
        insert(AuditEvent).values(
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
    return insert(AuditEvent).from_select(
        [
            "actor",
            "role",
            "action",
            "resource_type",
            "resource_ids",
            "request_id",
            "purpose",
            "outcome",
        ],
        event,
    )
