"""Who may see and change which families, and how much of a person's identifiers they see.

Confinement is a WHERE clause every family query adds (never a check after fetching), so a
family outside the caller's reach is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, false, select, true

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
from registry.domain.families.tables import family_provider_access_table, family_table
from registry.domain.shared.territory import within
from registry.errors import Forbidden


def visible_families(principal: Principal) -> ColumnElement[bool]:
    """The families ``principal`` may read (callers also need ``families:read``)."""
    territory = principal.territory
    if principal.acts_for_provider:
        return family_table.c.id.in_(
            select(family_provider_access_table.c.family_id).where(
                family_provider_access_table.c.provider_id == principal.provider_id,
                family_provider_access_table.c.revoked_at.is_(None),
            )
        )
    match principal.role:
        case Role.MINISTRY_ADMIN:
            return true()
        case Role.REGIONAL_OFFICER if territory:
            return family_table.c.oblast_code == territory
        case Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER if territory:
            return family_table.c.hromada_code == territory
        case Role.INTEGRATION:
            if territory is None:
                return true() if principal.national_reach else false()
            return _within(territory)
        case _:
            return false()


def _within(territory: str) -> ColumnElement[bool]:
    return within(family_table, territory)


def may_keep_families_in(principal: Principal, *territories: str | None) -> bool:
    """Whether ``principal`` may create (or move) a family at an address whose oblast, raion
    and hromada codes are ``territories``: its own hromada, or anywhere in an integration
    client's territory."""
    match principal.role:
        case Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER:
            return principal.territory is not None and territories[-1] == principal.territory
        case Role.INTEGRATION if not principal.acts_for_provider:
            if principal.territory is None:
                return principal.national_reach
            return principal.territory in territories
        case _:
            return False


def may_relocate(
    principal: Principal,
    origin: tuple[str | None, str | None, str],
    to_hromada: str,
    destination: tuple[str | None, str | None, str] | None = None,
) -> bool:
    """Whether ``principal`` may move a family from the address whose oblast, raion and
    hromada codes are ``origin`` to the hromada ``to_hromada`` (whose codes are
    ``destination``, once known; until then, whether the origin allows it): a community
    officer of either hromada (the receiving one reaches the family only through a case of it
    already transferred there: see ``cases.commands.relocate_family``), or an integration
    client whose territory holds both. Social workers, the ministry and everyone else may
    not: moving a family moves its cases, which is the officers' to decide."""
    match principal.role:
        case Role.COMMUNITY_OFFICER:
            return principal.territory is not None and principal.territory in (
                origin[-1],
                to_hromada,
            )
        case Role.INTEGRATION:
            return may_keep_families_in(principal, *origin) and (
                destination is None or may_keep_families_in(principal, *destination)
            )
        case _:
            return False


#: The filters of ``GET /families`` that look a family up by what only some callers see:
#: a person's identifiers (``identifiers:read``), and the family's circumstances, which a
#: provider's staff are not told.
IDENTIFIER_FILTERS = ("rnokpp", "unzr")
CIRCUMSTANCE_FILTERS = ("category", "factor")


def require_filters_allowed(principal: Principal, filters: dict[str, object]) -> None:
    """403 naming the first filter ``principal`` may not use: a filter on a value the caller
    is not shown would let them confirm it (is this number one of the families I see?)."""
    for name in IDENTIFIER_FILTERS:
        if filters.get(name) is not None and not principal.can(Permission.IDENTIFIERS_READ):
            raise Forbidden(
                f"The {name} filter needs the identifiers:read permission.",
                extensions={"filter": name},
            )
    if sees_provider_view(principal):
        for name in CIRCUMSTANCE_FILTERS:
            if filters.get(name) is not None:
                raise Forbidden(
                    f"The {name} filter is not open to a provider's staff: a family's "
                    "circumstances are not shown to providers.",
                    extensions={"filter": name},
                )


def require_registry_keeper(principal: Principal) -> None:
    """403 for a provider's staff: finding members registered twice is keeping the
    registry, not serving a family (and would show other families' birth dates)."""
    if sees_provider_view(principal):
        raise Forbidden("A provider's staff do not check the registry for duplicates.")


def sees_provider_view(principal: Principal) -> bool:
    """Whether ``principal`` is shown families in the provider's shape (``FamilyForProvider``,
    ``MemberForProvider``): an allow-list of what serving a family needs, never the record."""
    return principal.acts_for_provider


class IdentifierView(StrEnum):
    FULL = "full"
    MASKED = "masked"
    HIDDEN = "hidden"


def identifier_view(principal: Principal) -> IdentifierView:
    """RNOKPP, UNZR and IDP certificate numbers: in full to those who work with the family,
    masked to those who oversee, absent for providers (they get only what a referral needs)."""
    if principal.can(Permission.IDENTIFIERS_READ):
        return IdentifierView.FULL
    if principal.acts_for_provider:
        return IdentifierView.HIDDEN
    return IdentifierView.MASKED
