"""Whose changes a caller follows: the events of what the caller could reach through the API.

- the ministry's administrators and integration clients with ``reach:national``: all;
- a regional officer: events placed in their oblast; a community officer: in their
  hromada; an integration client with a ``territory``: in that oblast, raion or hromada;
- a provider (its staff, or its own system): events naming the provider (its record, its
  service records, referrals to it, support cases assigned to it, distributions made to it);
- a military unit's liaison (or its system): events naming the unit.

Events placed nowhere and naming no provider or unit (the classifier's services, the
support measures, programmes, aid items) are changes of reference data every caller may
read, and are in every feed.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, true

from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.domain.changes.tables import change_event_table as events
from registry.domain.shared.territory import in_territory


def _reference_data() -> ColumnElement[bool]:
    return and_(
        events.c.oblast_code.is_(None), events.c.provider_id.is_(None), events.c.unit_id.is_(None)
    )


def _reached(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.MINISTRY_ADMIN or (
        principal.role is Role.INTEGRATION and principal.national_reach
    ):
        return true()
    if principal.acts_for_provider:
        return events.c.provider_id == principal.provider_id
    if principal.acts_for_unit:
        return events.c.unit_id == principal.unit_id
    return in_territory(principal, events)


def visible_events(principal: Principal) -> ColumnElement[bool]:
    return or_(_reached(principal), _reference_data())
