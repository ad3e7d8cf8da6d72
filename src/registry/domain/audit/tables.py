"""Audit tables. The database refuses UPDATE and DELETE on them (see the migration); the only
change it allows is the sealer stamping an unsealed event with its block."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import UserDefinedType
from sqlmodel import Field, SQLModel

from registry.db.base import table_of


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (SQLAlchemy has no such type)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


class AuditBlock(SQLModel, table=True):
    __tablename__ = "audit_blocks"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    first_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    event_count: int = Field(sa_column=Column(Integer, nullable=False))
    previous_digest: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    digest: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sealed_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    occurred_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    actor: str = Field(sa_column=Column(Text, nullable=False))
    role: str = Field(sa_column=Column(Text, nullable=False))
    action: str = Field(sa_column=Column(Text, nullable=False))
    resource_type: str = Field(sa_column=Column(Text, nullable=False))
    resource_ids: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(Text))
    purpose: str | None = Field(default=None, sa_column=Column(Text))
    outcome: str = Field(sa_column=Column(Text, nullable=False))
    #: The writing transaction, set by the database; the sealer reads it to know which events
    #: can no longer be joined by an older, still-open transaction.
    xid: int | None = Field(
        default=None,
        sa_column=Column(Xid8(), nullable=False, server_default=func.pg_current_xact_id()),
    )
    block_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("audit_blocks.id"))
    )


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
audit_block_table = table_of(AuditBlock)
audit_event_table = table_of(AuditEvent)

# Indexes (made by the migrations; declared here so `alembic check` compares them).
Index("ix_audit_events_actor_id", audit_event_table.c.actor, audit_event_table.c.id)
Index("ix_audit_events_occurred_at", audit_event_table.c.occurred_at)
Index("ix_audit_events_resource_ids", audit_event_table.c.resource_ids, postgresql_using="gin")
Index(
    "ix_audit_events_unsealed",
    audit_event_table.c.id,
    postgresql_where=audit_event_table.c.block_id.is_(None),
)
Index("ix_audit_events_block_id", audit_event_table.c.block_id)
