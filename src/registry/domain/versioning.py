"""Optimistic concurrency for every mutable record: versions, and what each version changed.

A write bumps the record's ``version`` and notes the fields it changed, so a caller whose
``If-Match`` names an older version learns which fields moved under it (the 412 answer).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Column, DateTime, Integer, String, Text, Uuid, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from registry.db.base import table_of
from registry.errors import PreconditionFailed


class RecordChange(SQLModel, table=True):
    __tablename__ = "record_changes"

    resource_type: str = Field(sa_column=Column(String(32), primary_key=True))
    resource_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    changed_fields: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    actor: str = Field(sa_column=Column(Text, nullable=False))
    changed_at: datetime = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
record_change_table = table_of(RecordChange)


async def note_change(
    session: AsyncSession,
    resource_type: str,
    resource_id: uuid.UUID,
    version: int,
    changed_fields: Iterable[str],
    actor: str,
) -> None:
    await session.execute(
        insert(RecordChange).values(
            resource_type=resource_type,
            resource_id=resource_id,
            version=version,
            changed_fields=sorted(set(changed_fields)),
            actor=actor,
        )
    )


async def require_current(
    session: AsyncSession,
    resource_type: str,
    resource_id: uuid.UUID,
    current_version: int,
    expected_version: int,
) -> None:
    """Refuse (412) a write based on ``expected_version`` when the record has moved on,
    naming the fields changed since that version."""
    if expected_version == current_version:
        return
    changed = (
        (
            await session.execute(
                select(func.unnest(record_change_table.c.changed_fields))
                .distinct()
                .where(
                    record_change_table.c.resource_type == resource_type,
                    record_change_table.c.resource_id == resource_id,
                    record_change_table.c.version > expected_version,
                )
            )
        )
        .scalars()
        .all()
    )
    raise PreconditionFailed(
        f"The record is at version {current_version}, not {expected_version}; "
        "read it again and reapply your change.",
        extensions={"current_version": current_version, "changed_fields": sorted(changed)},
        headers={"ETag": etag(current_version)},
    )


def etag(version: int) -> str:
    return f'"{version}"'
