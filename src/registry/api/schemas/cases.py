"""The shapes of cases and referrals: a case as its workers see it and as a referred
provider's staff see it, the steps of its lifecycle, its referrals, the caseload."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, field_validator, model_validator

from registry.api.schemas.base import (
    InputSchema,
    IsoDate,
    KatottgCode,
    NotNull,
    ReasonText,
    Rfc3339DateTime,
    Schema,
    ServiceCode,
    refuse_null,
    text_field,
)
from registry.api.schemas.words import worded
from registry.domain.cases.rules import CaseStatus, ClosureReason

#: Long text people write in paragraphs (summaries, notes, outcomes): line breaks allowed.
Text = Annotated[str, text_field(4000, multiline=True)]
ShortText = Annotated[str, text_field(300)]
#: A token's subject (``sub``): printable ASCII.
SUBJECT_PATTERN = worded(
    r"^[\x21-\x7e]+$", "must be a user id: printable ASCII characters without spaces"
)
Subject = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=SUBJECT_PATTERN,
        description="The social worker's user id (their token's `sub`).",
    ),
]
Level = Literal["none", "low", "medium", "high"]


class ReporterIn(InputSchema):
    kind: Literal[
        "family_member",
        "neighbour",
        "school",
        "healthcare",
        "police",
        "social_services",
        "ngo",
        "anonymous",
        "other",
    ]
    name: ShortText | None = None
    contact: ShortText | None = None


class CaseCreate(InputSchema):
    family_id: uuid.UUID
    source: Literal["application", "report"] = Field(
        description="The family's own application, or a report about the family."
    )
    reporter: ReporterIn | None = Field(default=None, description="Who reported (for a report).")
    summary: Text | None = None
    received_on: IsoDate | None = Field(
        default=None,
        description="When the application or "
        "report was received (not in the future; default today).",
    )


class Reporter(Schema):
    kind: str | None
    name: str | None
    contact: str | None


class DomainAssessment(Schema):
    level: Level | None
    notes: str | None


class Assessment(Schema):
    child_development: DomainAssessment | None = Field(description="The child's development needs.")
    parenting_capacity: DomainAssessment | None
    family_environment: DomainAssessment | None = Field(
        description="Family and environment factors."
    )
    conclusions: str | None
    completed_at: datetime | None
    completed_by: str | None


class Decision(Schema):
    decision: Literal["provide", "refuse"]
    reason: str
    decided_on: date
    decided_by: str


class Measure(Schema):
    id: uuid.UUID
    description: str
    service_code: str | None
    provider_id: uuid.UUID | None
    responsible: str
    due_on: date
    status: Literal["planned", "in_progress", "done", "cancelled"]
    version: int


class Plan(Schema):
    goals: list[str]
    agreed_by: str | None
    agreed_at: datetime | None
    measures: list[Measure]


class ReferralOut(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    measure_id: uuid.UUID | None
    provider_id: uuid.UUID
    service_code: str | None
    note: str | None
    status: Literal["pending", "accepted", "declined", "closed"]
    decline_reason: str | None
    decided_at: datetime | None
    decided_by: str | None
    closed_at: datetime | None
    created_by: str
    created_at: datetime
    version: int


class ReferralForProvider(Schema):
    """A referral as the provider it is to sees it: not the measure of the plan it serves (the
    provider does not see the plan) nor who made it (the case's worker is the contact)."""

    id: uuid.UUID
    case_id: uuid.UUID
    provider_id: uuid.UUID
    service_code: str | None
    note: str | None = Field(description="The referring worker's note to the provider.")
    status: Literal["pending", "accepted", "declined", "closed"]
    decline_reason: str | None
    decided_at: datetime | None
    decided_by: str | None = Field(description="Who at the provider accepted or declined it.")
    closed_at: datetime | None
    created_at: datetime
    version: int


#: A referral as its reader sees it: in full (the case's side), or as its provider does.
ReferralView = ReferralOut | ReferralForProvider


class Closure(Schema):
    reason: ClosureReason
    outcome: str | None
    closed_at: datetime


class CaseOut(Schema):
    id: uuid.UUID
    family_id: uuid.UUID
    oblast_code: str
    hromada_code: str
    status: CaseStatus
    suspended_from: CaseStatus | None
    allowed_transitions: list[CaseStatus]
    source: Literal["application", "report"]
    reporter: Reporter | None
    summary: str | None
    received_on: date
    worker_sub: str | None = Field(description="The assigned social worker (null: none).")
    assigned_at: datetime | None
    assessment_due_on: date
    assessment_overdue: bool
    assessment: Assessment | None
    decision: Decision | None
    accompaniment_until: date | None = Field(
        description="Six months from the decision unless extended."
    )
    extension_reason: str | None
    duration_exceeded: bool
    visit_due_on: date | None = Field(description="While active: 14 days after the latest visit.")
    visit_overdue: bool
    plan: Plan | None
    referrals: list[ReferralOut]
    closure: Closure | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(
        description="Also the `ETag`; every change to the case needs it in `If-Match`."
    )


class MemberSummary(Schema):
    last_name: str
    first_name: str
    patronymic: str | None
    relation: str
    age: int | None = Field(description="Children only; null for adults.")


class FamilySummary(Schema):
    id: uuid.UUID
    phone: str | None
    address_line: str | None
    hromada_code: str
    settlement_code: str | None
    members: list[MemberSummary]


class ReferredCase(Schema):
    """What a provider's staff see of a case referred to them."""

    id: uuid.UUID
    status: CaseStatus
    hromada_code: str
    worker_sub: str | None
    family: FamilySummary
    referrals: list[ReferralForProvider] = Field(description="The referrals to your provider.")
    version: int


CaseView = CaseOut | ReferredCase


class TransferTarget(InputSchema):
    hromada_code: KatottgCode | None = None
    worker_sub: Subject | None = None


class TransitionIn(InputSchema):
    to: CaseStatus
    reason: ReasonText | None = Field(
        default=None, description="Required to suspend, transfer and close."
    )
    closure_reason: ClosureReason | None = Field(default=None, description="Required to close.")
    outcome: Text | None = Field(default=None, description="The outcome, on closing.")
    transfer_to: TransferTarget | None = Field(default=None, description="Where a transfer goes.")


class Transition(Schema):
    version: int
    from_status: CaseStatus | None
    to_status: CaseStatus
    reason: str | None
    details: dict[str, Any] | None
    actor: str
    at: datetime


class TransitionForProvider(Schema):
    """A step of a case as a provider sees it: when it moved, from which status to which
    (not why, nor who moved it)."""

    version: int
    from_status: CaseStatus | None
    to_status: CaseStatus
    at: datetime


#: A step of a case as its reader sees it.
TransitionView = Transition | TransitionForProvider


class AssignmentIn(InputSchema):
    worker_sub: Subject


class DomainAssessmentIn(InputSchema):
    level: Level | None = None
    notes: Text | None = None


class AssessmentIn(InputSchema):
    child_development: DomainAssessmentIn | None = None
    parenting_capacity: DomainAssessmentIn | None = None
    family_environment: DomainAssessmentIn | None = None
    conclusions: Text | None = None
    complete: StrictBool = Field(
        default=False,
        description="Complete the assessment: every domain needs a level, and conclusions.",
    )


class DecisionIn(InputSchema):
    decision: Literal["provide", "refuse"]
    reason: ReasonText


class ExtensionIn(InputSchema):
    until: IsoDate
    reason: ReasonText


class AgreementIn(InputSchema):
    agreed_by: ShortText = Field(description="Who agreed the plan for the family.")
    agreed_at: Rfc3339DateTime


class PlanIn(InputSchema):
    goals: list[ShortText] = Field(min_length=1, max_length=30)
    agreement: AgreementIn | None = None


class MeasureIn(InputSchema):
    description: ShortText
    service_code: ServiceCode | None = None
    provider_id: uuid.UUID | None = None
    responsible: ShortText
    due_on: IsoDate = Field(description="Not before the case was received.")


class MeasurePatch(InputSchema):
    """A merge patch of a measure: its status, its due date, or both."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    status: Literal["planned", "in_progress", "done", "cancelled"] | NotNull = None
    due_on: IsoDate | NotNull = Field(default=None, description="Not before the case was received.")

    _not_null = field_validator("status", "due_on")(refuse_null)

    @model_validator(mode="after")
    def _something(self) -> MeasurePatch:
        if self.status is None and self.due_on is None:
            raise ValueError("give the status, the due date or both")
        return self


class VisitIn(InputSchema):
    visited_on: IsoDate = Field(description="From the day the case was received up to today.")
    kind: Literal["home", "office", "phone", "online"]
    participants: list[ShortText] = Field(default_factory=list, max_length=20)
    notes: Text | None = None


class Visit(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    visited_on: date
    kind: str
    participants: list[str]
    notes: str | None
    created_by: str
    created_at: datetime


class VisitForProvider(Schema):
    """A visit as a provider sees it: the day and the kind of contact (not who took part or
    what the worker noted)."""

    visited_on: date
    kind: str


#: A visit as its reader sees it.
VisitView = Visit | VisitForProvider


class ReviewIn(InputSchema):
    reviewed_on: IsoDate = Field(description="From the day the case was received up to today.")
    outcome: Literal["progressing", "no_progress", "goals_achieved", "plan_changed"]
    notes: Text | None = None


class Review(Schema):
    id: uuid.UUID
    case_id: uuid.UUID
    reviewed_on: date
    outcome: str
    notes: str | None
    created_by: str
    created_at: datetime


class ReviewForProvider(Schema):
    """A progress review as a provider sees it: the day and the outcome (not the notes)."""

    reviewed_on: date
    outcome: str


#: A review as its reader sees it.
ReviewView = Review | ReviewForProvider


class ReferralIn(InputSchema):
    provider_id: uuid.UUID
    measure_id: uuid.UUID | None = None
    service_code: ServiceCode | None = None
    note: Text | None = None


class DeclineIn(InputSchema):
    reason: ReasonText


class WorkerLoad(Schema):
    hromada_code: str
    worker_sub: str
    open_cases: int
    visits_overdue: int
    assessments_overdue: int
    duration_exceeded: int


class HromadaLoad(Schema):
    hromada_code: str
    open_cases: int
    unassigned: int
    workers: int
    visits_overdue: int
    assessments_overdue: int
    duration_exceeded: int


class Caseload(Schema):
    as_of: date
    territory: str | None
    workers: list[WorkerLoad]
    hromadas: list[HromadaLoad]
