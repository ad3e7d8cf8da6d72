"""Tables of service records: what providers delivered, and every earlier version of it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field


class ServiceRecord(SQLModel, table=True):
    """A service a provider delivered to a family (or one of its members). Its references
    carry no foreign keys (migration 0006): the submission proves each one in its own
    transaction and nothing deletes the rows they point at, and the keys' triggers were the
    largest cost of a batch."""

    __tablename__ = "service_records"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    provider_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    external_ref: str | None = Field(default=None, sa_column=Column(String(100)))
    family_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    person_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    oblast_code: str = Field(sa_column=Column(String(19), nullable=False))
    raion_code: str | None = Field(default=None, sa_column=Column(String(19)))
    hromada_code: str = Field(sa_column=Column(String(19), nullable=False))
    service_code: str = Field(sa_column=Column(String(16), nullable=False))
    delivered_on: date = Field(sa_column=Column(Date, nullable=False))
    units: int = Field(sa_column=Column(Integer, nullable=False))
    duration_minutes: int | None = Field(default=None, sa_column=Column(Integer))
    place: str = Field(sa_column=Column(String(24), nullable=False))
    outcome: str = Field(sa_column=Column(String(24), nullable=False))
    notes: str | None = Field(default=None, sa_column=Column(Text))
    case_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    status: str = Field(sa_column=Column(String(8), nullable=False, server_default="active"))
    void_reason: str | None = Field(default=None, sa_column=Column(Text))
    voided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    changed_by: str = Field(sa_column=Column(Text, nullable=False))
    change_reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class ServiceRecordVersion(SQLModel, table=True):
    """An earlier version of a service record, kept when a later one superseded it."""

    __tablename__ = "service_record_versions"

    service_record_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("service_records.id"), primary_key=True)
    )
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    record: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    changed_by: str = Field(sa_column=Column(Text, nullable=False))
    change_reason: str | None = Field(default=None, sa_column=Column(Text))
    valid_from: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    valid_to: datetime = timestamp_field()


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
service_record_table = table_of(ServiceRecord)
service_record_version_table = table_of(ServiceRecordVersion)

# Indexes (made by the migrations; declared here so `alembic check` compares them).
Index(
    "uq_service_records_provider_id_external_ref",
    service_record_table.c.provider_id,
    service_record_table.c.external_ref,
    unique=True,
)
Index(
    "ix_service_records_provider_id_id",
    service_record_table.c.provider_id,
    service_record_table.c.id,
)
Index("ix_service_records_family_id", service_record_table.c.family_id)
Index(
    "ix_service_records_hromada_code_id",
    service_record_table.c.hromada_code,
    service_record_table.c.id,
)
Index(
    "ix_service_records_oblast_code_id",
    service_record_table.c.oblast_code,
    service_record_table.c.id,
)
Index(
    "ix_service_records_raion_code_id",
    service_record_table.c.raion_code,
    service_record_table.c.id,
)
