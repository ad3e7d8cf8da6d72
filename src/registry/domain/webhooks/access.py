"""Whose subscriptions a caller sees, and which events a subscription carries.

A subscription is its owner's: a caller sees and changes only those its token's subject
made (another's is a 404). Who may subscribe: whoever may read the change feed and manage
webhooks (``webhooks:manage``: the ministry's administrators; integration clients granted the
scope). A subscription carries what its owner's feed shows, by the feed's own clause
(``changes.access.visible_events``) applied to the reach kept when it subscribed: a client
whose token later names another territory subscribes again to follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_

from registry.auth.principal import Principal
from registry.auth.roles import NATIONAL_REACH_SCOPE, Permission, Role
from registry.domain.changes.access import visible_events
from registry.domain.changes.tables import change_event_table as events
from registry.domain.webhooks.tables import webhook_subscription_table as subscriptions
from registry.errors import Forbidden


def own_subscriptions(principal: Principal) -> ColumnElement[bool]:
    return subscriptions.c.owner == principal.sub


def require_feed(principal: Principal) -> None:
    """403 unless the caller may read the feed a subscription would push."""
    if not principal.can(Permission.CHANGES_READ):
        raise Forbidden(
            "A subscription pushes the change feed: it needs the changes:read permission too."
        )


def reach_kept(principal: Principal) -> dict[str, Any]:
    """The columns that keep the subscriber's reach (what ``subscriber`` rebuilds)."""
    return {
        "role": principal.role.value,
        "territory": principal.territory,
        "provider_id": principal.provider_id,
        "unit_id": principal.unit_id,
        "national": principal.national_reach,
    }


def subscriber(subscription: Mapping[str, Any]) -> Principal:
    """The owner as it subscribed: its role and reach (no permissions: only its reach is
    asked of it)."""
    return Principal(
        sub=subscription["owner"],
        role=Role(subscription["role"]),
        scopes=frozenset({NATIONAL_REACH_SCOPE}) if subscription["national"] else frozenset(),
        territory=subscription["territory"],
        provider_id=subscription["provider_id"],
        unit_id=subscription["unit_id"],
    )


def deliverable_events(subscription: Mapping[str, Any]) -> ColumnElement[bool]:
    """The events a subscription carries: its owner's feed, of its types (all when none)."""
    clause = visible_events(subscriber(subscription))
    if subscription["types"]:
        clause = and_(clause, events.c.resource_type.in_(subscription["types"]))
    return clause
