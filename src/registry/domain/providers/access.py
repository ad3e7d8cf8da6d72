"""Who may change which providers, and who sees an individual provider's RNOKPP.

The register is public to every caller holding ``providers:read``: reads are not confined.
Changes are: the ministry keeps the whole register, a community officer the communal
providers of their own hromada, an integration client granted ``providers:manage`` the
providers within its territory (everything without a territory claim).
"""

from __future__ import annotations

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
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
            return principal.territory is None or principal.territory in territories
        case _:
            return False


def sees_rnokpp(principal: Principal) -> bool:
    """An individual provider's RNOKPP is personal data: in full to those who keep the
    register or may read identifiers, masked for everyone else."""
    return principal.can(Permission.PROVIDERS_MANAGE) or principal.can(Permission.IDENTIFIERS_READ)
