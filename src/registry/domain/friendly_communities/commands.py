"""Recording a hromada's steps in the initiative: the first (its council's decision) makes
its record, each later one moves it to the next stage through ``VersionedWrite`` (404 outside
reach, 403, 412 on a stale ``If-Match``, then the rules' 409 and 422). The step is kept in the
append-only history under the version it made, and audited in the caller's transaction.
Dates come from ``caller.today``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import String, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.domain.audit.commands import record
from registry.domain.friendly_communities import queries
from registry.domain.friendly_communities.access import (
    require_recorder,
    require_taking_part,
    visible_communities,
    within,
)
from registry.domain.friendly_communities.queries import FRIENDLY_COMMUNITY
from registry.domain.friendly_communities.rules import (
    FIRST_STAGE,
    Stage,
    allowed_next,
    date_refusal,
    may_go,
    refusal,
)
from registry.domain.friendly_communities.tables import (
    friendly_community_step_table,
    friendly_community_table,
)
from registry.domain.shared.caller import Caller
from registry.domain.territories.queries import locate_address
from registry.domain.versioning import Versioned, VersionedWrite, note_change
from registry.errors import Conflict, FieldError, InvalidInput, NotFound, PreconditionFailed

COMMUNITIES = Versioned(
    friendly_community_table,
    FRIENDLY_COMMUNITY,
    key="hromada_code",
    change_namespace=uuid.UUID("3d2a8c61-7f4e-4b0a-a5c9-1e6b2f8d9c47"),
)
_ACTION = "record_friendly_community_step"


def _require_move(stage: Stage | None, to: Stage) -> None:
    if not may_go(stage, to):
        raise Conflict(
            refusal(stage, to),
            extensions={
                "current_stage": None if stage is None else stage.value,
                "allowed": [s.value for s in allowed_next(stage)],
            },
        )


def _require_date(taken_on: date, today: date, previous_on: date | None) -> None:
    words = date_refusal(taken_on, today, previous_on)
    if words is not None:
        raise InvalidInput(f"The step's date {words}.", errors=[FieldError("body.taken_on", words)])


async def _reaches(session: AsyncSession, caller: Caller, address: dict[str, Any]) -> bool:
    """Whether the hromada at ``address`` is within the caller's reach (``access.within``,
    the clause every read is confined by)."""
    codes = [
        literal(address[name], String) for name in ("oblast_code", "raion_code", "hromada_code")
    ]
    return bool(await session.scalar(select(within(caller.principal, *codes))))


async def record_step(
    session: AsyncSession,
    caller: Caller,
    hromada_code: str,
    values: dict[str, Any],
    expected_version: int | None,
) -> dict[str, Any]:
    """Record the hromada's next step: its first (``council_decision``) makes its record."""
    require_taking_part(caller.principal)
    to = Stage(values["stage"])
    address = await locate_address(session, hromada_code, None, field="path.hromada_code")
    write = await VersionedWrite.lock(
        session,
        caller,
        COMMUNITIES,
        hromada_code,
        where=[visible_communities(caller.principal)],
    )
    if write is None:
        if not await _reaches(session, caller, address):
            raise NotFound(queries.NOT_FOUND)
        require_recorder(caller.principal, to)
        if expected_version is not None:
            raise PreconditionFailed(
                "The hromada has no record of the initiative yet; its first step is sent "
                "without If-Match."
            )
        _require_move(None, to)
        _require_date(values["taken_on"], caller.today, None)
        await _create(session, caller, address, values)
    else:
        require_recorder(caller.principal, to)
        await write.check_version(expected_version)
        current = write.current
        _require_move(Stage(current["stage"]), to)
        _require_date(values["taken_on"], caller.today, current["stage_on"])
        version = await write.save(
            {"stage": to.value, "stage_on": values["taken_on"]},
            action=_ACTION,
            changed=["stage", "stage_on", "steps"],
        )
        await _append(session, caller, hromada_code, version, values)
    (community,) = await queries.communities_by_code(session, caller, [hromada_code])
    return community


async def _create(
    session: AsyncSession, caller: Caller, address: dict[str, Any], values: dict[str, Any]
) -> None:
    hromada_code = address["hromada_code"]
    try:
        async with session.begin_nested():
            await session.execute(
                insert(friendly_community_table).values(
                    hromada_code=hromada_code,
                    oblast_code=address["oblast_code"],
                    raion_code=address["raion_code"],
                    stage=values["stage"],
                    stage_on=values["taken_on"],
                    created_by=caller.principal.sub,
                )
            )
    except IntegrityError:
        raise Conflict(
            "The hromada's first step was recorded meanwhile; read its record and take the "
            "next step from there.",
            extensions={
                "current_stage": FIRST_STAGE.value,
                "allowed": [s.value for s in allowed_next(FIRST_STAGE)],
            },
        ) from None
    await note_change(
        session,
        FRIENDLY_COMMUNITY,
        COMMUNITIES.change_key(hromada_code),
        1,
        ["stage", "stage_on", "steps"],
        caller.principal.sub,
    )
    await _append(session, caller, hromada_code, 1, values)
    await record(session, caller, _ACTION, FRIENDLY_COMMUNITY, [hromada_code])


async def _append(
    session: AsyncSession,
    caller: Caller,
    hromada_code: str,
    version: int,
    values: dict[str, Any],
) -> None:
    await session.execute(
        insert(friendly_community_step_table).values(
            hromada_code=hromada_code,
            version=version,
            stage=values["stage"],
            taken_on=values["taken_on"],
            document_reference=values["document_reference"],
            note=values.get("note"),
            recorded_by=caller.principal.sub,
        )
    )
