"""The shapes of community programmes: programmes and their eligibility rule, allocations and
balances, enrolments, distributions and reversals, aid items, receipts and stock.

Money is decimal text with its currency (`{"amount": "50000.00", "currency": "USD"}`), never
a JSON number: no amount passes through binary floating point.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from registry.api.schemas.base import (
    JSON_INTEGER,
    LOWER_CODE_PATTERN,
    InputSchema,
    IsoDate,
    KatottgCode,
    NotNull,
    Schema,
    refuse_null,
    text_field,
)
from registry.api.schemas.words import worded
from registry.domain.programmes.rules import (
    Currency,
    EnrolmentStatus,
    ProgrammeKind,
    ProgrammeStatus,
)

ShortText = Annotated[str, text_field(300)]
#: Up to 14 digits before the point and 2 after: what numeric(16, 2) holds.
AMOUNT_PATTERN = worded(
    r"^(0|[1-9][0-9]{0,13})(\.[0-9]{1,2})?$",
    "must be an amount as decimal text with at most 2 decimals, such as 50000.00",
)
Quantity = Annotated[int, Field(ge=1, le=1_000_000_000), JSON_INTEGER]
AllocatedQuantity = Annotated[int, Field(ge=0, le=1_000_000_000), JSON_INTEGER]
Age = Annotated[int, Field(ge=0, le=25), JSON_INTEGER]


class MoneyIn(InputSchema):
    """An amount with its currency (ISO 4217)."""

    amount: str = Field(pattern=AMOUNT_PATTERN, examples=["50000.00"], description="Decimal text.")
    currency: Currency


#: An amount above zero: ``0.01`` and up.
POSITIVE_AMOUNT_PATTERN = worded(
    r"^(0\.[0-9]?[1-9]|0\.[1-9][0-9]?|[1-9][0-9]{0,13}(\.[0-9]{1,2})?)$",
    "must be an amount above zero as decimal text with at most 2 decimals, such as 150.00",
)


class PositiveMoneyIn(InputSchema):
    """An amount above zero with its currency (ISO 4217)."""

    amount: str = Field(
        pattern=POSITIVE_AMOUNT_PATTERN, examples=["150.00"], description="Decimal text."
    )
    currency: Currency


class Money(Schema):
    amount: str = Field(description="Decimal text with 2 decimals.")
    currency: Currency


# --- the eligibility rule ---------------------------------------------------------------------

_CODE = Field(pattern=LOWER_CODE_PATTERN)


class CategoryCondition(InputSchema):
    """The family is of this recipient category (`/reference/recipient-categories`), e.g. `idp`,
    `large_family`, `child_with_disability`."""

    condition: Literal["category"]
    code: str = _CODE


class HardshipCondition(InputSchema):
    """The family has this hardship factor (`/reference/hardship-factors`)."""

    condition: Literal["hardship"]
    code: str = _CODE


class ChildrenCondition(InputSchema):
    """At least `at_least` active members aged `min_age` to `max_age` (full years) on the day
    the family is checked."""

    condition: Literal["children"]
    at_least: Annotated[int, Field(ge=1, le=20), JSON_INTEGER] = 1
    min_age: Age = 0
    max_age: Age = 17

    @model_validator(mode="after")
    def _ages_in_order(self) -> ChildrenCondition:
        if self.min_age > self.max_age:
            raise ValueError("min_age must not be above max_age")
        return self


class DisabilityCondition(InputSchema):
    """A member of the family has a disability group."""

    condition: Literal["disability"]


class ServicememberFamilyCondition(InputSchema):
    """A member of the family serves, or the family is a servicemember's family by category
    (also of the fallen, missing or captured)."""

    condition: Literal["servicemember_family"]


Condition = Annotated[
    CategoryCondition
    | HardshipCondition
    | ChildrenCondition
    | DisabilityCondition
    | ServicememberFamilyCondition,
    Field(discriminator="condition"),
]
Conditions = Annotated[list[Condition], Field(min_length=1, max_length=20)]


class AllOfConditions(InputSchema):
    """Every condition holds."""

    all: Conditions


class AnyOfConditions(InputSchema):
    """At least one condition holds."""

    any: Conditions


Part = Condition | AllOfConditions | AnyOfConditions
Parts = Annotated[list[Part], Field(min_length=1, max_length=20)]


class AllOfRule(InputSchema):
    """A family is eligible when every part holds."""

    all: Parts


class AnyOfRule(InputSchema):
    """A family is eligible when at least one part holds."""

    any: Parts


_RULE_NOTE = (
    "Who may be enrolled, checked by the server when a family is enrolled (422 listing each "
    'unmet condition): `{"all": [...]}` or `{"any": [...]}` of conditions and of groups '
    '(`{"all"|"any": [conditions]}`, one level deep). Conditions: `category` (a recipient '
    "category), `hardship` (a hardship factor), `children` (at least `at_least` members aged "
    "`min_age`–`max_age`), `disability` (a member with a disability group), "
    "`servicemember_family`. Null: every family of a covered hromada."
)
Eligibility = AllOfRule | AnyOfRule


# --- programmes -------------------------------------------------------------------------------


class ProgrammeCreate(InputSchema):
    funder: ShortText = Field(examples=["UNICEF"])
    name: ShortText
    kind: ProgrammeKind = Field(
        description="`cash`, `grant` and `community_initiative` move money; `in_kind` moves "
        "aid items (valued in the programme's currency)."
    )
    budget: MoneyIn = Field(description="The total budget; its currency is the programme's.")
    starts_on: IsoDate
    ends_on: IsoDate
    eligibility: Eligibility | None = Field(default=None, description=_RULE_NOTE)


class ProgrammePatch(InputSchema):
    """A merge patch of a programme. `status` moves `draft → open → closed`; a closed
    programme takes no changes. The currency never changes."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    funder: ShortText | NotNull = None
    name: ShortText | NotNull = None
    budget: MoneyIn | NotNull = None
    starts_on: IsoDate | NotNull = None
    ends_on: IsoDate | NotNull = None
    status: ProgrammeStatus | NotNull = None
    eligibility: Eligibility | None = Field(default=None, description=_RULE_NOTE)

    _not_null = field_validator("funder", "name", "budget", "starts_on", "ends_on", "status")(
        refuse_null
    )


