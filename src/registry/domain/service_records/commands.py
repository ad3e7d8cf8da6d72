"""Service records: submitting them (one or a batch, the same path), amending and voiding.
A record is never deleted: an amendment or a void keeps the version it supersedes.

Submitting checks a whole submission against the database in a fixed number of queries
(the provider and what it offers, the families referred to it now or whose access ended
within the late-reporting days, the persons and cases named, the records already holding the
external references), then writes the new records with one COPY and the changed ones with
one UPDATE: validation costs no round trip per record. These
checks are also what keeps service_records' references sound: the table has no foreign keys
(migration 0006 says why).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
from asyncpg import UniqueViolationError
from sqlalchemy import (
    ARRAY,
    Date,
    String,
    Uuid,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from registry.db.engine import driver_connection, transaction_connection
from registry.db.ids import new_id
from registry.db.reach import reach_enforced, unconfined
from registry.db.statements import Compiled, compile_statement
from registry.domain.audit.commands import record, record_on
from registry.domain.cases import commands as case_commands
from registry.domain.cases.tables import case_table, referral_table
from registry.domain.classifier.tables import service_table
from registry.domain.families.tables import family_provider_access_table, family_table, person_table
from registry.domain.providers.tables import provider_service_table, provider_table
from registry.domain.service_records.access import submitting_provider, visible_records
from registry.domain.service_records.queries import (
    NOT_FOUND,
    RECORD_COLUMNS,
    SERVICE_RECORD,
    records_by_id,
)
from registry.domain.service_records.rules import (
    CONTENT_FIELDS,
    VERSIONED_FIELDS,
    delivery_date_problem,
    late_report_problems,
)
from registry.domain.service_records.tables import (
    service_record_table,
    service_record_version_table,
)
from registry.domain.shared.caller import Caller
from registry.domain.versioning import Versioned, VersionedWrite, record_change_table
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound

#: Service records as versioned records: amendments and voids are ``VersionedWrite``s.
SERVICE_RECORDS = Versioned(service_record_table, SERVICE_RECORD)

# --- submitting --------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    """What became of one submitted record: accepted (``created``, ``updated`` to a new
    version, or ``unchanged``) with its id, or rejected with the reasons."""

    index: int
    external_ref: str | None
    id: uuid.UUID | None = None
    version: int | None = None
    outcome: str | None = None
    errors: list[FieldError] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.errors


@dataclass(slots=True)
class _Known:
    """What the database says about the records of one submission, read in a few queries."""

    offered: dict[str, frozenset[str]]  # service code → places, active offers only
    # referred to the provider (now or before): id → territory and the day the access ended
    # (None while it stands)
    families: dict[uuid.UUID, dict[str, Any]]
    persons: dict[uuid.UUID, uuid.UUID]  # person → family
    existing: dict[str, dict[str, Any]]  # external_ref → the provider's record
    cases: dict[uuid.UUID, uuid.UUID]  # case referred to the provider → its family


def _array(values: Sequence[Any], element: Any) -> Any:
    """One array parameter, however many values (an IN list binds one per value)."""
    return bindparam(None, list(values), type_=ARRAY(element))


def _probe(name: str, key_type: Any, lookup: Callable[[Any], Select[Any]]) -> Select[Any]:
    """The row ``lookup(key)`` finds for each key of the array parameter ``name`` (at most
    one), looked up key by key through its primary key: a nested loop over the keys whatever
    the statistics say. Given ten thousand ids in one ``= ANY``, the planner read the whole of
    a families index instead (0.07-0.16 s at 100 000 families, growing with the register).
    Only for a key no other index competes with (not external references: see ``_known``)."""
    keys = bindparam(name, type_=ARRAY(key_type))
    wanted = func.unnest(keys).table_valued("key").render_derived(name="wanted")
    found = lookup(wanted.c.key).limit(literal_column("1")).lateral("found")
    return select(found).select_from(wanted).join(found, true())


# What ``_known`` reads, each a statement compiled once (``db.statements``) and run on the
# session's driver connection: building and compiling them per request cost more CPU than
# the rest of a submission (issue 18). Every value is a parameter: ``provider_id`` and one
# array of keys each.
_PROVIDER = bindparam("provider_id", type_=Uuid)

_PROVIDER_STATUS = compile_statement(
    select(provider_table.c.status).where(provider_table.c.id == _PROVIDER)
)

_OFFERS = compile_statement(
    select(provider_service_table.c.service_code, provider_service_table.c.places)
    .join(service_table, service_table.c.code == provider_service_table.c.service_code)
    .where(
        provider_service_table.c.provider_id == _PROVIDER,
        provider_service_table.c.active,
        service_table.c.active,
    )
)


def _access_ended_on() -> Any:
    """The day the provider's access to the family ended (null while it stands): as the
    application's clock recorded it, or for a grant ended without that day, the UTC date of
    the moment it was revoked."""
    return func.coalesce(
        family_provider_access_table.c.revoked_on,
        cast(func.timezone("UTC", family_provider_access_table.c.revoked_at), Date),
    ).label("access_ended_on")


_REFERRED_FAMILIES = compile_statement(
    _probe(
        "family_ids",
        Uuid,
        lambda key: (
            select(
                family_table.c.id,
                family_table.c.oblast_code,
                family_table.c.raion_code,
                family_table.c.hromada_code,
                _access_ended_on(),
            )
            .join(
                family_provider_access_table,
                and_(
                    family_provider_access_table.c.family_id == family_table.c.id,
                    family_provider_access_table.c.provider_id == _PROVIDER,
                ),
            )
            .where(family_table.c.id == key)
        ),
    )
)

_PERSONS = compile_statement(
    _probe(
        "person_ids",
        Uuid,
        lambda key: select(person_table.c.id, person_table.c.family_id).where(
            person_table.c.id == key
        ),
    )
)


def _existing_statement(*, lock: bool) -> Select[Any]:
    # Not probed key by key like the others: (provider_id, id) competes with the unique
    # index here, and for a provider newer than the statistics the planner may walk all
    # its records once per reference. ANY() at worst reads them all once.
    statement = select(
        service_record_table.c.id,
        service_record_table.c.external_ref,
        service_record_table.c.status,
        service_record_table.c.version,
        *(service_record_table.c[name] for name in CONTENT_FIELDS),
    ).where(
        service_record_table.c.provider_id == _PROVIDER,
        service_record_table.c.external_ref == func.any(bindparam("refs", type_=ARRAY(String))),
    )
    return statement.with_for_update() if lock else statement


_EXISTING = compile_statement(_existing_statement(lock=False))
_EXISTING_LOCKED = compile_statement(_existing_statement(lock=True))

_REFERRED_CASES = compile_statement(
    _probe(
        "case_ids",
        Uuid,
        lambda key: select(case_table.c.id, case_table.c.family_id).where(
            case_table.c.id == key,
            case_table.c.id.in_(
                select(referral_table.c.case_id).where(
                    referral_table.c.provider_id == _PROVIDER,
                    # accepted, now or before it was closed (a referral closed while
                    # pending was never the provider's)
                    or_(
                        referral_table.c.status == "accepted",
                        referral_table.c.status == "closed",
                    ),
                    referral_table.c.decided_at.is_not(None),
                )
            ),
        ),
    )
)


async def _fetch(
    connection: asyncpg.Connection, statement: Compiled, **values: Any
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        statement.sql, *statement.arguments(**values)
    )
    return rows


async def _provider_offers(
    connection: asyncpg.Connection, provider_id: uuid.UUID
) -> dict[str, frozenset[str]]:
    """The services an active provider offers now; 403 for a provider not active in the
    register (pending, excluded, or unknown)."""
    status = await connection.fetchval(
        _PROVIDER_STATUS.sql, *_PROVIDER_STATUS.arguments(provider_id=provider_id)
    )
    if status != "active":
        raise Forbidden(
            "Your provider is not active in the register of providers"
            + (f" (status {status})." if status else ".")
        )
    rows = await _fetch(connection, _OFFERS, provider_id=provider_id)
    return {row["service_code"]: frozenset(row["places"]) for row in rows}


def _distinct(records: Sequence[dict[str, Any]], name: str) -> list[Any]:
    return list({r[name] for r in records if r.get(name) is not None})


async def _known(
    session: AsyncSession,
    provider_id: uuid.UUID,
    records: Sequence[dict[str, Any]],
    *,
    lock_refs: bool = True,
) -> _Known:
    connection = await transaction_connection(session)
    offered = await _provider_offers(connection, provider_id)
    referred = await _fetch(
        connection,
        _REFERRED_FAMILIES,
        provider_id=provider_id,
        family_ids=_distinct(records, "family_id"),
    )
    families = {
        row["id"]: {
            "oblast_code": row["oblast_code"],
            "raion_code": row["raion_code"],
            "hromada_code": row["hromada_code"],
            "access_ended_on": row["access_ended_on"],
        }
        for row in referred
    }
    person_ids = _distinct(records, "person_id")
    persons: dict[uuid.UUID, uuid.UUID] = (
        {
            row["id"]: row["family_id"]
            for row in await _fetch(connection, _PERSONS, person_ids=person_ids)
        }
        if person_ids
        else {}
    )
    refs = _distinct(records, "external_ref")
    existing: dict[str, dict[str, Any]] = (
        {
            row["external_ref"]: dict(row)
            for row in await _fetch(
                connection,
                _EXISTING_LOCKED if lock_refs else _EXISTING,
                provider_id=provider_id,
                refs=refs,
            )
        }
        if refs
        else {}
    )
    case_ids = _distinct(records, "case_id")
    cases: dict[uuid.UUID, uuid.UUID] = (
        {
            row["id"]: row["family_id"]
            for row in await _fetch(
                connection, _REFERRED_CASES, provider_id=provider_id, case_ids=case_ids
            )
        }
        if case_ids
        else {}
    )
    return _Known(offered, families, persons, existing, cases)


def _problems(
    known: _Known,
    values: dict[str, Any],
    prefix: str,
    today: date,
    late_reporting_days: int,
    *,
    resent: bool = False,
) -> list[FieldError]:
    """Every rule a record breaks, given what the database knows. A record ``resent`` as it
    is stored writes nothing: it is not held to the late-reporting period (a sync may resend
    everything, also long after the access ended)."""
    problems = []
    family = known.families.get(values["family_id"])
    if family is None:
        problems.append(
            FieldError(f"{prefix}family_id", "no family with this id is referred to your provider")
        )
    elif not resent:
        problems.extend(
            FieldError(prefix + name, message)
            for name, message in late_report_problems(
                values["delivered_on"], family["access_ended_on"], today, late_reporting_days
            ).items()
        )
    person_id = values.get("person_id")
    if person_id is not None and known.persons.get(person_id) != values["family_id"]:
        problems.append(FieldError(f"{prefix}person_id", "not a member of this family"))
    case_id = values.get("case_id")
    if case_id is not None and known.cases.get(case_id) != values["family_id"]:
        problems.append(
            FieldError(f"{prefix}case_id", "not a case of this family referred to your provider")
        )
    places = known.offered.get(values["service_code"])
    if places is None:
        problems.append(
            FieldError(
                f"{prefix}service_code",
                "your provider does not offer this service (or it is not active)",
            )
        )
    elif values["place"] not in places:
        problems.append(
            FieldError(
                f"{prefix}place",
                "your provider does not deliver this "
                "service here; offered: " + ", ".join(sorted(places)),
            )
        )
    date_problem = delivery_date_problem(values["delivered_on"], today)
    if date_problem is not None:
        problems.append(FieldError(f"{prefix}delivered_on", date_problem))
    return problems


def _content(values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(map(values.get, CONTENT_FIELDS))


def _changed_fields(values: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The content fields ``values`` give anew, as noted for the next stale writer."""
    return sorted(name for name in CONTENT_FIELDS if values.get(name) != current[name])


