"""Working community programmes: programmes (created, changed, opened and closed by the
ministry), allocations per hromada within the budget, the item catalogue, enrolment and
withdrawal of families, distributions and their reversals, and aid receipts.

**The invariant.** What a hromada distributes never exceeds its allocation, for money and
for each item, and its stock of an item never goes below zero — also when many officers
submit at once. Each distribution draws on its balance rows by a conditional update
(``_draw``: ``UPDATE … SET distributed = distributed + x WHERE … AND remaining >= x``).
PostgreSQL takes the row's lock for the UPDATE and, when a concurrent transaction changed
the row first, evaluates the condition again on the committed row: two distributions can
never both spend the last funds, no transaction waits longer than the other's commit, and
none is retried. A draw that finds too little is a 409 naming what remains; the request's
transaction then rolls back, so nothing of the distribution is written. Rows are always
drawn in one order (the money line, then items by id; then stock by id) so that two
distributions of several items cannot deadlock. The balance rows' CHECK constraints hold the
same invariants underneath.

A programme's allocations never exceed its budget: changing them locks the programme row,
so two allocations are summed one after the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.ids import new_id
from registry.domain.audit.commands import record
from registry.domain.families.access import visible_families
from registry.domain.families.tables import (
    family_table,
    hardship_factor_table,
    person_table,
    recipient_category_table,
)
from registry.domain.programmes import queries
from registry.domain.programmes.access import reaches_hromada, within_territory
from registry.domain.programmes.queries import (
    AID_ITEM,
    AID_RECEIPT,
    ALLOCATION,
    DISTRIBUTION,
    ENROLMENT,
    PROGRAMME,
    as_money,
    money_kind,
)
from registry.domain.programmes.rules import (
    Condition,
    EnrolmentStatus,
    FamilyFacts,
    Member,
    ProgrammeStatus,
    allowed_moves,
    codes_in,
    money,
    money_text,
    unmet_conditions,
)
from registry.domain.programmes.tables import (
    aid_item_table,
    aid_receipt_table,
    aid_stock_table,
    allocation_table,
    distribution_item_table,
    distribution_table,
    enrolment_table,
    programme_table,
    reversal_table,
)
from registry.domain.providers.tables import provider_table
from registry.domain.shared.caller import Caller
from registry.domain.territories.queries import locate_address
from registry.domain.versioning import Versioned, VersionedWrite, note_change
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound

PROGRAMMES = Versioned(programme_table, PROGRAMME)
ENROLMENTS = Versioned(enrolment_table, ENROLMENT)
_ITEM_NAME_INDEX = "aid_items_name_key"
_ENROLLED_INDEX = "uq_programme_enrolments_enrolled"


def _constraint(error: IntegrityError) -> str | None:
    return getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)


def _require_not_future(field: str, day: date, today: date) -> None:
    if day > today:
        raise InvalidInput(
            "A date is in the future.", errors=[FieldError(field, "must not be in the future")]
        )


def _require_period(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise InvalidInput(
            "A programme cannot end before it starts.",
            errors=[FieldError("body.ends_on", "must not be before starts_on")],
        )


def _require_open(programme: Mapping[str, Any], what: str) -> None:
    if programme["status"] != ProgrammeStatus.OPEN:
        raise Conflict(
            f"The programme is {programme['status']}: {what} only while it is open.",
            extensions={"programme_status": programme["status"]},
        )


def _require_currency(field: str, currency: str, programme: Mapping[str, Any]) -> None:
    if currency != programme["currency"]:
        raise InvalidInput(
            f"The programme counts in {programme['currency']}; the registry converts no "
            "currencies.",
            errors=[FieldError(field, f"must be {programme['currency']}")],
        )


async def _require_codes(session: AsyncSession, rule: Mapping[str, Any] | None) -> None:
    """422 for a category or hardship factor the reference lists do not hold (active)."""
    errors: list[FieldError] = []
    for condition, table, words in (
        (Condition.CATEGORY, recipient_category_table, "recipient category"),
        (Condition.HARDSHIP, hardship_factor_table, "hardship factor"),
    ):
        named = list(codes_in(rule, condition))
        if not named:
            continue
        known = set(
            (
                await session.scalars(
                    select(table.c.code).where(
                        table.c.code.in_([code for _, code in named]), table.c.active
                    )
                )
            ).all()
        )
        errors.extend(
            FieldError(path, f"not an active {words} of /reference")
            for path, code in named
            if code not in known
        )
    if errors:
        raise InvalidInput("The eligibility rule names unknown codes.", errors=errors)


# --- programmes -------------------------------------------------------------------------------


async def create_programme(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    _require_period(values["starts_on"], values["ends_on"])
    await _require_codes(session, values.get("eligibility"))
    programme_id = new_id()
    stored = {
        "funder": values["funder"],
        "name": values["name"],
        "kind": values["kind"],
        "currency": values["budget"]["currency"],
        "budget": money(values["budget"]["amount"]),
        "starts_on": values["starts_on"],
        "ends_on": values["ends_on"],
        "eligibility": values.get("eligibility"),
    }
    await session.execute(
        insert(programme_table).values(id=programme_id, created_by=caller.principal.sub, **stored)
    )
    await note_change(session, PROGRAMME, programme_id, 1, list(stored), caller.principal.sub)
    await record(session, caller, "create_programme", PROGRAMME, [programme_id])
    (programme,) = await queries.programmes_by_id(session, caller, [programme_id])
    return programme


async def update_programme(
    session: AsyncSession,
    caller: Caller,
    programme_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    write = await VersionedWrite.lock(session, caller, PROGRAMMES, programme_id)
    if write is None:
        raise NotFound(queries.PROGRAMME_NOT_FOUND)
    await write.check_version(expected_version)
    current = write.current
    if current["status"] == ProgrammeStatus.CLOSED:
        raise Conflict("The programme is closed: its books take no more changes.")
    changes: dict[str, Any] = {}
    for name in ("funder", "name", "starts_on", "ends_on"):
        if name in values and values[name] != current[name]:
            changes[name] = values[name]
    if "eligibility" in values and values["eligibility"] != current["eligibility"]:
        await _require_codes(session, values["eligibility"])
        changes["eligibility"] = values["eligibility"]
    _require_period(
        changes.get("starts_on", current["starts_on"]), changes.get("ends_on", current["ends_on"])
    )
    if "budget" in values:
        _require_currency("body.budget.currency", values["budget"]["currency"], current)
        budget = money(values["budget"]["amount"])
        allocated = Decimal(
            await session.scalar(select(queries.allocated_value(programme_id))) or 0
        )
        if budget < allocated:
            raise Conflict(
                f"The programme has allocated {money_text(allocated)} {current['currency']}; "
                "its budget cannot be less.",
                extensions={"allocated": as_money(allocated, current["currency"])},
            )
        if budget != current["budget"]:
            changes["budget"] = budget
    if "status" in values and values["status"] != current["status"]:
        allowed = allowed_moves(current["status"])
        if values["status"] not in allowed:
            raise Conflict(
                f"A {current['status']} programme cannot become {values['status']}.",
                extensions={"current_status": current["status"], "allowed": list(allowed)},
            )
        changes["status"] = values["status"]
    await write.save(changes, action="update_programme")
    (programme,) = await queries.programmes_by_id(session, caller, [programme_id])
    return programme


# --- the item catalogue -----------------------------------------------------------------------


async def create_item(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    item_id = new_id()
    try:
        async with session.begin_nested():
            await session.execute(
                insert(aid_item_table).values(
                    id=item_id,
                    name=values["name"],
                    unit=values["unit"],
                    unit_value=money(values["unit_value"]["amount"]),
                    currency=values["unit_value"]["currency"],
                    created_by=caller.principal.sub,
                )
            )
    except IntegrityError as error:
        if _constraint(error) == _ITEM_NAME_INDEX:
            raise Conflict(
                f"An aid item named {values['name']!r} is already in the catalogue."
            ) from error
        raise
    await record(session, caller, "create_aid_item", AID_ITEM, [item_id])
    return await queries.item(session, item_id)


async def _items(
    session: AsyncSession, ids: Sequence[uuid.UUID], field: str
) -> dict[uuid.UUID, dict[str, Any]]:
    """The active items ``ids`` name, or 422 naming each unknown or retired one."""
    rows = {
        row["id"]: dict(row)
        for row in (
            await session.execute(
                select(aid_item_table).where(aid_item_table.c.id.in_(ids), aid_item_table.c.active)
            )
        ).mappings()
    }
    errors = [
        FieldError(f"{field}.{i}.item_id", "no active aid item with this id in /aid-items")
        for i, item_id in enumerate(ids)
        if item_id not in rows
    ]
    if errors:
        raise InvalidInput("An aid item is not in the catalogue.", errors=errors)
    return rows


def _distinct_items(lines: Sequence[Mapping[str, Any]], field: str) -> None:
    seen: set[uuid.UUID] = set()
    for i, line in enumerate(lines):
        if line["item_id"] in seen:
            raise InvalidInput(
                "An item is listed twice.",
                errors=[FieldError(f"{field}.{i}.item_id", "is listed twice")],
            )
        seen.add(line["item_id"])


def _require_shape(programme: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Money for money programmes, items for in-kind ones (422 naming the field)."""
    if money_kind(programme):
        if values.get("items"):
            raise InvalidInput(
                f"A {programme['kind']} programme moves money, not items.",
                errors=[FieldError("body.items", "must be absent: give amount")],
            )
        if values.get("amount") is None:
            raise InvalidInput(
                f"A {programme['kind']} programme moves money.",
                errors=[FieldError("body.amount", "is required")],
            )
    else:
        if values.get("amount") is not None:
            raise InvalidInput(
                "An in_kind programme moves items, not money.",
                errors=[FieldError("body.amount", "must be absent: give items")],
            )
        if not values.get("items"):
            raise InvalidInput(
                "An in_kind programme moves items.",
                errors=[FieldError("body.items", "is required")],
            )