class Programme(Schema):
    id: uuid.UUID
    funder: str
    name: str
    kind: ProgrammeKind
    budget: Money
    allocated: Money = Field(description="Allocated to hromadas (items at their unit value).")
    unallocated: Money
    starts_on: date
    ends_on: date
    status: ProgrammeStatus
    allowed_moves: list[ProgrammeStatus]
    eligibility: Eligibility | None = Field(description=_RULE_NOTE)
    created_at: datetime
    updated_at: datetime
    version: int


# --- items and allocations --------------------------------------------------------------------


class AidItemCreate(InputSchema):
    name: ShortText = Field(examples=["Обігрівач"], description="Unique in the catalogue.")
    unit: Annotated[str, text_field(50)] = Field(examples=["шт."])
    unit_value: MoneyIn = Field(description="What one unit is worth, for in-kind budgets.")


class AidItem(Schema):
    id: uuid.UUID
    name: str
    unit: str
    unit_value: Money
    active: bool
    created_at: datetime


class ItemAllocationIn(InputSchema):
    item_id: uuid.UUID
    quantity: AllocatedQuantity


class AllocationIn(InputSchema):
    """What the programme allocates to the hromada: `amount` for a money programme, `items`
    for an in-kind one (an item left out is allocated nothing). The sum over hromadas never
    exceeds the budget (409 naming the remainder); nor can less be allocated than the hromada
    has distributed (409)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["amount"], "not": {"required": ["items"]}},
                {"required": ["items"], "not": {"required": ["amount"]}},
            ]
        }
    )

    amount: MoneyIn | NotNull = None
    items: Annotated[list[ItemAllocationIn], Field(min_length=1, max_length=100)] | NotNull = None

    _not_null = field_validator("amount", "items")(refuse_null)

    @model_validator(mode="after")
    def _one_of(self) -> AllocationIn:
        if (self.amount is None) == (self.items is None):
            raise ValueError("give amount or items, not both")
        return self


class MoneyBalance(Schema):
    currency: Currency
    allocated: str
    distributed: str = Field(description="Every distribution, reversed ones included.")
    reversed: str = Field(description="What reversals gave back.")
    remaining: str = Field(description="allocated - distributed + reversed.")


class ItemBalance(Schema):
    item_id: uuid.UUID
    name: str
    unit: str
    allocated: int
    distributed: int
    reversed: int
    remaining: int


class Allocation(Schema):
    """A hromada's balances in the programme, from the ledger."""

    hromada_code: str
    amount: MoneyBalance | None
    items: list[ItemBalance]


