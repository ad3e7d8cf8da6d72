"""Changing families and their members. Each function checks the caller's reach in its
queries, validates the whole resulting record and writes it as the next version
(``VersionedWrite``: what changed is noted, the action audited), all in the caller's
transaction (it only flushes)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.reach import unconfined
from registry.domain.audit.commands import record
from registry.domain.families import queries
from registry.domain.families.access import (
    identifier_view,
    may_keep_families_in,
    may_relocate,
    visible_families,
)
from registry.domain.families.queries import FAMILY, FAMILY_NOT_FOUND, PERSON
from registry.domain.families.rules import (
    NAME_PARTS,
    clean_family,
    clean_person,
    dictionary_entries,
)
from registry.domain.families.tables import (
    PERSON_IDENTIFIERS,
    PERSON_RNOKPP,
    PERSON_UNZR,
    family_table,
    hardship_factor_table,
    name_word_deletion_table,
    name_word_form_table,
    name_word_table,
    person_table,
    recipient_category_table,
)
from registry.domain.shared.caller import Caller
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.territories.queries import locate_address
from registry.domain.versioning import Versioned, VersionedWrite, note_change
from registry.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound

FAMILIES = Versioned(family_table, FAMILY)
PERSONS = Versioned(person_table, PERSON)

#: Family values stored as they are (consent and the address are handled on their own).
_FAMILY_FIELDS = ("address_line", "phone", "categories", "factors")
_PERSON_FIELDS = (
    "last_name",
    "first_name",
    "patronymic",
    "birth_date",
    "sex",
    "relation",
    "rnokpp",
    "rnokpp_refused",
    "unzr",
    "disability_group",
    "idp_certificate",
    "is_servicemember",
)


# --- families --------------------------------------------------------------------------------


async def create_family(
    session: AsyncSession, caller: Caller, values: dict[str, Any]
) -> dict[str, Any]:
    """Register a family (and the members given with it); returns the family and the
    possible duplicates of its members found elsewhere. Every invalid field is reported at
    once."""
    family_id, _, duplicates = await register_family(session, caller, values)
    (created,) = await queries.families_by_id(session, caller, [family_id])
    return {**created, "possible_duplicates": duplicates}


async def register_family(
    session: AsyncSession, caller: Caller, values: dict[str, Any], *, admitted: bool = False
) -> tuple[uuid.UUID, list[uuid.UUID], list[dict[str, Any]]]:
    """Register a family and its members: its id, its members' ids (in the order given) and
    the possible duplicates of its members found elsewhere. ``admitted``: a higher context
    has admitted the registration beyond the caller's territory (a unit's liaison registers
    a servicemember's family wherever it lives); it is then written beyond the caller's
    reach, and audited as theirs."""
    errors: list[FieldError] = []
    family = _collecting(errors, clean_family, values) or values
    members = [
        _collecting(errors, clean_person, member, prefix=f"body.members.{i}.", today=caller.today)
        for i, member in enumerate(values.get("members") or [])
    ]
    errors.extend(_repeated_identifiers(members))
    address = None
    try:
        address = await locate_address(
            session, family["hromada_code"], family.get("settlement_code")
        )
        await _require_reference_codes(session, family)
    except InvalidInput as error:
        errors.extend(error.errors)
    if errors or address is None:
        raise InvalidInput("The record has invalid fields; see errors.", errors=errors)
    if not admitted and not may_keep_families_in(caller.principal, *_reach(address)):
        raise Forbidden("You may register families only within your own territory.")

    family_id = uuid.uuid4()
    stored = _family_columns(address, family)
    async with unconfined(session, admitted):
        await session.execute(
            insert(family_table).values(id=family_id, created_by=caller.principal.sub, **stored)
        )
        await note_change(
            session, FAMILY, family_id, 1, _changed_names(stored), caller.principal.sub
        )
        person_ids = []
        for i, member in enumerate(members):
            assert member is not None  # invalid members were refused above
            person_ids.append(
                await _insert_person(
                    session,
                    caller,
                    family_id,
                    address["oblast_code"],
                    member,
                    prefix=f"body.members.{i}.",
                )
            )
        duplicates = [] if admitted else await _similar_to(session, caller, person_ids, family_id)
    await record(
        session,
        caller,
        "create_family",
        FAMILY,
        [family_id, *person_ids, *{d["family_id"] for d in duplicates}],
    )
    return family_id, person_ids, duplicates


def _collecting(
    errors: list[FieldError], rule: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any
) -> dict[str, Any] | None:
    """``rule(...)``, or ``None`` with its field errors added to ``errors``."""
    try:
        return rule(*args, **kwargs)
    except InvalidInput as error:
        errors.extend(error.errors)
        return None


def _repeated_identifiers(members: Sequence[dict[str, Any] | None]) -> list[FieldError]:
    """Two members of one new family cannot share an RNOKPP or UNZR."""
    errors = []
    for field in ("rnokpp", "unzr"):
        first_seen: dict[str, int] = {}
        for i, member in enumerate(members):
            number = (member or {}).get(field)
            if number is None:
                continue
            if number in first_seen:
                errors.append(
                    FieldError(
                        f"body.members.{i}.{field}",
                        f"the same as members.{first_seen[number]}.{field}",
                    )
                )
            else:
                first_seen[number] = i
    return errors


async def update_family(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    patch: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """Apply a JSON merge patch to the family's own values."""
    write = await _lock_family(session, caller, family_id, expected_version)
    current = queries.family_values(write.current)
    merged = {**current, **{k: v for k, v in patch.items() if k != "consent"}}
    if "consent" in patch:
        merged["consent"] = _merge_consent(current["consent"], patch["consent"])
    family = clean_family(merged)
    for required in ("hromada_code",):
        if family.get(required) is None:
            raise InvalidInput(
                "A required field cannot be removed.",
                errors=[FieldError(f"body.{required}", "must not be null")],
            )
    if family["hromada_code"] != current["hromada_code"]:
        # Moving to another hromada moves the family's cases with it: one operation of its own.
        raise InvalidInput(
            "A family moves to another hromada by relocation, which moves its cases with it.",
            errors=[
                FieldError(
                    "body.hromada_code",
                    f"changes only by POST /api/v1/families/{family_id}/relocation",
                )
            ],
        )
    address = {
        k: current[k] for k in ("oblast_code", "raion_code", "hromada_code", "settlement_code")
    }
    if (family["hromada_code"], family.get("settlement_code")) != (
        current["hromada_code"],
        current["settlement_code"],
    ):
        address = await locate_address(
            session, family["hromada_code"], family.get("settlement_code")
        )
        if not may_keep_families_in(caller.principal, *_reach(address)):
            raise Forbidden("You may move a family only within your own territory.")
    await _require_reference_codes(session, family)

    stored = _family_columns(address, family)
    changed = {name: value for name, value in stored.items() if write.current[name] != value}
    await write.save(changed, action="update_family", changed=_changed_names(changed))
    (updated,) = await queries.families_by_id(session, caller, [family_id])
    return updated


