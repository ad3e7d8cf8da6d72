"""Reading the register of providers: by id, search, status history, the criteria for
supporting servicemembers' families, and the providers linked to a family.

The register holds no personal data except an individual provider's RNOKPP and name, so reads
are not confined; every read is still audited with the ids it returned (one event per read),
as the individuals' entries are personal data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, true
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.like import contains
from registry.db.pagination import Page, PageRequest, keyset, page_of
from registry.domain.audit.commands import record
from registry.domain.classifier.tables import service_table
from registry.domain.families.access import visible_families
from registry.domain.families.tables import family_provider_access_table, family_table
from registry.domain.providers.access import sees_rnokpp, visible_links
from registry.domain.providers.rules import provider_name_key
from registry.domain.providers.tables import (
    PROVIDER_RNOKPP,
    provider_service_table,
    provider_status_change_table,
    provider_table,
    support_criterion_table,
)
from registry.domain.shared.caller import Caller
from registry.domain.shared.identifiers import mask_identifier
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.territories.queries import require_territory
from registry.errors import FieldError, InvalidInput, NotFound

PROVIDER = "provider"
PROVIDER_LINK = "family_provider_link"
NOT_FOUND = "The register has no provider with this id."

PROVIDER_COLUMNS = (
    provider_table.c.id,
    provider_table.c.kind,
    provider_table.c.sector,
    provider_table.c.edrpou,
    provider_table.c.rnokpp_sealed,
    provider_table.c.full_name,
    provider_table.c.short_name,
    provider_table.c.legal_form,
    provider_table.c.status,
    provider_table.c.status_reason,
    provider_table.c.included_on,
    provider_table.c.excluded_on,
    provider_table.c.phone,
    provider_table.c.email,
    provider_table.c.website,
    provider_table.c.oblast_code,
    provider_table.c.raion_code,
    provider_table.c.hromada_code,
    provider_table.c.settlement_code,
    provider_table.c.address_line,
    provider_table.c.hromadas_served,
    provider_table.c.support_criteria_met,
    provider_table.c.support_verified_by,
    provider_table.c.support_verified_at,
    provider_table.c.created_at,
    provider_table.c.updated_at,
    provider_table.c.version,
)
OFFER_COLUMNS = (
    provider_service_table.c.service_code,
    provider_service_table.c.frequency,
    provider_service_table.c.places,
    provider_service_table.c.capacity,
    provider_service_table.c.tariff_amount,
    provider_service_table.c.tariff_unit,
    provider_service_table.c.urgent,
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


def provider_values(row: RowMapping | dict[str, Any], keys: IdentifierKeys) -> dict[str, Any]:
    """A provider row with its RNOKPP opened in place of the sealed column."""
    provider = {
        ("rnokpp" if name == PROVIDER_RNOKPP.column else name): value
        for name, value in row.items()
        if name != PROVIDER_RNOKPP.index_column
    }
    provider["rnokpp"] = PROVIDER_RNOKPP.opened(keys, row, row["id"])
    return provider


def _render(
    row: RowMapping,
    offers: list[dict[str, Any]],
    active_criteria: Sequence[str],
    *,
    full_rnokpp: bool,
    keys: IdentifierKeys,
) -> dict[str, Any]:
    provider = provider_values(row, keys)
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
                select(
                    provider_service_table.c.provider_id,
                    *OFFER_COLUMNS,
                    service_table.c.name_uk,
                    service_table.c.name_en,
                )
                .join(service_table, service_table.c.code == provider_service_table.c.service_code)
                .where(
                    provider_service_table.c.provider_id.in_(provider_ids),
                    provider_service_table.c.active,
                )
                .order_by(
                    provider_service_table.c.provider_id, provider_service_table.c.service_code
                )
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
        (
            await session.scalars(
                select(support_criterion_table.c.code)
                .where(support_criterion_table.c.active)
                .order_by(support_criterion_table.c.sort_order)
            )
        ).all()
    )


async def providers_by_id(
    session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
) -> list[dict[str, Any]]:
    """The providers among ``ids``, in that order, each with its services (not audited: the
    caller records the action)."""
    if not ids:
        return []
    rows = (
        (await session.execute(select(*PROVIDER_COLUMNS).where(provider_table.c.id.in_(ids))))
        .mappings()
        .all()
    )
    offers = await offers_of(session, [row["id"] for row in rows])
    criteria = await active_criteria(session)
    full = sees_rnokpp(caller.principal)
    by_id = {
        row["id"]: _render(
            row, offers.get(row["id"], []), criteria, full_rnokpp=full, keys=caller.keys
        )
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


async def list_providers(
    session: AsyncSession, caller: Caller, page: PageRequest, where: ProviderFilter
) -> Page[dict[str, Any]]:
    """Providers matching ``where``, in id order (the order they were registered in)."""
    if where.hromada is not None:
        await require_territory(session, "query.hromada", where.hromada, {"H", "K"})
    statement = select(provider_table.c.id)
    if where.service_code is not None:
        statement = statement.where(
            exists().where(
                provider_service_table.c.provider_id == provider_table.c.id,
                provider_service_table.c.service_code == where.service_code,
                provider_service_table.c.active,
            )
        )
    if where.hromada is not None:
        statement = statement.where(provider_table.c.hromadas_served.contains([where.hromada]))
    for column, value in (
        (provider_table.c.sector, where.sector),
        (provider_table.c.kind, where.kind),
        (provider_table.c.status, where.status),
        (provider_table.c.edrpou, where.edrpou),
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
            select(
                func.set_config("pg_trgm.word_similarity_threshold", str(SEARCH_THRESHOLD), true())
            )
        )
        statement = statement.where(
            or_(
                contains(provider_table.c.name_key, key),
                provider_table.c.name_key.op("%>")(key),
            )
        )
    rows = (await session.execute(keyset(statement, [provider_table.c.id], page))).all()
    result = page_of(rows, page, key=lambda row: (row[0],))
    providers = await providers_by_id(session, caller, [row[0] for row in result.items])
    await record(session, caller, "list_providers", PROVIDER, [p["id"] for p in providers])
    return Page(providers, result.next_after)


# --- status history and reference lists --------------------------------------------------------


async def status_history(
    session: AsyncSession, caller: Caller, provider_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every register status the provider has had, oldest first."""
    if not await session.scalar(select(exists().where(provider_table.c.id == provider_id))):
        raise NotFound(NOT_FOUND)
    rows = (
        (
            await session.execute(
                select(
                    provider_status_change_table.c.version,
                    provider_status_change_table.c.from_status,
                    provider_status_change_table.c.to_status,
                    provider_status_change_table.c.effective_on,
                    provider_status_change_table.c.reason,
                    provider_status_change_table.c.actor.label("changed_by"),
                    provider_status_change_table.c.changed_at,
                )
                .where(provider_status_change_table.c.provider_id == provider_id)
                .order_by(provider_status_change_table.c.version)
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
                select(
                    support_criterion_table.c.code,
                    support_criterion_table.c.name_uk,
                    support_criterion_table.c.name_en,
                    support_criterion_table.c.active,
                ).order_by(support_criterion_table.c.sort_order, support_criterion_table.c.code)
            )
        )
        .mappings()
        .all()
    )


