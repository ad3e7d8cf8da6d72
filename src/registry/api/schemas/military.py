"""The shapes of servicemember-family support: units, the catalogue of measures,
servicemembers and support cases, each as the unit's side and the ministry see it and as a
provider or a hromada sees it.

No shape holds, and no input accepts, what would help an enemy: a unit's location,
deployment, strength, or a servicemember's rank or position (unknown fields are refused).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, RootModel, StrictBool, field_validator, model_validator

from registry.api.schemas.base import (
    JSON_INTEGER,
    InputSchema,
    IsoDate,
    KatottgCode,
    NotNull,
    ReasonText,
    Schema,
    refuse_null,
    text_field,
)
from registry.api.schemas.cases import SUBJECT_PATTERN
from registry.api.schemas.families import FamilyCreate, PersonCreate
from registry.api.schemas.words import worded
from registry.domain.military.rules import (
    ContactChannel,
    MeasureStatus,
    Origin,
    ServicememberStatus,
    SupportCaseStatus,
    SupportClosureReason,
)

Text = Annotated[str, text_field(4000, multiline=True)]
ShortText = Annotated[str, text_field(300)]
_NOTHING_SENSITIVE = (
    " Never the unit's location, deployment, strength, nor anyone's rank or position: the "
    "registry does not store what would help an enemy."
)
UnitNumber = Annotated[
    str,
    Field(
        pattern=worded(
            r"^[АВ][0-9]{4}$",
            "must be a unit's public designation: the Cyrillic letter А or В and four digits",
        ),
        description="The unit's public designation (Cyrillic А or В and four digits, e.g. А1234).",
        examples=["А1234"],
    ),
]
Stage = Annotated[
    str,
    Field(
        pattern=worded(
            r"^[a-z][a-z0-9_]{0,31}$",
            "must be a programme stage: a lower-case word (letters, digits, _), e.g. pilot",
        ),
        description="The programme stage the unit joined in (`pilot`, `expansion`, …; data, "
        "not a fixed list).",
        examples=["pilot"],
    ),
]
#: A measure's code in the catalogue (in bodies and in paths).
MEASURE_CODE_PATTERN = worded(
    r"^[a-z][a-z0-9_]{1,63}$",
    "must be a measure code: a lower-case word (letters, digits, _), 2–64 characters",
)
MeasureCode = Annotated[
    str,
    Field(pattern=MEASURE_CODE_PATTERN, description="A code of the catalogue (/support-measures)."),
]
Subject = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=SUBJECT_PATTERN,
        description="The provider's worker (their token's `sub`).",
    ),
]
OblastCodes = Annotated[
    list[KatottgCode],
    Field(
        min_length=1,
        max_length=27,
        description="KATOTTG codes of the oblasts (or Kyiv) the unit serves families in.",
    ),
]
ProviderIds = Annotated[
    list[uuid.UUID],
    Field(
        max_length=50,
        description="The providers assigned to the unit. Each new one must pass the gate: "
        "active in the register, non_state, every /support-criteria criterion met and "
        "verified by the ministry. One left out is taken off the unit (its open cases are "
        "then listed for reassignment).",
    ),
]


# --- units ------------------------------------------------------------------------------------


class UnitCreate(InputSchema):
    __doc__ = "A unit joining the programme." + _NOTHING_SENSITIVE

    number: UnitNumber
    name: Annotated[str, text_field(200)] = Field(description="A display name.")
    oblast_codes: OblastCodes
    stage: Stage
    joined_on: IsoDate = Field(description="The day it joined the programme; not in the future.")
    left_on: IsoDate | None = Field(default=None, description="The day it left the programme.")
    provider_ids: ProviderIds = Field(default_factory=list)


class UnitPatch(InputSchema):
    __doc__ = "A merge patch of a unit." + _NOTHING_SENSITIVE

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    number: UnitNumber | NotNull = None
    name: Annotated[str, text_field(200)] | NotNull = None
    oblast_codes: OblastCodes | NotNull = None
    stage: Stage | NotNull = None
    joined_on: IsoDate | NotNull = None
    left_on: IsoDate | None = None
    provider_ids: ProviderIds | NotNull = None

    _not_null = field_validator(
        "number", "name", "oblast_codes", "stage", "joined_on", "provider_ids"
    )(refuse_null)


class UnitProvider(Schema):
    provider_id: uuid.UUID
    name: str
    assigned_on: date
    eligible: bool = Field(
        description="Whether it still passes the gate; if not, it receives no new cases."
    )


class Unit(Schema):
    __doc__ = "A unit of the programme." + _NOTHING_SENSITIVE

    id: uuid.UUID
    number: str
    name: str
    oblast_codes: list[str]
    stage: str
    joined_on: date
    left_on: date | None
    providers: list[UnitProvider]
    created_at: datetime
    updated_at: datetime
    version: int


# --- the catalogue ----------------------------------------------------------------------------


class MeasureCreate(InputSchema):
    code: MeasureCode
    name_uk: Annotated[str, text_field(300)]
    name_en: Annotated[str, text_field(300)]
    description: Text | None = None
    statuses: list[ServicememberStatus] = Field(
        min_length=1,
        max_length=len(ServicememberStatus),
        description="The servicemember statuses the measure applies to: a change to one of "
        "them plans it in every open case of the servicemember.",
    )
    sort_order: Annotated[int, Field(ge=0, le=1000), JSON_INTEGER] | None = None


class CatalogueMeasurePatch(InputSchema):
    """A merge patch of a catalogue measure; ``retired: true`` retires it (it stays in the
    cases that planned it, and is planned no more)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    name_uk: Annotated[str, text_field(300)] | NotNull = None
    name_en: Annotated[str, text_field(300)] | NotNull = None
    description: Text | None = None
    statuses: Annotated[list[ServicememberStatus], Field(min_length=1, max_length=6)] | NotNull = (
        None
    )
    sort_order: Annotated[int, Field(ge=0, le=1000), JSON_INTEGER] | NotNull = None
    retired: StrictBool | NotNull = None

    _not_null = field_validator("name_uk", "name_en", "statuses", "sort_order", "retired")(
        refuse_null
    )