# --- allocations ------------------------------------------------------------------------------


async def put_allocation(
    session: AsyncSession,
    caller: Caller,
    programme_id: uuid.UUID,
    hromada_code: str,
    values: dict[str, Any],
) -> dict[str, Any]:
    """Set what the programme allocates to the hromada: the money, or each item's quantity
    (an item left out is allocated nothing). 409 when the budget would be exceeded (naming
    what is left of it) or when less would be allocated than the hromada already
    distributed."""
    programme = await queries.require_programme(session, caller, programme_id, lock=True)
    if programme["status"] == ProgrammeStatus.CLOSED:
        raise Conflict("The programme is closed: its allocations take no more changes.")
    address = await locate_address(session, hromada_code, None, field="path.hromada_code")
    _require_shape(programme, values)
    wanted: dict[uuid.UUID | None, Decimal] = {}
    value_of: dict[uuid.UUID | None, Decimal] = {None: Decimal(1)}
    if money_kind(programme):
        _require_currency("body.amount.currency", values["amount"]["currency"], programme)
        wanted[None] = money(values["amount"]["amount"])
    else:
        _distinct_items(values["items"], "body.items")
        items = await _items(session, [line["item_id"] for line in values["items"]], "body.items")
        for i, line in enumerate(values["items"]):
            item = items[line["item_id"]]
            _require_currency(f"body.items.{i}.item_id", item["currency"], programme)
            wanted[line["item_id"]] = Decimal(line["quantity"])
            value_of[line["item_id"]] = item["unit_value"]
    lines = {
        row["item_id"]: dict(row)
        for row in (
            await session.execute(
                select(allocation_table)
                .where(
                    allocation_table.c.programme_id == programme_id,
                    allocation_table.c.hromada_code == hromada_code,
                )
                .order_by(allocation_table.c.item_id.nulls_first())
                .with_for_update()
            )
        ).mappings()
    }
    for item_id in lines:
        wanted.setdefault(item_id, Decimal(0))
    for item_id, quantity in wanted.items():
        line = lines.get(item_id)
        spent = Decimal(0) if line is None else line["distributed"] - line["reversed"]
        if quantity < spent:
            raise Conflict(
                "The hromada has already distributed more than that.",
                extensions={"distributed": _figure(spent, item_id, programme)},
            )
    await _require_within_budget(session, programme, hromada_code, wanted, value_of)
    for item_id, quantity in wanted.items():
        line = lines.get(item_id)
        if line is None:
            await session.execute(
                insert(allocation_table).values(
                    id=new_id(),
                    programme_id=programme_id,
                    item_id=item_id,
                    allocated=quantity,
                    updated_by=caller.principal.sub,
                    **address_codes(address),
                )
            )
        elif line["allocated"] != quantity:
            await session.execute(
                update(allocation_table)
                .where(allocation_table.c.id == line["id"])
                .values(allocated=quantity, updated_by=caller.principal.sub, updated_at=func.now())
            )
    await record(session, caller, "put_programme_allocation", ALLOCATION, [programme_id])
    (entry,) = await queries.balances(session, caller, programme, hromada_code)
    return entry


