"""Case tables: the case, its transitions, needs assessment, plan and measures, referrals to
providers, visits and progress reviews."""

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
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.cases.rules import OPEN_REFERRAL_STATUSES


def _optional(column_type: Any) -> Any:
    return Field(default=None, sa_column=Column(column_type))


def _required(column_type: Any, *args: Any, **kwargs: Any) -> Any:
    return Field(sa_column=Column(column_type, *args, nullable=False, **kwargs))


def _case_id(primary_key: bool = False) -> Any:
    if primary_key:
        return Field(sa_column=Column(Uuid, ForeignKey("cases.id"), primary_key=True))
    return _required(Uuid, ForeignKey("cases.id"))


def _version() -> Any:
    return Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class Case(SQLModel, table=True):
    __tablename__ = "cases"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    family_id: uuid.UUID = _required(Uuid, ForeignKey("families.id"))
    oblast_code: str = _required(String(19))
    raion_code: str | None = _optional(String(19))
    hromada_code: str = _required(String(19))
    status: str = _required(String(16), server_default="referred")
    suspended_from: str | None = _optional(String(16))
    source: str = _required(String(16))
    reporter_kind: str | None = _optional(String(24))
    reporter_name: str | None = _optional(Text)
    reporter_contact: str | None = _optional(Text)
    summary: str | None = _optional(Text)
    received_on: date = _required(Date)
    worker_sub: str | None = _optional(Text)
    assigned_at: datetime | None = _optional(DateTime(timezone=True))
    assigned_by: str | None = _optional(Text)
    assessment_due_on: date = _required(Date)
    decision: str | None = _optional(String(8))
    decision_reason: str | None = _optional(Text)
    decided_on: date | None = _optional(Date)
    decided_by: str | None = _optional(Text)
    accompaniment_until: date | None = _optional(Date)
    extension_reason: str | None = _optional(Text)
    extended_by: str | None = _optional(Text)
    visit_due_on: date | None = _optional(Date)
    closure_reason: str | None = _optional(String(24))
    closure_outcome: str | None = _optional(Text)
    closed_at: datetime | None = _optional(DateTime(timezone=True))
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class CaseTransition(SQLModel, table=True):
    """One change of a case's status: which version of the case it made, who, when, why."""

    __tablename__ = "case_transitions"

    case_id: uuid.UUID = _case_id(primary_key=True)
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    from_status: str | None = _optional(String(16))
    to_status: str = _required(String(16))
    reason: str | None = _optional(Text)
    details: dict[str, Any] | None = _optional(JSONB)
    actor: str = _required(Text)
    at: datetime = timestamp_field()


class CaseAssessment(SQLModel, table=True):
    __tablename__ = "case_assessments"

    case_id: uuid.UUID = _case_id(primary_key=True)
    child_development_level: str | None = _optional(String(8))
    child_development_notes: str | None = _optional(Text)
    parenting_capacity_level: str | None = _optional(String(8))
    parenting_capacity_notes: str | None = _optional(Text)
    family_environment_level: str | None = _optional(String(8))
    family_environment_notes: str | None = _optional(Text)
    conclusions: str | None = _optional(Text)
    completed_at: datetime | None = _optional(DateTime(timezone=True))
    completed_by: str | None = _optional(Text)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class CasePlan(SQLModel, table=True):
    __tablename__ = "case_plans"

    case_id: uuid.UUID = _case_id(primary_key=True)
    goals: list[str] = _required(ARRAY(Text), server_default="{}")
    agreed_by: str | None = _optional(Text)
    agreed_at: datetime | None = _optional(DateTime(timezone=True))
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class CaseMeasure(SQLModel, table=True):
    __tablename__ = "case_measures"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    case_id: uuid.UUID = _case_id()
    description: str = _required(Text)
    service_code: str | None = Field(
        default=None, sa_column=Column(String(16), ForeignKey("services.code"))
    )
    provider_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("providers.id"))
    )
    responsible: str = _required(Text)
    due_on: date = _required(Date)
    status: str = _required(String(16), server_default="planned")
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class Referral(SQLModel, table=True):
    __tablename__ = "referrals"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    case_id: uuid.UUID = _case_id()
    measure_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("case_measures.id"))
    )
    provider_id: uuid.UUID = _required(Uuid, ForeignKey("providers.id"))
    service_code: str | None = Field(
        default=None, sa_column=Column(String(16), ForeignKey("services.code"))
    )
    note: str | None = _optional(Text)
    status: str = _required(String(16), server_default="pending")
    decline_reason: str | None = _optional(Text)
    decided_at: datetime | None = _optional(DateTime(timezone=True))
    decided_by: str | None = _optional(Text)
    closed_at: datetime | None = _optional(DateTime(timezone=True))
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class CaseVisit(SQLModel, table=True):
    __tablename__ = "case_visits"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    case_id: uuid.UUID = _case_id()
    visited_on: date = _required(Date)
    kind: str = _required(String(8))
    participants: list[str] = _required(ARRAY(Text), server_default="{}")
    notes: str | None = _optional(Text)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()