async def submit(
    session: AsyncSession,
    caller: Caller,
    records: Sequence[dict[str, Any]],
    *,
    atomic: bool,
    prefixes: Sequence[str],
    action: str,
    late_reporting_days: int,
) -> list[Result]:
    """Record services the caller's provider delivered. A record whose ``external_ref`` the
    provider used before updates that record (a new version when something changed).

    Each record is accepted or rejected on its own; with ``atomic`` nothing is written unless
    every record is accepted (the results then say why not). ``prefixes`` name where each
    record sits in the request, for field errors. Nothing submitted: nothing checked, written
    or audited.

    A family whose access the provider had is still open to its records of services
    delivered while the access stood, for ``late_reporting_days`` after it ended (and to
    records resent unchanged for ever)."""
    if not records:
        return []
    provider_id = submitting_provider(caller.principal)
    known = await _known(session, provider_id, records)
    results: list[Result] = []
    first_index_of_ref: dict[str, int] = {}
    for index, (values, prefix) in enumerate(zip(records, prefixes, strict=True)):
        result = Result(index, values.get("external_ref"))
        ref = values.get("external_ref")
        stored = None if ref is None else known.existing.get(ref)
        resent = stored is not None and _content(stored) == _content(values)
        result.errors = _problems(
            known, values, prefix, caller.today, late_reporting_days, resent=resent
        )
        if ref is not None:
            if ref in first_index_of_ref:
                result.errors.append(
                    FieldError(
                        f"{prefix}external_ref",
                        f"the same as record {first_index_of_ref[ref]} of this submission",
                    )
                )
            else:
                first_index_of_ref[ref] = index
            if stored is not None and stored["status"] == "voided":
                result.errors.append(
                    FieldError(
                        f"{prefix}external_ref", "names a voided record; use a new reference"
                    )
                )
        results.append(result)

    if atomic and not all(r.accepted for r in results):
        return results
    accepted = [(r, v) for r, v in zip(results, records, strict=True) if r.accepted]
    new = [(r, v) for r, v in accepted if v.get("external_ref") not in known.existing]
    changed = []
    for result, values in accepted:
        ref = values.get("external_ref")
        current = None if ref is None else known.existing.get(ref)
        if current is None:
            continue
        result.id = current["id"]
        if _content(current) == _content(values):
            result.outcome, result.version = "unchanged", current["version"]
        else:
            result.outcome, result.version = "updated", current["version"] + 1
            changed.append((result, values, current))

    await _insert(session, caller, provider_id, known, new, atomic=atomic, prefixes=prefixes)
    await _update(session, caller, known, changed, reason="resubmitted by the provider")
    touched = [r for r in results if r.accepted]
    await record_on(
        await transaction_connection(session),
        caller,
        action,
        SERVICE_RECORD,
        [
            *(r.id for r in touched),
            *{v["family_id"] for r, v in zip(results, records, strict=True) if r.accepted},
        ],
    )
    return results


