"""The caller's reach as the database's row-level security reads it (``db.reach``): the same
confinement every context's ``access`` module puts in its queries, said once for the
database, so that a query that forgot its WHERE clause still finds nothing outside it."""

from __future__ import annotations

from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.db.reach import NATIONAL, NOWHERE, Reach


def reach_of(principal: Principal) -> Reach:
    """A provider's staff and systems: the families it serves (and their cases and records);
    a territorial role: its oblast or hromada; a military liaison (or an integration client
    whose token names a unit): its unit's servicemembers, their families and support cases;
    an integration client: its territory, or the country when its token carries
    ``reach:national``; the ministry's administrators: the country; everyone else (the
    analyst, the auditor, an integration client of neither): no personal row."""
    if principal.acts_for_provider:
        return Reach(provider_id=principal.provider_id)
    if principal.acts_for_unit:
        return Reach(unit_id=principal.unit_id)
    match principal.role:
        case Role.MINISTRY_ADMIN:
            return NATIONAL
        case Role.REGIONAL_OFFICER | Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER:
            return Reach(territory=principal.territory) if principal.territory else NOWHERE
        case Role.INTEGRATION if principal.territory:
            return Reach(territory=principal.territory)
        case Role.INTEGRATION if principal.national_reach:
            return NATIONAL
        case _:
            return NOWHERE
