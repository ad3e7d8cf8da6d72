"""Programme tables: programmes, their allocations per hromada (the balance rows every
distribution draws on), enrolments, distributions with their items and reversals (the
ledger: written once, never changed), the catalogue of aid items, and each hromada's aid
receipts and stock.

Money and quantities are ``numeric``, never floats; a balance row holds what was allocated,
distributed and reversed, and its CHECK constraints hold the invariants even against a
statement that forgot them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.territories.tables import territory_code_field


def _optional(column_type: Any, *args: Any) -> Any:
    return Field(default=None, sa_column=Column(column_type, *args))


def _required(column_type: Any, *args: Any, **kwargs: Any) -> Any:
    return Field(sa_column=Column(column_type, *args, nullable=False, **kwargs))


def _id() -> Any:
    return Field(sa_column=Column(Uuid, primary_key=True))


def _version() -> Any:
    return Field(sa_column=Column(Integer, nullable=False, server_default="1"))


def _amount(**kwargs: Any) -> Any:
    return Field(sa_column=Column(Numeric(16, 2), nullable=False, **kwargs))


class Programme(SQLModel, table=True):
    """A programme of a funder: its kind, budget in its currency, period, status and the
    eligibility rule families are checked against (``rules``; null: every family)."""

    __tablename__ = "programmes"

    id: uuid.UUID = _id()
    funder: str = _required(Text)
    name: str = _required(Text)
    kind: str = _required(String(24))
    currency: str = _required(String(3))
    budget: Decimal = _amount()
    starts_on: date = _required(Date)
    ends_on: date = _required(Date)
    status: str = _required(String(8), server_default="draft")
    eligibility: dict[str, Any] | None = _optional(JSONB)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class AidItem(SQLModel, table=True):
    """An item of aid in kind (a heater, a winter kit, a tablet): its unit and unit value."""

    __tablename__ = "aid_items"

    id: uuid.UUID = _id()
    name: str = _required(Text, unique=True)
    unit: str = _required(Text)
    unit_value: Decimal = _amount()
    currency: str = _required(String(3))
    active: bool = _required(Boolean, server_default="true")
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()


class Allocation(SQLModel, table=True):
    """One balance line of a hromada in a programme: money (``item_id`` null) or one item.
    ``distributed`` counts every distribution, ``reversed`` what reversals gave back; the
    remainder is ``allocated - distributed + reversed`` and never negative."""

    __tablename__ = "programme_allocations"
    __table_args__ = (
        CheckConstraint("allocated >= 0", name="ck_programme_allocations_allocated"),
        CheckConstraint(
            "reversed >= 0 AND reversed <= distributed", name="ck_programme_allocations_reversed"
        ),
        CheckConstraint(
            "distributed - reversed <= allocated", name="ck_programme_allocations_balance"
        ),
    )

    id: uuid.UUID = _id()
    programme_id: uuid.UUID = _required(Uuid, ForeignKey("programmes.id"))
    oblast_code: str = territory_code_field(nullable=False)
    raion_code: str | None = territory_code_field(nullable=True)
    hromada_code: str = territory_code_field(nullable=False)
    item_id: uuid.UUID | None = _optional(Uuid, ForeignKey("aid_items.id"))
    allocated: Decimal = _amount()
    distributed: Decimal = _amount(server_default="0")
    reversed: Decimal = _amount(server_default="0")
    updated_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Enrolment(SQLModel, table=True):
    """A family enrolled in a programme by its hromada (whose allocation it draws on)."""

    __tablename__ = "programme_enrolments"

    id: uuid.UUID = _id()
    programme_id: uuid.UUID = _required(Uuid, ForeignKey("programmes.id"))
    family_id: uuid.UUID = _required(Uuid, ForeignKey("families.id"))
    oblast_code: str = territory_code_field(nullable=False)
    raion_code: str | None = territory_code_field(nullable=True)
    hromada_code: str = territory_code_field(nullable=False)
    status: str = _required(String(12), server_default="enrolled")
    enrolled_on: date = _required(Date)
    enrolled_by: str = _required(Text)
    withdrawn_on: date | None = _optional(Date)
    withdrawal_reason: str | None = _optional(Text)
    withdrawn_by: str | None = _optional(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = _version()


class Distribution(SQLModel, table=True):
    """Money or items handed over to an enrolled family or to a provider (a centre), drawn on
    the allocation of ``hromada_code``. Written once: a correction is a reversal."""

    __tablename__ = "programme_distributions"
    __table_args__ = (
        CheckConstraint(
            "(family_id IS NULL) <> (provider_id IS NULL)",
            name="ck_programme_distributions_one_recipient",
        ),
        CheckConstraint("amount IS NULL OR amount > 0", name="ck_programme_distributions_amount"),
    )

    id: uuid.UUID = _id()
    programme_id: uuid.UUID = _required(Uuid, ForeignKey("programmes.id"))
    oblast_code: str = territory_code_field(nullable=False)
    raion_code: str | None = territory_code_field(nullable=True)
    hromada_code: str = territory_code_field(nullable=False)
    family_id: uuid.UUID | None = _optional(Uuid, ForeignKey("families.id"))
    enrolment_id: uuid.UUID | None = _optional(Uuid, ForeignKey("programme_enrolments.id"))
    provider_id: uuid.UUID | None = _optional(Uuid, ForeignKey("providers.id"))
    amount: Decimal | None = _optional(Numeric(16, 2))
    currency: str = _required(String(3))
    distributed_on: date = _required(Date)
    handed_over_by: str = _required(Text)
    receipt_reference: str | None = _optional(Text)
    recorded_by: str = _required(Text)
    recorded_at: datetime = timestamp_field()


class DistributionItem(SQLModel, table=True):
    __tablename__ = "programme_distribution_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_programme_distribution_items_quantity"),
    )

    distribution_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme_distributions.id"), primary_key=True)
    )
    item_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("aid_items.id"), primary_key=True))
    quantity: int = _required(BigInteger)


class Reversal(SQLModel, table=True):
    """The correction of a distribution: all of it given back to the balance, with why."""

    __tablename__ = "programme_reversals"

    distribution_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("programme_distributions.id"), primary_key=True)
    )
    reason: str = _required(Text)
    reversed_on: date = _required(Date)
    reversed_by: str = _required(Text)
    recorded_at: datetime = timestamp_field()


class AidReceipt(SQLModel, table=True):
    """Aid in kind a hromada received: item, quantity, where from, when."""

    __tablename__ = "aid_receipts"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_aid_receipts_quantity"),)

    id: uuid.UUID = _id()
    oblast_code: str = territory_code_field(nullable=False)
    raion_code: str | None = territory_code_field(nullable=True)
    hromada_code: str = territory_code_field(nullable=False)
    item_id: uuid.UUID = _required(Uuid, ForeignKey("aid_items.id"))
    quantity: int = _required(BigInteger)
    source: str = _required(Text)
    received_on: date = _required(Date)
    programme_id: uuid.UUID | None = _optional(Uuid, ForeignKey("programmes.id"))
    recorded_by: str = _required(Text)
    recorded_at: datetime = timestamp_field()


class AidStock(SQLModel, table=True):
    """A hromada's stock of one item: received, handed out (net of reversals); what is on
    hand never goes below zero."""

    __tablename__ = "aid_stock"
    __table_args__ = (
        CheckConstraint("handed_out >= 0 AND handed_out <= received", name="ck_aid_stock_on_hand"),
    )

    hromada_code: str = Field(
        sa_column=Column(String(19), ForeignKey("territories.code"), primary_key=True)
    )
    item_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("aid_items.id"), primary_key=True))
    oblast_code: str = territory_code_field(nullable=False)
    raion_code: str | None = territory_code_field(nullable=True)
    received: int = _required(BigInteger, server_default="0")
    handed_out: int = _required(BigInteger, server_default="0")
    updated_at: datetime = timestamp_field()


programme_table = table_of(Programme)
aid_item_table = table_of(AidItem)
allocation_table = table_of(Allocation)
enrolment_table = table_of(Enrolment)
distribution_table = table_of(Distribution)
distribution_item_table = table_of(DistributionItem)
reversal_table = table_of(Reversal)
aid_receipt_table = table_of(AidReceipt)
aid_stock_table = table_of(AidStock)

# One money line per hromada and programme, and one line per item.
Index(
    "uq_programme_allocations_money",
    allocation_table.c.programme_id,
    allocation_table.c.hromada_code,
    unique=True,
    postgresql_where=allocation_table.c.item_id.is_(None),
)
Index(
    "uq_programme_allocations_item",
    allocation_table.c.programme_id,
    allocation_table.c.hromada_code,
    allocation_table.c.item_id,
    unique=True,
    postgresql_where=allocation_table.c.item_id.is_not(None),
)
# A family is enrolled once per programme (a withdrawn enrolment does not count).
Index(
    "uq_programme_enrolments_enrolled",
    enrolment_table.c.programme_id,
    enrolment_table.c.family_id,
    unique=True,
    postgresql_where=enrolment_table.c.status == "enrolled",
)
Index(
    "ix_programme_enrolments_programme_id_hromada_code_id",
    enrolment_table.c.programme_id,
    enrolment_table.c.hromada_code,
    enrolment_table.c.id,
)
Index("ix_programme_enrolments_family_id", enrolment_table.c.family_id)
Index(
    "ix_programme_distributions_programme_id_hromada_code_id",
    distribution_table.c.programme_id,
    distribution_table.c.hromada_code,
    distribution_table.c.id,
)
Index("ix_programme_distributions_family_id", distribution_table.c.family_id)
Index("ix_programme_distributions_provider_id", distribution_table.c.provider_id)
Index("ix_aid_receipts_hromada_code_id", aid_receipt_table.c.hromada_code, aid_receipt_table.c.id)