class SupportMeasure(Schema):
    code: str
    name_uk: str
    name_en: str
    description: str | None
    statuses: list[ServicememberStatus]
    active: bool
    retired_on: date | None
    sort_order: int
    version: int


# --- servicemembers ---------------------------------------------------------------------------


class ServicememberCreate(InputSchema):
    __doc__ = (
        "A servicemember of the caller's unit: a person of the registry (`person_id`), or a "
        "new person (`person`) with their family (`family`: its address and other members)."
        + _NOTHING_SENSITIVE
    )

    # Either the one or the other two, as the spec says too.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["person_id"],
                    "not": {"anyOf": [{"required": ["person"]}, {"required": ["family"]}]},
                },
                {"required": ["person", "family"], "not": {"required": ["person_id"]}},
            ]
        }
    )

    unit_id: uuid.UUID | NotNull = Field(default=None, description="Default: the liaison's unit.")
    person_id: uuid.UUID | NotNull = Field(default=None, description="A person of the registry.")
    person: PersonCreate | NotNull = Field(default=None, description="A new person…")
    family: FamilyCreate | NotNull = Field(default=None, description="…and their family.")
    status: ServicememberStatus = ServicememberStatus.MOBILISED
    effective_on: IsoDate | NotNull = Field(
        default=None, description="When the status took effect; default today, not in the future."
    )

    _not_null = field_validator("unit_id", "person_id", "person", "family", "effective_on")(
        refuse_null
    )

    @model_validator(mode="after")
    def _one_person(self) -> ServicememberCreate:
        if self.person_id is not None and (self.person is not None or self.family is not None):
            raise ValueError("give person_id, or person with family, not both")
        if self.person_id is None and (self.person is None or self.family is None):
            raise ValueError("give person_id, or person with family")
        return self


class StatusIn(InputSchema):
    status: ServicememberStatus
    effective_on: IsoDate | None = Field(
        default=None, description="When it took effect; default today, not in the future."
    )


class TransferIn(InputSchema):
    unit_id: uuid.UUID = Field(description="The unit the servicemember moves to.")
    effective_on: IsoDate | None = Field(default=None, description="Default today.")
    reason: ReasonText | None = None


class ServicememberPerson(Schema):
    id: uuid.UUID
    last_name: str
    first_name: str
    patronymic: str | None
    birth_date: date


class StatusEntry(Schema):
    version: int
    status: ServicememberStatus
    effective_on: date
    recorded_by: str
    recorded_at: datetime


class UnitEntry(Schema):
    version: int
    unit_id: uuid.UUID
    from_unit_id: uuid.UUID | None
    effective_on: date
    reason: str | None
    recorded_by: str
    recorded_at: datetime


class ServicememberBrief(Schema):
    """A servicemember as a provider or a hromada sees them: the status as it stands now,
    never its history."""

    id: uuid.UUID
    person: ServicememberPerson
    family_id: uuid.UUID
    unit_id: uuid.UUID
    status: ServicememberStatus
    status_effective_on: date
    version: int


class Servicemember(ServicememberBrief):
    """A servicemember as the unit's side and the ministry see them, with the histories."""

    status_history: list[StatusEntry]
    unit_history: list[UnitEntry]
    created_by: str
    created_at: datetime
    updated_at: datetime


ServicememberView = Servicemember | ServicememberBrief


class ServicememberAnswer(RootModel[ServicememberView]):
    """One servicemember as the reader may see them."""


# --- support cases ----------------------------------------------------------------------------


