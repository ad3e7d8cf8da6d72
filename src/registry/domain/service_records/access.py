"""Who may read which service records, and on whose behalf a caller submits them.

Reads are confined by a WHERE clause (a record outside the caller's reach is a 404): the
provider that delivered it, or the territory of the family it was delivered to.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, false, true

from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.domain.service_records.tables import service_record_table
from registry.domain.shared.territory import within
from registry.errors import Forbidden


def visible_records(principal: Principal) -> ColumnElement[bool]:
    """The service records ``principal`` may read (callers also need service-records:read)."""
    territory = principal.territory
    if principal.acts_for_provider:
        return service_record_table.c.provider_id == principal.provider_id
    match principal.role:
        case Role.MINISTRY_ADMIN:
            return true()
        case Role.REGIONAL_OFFICER if territory:
            return service_record_table.c.oblast_code == territory
        case Role.COMMUNITY_OFFICER if territory:
            return service_record_table.c.hromada_code == territory
        case Role.INTEGRATION:
            if territory is None:
                return true() if principal.national_reach else false()
            return within(service_record_table, territory)
        case _:
            return false()


def submitting_provider(principal: Principal) -> uuid.UUID:
    """The provider a caller records services for: the one its token names (provider_staff,
    or an integration client of a provider). Nobody records services on a provider's behalf."""
    if principal.acts_for_provider and principal.provider_id:
        return principal.provider_id
    raise Forbidden(
        "Only a provider's staff or systems (a token with provider_id) submit service records."
    )
