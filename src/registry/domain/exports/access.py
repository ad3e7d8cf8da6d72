"""Whose exports a caller sees, what they may export, and how the worker acts as the requester.

An export is its requester's alone: another caller (even of the same role and territory) gets
a 404, as for any record beyond reach. What it holds is confined by the requester's reach with
the contexts' own clauses (``families.access.visible_families``, ``cases.access.visible_cases``)
and shaped as the API shows it to them; the worker rebuilds the requester's ``Principal`` from
the claims kept with the export, so the same clauses and the same masking apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement

from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.domain.exports.rules import TYPE_PERMISSIONS
from registry.domain.exports.tables import export_table
from registry.errors import FieldError, Forbidden, InvalidInput


def own_exports(principal: Principal) -> ColumnElement[bool]:
    """The exports ``principal`` requested (with the very same identity: the same subject
    with another role or reach is another caller)."""
    return export_table.c.requester == principal.identity


def require_types_readable(principal: Principal, types: Sequence[str]) -> None:
    """403 naming the first type whose read permission the caller lacks: an export holds only
    what the caller could read through the API."""
    for record_type in types:
        permission = TYPE_PERMISSIONS[record_type]
        if not principal.can(permission):
            raise Forbidden(
                f"Exporting {record_type} records needs the {permission.value} permission.",
                extensions={"record_type": record_type},
            )


def require_territory_within_reach(principal: Principal, chain: Sequence[str]) -> None:
    """422 unless the territory whose codes from the oblast down are ``chain`` lies within
    the caller's reach: anywhere for national reach, else inside the caller's own territory.
    A caller acting for a provider or a military unit reaches no territory as such."""
    if _national(principal):
        return
    if (
        principal.territory is not None
        and not principal.acts_for_provider
        and not principal.acts_for_unit
        and principal.territory in chain
    ):
        return
    raise InvalidInput(
        "The territory is not within your reach.",
        errors=[FieldError("body.territory", "not within the territory your token reaches")],
    )


def _national(principal: Principal) -> bool:
    return principal.role is Role.MINISTRY_ADMIN or (
        principal.role is Role.INTEGRATION and principal.national_reach
    )


def claims_of(principal: Principal) -> dict[str, Any]:
    """What the worker needs to act as ``principal``: the claims it was made from."""
    return {
        "sub": principal.sub,
        "role": principal.role.value,
        "scope": " ".join(sorted(principal.scopes)),
        "territory": principal.territory,
        "provider_id": str(principal.provider_id) if principal.provider_id else None,
        "unit_id": str(principal.unit_id) if principal.unit_id else None,
    }


def requester_of(claims: dict[str, Any]) -> Principal:
    """The requester again, from ``claims_of``: the same role's permissions, the same reach."""
    return Principal.from_claims({name: value for name, value in claims.items() if value})