# --- the providers linked to a family ----------------------------------------------------------

_LINK_COLUMNS = (
    family_provider_access_table.c.family_id,
    family_provider_access_table.c.provider_id,
    provider_table.c.full_name.label("provider_name"),
    family_provider_access_table.c.granted_at,
    family_provider_access_table.c.granted_by,
    family_provider_access_table.c.reason,
    family_provider_access_table.c.revoked_at,
    family_provider_access_table.c.revoked_by,
    family_provider_access_table.c.revoke_reason,
    family_provider_access_table.c.revoked_at.is_(None).label("active"),
)


async def family_in_reach(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any]:
    """The family's id and status if the caller reaches it (404 otherwise); ``lock``: its row
    locked, for a change of its links."""
    statement = select(family_table.c.id, family_table.c.status).where(
        family_table.c.id == family_id, visible_families(caller.principal)
    )
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).mappings().first()
    if row is None:
        raise NotFound("No family with this id is within your reach.")
    return dict(row)


async def links_of(
    session: AsyncSession, family_id: uuid.UUID, *where: ColumnElement[bool]
) -> list[dict[str, Any]]:
    """The family's links meeting ``where``, current first, the latest granted first."""
    statement = (
        select(*_LINK_COLUMNS)
        .join(provider_table, provider_table.c.id == family_provider_access_table.c.provider_id)
        .where(family_provider_access_table.c.family_id == family_id, *where)
        .order_by(
            family_provider_access_table.c.revoked_at.is_(None).desc(),
            family_provider_access_table.c.granted_at.desc(),
            family_provider_access_table.c.provider_id,
        )
    )
    return [dict(row) for row in (await session.execute(statement)).mappings()]


async def list_links(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The family's providers, current first; a provider's staff see only their own link."""
    await family_in_reach(session, caller, family_id)
    links = await links_of(session, family_id, visible_links(caller.principal))
    await record(
        session,
        caller,
        "list_family_providers",
        PROVIDER_LINK,
        [family_id, *(link["provider_id"] for link in links)],
    )
    return links