# --- enrolments -------------------------------------------------------------------------------


class EnrolmentCreate(InputSchema):
    family_id: uuid.UUID = Field(
        description="A family of your hromada, checked against the programme's rule now."
    )


class Enrolment(Schema):
    id: uuid.UUID
    programme_id: uuid.UUID
    family_id: uuid.UUID
    hromada_code: str = Field(description="The hromada whose allocation the family draws on.")
    status: EnrolmentStatus
    enrolled_on: date
    enrolled_by: str
    withdrawn_on: date | None
    withdrawal_reason: str | None
    withdrawn_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


# --- distributions ----------------------------------------------------------------------------


class ItemQuantityIn(InputSchema):
    item_id: uuid.UUID
    quantity: Quantity


class DistributionCreate(InputSchema):
    """Money (`amount`) or items (`items`) handed over to an enrolled family (`family_id`) or
    to a provider or centre of the register (`provider_id`), drawn on a hromada's allocation
    (a family's: the hromada it was enrolled in; a provider's: `hromada_code`, by default
    yours). 409 with what remains when the allocation or the stock falls short."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "oneOf": [
                        {"required": ["family_id"], "not": {"required": ["provider_id"]}},
                        {"required": ["provider_id"], "not": {"required": ["family_id"]}},
                    ]
                },
                {
                    "oneOf": [
                        {"required": ["amount"], "not": {"required": ["items"]}},
                        {"required": ["items"], "not": {"required": ["amount"]}},
                    ]
                },
            ]
        }
    )

    family_id: uuid.UUID | NotNull = None
    provider_id: uuid.UUID | NotNull = None
    hromada_code: KatottgCode | NotNull = None
    amount: PositiveMoneyIn | NotNull = None
    items: Annotated[list[ItemQuantityIn], Field(min_length=1, max_length=100)] | NotNull = None
    distributed_on: IsoDate = Field(
        description="Within the programme's period, not in the future; for a family, not "
        "before its enrolment."
    )
    handed_over_by: ShortText = Field(description="Who handed it over.")
    receipt_reference: ShortText | None = None

    _not_null = field_validator("family_id", "provider_id", "hromada_code", "amount", "items")(
        refuse_null
    )

    @model_validator(mode="after")
    def _one_recipient_and_one_kind(self) -> DistributionCreate:
        if (self.family_id is None) == (self.provider_id is None):
            raise ValueError("give family_id or provider_id, not both")
        if (self.amount is None) == (self.items is None):
            raise ValueError("give amount or items, not both")
        return self


class DistributedItem(Schema):
    item_id: uuid.UUID
    name: str
    unit: str
    quantity: int


class ReversalOut(Schema):
    reason: str
    reversed_on: date
    reversed_by: str
    recorded_at: datetime


class Distribution(Schema):
    id: uuid.UUID
    programme_id: uuid.UUID
    hromada_code: str
    family_id: uuid.UUID | None
    enrolment_id: uuid.UUID | None
    provider_id: uuid.UUID | None
    amount: Money | None
    items: list[DistributedItem]
    distributed_on: date
    handed_over_by: str
    receipt_reference: str | None
    recorded_by: str
    recorded_at: datetime
    reversal: ReversalOut | None = Field(description="Null: stands.")


# --- aid stock --------------------------------------------------------------------------------


class AidReceiptCreate(InputSchema):
    hromada_code: KatottgCode | NotNull = Field(default=None, description="Default: yours.")
    item_id: uuid.UUID
    quantity: Quantity
    source: ShortText = Field(description="Where it came from (a donor, a warehouse).")
    received_on: IsoDate = Field(description="Not in the future.")
    programme_id: uuid.UUID | None = Field(default=None, description="The programme it is for.")

    _not_null = field_validator("hromada_code")(refuse_null)


class AidReceipt(Schema):
    id: uuid.UUID
    hromada_code: str
    item_id: uuid.UUID
    quantity: int
    source: str
    received_on: date
    programme_id: uuid.UUID | None
    recorded_by: str
    recorded_at: datetime


class AidStock(Schema):
    hromada_code: str
    item_id: uuid.UUID
    name: str
    unit: str
    received: int
    handed_out: int = Field(description="Net of reversals.")
    on_hand: int = Field(description="received - handed_out; never below zero.")
    updated_at: datetime
