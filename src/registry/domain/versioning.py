"""Optimistic concurrency for every mutable record: versions, and what each version changed.

Every change of a versioned record goes through ``VersionedWrite``, in this order:

1. ``VersionedWrite.lock``: the record's row, read ``FOR UPDATE`` within the caller's reach
   (``None`` when outside it: the context answers 404);
2. the context's own refusals that come first (403: not the caller's to change);
3. ``check_version``: a write based on an older version than the current one is a 412
   naming the fields changed since (``record_changes``);
4. the context's rules (409: an archived or closed record; 422: invalid values);
5. ``save``: one UPDATE of the changed columns with ``version + 1`` and ``updated_at``, the
   changed fields noted for the next stale writer, and the audit event of the action.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from registry.db.base import table_of
from registry.domain.audit.commands import record
from registry.domain.shared.caller import Caller
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
    )


@dataclass(frozen=True, slots=True)
class Versioned:
    """A table of versioned records (``version``, ``updated_at``) and the resource type its
    changes are noted and audited under. ``key`` is the column naming one record; a table
    keyed by a code names its records in ``record_changes`` by a uuid5 of the code in
    ``change_namespace``."""

    table: Table
    resource_type: str
    key: str = "id"
    change_namespace: uuid.UUID | None = None

    def change_key(self, key: Any) -> uuid.UUID:
        """The id ``record_changes`` knows the record by."""
        if self.change_namespace is None:
            return uuid.UUID(str(key))
        return uuid.uuid5(self.change_namespace, str(key))


@dataclass(slots=True)
class VersionedWrite:
    """One change of one versioned record, from its locked read to its saved version."""

    session: AsyncSession
    caller: Caller
    target: Versioned
    current: dict[str, Any]

    @classmethod
    async def lock(
        cls,
        session: AsyncSession,
        caller: Caller,
        target: Versioned,
        key: Any,
        *,
        columns: Sequence[Any] = (),
        where: Sequence[ColumnElement[bool]] = (),
    ) -> VersionedWrite | None:
        """The record's row (``columns``, default all), locked, if it meets ``where`` (the
        caller's reach); ``None`` otherwise."""
        statement = (
            select(*(columns or [target.table]))
            .where(target.table.c[target.key] == key, *where)
            .with_for_update(of=target.table)
        )
        row = (await session.execute(statement)).mappings().first()
        return None if row is None else cls(session, caller, target, dict(row))

    @property
    def key(self) -> Any:
        return self.current[self.target.key]

    @property
    def version(self) -> int:
        return int(self.current["version"])

    async def check_version(self, expected_version: int | None) -> None:
        """412 when ``expected_version`` (the caller's ``If-Match``; ``None``: not sent) is
        not the current one."""
        if expected_version is not None:
            await require_current(
                self.session,
                self.target.resource_type,
                self.target.change_key(self.key),
                self.version,
                expected_version,
            )

    async def save(
        self,
        values: Mapping[str, Any],
        *,
        action: str | None,
        changed: Iterable[str] | None = None,
        audit_ids: Iterable[Any] | None = None,
    ) -> int:
        """Write ``values`` as the next version, noting ``changed`` (default: ``values``'
        names), and audit ``action`` on ``audit_ids`` (default: the record). With neither
        values nor changed fields nothing is written and the version stays; with changed
        fields alone (a part kept in its own table changed, e.g. a case's plan) the record
        still gets its next version. ``action=None`` leaves the audit event to the caller, for
        a command that writes several records under one event."""
        version = self.version
        noted = list(values if changed is None else changed)
        if values or noted:
            version += 1
            await self.session.execute(
                update(self.target.table)
                .where(self.target.table.c[self.target.key] == self.key)
                .values(**values, version=version, updated_at=func.now())
            )
            await note_change(
                self.session,
                self.target.resource_type,
                self.target.change_key(self.key),
                version,
                noted,
                self.caller.principal.sub,
            )
            self.current = {**self.current, **values, "version": version}
        if action is not None:
            ids = [self.key] if audit_ids is None else audit_ids
            await record(self.session, self.caller, action, self.target.resource_type, ids)
        return version
