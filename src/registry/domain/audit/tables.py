"""Audit tables. The database refuses UPDATE and DELETE on them (see the migrations); the only
change it allows is the sealer stamping an unsealed event with its block. An event's id and
time are the database's: a trigger assigns them and refuses an INSERT that gives its own."""

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
    cast,
    column,
    func,
    literal,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCLASS
from sqlalchemy.sql.selectable import ScalarSelect
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
    #: The Ed25519 signature of the block's head (``rules.head_message``) by the application's
    #: key, and that key's id; none on blocks sealed before heads were signed.
    signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    key_id: str | None = Field(default=None, sa_column=Column(Text))


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    #: Both set by the database (the trigger ``audit_event_assign``): the next number of the
    #: sequence ``audit_event_ids`` and ``clock_timestamp()`` just after it.
    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    occurred_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    actor: str = Field(sa_column=Column(Text, nullable=False))
    role: str = Field(sa_column=Column(Text, nullable=False))
    action: str = Field(sa_column=Column(Text, nullable=False))
    resource_type: str = Field(sa_column=Column(Text, nullable=False))
    resource_ids: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(Text))
    purpose: str | None = Field(default=None, sa_column=Column(Text))
    outcome: str = Field(sa_column=Column(Text, nullable=False))
    #: The writing transaction, set by the database (kept for forensics: the sealer now goes
    #: by the fence of ``audit_seal_horizon()``, see migration 0008).
    xid: int | None = Field(
        default=None,
        sa_column=Column(Xid8(), nullable=False, server_default=func.pg_current_xact_id()),
    )
    block_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("audit_blocks.id"))
    )


#: The catalog's row of each sequence; read for where the database's numbering of events began.
_pg_sequence = table("pg_sequence", column("seqrelid"), column("seqstart", BigInteger))
#: The sequence the trigger ``audit_event_assign`` numbers events from (migration 0008).
AUDIT_EVENT_IDS = "audit_event_ids"


def assigned_from_event_id() -> ScalarSelect[int]:
    """The first event whose id and time the database assigned (the sequence's start)."""
    return (
        select(_pg_sequence.c.seqstart)
        .where(_pg_sequence.c.seqrelid == cast(literal(AUDIT_EVENT_IDS), REGCLASS))
        .scalar_subquery()
    )


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
audit_block_table = table_of(AuditBlock)
audit_event_table = table_of(AuditEvent)

# Indexes (made by the migrations; declared here so `alembic check` compares them). Each is
# written on every read of personal data, so each serves a query (migration 0022): the auditor's
# filters by actor, by a record's id and by time, each in id order; the sealer's next block.
# None holds ``block_id``: a block's events are read by their id range (the primary key).
Index("ix_audit_events_actor_id", audit_event_table.c.actor, audit_event_table.c.id)
#: Times follow ids (the database assigns both), so the table's order: a BRIN index suffices.
Index(
    "ix_audit_events_occurred_at",
    audit_event_table.c.occurred_at,
    postgresql_using="brin",
    postgresql_with={"autosummarize": "on"},
)
Index("ix_audit_events_resource_ids", audit_event_table.c.resource_ids, postgresql_using="gin")
Index(
    "ix_audit_events_unsealed",
    audit_event_table.c.id,
    postgresql_where=audit_event_table.c.block_id.is_(None),
)
