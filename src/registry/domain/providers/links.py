"""Links between a family and the providers that serve it. A community officer links a
family to a provider; while the link stands, the provider's staff see the family and record
the services they deliver to it. Revoking keeps the link as history. (Referrals from cases
will grant the same access.)"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.auth.roles import Permission, Role
from registry.domain.audit.commands import record
from registry.domain.families.access import visible_families
from registry.domain.families.tables import Family, FamilyProviderAccess
from registry.domain.providers.tables import Provider
from registry.domain.shared.caller import Caller
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound

PROVIDER_LINK = "family_provider_link"
_f = Family.__table__.c  # type: ignore[attr-defined]
_a = FamilyProviderAccess.__table__.c  # type: ignore[attr-defined]
_pr = Provider.__table__.c  # type: ignore[attr-defined]

_LINK_COLUMNS = (
    _a.family_id,
    _a.provider_id,
    _pr.full_name.label("provider_name"),
    _a.granted_at,
    _a.granted_by,
    _a.reason,
    _a.revoked_at,
    _a.revoked_by,
    _a.revoke_reason,
    _a.revoked_at.is_(None).label("active"),
)


def may_link_providers(principal: Principal) -> bool:
    """Community officers link the families of their hromada (and integration clients
    granted families:write, within their territory)."""
    return principal.role is Role.COMMUNITY_OFFICER or (
        principal.role is Role.INTEGRATION and principal.can(Permission.FAMILIES_WRITE)
    )


async def _family_in_reach(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID, *, for_change: bool
) -> dict[str, Any]:
    statement = select(_f.id, _f.status).where(
        _f.id == family_id, visible_families(caller.principal)
    )
    if for_change:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise NotFound("No family with this id is within your reach.")
    if for_change and not may_link_providers(caller.principal):
        raise Forbidden("Only a community officer links families to providers.")
    return dict(row)


async def _links(
    session: AsyncSession, family_id: uuid.UUID, provider_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    statement = (
        select(*_LINK_COLUMNS)
        .join(Provider, _pr.id == _a.provider_id)
        .where(_a.family_id == family_id)
        .order_by(_a.revoked_at.is_(None).desc(), _a.granted_at.desc(), _a.provider_id)
    )
    if provider_id is not None:
        statement = statement.where(_a.provider_id == provider_id)
    return [dict(row) for row in (await session.execute(statement)).mappings()]


async def list_links(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The family's providers, current first; a provider's staff see only their own link."""
    await _family_in_reach(session, caller, family_id, for_change=False)
    links = await _links(
        session,
        family_id,
        caller.principal.provider_id if caller.principal.role is Role.PROVIDER_STAFF else None,
    )
    await record(
        session,
        caller,
        "list_family_providers",
        PROVIDER_LINK,
        [family_id, *(link["provider_id"] for link in links)],
    )
    return links


async def link(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    provider_id: uuid.UUID,
    reason: str | None,
) -> tuple[dict[str, Any], bool]:
    """Link the family to an active provider; returns the link and whether it is new (a
    standing link is returned as it is; a revoked one is granted again)."""
    family = await _family_in_reach(session, caller, family_id, for_change=True)
    if family["status"] != "active":
        raise Conflict("The family is archived; an archived family cannot be linked.")
    status = await session.scalar(select(_pr.status).where(_pr.id == provider_id))
    if status is None:
        raise InvalidInput(
            "No such provider.",
            errors=[FieldError("body.provider_id", "not a provider of the register")],
        )
    if status != "active":
        raise Conflict(f"The provider is not active in the register (status {status}).")
    granted = (
        await session.execute(
            insert(FamilyProviderAccess)
            .values(
                family_id=family_id,
                provider_id=provider_id,
                granted_by=caller.principal.sub,
                reason=reason,
            )
            .on_conflict_do_update(
                index_elements=["provider_id", "family_id"],
                set_={
                    "granted_at": func.now(),
                    "granted_by": caller.principal.sub,
                    "reason": reason,
                    "revoked_at": None,
                    "revoked_by": None,
                    "revoke_reason": None,
                },
                where=_a.revoked_at.is_not(None),
            )
            .returning(_a.provider_id)
        )
    ).first()
    await record(session, caller, "link_family_provider", PROVIDER_LINK, [family_id, provider_id])
    (current,) = await _links(session, family_id, provider_id)
    return current, granted is not None


async def revoke(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID, provider_id: uuid.UUID, reason: str
) -> dict[str, Any]:
    await _family_in_reach(session, caller, family_id, for_change=True)
    revoked = (
        await session.execute(
            update(FamilyProviderAccess)
            .where(
                _a.family_id == family_id, _a.provider_id == provider_id, _a.revoked_at.is_(None)
            )
            .values(revoked_at=func.now(), revoked_by=caller.principal.sub, revoke_reason=reason)
            .returning(_a.provider_id)
        )
    ).first()
    if revoked is None:
        raise NotFound("The family is not linked to this provider.")
    await record(session, caller, "revoke_family_provider", PROVIDER_LINK, [family_id, provider_id])
    (current,) = await _links(session, family_id, provider_id)
    return current
