"""Who may see and work which cases.

Reading is confined in the query (a case outside the caller's reach is a 404): the hromada's
officers and social workers, the oblast's regional officers, the ministry, and a provider's
staff for the cases referred to their provider (an accepted referral); a referral is seen by
the provider it is to and by whoever sees its case. Working a case is narrower, and checked
on a case the caller can see (403): a social worker works only the cases assigned to them, a
community officer every case of the hromada.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
from registry.domain.cases.tables import case_table, referral_table
from registry.errors import Forbidden


def visible_cases(principal: Principal) -> ColumnElement[bool]:
    """The cases ``principal`` may read (callers also need cases:read)."""
    territory = principal.territory
    match principal.role:
        case Role.MINISTRY_ADMIN:
            return true()
        case Role.REGIONAL_OFFICER if territory:
            return case_table.c.oblast_code == territory
        case Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER if territory:
            return case_table.c.hromada_code == territory
        case Role.PROVIDER_STAFF if principal.provider_id:
            return case_table.c.id.in_(referred_to(principal))
        case Role.INTEGRATION:
            if territory is None:
                return true()
            return or_(
                case_table.c.oblast_code == territory,
                case_table.c.raion_code == territory,
                case_table.c.hromada_code == territory,
            )
        case _:
            return false()


def referred_to(principal: Principal) -> Any:
    """The cases referred to the caller's provider (accepted referrals)."""
    return select(referral_table.c.case_id).where(
        referral_table.c.provider_id == principal.provider_id, referral_table.c.status == "accepted"
    )


def visible_referrals(principal: Principal) -> ColumnElement[bool]:
    """A provider's staff see the referrals to their provider; others those of the cases
    they see."""
    if principal.role is Role.PROVIDER_STAFF or (
        principal.role is Role.INTEGRATION and principal.provider_id is not None
    ):
        return referral_table.c.provider_id == principal.provider_id
    return referral_table.c.case_id.in_(select(case_table.c.id).where(visible_cases(principal)))


def require_worker_of(principal: Principal, case: dict[str, Any]) -> None:
    """403 unless ``principal`` may work ``case`` (which it can see): its assigned social
    worker, an officer of the hromada it is in, or an integration client with cases:write."""
    if not principal.can(Permission.CASES_WRITE):
        raise Forbidden(f"The {principal.role.value} role may not work cases.")
    match principal.role:
        case Role.COMMUNITY_OFFICER:
            return
        case Role.SOCIAL_WORKER if case["worker_sub"] == principal.sub:
            return
        case Role.SOCIAL_WORKER:
            raise Forbidden(
                "The case is assigned to another social worker (or to none); "
                "you may read it, not work it."
            )
        case Role.INTEGRATION:
            return
    raise Forbidden(f"The {principal.role.value} role may not work cases.")


def require_manager_of(principal: Principal) -> None:
    """Assigning workers and transferring cases is the community officer's."""
    if principal.role is Role.COMMUNITY_OFFICER or (
        principal.role is Role.INTEGRATION and principal.can(Permission.CASES_WRITE)
    ):
        return
    raise Forbidden("Only a community officer assigns and transfers cases.")
