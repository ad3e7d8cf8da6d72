"""The initiative's tables: each hromada's record (where it stands now) and its steps
(append-only), keyed by the hromada's KATOTTG code. The record keeps the hromada's oblast and
raion beside it, as a family's address does, so a reader is confined by territory in one
clause."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.territories.tables import CODE_LENGTH, territory_code_field


def _required(column_type: Any, *args: Any) -> Any:
    return Field(sa_column=Column(column_type, *args, nullable=False))


class FriendlyCommunity(SQLModel, table=True):
    """A hromada in the initiative: its current stage and since when."""

    __tablename__ = "friendly_communities"

    hromada_code: str = Field(
        sa_column=Column(String(CODE_LENGTH), ForeignKey("territories.code"), primary_key=True)
    )
    oblast_code: str = territory_code_field(nullable=False)
    raion_code: str | None = territory_code_field(nullable=True)
    stage: str = _required(String(32))
    stage_on: date = _required(Date)
    created_by: str = _required(Text)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    version: int = Field(sa_column=Column(Integer, nullable=False, server_default="1"))


class FriendlyCommunityStep(SQLModel, table=True):
    """One step of a hromada's way (append-only), by the version of the record it made: the
    stage reached, the day, and the document it rests on (a council decision's number, a
    memorandum's reference…)."""

    __tablename__ = "friendly_community_steps"

    hromada_code: str = Field(
        sa_column=Column(
            String(CODE_LENGTH),
            ForeignKey("friendly_communities.hromada_code"),
            primary_key=True,
        )
    )
    version: int = Field(sa_column=Column(Integer, primary_key=True))
    stage: str = _required(String(32))
    taken_on: date = _required(Date)
    document_reference: str = _required(Text)
    note: str | None = Field(default=None, sa_column=Column(Text))
    recorded_by: str = _required(Text)
    recorded_at: datetime = timestamp_field()


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
friendly_community_table = table_of(FriendlyCommunity)
friendly_community_step_table = table_of(FriendlyCommunityStep)

# Indexes (made by the migrations; declared here so `alembic check` compares them).
Index(
    "ix_friendly_communities_oblast_code_hromada_code",
    friendly_community_table.c.oblast_code,
    friendly_community_table.c.hromada_code,
)
Index(
    "ix_friendly_communities_stage_hromada_code",
    friendly_community_table.c.stage,
    friendly_community_table.c.hromada_code,
)
