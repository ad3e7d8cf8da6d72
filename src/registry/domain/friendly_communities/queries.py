"""Reading the initiative: a hromada's record with its whole history of steps, and the
records within the caller's reach, page by page. Every read is confined by ``access`` and
audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.friendly_communities.access import require_taking_part, visible_communities
from registry.domain.friendly_communities.rules import Stage, allowed_next, implementation_dates
from registry.domain.friendly_communities.tables import (
    friendly_community_step_table,
    friendly_community_table,
)
from registry.domain.shared.caller import Caller
from registry.domain.territories.tables import territory_table
from registry.errors import NotFound

FRIENDLY_COMMUNITY = "friendly_community"
NOT_FOUND = "No Child and Youth Friendly Community record of this hromada is within your reach."

_STEP_FIELDS = (
    "version",
    "stage",
    "taken_on",
    "document_reference",
    "note",
    "recorded_by",
    "recorded_at",
)


async def communities_by_code(
    session: AsyncSession,
    caller: Caller,
    codes: Sequence[str],
    *,
    steps: bool = True,
    confined: bool = True,
) -> list[dict[str, Any]]:
    """The records of ``codes`` the caller reaches, in that order (not audited); with their
    steps when ``steps``."""
    if not codes:
        return []
    statement = (
        select(friendly_community_table, territory_table.c.name.label("hromada_name"))
        .join(territory_table, territory_table.c.code == friendly_community_table.c.hromada_code)
        .where(friendly_community_table.c.hromada_code.in_(codes))
    )
    if confined:
        statement = statement.where(visible_communities(caller.principal))
    rows = (await session.execute(statement)).mappings().all()
    histories = await _steps(session, [row["hromada_code"] for row in rows]) if steps else {}
    by_code = {
        row["hromada_code"]: _render(row, histories.get(row["hromada_code"]) if steps else None)
        for row in rows
    }
    return [by_code[code] for code in codes if code in by_code]


async def _steps(session: AsyncSession, codes: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    histories: dict[str, list[dict[str, Any]]] = {code: [] for code in codes}
    statement = (
        select(friendly_community_step_table)
        .where(friendly_community_step_table.c.hromada_code.in_(codes))
        .order_by(
            friendly_community_step_table.c.hromada_code, friendly_community_step_table.c.version
        )
    )
    for row in (await session.execute(statement)).mappings():
        histories[row["hromada_code"]].append({name: row[name] for name in _STEP_FIELDS})
    return histories


def _render(row: Any, steps: list[dict[str, Any]] | None) -> dict[str, Any]:
    stage = Stage(row["stage"])
    started, due = implementation_dates(stage, row["stage_on"])
    shown = {
        "hromada_code": row["hromada_code"],
        "hromada_name": row["hromada_name"],
        "oblast_code": row["oblast_code"],
        "raion_code": row["raion_code"],
        "stage": stage.value,
        "stage_on": row["stage_on"],
        "allowed_next_stages": [s.value for s in allowed_next(stage)],
        "implementation_started_on": started,
        "assessment_due_by": due,
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }
    if steps is not None:
        shown["steps"] = steps
    return shown


async def get_community(session: AsyncSession, caller: Caller, hromada_code: str) -> dict[str, Any]:
    require_taking_part(caller.principal)
    found = await communities_by_code(session, caller, [hromada_code])
    if not found:
        raise NotFound(NOT_FOUND)
    await record(session, caller, "get_friendly_community", FRIENDLY_COMMUNITY, [hromada_code])
    return found[0]


async def list_communities(
    session: AsyncSession, caller: Caller, page: PageRequest, stage: Stage | None
) -> Page[dict[str, Any]]:
    require_taking_part(caller.principal)
    statement = select(friendly_community_table.c.hromada_code).where(
        visible_communities(caller.principal)
    )
    if stage is not None:
        statement = statement.where(friendly_community_table.c.stage == stage.value)
    codes = (
        (await session.execute(keyset(statement, [friendly_community_table.c.hromada_code], page)))
        .scalars()
        .all()
    )
    result = page_of(list(codes), page, key=lambda code: (code,))
    found = await communities_by_code(session, caller, result.items, steps=False)
    await record(
        session,
        caller,
        "list_friendly_communities",
        FRIENDLY_COMMUNITY,
        [community["hromada_code"] for community in found],
    )
    return Page(found, result.next_after)
