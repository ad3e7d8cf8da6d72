"""Who may change which providers, and who sees an individual provider's RNOKPP.

The register is public to every caller holding ``providers:read``: reads are not confined.
Changes are: the ministry keeps the whole register, a community officer the communal
providers of their own hromada, an integration client granted ``providers:manage`` the
providers within its territory (everything without a territory claim).

A family is linked to the providers that serve it by the community officer of its hromada;
the family's reach is the families context's (``visible_families``).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
from registry.domain.families.tables import family_provider_access_table
from registry.domain.providers.rules import Sector


def may_manage(principal: Principal, sector: str, *territories: str | None) -> bool:
    """Whether ``principal`` may keep a provider of ``sector`` whose address has the oblast,
    raion and hromada codes ``territories`` (the hromada last)."""
    match principal.role:
        case Role.MINISTRY_ADMIN:
            return True
        case Role.COMMUNITY_OFFICER:
            return (
                sector == Sector.COMMUNAL
                and principal.territory is not None
                and territories[-1] == principal.territory
            )
        case Role.INTEGRATION:
            if principal.territory is None:
                return principal.national_reach
            return principal.territory in territories
        case _:
            return False


def sees_rnokpp(principal: Principal) -> bool:
    """An individual provider's RNOKPP is personal data: in full to those who keep the
    register or may read identifiers, masked for everyone else."""
    return principal.can(Permission.PROVIDERS_MANAGE) or principal.can(Permission.IDENTIFIERS_READ)


def may_link_providers(principal: Principal) -> bool:
    """Community officers link the families of their hromada (and integration clients
    granted families:write, within their territory; not a provider's own system)."""
    return principal.role is Role.COMMUNITY_OFFICER or (
        principal.role is Role.INTEGRATION
        and not principal.acts_for_provider
        and principal.can(Permission.FAMILIES_WRITE)
    )


def visible_links(principal: Principal) -> ColumnElement[bool]:
    """The links of a family (within reach) ``principal`` sees: a provider's staff their own
    provider's only, everyone else all of them."""
    if principal.acts_for_provider:
        return family_provider_access_table.c.provider_id == principal.provider_id
    return true()
