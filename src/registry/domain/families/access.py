"""Who may see and change which families, and how much of a person's identifiers they see.

Confinement is a WHERE clause every family query adds (never a check after fetching), so a
family outside the caller's reach is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, false, or_, select, true

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
from registry.domain.families.tables import family_provider_access_table, family_table


def visible_families(principal: Principal) -> ColumnElement[bool]:
    """The families ``principal`` may read (callers also need ``families:read``)."""
    territory = principal.territory
    match principal.role:
        case Role.MINISTRY_ADMIN:
            return true()
        case Role.REGIONAL_OFFICER if territory:
            return family_table.c.oblast_code == territory
        case Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER if territory:
            return family_table.c.hromada_code == territory
        case Role.PROVIDER_STAFF if principal.provider_id:
            return family_table.c.id.in_(
                select(family_provider_access_table.c.family_id).where(
                    family_provider_access_table.c.provider_id == principal.provider_id,
                    family_provider_access_table.c.revoked_at.is_(None),
                )
            )
        case Role.INTEGRATION:
            return _within(territory) if territory else true()
        case _:
            return false()


def _within(territory: str) -> ColumnElement[bool]:
    # Codes are unique across levels, so one comparison per level finds the unit wherever it
    # sits: an oblast, a raion or a hromada.
    return or_(
        family_table.c.oblast_code == territory,
        family_table.c.raion_code == territory,
        family_table.c.hromada_code == territory,
    )


def may_keep_families_in(principal: Principal, *territories: str | None) -> bool:
    """Whether ``principal`` may create (or move) a family at an address whose oblast, raion
    and hromada codes are ``territories``: its own hromada, or anywhere in an integration
    client's territory."""
    match principal.role:
        case Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER:
            return principal.territory is not None and territories[-1] == principal.territory
        case Role.INTEGRATION:
            return principal.territory is None or principal.territory in territories
        case _:
            return False


class IdentifierView(StrEnum):
    FULL = "full"
    MASKED = "masked"
    HIDDEN = "hidden"


def identifier_view(principal: Principal) -> IdentifierView:
    """RNOKPP, UNZR and IDP certificate numbers: in full to those who work with the family,
    masked to those who oversee, absent for providers (they get only what a referral needs)."""
    if principal.can(Permission.IDENTIFIERS_READ):
        return IdentifierView.FULL
    if principal.role is Role.PROVIDER_STAFF:
        return IdentifierView.HIDDEN
    return IdentifierView.MASKED
