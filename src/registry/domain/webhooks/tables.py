"""Subscriptions and the log of their delivery attempts.

A subscription's own columns are what its owner set (URL, types, status) and its reach; its
delivery state (``position``, ``failures``, ``next_attempt_at``) is the worker's and changes
no version: a client holding an ETag is not refused because an event went out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from registry.db.base import table_of, timestamp_field
from registry.domain.shared.sealing import SealedField, SealedTable
from registry.domain.territories.tables import CODE_LENGTH


def _required(column_type: Any, **kwargs: Any) -> Any:
    return Field(sa_column=Column(column_type, nullable=False, **kwargs))


def _optional(column_type: Any) -> Any:
    return Field(default=None, sa_column=Column(column_type))


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'disabled')", name="status"),
        CheckConstraint("(status = 'active') = (disabled_reason IS NULL)", name="disabled_reason"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    #: The token subject that subscribed: only it sees and changes the subscription.
    owner: str = _required(Text)
    # The owner's reach when it subscribed: the events delivered are those its feed shows.
    role: str = _required(String(32))
    territory: str | None = _optional(String(CODE_LENGTH))
    provider_id: uuid.UUID | None = _optional(Uuid)
    unit_id: uuid.UUID | None = _optional(Uuid)
    national: bool = _required(Boolean, server_default="false")
    url: str = _required(Text)
    #: The resource types delivered; empty: every type.
    types: list[str] = _required(ARRAY(String(32)), server_default="{}")
    secret_sealed: bytes = _required(LargeBinary)
    status: str = _required(String(16), server_default="active")
    #: ``requested`` (its owner disabled it) or ``failing`` (the worker, after a run of
    #: failed attempts); null while active.
    disabled_reason: str | None = _optional(String(16))
    #: The sequence number of the last event delivered, or passed over as not the
    #: subscription's; the next delivery is the first event after it.
    position: int = _required(BigInteger, server_default="0")
    #: Consecutive failed attempts of the event at hand.
    failures: int = _required(Integer, server_default="0")
    next_attempt_at: datetime = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    version: int = _required(Integer, server_default="1")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class WebhookDelivery(SQLModel, table=True):
    """One attempt to deliver one event: written once, never changed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (CheckConstraint("outcome IN ('delivered', 'failed')", name="outcome"),)

    id: int = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    subscription_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("webhook_subscriptions.id"), nullable=False)
    )
    #: The event's place in the feed (``change_events.sequence``).
    sequence: int = _required(BigInteger)
    #: 1 for the first attempt of this event, 2 for its first retry…
    attempt: int = _required(Integer)
    attempted_at: datetime = timestamp_field()
    outcome: str = _required(String(16))
    #: The receiver's HTTP status, when it answered.
    status_code: int | None = _optional(Integer)
    #: Why an attempt without an answer failed: ``timeout``, ``connection``,
    #: ``refused_target`` (the address is not public), ``invalid_url``.
    error: str | None = _optional(String(32))
    duration_ms: int = _required(Integer)


#: Each table as SQLAlchemy Core sees it: ``<name>_table.c.<column>``, typed, for statements.
webhook_subscription_table = table_of(WebhookSubscription)
webhook_delivery_table = table_of(WebhookDelivery)

_subscriptions = webhook_subscription_table.c
Index("ix_webhook_subscriptions_owner", _subscriptions.owner, _subscriptions.id)
# The worker's work: the active subscriptions whose next attempt is due.
Index(
    "ix_webhook_subscriptions_due",
    _subscriptions.next_attempt_at,
    postgresql_where=_subscriptions.status == "active",
)
Index(
    "ix_webhook_deliveries_subscription",
    webhook_delivery_table.c.subscription_id,
    webhook_delivery_table.c.id,
)

#: The signing secret, sealed with the identifier keys (it must open to sign, so it cannot be
#: hashed), bound to its subscription's row; resealed by ``registry keys rotate``.
SUBSCRIPTION_SECRET = SealedField("secret", "webhook_subscriptions.secret", "secret_sealed")
SEALED_SUBSCRIPTIONS = SealedTable(webhook_subscription_table, ("id",), (SUBSCRIPTION_SECRET,))
