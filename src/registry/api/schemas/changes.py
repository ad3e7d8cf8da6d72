"""The change feed's shapes: ids, versions and places, never personal data."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from registry.api.schemas.base import Schema


class ChangeEvent(Schema):
    cursor: str = Field(description="Pass as `after` to continue after this event.")
    sequence: int = Field(
        description="The event's place in the feed: numbered once committed, without gaps, "
        "in the order the events can be read."
    )
    resource_type: str = Field(examples=["family"])
    resource_id: str = Field(
        description="The resource's id (a code for services, measures and friendly communities)."
    )
    parent_id: str | None = Field(
        description="The record it is read under: a member's family, an enrolment's or "
        "distribution's programme."
    )
    version: int | None = Field(
        description="The resource's version after the change (for a deadline that passed, the "
        "case's version when it was found); null for records that have none (distributions, "
        "receipts, aid items)."
    )
    action: str = Field(
        description="`created`, `updated`, or `reversed` (a distribution); a deadline that "
        "passed is named by its deadline: `visit_overdue`, `assessment_overdue`, "
        "`duration_exceeded` (a case), `contact_overdue` (a support case), announced once "
        "the day after the due day begins.",
        examples=["updated", "visit_overdue"],
    )
    href: str | None = Field(
        description="Where to read the resource through the API (that read is confined and "
        "audited as any other)."
    )
    oblast_code: str | None
    raion_code: str | None
    hromada_code: str | None
    provider_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    occurred_at: datetime


class ChangeFeed(Schema):
    items: list[ChangeEvent]
    next_cursor: str | None = Field(
        description="Pass as `after` for what follows: the last event's cursor, or the one "
        "sent when nothing new has committed (null only for an empty feed read from the "
        "start). Poll with it; it never skips an event."
    )