class CaseReview(SQLModel, table=True):
    __tablename__ = "case_reviews"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    case_id: uuid.UUID = _case_id()
    reviewed_on: date = _required(Date)
    outcome: str = _required(String(24))
    notes: str | None = _optional(Text)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()


class CaseDeadlineBreach(SQLModel, table=True):
    """A deadline of a case that passed (append-only): found by the worker once the day after
    the due day has come, and announced by the change feed as an event of the case. One per
    case, deadline and due day: a visit moves the next visit's due day, which may pass again
    later and is then another breach."""

    __tablename__ = "case_deadline_breaches"

    case_id: uuid.UUID = _case_id(primary_key=True)
    #: A ``rules.Deadline``.
    deadline: str = Field(sa_column=Column(String(24), primary_key=True))
    due_on: date = Field(sa_column=Column(Date, primary_key=True))
    detected_at: datetime = timestamp_field()


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
case_table = table_of(Case)
case_transition_table = table_of(CaseTransition)
case_assessment_table = table_of(CaseAssessment)
case_plan_table = table_of(CasePlan)
case_measure_table = table_of(CaseMeasure)
referral_table = table_of(Referral)
case_visit_table = table_of(CaseVisit)
case_review_table = table_of(CaseReview)
case_deadline_breach_table = table_of(CaseDeadlineBreach)

# Indexes (made by the migrations; declared here so `alembic check` compares them).
Index("ix_cases_hromada_code_id", case_table.c.hromada_code, case_table.c.id)
Index("ix_cases_oblast_code_id", case_table.c.oblast_code, case_table.c.id)
Index("ix_cases_family_id", case_table.c.family_id)
Index("ix_cases_worker_sub", case_table.c.worker_sub)
Index(
    "ix_cases_open_visit_due_on",
    case_table.c.visit_due_on,
    postgresql_where=case_table.c.status.in_(["active", "review"]),
)
# The deadline filters' and the worker's scans: the cases whose assessment or accompaniment
# may be overdue.
Index(
    "ix_cases_open_assessment_due_on",
    case_table.c.assessment_due_on,
    postgresql_where=case_table.c.status.in_(["referred", "assessment"]),
)
Index(
    "ix_cases_open_accompaniment_until",
    case_table.c.accompaniment_until,
    postgresql_where=case_table.c.status != "closed",
)
Index("ix_case_measures_case_id", case_measure_table.c.case_id)
Index("ix_referrals_case_id", referral_table.c.case_id)
Index("ix_referrals_provider_id_id", referral_table.c.provider_id, referral_table.c.id)
Index(
    "ix_case_visits_case_id_visited_on", case_visit_table.c.case_id, case_visit_table.c.visited_on
)
Index("ix_case_reviews_case_id", case_review_table.c.case_id)

#: One open referral per need: a case refers a provider for a service once while that
#: referral is pending or accepted (no service named counts as one need of its own).
OPEN_REFERRAL_INDEX = "uq_referrals_open_provider_service"
Index(
    OPEN_REFERRAL_INDEX,
    referral_table.c.case_id,
    referral_table.c.provider_id,
    func.coalesce(referral_table.c.service_code, ""),
    unique=True,
    postgresql_where=referral_table.c.status.in_(OPEN_REFERRAL_STATUSES),
)
