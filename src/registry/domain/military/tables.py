"""Military tables: the units of the programme and the providers assigned to them,
servicemembers with their status and unit histories, the catalogue of support measures, and
support cases with their history, planned and delivered measures and contacts.

No column holds a unit's location, deployment or strength, nor a servicemember's rank or
position: the registry never stores what would help an enemy.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.military.rules import CONTACTED, OPEN_STATUSES, SupportCaseStatus


def _optional(column_type: Any, *args: Any) -> Any:
    return Field(default=None, sa_column=Column(column_type, *args))


def _required(column_type: Any, *args: Any, **kwargs: Any) -> Any:
    return Field(sa_column=Column(column_type, *args, nullable=False, **kwargs))


def _id() -> Any:
    return Field(sa_column=Column(Uuid, primary_key=True))


def _version() -> Any:
    return Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class MilitaryUnit(SQLModel, table=True):
    """A unit of the programme by its public designation; the oblasts it serves families in."""

    __tablename__ = "military_units"

    id: uuid.UUID = _id()
    number: str = _required(String(5), unique=True)
    name: str = _required(Text)
    oblast_codes: list[str] = _required(ARRAY(String(19)), server_default="{}")
    stage: str = _required(String(32))
    joined_on: date = _required(Date)
    left_on: date | None = _optional(Date)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class MilitaryUnitProvider(SQLModel, table=True):
    """A provider's assignment to a unit: from the day it passed the eligibility gate to the
    day it was taken off (``ended_on``); kept after it ends."""

    __tablename__ = "military_unit_providers"

    id: uuid.UUID = _id()
    unit_id: uuid.UUID = _required(Uuid, ForeignKey("military_units.id"))
    provider_id: uuid.UUID = _required(Uuid, ForeignKey("providers.id"))
    assigned_on: date = _required(Date)
    assigned_by: str = _required(Text)
    ended_on: date | None = _optional(Date)
    ended_by: str | None = _optional(Text)


class Servicemember(SQLModel, table=True):
    """A person of the registry serving in a unit of the programme; the current status and
    unit are those of the latest entries of the histories below."""

    __tablename__ = "servicemembers"

    id: uuid.UUID = _id()
    person_id: uuid.UUID = _required(Uuid, ForeignKey("persons.id"), unique=True)
    family_id: uuid.UUID = _required(Uuid, ForeignKey("families.id"))
    unit_id: uuid.UUID = _required(Uuid, ForeignKey("military_units.id"))
    status: str = _required(String(16))
    status_effective_on: date = _required(Date)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class ServicememberStatusChange(SQLModel, table=True):
    """One entry of a servicemember's status history (append-only): which version of the
    servicemember recorded it, the status, from when, who."""

    __tablename__ = "servicemember_statuses"

    servicemember_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("servicemembers.id"), primary_key=True)
    )
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    status: str = _required(String(16))
    effective_on: date = _required(Date)
    recorded_by: str = _required(Text)
    recorded_at: datetime = timestamp_field()


class ServicememberTransfer(SQLModel, table=True):
    """One entry of a servicemember's unit history (append-only): the unit joined, from which."""

    __tablename__ = "servicemember_units"

    servicemember_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("servicemembers.id"), primary_key=True)
    )
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    unit_id: uuid.UUID = _required(Uuid, ForeignKey("military_units.id"))
    from_unit_id: uuid.UUID | None = _optional(Uuid, ForeignKey("military_units.id"))
    effective_on: date = _required(Date)
    reason: str | None = _optional(Text)
    recorded_by: str = _required(Text)
    recorded_at: datetime = timestamp_field()


class SupportMeasure(SQLModel, table=True):
    """A measure of the catalogue and the servicemember statuses it applies to; retired
    measures stay (cases planned them) but are planned no more."""

    __tablename__ = "support_measures"

    code: str = Field(sa_column=Column(String(64), primary_key=True))
    name_uk: str = _required(Text)
    name_en: str = _required(Text)
    description: str | None = _optional(Text)
    statuses: list[str] = _required(ARRAY(String(16)), server_default="{}")
    active: bool = _required(Boolean, server_default="true")
    retired_on: date | None = _optional(Date)
    sort_order: int = _required(SmallInteger, server_default="100")
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class SupportCase(SQLModel, table=True):
    """A case of support of a servicemember's family, worked by a provider of the unit."""

    __tablename__ = "support_cases"

    id: uuid.UUID = _id()
    servicemember_id: uuid.UUID = _required(Uuid, ForeignKey("servicemembers.id"))
    family_id: uuid.UUID = _required(Uuid, ForeignKey("families.id"))
    unit_id: uuid.UUID = _required(Uuid, ForeignKey("military_units.id"))
    status: str = _required(String(16), server_default=SupportCaseStatus.OPEN.value)
    summary: str | None = _optional(Text)
    opened_on: date = _required(Date)
    provider_id: uuid.UUID | None = _optional(Uuid, ForeignKey("providers.id"))
    worker_sub: str | None = _optional(Text)
    assigned_at: datetime | None = _optional(DateTime(timezone=True))
    assigned_by: str | None = _optional(Text)
    last_contact_on: date | None = _optional(Date)
    contact_due_on: date | None = _optional(Date)
    closure_reason: str | None = _optional(String(32))
    closed_at: datetime | None = _optional(DateTime(timezone=True))
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class SupportCaseEvent(SQLModel, table=True):
    """One step of a support case's history (append-only), by the version of the case it
    made: a transition, an assignment, a transfer, or the servicemember's status recorded."""

    __tablename__ = "support_case_history"

    case_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("support_cases.id"), primary_key=True)
    )
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    kind: str = _required(String(24))
    from_status: str | None = _optional(String(16))
    to_status: str = _required(String(16))
    reason: str | None = _optional(Text)
    servicemember_status: str | None = _optional(String(16))
    details: dict[str, Any] | None = _optional(JSONB)
    actor: str = _required(Text)
    at: datetime = timestamp_field()