async def submit_one(
    session: AsyncSession, caller: Caller, values: dict[str, Any], *, late_reporting_days: int
) -> tuple[dict[str, Any], bool]:
    """One record (``POST /service-records``), stored whole or refused (422 listing every
    problem): the stored record, and whether it was created (else updated or unchanged)."""
    (result,) = await submit(
        session,
        caller,
        [values],
        atomic=True,
        prefixes=["body."],
        action="submit_service_record",
        late_reporting_days=late_reporting_days,
    )
    if not result.accepted:
        raise InvalidInput("The record has invalid fields; see errors.", errors=result.errors)
    assert result.id is not None
    (stored,) = await records_by_id(session, caller, [result.id])
    return stored, result.outcome == "created"


#: What a new record is written with; the other columns take their defaults.
_NEW_COLUMNS = (
    "id",
    "provider_id",
    "external_ref",
    *CONTENT_FIELDS,
    "oblast_code",
    "raion_code",
    "hromada_code",
    "changed_by",
)


async def _copy(session: AsyncSession, rows: list[tuple[Any, ...]]) -> None:
    """COPY ``rows`` into service_records on the session's connection (so in its
    transaction): SQLAlchemy has no COPY, asyncpg does."""
    connection = await driver_connection(session)
    await connection.copy_records_to_table("service_records", records=rows, columns=_NEW_COLUMNS)


