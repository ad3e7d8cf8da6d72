"""How an event is shown: as a feed's item (``GET /api/v1/changes``) and as a webhook's body
alike, with the cursor to continue after it and where to read its resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.db.pagination import encode_cursor

#: Where each resource is read, from an event's ``resource_id`` and ``parent_id``.
HREFS = {
    "aid_item": "/api/v1/aid-items/{id}",
    "aid_receipt": "/api/v1/aid-stock?hromada={hromada}",
    "case": "/api/v1/cases/{id}",
    "family": "/api/v1/families/{id}",
    "friendly_community": "/api/v1/friendly-communities/{id}",
    "member": "/api/v1/families/{parent}/members/{id}",
    "military_unit": "/api/v1/military-units/{id}",
    "programme": "/api/v1/programmes/{id}",
    "programme_distribution": "/api/v1/programmes/{parent}/distributions/{id}",
    "programme_enrolment": "/api/v1/programmes/{parent}/enrolments/{id}",
    "provider": "/api/v1/providers/{id}",
    "referral": "/api/v1/referrals/{id}",
    "service": "/api/v1/services/{id}",
    "service_record": "/api/v1/service-records/{id}",
    "servicemember": "/api/v1/servicemembers/{id}",
    "support_case": "/api/v1/support-cases/{id}",
    "support_measure": "/api/v1/support-measures/{id}",
}


def feed_cursor(sequence: int) -> str:
    """The cursor that continues the feed after the event numbered ``sequence``."""
    return encode_cursor((sequence,))


def feed_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event's row (``queries.EVENT_FIELDS``) as the feed shows it: with its ``cursor``
    and ``href``."""
    href = HREFS.get(row["resource_type"])
    return {
        **row,
        "cursor": feed_cursor(row["sequence"]),
        "href": None
        if href is None
        else href.format(
            id=row["resource_id"], parent=row["parent_id"], hromada=row["hromada_code"]
        ),
    }
