"""Reading the register of providers: by id, search, status history, and the criteria for
supporting servicemembers' families.

The register holds no personal data except an individual provider's RNOKPP and name, so reads
are not confined; every read is still audited with the ids it returned (one event per read),
as the individuals' entries are personal data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.classifier.tables import Service
from registry.domain.providers.access import sees_rnokpp
from registry.domain.providers.rules import provider_name_key
from registry.domain.providers.tables import (
    Provider,
    ProviderService,
    ProviderStatusChange,
    SupportCriterion,
)
from registry.domain.shared.caller import Caller
from registry.domain.shared.identifiers import mask_identifier
from registry.domain.territories.queries import require_territory
from registry.errors import FieldError, InvalidInput, NotFound

PROVIDER = "provider"
_pr = Provider.__table__.c  # type: ignore[attr-defined]
_ps = ProviderService.__table__.c  # type: ignore[attr-defined]
_sc = ProviderStatusChange.__table__.c  # type: ignore[attr-defined]
_cr = SupportCriterion.__table__.c  # type: ignore[attr-defined]
_s = Service.__table__.c  # type: ignore[attr-defined]
NOT_FOUND = "The register has no provider with this id."

PROVIDER_COLUMNS = (
    _pr.id,
    _pr.kind,
    _pr.sector,
    _pr.edrpou,
    _pr.rnokpp,
    _pr.full_name,
    _pr.short_name,
    _pr.legal_form,
    _pr.status,
    _pr.status_reason,
    _pr.included_on,
    _pr.excluded_on,
    _pr.phone,
    _pr.email,
    _pr.website,
    _pr.oblast_code,
    _pr.raion_code,
    _pr.hromada_code,
    _pr.settlement_code,
    _pr.address_line,
    _pr.hromadas_served,
    _pr.support_criteria_met,
    _pr.support_verified_by,
    _pr.support_verified_at,
    _pr.created_at,
    _pr.updated_at,
    _pr.version,
)
OFFER_COLUMNS = (
    _ps.service_code,
    _ps.frequency,
    _ps.places,
    _ps.capacity,
    _ps.tariff_amount,
    _ps.tariff_unit,
    _ps.urgent,
)
#: How alike a name must be to a search text (pg_trgm word similarity) to match it with a
#: typo; a text contained in the name always matches.
SEARCH_THRESHOLD = 0.5


# --- one provider, rendered --------------------------------------------------------------------


def render_offer(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    offer = {name: row[name] for name in ("service_code", "frequency", "capacity", "urgent")}
    offer["places"] = sorted(row["places"])
    offer["name_uk"], offer["name_en"] = row.get("name_uk"), row.get("name_en")
    amount = row["tariff_amount"]
    offer["tariff"] = (
        None if amount is None else {"amount": f"{amount:.2f}", "unit": row["tariff_unit"]}
    )
    return offer


def _render(
    row: RowMapping,
    offers: list[dict[str, Any]],
    active_criteria: Sequence[str],
    *,
    full_rnokpp: bool,
) -> dict[str, Any]:
    provider = dict(row)
    criteria = provider.pop("support_criteria_met")
    provider["servicemember_support"] = {
        "criteria_met": criteria,
        "eligible": bool(active_criteria) and set(active_criteria) <= set(criteria),
        "verified_by": provider.pop("support_verified_by"),
        "verified_at": provider.pop("support_verified_at"),
    }
    if not full_rnokpp:
        provider["rnokpp"] = mask_identifier(provider["rnokpp"])
    provider["services"] = offers
    return provider


async def offers_of(
    session: AsyncSession, provider_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The services each provider offers now, in code order, with the services' names."""
    if not provider_ids:
        return {}
    rows = (
        (
            await session.execute(
                select(_ps.provider_id, *OFFER_COLUMNS, _s.name_uk, _s.name_en)
                .join(Service, _s.code == _ps.service_code)
                .where(_ps.provider_id.in_(provider_ids), _ps.active)
                .order_by(_ps.provider_id, _ps.service_code)
            )
        )
        .mappings()
        .all()
    )
    offers: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        offers.setdefault(row["provider_id"], []).append(render_offer(row))
    return offers


