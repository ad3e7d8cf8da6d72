"""Provider tables: the register of providers, the services each offers, its status history,
and the reference list of criteria for supporting servicemembers' families."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.shared.sealing import SealedField, SealedTable
from registry.domain.territories.tables import territory_code_field


class SupportCriterion(SQLModel, table=True):
    """A criterion a provider must meet to support servicemembers' families."""

    __tablename__ = "support_criteria"

    code: str = Field(sa_column=Column(String(64), primary_key=True))
    name_uk: str = Field(sa_column=Column(Text, nullable=False))
    name_en: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    sort_order: int = Field(sa_column=Column(SmallInteger, nullable=False))


class Provider(SQLModel, table=True):
    """An entry of the Register of providers of social services. ``name_key`` is the search
    key derived from the names."""

    __tablename__ = "providers"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    sector: str = Field(sa_column=Column(String(16), nullable=False))
    edrpou: str | None = Field(default=None, sa_column=Column(String(8)))
    #: An individual provider's RNOKPP, sealed, and its blind index (``PROVIDER_RNOKPP``).
    rnokpp_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    rnokpp_index: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    full_name: str = Field(sa_column=Column(Text, nullable=False))
    short_name: str | None = Field(default=None, sa_column=Column(Text))
    name_key: str = Field(sa_column=Column(Text, nullable=False))
    legal_form: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(sa_column=Column(String(16), nullable=False, server_default="pending"))
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    included_on: date | None = Field(default=None, sa_column=Column(Date))
    excluded_on: date | None = Field(default=None, sa_column=Column(Date))
    phone: str | None = Field(default=None, sa_column=Column(String(16)))
    email: str | None = Field(default=None, sa_column=Column(String(254)))
    website: str | None = Field(default=None, sa_column=Column(String(300)))
    oblast_code: str = territory_code_field(nullable=False)
    raion_code: str | None = territory_code_field(nullable=True)
    hromada_code: str = territory_code_field(nullable=False)
    settlement_code: str | None = territory_code_field(nullable=True)
    address_line: str | None = Field(default=None, sa_column=Column(Text))
    hromadas_served: list[str] = Field(
        sa_column=Column(ARRAY(String(19)), nullable=False, server_default="{}")
    )
    support_criteria_met: list[str] = Field(
        sa_column=Column(ARRAY(Text), nullable=False, server_default="{}")
    )
    support_verified_by: str | None = Field(default=None, sa_column=Column(Text))
    support_verified_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    created_by: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class ProviderService(SQLModel, table=True):
    """A service a provider offers, with how it delivers it."""

    __tablename__ = "provider_services"

    provider_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("providers.id"), primary_key=True)
    )
    service_code: str = Field(
        sa_column=Column(String(16), ForeignKey("services.code"), primary_key=True)
    )
    frequency: str = Field(sa_column=Column(String(16), nullable=False))
    places: list[str] = Field(sa_column=Column(ARRAY(String(24)), nullable=False))
    capacity: int | None = Field(default=None, sa_column=Column(Integer))
    tariff_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    tariff_unit: str | None = Field(default=None, sa_column=Column(Text))
    urgent: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="false"))
    active: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))


class ProviderStatusChange(SQLModel, table=True):
    """One change of a provider's register status (the provider's version it made)."""

    __tablename__ = "provider_status_changes"

    provider_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("providers.id"), primary_key=True)
    )
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    from_status: str | None = Field(default=None, sa_column=Column(String(16)))
    to_status: str = Field(sa_column=Column(String(16), nullable=False))
    effective_on: date = Field(sa_column=Column(Date, nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    actor: str = Field(sa_column=Column(Text, nullable=False))
    changed_at: datetime = timestamp_field()


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
support_criterion_table = table_of(SupportCriterion)
provider_table = table_of(Provider)
provider_service_table = table_of(ProviderService)
provider_status_change_table = table_of(ProviderStatusChange)

#: An individual provider's RNOKPP, sealed at rest; unique in the register by its blind index.
PROVIDER_RNOKPP = SealedField.identifier("providers", "rnokpp", indexed=True)
SEALED_PROVIDERS = SealedTable(provider_table, ("id",), (PROVIDER_RNOKPP,))

# Indexes (made by the migrations; declared here so `alembic check` compares them).
Index("uq_providers_edrpou", provider_table.c.edrpou, unique=True)
Index("uq_providers_rnokpp", provider_table.c.rnokpp_index, unique=True)
Index("ix_providers_hromada_code_id", provider_table.c.hromada_code, provider_table.c.id)
Index("ix_providers_hromadas_served", provider_table.c.hromadas_served, postgresql_using="gin")
Index(
    "ix_providers_name_key_trgm",
    provider_table.c.name_key,
    postgresql_using="gin",
    postgresql_ops={"name_key": "gin_trgm_ops"},
)
Index(
    "ix_provider_services_service_code",
    provider_service_table.c.service_code,
    provider_service_table.c.provider_id,
)
