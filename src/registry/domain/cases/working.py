"""Changing a case as one versioned record: the locked read every change starts from (reach,
who may work it, the version, closed or not), the version bump and the transition history."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.domain.cases import queries
from registry.domain.cases.access import require_manager_of, require_worker_of
from registry.domain.cases.lifecycle import CaseStatus
from registry.domain.cases.tables import Case, CaseTransition
from registry.domain.shared.caller import Caller
from registry.domain.versioning import note_change, require_current
from registry.errors import Conflict, NotFound

CASE = queries.CASE
_c = Case.__table__.c  # type: ignore[attr-defined]


async def case_for_change(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    expected_version: int | None,
    today: date,
    *,
    manager: bool = False,
    open_only: bool = True,
) -> dict[str, Any]:
    """The case's row, locked: visible (else 404), the caller's to work (else 403), at
    ``expected_version`` (else 412) and not closed (else 409)."""
    rows = await queries.case_rows(session, caller, [case_id], today, lock=True)
    if not rows:
        raise NotFound(queries.NOT_FOUND)
    current = rows[0]
    if manager:
        require_manager_of(caller.principal)
    else:
        require_worker_of(caller.principal, current)
    if expected_version is not None:
        await require_current(session, CASE, case_id, current["version"], expected_version)
    if open_only and current["status"] == CaseStatus.CLOSED:
        raise Conflict("The case is closed; a closed case is read-only.")
    return current


async def bump(
    session: AsyncSession,
    caller: Caller,
    current: dict[str, Any],
    changes: dict[str, Any],
    changed: Iterable[str],
) -> int:
    version = int(current["version"]) + 1
    await session.execute(
        update(Case)
        .where(_c.id == current["id"])
        .values(**changes, version=version, updated_at=func.now())
    )
    await note_change(session, CASE, current["id"], version, changed, caller.principal.sub)
    return version


async def note_transition(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    version: int,
    from_status: CaseStatus | None,
    to: CaseStatus,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(CaseTransition).values(
            case_id=case_id,
            version=version,
            from_status=from_status,
            to_status=to,
            reason=reason,
            details=details,
            actor=caller.principal.sub,
        )
    )
