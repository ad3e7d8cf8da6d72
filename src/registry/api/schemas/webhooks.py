"""Webhook subscriptions' shapes: what a client sets, what it reads, and each attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from registry.api.schemas.base import InputSchema, NotNull, Schema, refuse_null
from registry.api.schemas.words import worded
from registry.domain.changes.queries import RESOURCE_TYPES
from registry.domain.webhooks.rules import URL_MAX_LENGTH, DisabledReason, SubscriptionStatus

ResourceTypeName = Annotated[
    str,
    Field(
        pattern=worded(
            "^(" + "|".join(RESOURCE_TYPES) + ")$", "must be a resource type of the feed"
        ),
        examples=["family"],
    ),
]
FeedCursor = Annotated[
    str,
    Field(
        max_length=200,
        pattern=worded(r"^[A-Za-z0-9_-]+$", "must be a cursor of this feed, unchanged"),
        description="A cursor of the change feed (an event's `cursor`, or a `next_cursor`).",
    ),
]
WebhookUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=URL_MAX_LENGTH,
        pattern=worded(
            r"^https?://[^/?#\s]+(?:[/?#]\S*)?$",
            "must be a web address starting with https:// (http:// only where the "
            "deployment allows it)",
        ),
        examples=["https://hub.example.gov.ua/registry/events"],
        description="Where the events are posted: an `https` URL of a public host (see the "
        "README's *Webhooks*: no credentials, no fragment; private and loopback addresses "
        "only where the deployment allows them).",
    ),
]
Types = Annotated[
    list[ResourceTypeName],
    Field(
        max_length=len(RESOURCE_TYPES),
        description="The resource types delivered; empty: every type.",
    ),
]


class WebhookSubscriptionCreate(InputSchema):
    url: WebhookUrl
    types: Types = Field(default_factory=list)
    after: FeedCursor | None = Field(
        default=None,
        description="Start after this event of the feed (the cursor you last processed); "
        "absent: only events from now on.",
    )


class WebhookSubscriptionPatch(InputSchema):
    """A merge patch: the URL, the types, or the status (`disabled` stops deliveries;
    `active` resumes them from where they stopped, the failures forgotten)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    url: WebhookUrl | NotNull = None
    types: Types | NotNull = None
    status: SubscriptionStatus | NotNull = None

    _not_null = field_validator("url", "types", "status")(refuse_null)


class WebhookReplay(InputSchema):
    after: FeedCursor | None = Field(
        default=None,
        description="Deliver again every event after this one; absent or null: from the "
        "feed's beginning.",
    )


class WebhookSubscription(Schema):
    id: uuid.UUID
    url: str
    types: list[str] = Field(description="The resource types delivered; empty: every type.")
    status: SubscriptionStatus
    disabled_reason: DisabledReason | None = Field(
        description="`requested` (you disabled it) or `failing` (disabled after "
        "REGISTRY_WEBHOOK_MAX_FAILURES failed attempts in a row); null while active."
    )
    position: str | None = Field(
        description="The feed cursor of the last event delivered (or passed over as not "
        "this subscription's); the next delivery is the first event after it."
    )
    failures: int = Field(description="Failed attempts in a row of the event at hand.")
    next_attempt_at: datetime = Field(description="When the next attempt is due (if active).")
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookSubscriptionWithSecret(WebhookSubscription):
    secret: str = Field(
        description="The signing secret (`whsec_` and base64): shown only in this answer "
        "(a retry with the same Idempotency-Key shows it again); keep it to verify "
        "`webhook-signature`.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookDelivery(Schema):
    id: int
    sequence: int = Field(description="The event's place in the feed.")
    cursor: str = Field(description="The event's feed cursor (`after` of a replay).")
    webhook_id: str = Field(description="The `webhook-id` header sent (the same on retries).")
    attempt: int = Field(description="1 for the event's first attempt, 2 for its first retry…")
    attempted_at: datetime
    outcome: str = Field(description="`delivered` (a 2xx answer) or `failed`.")
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered.")
    error: str | None = Field(
        description="Why there was no answer: `timeout`, `connection`, `refused_target` "
        "(the host is or resolves to a non-public address), `invalid_url`."
    )
    duration_ms: int