def address_codes(address: Any) -> dict[str, Any]:
    return {k: address[k] for k in ("oblast_code", "raion_code", "hromada_code")}


def _figure(quantity: Decimal, item_id: uuid.UUID | None, programme: Mapping[str, Any]) -> Any:
    if item_id is None:
        return as_money(quantity, programme["currency"])
    return {"item_id": str(item_id), "quantity": int(quantity)}


async def _require_within_budget(
    session: AsyncSession,
    programme: Mapping[str, Any],
    hromada_code: str,
    wanted: Mapping[uuid.UUID | None, Decimal],
    value_of: Mapping[uuid.UUID | None, Decimal],
) -> None:
    elsewhere = await session.scalar(
        select(
            func.coalesce(
                func.sum(
                    allocation_table.c.allocated
                    * func.coalesce(aid_item_table.c.unit_value, Decimal(1))
                ),
                Decimal(0),
            )
        )
        .select_from(allocation_table)
        .outerjoin(aid_item_table, aid_item_table.c.id == allocation_table.c.item_id)
        .where(
            allocation_table.c.programme_id == programme["id"],
            allocation_table.c.hromada_code != hromada_code,
        )
    )
    here = sum(
        (quantity * value_of.get(item_id, Decimal(0)) for item_id, quantity in wanted.items()),
        Decimal(0),
    )
    # An item no longer listed is allocated nothing: its value is zero whatever it was.
    remainder = programme["budget"] - elsewhere
    if here > remainder:
        raise Conflict(
            f"The allocation would exceed the programme's budget: {money_text(remainder)} "
            f"{programme['currency']} remain to allocate to this hromada.",
            extensions={"remaining": as_money(remainder, programme["currency"])},
        )