class SupportCaseMeasure(SQLModel, table=True):
    """A measure of a support case's plan: planned (what, who is responsible, by when), then
    delivered (when, with what outcome, by whom) or cancelled."""

    __tablename__ = "support_case_measures"

    id: uuid.UUID = _id()
    case_id: uuid.UUID = _required(Uuid, ForeignKey("support_cases.id"))
    measure_code: str = _required(String(64), ForeignKey("support_measures.code"))
    status: str = _required(String(16), server_default="planned")
    origin: str = _required(String(16))
    servicemember_status: str | None = _optional(String(16))
    responsible: str | None = _optional(Text)
    due_on: date = _required(Date)
    delivered_on: date | None = _optional(Date)
    outcome: str | None = _optional(Text)
    notes: str | None = _optional(Text)
    delivered_by: str | None = _optional(Text)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class SupportCaseContact(SQLModel, table=True):
    """A contact with the family (append-only)."""

    __tablename__ = "support_case_contacts"

    id: uuid.UUID = _id()
    case_id: uuid.UUID = _required(Uuid, ForeignKey("support_cases.id"))
    contacted_on: date = _required(Date)
    channel: str = _required(String(16))
    notes: str | None = _optional(Text)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()


class SupportCaseDeadlineBreach(SQLModel, table=True):
    """A deadline of a support case that passed (append-only): found by the worker once the
    day after the due day has come, and announced by the change feed as an event of the
    support case. One per case, deadline and due day: a contact moves the next contact's due
    day, which may pass again later and is then another breach."""

    __tablename__ = "support_case_deadline_breaches"

    case_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("support_cases.id"), primary_key=True)
    )
    #: A ``rules.Deadline``.
    deadline: str = Field(sa_column=Column(String(24), primary_key=True))
    due_on: date = Field(sa_column=Column(Date, primary_key=True))
    detected_at: datetime = timestamp_field()


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
military_unit_table = table_of(MilitaryUnit)
unit_provider_table = table_of(MilitaryUnitProvider)
servicemember_table = table_of(Servicemember)
servicemember_status_table = table_of(ServicememberStatusChange)
servicemember_unit_table = table_of(ServicememberTransfer)
support_measure_table = table_of(SupportMeasure)
support_case_table = table_of(SupportCase)
support_case_event_table = table_of(SupportCaseEvent)
support_case_measure_table = table_of(SupportCaseMeasure)
support_case_contact_table = table_of(SupportCaseContact)
support_case_deadline_breach_table = table_of(SupportCaseDeadlineBreach)

# Indexes (made by the migrations; declared here so `alembic check` compares them).
#: One standing assignment of a provider to a unit.
Index(
    "uq_military_unit_providers_standing",
    unit_provider_table.c.unit_id,
    unit_provider_table.c.provider_id,
    unique=True,
    postgresql_where=unit_provider_table.c.ended_on.is_(None),
)
Index("ix_military_unit_providers_provider_id", unit_provider_table.c.provider_id)
Index("ix_servicemembers_unit_id_id", servicemember_table.c.unit_id, servicemember_table.c.id)
Index("ix_servicemembers_family_id", servicemember_table.c.family_id)
Index("ix_support_cases_unit_id_id", support_case_table.c.unit_id, support_case_table.c.id)
Index("ix_support_cases_provider_id_id", support_case_table.c.provider_id, support_case_table.c.id)
Index("ix_support_cases_family_id", support_case_table.c.family_id)
Index("ix_support_cases_servicemember_id", support_case_table.c.servicemember_id)
#: One open support case per servicemember.
Index(
    "uq_support_cases_open_servicemember",
    support_case_table.c.servicemember_id,
    unique=True,
    postgresql_where=support_case_table.c.status.in_(sorted(OPEN_STATUSES)),
)
# The contact filter's and the worker's scan: the cases whose contact may be overdue.
Index(
    "ix_support_cases_contacted_contact_due_on",
    support_case_table.c.contact_due_on,
    postgresql_where=support_case_table.c.status.in_(sorted(CONTACTED)),
)
Index("ix_support_case_measures_case_id", support_case_measure_table.c.case_id)
Index(
    "ix_support_case_contacts_case_id_contacted_on",
    support_case_contact_table.c.case_id,
    support_case_contact_table.c.contacted_on,
)