def _unnest(columns: Sequence[str], rows: list[tuple[Any, ...]], name: str) -> Any:
    """``rows`` as a table named ``name``: one array per column of service_records, unnested
    (one parameter per column, however many rows)."""
    arrays = [
        _array(values, service_record_table.c[column].type)
        for column, values in zip(columns, zip(*rows, strict=True), strict=True)
    ]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name=name)


def _insert_skipping_taken_statement() -> Any:
    """The new rows as one INSERT (one array parameter per column, named as the column),
    skipping those whose external reference is taken."""
    unnested = (
        func.unnest(
            *(
                bindparam(column, type_=ARRAY(service_record_table.c[column].type))
                for column in _NEW_COLUMNS
            )
        )
        .table_valued(*_NEW_COLUMNS)
        .render_derived(name="incoming")
    )
    return (
        pg_insert(service_record_table)
        .from_select(_NEW_COLUMNS, select(*unnested.c))
        .on_conflict_do_nothing(index_elements=["provider_id", "external_ref"])
        .returning(service_record_table.c.id)
    )


_INSERT_SKIPPING_TAKEN = compile_statement(_insert_skipping_taken_statement())

#: Up to this many new records a submission writes them with the one INSERT rather than
#: COPY: for a few rows, COPY's savepoint, its reading of the table's columns and its own
#: round trips cost more than the statement (a single POST wrote its record through three
#: statements and a COPY).
_COPY_FROM = 50


