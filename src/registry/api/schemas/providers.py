"""The shapes of the register of providers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StrictBool, field_validator

from registry.api.schemas.base import (
    JSON_INTEGER,
    LOWER_CODE_PATTERN,
    PHONE_PATTERN,
    RNOKPP_PATTERN,
    InputSchema,
    IsoDate,
    KatottgCode,
    NotNull,
    ReasonText,
    Schema,
    ServiceCode,
    refuse_null,
    text_field,
)
from registry.api.schemas.words import worded
from registry.domain.providers.rules import (
    MAX_CAPACITY,
    Frequency,
    ProviderKind,
    ProviderStatus,
    Sector,
)
from registry.domain.service_records.rules import Place

EDRPOU_PATTERN = worded(r"^[0-9]{8}$", "must be an EDRPOU code: eight digits")
#: Control characters and every Unicode space, spelt out: what ``\s`` matches differs between
#: regular expression engines (Python's, the JSON Schema's ECMA 262), so it is not used.
_SPACE = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
EMAIL_PATTERN = worded(
    rf"^[^@{_SPACE}]+@[^@{_SPACE}]+\.[^@{_SPACE}]+$",
    "must be an e-mail address (name@domain.example)",
)
WEBSITE_PATTERN = worded(
    rf"^https?://[^/?#@{_SPACE}]+\.[^/?#@{_SPACE}]+(?:[/?#][^{_SPACE}]*)?$",
    "must be a web address starting with http:// or https://",
)
WEBSITE_NOTE = (
    "A public web address: loopback, private and link-local addresses (and names such as "
    "`localhost` or `*.internal`) are refused."
)
#: A sum of money as decimal text (no binary floating point): up to 10 digits and 2 decimals.
AMOUNT_PATTERN = worded(
    r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$",
    "must be an amount in hryvnias as decimal text, such as 150.00",
)
CRITERION_PATTERN = LOWER_CODE_PATTERN
_RNOKPP_NOTE = (
    " An individual's RNOKPP is personal data: shown in full to callers holding "
    "`providers:manage` or `identifiers:read`, masked to its last 2 digits for "
    "others."
)


Capacity = Annotated[int, Field(ge=1, le=MAX_CAPACITY), JSON_INTEGER]

CriterionCode = Annotated[str, Field(pattern=CRITERION_PATTERN)]
ShortText = Annotated[str, text_field(200)]


class TariffIn(InputSchema):
    amount: str = Field(
        pattern=AMOUNT_PATTERN, examples=["150.00"], description="Hryvnias, as decimal text."
    )
    unit: ShortText = Field(
        examples=["година"], description="What the amount is paid for (an hour, a visit, a month)."
    )


class Tariff(Schema):
    amount: str = Field(description="Hryvnias, as decimal text with 2 decimals.")
    unit: str


class OfferIn(InputSchema):
    service_code: ServiceCode = Field(
        description="An active service of `/services`, at most once per provider."
    )
    frequency: Frequency
    places: list[Place] = Field(min_length=1, max_length=len(Place))
    capacity: Capacity | None = Field(default=None, description="Recipients served at once.")
    tariff: TariffIn | None = Field(default=None, description="Null: free of charge.")
    urgent: StrictBool = Field(default=False, description="Can be delivered urgently.")


class Offer(Schema):
    service_code: str
    name_uk: str
    name_en: str
    frequency: Frequency
    places: list[Place]
    capacity: int | None
    tariff: Tariff | None = Field(description="Null: free of charge.")
    urgent: bool


class ProviderCreate(InputSchema):
    kind: ProviderKind
    sector: Sector = Field(
        description="Individual entrepreneurs and natural persons are always `non_state`."
    )
    edrpou: str | None = Field(
        default=None, pattern=EDRPOU_PATTERN, description="Organisations only (required for them)."
    )
    rnokpp: str | None = Field(
        default=None,
        pattern=RNOKPP_PATTERN,
        description="Individual entrepreneurs and natural persons only (required for them).",
    )
    full_name: Annotated[str, text_field(500)]
    short_name: ShortText | None = None
    legal_form: ShortText | None = Field(default=None, examples=["громадська організація"])
    phone: str | None = Field(
        default=None,
        max_length=32,
        pattern=PHONE_PATTERN,
        description="E.164 (`+380441234567`); a Ukrainian `0XX…` number gets `+38`.",
    )
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    website: str | None = Field(
        default=None, max_length=300, pattern=WEBSITE_PATTERN, description=WEBSITE_NOTE
    )
    hromada_code: KatottgCode = Field(
        description="KATOTTG code of the hromada of the address (category H, or K).",
    )
    settlement_code: KatottgCode | None = Field(
        default=None, description="A settlement inside that hromada."
    )
    address_line: Annotated[str, text_field(300)] | None = None
    hromadas_served: list[KatottgCode] | None = Field(
        default=None,
        max_length=2000,
        description="Hromadas (category H or K) where the provider serves; omitted or null: "
        "the hromada of its address.",
    )
    services: list[OfferIn] = Field(default_factory=list, max_length=200)
    support_criteria_met: list[CriterionCode] = Field(
        default_factory=list,
        max_length=50,
        description="Codes of `/support-criteria` the provider meets; the server records who "
        "verified them and when.",
    )


class ProviderPatch(InputSchema):
    """A JSON merge patch (RFC 7396). `services` replaces the whole list. The register status
    changes through `POST /providers/{id}/status`."""

    kind: ProviderKind | NotNull = None
    sector: Sector | NotNull = None
    edrpou: str | None = Field(default=None, pattern=EDRPOU_PATTERN)
    rnokpp: str | None = Field(default=None, pattern=RNOKPP_PATTERN)
    full_name: Annotated[str, text_field(500)] | NotNull = None
    short_name: ShortText | None = None
    legal_form: ShortText | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=PHONE_PATTERN)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    website: str | None = Field(
        default=None, max_length=300, pattern=WEBSITE_PATTERN, description=WEBSITE_NOTE
    )
    hromada_code: KatottgCode | NotNull = None
    settlement_code: KatottgCode | None = None
    address_line: Annotated[str, text_field(300)] | None = None
    hromadas_served: Annotated[list[KatottgCode], Field(max_length=2000)] | NotNull = None
    services: Annotated[list[OfferIn], Field(max_length=200)] | NotNull = None
    support_criteria_met: Annotated[list[CriterionCode], Field(max_length=50)] | NotNull = None

    _not_null = field_validator(
        "kind",
        "sector",
        "full_name",
        "hromada_code",
        "hromadas_served",
        "services",
        "support_criteria_met",
    )(refuse_null)


class ServicememberSupport(Schema):
    criteria_met: list[str] = Field(description="Codes of `/support-criteria`.")
    eligible: bool = Field(description="Every active criterion is met.")
    verified_by: str | None = Field(description="Who last changed the criteria met.")
    verified_at: datetime | None


class Provider(Schema):
    id: uuid.UUID
    kind: ProviderKind
    sector: Sector
    edrpou: str | None
    rnokpp: str | None = Field(description="RNOKPP." + _RNOKPP_NOTE)
    full_name: str
    short_name: str | None
    legal_form: str | None
    status: ProviderStatus
    status_reason: str | None
    included_on: date | None = Field(description="When it was included in the register.")
    excluded_on: date | None
    phone: str | None
    email: str | None
    website: str | None
    oblast_code: str
    raion_code: str | None
    hromada_code: str
    settlement_code: str | None
    address_line: str | None
    hromadas_served: list[str]
    services: list[Offer] = Field(description="The services it offers now.")
    servicemember_support: ServicememberSupport
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Also sent as the `ETag`; send it back in `If-Match`.")


class StatusChangeIn(InputSchema):
    to: ProviderStatus = Field(
        description="pending → active or excluded; active → excluded; "
        "excluded → pending (a new application)."
    )
    reason: ReasonText | None = Field(default=None, description="Required to exclude.")
    effective_on: IsoDate | None = Field(
        default=None, description="Default today; not in the future."
    )


class StatusChange(Schema):
    version: int = Field(description="The provider's version this change made.")
    from_status: ProviderStatus | None = Field(description="Null for the application.")
    to_status: ProviderStatus
    effective_on: date
    reason: str | None
    changed_by: str
    changed_at: datetime
