"""The change events, appended by the tracked tables' triggers (``db/change_tracking.py``).

``position`` numbers an event when it is written; ``sequence`` when it is committed, by the
sequencer (see ``queries``), and the feed is read in that order."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Identity, Index, Integer, String, Text, Uuid
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.territories.tables import CODE_LENGTH


def _code() -> Any:
    return Field(default=None, sa_column=Column(String(CODE_LENGTH)))


class ChangeEvent(SQLModel, table=True):
    __tablename__ = "change_events"
    position: int = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    #: The order of the feed: given once the event is committed (null until then).
    sequence: int | None = Field(default=None, sa_column=Column(BigInteger))
    resource_type: str = Field(sa_column=Column(String(32), nullable=False))
    resource_id: str = Field(sa_column=Column(Text, nullable=False))
    #: The record the resource is read under (a member's family, an enrolment's programme).
    parent_id: str | None = Field(default=None, sa_column=Column(Text))
    version: int | None = Field(default=None, sa_column=Column(Integer))
    action: str = Field(sa_column=Column(String(32), nullable=False))
    oblast_code: str | None = _code()
    raion_code: str | None = _code()
    hromada_code: str | None = _code()
    provider_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    unit_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    occurred_at: datetime = timestamp_field()


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
change_event_table = table_of(ChangeEvent)

_events = change_event_table.c
Index("ix_change_events_sequence", _events.sequence, unique=True)
# The sequencer's work: the committed events not numbered yet.
Index("ix_change_events_unsequenced", _events.position, postgresql_where=_events.sequence.is_(None))
Index("ix_change_events_oblast", _events.oblast_code, _events.sequence)
Index("ix_change_events_hromada", _events.hromada_code, _events.sequence)
# An integration client confined to a raion (or to any territory: its clause names the three
# levels) finds its events by index, not by scanning the whole feed (migration 0018).
Index("ix_change_events_raion", _events.raion_code, _events.sequence)
Index(
    "ix_change_events_provider",
    _events.provider_id,
    _events.sequence,
    postgresql_where=_events.provider_id.isnot(None),
)
Index(
    "ix_change_events_unit",
    _events.unit_id,
    _events.sequence,
    postgresql_where=_events.unit_id.isnot(None),
)