async def archive_family(
    session: AsyncSession, caller: Caller, write: VersionedWrite, reason: str
) -> dict[str, Any]:
    """Archive (never delete) the family ``write`` holds (``family_for_change``), with the
    reason. Whether it may be archived beyond that (no open case) is checked by the caller,
    ``cases.commands.archive_family``, which knows cases."""
    family_id = write.key
    await write.save(
        {"status": "archived", "archive_reason": reason, "archived_at": func.now()}, action=None
    )
    # An archived family has no current members: their identifiers are free for the family
    # they may be registered in next, and each membership ends with the family's reason.
    # (One UPDATE for them all: every change of a member first locks its family, held here.)
    ended = (
        await session.execute(
            update(person_table)
            .where(person_table.c.family_id == family_id, person_table.c.status == "active")
            .values(
                status="removed",
                removal_reason=f"family archived: {reason}",
                removed_at=func.now(),
                version=person_table.c.version + 1,
                updated_at=func.now(),
            )
            .returning(person_table.c.id, person_table.c.version)
        )
    ).all()
    for person_id, person_version in ended:
        await note_change(
            session,
            PERSON,
            person_id,
            person_version,
            ["status", "removal_reason", "removed_at"],
            caller.principal.sub,
        )
    await record(
        session,
        caller,
        "archive_family",
        FAMILY,
        [family_id, *(person_id for person_id, _ in ended)],
    )
    (archived,) = await queries.families_by_id(session, caller, [family_id])
    return archived


