"""Territory tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CHAR, Column, DateTime, ForeignKey, Index, SmallInteger, String, Text, func
from sqlmodel import Field, SQLModel

from registry.db.base import table_of

CODE_LENGTH = 19


class Territory(SQLModel, table=True):
    __tablename__ = "territories"

    code: str = Field(sa_column=Column(String(CODE_LENGTH), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    #: The name casefolded with apostrophes unified, for search (trigram-indexed).
    search_name: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(sa_column=Column(CHAR(1), nullable=False))
    level: int = Field(sa_column=Column(SmallInteger, nullable=False))
    parent_code: str | None = Field(
        default=None,
        sa_column=Column(String(CODE_LENGTH), ForeignKey("territories.code"), nullable=True),
    )


class ReferenceImport(SQLModel, table=True):
    """Which edition of a reference file was imported, so a re-import of the same is a no-op."""

    __tablename__ = "reference_imports"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    checksum: str = Field(sa_column=Column(String(64), nullable=False))
    row_count: int
    imported_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )


def territory_code_field(nullable: bool) -> Any:
    """A column holding a code of the codifier (a family's or a provider's address)."""
    return Field(
        default=None,
        sa_column=Column(String(CODE_LENGTH), ForeignKey("territories.code"), nullable=nullable),
    )


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
territory_table = table_of(Territory)
reference_import_table = table_of(ReferenceImport)

# Indexes (made by the migrations; declared here so `alembic check` compares them).
Index("ix_territories_parent_code_code", territory_table.c.parent_code, territory_table.c.code)
Index("ix_territories_category_code", territory_table.c.category, territory_table.c.code)
Index(
    "ix_territories_search_name_trgm",
    territory_table.c.search_name,
    postgresql_using="gin",
    postgresql_ops={"search_name": "gin_trgm_ops"},
)