class SupportCaseCreate(InputSchema):
    """A support case for a servicemember of the liaison's unit, assigned at once when
    `provider_id` (and its worker, `worker_sub`) is given: a worker only with their
    provider."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["provider_id"]}, {"not": {"required": ["worker_sub"]}}]
        }
    )

    servicemember_id: uuid.UUID
    summary: Text | None = None
    opened_on: IsoDate | None = Field(default=None, description="Default today; not in the future.")
    provider_id: uuid.UUID | None = Field(
        default=None, description="Assign at once: an eligible provider assigned to the unit."
    )
    worker_sub: Subject | None = None


class SupportAssignmentIn(InputSchema):
    provider_id: uuid.UUID = Field(description="An eligible provider assigned to the unit.")
    worker_sub: Subject
    reason: ReasonText | None = None


class SupportTransitionIn(InputSchema):
    to: SupportCaseStatus
    reason: ReasonText | None = Field(default=None, description="Required to suspend and close.")
    closure_reason: SupportClosureReason | None = Field(
        default=None, description="Required to close."
    )


class PlannedMeasureIn(InputSchema):
    measure_code: MeasureCode
    responsible: ShortText | None = Field(default=None, description="Who is responsible.")
    due_on: IsoDate = Field(description="Not before the case was opened.")


class SupportCaseMeasurePatch(InputSchema):
    """Record a planned measure delivered (``status: delivered`` with ``delivered_on``,
    ``outcome``, ``notes``) or cancelled, or move its due date or responsible."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    status: Literal["delivered", "cancelled"] | NotNull = None
    delivered_on: IsoDate | NotNull = Field(default=None, description="Not in the future.")
    outcome: Text | NotNull = None
    notes: Text | NotNull = None
    responsible: ShortText | NotNull = None
    due_on: IsoDate | NotNull = None

    _not_null = field_validator(
        "status", "delivered_on", "outcome", "notes", "responsible", "due_on"
    )(refuse_null)


class ContactIn(InputSchema):
    contacted_on: IsoDate | None = Field(
        default=None, description="Default today; from the case's opening up to today."
    )
    channel: ContactChannel
    notes: Text | None = None


class CaseServicemember(Schema):
    id: uuid.UUID
    person_id: uuid.UUID
    last_name: str
    first_name: str
    patronymic: str | None
    status: ServicememberStatus = Field(description="As it stands now.")
    status_effective_on: date


class SupportCaseSummary(Schema):
    id: uuid.UUID
    unit_id: uuid.UUID
    family_id: uuid.UUID
    servicemember: CaseServicemember
    status: SupportCaseStatus
    opened_on: date
    provider_id: uuid.UUID | None
    worker_sub: str | None
    last_contact_on: date | None
    contact_due_on: date | None
    contact_overdue: bool = Field(description="Open or active, and past the day a contact was due.")
    provider_ineligible: bool = Field(
        description="Open, and its provider no longer passes the gate or is no longer "
        "assigned to the unit: to be reassigned."
    )
    version: int


class FamilyContact(Schema):
    id: uuid.UUID
    phone: str | None
    address_line: str | None
    hromada_code: str
    settlement_code: str | None


class PlannedMeasure(Schema):
    id: uuid.UUID
    measure_code: str
    status: MeasureStatus
    origin: Origin = Field(description="`status_change`: planned by the catalogue.")
    responsible: str | None
    due_on: date
    delivered_on: date | None
    outcome: str | None
    notes: str | None
    delivered_by: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class Contact(Schema):
    id: uuid.UUID
    contacted_on: date
    channel: ContactChannel
    notes: str | None
    created_by: str
    created_at: datetime


class SupportClosure(Schema):
    reason: SupportClosureReason
    closed_at: datetime


class SupportCaseForProvider(SupportCaseSummary):
    """A support case as its provider works it: the family's contact, the plan, the
    contacts; the servicemember's status as it stands now."""

    summary: str | None
    family: FamilyContact
    measures: list[PlannedMeasure]
    contacts: list[Contact]
    closure: SupportClosure | None
    allowed_transitions: list[SupportCaseStatus]


class SupportCase(SupportCaseForProvider):
    """A support case as the unit's side and the ministry see it."""

    assigned_at: datetime | None
    assigned_by: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class FamilyPlace(Schema):
    id: uuid.UUID
    hromada_code: str


class MeasureBrief(Schema):
    id: uuid.UUID
    measure_code: str
    status: MeasureStatus
    due_on: date
    delivered_on: date | None


class SupportCaseForHromada(SupportCaseSummary):
    """A support case as the family's hromada sees it, to coordinate local services: what is
    planned and delivered, when; not the workers' notes or the family's contact details."""

    family: FamilyPlace
    measures: list[MeasureBrief]
    closure: SupportClosure | None
    allowed_transitions: list[SupportCaseStatus]


SupportCaseView = SupportCase | SupportCaseForProvider | SupportCaseForHromada


class SupportCaseAnswer(RootModel[SupportCaseView]):
    """One support case as the reader may see it."""


class SupportCaseEvent(Schema):
    version: int
    kind: Literal["transition", "assignment", "transfer", "servicemember_status"]
    from_status: SupportCaseStatus | None
    to_status: SupportCaseStatus
    reason: str | None
    servicemember_status: ServicememberStatus | None
    details: dict[str, Any] | None
    actor: str
    at: datetime


class SupportCaseStep(Schema):
    """A step as a provider or a hromada sees it: when, which kind, from which status to
    which (not the servicemember's status changes, nor who or why)."""

    version: int
    kind: Literal["transition", "assignment", "transfer"]
    from_status: SupportCaseStatus | None
    to_status: SupportCaseStatus
    at: datetime
