"""Who may see and work what of community programmes.

Reading is confined in the query (outside the caller's reach: 404, or left out of a list):

- a hromada's community officers: its allocations, enrolments, distributions and stock;
  its social workers: its enrolments (they accompany the families) and nothing else;
- a regional officer: all of that in their oblast; an integration client: its territory,
  or the country with ``reach:national``; the ministry's administrators: everything;
- a provider (its staff, or its own system): the distributions made to it and the
  programmes they were made under, nothing else (403).

Programmes and aid items are not personal: anyone holding ``programmes:read`` reads them
(but a provider, which sees only the programmes that distributed to it). Working is
narrower: the ministry manages programmes, allocations and the item catalogue; a community
officer (``programmes:write``) enrols, distributes, reverses and records stock in their own
hromada.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, false, select, true

from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.domain.programmes.tables import distribution_table, programme_table
from registry.domain.shared.territory import in_territory
from registry.errors import Forbidden


def for_provider(principal: Principal) -> bool:
    return principal.acts_for_provider


def national(principal: Principal) -> bool:
    return principal.role is Role.MINISTRY_ADMIN or (
        principal.role is Role.INTEGRATION and principal.national_reach
    )


def within_territory(principal: Principal, table: Table) -> ColumnElement[bool]:
    """The rows of ``table`` (with ``oblast_code``, ``raion_code``, ``hromada_code``) in the
    caller's territory."""
    if national(principal):
        return true()
    if for_provider(principal):
        return false()
    return in_territory(principal, table)


def reaches_hromada(
    principal: Principal, oblast_code: str, raion_code: str | None, hromada: str
) -> bool:
    """``within_territory`` for one hromada, in Python (a write names its hromada)."""
    if national(principal):
        return True
    territory = principal.territory
    if territory is None or for_provider(principal):
        return False
    match principal.role:
        case Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER:
            return hromada == territory
        case Role.REGIONAL_OFFICER:
            return oblast_code == territory
        case Role.INTEGRATION:
            return territory in (oblast_code, raion_code, hromada)
        case _:
            return False


def visible_programmes(principal: Principal) -> ColumnElement[bool]:
    if for_provider(principal):
        return programme_table.c.id.in_(
            select(distribution_table.c.programme_id).where(
                distribution_table.c.provider_id == principal.provider_id
            )
        )
    return true()


def visible_distributions(principal: Principal) -> ColumnElement[bool]:
    if for_provider(principal):
        return distribution_table.c.provider_id == principal.provider_id
    return within_territory(principal, distribution_table)


def require_territorial_reader(principal: Principal, what: str) -> None:
    """403 for a provider: it sees the distributions made to it and nothing else here; and
    for a social worker, who reads a hromada's enrolments only."""
    if for_provider(principal):
        raise Forbidden(f"A provider sees only the distributions made to it, not {what}.")
    if principal.role is Role.SOCIAL_WORKER:
        raise Forbidden(f"A social worker reads a programme's enrolments, not {what}.")


def require_enrolment_reader(principal: Principal) -> None:
    if for_provider(principal):
        raise Forbidden("A provider sees only the distributions made to it, not enrolments.")


def require_distribution_reader(principal: Principal) -> None:
    if principal.role is Role.SOCIAL_WORKER:
        raise Forbidden("A social worker reads a programme's enrolments, not its distributions.")