async def family_for_change(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID, expected_version: int | None
) -> VersionedWrite:
    """The family's row, locked: visible (else 404), the caller's to change (else 403),
    at ``expected_version`` (else 412) and active (else 409)."""
    return await _lock_family(session, caller, family_id, expected_version)


async def relocate(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    values: dict[str, Any],
    expected_version: int | None,
    *,
    receiving: ColumnElement[bool] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Move the family to another hromada (``values``: ``to_hromada_code``, optionally the
    ``settlement_code`` and ``address_line`` there; the old ones do not hold there), as its
    next version; returns the address it left and the one it moved to. The family must be
    within the caller's reach, or within ``receiving`` (the families a receiving officer
    reaches through their cases: the cases context says which); the caller must be one who
    may move it there (403), at ``expected_version`` (412); it must be active and move
    somewhere else (409) that is a hromada (422). Not audited: the caller records the
    relocation with the cases that moved with it."""
    reach = visible_families(caller.principal)
    write = await VersionedWrite.lock(
        session,
        caller,
        FAMILIES,
        family_id,
        columns=queries.FAMILY_COLUMNS,
        where=[reach if receiving is None else or_(reach, receiving)],
    )
    if write is None:
        raise NotFound(FAMILY_NOT_FOUND)
    origin = _reach(write.current)
    destination_code = values["to_hromada_code"]
    if not may_relocate(caller.principal, origin, destination_code):
        raise Forbidden(
            "Only a community officer of the hromada the family leaves, or of the one it "
            "moves to, relocates a family."
        )
    await write.check_version(expected_version)
    if write.current["status"] != "active":
        raise Conflict("The family is archived; an archived family cannot be changed.")
    if destination_code == write.current["hromada_code"]:
        raise Conflict(
            "The family is already in this hromada.",
            errors=[FieldError("body.to_hromada_code", "the family's current hromada")],
        )
    destination = await locate_address(
        session, destination_code, values.get("settlement_code"), field="body.to_hromada_code"
    )
    if not may_relocate(caller.principal, origin, destination_code, _reach(destination)):
        raise Forbidden("You may relocate families only within your own territory.")
    stored = {**destination, "address_line": values.get("address_line")}
    left = {name: write.current[name] for name in stored}
    await write.save(
        {name: value for name, value in stored.items() if left[name] != value}, action=None
    )
    return left, stored


async def _lock_family(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID, expected_version: int | None
) -> VersionedWrite:
    """The family's row, locked: visible (else 404), the caller's to change (else 403),
    at ``expected_version`` (else 412) and active (else 409)."""
    write = await VersionedWrite.lock(
        session,
        caller,
        FAMILIES,
        family_id,
        columns=queries.FAMILY_COLUMNS,
        where=[visible_families(caller.principal)],
    )
    if write is None:
        raise NotFound(FAMILY_NOT_FOUND)
    if not may_keep_families_in(caller.principal, *_reach(write.current)):
        raise Forbidden("You may change families only within your own territory.")
    await write.check_version(expected_version)
    if write.current["status"] != "active":
        raise Conflict("The family is archived; an archived family cannot be changed.")
    return write


def _merge_consent(current: dict[str, Any] | None, patch: dict[str, Any] | None) -> Any:
    """RFC 7396 on the nested object; the merged consent must still be complete."""
    if patch is None:
        return None
    merged = {**(current or {}), **patch}
    missing = [name for name in ("given_at", "given_by", "scope") if merged.get(name) is None]
    if missing:
        raise InvalidInput(
            "Consent needs when, by whom and for what.",
            errors=[FieldError(f"body.consent.{name}", "is required") for name in missing],
        )
    return merged


def _family_columns(address: dict[str, Any], family: dict[str, Any]) -> dict[str, Any]:
    """The family's stored columns: its address codes, own fields and consent."""
    return {
        **address,
        **{k: family.get(k) for k in _FAMILY_FIELDS},
        "categories": family.get("categories") or [],
        "factors": family.get("factors") or [],
        **_consent_columns(family.get("consent")),
    }