# --- enrolment --------------------------------------------------------------------------------


async def _family_facts(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID
) -> tuple[dict[str, Any], FamilyFacts]:
    family = (
        (
            await session.execute(
                select(
                    family_table.c.id,
                    family_table.c.oblast_code,
                    family_table.c.raion_code,
                    family_table.c.hromada_code,
                    family_table.c.status,
                    family_table.c.categories,
                    family_table.c.factors,
                ).where(family_table.c.id == family_id, visible_families(caller.principal))
            )
        )
        .mappings()
        .first()
    )
    if family is None:
        raise NotFound("No family with this id is within your reach.")
    members = (
        await session.execute(
            select(
                person_table.c.birth_date,
                person_table.c.disability_group,
                person_table.c.is_servicemember,
            ).where(person_table.c.family_id == family_id, person_table.c.status == "active")
        )
    ).all()
    facts = FamilyFacts(
        categories=frozenset(family["categories"]),
        factors=frozenset(family["factors"]),
        members=tuple(Member(*member) for member in members),
        today=caller.today,
    )
    return dict(family), facts


def _require_worker_of(caller: Caller, row: Any, what: str) -> None:
    if not reaches_hromada(
        caller.principal, row["oblast_code"], row["raion_code"], row["hromada_code"]
    ):
        raise Forbidden(f"You {what} in your own hromada only.")


