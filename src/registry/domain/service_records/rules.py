"""What a service record may say, checked without the database: its places, outcomes and
dates. What needs the database (the provider offers the service, the family is referred to
it) is checked by ``ingest`` for a whole submission at once."""

from __future__ import annotations

from datetime import date, timedelta
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


def late_report_problems(
    delivered_on: date, access_ended_on: date | None, today: date, late_reporting_days: int
) -> dict[str, str]:
    """What is wrong with reporting a service delivered on ``delivered_on`` to a family whose
    access the provider had until ``access_ended_on`` (None: it still stands), by field.

    A provider reports what it delivered while its access stood, also for
    ``late_reporting_days`` after the access ended (monthly reporting, a sync resending
    everything); nothing delivered after the end. While the access stands any delivery date
    passes (a link is often recorded after the provider began to serve the family)."""
    if access_ended_on is None:
        return {}
    problems = {}
    if delivered_on > access_ended_on:
        problems["delivered_on"] = (
            f"after your provider's access to this family ended on "
            f"{access_ended_on.isoformat()}: only services delivered while it stood may be "
            "reported"
        )
    last_day = access_ended_on + timedelta(days=late_reporting_days)
    if today > last_day:
        problems["family_id"] = (
            f"your provider's access to this family ended on {access_ended_on.isoformat()}; "
            f"services delivered before could be reported until {last_day.isoformat()} "
            f"({late_reporting_days} days), no longer"
        )
    return problems