async def active_criteria(session: AsyncSession) -> list[str]:
    return list(
        (await session.scalars(select(_cr.code).where(_cr.active).order_by(_cr.sort_order))).all()
    )


async def providers_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    """The providers among ``ids``, in that order, each with its services (not audited: the
    caller records the action)."""
    if not ids:
        return []
    rows = (
        (await session.execute(select(*PROVIDER_COLUMNS).where(_pr.id.in_(ids)))).mappings().all()
    )
    offers = await offers_of(session, [row["id"] for row in rows])
    criteria = await active_criteria(session)
    full = sees_rnokpp(caller.principal)
    by_id = {
        row["id"]: _render(row, offers.get(row["id"], []), criteria, full_rnokpp=full)
        for row in rows
    }
    return [by_id[i] for i in ids if i in by_id]


async def get_provider(
    session: AsyncSession, caller: Caller, provider_id: uuid.UUID
) -> dict[str, Any]:
    found = await providers_by_id(session, caller, [provider_id])
    if not found:
        raise NotFound(NOT_FOUND)
    await record(session, caller, "get_provider", PROVIDER, [provider_id])
    return found[0]


# --- search ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderFilter:
    service_code: str | None = None
    hromada: str | None = None
    sector: str | None = None
    kind: str | None = None
    status: str | None = None
    q: str | None = None
    edrpou: str | None = None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_providers(
    session: AsyncSession, caller: Caller, page: PageRequest, where: ProviderFilter
) -> Page[dict[str, Any]]:
    """Providers matching ``where``, in id order (the order they were registered in)."""
    if where.hromada is not None:
        await require_territory(session, "query.hromada", where.hromada, {"H", "K"})
    statement = select(_pr.id)
    if where.service_code is not None:
        statement = statement.where(
            exists().where(
                _ps.provider_id == _pr.id, _ps.service_code == where.service_code, _ps.active
            )
        )
    if where.hromada is not None:
        statement = statement.where(_pr.hromadas_served.contains([where.hromada]))
    for column, value in (
        (_pr.sector, where.sector),
        (_pr.kind, where.kind),
        (_pr.status, where.status),
        (_pr.edrpou, where.edrpou),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if where.q is not None:
        key = provider_name_key(where.q, None)
        if not key:
            raise InvalidInput(
                "The search text has no letters or digits.",
                errors=[FieldError("query.q", "must contain letters or digits")],
            )
        await session.execute(
            text("SELECT set_config('pg_trgm.word_similarity_threshold', :threshold, true)"),
            {"threshold": str(SEARCH_THRESHOLD)},
        )
        statement = statement.where(
            or_(
                _pr.name_key.like("%" + _escape_like(key) + "%", escape="\\"),
                _pr.name_key.op("%>")(key),
            )
        )
    rows = (await session.execute(keyset(statement, [_pr.id], page))).all()
    result = page_of(rows, page, key=lambda row: (row[0],))
    providers = await providers_by_id(session, caller, [row[0] for row in result.items])
    await record(session, caller, "list_providers", PROVIDER, [p["id"] for p in providers])
    return Page(providers, result.next_after)


# --- status history and reference lists --------------------------------------------------------


async def status_history(
    session: AsyncSession, caller: Caller, provider_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every register status the provider has had, oldest first."""
    if not await session.scalar(select(exists().where(_pr.id == provider_id))):
        raise NotFound(NOT_FOUND)
    rows = (
        (
            await session.execute(
                select(
                    _sc.version,
                    _sc.from_status,
                    _sc.to_status,
                    _sc.effective_on,
                    _sc.reason,
                    _sc.actor.label("changed_by"),
                    _sc.changed_at,
                )
                .where(_sc.provider_id == provider_id)
                .order_by(_sc.version)
            )
        )
        .mappings()
        .all()
    )
    await record(session, caller, "get_provider_status_history", PROVIDER, [provider_id])
    return [dict(row) for row in rows]


async def support_criteria(session: AsyncSession) -> list[RowMapping]:
    """The criteria for supporting servicemembers' families, in their order."""
    return list(
        (
            await session.execute(
                select(_cr.code, _cr.name_uk, _cr.name_en, _cr.active).order_by(
                    _cr.sort_order, _cr.code
                )
            )
        )
        .mappings()
        .all()
    )
