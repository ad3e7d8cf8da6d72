"""Deadlines that passed, recorded once each: what the worker does for the family cases'
deadlines and the support cases' alike. A context names its deadlines (the column of the
due day and the clause saying it has passed as of a day: the same clause its list filter
uses) and its table of breaches (``case_id``, ``deadline``, ``due_on``, primary key on the
three); the change feed's trigger on that table announces each breach as an event of its
case."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Table, exists, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

#: A deadline's due-day column and its "passed as of this day" clause.
Deadlines = Mapping[StrEnum, tuple[Any, Callable[[date], ColumnElement[bool]]]]


async def record_breaches(
    session: AsyncSession,
    breaches: Table,
    cases: Table,
    deadlines: Deadlines,
    today: date,
    limit: int,
) -> int:
    """Record each deadline of ``cases`` that has passed by ``today`` and is not recorded in
    ``breaches`` yet, oldest due first, at most ``limit`` of each deadline: how many were
    recorded.

    One set-based INSERT per deadline. A breach already recorded (by an earlier pass, or by
    another worker at the same moment: the primary key makes the second wait for the first's
    commit, then skips it) is not recorded again, so each is announced once."""
    recorded = 0
    for deadline, (due_on, passed) in deadlines.items():
        unrecorded = ~exists().where(
            breaches.c.case_id == cases.c.id,
            breaches.c.deadline == deadline.value,
            breaches.c.due_on == due_on,
        )
        passed_cases = (
            select(cases.c.id, literal(deadline.value), due_on)
            .where(passed(today), unrecorded)
            .order_by(due_on)
            .limit(limit)
        )
        inserted = await session.execute(
            pg_insert(breaches)
            .from_select(["case_id", "deadline", "due_on"], passed_cases)
            .on_conflict_do_nothing()
            .returning(breaches.c.case_id)
        )
        recorded += len(inserted.all())
    return recorded
