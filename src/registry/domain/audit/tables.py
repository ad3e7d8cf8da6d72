"""Audit tables. The database refuses UPDATE and DELETE on them (see the migration); the only
change it allows is the sealer stamping an unsealed event with its block."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer, LargeBinary, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from registry.db.base import table_of


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
    # xid8 (the writing transaction) is set by the database; the sealer reads it to know which
    # events can no longer be joined by an older, still-open transaction.
    block_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("audit_blocks.id"))
    )


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
audit_block_table = table_of(AuditBlock)
audit_event_table = table_of(AuditEvent)