async def _insert(
    session: AsyncSession,
    caller: Caller,
    provider_id: uuid.UUID,
    known: _Known,
    new: list[tuple[Result, dict[str, Any]]],
    *,
    atomic: bool,
    prefixes: Sequence[str],
) -> None:
    """Write the new records with COPY: no statement to plan, no parameters to bind per
    value, no speculative insertion. Only when another request stored one of these external
    references since ``_known`` read them does COPY fail on the unique index; the rows are
    then written again, skipping the taken ones."""
    if not new:
        return
    rows = []
    for result, values in new:
        result.id, result.version, result.outcome = new_id(), 1, "created"
        family = known.families[values["family_id"]]
        rows.append(
            (
                result.id,
                provider_id,
                values.get("external_ref"),
                *_content(values),
                family["oblast_code"],
                family["raion_code"],
                family["hromada_code"],
                caller.principal.sub,
            )
        )
    # PostgreSQL refuses COPY FROM into a table under row-level security: there, and for a
    # few rows, the one INSERT of every row at once (from arrays) that otherwise only
    # follows a lost race.
    if len(rows) >= _COPY_FROM and not reach_enforced(session):
        try:
            async with session.begin_nested():
                await _copy(session, rows)
            return
        except UniqueViolationError:
            pass
    connection = await transaction_connection(session)
    columns = dict(zip(_NEW_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
    inserted = {row["id"] for row in await _fetch(connection, _INSERT_SKIPPING_TAKEN, **columns)}
    lost = [result for result, _ in new if result.id not in inserted]
    if not lost:
        return
    if atomic:
        raise Conflict(
            "Another request submitted some of these external references at the "
            "same time; submit again."
        )
    for result in lost:
        result.id = result.version = result.outcome = None
        result.errors.append(
            FieldError(
                f"{prefixes[result.index]}external_ref",
                "submitted at the same time by another request; submit again",
            )
        )


#: What an update replaces, besides who changed it, why and when.
_UPDATED_COLUMNS = ("id", *CONTENT_FIELDS, "oblast_code", "raion_code", "hromada_code", "version")


async def _update(
    session: AsyncSession,
    caller: Caller,
    known: _Known,
    changed: list[tuple[Result, dict[str, Any], dict[str, Any]]],
    *,
    reason: str,
) -> None:
    """Replace the content of existing records (each already locked by ``_known``), keeping
    each version they supersede: one statement for all of them, one for their history, one
    for the fields each changed. Set-based on purpose: a batch resubmits thousands of records,
    which one ``VersionedWrite`` each would cost a round trip apiece."""
    if not changed:
        return
    await _keep_superseded(session, [current["id"] for _, _, current in changed])
    rows = []
    for result, values, current in changed:
        family = known.families[values["family_id"]]
        rows.append(
            (
                current["id"],
                *_content(values),
                family["oblast_code"],
                family["raion_code"],
                family["hromada_code"],
                result.version,
            )
        )
    incoming = _unnest(_UPDATED_COLUMNS, rows, "incoming")
    await session.execute(
        update(service_record_table)
        .where(service_record_table.c.id == incoming.c.id)
        .values(
            **{name: incoming.c[name] for name in _UPDATED_COLUMNS if name != "id"},
            changed_by=caller.principal.sub,
            change_reason=reason,
            updated_at=func.now(),
        )
    )
    await session.execute(
        insert(record_change_table),
        [
            {
                "resource_type": SERVICE_RECORD,
                "resource_id": current["id"],
                "version": result.version,
                "actor": caller.principal.sub,
                "changed_fields": _changed_fields(values, current),
            }
            for result, values, current in changed
        ],
    )


async def _keep_superseded(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    """Copy the current version of each record into its history before it changes."""
    pairs: list[Any] = []
    for name in VERSIONED_FIELDS:
        pairs += [literal_column(f"'{name}'"), service_record_table.c[name]]
    snapshot = func.jsonb_build_object(*pairs)
    await session.execute(
        insert(service_record_version_table).from_select(
            ["service_record_id", "version", "record", "changed_by", "change_reason", "valid_from"],
            select(
                service_record_table.c.id,
                service_record_table.c.version,
                snapshot,
                service_record_table.c.changed_by,
                service_record_table.c.change_reason,
                service_record_table.c.updated_at,
            ).where(service_record_table.c.id == func.any(_array(ids, Uuid))),
        )
    )


# --- correcting --------------------------------------------------------------------------------


async def _for_change(
    session: AsyncSession, caller: Caller, record_id: uuid.UUID, expected_version: int | None
) -> VersionedWrite:
    """The record's row, locked: visible (else 404), the caller's provider's (else 403), at
    ``expected_version`` (else 412) and not voided (else 409)."""
    provider_id = submitting_provider(caller.principal)
    write = await VersionedWrite.lock(
        session,
        caller,
        SERVICE_RECORDS,
        record_id,
        columns=RECORD_COLUMNS,
        where=[visible_records(caller.principal)],
    )
    if write is None:
        raise NotFound(NOT_FOUND)
    if write.current["provider_id"] != provider_id:
        raise Forbidden("Only the provider that submitted a record corrects it.")
    await write.check_version(expected_version)
    if write.current["status"] == "voided":
        raise Conflict("The record is voided; a voided record cannot be changed.")
    return write


async def amend(
    session: AsyncSession,
    caller: Caller,
    record_id: uuid.UUID,
    patch: dict[str, Any],
    reason: str,
    expected_version: int,
    *,
    late_reporting_days: int,
) -> dict[str, Any]:
    """Correct a record (a JSON merge patch of its content) as a new version, with the
    reason; the version it supersedes stays in the history. The amended record must be one
    the provider could submit now (for a family whose access ended: delivered while it
    stood, within the late-reporting days)."""
    write = await _for_change(session, caller, record_id, expected_version)
    current = write.current
    merged = {**{name: current[name] for name in CONTENT_FIELDS}, **patch}
    known = await _known(session, current["provider_id"], [merged], lock_refs=False)
    problems = _problems(known, merged, "body.", caller.today, late_reporting_days)
    if problems:
        raise InvalidInput("The amended record has invalid fields; see errors.", errors=problems)
    if _content(merged) == _content(current):
        raise InvalidInput(
            "The amendment changes nothing.",
            errors=[FieldError("body", "give at least one field with a new value")],
        )
    await _keep_superseded(session, [record_id])
    family = known.families[merged["family_id"]]
    await write.save(
        {
            **{name: merged.get(name) for name in CONTENT_FIELDS},
            "oblast_code": family["oblast_code"],
            "raion_code": family["raion_code"],
            "hromada_code": family["hromada_code"],
            "changed_by": caller.principal.sub,
            "change_reason": reason,
        },
        action="amend_service_record",
        changed=_changed_fields(merged, current),
        audit_ids=[record_id, *{current["family_id"], merged["family_id"]}],
    )
    (amended,) = await records_by_id(session, caller, [record_id])
    return amended


async def void(
    session: AsyncSession,
    caller: Caller,
    record_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
) -> dict[str, Any]:
    """Void a record entered in error, with the reason (never deleted). The provider's own
    record may be voided whenever it is found wrong, also after its access to the family
    ended: a void only withdraws what the provider claimed, and reads nothing new."""
    write = await _for_change(session, caller, record_id, expected_version)
    await _keep_superseded(session, [record_id])
    await write.save(
        {
            "status": "voided",
            "void_reason": reason,
            "voided_at": func.now(),
            "changed_by": caller.principal.sub,
            "change_reason": reason,
        },
        action="void_service_record",
        changed=["status", "void_reason", "voided_at"],
        audit_ids=[record_id, write.current["family_id"]],
    )
    (voided,) = await records_by_id(session, caller, [record_id])
    return voided


# --- following a family that moves ---------------------------------------------------------


async def relocate_family(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int | None,
) -> dict[str, Any]:
    """Move a family to another hromada with its cases (``cases.commands.relocate_family``)
    and its service records: a record's territory is the family's, the reach by which the
    hromada's officers see it, so it follows the family like its cases do and the old
    hromada keeps none. Each moved record gets its next version (the one it supersedes stays
    in its history), with the fields that changed noted.

    The database's row-level security (if on) does not hold the move to the caller's reach:
    it moves records out of it (the sending officer) or reaches them through a case (the
    receiving one). The application's confinement admits the family first, as always."""
    async with unconfined(session):
        return await _relocate_family(session, caller, family_id, values, expected_version)


async def _relocate_family(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int | None,
) -> dict[str, Any]:
    family = await case_commands.relocate_family(
        session, caller, family_id, values, expected_version
    )
    territory = {name: family[name] for name in ("oblast_code", "raion_code", "hromada_code")}
    moving = (
        await session.execute(
            select(
                service_record_table.c.id,
                service_record_table.c.oblast_code,
                service_record_table.c.raion_code,
            )
            .where(
                service_record_table.c.family_id == family_id,
                service_record_table.c.hromada_code != territory["hromada_code"],
            )
            .order_by(service_record_table.c.id)
            .with_for_update()
        )
    ).all()
    if not moving:
        return family
    ids = [row.id for row in moving]
    await _keep_superseded(session, ids)
    moved = await session.execute(
        update(service_record_table)
        .where(service_record_table.c.id == func.any(_array(ids, Uuid)))
        .values(
            **territory,
            version=service_record_table.c.version + 1,
            changed_by=caller.principal.sub,
            change_reason=f"family relocated: {values['reason']}",
            updated_at=func.now(),
        )
        .returning(service_record_table.c.id, service_record_table.c.version)
    )
    versions: dict[uuid.UUID, int] = {row_id: version for row_id, version in moved}
    await session.execute(
        insert(record_change_table),
        [
            {
                "resource_type": SERVICE_RECORD,
                "resource_id": row.id,
                "version": versions[row.id],
                "actor": caller.principal.sub,
                "changed_fields": [
                    "hromada_code",
                    *(
                        name
                        for name in ("oblast_code", "raion_code")
                        if getattr(row, name) != territory[name]
                    ),
                ],
            }
            for row in moving
        ],
    )
    await record(session, caller, "relocate_family", SERVICE_RECORD, ids)
    return family
