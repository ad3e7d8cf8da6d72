"""A caller's territory as a clause on a table's address columns: one rule for every context
whose rows carry ``oblast_code``, ``raion_code`` and ``hromada_code``."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, false, or_

from registry.auth.principal import Principal
from registry.auth.roles import Role


def in_territory(principal: Principal, table: Table) -> ColumnElement[bool]:
    """The rows of ``table`` in the caller's own territory: a hromada's officers and workers
    their hromada, a regional officer their oblast, an integration client the oblast, raion
    or hromada its token names; nothing for a caller without a territory."""
    territory = principal.territory
    if territory is None:
        return false()
    match principal.role:
        case Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER:
            return table.c.hromada_code == territory
        case Role.REGIONAL_OFFICER:
            return table.c.oblast_code == territory
        case Role.INTEGRATION:
            return within(table, territory)
        case _:
            return false()


def within(table: Table, code: str) -> ColumnElement[bool]:
    """The rows of ``table`` in the oblast, raion or hromada ``code`` (KATOTTG codes are
    unique across levels, so one of the three columns holds it)."""
    return or_(
        table.c.oblast_code == code,
        table.c.raion_code == code,
        table.c.hromada_code == code,
    )