async def enrol(
    session: AsyncSession, caller: Caller, programme_id: uuid.UUID, family_id: uuid.UUID
) -> dict[str, Any]:
    programme = await queries.require_programme(session, caller, programme_id)
    family, facts = await _family_facts(session, caller, family_id)
    _require_worker_of(caller, family, "enrol families")
    _require_open(programme, "families are enrolled")
    if family["status"] != "active":
        raise Conflict("The family is archived: it cannot be enrolled.")
    covered = await session.scalar(
        select(allocation_table.c.id)
        .where(
            allocation_table.c.programme_id == programme_id,
            allocation_table.c.hromada_code == family["hromada_code"],
        )
        .limit(1)
    )
    if covered is None:
        raise Conflict(
            "The programme allocates nothing to the family's hromada: it enrols families of "
            "the hromadas it covers.",
            extensions={"hromada_code": family["hromada_code"]},
        )
    unmet = unmet_conditions(programme["eligibility"], facts)
    if unmet:
        raise InvalidInput(
            "The family does not meet the programme's eligibility rule; see errors.",
            errors=[FieldError(condition.path, condition.words) for condition in unmet],
            extensions={
                "unmet": [
                    {"path": condition.path, "condition": dict(condition.condition)}
                    for condition in unmet
                ]
            },
        )
    existing = await session.scalar(
        select(enrolment_table.c.id).where(
            enrolment_table.c.programme_id == programme_id,
            enrolment_table.c.family_id == family_id,
            enrolment_table.c.status == EnrolmentStatus.ENROLLED,
        )
    )
    if existing is not None:
        _refuse_enrolled(existing)
    enrolment_id = new_id()
    try:
        async with session.begin_nested():
            await session.execute(
                insert(enrolment_table).values(
                    id=enrolment_id,
                    programme_id=programme_id,
                    family_id=family_id,
                    enrolled_on=caller.today,
                    enrolled_by=caller.principal.sub,
                    **address_codes(family),
                )
            )
    except IntegrityError as error:
        if _constraint(error) == _ENROLLED_INDEX:
            _refuse_enrolled(None)
        raise
    await note_change(
        session, ENROLMENT, enrolment_id, 1, ["programme_id", "family_id"], caller.principal.sub
    )
    await record(
        session, caller, "create_programme_enrolment", ENROLMENT, [enrolment_id, family_id]
    )
    (enrolment,) = await queries.enrolments_by_id(session, caller, [enrolment_id])
    return enrolment


def _refuse_enrolled(existing: uuid.UUID | None) -> None:
    raise Conflict(
        "The family is already enrolled in this programme.",
        extensions={"existing_enrolment_id": str(existing)} if existing else None,
    )


async def withdraw(
    session: AsyncSession,
    caller: Caller,
    programme_id: uuid.UUID,
    enrolment_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
) -> dict[str, Any]:
    programme = await queries.require_programme(session, caller, programme_id)
    write = await VersionedWrite.lock(
        session,
        caller,
        ENROLMENTS,
        enrolment_id,
        where=[
            enrolment_table.c.programme_id == programme_id,
            within_territory(caller.principal, enrolment_table),
        ],
    )
    if write is None:
        raise NotFound(queries.ENROLMENT_NOT_FOUND)
    _require_worker_of(caller, write.current, "withdraw enrolments")
    await write.check_version(expected_version)
    if programme["status"] == ProgrammeStatus.CLOSED:
        raise Conflict("The programme is closed: its enrolments take no more changes.")
    if write.current["status"] == EnrolmentStatus.WITHDRAWN:
        raise Conflict("The enrolment is already withdrawn.")
    await write.save(
        {
            "status": EnrolmentStatus.WITHDRAWN,
            "withdrawn_on": caller.today,
            "withdrawal_reason": reason,
            "withdrawn_by": caller.principal.sub,
        },
        action="withdraw_programme_enrolment",
        audit_ids=[enrolment_id, write.current["family_id"]],
    )
    (enrolment,) = await queries.enrolments_by_id(session, caller, [enrolment_id])
    return enrolment


