"""Changing the register of providers: registering a provider (status pending), changing its
entry, and moving it through the register statuses. Each function checks the caller may keep
the provider, validates the whole resulting record (every problem at once, nothing written
on failure), bumps the version, notes what changed and records the audit event, all in the
caller's transaction (it only flushes).

Also linking a family to the providers that serve it: a community officer links a family to
a provider; while the link stands, the provider's staff see the family and record the
services they deliver to it. Revoking keeps the link as history. (Referrals from cases will
grant the same access.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.ids import new_id
from registry.domain.audit.commands import record
from registry.domain.classifier.tables import service_table
from registry.domain.families.tables import family_provider_access_table
from registry.domain.providers import queries
from registry.domain.providers.access import may_link_providers, may_manage
from registry.domain.providers.queries import PROVIDER, PROVIDER_LINK
from registry.domain.providers.rules import (
    ProviderStatus,
    allowed_transitions,
    clean_provider,
    status_change_problems,
)
from registry.domain.providers.tables import (
    PROVIDER_RNOKPP,
    provider_service_table,
    provider_status_change_table,
    provider_table,
    support_criterion_table,
)
from registry.domain.shared.caller import Caller
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.territories.queries import locate_address
from registry.domain.territories.tables import territory_table
from registry.domain.versioning import Versioned, VersionedWrite, note_change
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound

PROVIDERS = Versioned(provider_table, PROVIDER)

#: The provider's own values, stored as they are (the address and the offers on their own).
_FIELDS = (
    "kind",
    "sector",
    "edrpou",
    "rnokpp",
    "full_name",
    "short_name",
    "legal_form",
    "phone",
    "email",
    "website",
    "address_line",
    "hromadas_served",
    "support_criteria_met",
)
_ADDRESS = ("oblast_code", "raion_code", "hromada_code", "settlement_code")
_OFFER_FIELDS = (
    "service_code",
    "frequency",
    "places",
    "capacity",
    "tariff_amount",
    "tariff_unit",
    "urgent",
)
_IDENTIFIERS = ("edrpou", "rnokpp")


def _reach(address: dict[str, Any]) -> tuple[str | None, str | None, str]:
    return address["oblast_code"], address["raion_code"], address["hromada_code"]


def _collecting(errors: list[FieldError], rule: Callable[..., Any], *args: Any) -> Any:
    try:
        return rule(*args)
    except InvalidInput as error:
        errors.extend(error.errors)
        return None


# --- registering ---------------------------------------------------------------------------------


async def create_provider(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    """Register a provider; it starts pending. Every invalid field is reported at once."""
    given = {name for name, value in values.items() if value is not None}
    if "hromadas_served" not in given:  # where it is (checked as the address's hromada)
        values = {**values, "hromadas_served": [values["hromada_code"]]}
    errors: list[FieldError] = []
    provider = _collecting(errors, clean_provider, values)
    address = await _collecting_async(
        errors, locate_address(session, values["hromada_code"], values.get("settlement_code"))
    )
    errors.extend(await _reference_problems(session, values, given))
    if errors or provider is None or address is None:
        raise InvalidInput("The record has invalid fields; see errors.", errors=errors)
    if not may_manage(caller.principal, provider["sector"], *_reach(address)):
        raise Forbidden("You may register only communal providers of your own hromada.")

    provider_id = new_id()
    stored = {
        **address,
        **{name: provider.get(name) for name in _FIELDS},
        "name_key": provider["name_key"],
    }
    if stored["support_criteria_met"]:
        stored.update(support_verified_by=caller.principal.sub, support_verified_at=func.now())
    await _refuse_known_identifiers(session, caller, provider)
    try:
        async with session.begin_nested():
            await session.execute(
                insert(provider_table).values(
                    id=provider_id,
                    status=ProviderStatus.PENDING.value,
                    created_by=caller.principal.sub,
                    **_provider_columns(caller.keys, provider_id, stored),
                )
            )
    except IntegrityError as error:
        await _lost_race(session, caller, provider, error)
    await _write_offers(session, provider_id, provider["services"] or [], [])
    await session.execute(
        insert(provider_status_change_table).values(
            provider_id=provider_id,
            version=1,
            from_status=None,
            to_status=ProviderStatus.PENDING.value,
            effective_on=caller.today,
            reason=None,
            actor=caller.principal.sub,
        )
    )
    await note_change(
        session,
        PROVIDER,
        provider_id,
        1,
        [
            *(k for k, v in stored.items() if v is not None and k != "name_key"),
            "services",
            "status",
        ],
        caller.principal.sub,
    )
    await record(session, caller, "create_provider", PROVIDER, [provider_id])
    (created,) = await queries.providers_by_id(session, caller, [provider_id])
    return created


async def _collecting_async(errors: list[FieldError], awaitable: Any) -> Any:
    try:
        return await awaitable
    except InvalidInput as error:
        errors.extend(error.errors)
        return None


async def _reference_problems(
    session: AsyncSession,
    values: dict[str, Any],
    changed: set[str],
    offered: frozenset[str] = frozenset(),
) -> list[FieldError]:
    """Codes that must name rows of the database, checked (one query per list) when given:
    hromadas served must be hromadas, offered services active in the classifier (or
    already offered by this provider), criteria in their list."""
    problems: list[FieldError] = []
    hromadas = values.get("hromadas_served") or []
    if "hromadas_served" in changed and hromadas:
        known = set(
            (
                await session.scalars(
                    select(territory_table.c.code).where(
                        territory_table.c.code.in_(hromadas),
                        territory_table.c.category.in_(("H", "K")),
                    )
                )
            ).all()
        )
        unknown = sorted(set(hromadas) - known)
        if unknown:
            problems.append(
                FieldError(
                    "body.hromadas_served",
                    "not hromadas of the KATOTTG codifier: " + ", ".join(unknown),
                )
            )
    criteria = values.get("support_criteria_met") or []
    if "support_criteria_met" in changed and criteria:
        known = set(
            (
                await session.scalars(
                    select(support_criterion_table.c.code).where(
                        support_criterion_table.c.code.in_(criteria),
                        support_criterion_table.c.active,
                    )
                )
            ).all()
        )
        unknown = sorted(set(criteria) - known)
        if unknown:
            problems.append(
                FieldError(
                    "body.support_criteria_met",
                    "not codes of /support-criteria: " + ", ".join(unknown),
                )
            )
    offers = values.get("services") or []
    if "services" in changed and offers:
        codes = [offer["service_code"] for offer in offers]
        known = (
            set(
                (
                    await session.scalars(
                        select(service_table.c.code).where(
                            service_table.c.code.in_(codes), service_table.c.active
                        )
                    )
                ).all()
            )
            | offered
        )
        problems.extend(
            FieldError(
                f"body.services.{i}.service_code",
                "not an active service of the classifier (/services)",
            )
            for i, code in enumerate(codes)
            if code not in known
        )
    return problems


def _provider_columns(
    keys: IdentifierKeys, provider_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    """A provider's values as stored: its RNOKPP (if among them) sealed, with its blind index."""
    if PROVIDER_RNOKPP.name not in values:
        return values
    columns = {k: v for k, v in values.items() if k != PROVIDER_RNOKPP.name}
    return {**columns, **PROVIDER_RNOKPP.stored(keys, values[PROVIDER_RNOKPP.name], provider_id)}


