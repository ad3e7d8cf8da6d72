"""What a service record may say, checked without the database: its places, outcomes and
dates. What needs the database (the provider offers the service, the family is referred to
it) is checked by ``ingest`` for a whole submission at once."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

#: The Law "On Social Services" No. 2671-VIII took effect on 2020-01-01; records start there.
EARLIEST_DELIVERY = date(2020, 1, 1)
MAX_UNITS = 10_000
MAX_DURATION_MINUTES = 31 * 24 * 60
#: How many records one batch may carry.
MAX_BATCH = 10_000
#: A provider's own id for a record (printable ASCII), unique per provider.
EXTERNAL_REF_PATTERN = r"^[\x21-\x7e]{1,100}$"

#: What a provider states about a delivered service (and may amend).
CONTENT_FIELDS = (
    "family_id",
    "person_id",
    "service_code",
    "delivered_on",
    "units",
    "duration_minutes",
    "place",
    "outcome",
    "notes",
    "case_id",
)
#: What a version of a record holds, as kept in its history.
VERSIONED_FIELDS = (*CONTENT_FIELDS, "status", "void_reason")


class Place(StrEnum):
    """Where a service is delivered (the classifier's delivery attributes)."""

    HOME = "home"
    STREET = "street"
    SEMI_RESIDENTIAL = "semi_residential"
    RESIDENTIAL = "residential"
    ONLINE = "online"
    PHONE = "phone"


class Outcome(StrEnum):
    DELIVERED = "delivered"
    PARTIALLY_DELIVERED = "partially_delivered"
    REFUSED_BY_RECIPIENT = "refused_by_recipient"
    RECIPIENT_ABSENT = "recipient_absent"
    REFERRED_ELSEWHERE = "referred_elsewhere"


def delivery_date_problem(delivered_on: date, today: date) -> str | None:
    if delivered_on > today:
        return "must not be in the future"
    if delivered_on < EARLIEST_DELIVERY:
        return f"must not be before {EARLIEST_DELIVERY.isoformat()}"
    return None
