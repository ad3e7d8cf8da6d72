"""The exports: one row per request, from ``pending`` to ``expired``. The requester's claims
are kept with it, so the worker reads as the requester would (their reach, their masking)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.territories.tables import territory_code_field


def _required(column_type: Any) -> Any:
    return Field(sa_column=Column(column_type, nullable=False))


def _optional(column_type: Any) -> Any:
    return Field(default=None, sa_column=Column(column_type))


def _moment() -> Any:
    return _optional(DateTime(timezone=True))


class Export(SQLModel, table=True):
    __tablename__ = "exports"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    #: Whose it is: the requester's whole identity (``Principal.identity``); only the same
    #: identity sees it.
    requester: str = _required(Text)
    #: The requester's token claims that decide reach and shape (sub, role, scope,
    #: territory, provider_id, unit_id), to act as them in the worker.
    claims: dict[str, Any] = _required(JSONB)
    request_id: str = _required(Text)
    purpose: str | None = _optional(Text)
    types: list[str] = _required(ARRAY(Text))
    since: datetime | None = _moment()
    territory: str | None = territory_code_field(nullable=True)
    status: str = _required(String(16))
    #: How many times a worker has taken it (its claim: a worker whose lease ran out and was
    #: taken over may no longer write to it).
    attempts: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    #: The running worker's last sign of life.
    heartbeat_at: datetime | None = _moment()
    created_at: datetime = timestamp_field()
    started_at: datetime | None = _moment()
    finished_at: datetime | None = _moment()
    #: The moment the files show (the reading transaction's snapshot).
    as_of: datetime | None = _moment()
    #: The change feed's last sequence number visible at ``as_of``: following the feed from
    #: there misses nothing changed after the export.
    changes_after: int | None = _optional(BigInteger)
    counts: dict[str, int] | None = _optional(JSONB)
    files: list[dict[str, Any]] | None = _optional(JSONB)
    expires_at: datetime | None = _moment()
    expired_at: datetime | None = _moment()
    error: str | None = _optional(Text)


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
export_table = table_of(Export)

_exports = export_table.c
# A requester's own exports, page by page.
Index("ix_exports_requester_id", _exports.requester, _exports.id)
# The worker's queue: exports waiting or running (a running one may have lost its worker).
Index(
    "ix_exports_waiting",
    _exports.created_at,
    postgresql_where=_exports.status.in_(["pending", "running"]),
)
# The worker's sweep: ready exports by when their files expire.
Index("ix_exports_expiring", _exports.expires_at, postgresql_where=_exports.status == "ready")