async def _refuse_known_identifiers(
    session: AsyncSession,
    caller: Caller,
    provider: dict[str, Any],
    *,
    provider_id: uuid.UUID | None = None,
) -> None:
    """409 when another provider has this EDRPOU or RNOKPP (the same blind index), naming it
    (the register is public)."""
    for name in _IDENTIFIERS:
        number = provider.get(name)
        if number is None:
            continue
        found = (
            provider_table.c.rnokpp_index == caller.keys.blind_index(name, number)
            if name == PROVIDER_RNOKPP.name
            else provider_table.c[name] == number
        )
        statement = select(provider_table.c.id).where(found)
        if provider_id is not None:
            statement = statement.where(provider_table.c.id != provider_id)
        holder = await session.scalar(statement)
        if holder is not None:
            raise Conflict(
                f"A provider with this {name.upper()} is already in the register.",
                errors=[FieldError(f"body.{name}", "already registered for another provider")],
                extensions={"existing_provider_id": str(holder)},
            )


async def _lost_race(
    session: AsyncSession,
    caller: Caller,
    provider: dict[str, Any],
    error: IntegrityError,
    *,
    provider_id: uuid.UUID | None = None,
) -> None:
    """A concurrent request registered the same identifier between our check and our write
    (refused inside a savepoint, so the transaction lives on): answer as the check would."""
    constraint = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)
    if constraint not in ("uq_providers_edrpou", "uq_providers_rnokpp"):
        raise error
    await _refuse_known_identifiers(session, caller, provider, provider_id=provider_id)
    name = constraint.removeprefix("uq_providers_")
    raise Conflict(
        f"A provider with this {name.upper()} is already in the register.",
        errors=[FieldError(f"body.{name}", "already registered")],
    )


