"""Who may see and work which cases.

Reading is confined in the query (a case outside the caller's reach is a 404): the hromada's
officers and social workers, the oblast's regional officers, the ministry, and a provider's
staff for the cases referred to their provider (an accepted referral); a referral is seen by
the provider it is to and by whoever sees its case. Working a case is narrower, and checked
on a case the caller can see (403): a social worker works only the cases assigned to them, a
community officer every case of the hromada.

A provider sees a case through its provider's eyes (``for_provider``): a provider's staff,
or a provider's own system (an integration client whose token names the provider). It reads
only the cases referred to it, each part in a shape of its own that lists what a provider
may see (dates and kinds; no free text the case's workers wrote, nobody's notes), and it
never works a case.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select, true

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
from registry.domain.cases.tables import case_table, referral_table
from registry.domain.shared.territory import within
from registry.errors import Forbidden


def for_provider(principal: Principal) -> bool:
    """Whether ``principal`` acts for a provider (its staff or its own system): it sees the
    cases referred to the provider, in the provider's shapes."""
    return principal.acts_for_provider


def visible_cases(principal: Principal) -> ColumnElement[bool]:
    """The cases ``principal`` may read (callers also need cases:read)."""
    territory = principal.territory
    if for_provider(principal):
        return case_table.c.id.in_(referred_to(principal))
    match principal.role:
        case Role.MINISTRY_ADMIN:
            return true()
        case Role.REGIONAL_OFFICER if territory:
            return case_table.c.oblast_code == territory
        case Role.COMMUNITY_OFFICER | Role.SOCIAL_WORKER if territory:
            return case_table.c.hromada_code == territory
        case Role.INTEGRATION:
            if territory is None:
                return true() if principal.national_reach else false()
            return within(case_table, territory)
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
    if for_provider(principal):
        return referral_table.c.provider_id == principal.provider_id
    return referral_table.c.case_id.in_(select(case_table.c.id).where(visible_cases(principal)))


def require_worker_of(principal: Principal, case: dict[str, Any]) -> None:
    """403 unless ``principal`` may work ``case`` (which it can see): its assigned social
    worker, an officer of the hromada it is in, or an integration client with cases:write."""
    if not principal.can(Permission.CASES_WRITE) or for_provider(principal):
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
        principal.role is Role.INTEGRATION
        and principal.can(Permission.CASES_WRITE)
        and not for_provider(principal)
    ):
        return
    raise Forbidden("Only a community officer assigns and transfers cases.")


def require_caseload_reader(principal: Principal) -> None:
    """The caseload is a management view of the territory's workers: a provider has no
    need of it (403)."""
    if for_provider(principal):
        raise Forbidden("The caseload is for the territory's officers and workers, not providers.")