# --- distributions ----------------------------------------------------------------------------


async def _recipient(
    session: AsyncSession,
    caller: Caller,
    programme: Mapping[str, Any],
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """Who receives, and whose allocation it draws on: an enrolled family (its enrolment's
    hromada), or a provider (the hromada the body names, by default the caller's)."""
    _require_open(programme, "aid is distributed")
    if values.get("family_id") is not None:
        enrolment = (
            (
                await session.execute(
                    select(enrolment_table).where(
                        enrolment_table.c.programme_id == programme["id"],
                        enrolment_table.c.family_id == values["family_id"],
                        enrolment_table.c.status == EnrolmentStatus.ENROLLED,
                        within_territory(caller.principal, enrolment_table),
                    )
                )
            )
            .mappings()
            .first()
        )
        if enrolment is None:
            # The request is well formed; the family's state (not enrolled) refuses it.
            raise Conflict(
                "The family is not enrolled in this programme within your reach: enrol it first.",
                extensions={"family_id": str(values["family_id"])},
            )
        if values["distributed_on"] < enrolment["enrolled_on"]:
            raise InvalidInput(
                "Aid reaches a family from the day it was enrolled "
                f"({enrolment['enrolled_on'].isoformat()}).",
                errors=[FieldError("body.distributed_on", "must not be before the enrolment")],
            )
        given = values.get("hromada_code")
        if given is not None and given != enrolment["hromada_code"]:
            raise InvalidInput(
                "A family's distributions draw on the hromada it was enrolled in.",
                errors=[FieldError("body.hromada_code", "must be the enrolment's hromada")],
            )
        return {
            "family_id": enrolment["family_id"],
            "enrolment_id": enrolment["id"],
            **address_codes(enrolment),
        }
    provider = (
        (
            await session.execute(
                select(provider_table.c.id, provider_table.c.status).where(
                    provider_table.c.id == values["provider_id"]
                )
            )
        )
        .mappings()
        .first()
    )
    if provider is None or provider["status"] != "active":
        raise InvalidInput(
            "Aid goes to an active provider of the register.",
            errors=[FieldError("body.provider_id", "no active provider with this id")],
        )
    hromada_code = values.get("hromada_code") or caller.principal.territory
    if hromada_code is None:
        raise InvalidInput(
            "Say whose allocation the distribution draws on.",
            errors=[FieldError("body.hromada_code", "is required for a provider")],
        )
    address = await locate_address(session, hromada_code, None)
    return {"provider_id": provider["id"], **address_codes(address)}


async def distribute(
    session: AsyncSession, caller: Caller, programme_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    programme = await queries.require_programme(session, caller, programme_id)
    _require_shape(programme, values)
    recipient = await _recipient(session, caller, programme, values)
    _require_worker_of(caller, recipient, "distribute aid")
    day = values["distributed_on"]
    _require_not_future("body.distributed_on", day, caller.today)
    if not programme["starts_on"] <= day <= programme["ends_on"]:
        raise InvalidInput(
            "Aid is distributed within the programme's period "
            f"({programme['starts_on'].isoformat()} to {programme['ends_on'].isoformat()}).",
            errors=[FieldError("body.distributed_on", "must be within the programme's period")],
        )
    hromada = recipient["hromada_code"]
    amount: Decimal | None = None
    lines: list[tuple[uuid.UUID, int]] = []
    if money_kind(programme):
        _require_currency("body.amount.currency", values["amount"]["currency"], programme)
        amount = money(values["amount"]["amount"])
        await _draw(session, programme, hromada, None, amount)
    else:
        _distinct_items(values["items"], "body.items")
        await _items(session, [line["item_id"] for line in values["items"]], "body.items")
        lines = sorted(
            ((line["item_id"], line["quantity"]) for line in values["items"]),
            key=lambda line: line[0],
        )
        for item_id, quantity in lines:
            await _draw(session, programme, hromada, item_id, Decimal(quantity))
        for item_id, quantity in lines:
            await _take_from_stock(session, hromada, item_id, quantity)
    distribution_id = new_id()
    await session.execute(
        insert(distribution_table).values(
            id=distribution_id,
            programme_id=programme_id,
            amount=amount,
            currency=programme["currency"],
            distributed_on=day,
            handed_over_by=values["handed_over_by"],
            receipt_reference=values.get("receipt_reference"),
            recorded_by=caller.principal.sub,
            **recipient,
        )
    )
    if lines:
        await session.execute(
            insert(distribution_item_table),
            [
                {"distribution_id": distribution_id, "item_id": item_id, "quantity": quantity}
                for item_id, quantity in lines
            ],
        )
    await record(
        session,
        caller,
        "create_programme_distribution",
        DISTRIBUTION,
        [i for i in (distribution_id, recipient.get("family_id")) if i is not None],
    )
    (distribution,) = await queries.distributions_by_id(session, caller, [distribution_id])
    return distribution


def _line(programme_id: uuid.UUID, hromada: str, item_id: uuid.UUID | None) -> list[Any]:
    return [
        allocation_table.c.programme_id == programme_id,
        allocation_table.c.hromada_code == hromada,
        allocation_table.c.item_id.is_(None)
        if item_id is None
        else allocation_table.c.item_id == item_id,
    ]


async def _draw(
    session: AsyncSession,
    programme: Mapping[str, Any],
    hromada: str,
    item_id: uuid.UUID | None,
    quantity: Decimal,
) -> None:
    """Spend ``quantity`` of the hromada's balance line, or 409 naming what remains (the
    conditional update the module's docstring explains)."""
    remaining = (
        allocation_table.c.allocated - allocation_table.c.distributed + allocation_table.c.reversed
    )
    drawn = await session.scalar(
        update(allocation_table)
        .where(*_line(programme["id"], hromada, item_id), remaining >= quantity)
        .values(distributed=allocation_table.c.distributed + quantity, updated_at=func.now())
        .returning(allocation_table.c.id)
    )
    if drawn is not None:
        return
    left = await session.scalar(select(remaining).where(*_line(programme["id"], hromada, item_id)))
    left = Decimal(0) if left is None else left
    what = (
        f"{money_text(left)} {programme['currency']}"
        if item_id is None
        else f"{int(left)} of item {item_id}"
    )
    raise Conflict(
        f"The hromada's allocation has {what} left: not enough for this distribution.",
        extensions={"remaining": _figure(left, item_id, programme)},
    )


async def _take_from_stock(
    session: AsyncSession, hromada: str, item_id: uuid.UUID, quantity: int
) -> None:
    on_hand = aid_stock_table.c.received - aid_stock_table.c.handed_out
    taken = await session.scalar(
        update(aid_stock_table)
        .where(
            aid_stock_table.c.hromada_code == hromada,
            aid_stock_table.c.item_id == item_id,
            on_hand >= quantity,
        )
        .values(handed_out=aid_stock_table.c.handed_out + quantity, updated_at=func.now())
        .returning(aid_stock_table.c.item_id)
    )
    if taken is not None:
        return
    left = await session.scalar(
        select(on_hand).where(
            aid_stock_table.c.hromada_code == hromada, aid_stock_table.c.item_id == item_id
        )
    )
    left = left or 0
    raise Conflict(
        f"The hromada has {left} of item {item_id} in stock: not enough for this distribution.",
        extensions={"in_stock": {"item_id": str(item_id), "quantity": int(left)}},
    )


async def reverse(
    session: AsyncSession,
    caller: Caller,
    programme_id: uuid.UUID,
    distribution_id: uuid.UUID,
    reason: str,
) -> dict[str, Any]:
    """Give a whole distribution back to its balance (and its items back to stock), with
    the reason: the distribution itself is never changed."""
    programme = await queries.require_programme(session, caller, programme_id)
    row = (
        (
            await session.execute(
                select(distribution_table).where(
                    distribution_table.c.id == distribution_id,
                    distribution_table.c.programme_id == programme_id,
                    within_territory(caller.principal, distribution_table),
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(queries.DISTRIBUTION_NOT_FOUND)
    _require_worker_of(caller, row, "reverse distributions")
    if programme["status"] == ProgrammeStatus.CLOSED:
        raise Conflict("The programme is closed: its books take no more changes.")
    # The reversal's key is the distribution's: of two reversals at once, one is written.
    try:
        async with session.begin_nested():
            await session.execute(
                insert(reversal_table).values(
                    distribution_id=distribution_id,
                    reason=reason,
                    reversed_on=caller.today,
                    reversed_by=caller.principal.sub,
                )
            )
    except IntegrityError as error:
        raise Conflict("The distribution is already reversed.") from error
    lines: list[tuple[uuid.UUID | None, Decimal]] = []
    if row["amount"] is not None:
        lines.append((None, row["amount"]))
    items = (
        await session.execute(
            select(distribution_item_table.c.item_id, distribution_item_table.c.quantity)
            .where(distribution_item_table.c.distribution_id == distribution_id)
            .order_by(distribution_item_table.c.item_id)
        )
    ).all()
    lines.extend((item_id, Decimal(quantity)) for item_id, quantity in items)
    for item_id, quantity in lines:
        await session.execute(
            update(allocation_table)
            .where(*_line(programme_id, row["hromada_code"], item_id))
            .values(reversed=allocation_table.c.reversed + quantity, updated_at=func.now())
        )
    for item_id, quantity in items:
        await session.execute(
            update(aid_stock_table)
            .where(
                aid_stock_table.c.hromada_code == row["hromada_code"],
                aid_stock_table.c.item_id == item_id,
            )
            .values(handed_out=aid_stock_table.c.handed_out - quantity, updated_at=func.now())
        )
    await record(
        session,
        caller,
        "reverse_programme_distribution",
        DISTRIBUTION,
        [i for i in (distribution_id, row["family_id"]) if i is not None],
    )
    (distribution,) = await queries.distributions_by_id(session, caller, [distribution_id])
    return distribution


# --- aid receipts -----------------------------------------------------------------------------


async def record_receipt(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    hromada_code = values.get("hromada_code") or caller.principal.territory
    if hromada_code is None:
        raise InvalidInput(
            "Say which hromada received the aid.",
            errors=[FieldError("body.hromada_code", "is required")],
        )
    address = await locate_address(session, hromada_code, None)
    _require_worker_of(caller, address, "record aid received")
    await _items(session, [values["item_id"]], "body")
    _require_not_future("body.received_on", values["received_on"], caller.today)
    if values.get("programme_id") is not None:
        await queries.require_programme(session, caller, values["programme_id"])
    receipt_id = new_id()
    codes = address_codes(address)
    await session.execute(
        insert(aid_receipt_table).values(
            id=receipt_id,
            item_id=values["item_id"],
            quantity=values["quantity"],
            source=values["source"],
            received_on=values["received_on"],
            programme_id=values.get("programme_id"),
            recorded_by=caller.principal.sub,
            **codes,
        )
    )
    statement = upsert(aid_stock_table).values(
        item_id=values["item_id"], received=values["quantity"], **codes
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[aid_stock_table.c.hromada_code, aid_stock_table.c.item_id],
            set_={
                "received": aid_stock_table.c.received + statement.excluded.received,
                "updated_at": func.now(),
            },
        )
    )
    await record(session, caller, "create_aid_receipt", AID_RECEIPT, [receipt_id])
    (receipt,) = await queries.receipts_by_id(session, caller, [receipt_id])
    return receipt