async def _write_offers(
    session: AsyncSession,
    provider_id: uuid.UUID,
    offers: Sequence[dict[str, Any]],
    current: Sequence[dict[str, Any]],
) -> None:
    """Make ``offers`` the provider's services. An offer withdrawn is kept inactive (what a
    provider offered stays known), one offered again is active again."""
    codes = [offer["service_code"] for offer in offers]
    withdrawn = [offer["service_code"] for offer in current if offer["service_code"] not in codes]
    if withdrawn:
        await session.execute(
            update(provider_service_table)
            .where(
                provider_service_table.c.provider_id == provider_id,
                provider_service_table.c.service_code.in_(withdrawn),
            )
            .values(active=False)
        )
    if not offers:
        return
    statement = pg_insert(provider_service_table).values(
        [
            {"provider_id": provider_id, **{k: offer[k] for k in _OFFER_FIELDS}, "active": True}
            for offer in offers
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["provider_id", "service_code"],
            set_={
                **{k: statement.excluded[k] for k in _OFFER_FIELDS if k != "service_code"},
                "active": True,
            },
        )
    )


# --- changing the entry --------------------------------------------------------------------------


async def _provider_for_change(
    session: AsyncSession, caller: Caller, provider_id: uuid.UUID, expected_version: int | None
) -> VersionedWrite:
    """The provider's row, locked: in the register (else 404), the caller's to keep (else
    403), at ``expected_version`` (else 412)."""
    write = await VersionedWrite.lock(session, caller, PROVIDERS, provider_id)
    if write is None:
        raise NotFound(queries.NOT_FOUND)
    if not may_manage(caller.principal, write.current["sector"], *_reach(write.current)):
        raise Forbidden("You may change only communal providers of your own hromada.")
    await write.check_version(expected_version)
    return write


