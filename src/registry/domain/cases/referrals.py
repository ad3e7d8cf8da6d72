"""Referrals of a case to a provider for a measure of the plan.

The provider accepts or declines. Accepting lets the provider's staff see the case and the
family's minimal data and record services for the family — through the same grant a
community officer's link gives (``family_provider_access``) — and declining, closing the
referral or closing the case takes that away again (unless another referral or a standing
link still holds it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.db.base import table_of
from registry.db.ids import new_id
from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.cases.access import visible_cases
from registry.domain.cases.tables import Case, CaseMeasure, Referral
from registry.domain.cases.working import case_for_change
from registry.domain.families.tables import FamilyProviderAccess
from registry.domain.providers.tables import Provider
from registry.domain.shared.caller import Caller
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound

REFERRAL = "referral"
_c = Case.__table__.c  # type: ignore[attr-defined]
_ref = Referral.__table__.c  # type: ignore[attr-defined]
_m = CaseMeasure.__table__.c  # type: ignore[attr-defined]
_a = FamilyProviderAccess.__table__.c  # type: ignore[attr-defined]
_pr = Provider.__table__.c  # type: ignore[attr-defined]
_NOT_FOUND = "No referral with this id is within your reach."
#: ``family_provider_access.reason`` of a grant a referral made (a link's reason is free text).
_GRANTED_BY_REFERRAL = "referral"


def _visible_referrals(principal: Principal) -> Any:
    """A provider's staff see the referrals to their provider; others those of the cases
    they see."""
    if principal.role is Role.PROVIDER_STAFF or (
        principal.role is Role.INTEGRATION and principal.provider_id is not None
    ):
        return _ref.provider_id == principal.provider_id
    return _ref.case_id.in_(select(_c.id).where(visible_cases(principal)))


async def refer(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, values: dict[str, Any], today: date
) -> dict[str, Any]:
    """Refer the case to a provider (for a measure of its plan, or a service)."""
    current = await case_for_change(session, caller, case_id, None, today)
    if current["status"] not in ("planning", "active", "review"):
        raise Conflict(
            "A case is referred to providers once its plan is being made.",
            extensions={"case_status": current["status"]},
        )
    provider_id, service_code = values["provider_id"], values.get("service_code")
    if values.get("measure_id") is not None:
        measure = (
            await session.execute(
                select(_m.provider_id, _m.service_code).where(
                    _m.id == values["measure_id"], _m.case_id == case_id
                )
            )
        ).first()
        if measure is None:
            raise InvalidInput(
                "No such measure in this case.",
                errors=[FieldError("body.measure_id", "not a measure of this case")],
            )
        service_code = service_code or measure.service_code
    status = await session.scalar(select(_pr.status).where(_pr.id == provider_id))
    if status != "active":
        raise InvalidInput(
            "The provider is not active in the register.",
            errors=[FieldError("body.provider_id", "not an active provider")],
        )
    referral_id = new_id()
    await session.execute(
        insert(Referral).values(
            id=referral_id,
            case_id=case_id,
            measure_id=values.get("measure_id"),
            provider_id=provider_id,
            service_code=service_code,
            note=values.get("note"),
            created_by=caller.principal.sub,
        )
    )
    await record(
        session, caller, "refer_case", REFERRAL, [referral_id, case_id, current["family_id"]]
    )
    return await _referral(session, referral_id)


async def _referral(session: AsyncSession, referral_id: uuid.UUID) -> dict[str, Any]:
    return dict(
        (await session.execute(select(table_of(Referral)).where(_ref.id == referral_id)))
        .mappings()
        .one()
    )


async def get_referral(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID
) -> dict[str, Any]:
    row = (
        (
            await session.execute(
                select(table_of(Referral)).where(
                    _ref.id == referral_id, _visible_referrals(caller.principal)
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(_NOT_FOUND)
    await record(session, caller, "get_referral", REFERRAL, [referral_id, row["case_id"]])
    return dict(row)


@dataclass(frozen=True, slots=True)
class ReferralFilter:
    status: str | None = None
    case_id: uuid.UUID | None = None


async def list_referrals(
    session: AsyncSession, caller: Caller, page: PageRequest, where: ReferralFilter
) -> Page[dict[str, Any]]:
    statement = select(table_of(Referral)).where(_visible_referrals(caller.principal))
    if where.status is not None:
        statement = statement.where(_ref.status == where.status)
    if where.case_id is not None:
        statement = statement.where(_ref.case_id == where.case_id)
    rows = (await session.execute(keyset(statement, [_ref.id], page))).mappings().all()
    result = page_of([dict(row) for row in rows], page, key=lambda row: (row["id"],))
    await record(
        session,
        caller,
        "list_referrals",
        REFERRAL,
        [*(r["id"] for r in result.items), *{r["case_id"] for r in result.items}],
    )
    return result


async def _for_provider(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID
) -> dict[str, Any]:
    """The referral, locked, when it is to the caller's provider and still pending."""
    principal = caller.principal
    row = (
        (
            await session.execute(
                select(table_of(Referral))
                .where(_ref.id == referral_id, _visible_referrals(principal))
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(_NOT_FOUND)
    if principal.provider_id is None or row["provider_id"] != principal.provider_id:
        raise Forbidden("Only the provider a case is referred to accepts or declines.")
    if row["status"] != "pending":
        raise Conflict(f"The referral is {row['status']}, no longer pending.")
    return dict(row)


async def _family_of(session: AsyncSession, case_id: uuid.UUID) -> uuid.UUID:
    family_id = await session.scalar(select(_c.family_id).where(_c.id == case_id))
    assert family_id is not None  # a referral's case exists
    return uuid.UUID(str(family_id))


async def accept(session: AsyncSession, caller: Caller, referral_id: uuid.UUID) -> dict[str, Any]:
    referral = await _for_provider(session, caller, referral_id)
    family_id = await _family_of(session, referral["case_id"])
    await session.execute(
        update(Referral)
        .where(_ref.id == referral_id)
        .values(
            status="accepted",
            decided_at=func.now(),
            decided_by=caller.principal.sub,
            updated_at=func.now(),
            version=_ref.version + 1,
        )
    )
    # The grant a link makes; a standing link keeps its own reason.
    await session.execute(
        upsert(FamilyProviderAccess)
        .values(
            family_id=family_id,
            provider_id=referral["provider_id"],
            granted_by=caller.principal.sub,
            reason=_GRANTED_BY_REFERRAL,
        )
        .on_conflict_do_update(
            index_elements=["provider_id", "family_id"],
            set_={
                "granted_at": func.now(),
                "granted_by": caller.principal.sub,
                "reason": _GRANTED_BY_REFERRAL,
                "revoked_at": None,
                "revoked_by": None,
                "revoke_reason": None,
            },
            where=_a.revoked_at.is_not(None),
        )
    )
    await record(
        session, caller, "accept_referral", REFERRAL, [referral_id, referral["case_id"], family_id]
    )
    return await _referral(session, referral_id)


async def decline(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID, reason: str
) -> dict[str, Any]:
    referral = await _for_provider(session, caller, referral_id)
    await session.execute(
        update(Referral)
        .where(_ref.id == referral_id)
        .values(
            status="declined",
            decline_reason=reason,
            decided_at=func.now(),
            decided_by=caller.principal.sub,
            updated_at=func.now(),
            version=_ref.version + 1,
        )
    )
    await record(session, caller, "decline_referral", REFERRAL, [referral_id, referral["case_id"]])
    return await _referral(session, referral_id)


async def close(
    session: AsyncSession, caller: Caller, referral_id: uuid.UUID, today: date
) -> dict[str, Any]:
    """Close a referral (the measure is done or dropped): the provider's access ends."""
    row = (
        (
            await session.execute(
                select(table_of(Referral)).where(
                    _ref.id == referral_id, _visible_referrals(caller.principal)
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(_NOT_FOUND)
    current = await case_for_change(session, caller, row["case_id"], None, today, open_only=False)
    if row["status"] in ("closed", "declined"):
        raise Conflict(f"The referral is already {row['status']}.")
    await _close(session, caller, [dict(row)], current["family_id"])
    await record(
        session,
        caller,
        "close_referral",
        REFERRAL,
        [referral_id, row["case_id"], current["family_id"]],
    )
    return await _referral(session, referral_id)


async def close_case_referrals(session: AsyncSession, caller: Caller, case: dict[str, Any]) -> None:
    """Closing a case closes its open referrals."""
    rows = (
        (
            await session.execute(
                select(table_of(Referral)).where(
                    _ref.case_id == case["id"], _ref.status.in_(["pending", "accepted"])
                )
            )
        )
        .mappings()
        .all()
    )
    await _close(session, caller, [dict(row) for row in rows], case["family_id"])


async def _close(
    session: AsyncSession, caller: Caller, referrals: list[dict[str, Any]], family_id: uuid.UUID
) -> None:
    if not referrals:
        return
    ids = [r["id"] for r in referrals]
    await session.execute(
        update(Referral)
        .where(_ref.id.in_(ids))
        .values(
            status="closed", closed_at=func.now(), updated_at=func.now(), version=_ref.version + 1
        )
    )
    for provider_id in {r["provider_id"] for r in referrals if r["status"] == "accepted"}:
        still_referred = await session.scalar(
            select(func.count())
            .select_from(Referral)
            .join(Case, _c.id == _ref.case_id)
            .where(
                _ref.provider_id == provider_id,
                _ref.status == "accepted",
                _c.family_id == family_id,
            )
        )
        if still_referred:
            continue
        await session.execute(
            update(FamilyProviderAccess)
            .where(
                and_(
                    _a.provider_id == provider_id,
                    _a.family_id == family_id,
                    _a.reason == _GRANTED_BY_REFERRAL,
                    _a.revoked_at.is_(None),
                )
            )
            .values(
                revoked_at=func.now(),
                revoked_by=caller.principal.sub,
                revoke_reason="referral closed",
            )
        )
