"""The shapes of families and their members, and of the links between a family and the
providers that serve it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool, field_validator

from registry.api.schemas.base import (
    LOWER_CODE_PATTERN,
    PHONE_PATTERN,
    RNOKPP_PATTERN,
    InputSchema,
    IsoDate,
    KatottgCode,
    NotNull,
    PersonName,
    ReasonText,
    Rfc3339DateTime,
    Schema,
    refuse_null,
    text_field,
)
from registry.api.schemas.words import worded
from registry.domain.families.rules import ConsentPurpose, DisabilityGroup, Relation, Sex

REFERENCE_CODE = LOWER_CODE_PATTERN
UNZR_PATTERN = worded(
    r"^[0-9]{8}-?[0-9]{5}$", "must be a UNZR: eight digits, an optional hyphen, five digits"
)
IDP_CERTIFICATE_PATTERN = worded(
    r"^[0-9A-Za-z\-]{4,32}$",
    "must be an IDP certificate number: 4 to 32 Latin letters, digits or hyphens",
)
_IDENTIFIERS_NOTE = (
    " Shown in full to callers holding `identifiers:read` (social_worker, community_officer, "
    "ministry_admin, integration clients granted the scope); masked to the last 2 characters "
    "for regional_officer and other integration clients. (provider_staff are shown "
    "`MemberForProvider`, which has no identifiers.)"
)
Name = PersonName
Code = Annotated[str, Field(pattern=REFERENCE_CODE)]


class Consent(Schema):
    given_at: datetime
    given_by: str = Field(description="Who gave consent (e.g. the head of the family).")
    scope: list[ConsentPurpose]


class ConsentIn(InputSchema):
    given_at: Rfc3339DateTime = Field(description="Not in the future.")
    given_by: Annotated[str, text_field(200)]
    scope: list[ConsentPurpose] = Field(min_length=1, max_length=len(ConsentPurpose))


class ConsentPatch(InputSchema):
    given_at: Rfc3339DateTime | NotNull = None
    given_by: Annotated[str, text_field(200)] | NotNull = None
    scope: (
        Annotated[list[ConsentPurpose], Field(min_length=1, max_length=len(ConsentPurpose))]
        | NotNull
    ) = None

    _not_null = field_validator("given_at", "given_by", "scope")(refuse_null)


class PersonFields(InputSchema):
    last_name: Name
    first_name: Name
    patronymic: Name | None = None
    birth_date: IsoDate = Field(description="From 1900-01-01 up to today.")
    sex: Sex
    relation: Relation = Field(description="Relation to the family.")
    rnokpp: str | None = Field(
        default=None,
        pattern=RNOKPP_PATTERN,
        description="Taxpayer number; must agree with birth_date and sex (numbers starting "
        "with 8 encode neither).",
    )
    rnokpp_refused: StrictBool = Field(
        default=False, description="The person refused an RNOKPP (then `rnokpp` is null)."
    )
    unzr: str | None = Field(
        default=None,
        pattern=UNZR_PATTERN,
        description="Demographic register number YYYYMMDD-NNNNC; the date must be the birth date.",
    )
    disability_group: DisabilityGroup | None = None
    idp_certificate: str | None = Field(
        default=None,
        pattern=IDP_CERTIFICATE_PATTERN,
        description="Number of the IDP registration certificate.",
    )
    is_servicemember: StrictBool = False


class PersonCreate(PersonFields):
    pass


class PersonPatch(InputSchema):
    """A JSON merge patch (RFC 7396): absent fields stay, null clears an optional field."""

    last_name: Name | NotNull = None
    first_name: Name | NotNull = None
    patronymic: Name | None = None
    birth_date: IsoDate | NotNull = None
    sex: Sex | NotNull = None
    relation: Relation | NotNull = None
    rnokpp: str | None = Field(default=None, pattern=RNOKPP_PATTERN)
    rnokpp_refused: StrictBool | NotNull = None
    unzr: str | None = Field(default=None, pattern=UNZR_PATTERN)
    disability_group: DisabilityGroup | None = None
    idp_certificate: str | None = Field(default=None, pattern=IDP_CERTIFICATE_PATTERN)
    is_servicemember: StrictBool | NotNull = None

    _not_null = field_validator(
        "last_name",
        "first_name",
        "birth_date",
        "sex",
        "relation",
        "rnokpp_refused",
        "is_servicemember",
    )(refuse_null)


class Person(Schema):
    id: uuid.UUID
    family_id: uuid.UUID
    last_name: str
    first_name: str
    patronymic: str | None
    birth_date: date
    sex: Sex
    relation: Relation
    rnokpp: str | None = Field(description="RNOKPP." + _IDENTIFIERS_NOTE)
    rnokpp_refused: bool
    unzr: str | None = Field(description="UNZR." + _IDENTIFIERS_NOTE)
    disability_group: DisabilityGroup | None
    idp_certificate: str | None = Field(description="IDP certificate." + _IDENTIFIERS_NOTE)
    is_servicemember: bool
    status: Literal["active", "removed"]
    removal_reason: str | None
    removed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class PossibleDuplicate(Schema):
    """An active person in another family you may see, born the same day, with a similar
    name."""

    person_id: uuid.UUID = Field(description="The member this may duplicate.")
    matching_person_id: uuid.UUID
    family_id: uuid.UUID = Field(description="The matching person's family.")
    last_name: str
    first_name: str
    patronymic: str | None
    birth_date: date
    score: float = Field(description="Name similarity, 0–1.")


class PersonCreated(Person):
    possible_duplicates: list[PossibleDuplicate]


class FamilyCreate(InputSchema):
    hromada_code: KatottgCode = Field(description="KATOTTG code of the hromada (category H, or K).")
    settlement_code: KatottgCode | None = Field(
        default=None, description="KATOTTG code of a settlement inside the hromada."
    )
    address_line: Annotated[str, text_field(300)] | None = None
    phone: str | None = Field(
        default=None,
        max_length=32,
        pattern=PHONE_PATTERN,
        description="E.164 (`+380441234567`); a Ukrainian `0XX…` number gets `+38`.",
    )
    categories: list[Code] = Field(
        default_factory=list, max_length=20, description="Codes of `/recipient-categories`."
    )
    factors: list[Code] = Field(
        default_factory=list, max_length=30, description="Codes of `/hardship-factors`."
    )
    consent: ConsentIn | None = None
    members: list[PersonCreate] = Field(default_factory=list, max_length=30)


class FamilyPatch(InputSchema):
    """A JSON merge patch (RFC 7396) of the family's own fields (members have their own)."""

    hromada_code: KatottgCode | NotNull = None
    settlement_code: KatottgCode | None = None
    address_line: Annotated[str, text_field(300)] | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=PHONE_PATTERN)
    categories: Annotated[list[Code], Field(max_length=20)] | NotNull = None
    factors: Annotated[list[Code], Field(max_length=30)] | NotNull = None
    consent: ConsentPatch | None = None

    _not_null = field_validator("hromada_code", "categories", "factors")(refuse_null)


