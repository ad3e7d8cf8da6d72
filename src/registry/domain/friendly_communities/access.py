"""Who may see and record what of the initiative.

Reading is confined in the query (outside the caller's reach: 404):

- a hromada's community officers and social workers: their hromada;
- a regional officer: the hromadas of their oblast;
- an integration client: the hromadas of its territory (oblast, raion or hromada), or all of
  them with ``reach:national``;
- the ministry's administrators: all of them.

A provider (its staff, or its own system) takes no part in the initiative's records: 403.

Recording, checked on a hromada the caller reaches (403): the hromada's side
(``programmes:write``) records the steps up to the assessment; the status is the national
committee's, so ``status_awarded`` and ``status_withdrawn`` are recorded by the ministry
(``programmes:manage``), which may record any step.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
from registry.domain.friendly_communities.rules import MINISTRY_STAGES, Stage
from registry.domain.friendly_communities.tables import friendly_community_table
from registry.errors import Forbidden


def require_taking_part(principal: Principal) -> None:
    """403 for a caller who acts for a provider: the initiative is the hromadas' and the
    ministry's."""
    if principal.acts_for_provider:
        raise Forbidden(
            "A provider takes no part in the Child and Youth Friendly Community initiative's "
            "records."
        )


def within(principal: Principal, oblast_code: Any, raion_code: Any, hromada_code: Any) -> Any:
    """Whether a hromada (its oblast, raion and hromada codes: columns, or values as SQL
    literals) is within the caller's reach, as one clause."""
    if principal.role is Role.MINISTRY_ADMIN or principal.national_reach:
        return true()
    territory = principal.territory
    if territory is None or principal.acts_for_provider:
        return false()
    if principal.role in (Role.COMMUNITY_OFFICER, Role.SOCIAL_WORKER):
        return hromada_code == territory
    if principal.role is Role.REGIONAL_OFFICER:
        return oblast_code == territory
    if principal.role is Role.INTEGRATION:
        return or_(oblast_code == territory, raion_code == territory, hromada_code == territory)
    return false()


def visible_communities(principal: Principal) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = within(
        principal,
        friendly_community_table.c.oblast_code,
        friendly_community_table.c.raion_code,
        friendly_community_table.c.hromada_code,
    )
    return clause


def require_recorder(principal: Principal, stage: Stage) -> None:
    """403 unless the caller may record ``stage`` (on a hromada it reaches)."""
    if principal.can(Permission.PROGRAMMES_MANAGE):
        return
    if stage in MINISTRY_STAGES:
        raise Forbidden(
            f"The status is the national committee's to award and withdraw: only the ministry "
            f"records {stage.value}."
        )
    if not principal.can(Permission.PROGRAMMES_WRITE):
        raise Forbidden(
            f"The {principal.role.value} role reads the initiative's records; it does not "
            "record steps."
        )
