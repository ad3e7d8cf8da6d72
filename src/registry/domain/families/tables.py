"""Family tables: families, their members (persons), the reference lists they use, and which
providers may see a family."""

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
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    cast,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.shared.sealing import SealedField, SealedTable
from registry.domain.territories.tables import territory_code_field


def _code() -> Any:
    return Field(sa_column=Column(String(64), primary_key=True))


class RecipientCategory(SQLModel, table=True):
    """Who a family is as a recipient of services (IDP, large family, foster family, …)."""

    __tablename__ = "recipient_categories"

    code: str = _code()
    name_uk: str = Field(sa_column=Column(Text, nullable=False))
    name_en: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    sort_order: int = Field(sa_column=Column(SmallInteger, nullable=False))


class HardshipFactor(SQLModel, table=True):
    """A factor of difficult life circumstances (Law "On Social Services" and practice)."""

    __tablename__ = "hardship_factors"

    code: str = _code()
    name_uk: str = Field(sa_column=Column(Text, nullable=False))
    name_en: str = Field(sa_column=Column(Text, nullable=False))
    named_in_law: bool = Field(sa_column=Column(Boolean, nullable=False))
    active: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="true"))
    sort_order: int = Field(sa_column=Column(SmallInteger, nullable=False))


class Family(SQLModel, table=True):
    __tablename__ = "families"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    oblast_code: str = territory_code_field(nullable=False)
    raion_code: str | None = territory_code_field(nullable=True)
    hromada_code: str = territory_code_field(nullable=False)
    settlement_code: str | None = territory_code_field(nullable=True)
    address_line: str | None = Field(default=None, sa_column=Column(Text))
    phone: str | None = Field(default=None, sa_column=Column(String(16)))
    categories: list[str] = Field(
        sa_column=Column(ARRAY(Text), nullable=False, server_default="{}")
    )
    factors: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"))
    consent_given_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    consent_given_by: str | None = Field(default=None, sa_column=Column(Text))
    consent_scope: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text)))
    status: str = Field(sa_column=Column(String(16), nullable=False, server_default="active"))
    archive_reason: str | None = Field(default=None, sa_column=Column(Text))
    archived_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_by: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class Person(SQLModel, table=True):
    """A member of a family. ``name_key`` and ``latin_key`` are search keys derived from the
    name (Cyrillic, and its official transliteration). The national identifiers are kept
    sealed (``<name>_sealed``) and RNOKPP and UNZR also as blind indexes (``<name>_index``):
    see ``PERSON_IDENTIFIERS``."""

    __tablename__ = "persons"

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    #: With ``oblast_code``, a foreign key to the family's (declared below the tables): a
    #: person's oblast is the family's and follows it when the family moves.
    family_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    oblast_code: str = territory_code_field(nullable=False)
    last_name: str = Field(sa_column=Column(Text, nullable=False))
    first_name: str = Field(sa_column=Column(Text, nullable=False))
    patronymic: str | None = Field(default=None, sa_column=Column(Text))
    name_key: str = Field(sa_column=Column(Text, nullable=False))
    latin_key: str = Field(sa_column=Column(Text, nullable=False))
    birth_date: date = Field(sa_column=Column(Date, nullable=False))
    sex: str = Field(sa_column=Column(String(8), nullable=False))
    relation: str = Field(sa_column=Column(String(16), nullable=False))
    rnokpp_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    rnokpp_index: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    rnokpp_refused: bool = Field(sa_column=Column(Boolean, nullable=False, server_default="false"))
    unzr_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    unzr_index: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    disability_group: str | None = Field(default=None, sa_column=Column(String(8)))
    idp_certificate_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    is_servicemember: bool = Field(
        sa_column=Column(Boolean, nullable=False, server_default="false")
    )
    status: str = Field(sa_column=Column(String(16), nullable=False, server_default="active"))
    removal_reason: str | None = Field(default=None, sa_column=Column(Text))
    removed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class FamilyProviderAccess(SQLModel, table=True):
    """A provider's staff may see a family (its minimal data) and record services for it while
    a grant is not revoked: a community officer links the family to the provider, or a case
    refers it. Revoked grants stay, as the history of who could see the family."""

    __tablename__ = "family_provider_access"

    provider_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("providers.id"), primary_key=True)
    )
    family_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("families.id"), primary_key=True, index=True)
    )
    granted_at: datetime = timestamp_field()
    granted_by: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    #: The day the grant ended by the application's clock (``caller.today``): the provider
    #: may report services delivered up to it for ``REGISTRY_LATE_REPORTING_DAYS`` after it.
    revoked_on: date | None = Field(default=None, sa_column=Column(Date))
    revoked_by: str | None = Field(default=None, sa_column=Column(Text))
    revoke_reason: str | None = Field(default=None, sa_column=Column(Text))