class Family(Schema):
    id: uuid.UUID
    oblast_code: str
    raion_code: str | None
    hromada_code: str
    settlement_code: str | None
    address_line: str | None
    phone: str | None
    categories: list[str]
    factors: list[str]
    consent: Consent | None
    status: Literal["active", "archived"]
    archive_reason: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the `ETag`; send it back in `If-Match`.")
    members: list[Person] = Field(description="Current and former members.")


class FamilyCreated(Family):
    possible_duplicates: list[PossibleDuplicate]


# --- what a provider's staff see -------------------------------------------------------------


class MemberForProvider(Schema):
    """A current member of a family, as a provider's staff see them: who they are (and a
    child's age), to deliver a service and record it (`person_id` of a service record). Not
    their birth date, sex, identifiers, disability or military service."""

    id: uuid.UUID
    family_id: uuid.UUID
    last_name: str
    first_name: str
    patronymic: str | None
    relation: Relation
    age: int | None = Field(
        description="A child's age in whole years, today; null for adults (18 and over)."
    )


class FamilyForProvider(Schema):
    """A family as a provider's staff see it (while it is linked or referred to their
    provider): where it lives, how to reach it, and its current members. Not its
    categories, hardship factors, consent, former members or history."""

    id: uuid.UUID
    hromada_code: str
    settlement_code: str | None
    address_line: str | None
    phone: str | None
    status: Literal["active", "archived"]
    members: list[MemberForProvider] = Field(description="Current members only.")


#: What a family's reader is shown: the record (``Family``), or, to a provider's staff,
#: ``FamilyForProvider``; a member likewise.
FamilyView = Family | FamilyForProvider
PersonView = Person | MemberForProvider


# --- relocation ------------------------------------------------------------------------------


class RelocationIn(InputSchema):
    to_hromada_code: KatottgCode = Field(
        description="KATOTTG code of the hromada the family moves to (category H, or K)."
    )
    settlement_code: KatottgCode | None = Field(
        default=None, description="A settlement inside that hromada, when known."
    )
    address_line: Annotated[str, text_field(300)] | None = Field(
        default=None,
        description="The address there; the old settlement and address are not kept.",
    )
    reason: ReasonText


class FamilyRelocated(Family):
    moved_from: str = Field(description="The hromada the family left.")
    moved_cases: list[uuid.UUID] = Field(
        description="The family's cases that moved with it (open ones now unassigned)."
    )


# --- providers serving the family -------------------------------------------------------------


class ProviderLinkCreate(InputSchema):
    provider_id: uuid.UUID = Field(description="An active provider of the register.")
    reason: ReasonText | None = None


class ProviderLink(Schema):
    """While a link is active the provider's staff see the family and record services for
    it."""

    family_id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str
    active: bool
    granted_at: datetime
    granted_by: str | None
    reason: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
