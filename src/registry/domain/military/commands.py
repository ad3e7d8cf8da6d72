"""Working servicemember-family support: keeping units and their providers (through the
eligibility gate), the catalogue of measures, servicemembers (recorded, their status changed,
transferred), and support cases (opened, assigned, moved through their lifecycle, their
measures planned and delivered, their contacts with the family).

Every change of a versioned record goes through ``VersionedWrite`` (404 outside reach, 403,
412 on a stale ``If-Match``, then the rules' 409/422) and writes its audit event in the
caller's transaction. Dates come from ``caller.today``.

The domain rule of the programme: a change of a servicemember's status is recorded on every
open support case of the servicemember, and adds the catalogue's measures for the new status
to each case's plan as ``planned`` (``_apply_status_to_cases``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.ids import new_id
from registry.db.reach import unconfined
from registry.domain.audit.commands import record
from registry.domain.families import commands as family_commands
from registry.domain.families.queries import PERSON
from registry.domain.families.tables import family_table, person_table
from registry.domain.military import queries
from registry.domain.military.access import (
    for_unit,
    require_assigner,
    require_case_worker,
    require_transferrer,
    require_unit_side,
    visible_servicemembers,
    visible_support_cases,
    visible_units,
)
from registry.domain.military.queries import (
    MILITARY_UNIT,
    SERVICEMEMBER,
    SUPPORT_CASE,
    SUPPORT_MEASURE,
)
from registry.domain.military.rules import (
    CONTACTED,
    OPEN_STATUSES,
    REASONED,
    MeasureStatus,
    Origin,
    ServicememberStatus,
    SupportCaseStatus,
    allowed_transitions,
    first_contact_due,
    ineligibility,
    next_contact_due,
)
from registry.domain.military.tables import (
    military_unit_table,
    servicemember_status_table,
    servicemember_table,
    servicemember_unit_table,
    support_case_contact_table,
    support_case_deadline_breach_table,
    support_case_event_table,
    support_case_measure_table,
    support_case_table,
    support_measure_table,
    unit_provider_table,
)
from registry.domain.providers.tables import provider_table, support_criterion_table
from registry.domain.shared import deadlines
from registry.domain.shared.caller import Caller
from registry.domain.territories.queries import require_territory
from registry.domain.versioning import Versioned, VersionedWrite, note_change
from registry.errors import Conflict, FieldError, InvalidInput, NotFound

S = SupportCaseStatus
UNITS = Versioned(military_unit_table, MILITARY_UNIT)
SERVICEMEMBERS = Versioned(servicemember_table, SERVICEMEMBER)
SUPPORT_CASES = Versioned(support_case_table, SUPPORT_CASE)
MEASURES = Versioned(
    support_measure_table,
    SUPPORT_MEASURE,
    key="code",
    change_namespace=uuid.UUID("0b6f1d3e-2c57-4a89-9e1d-7f3a5c2b8e40"),
)
_UNIT_NUMBER_INDEX = "uq_military_units_number"


def _require_not_future(field: str, day: date, today: date) -> None:
    if day > today:
        raise InvalidInput(
            "A date is in the future.", errors=[FieldError(field, "must not be in the future")]
        )


def _require_not_before_opened(field: str, day: date, opened_on: date, what: str) -> None:
    """422 when ``day`` (a measure's due or delivery day, a contact) is before the case was
    opened: nothing of a case happens before it exists."""
    if day < opened_on:
        raise InvalidInput(
            f"{what} cannot be dated before the case was opened ({opened_on.isoformat()}).",
            errors=[FieldError(field, "must not be before the case was opened")],
        )


# --- units and their providers ----------------------------------------------------------------


async def _require_oblasts(session: AsyncSession, codes: Sequence[str]) -> None:
    errors: list[FieldError] = []
    for i, code in enumerate(codes):
        try:
            await require_territory(session, f"body.oblast_codes.{i}", code, {"O", "K"})
        except InvalidInput as error:
            errors.extend(error.errors)
    if errors:
        raise InvalidInput("The oblasts served are not oblasts of the codifier.", errors=errors)


def _require_dates(joined_on: date, left_on: date | None, today: date) -> None:
    _require_not_future("body.joined_on", joined_on, today)
    if left_on is not None and left_on < joined_on:
        raise InvalidInput(
            "A unit cannot leave the programme before it joined.",
            errors=[FieldError("body.left_on", "must not be before joined_on")],
        )


async def _require_eligible(
    session: AsyncSession, provider_ids: Sequence[uuid.UUID], field: str
) -> None:
    """The eligibility gate: 422 naming, for each provider that fails it, every reason."""
    criteria = (
        await session.scalars(
            select(support_criterion_table.c.code).where(support_criterion_table.c.active)
        )
    ).all()
    rows = {
        row["id"]: row
        for row in (
            await session.execute(
                select(
                    provider_table.c.id,
                    provider_table.c.full_name,
                    provider_table.c.status,
                    provider_table.c.sector,
                    provider_table.c.support_criteria_met,
                    provider_table.c.support_verified_by,
                    provider_table.c.support_verified_at,
                ).where(provider_table.c.id.in_(provider_ids))
            )
        ).mappings()
    }
    errors: list[FieldError] = []
    refused: list[dict[str, Any]] = []
    for i, provider_id in enumerate(provider_ids):
        at = f"{field}.{i}" if field.endswith("provider_ids") else field
        provider = rows.get(provider_id)
        if provider is None:
            errors.append(FieldError(at, "no provider with this id in the register"))
            continue
        reasons = ineligibility(dict(provider), criteria)
        if reasons:
            refused.append(
                {"provider_id": str(provider_id), "reasons": [code for code, _ in reasons]}
            )
            errors.extend(FieldError(at, f"the provider {words}") for _, words in reasons)
    if errors:
        raise InvalidInput(
            "A provider does not meet the criteria of servicemember-family support: it must be "
            "active in the register, non_state, and meet every /support-criteria criterion, "
            "verified by the ministry; see errors.",
            errors=errors,
            extensions={"ineligible": refused} if refused else None,
        )


async def _assign_providers(
    session: AsyncSession,
    caller: Caller,
    unit_id: uuid.UUID,
    provider_ids: Sequence[uuid.UUID],
) -> bool:
    """Make the unit's standing assignments ``provider_ids``: the new ones through the gate,
    the dropped ones ended today. Whether anything changed."""
    wanted = list(dict.fromkeys(provider_ids))
    standing = set(
        (
            await session.scalars(
                select(unit_provider_table.c.provider_id).where(
                    unit_provider_table.c.unit_id == unit_id,
                    unit_provider_table.c.ended_on.is_(None),
                )
            )
        ).all()
    )
    added = [p for p in wanted if p not in standing]
    dropped = standing - set(wanted)
    if added:
        await _require_eligible(session, added, "body.provider_ids")
        await session.execute(
            insert(unit_provider_table),
            [
                {
                    "id": new_id(),
                    "unit_id": unit_id,
                    "provider_id": provider_id,
                    "assigned_on": caller.today,
                    "assigned_by": caller.principal.sub,
                }
                for provider_id in added
            ],
        )
    if dropped:
        await session.execute(
            update(unit_provider_table)
            .where(
                unit_provider_table.c.unit_id == unit_id,
                unit_provider_table.c.provider_id.in_(dropped),
                unit_provider_table.c.ended_on.is_(None),
            )
            .values(ended_on=caller.today, ended_by=caller.principal.sub)
        )
    return bool(added or dropped)


async def create_unit(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    await _require_oblasts(session, values["oblast_codes"])
    _require_dates(values["joined_on"], values.get("left_on"), caller.today)
    unit_id = new_id()
    stored: dict[str, Any] = {
        name: values.get(name) for name in ("number", "name", "stage", "joined_on", "left_on")
    }
    stored["oblast_codes"] = sorted(set(values["oblast_codes"]))
    try:
        async with session.begin_nested():
            await session.execute(
                insert(military_unit_table).values(
                    id=unit_id, created_by=caller.principal.sub, **stored
                )
            )
    except IntegrityError as error:
        _refuse_taken_number(error, values["number"])
        raise
    await note_change(session, MILITARY_UNIT, unit_id, 1, list(stored), caller.principal.sub)
    await _assign_providers(session, caller, unit_id, values.get("provider_ids") or [])
    await record(session, caller, "create_military_unit", MILITARY_UNIT, [unit_id])
    (unit,) = await queries.units_by_id(session, caller, [unit_id])
    return unit


def _refuse_taken_number(error: IntegrityError, number: str) -> None:
    constraint = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)
    if constraint == _UNIT_NUMBER_INDEX:
        raise Conflict(f"A unit with the number {number} is already in the programme.")


async def update_unit(
    session: AsyncSession,
    caller: Caller,
    unit_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    write = await VersionedWrite.lock(
        session, caller, UNITS, unit_id, where=[visible_units(caller.principal)]
    )
    if write is None:
        raise NotFound(queries.UNIT_NOT_FOUND)
    await write.check_version(expected_version)
    current = write.current
    if "oblast_codes" in values:
        await _require_oblasts(session, values["oblast_codes"])
        values["oblast_codes"] = sorted(set(values["oblast_codes"]))
    merged = {**current, **values}
    _require_dates(merged["joined_on"], merged["left_on"], caller.today)
    changes: dict[str, Any] = {
        name: values[name]
        for name in ("number", "name", "oblast_codes", "stage", "joined_on", "left_on")
        if name in values and values[name] != current[name]
    }
    providers_changed = False
    if "provider_ids" in values:
        providers_changed = await _assign_providers(
            session, caller, unit_id, values["provider_ids"] or []
        )
    try:
        async with session.begin_nested():
            await write.save(
                changes,
                action="update_military_unit",
                changed=[*changes, *(["provider_ids"] if providers_changed else [])],
            )
    except IntegrityError as error:
        _refuse_taken_number(error, values.get("number", ""))
        raise
    (unit,) = await queries.units_by_id(session, caller, [unit_id])
    return unit


# --- the catalogue ----------------------------------------------------------------------------


async def add_measure(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    stored = {
        "code": values["code"],
        "name_uk": values["name_uk"],
        "name_en": values["name_en"],
        "description": values.get("description"),
        "statuses": sorted(set(values["statuses"]), key=list(ServicememberStatus).index),
        "sort_order": values.get("sort_order") or 100,
        "created_by": caller.principal.sub,
    }
    try:
        async with session.begin_nested():
            await session.execute(insert(support_measure_table).values(**stored))
    except IntegrityError:
        raise Conflict(f"A measure with the code {values['code']} is in the catalogue.") from None
    await note_change(
        session,
        SUPPORT_MEASURE,
        MEASURES.change_key(values["code"]),
        1,
        [k for k in stored if k != "created_by"],
        caller.principal.sub,
    )
    await record(session, caller, "add_support_measure", SUPPORT_MEASURE, [])
    return await queries.measure(session, values["code"])


async def update_measure(
    session: AsyncSession, caller: Caller, code: str, values: dict[str, Any], expected_version: int
) -> dict[str, Any]:
    """Rename, re-describe, change the statuses a measure applies to, retire or reinstate it
    (a retired measure is kept: cases planned it; it is planned no more)."""
    write = await VersionedWrite.lock(session, caller, MEASURES, code)
    if write is None:
        raise NotFound(queries.MEASURE_NOT_FOUND)
    await write.check_version(expected_version)
    current = write.current
    if "statuses" in values:
        values["statuses"] = sorted(set(values["statuses"]), key=list(ServicememberStatus).index)
    changes: dict[str, Any] = {
        name: values[name]
        for name in ("name_uk", "name_en", "description", "statuses", "sort_order")
        if name in values and values[name] != current[name]
    }
    if "retired" in values and values["retired"] == current["active"]:
        retired = values["retired"]
        changes.update(active=not retired, retired_on=caller.today if retired else None)
    await write.save(changes, action="update_support_measure", audit_ids=[])
    return await queries.measure(session, code)


# --- servicemembers ---------------------------------------------------------------------------


async def _unit_in_programme(
    session: AsyncSession, caller: Caller, unit_id: uuid.UUID, field: str
) -> dict[str, Any]:
    """The unit (visible to the caller: its own, for a liaison), still in the programme."""
    unit = (
        (
            await session.execute(
                select(military_unit_table).where(
                    military_unit_table.c.id == unit_id, visible_units(caller.principal)
                )
            )
        )
        .mappings()
        .first()
    )
    if unit is None:
        raise InvalidInput(
            "No military unit with this id is within your reach.",
            errors=[FieldError(field, "not a unit you may record servicemembers of")],
        )
    if unit["left_on"] is not None and unit["left_on"] <= caller.today:
        raise Conflict(f"The unit {unit['number']} has left the programme.")
    return dict(unit)


async def create_servicemember(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    """Record a servicemember of the caller's unit: a person of the registry (``person_id``)
    or a new person with a new family (a servicemember's family may not be in the registry
    yet), with the status from which support starts (default ``mobilised``)."""
    principal = caller.principal
    require_unit_side(principal, "records servicemembers")
    unit_id = values.get("unit_id") or principal.unit_id
    assert unit_id is not None
    await _unit_in_programme(session, caller, unit_id, "body.unit_id")
    effective_on = values.get("effective_on") or caller.today
    _require_not_future("body.effective_on", effective_on, caller.today)
    status = ServicememberStatus(values.get("status") or ServicememberStatus.MOBILISED)
    if values.get("person_id") is not None:
        person_id, family_id = await _mark_servicemember(session, caller, values["person_id"])
    else:
        family = dict(values["family"])
        person = {**values["person"], "is_servicemember": True}
        family["members"] = [person, *(family.get("members") or [])]
        try:
            family_id, person_ids, _ = await family_commands.register_family(
                session, caller, family, admitted=True
            )
        except InvalidInput as error:
            raise InvalidInput(error.detail, errors=_family_errors(error.errors)) from None
        person_id = person_ids[0]
    servicemember_id = new_id()
    try:
        async with session.begin_nested():
            await session.execute(
                insert(servicemember_table).values(
                    id=servicemember_id,
                    person_id=person_id,
                    family_id=family_id,
                    unit_id=unit_id,
                    status=status.value,
                    status_effective_on=effective_on,
                    created_by=principal.sub,
                )
            )
    except IntegrityError:
        raise Conflict("The person is already recorded as a servicemember.") from None
    await session.execute(
        insert(servicemember_status_table).values(
            servicemember_id=servicemember_id,
            version=1,
            status=status.value,
            effective_on=effective_on,
            recorded_by=principal.sub,
        )
    )
    await session.execute(
        insert(servicemember_unit_table).values(
            servicemember_id=servicemember_id,
            version=1,
            unit_id=unit_id,
            from_unit_id=None,
            effective_on=effective_on,
            recorded_by=principal.sub,
        )
    )
    await record(
        session, caller, "create_servicemember", SERVICEMEMBER, [servicemember_id, family_id]
    )
    (created,) = await queries.servicemembers_by_id(session, caller, [servicemember_id])
    return created


def _family_errors(errors: Sequence[FieldError]) -> list[FieldError]:
    """The family's registration names its members ``body.members.N``: the servicemember is
    the first of them (``body.person``), the family's own members follow it."""
    renamed = []
    for error in errors:
        field = error.field
        if field.startswith("body.members.0."):
            field = "body.person." + field.removeprefix("body.members.0.")
        elif field.startswith("body.members."):
            index, _, rest = field.removeprefix("body.members.").partition(".")
            field = f"body.family.members.{int(index) - 1}.{rest}".rstrip(".")
        elif field.startswith("body."):
            field = "body.family." + field.removeprefix("body.")
        renamed.append(FieldError(field, error.message))
    return renamed


async def _mark_servicemember(
    session: AsyncSession, caller: Caller, person_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """The person (anywhere in the registry: the unit's side reaches no family by its
    address) marked as a servicemember: its id and its family's."""
    async with unconfined(session):
        person = (
            (
                await session.execute(
                    select(
                        person_table.c.id,
                        person_table.c.family_id,
                        person_table.c.status,
                        person_table.c.is_servicemember,
                        person_table.c.version,
                        family_table.c.status.label("family_status"),
                    )
                    .join(family_table, family_table.c.id == person_table.c.family_id)
                    .where(person_table.c.id == person_id)
                    .with_for_update(of=person_table)
                )
            )
            .mappings()
            .first()
        )
        if person is None or person["status"] != "active" or person["family_status"] != "active":
            raise InvalidInput(
                "No current member of an active family has this id.",
                errors=[FieldError("body.person_id", "not a current member of an active family")],
            )
        if not person["is_servicemember"]:
            version = person["version"] + 1
            await session.execute(
                update(person_table)
                .where(person_table.c.id == person_id)
                .values(is_servicemember=True, version=version, updated_at=func.now())
            )
            await note_change(
                session, PERSON, person_id, version, ["is_servicemember"], caller.principal.sub
            )
    return person["id"], person["family_id"]


async def _servicemember_for_change(
    session: AsyncSession, caller: Caller, servicemember_id: uuid.UUID
) -> VersionedWrite:
    """The servicemember's row, locked, within the caller's reach (else 404)."""
    write = await VersionedWrite.lock(
        session,
        caller,
        SERVICEMEMBERS,
        servicemember_id,
        where=[visible_servicemembers(caller.principal)],
    )
    if write is None:
        raise NotFound(queries.SERVICEMEMBER_NOT_FOUND)
    return write


async def record_status(
    session: AsyncSession,
    caller: Caller,
    servicemember_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int | None,
    first_contact_days: int,
) -> dict[str, Any]:
    """Append a status to the servicemember's history. When it becomes the current status
    (the latest effective one), it is recorded on every open support case of the
    servicemember with the catalogue's measures for it added as planned."""
    write = await _servicemember_for_change(session, caller, servicemember_id)
    require_unit_side(caller.principal, "records a servicemember's status")
    await write.check_version(expected_version)
    status = ServicememberStatus(values["status"])
    effective_on = values.get("effective_on") or caller.today
    _require_not_future("body.effective_on", effective_on, caller.today)
    current = write.current
    becomes_current = effective_on >= current["status_effective_on"]
    if becomes_current and status.value == current["status"]:
        raise Conflict("The servicemember already has this status; nothing to record.")
    changes: dict[str, Any] = {}
    if becomes_current:
        changes = {"status": status.value, "status_effective_on": effective_on}
    version = await write.save(
        changes,
        action="record_servicemember_status",
        changed=["status_history", *changes],
        audit_ids=[servicemember_id, current["family_id"]],
    )
    await session.execute(
        insert(servicemember_status_table).values(
            servicemember_id=servicemember_id,
            version=version,
            status=status.value,
            effective_on=effective_on,
            recorded_by=caller.principal.sub,
        )
    )
    if becomes_current:
        await _apply_status_to_cases(
            session, caller, servicemember_id, status, effective_on, first_contact_days
        )
    (shown,) = await queries.servicemembers_by_id(session, caller, [servicemember_id])
    return shown


async def _apply_status_to_cases(
    session: AsyncSession,
    caller: Caller,
    servicemember_id: uuid.UUID,
    status: ServicememberStatus,
    effective_on: date,
    first_contact_days: int,
) -> None:
    """The programme's rule: every open support case of the servicemember notes the new
    status in its history, and plans the catalogue's measures for it (active ones, not
    already planned in the case), due within the first-contact days."""
    cases = (
        (
            await session.execute(
                select(support_case_table.c.id, support_case_table.c.status)
                .where(
                    support_case_table.c.servicemember_id == servicemember_id,
                    support_case_table.c.status.in_(sorted(OPEN_STATUSES)),
                )
                .with_for_update()
            )
        )
        .mappings()
        .all()
    )
    if not cases:
        return
    catalogue = (
        await session.scalars(
            select(support_measure_table.c.code)
            .where(
                support_measure_table.c.active,
                support_measure_table.c.statuses.any_() == status.value,
            )
            .order_by(support_measure_table.c.sort_order, support_measure_table.c.code)
        )
    ).all()
    due_on = first_contact_due(caller.today, first_contact_days)
    for case in cases:
        already = set(
            (
                await session.scalars(
                    select(support_case_measure_table.c.measure_code).where(
                        support_case_measure_table.c.case_id == case["id"],
                        support_case_measure_table.c.status == MeasureStatus.PLANNED.value,
                    )
                )
            ).all()
        )
        added = [code for code in catalogue if code not in already]
        if added:
            await session.execute(
                insert(support_case_measure_table),
                [
                    {
                        "id": new_id(),
                        "case_id": case["id"],
                        "measure_code": code,
                        "status": MeasureStatus.PLANNED.value,
                        "origin": Origin.STATUS_CHANGE.value,
                        "servicemember_status": status.value,
                        "due_on": due_on,
                        "created_by": caller.principal.sub,
                    }
                    for code in added
                ],
            )
        version = await _bump_case(
            session, caller, case["id"], ["servicemember_status", "measures"]
        )
        await _note_event(
            session,
            caller,
            case["id"],
            version,
            "servicemember_status",
            case["status"],
            case["status"],
            servicemember_status=status.value,
            details={"effective_on": effective_on.isoformat(), "measures_planned": added},
        )


async def _bump_case(
    session: AsyncSession, caller: Caller, case_id: uuid.UUID, changed: list[str]
) -> int:
    """A new version of a support case changed by something else than its own write (the
    servicemember's status, a transfer), noting what changed."""
    version = int(
        (
            await session.execute(
                update(support_case_table)
                .where(support_case_table.c.id == case_id)
                .values(version=support_case_table.c.version + 1, updated_at=func.now())
                .returning(support_case_table.c.version)
            )
        ).scalar_one()
    )
    await note_change(session, SUPPORT_CASE, case_id, version, changed, caller.principal.sub)
    return version


async def transfer(
    session: AsyncSession,
    caller: Caller,
    servicemember_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int | None,
) -> dict[str, Any]:
    """Move the servicemember to another unit: the unit history keeps where they were, and
    their open support cases move with them (to the new unit's liaison; a provider the new
    unit has not assigned is then listed for reassignment)."""
    write = await _servicemember_for_change(session, caller, servicemember_id)
    require_transferrer(caller.principal)
    await write.check_version(expected_version)
    current = write.current
    to_unit = values["unit_id"]
    if to_unit == current["unit_id"]:
        raise Conflict("The servicemember already belongs to this unit.")
    effective_on = values.get("effective_on") or caller.today
    _require_not_future("body.effective_on", effective_on, caller.today)
    async with unconfined(session, for_unit(caller.principal)):
        await _any_unit(session, caller, to_unit)
        version = await write.save(
            {"unit_id": to_unit},
            action="transfer_servicemember",
            audit_ids=[servicemember_id, current["family_id"]],
        )
        await session.execute(
            insert(servicemember_unit_table).values(
                servicemember_id=servicemember_id,
                version=version,
                unit_id=to_unit,
                from_unit_id=current["unit_id"],
                effective_on=effective_on,
                reason=values.get("reason"),
                recorded_by=caller.principal.sub,
            )
        )
        moved = (
            (
                await session.execute(
                    update(support_case_table)
                    .where(
                        support_case_table.c.servicemember_id == servicemember_id,
                        support_case_table.c.status.in_(sorted(OPEN_STATUSES)),
                    )
                    .values(
                        unit_id=to_unit,
                        version=support_case_table.c.version + 1,
                        updated_at=func.now(),
                    )
                    .returning(
                        support_case_table.c.id,
                        support_case_table.c.version,
                        support_case_table.c.status,
                    )
                )
            )
            .mappings()
            .all()
        )
        for case in moved:
            await note_change(
                session,
                SUPPORT_CASE,
                case["id"],
                case["version"],
                ["unit_id"],
                caller.principal.sub,
            )
            await _note_event(
                session,
                caller,
                case["id"],
                case["version"],
                "transfer",
                case["status"],
                case["status"],
                reason=values.get("reason"),
                details={"from_unit_id": str(current["unit_id"]), "to_unit_id": str(to_unit)},
            )
        (shown,) = await queries.servicemembers_by_id(
            session, caller, [servicemember_id], confined=False
        )
    return shown


async def _any_unit(session: AsyncSession, caller: Caller, unit_id: uuid.UUID) -> None:
    """The unit a liaison transfers a servicemember to: any unit still in the programme
    (beyond the liaison's own reach, which only names theirs)."""
    unit = (
        (
            await session.execute(
                select(military_unit_table.c.number, military_unit_table.c.left_on).where(
                    military_unit_table.c.id == unit_id
                )
            )
        )
        .mappings()
        .first()
    )
    if unit is None:
        raise InvalidInput(
            "No military unit with this id is in the programme.",
            errors=[FieldError("body.unit_id", "no unit with this id")],
        )
    if unit["left_on"] is not None and unit["left_on"] <= caller.today:
        raise Conflict(f"The unit {unit['number']} has left the programme.")


# --- support cases ----------------------------------------------------------------------------


async def _note_event(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    version: int,
    kind: str,
    from_status: str | None,
    to_status: str,
    *,
    reason: str | None = None,
    servicemember_status: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One step of the support case's history, by the version of the case it made."""
    await session.execute(
        insert(support_case_event_table).values(
            case_id=case_id,
            version=version,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            servicemember_status=servicemember_status,
            details=details,
            actor=caller.principal.sub,
        )
    )


async def _require_assignable(
    session: AsyncSession, unit_id: uuid.UUID, provider_id: uuid.UUID, field: str
) -> None:
    """A case goes only to a provider the unit has assigned, that still passes the gate."""
    await _require_eligible(session, [provider_id], field)
    standing = await session.scalar(
        select(unit_provider_table.c.id).where(
            unit_provider_table.c.unit_id == unit_id,
            unit_provider_table.c.provider_id == provider_id,
            unit_provider_table.c.ended_on.is_(None),
        )
    )
    if standing is None:
        raise InvalidInput(
            "The provider is not assigned to the servicemember's unit.",
            errors=[FieldError(field, "not a provider assigned to the unit")],
        )


async def open_support_case(
    session: AsyncSession,
    caller: Caller,
    values: dict[str, Any],
    first_contact_days: int,
) -> dict[str, Any]:
    """Open a support case for a servicemember of the caller's unit and their family
    (one open case per servicemember), optionally assigned at once; the first contact with
    the family falls due ``first_contact_days`` later."""
    require_unit_side(caller.principal, "opens support cases")
    servicemember = (
        (
            await session.execute(
                select(
                    servicemember_table.c.id,
                    servicemember_table.c.family_id,
                    servicemember_table.c.unit_id,
                )
                .where(
                    servicemember_table.c.id == values["servicemember_id"],
                    visible_servicemembers(caller.principal),
                )
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if servicemember is None:
        raise InvalidInput(
            "No servicemember with this id is within your reach.",
            errors=[FieldError("body.servicemember_id", "not a servicemember of your unit")],
        )
    opened_on = values.get("opened_on") or caller.today
    _require_not_future("body.opened_on", opened_on, caller.today)
    already = await session.scalar(
        select(support_case_table.c.id).where(
            support_case_table.c.servicemember_id == servicemember["id"],
            support_case_table.c.status.in_(sorted(OPEN_STATUSES)),
        )
    )
    if already is not None:
        raise Conflict(
            "The servicemember already has an open support case.",
            extensions={"existing_case_id": str(already)},
        )
    assignment: dict[str, Any] = {}
    if values.get("provider_id") is not None:
        await _require_assignable(
            session, servicemember["unit_id"], values["provider_id"], "body.provider_id"
        )
        assignment = {
            "provider_id": values["provider_id"],
            "worker_sub": values.get("worker_sub"),
            "assigned_at": func.now(),
            "assigned_by": caller.principal.sub,
        }
    elif values.get("worker_sub") is not None:
        raise InvalidInput(
            "A worker is named only with their provider.",
            errors=[FieldError("body.provider_id", "required with worker_sub")],
        )
    case_id = new_id()
    async with unconfined(session):  # the family is the unit's through its servicemember
        await session.execute(
            insert(support_case_table).values(
                id=case_id,
                servicemember_id=servicemember["id"],
                family_id=servicemember["family_id"],
                unit_id=servicemember["unit_id"],
                status=S.OPEN.value,
                summary=values.get("summary"),
                opened_on=opened_on,
                contact_due_on=first_contact_due(opened_on, first_contact_days),
                created_by=caller.principal.sub,
                **assignment,
            )
        )
    await _note_event(session, caller, case_id, 1, "transition", None, S.OPEN.value)
    await record(
        session,
        caller,
        "open_support_case",
        SUPPORT_CASE,
        [case_id, servicemember["id"], servicemember["family_id"]],
    )
    (opened,) = await queries.support_cases_by_id(session, caller, [case_id])
    return opened


async def case_for_change(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    expected_version: int | None,
    *,
    assigner: bool = False,
    open_only: bool = True,
) -> VersionedWrite:
    """The support case, locked: visible (else 404), the caller's to work (else 403), at
    ``expected_version`` (else 412) and not closed (else 409)."""
    write = await VersionedWrite.lock(
        session,
        caller,
        SUPPORT_CASES,
        case_id,
        columns=queries.case_columns(caller.today),
        where=[visible_support_cases(caller.principal)],
    )
    if write is None:
        raise NotFound(queries.CASE_NOT_FOUND)
    if assigner:
        require_assigner(caller.principal)
    else:
        require_case_worker(caller.principal, write.current)
    await write.check_version(expected_version)
    if open_only and write.current["status"] == S.CLOSED:
        raise Conflict("The support case is closed; a closed case is read-only.")
    return write


def _audited(write: VersionedWrite) -> list[Any]:
    return [write.key, write.current["servicemember_id"], write.current["family_id"]]


async def _shown(session: AsyncSession, caller: Caller, case_id: uuid.UUID) -> dict[str, Any]:
    (case,) = await queries.support_cases_by_id(session, caller, [case_id], confined=False)
    return case


async def assign(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """Assign the case to an eligible provider of its unit and a named worker of it (their
    token subject). Reassigning moves the case away from the former provider."""
    write = await case_for_change(session, caller, case_id, expected_version, assigner=True)
    current = write.current
    provider_id = values["provider_id"]
    changes: dict[str, Any] = {}
    if provider_id != current["provider_id"] or values["worker_sub"] != current["worker_sub"]:
        if provider_id != current["provider_id"] or current["provider_ineligible"]:
            await _require_assignable(session, current["unit_id"], provider_id, "body.provider_id")
        changes = {
            "provider_id": provider_id,
            "worker_sub": values["worker_sub"],
            "assigned_at": func.now(),
            "assigned_by": caller.principal.sub,
        }
    version = await write.save(
        changes,
        action="assign_support_case",
        changed=[name for name in ("provider_id", "worker_sub") if name in changes],
        audit_ids=_audited(write),
    )
    if changes:
        await _note_event(
            session,
            caller,
            case_id,
            version,
            "assignment",
            current["status"],
            current["status"],
            reason=values.get("reason"),
            details={"provider_id": str(provider_id), "worker_sub": values["worker_sub"]},
        )
    return await _shown(session, caller, case_id)


async def transition(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
    first_contact_days: int,
) -> dict[str, Any]:
    """Move the case to ``values["to"]``: 409 naming the allowed moves when it may not go
    there, or naming what is needed first (a provider and worker to activate)."""
    to = SupportCaseStatus(values["to"])
    write = await case_for_change(session, caller, case_id, expected_version)
    current = write.current
    status = SupportCaseStatus(current["status"])
    allowed = allowed_transitions(status)
    if to not in allowed:
        raise Conflict(
            f"A support case in {status.value} cannot go to {to.value}.",
            extensions={"allowed": sorted(allowed)},
        )
    reason = values.get("reason")
    if to in REASONED and not reason:
        raise InvalidInput(
            f"A reason is required to move a support case to {to.value}.",
            errors=[FieldError("body.reason", f"required to go to {to.value}")],
        )
    if to is S.CLOSED and values.get("closure_reason") is None:
        raise InvalidInput(
            "A closure reason is required to close a support case.",
            errors=[FieldError("body.closure_reason", "required to close")],
        )
    if to is S.ACTIVE and (current["provider_id"] is None or current["worker_sub"] is None):
        raise Conflict(
            "A support case is activated once a provider and a worker of it are assigned.",
            extensions={"allowed": sorted(allowed), "missing": ["assignment"]},
        )
    changes: dict[str, Any] = {"status": to.value}
    if to is S.CLOSED:
        changes.update(closure_reason=values["closure_reason"], closed_at=func.now())
    if status is S.SUSPENDED and to is S.ACTIVE:
        # Resumed: the family is due a contact within the first-contact days again.
        changes["contact_due_on"] = max(
            current["contact_due_on"] or caller.today,
            first_contact_due(caller.today, first_contact_days),
        )
    version = await write.save(changes, action="transition_support_case", audit_ids=_audited(write))
    await _note_event(
        session, caller, case_id, version, "transition", status.value, to.value, reason=reason
    )
    return await _shown(session, caller, case_id)


async def _require_catalogued(session: AsyncSession, code: str, field: str) -> None:
    active = await session.scalar(
        select(support_measure_table.c.active).where(support_measure_table.c.code == code)
    )
    if active is None:
        raise InvalidInput(
            "The measure is not in the catalogue (/support-measures).",
            errors=[FieldError(field, "not a code of /support-measures")],
        )
    if not active:
        raise InvalidInput(
            "The measure is retired from the catalogue.",
            errors=[FieldError(field, "a retired measure is planned no more")],
        )


async def plan_measure(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int | None,
) -> dict[str, Any]:
    """Add a measure of the catalogue to the case's plan: who is responsible, by when."""
    write = await case_for_change(session, caller, case_id, expected_version)
    await _require_catalogued(session, values["measure_code"], "body.measure_code")
    _require_not_before_opened(
        "body.due_on", values["due_on"], write.current["opened_on"], "A measure"
    )
    await session.execute(
        insert(support_case_measure_table).values(
            id=new_id(),
            case_id=case_id,
            measure_code=values["measure_code"],
            status=MeasureStatus.PLANNED.value,
            origin=Origin.PLANNED.value,
            responsible=values.get("responsible"),
            due_on=values["due_on"],
            created_by=caller.principal.sub,
        )
    )
    await write.save(
        {}, action="plan_support_measure", changed=["measures"], audit_ids=_audited(write)
    )
    return await _shown(session, caller, case_id)


async def update_case_measure(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    measure_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """Record a planned measure delivered (date, outcome, notes, who) or cancelled, or move
    its due date or responsible. A delivered or cancelled measure is final."""
    write = await case_for_change(session, caller, case_id, expected_version)
    measure = (
        (
            await session.execute(
                select(support_case_measure_table)
                .where(
                    support_case_measure_table.c.id == measure_id,
                    support_case_measure_table.c.case_id == case_id,
                )
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if measure is None:
        raise NotFound("No measure with this id in this support case.")
    if measure["status"] != MeasureStatus.PLANNED:
        raise Conflict(
            f"The measure is {measure['status']}; only a planned measure changes.",
            extensions={"allowed": []},
        )
    changes: dict[str, Any] = {
        name: values[name] for name in ("responsible", "due_on", "notes") if name in values
    }
    if "due_on" in changes:
        _require_not_before_opened(
            "body.due_on", changes["due_on"], write.current["opened_on"], "A measure"
        )
    to = values.get("status")
    if to == MeasureStatus.DELIVERED:
        delivered_on = values.get("delivered_on")
        if delivered_on is None:
            raise InvalidInput(
                "A delivered measure needs the day it was delivered.",
                errors=[FieldError("body.delivered_on", "required when delivered")],
            )
        _require_not_future("body.delivered_on", delivered_on, caller.today)
        _require_not_before_opened(
            "body.delivered_on", delivered_on, write.current["opened_on"], "A delivery"
        )
        changes.update(
            status=to,
            delivered_on=delivered_on,
            outcome=values.get("outcome"),
            delivered_by=caller.principal.sub,
        )
    elif to == MeasureStatus.CANCELLED:
        changes.update(status=to, outcome=values.get("outcome"))
    elif values.get("delivered_on") is not None or values.get("outcome") is not None:
        raise InvalidInput(
            "A delivery is recorded with status delivered.",
            errors=[FieldError("body.status", "delivered, to record a delivery")],
        )
    if changes:
        await session.execute(
            update(support_case_measure_table)
            .where(support_case_measure_table.c.id == measure_id)
            .values(
                **changes, version=support_case_measure_table.c.version + 1, updated_at=func.now()
            )
        )
    await write.save(
        {},
        action="update_support_case_measure",
        changed=["measures"] if changes else [],
        audit_ids=_audited(write),
    )
    return await _shown(session, caller, case_id)


async def add_contact(
    session: AsyncSession,
    caller: Caller,
    case_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int | None,
    contact_interval_days: int,
) -> dict[str, Any]:
    """A contact with the family: the next falls due ``contact_interval_days`` after the
    latest one."""
    write = await case_for_change(session, caller, case_id, expected_version)
    current = write.current
    contacted_on = values.get("contacted_on") or caller.today
    _require_not_future("body.contacted_on", contacted_on, caller.today)
    _require_not_before_opened("body.contacted_on", contacted_on, current["opened_on"], "A contact")
    await session.execute(
        insert(support_case_contact_table).values(
            id=new_id(),
            case_id=case_id,
            contacted_on=contacted_on,
            channel=values["channel"],
            notes=values.get("notes"),
            created_by=caller.principal.sub,
        )
    )
    last = max(contacted_on, current["last_contact_on"] or contacted_on)
    changes: dict[str, Any] = {"last_contact_on": last}
    if S(current["status"]) in CONTACTED or current["contact_due_on"] is not None:
        changes["contact_due_on"] = next_contact_due(last, contact_interval_days)
    await write.save(
        changes,
        action="add_support_case_contact",
        changed=["contacts", *changes],
        audit_ids=_audited(write),
    )
    return await _shown(session, caller, case_id)


# --- deadlines that passed ----------------------------------------------------------------------


async def record_breaches(session: AsyncSession, today: date, limit: int) -> int:
    """Record each deadline of a support case that has passed by ``today``
    (``queries.DEADLINES``: the rule the ``contact_overdue`` filter applies) once, at most
    ``limit`` of each deadline per call; the change feed announces each as an event of its
    support case (its ``action`` the deadline). How many were recorded."""
    return await deadlines.record_breaches(
        session,
        support_case_deadline_breach_table,
        support_case_table,
        queries.DEADLINES,
        today,
        limit,
    )