def _consent_columns(consent: dict[str, Any] | None) -> dict[str, Any]:
    consent = consent or {}
    return {
        "consent_given_at": consent.get("given_at"),
        "consent_given_by": consent.get("given_by"),
        "consent_scope": consent.get("scope"),
    }


def _changed_names(columns: Iterable[str]) -> list[str]:
    """Column names as the API names fields (consent is one field)."""
    return sorted({"consent" if name.startswith("consent_") else name for name in columns})


def _reach(address: dict[str, Any]) -> tuple[str | None, str | None, str]:
    return address["oblast_code"], address["raion_code"], address["hromada_code"]


async def _require_reference_codes(session: AsyncSession, family: dict[str, Any]) -> None:
    errors = []
    for field, table in (
        ("categories", recipient_category_table),
        ("factors", hardship_factor_table),
    ):
        codes = family.get(field) or []
        if not codes:
            continue
        known = set(
            (
                await session.execute(
                    select(table.c.code).where(table.c.code.in_(codes), table.c.active)
                )
            ).scalars()
        )
        unknown = [code for code in codes if code not in known]
        if unknown:
            errors.append(FieldError(f"body.{field}", "unknown codes: " + ", ".join(unknown)))
    if errors:
        raise InvalidInput("Some codes are not in the reference lists.", errors=errors)


# --- members ---------------------------------------------------------------------------------


