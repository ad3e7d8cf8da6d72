"""Who may see and work what of servicemember-family support.

Reading is confined in the query (outside the caller's reach: 404):

- a unit's side (its liaison, or an integration client whose token names the unit): the
  unit, its servicemembers with their whole status history, its support cases;
- a provider (its staff, or its own system): the units it is assigned to, the support cases
  assigned to it and their servicemembers, whose status it sees only as it stands now;
- a hromada's community officers and social workers (an integration client: its territory):
  read-only, the support cases of families living there and their servicemembers' current
  status, so local services can coordinate;
- the ministry's administrators (an integration client with ``reach:national``): everything.

Working is narrower, and checked on what the caller can see (403): the unit's side records
servicemembers, their status changes and transfers, opens and works its cases; the assigned
provider works its cases (contacts, measures, transitions); the ministry manages units, the
catalogue and assignments, and reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, select, true

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
from registry.domain.families.tables import family_table
from registry.domain.military.tables import (
    military_unit_table,
    servicemember_table,
    support_case_table,
    unit_provider_table,
)
from registry.domain.shared.territory import in_territory
from registry.errors import Forbidden


def for_provider(principal: Principal) -> bool:
    """Whether ``principal`` acts for a provider: it sees its cases in the provider's shape."""
    return principal.acts_for_provider


def for_unit(principal: Principal) -> bool:
    return principal.acts_for_unit


def _national(principal: Principal) -> bool:
    return principal.role is Role.MINISTRY_ADMIN or (
        principal.role is Role.INTEGRATION and principal.national_reach
    )


def sees_status_history(principal: Principal) -> bool:
    """Whether ``principal`` sees a servicemember's status history (and the whole of a
    support case): the unit's side and the ministry; everyone else sees the current status."""
    return for_unit(principal) or _national(principal)


def _families_within(principal: Principal) -> Any:
    """The families of the caller's territory (its hromada; an integration client's oblast,
    raion or hromada)."""
    return select(family_table.c.id).where(in_territory(principal, family_table))


def _by_territory(principal: Principal) -> bool:
    return principal.territory is not None and principal.role in (
        Role.COMMUNITY_OFFICER,
        Role.SOCIAL_WORKER,
        Role.INTEGRATION,
    )


def visible_units(principal: Principal) -> ColumnElement[bool]:
    """The units ``principal`` may read: its own (a liaison), those it is assigned to (a
    provider), all of them (anyone else with military:read; a unit's designation is public)."""
    if for_unit(principal):
        return military_unit_table.c.id == principal.unit_id
    if for_provider(principal):
        return military_unit_table.c.id.in_(
            select(unit_provider_table.c.unit_id).where(
                unit_provider_table.c.provider_id == principal.provider_id
            )
        )
    return true()


def visible_support_cases(principal: Principal) -> ColumnElement[bool]:
    if for_unit(principal):
        # The unit's cases of its servicemembers: a case closed before its servicemember
        # moved to another unit stays the former unit's record, but shows the servicemember
        # as they stand now, which is no longer that unit's to see (row-level security,
        # reaching servicemembers by their unit, hides it the same way).
        return and_(
            support_case_table.c.unit_id == principal.unit_id,
            support_case_table.c.servicemember_id.in_(
                select(servicemember_table.c.id).where(
                    servicemember_table.c.unit_id == principal.unit_id
                )
            ),
        )
    if for_provider(principal):
        return support_case_table.c.provider_id == principal.provider_id
    if _national(principal):
        return true()
    if _by_territory(principal):
        return support_case_table.c.family_id.in_(_families_within(principal))
    return false()


def visible_servicemembers(principal: Principal) -> ColumnElement[bool]:
    if for_unit(principal):
        return servicemember_table.c.unit_id == principal.unit_id
    if for_provider(principal):
        return servicemember_table.c.id.in_(
            select(support_case_table.c.servicemember_id).where(
                support_case_table.c.provider_id == principal.provider_id
            )
        )
    if _national(principal):
        return true()
    if _by_territory(principal):
        return servicemember_table.c.family_id.in_(_families_within(principal))
    return false()


def require_unit_side(principal: Principal, what: str) -> None:
    """403 unless the caller acts for a unit and may write (a liaison)."""
    if not (for_unit(principal) and principal.can(Permission.MILITARY_WRITE)):
        raise Forbidden(f"Only a military unit's liaison {what}.")


def require_assigner(principal: Principal) -> None:
    """Assigning a support case to a provider and worker: the unit's side or the ministry."""
    if for_unit(principal) and principal.can(Permission.MILITARY_WRITE):
        return
    if principal.can(Permission.MILITARY_MANAGE):
        return
    raise Forbidden("Only the unit's liaison or the ministry assigns support cases.")


def require_transferrer(principal: Principal) -> None:
    """Moving a servicemember to another unit: the current unit's side or the ministry."""
    if for_unit(principal) and principal.can(Permission.MILITARY_WRITE):
        return
    if principal.can(Permission.MILITARY_MANAGE):
        return
    raise Forbidden("Only the unit's liaison or the ministry transfers a servicemember.")


def require_case_worker(principal: Principal, case: dict[str, Any]) -> None:
    """403 unless the caller works ``case`` (which it can see): the unit's side, or the
    provider the case is assigned to."""
    if principal.can(Permission.MILITARY_WRITE) and (
        for_unit(principal)
        or (for_provider(principal) and case["provider_id"] == principal.provider_id)
    ):
        return
    raise Forbidden(f"The {principal.role.value} role reads support cases; it does not work them.")