class NameWord(SQLModel, table=True):
    """The dictionary of name search: each distinct word of the persons' ``name_key`` (a
    word stays when its last person is renamed: it then finds nobody)."""

    __tablename__ = "name_words"

    word: str = Field(sa_column=Column(Text, primary_key=True))


class NameWordForm(SQLModel, table=True):
    """A dictionary word's spellings search compares: the word normalised
    (``rules.search_word``) and its Latin forms (``rules.latin_forms``). The "C" collation
    lets the key's btree answer a prefix (``LIKE 'шев%'``)."""

    __tablename__ = "name_word_forms"

    form: str = Field(sa_column=Column(Text(collation="C"), primary_key=True))
    word: str = Field(sa_column=Column(Text, primary_key=True))


class NameWordDeletion(SQLModel, table=True):
    """The deletion neighbourhood of each form (``rules.deletions``): a query word within the
    edit limit of a form shares the form or one of these with it, found by equality."""

    __tablename__ = "name_word_deletions"

    deletion: str = Field(sa_column=Column(Text, primary_key=True))
    form: str = Field(sa_column=Column(Text, primary_key=True))


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
recipient_category_table = table_of(RecipientCategory)
hardship_factor_table = table_of(HardshipFactor)
family_table = table_of(Family)
person_table = table_of(Person)
family_provider_access_table = table_of(FamilyProviderAccess)
name_word_table = table_of(NameWord)
name_word_form_table = table_of(NameWordForm)
name_word_deletion_table = table_of(NameWordDeletion)

#: A person's national identifiers, sealed at rest: RNOKPP and UNZR are looked up (and unique
#: among current members) by their blind index; an IDP certificate number is only shown.
PERSON_RNOKPP = SealedField.identifier("persons", "rnokpp", indexed=True)
PERSON_UNZR = SealedField.identifier("persons", "unzr", indexed=True)
PERSON_IDP_CERTIFICATE = SealedField.identifier("persons", "idp_certificate", indexed=False)
PERSON_IDENTIFIERS = (PERSON_RNOKPP, PERSON_UNZR, PERSON_IDP_CERTIFICATE)
SEALED_PERSONS = SealedTable(person_table, ("id",), PERSON_IDENTIFIERS)

UniqueConstraint(family_table.c.id, family_table.c.oblast_code, name="uq_families_id_oblast_code")
ForeignKeyConstraint(
    [person_table.c.family_id, person_table.c.oblast_code],
    [family_table.c.id, family_table.c.oblast_code],
    name="fk_persons_family_id_families",
    onupdate="CASCADE",
)

# Indexes (made by the migrations; declared here so `alembic check` compares them).
Index("ix_families_hromada_code_id", family_table.c.hromada_code, family_table.c.id)
Index("ix_families_oblast_code_id", family_table.c.oblast_code, family_table.c.id)
Index("ix_families_categories", family_table.c.categories, postgresql_using="gin")
Index("ix_families_factors", family_table.c.factors, postgresql_using="gin")
# One current member per number (the blind index is equal exactly when the number is), and
# lookups by number among current and former members.
Index(
    "uq_persons_rnokpp",
    person_table.c.rnokpp_index,
    unique=True,
    postgresql_where=and_(
        person_table.c.status == "active", person_table.c.rnokpp_index.is_not(None)
    ),
)
Index(
    "uq_persons_unzr",
    person_table.c.unzr_index,
    unique=True,
    postgresql_where=and_(
        person_table.c.status == "active", person_table.c.unzr_index.is_not(None)
    ),
)
Index("ix_persons_rnokpp_index", person_table.c.rnokpp_index)
Index("ix_persons_unzr_index", person_table.c.unzr_index)
Index("ix_persons_birth_date_name_key", person_table.c.birth_date, person_table.c.name_key)
#: The words of a person's name as search looks persons up by them (the dictionary's
#: words), each after the person's oblast: ``<oblast code>:<word>``. A search confined to
#: an oblast reads only that oblast's entries of a word; a national one asks for the word in
#: every oblast. (An index of the oblast beside the words made PostgreSQL intersect the
#: oblast's whole posting list, hundreds of thousands of persons, with the words' on every
#: search.) Spelled with constants only, as the index is, so the planner matches the two.
PERSON_OBLAST_NAME_WORDS = func.string_to_array(
    cast(person_table.c.oblast_code, Text)
    .op("||")(literal_column("':'"))
    .op("||")(
        func.replace(
            person_table.c.name_key,
            literal_column("' '"),
            literal_column("' '")
            .op("||")(cast(person_table.c.oblast_code, Text))
            .op("||")(literal_column("':'")),
        )
    ),
    literal_column("' '"),
)
Index(
    "ix_persons_oblast_name_words",
    PERSON_OBLAST_NAME_WORDS,
    postgresql_using="gin",
    _table=person_table,  # an expression alone does not name its table
)