async def _current_offers(session: AsyncSession, provider_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = (
        (
            await session.execute(
                select(*queries.OFFER_COLUMNS)
                .where(
                    provider_service_table.c.provider_id == provider_id,
                    provider_service_table.c.active,
                )
                .order_by(provider_service_table.c.service_code)
            )
        )
        .mappings()
        .all()
    )
    return [{**row, "places": sorted(row["places"])} for row in rows]


async def update_provider(
    session: AsyncSession,
    caller: Caller,
    provider_id: uuid.UUID,
    patch: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """Apply a JSON merge patch to the provider's entry; ``services`` replaces the whole
    list. The register status changes only through :func:`change_status`."""
    write = await _provider_for_change(session, caller, provider_id, expected_version)
    current = queries.provider_values(write.current, caller.keys)
    if current["status"] == ProviderStatus.EXCLUDED:
        raise Conflict(
            "The provider is excluded from the register; its entry is kept as it "
            "was. Move it back to pending (a new application) to change it."
        )
    offers = await _current_offers(session, provider_id)
    merged = {
        **{name: current[name] for name in (*_FIELDS, "hromada_code", "settlement_code")},
        "services": None,
        **patch,
    }
    errors: list[FieldError] = []
    provider = _collecting(errors, clean_provider, merged)
    address = {name: current[name] for name in _ADDRESS}
    if (merged["hromada_code"], merged.get("settlement_code")) != (
        current["hromada_code"],
        current["settlement_code"],
    ):
        address = await _collecting_async(
            errors, locate_address(session, merged["hromada_code"], merged.get("settlement_code"))
        )
    errors.extend(
        await _reference_problems(
            session, merged, set(patch), frozenset(offer["service_code"] for offer in offers)
        )
    )
    if errors or provider is None or address is None:
        raise InvalidInput("The record has invalid fields; see errors.", errors=errors)
    if not may_manage(caller.principal, provider["sector"], *_reach(address)):
        raise Forbidden("A communal provider of your hromada must stay one.")

    stored = {
        **address,
        **{name: provider.get(name) for name in _FIELDS},
        "name_key": provider["name_key"],
    }
    before = {**{name: current[name] for name in (*_ADDRESS, *_FIELDS)}, "name_key": None}
    changed = [
        name for name, value in stored.items() if name != "name_key" and before[name] != value
    ]
    offers_changed = provider["services"] is not None and provider["services"] != [
        {k: offer[k] for k in _OFFER_FIELDS} for offer in offers
    ]
    if any(name in changed for name in _IDENTIFIERS):
        await _refuse_known_identifiers(session, caller, provider, provider_id=provider_id)
    values = {name: stored[name] for name in changed}
    if "full_name" in changed or "short_name" in changed:
        values["name_key"] = stored["name_key"]
    if "support_criteria_met" in changed:
        values.update(support_verified_by=caller.principal.sub, support_verified_at=func.now())
    noted = [
        *(name for name in values if name != "name_key"),
        *(["services"] if offers_changed else []),
    ]
    values = _provider_columns(caller.keys, provider_id, values)
    # (The offers are rows of their own; a change of them alone is still a new version.)
    try:
        async with session.begin_nested():
            await write.save(values, action="update_provider", changed=noted)
    except IntegrityError as error:
        await _lost_race(session, caller, provider, error, provider_id=provider_id)
    if offers_changed:
        await _write_offers(session, provider_id, provider["services"], offers)
    (updated,) = await queries.providers_by_id(session, caller, [provider_id])
    return updated


# --- register status ---------------------------------------------------------------------------


async def change_status(
    session: AsyncSession,
    caller: Caller,
    provider_id: uuid.UUID,
    to: str,
    reason: str | None,
    effective_on: date | None,
    expected_version: int | None,
) -> dict[str, Any]:
    """Move the provider to register status ``to``: include it (active), refuse or exclude
    it (excluded, with the reason), or take a new application (pending)."""
    write = await _provider_for_change(session, caller, provider_id, expected_version)
    current = write.current
    allowed = allowed_transitions(current["status"])
    if to not in allowed:
        raise Conflict(
            f"A provider that is {current['status']} cannot become {to}.",
            extensions={"allowed": [status.value for status in allowed]},
        )
    effective_on = effective_on or caller.today
    problems = status_change_problems(to, reason, effective_on, caller.today)
    if problems:
        raise InvalidInput("The status change has invalid fields; see errors.", errors=problems)
    values: dict[str, Any] = {"status": to, "status_reason": reason}
    match to:
        case ProviderStatus.ACTIVE:
            values.update(included_on=effective_on, excluded_on=None)
        case ProviderStatus.EXCLUDED:
            values.update(excluded_on=effective_on)
        case ProviderStatus.PENDING:
            values.update(included_on=None, excluded_on=None)
    changed = [name for name, value in values.items() if current[name] != value]
    version = await write.save(values, action="change_provider_status", changed=changed)
    await session.execute(
        insert(provider_status_change_table).values(
            provider_id=provider_id,
            version=version,
            from_status=current["status"],
            to_status=to,
            effective_on=effective_on,
            reason=reason,
            actor=caller.principal.sub,
        )
    )
    (changed_provider,) = await queries.providers_by_id(session, caller, [provider_id])
    return changed_provider


# --- a family's providers ----------------------------------------------------------------------


async def _family_to_link(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID
) -> dict[str, Any]:
    """The family's row, locked: within reach (else 404), the caller's to link (else 403)."""
    family = await queries.family_in_reach(session, caller, family_id, lock=True)
    if not may_link_providers(caller.principal):
        raise Forbidden("Only a community officer links families to providers.")
    return family


async def link(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    provider_id: uuid.UUID,
    reason: str | None,
) -> tuple[dict[str, Any], bool]:
    """Link the family to an active provider; returns the link and whether it is new (a
    standing link is returned as it is; a revoked one is granted again)."""
    family = await _family_to_link(session, caller, family_id)
    if family["status"] != "active":
        raise Conflict("The family is archived; an archived family cannot be linked.")
    status = await session.scalar(
        select(provider_table.c.status).where(provider_table.c.id == provider_id)
    )
    if status is None:
        raise InvalidInput(
            "No such provider.",
            errors=[FieldError("body.provider_id", "not a provider of the register")],
        )
    if status != "active":
        raise Conflict(f"The provider is not active in the register (status {status}).")
    granted = await grant_access(session, caller, family_id, provider_id, reason)
    await record(session, caller, "link_family_provider", PROVIDER_LINK, [family_id, provider_id])
    (current,) = await queries.links_of(
        session, family_id, family_provider_access_table.c.provider_id == provider_id
    )
    return current, granted


async def grant_access(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    provider_id: uuid.UUID,
    reason: str | None,
) -> bool:
    """Let the provider's staff see the family (a link, or an accepted referral): a revoked
    grant is granted again; a standing one keeps its own reason. Whether it was granted now."""
    granted = (
        await session.execute(
            pg_insert(family_provider_access_table)
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
                    "revoked_on": None,
                    "revoked_by": None,
                    "revoke_reason": None,
                },
                where=family_provider_access_table.c.revoked_at.is_not(None),
            )
            .returning(family_provider_access_table.c.provider_id)
        )
    ).first()
    return granted is not None


async def revoke(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID, provider_id: uuid.UUID, reason: str
) -> dict[str, Any]:
    """End the family's link to the provider (kept, as history, with the reason)."""
    await _family_to_link(session, caller, family_id)
    revoked = (
        await session.execute(
            update(family_provider_access_table)
            .where(
                family_provider_access_table.c.family_id == family_id,
                family_provider_access_table.c.provider_id == provider_id,
                family_provider_access_table.c.revoked_at.is_(None),
            )
            .values(
                revoked_at=func.now(),
                revoked_on=caller.today,
                revoked_by=caller.principal.sub,
                revoke_reason=reason,
            )
            .returning(family_provider_access_table.c.provider_id)
        )
    ).first()
    if revoked is None:
        raise NotFound("The family is not linked to this provider.")
    await record(session, caller, "revoke_family_provider", PROVIDER_LINK, [family_id, provider_id])
    (current,) = await queries.links_of(
        session, family_id, family_provider_access_table.c.provider_id == provider_id
    )
    return current