async def add_member(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    family = await _lock_family(session, caller, family_id, None)
    person = clean_person(values, today=caller.today)
    person_id = await _insert_person(
        session, caller, family_id, family.current["oblast_code"], person
    )
    duplicates = await _similar_to(session, caller, [person_id], family_id)
    await record(
        session,
        caller,
        "add_member",
        PERSON,
        [person_id, family_id, *{d["family_id"] for d in duplicates}],
    )
    return {**await _person(session, caller, person_id), "possible_duplicates": duplicates}


async def update_member(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    person_id: uuid.UUID,
    patch: dict[str, Any],
    expected_version: int,
) -> dict[str, Any]:
    """Apply a JSON merge patch to a member."""
    write = await _lock_member(session, caller, family_id, person_id, expected_version)
    current = queries.person_values(write.current, caller.keys)
    merged = {**{k: current[k] for k in _PERSON_FIELDS}, **patch}
    for required in (
        "last_name",
        "first_name",
        "birth_date",
        "sex",
        "relation",
        "rnokpp_refused",
        "is_servicemember",
    ):
        if merged.get(required) is None:
            raise InvalidInput(
                "A required field cannot be removed.",
                errors=[FieldError(f"body.{required}", "must not be null")],
            )
    person = clean_person(merged, today=caller.today)
    stored = {k: person.get(k) for k in (*_PERSON_FIELDS, "name_key", "latin_key")}
    changed = [name for name in _PERSON_FIELDS if stored[name] != current[name]]
    if changed:
        await _refuse_known_identifiers(session, caller, person, person_id=person_id)
        # An identifier is sealed again only when it changed (a new nonce each time).
        unchanged = {i.name for i in PERSON_IDENTIFIERS if i.name not in changed}
        values = _person_columns(
            caller.keys, person_id, {k: v for k, v in stored.items() if k not in unchanged}
        )
        try:
            async with session.begin_nested():
                await write.save(values, action=None, changed=changed)
        except IntegrityError as error:
            await _lost_race(session, caller, person, error, person_id=person_id)
        if any(part in changed for part in NAME_PARTS):
            await index_name_words(session, [str(stored["name_key"])])
    await record(session, caller, "update_member", PERSON, [person_id, family_id])
    return await _person(session, caller, person_id)


async def remove_member(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    person_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
) -> dict[str, Any]:
    """End a membership, with the reason; the person's record stays as history."""
    write = await _lock_member(session, caller, family_id, person_id, expected_version)
    await write.save(
        {"status": "removed", "removal_reason": reason, "removed_at": func.now()},
        action="remove_member",
        audit_ids=[person_id, family_id],
    )
    return await _person(session, caller, person_id)


async def _lock_member(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    person_id: uuid.UUID,
    expected_version: int | None,
) -> VersionedWrite:
    """The member's row, locked, after its family's (which must be one the caller may
    change): a member of that family (else 404), at ``expected_version`` (else 412) and
    current (else 409)."""
    await _lock_family(session, caller, family_id, None)
    write = await VersionedWrite.lock(
        session,
        caller,
        PERSONS,
        person_id,
        columns=queries.PERSON_COLUMNS,
        where=[person_table.c.family_id == family_id],
    )
    if write is None:
        raise NotFound("No member with this id is within your reach.")
    await write.check_version(expected_version)
    if write.current["status"] != "active":
        raise Conflict("The person is no longer a member of this family.")
    return write


async def _insert_person(
    session: AsyncSession,
    caller: Caller,
    family_id: uuid.UUID,
    oblast_code: str,
    person: dict[str, Any],
    *,
    prefix: str = "body.",
) -> uuid.UUID:
    await _refuse_known_identifiers(session, caller, person, prefix=prefix)
    person_id = uuid.uuid4()
    values = {k: person.get(k) for k in (*_PERSON_FIELDS, "name_key", "latin_key")}
    values["rnokpp_refused"] = bool(values["rnokpp_refused"])
    values["is_servicemember"] = bool(values["is_servicemember"])
    try:
        async with session.begin_nested():
            await session.execute(
                insert(person_table).values(
                    id=person_id,
                    family_id=family_id,
                    oblast_code=oblast_code,
                    **_person_columns(caller.keys, person_id, values),
                )
            )
    except IntegrityError as error:
        await _lost_race(session, caller, person, error, prefix=prefix)
    await index_name_words(session, [str(values["name_key"])])
    await note_change(
        session,
        PERSON,
        person_id,
        1,
        [k for k, v in values.items() if v is not None and k in _PERSON_FIELDS],
        caller.principal.sub,
    )
    return person_id


_IDENTIFIER_NAMES = frozenset(identifier.name for identifier in PERSON_IDENTIFIERS)


def _person_columns(
    keys: IdentifierKeys, person_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    """A person's values as stored: each identifier among them sealed, with its blind index."""
    columns = {k: v for k, v in values.items() if k not in _IDENTIFIER_NAMES}
    for identifier in PERSON_IDENTIFIERS:
        if identifier.name in values:
            columns.update(identifier.stored(keys, values[identifier.name], person_id))
    return columns


async def _refuse_known_identifiers(
    session: AsyncSession,
    caller: Caller,
    person: dict[str, Any],
    *,
    person_id: uuid.UUID | None = None,
    prefix: str = "body.",
) -> None:
    """409 when another active person has this RNOKPP or UNZR (the same blind index):
    naming that person's family when the caller may see it, and nothing about it otherwise."""
    for identifier in (PERSON_RNOKPP, PERSON_UNZR):
        field = identifier.name
        number = person.get(field)
        if number is None or identifier.index_column is None:
            continue
        statement = (
            select(person_table.c.family_id)
            .join(family_table, family_table.c.id == person_table.c.family_id)
            .where(
                person_table.c[identifier.index_column] == caller.keys.blind_index(field, number),
                person_table.c.status == "active",
            )
        )
        if person_id is not None:
            statement = statement.where(person_table.c.id != person_id)
        async with unconfined(session):  # registered anywhere, in reach or not
            holder = await session.scalar(statement)
        if holder is None:
            continue
        visible = await session.scalar(
            select(family_table.c.id).where(
                family_table.c.id == holder, visible_families(caller.principal)
            )
        )
        errors = [FieldError(f"{prefix}{field}", "already registered for another person")]
        if visible is not None:
            raise Conflict(
                "A person with this identifier is already registered.",
                errors=errors,
                extensions={"existing_family_id": str(visible)},
            )
        raise Conflict(
            "A person with this identifier is already registered outside your "
            "reach; contact the registry's administrators.",
            errors=errors,
        )


async def _lost_race(
    session: AsyncSession,
    caller: Caller,
    person: dict[str, Any],
    error: IntegrityError,
    *,
    person_id: uuid.UUID | None = None,
    prefix: str = "body.",
) -> None:
    """A concurrent request registered the same identifier between our check and our write
    (the unique index refused it, inside a savepoint, so the transaction lives on): answer as
    the check would have, now that the other request has committed."""
    constraint = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)
    if constraint not in ("uq_persons_rnokpp", "uq_persons_unzr"):
        raise error
    await _refuse_known_identifiers(session, caller, person, person_id=person_id, prefix=prefix)
    field = constraint.removeprefix("uq_persons_")
    raise Conflict(
        "A person with this identifier is already registered.",
        errors=[FieldError(f"{prefix}{field}", "already registered")],
    )


async def _similar_to(
    session: AsyncSession,
    caller: Caller,
    person_ids: Sequence[uuid.UUID],
    family_id: uuid.UUID,
) -> list[dict[str, Any]]:
    if not person_ids:
        return []
    rows = (
        await session.execute(
            select(person_table.c.id, person_table.c.name_key, person_table.c.birth_date).where(
                person_table.c.id.in_(person_ids)
            )
        )
    ).all()
    return await queries.find_similar_persons(
        session,
        caller,
        [(row.id, row.name_key, row.birth_date) for row in rows],
        exclude_family=family_id,
    )


async def _person(session: AsyncSession, caller: Caller, person_id: uuid.UUID) -> dict[str, Any]:
    row = (
        (
            await session.execute(
                select(*queries.PERSON_COLUMNS).where(person_table.c.id == person_id)
            )
        )
        .mappings()
        .one()
    )
    return queries.render_person(row, identifier_view(caller.principal), caller.keys)


async def index_name_words(session: AsyncSession, keys: Iterable[str]) -> None:
    """Add the words of persons' ``name_key`` the search dictionary does not hold yet, with
    their forms and deletion neighbourhoods, in the transaction that writes the persons (a
    person is findable exactly when their write commits). A known word costs one statement
    that inserts nothing."""
    words = sorted({word for key in keys for word in key.split()})
    if not words:
        return
    new = (
        (
            await session.execute(
                pg_insert(name_word_table)
                .from_select(
                    ["word"], select(func.unnest(bindparam("words", words, type_=ARRAY(Text))))
                )
                .on_conflict_do_nothing()
                .returning(name_word_table.c.word)
            )
        )
        .scalars()
        .all()
    )
    if not new:
        return
    forms, neighbourhood = dictionary_entries(new)
    await session.execute(
        pg_insert(name_word_form_table).on_conflict_do_nothing(),
        [{"form": form, "word": word} for form, word in forms],
    )
    if neighbourhood:
        await session.execute(
            pg_insert(name_word_deletion_table).on_conflict_do_nothing(),
            [{"deletion": deletion, "form": form} for deletion, form in neighbourhood],
        )
