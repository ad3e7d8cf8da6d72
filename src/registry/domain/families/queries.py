"""Reading families: by id, lists and search, members, possible duplicates, and the reference
lists families use. Every query is confined to what the caller may see
(``access.visible_families``) and every read of personal data is audited. The two hottest
reads (a family by id, a page of families) are one compiled statement each that reads and
audits at once, run on the driver connection."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from sqlalchemy import (
    Date,
    Integer,
    LargeBinary,
    Numeric,
    Text,
    Uuid,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, array
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.auth.roles import Role
from registry.db.pagination import InvalidCursor, Page, PageRequest
from registry.db.reach import unconfined
from registry.db.statements import Compiled, compile_statement, once_per_parent
from registry.domain.audit.commands import audit_arguments, audit_insert, record
from registry.domain.families.access import (
    IdentifierView,
    identifier_view,
    require_filters_allowed,
    require_registry_keeper,
    sees_provider_view,
    visible_families,
)
from registry.domain.families.rules import (
    ADULT_AGE,
    MAX_QUERY_WORDS,
    PREFIX_LENGTH,
    Rank,
    age_on,
    best_pairing,
    deletions,
    match_word,
    query_words,
    search_word,
)
from registry.domain.families.tables import (
    PERSON_IDENTIFIERS,
    PERSON_OBLAST_NAME_WORDS,
    PERSON_RNOKPP,
    PERSON_UNZR,
    family_table,
    hardship_factor_table,
    name_word_deletion_table,
    name_word_form_table,
    person_table,
    recipient_category_table,
)
from registry.domain.shared.caller import Caller
from registry.domain.shared.identifiers import mask_identifier
from registry.domain.shared.names import query_key
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.territories.queries import require_territory
from registry.domain.territories.tables import territory_table
from registry.errors import FieldError, InvalidInput, NotFound

#: The resource types audit events and noted changes name.
FAMILY = "family"
PERSON = "person"
FAMILY_NOT_FOUND = "No family with this id is within your reach."

FAMILY_COLUMNS = (
    family_table.c.id,
    family_table.c.oblast_code,
    family_table.c.raion_code,
    family_table.c.hromada_code,
    family_table.c.settlement_code,
    family_table.c.address_line,
    family_table.c.phone,
    family_table.c.categories,
    family_table.c.factors,
    family_table.c.consent_given_at,
    family_table.c.consent_given_by,
    family_table.c.consent_scope,
    family_table.c.status,
    family_table.c.archive_reason,
    family_table.c.archived_at,
    family_table.c.created_at,
    family_table.c.updated_at,
    family_table.c.version,
)
PERSON_COLUMNS = (
    person_table.c.id,
    person_table.c.family_id,
    person_table.c.last_name,
    person_table.c.first_name,
    person_table.c.patronymic,
    person_table.c.birth_date,
    person_table.c.sex,
    person_table.c.relation,
    person_table.c.rnokpp_sealed,
    person_table.c.rnokpp_refused,
    person_table.c.unzr_sealed,
    person_table.c.disability_group,
    person_table.c.idp_certificate_sealed,
    person_table.c.is_servicemember,
    person_table.c.status,
    person_table.c.removal_reason,
    person_table.c.removed_at,
    person_table.c.created_at,
    person_table.c.updated_at,
    person_table.c.version,
)
_FAMILY_NAMES = tuple(column.name for column in FAMILY_COLUMNS)
_PERSON_NAMES = tuple(column.name for column in PERSON_COLUMNS)
#: A person's names against the columns that carry them in a family's rows.
_MEMBER_NAMES = tuple((name, f"member_{name}") for name in _PERSON_NAMES)
#: The sealed identifiers among ``PERSON_COLUMNS``, by column.
_SEALED = {identifier.column: identifier for identifier in PERSON_IDENTIFIERS}
#: How alike two names with the same birth date must be to flag a possible duplicate.
DUPLICATE_THRESHOLD = 0.7


#: What a provider's staff are shown of a family and of each of its current members: what
#: serving the family needs (who they are, how old, where and how to reach them), as an
#: allow-list (the API's ``FamilyForProvider`` and ``MemberForProvider``). Not shown: birth
#: dates (children's ages in whole years instead), sex, identifiers, the family's circumstances
#: (categories, hardship factors, disability, military service), consent, former members.
PROVIDER_FAMILY_FIELDS = (
    "id",
    "hromada_code",
    "settlement_code",
    "address_line",
    "phone",
    "status",
)
PROVIDER_MEMBER_FIELDS = ("id", "family_id", "last_name", "first_name", "patronymic", "relation")
#: What the provider's reads select: the allow-list, and the birth date the age is counted
#: from (never returned).
_PROVIDER_FAMILY_COLUMNS = tuple(family_table.c[name] for name in PROVIDER_FAMILY_FIELDS)
_PROVIDER_PERSON_COLUMNS = (
    *(person_table.c[name] for name in PROVIDER_MEMBER_FIELDS),
    person_table.c.birth_date,
)


def member_for_provider(person: Mapping[str, Any], today: date) -> dict[str, Any]:
    """A current member as a provider's staff see them (``MemberForProvider``): a child's age
    in whole years, an adult's not at all (as the case's view for providers shows them)."""
    age = age_on(person["birth_date"], today)
    return {
        **{name: person[name] for name in PROVIDER_MEMBER_FIELDS},
        "age": age if age < ADULT_AGE else None,
    }


def family_for_provider(family: Mapping[str, Any], today: date) -> dict[str, Any]:
    """A family (rendered with its members) as a provider's staff see it
    (``FamilyForProvider``): its current members only."""
    return {
        **{name: family[name] for name in PROVIDER_FAMILY_FIELDS},
        "members": [
            member_for_provider(member, today)
            for member in family["members"]
            if member["status"] == "active"
        ],
    }


def render_person(
    row: RowMapping | dict[str, Any], view: IdentifierView, keys: IdentifierKeys
) -> dict[str, Any]:
    """A person row (``PERSON_COLUMNS``) as the API's ``Person``: its sealed identifiers
    opened, in full or masked as ``view`` says (not opened at all when hidden)."""
    return _opened(dict(row), view, keys)


def _opened(person: dict[str, Any], view: IdentifierView, keys: IdentifierKeys) -> dict[str, Any]:
    """``render_person`` on a dict of the row's own (changed in place: no copy of it)."""
    for column, identifier in _SEALED.items():
        if column not in person:
            continue
        sealed = person.pop(column)
        if sealed is None or view is IdentifierView.HIDDEN:
            person[identifier.name] = None
        else:
            number = keys.open_text(sealed, identifier.place, person["id"])
            person[identifier.name] = (
                number if view is IdentifierView.FULL else mask_identifier(number)
            )
    return person


def person_values(row: RowMapping | dict[str, Any], keys: IdentifierKeys) -> dict[str, Any]:
    """A person row with its identifiers opened (what a change is compared with)."""
    return render_person(row, IdentifierView.FULL, keys)


def family_values(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    """A family row as the API shapes it: the three consent columns are one ``consent``."""
    family = dict(row)
    given_at = family.pop("consent_given_at")
    given_by = family.pop("consent_given_by")
    scope = family.pop("consent_scope")
    family["consent"] = (
        {"given_at": given_at, "given_by": given_by, "scope": scope} if given_at else None
    )
    return family


def _render_family(
    row: RowMapping | dict[str, Any], members: list[dict[str, Any]]
) -> dict[str, Any]:
    family = family_values(row)
    family["members"] = members
    return family


async def families_by_id(
    session: AsyncSession,
    caller: Caller,
    ids: Sequence[uuid.UUID],
    *,
    confined: bool = True,
) -> list[dict[str, Any]]:
    """The visible families among ``ids``, in that order, each with its members (not audited:
    the caller records the action). ``confined`` off only to answer a change the caller just
    made that took the family out of their reach (a relocation), once."""
    if not ids:
        return []
    principal = caller.principal
    statement = select(*FAMILY_COLUMNS).where(family_table.c.id.in_(ids))
    if confined:
        statement = statement.where(visible_families(principal))
    # Unconfined here, unconfined in the database too (its row-level security, if on).
    async with unconfined(session, not confined):
        rows = (await session.execute(statement)).mappings().all()
        view = identifier_view(principal)
        members = await _members_of(session, [row["id"] for row in rows], view, caller.keys)
    by_id = {row["id"]: _render_family(row, members.get(row["id"], [])) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def _members_of(
    session: AsyncSession,
    family_ids: Sequence[uuid.UUID],
    view: IdentifierView,
    keys: IdentifierKeys,
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    if not family_ids:
        return {}
    rows = (
        (
            await session.execute(
                select(*PERSON_COLUMNS)
                .where(person_table.c.family_id.in_(family_ids))
                .order_by(
                    person_table.c.family_id,
                    person_table.c.status,
                    person_table.c.birth_date,
                    person_table.c.id,
                )
            )
        )
        .mappings()
        .all()
    )
    members: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        members.setdefault(row["family_id"], []).append(render_person(row, view, keys))
    return members


@functools.lru_cache(maxsize=1024)
def _family_read(principal: Principal) -> Compiled:
    """One statement that reads a visible family with its members and writes the audit event
    of the read: the event is written exactly when the family is returned, and if it cannot
    be written nothing is returned. The caller's confinement is bound in it; the SQL is the
    same for every caller of a role, so the server keeps one prepared plan. A provider's
    staff are read only the allow-list of their view and the current members, so the event
    names exactly the persons shown. Cached by the caller's reach (``Principal.confinement``)."""
    minimal = sees_provider_view(principal)
    family = (
        select(*(_PROVIDER_FAMILY_COLUMNS if minimal else FAMILY_COLUMNS))
        .where(family_table.c.id == bindparam("family_id", type_=Uuid), visible_families(principal))
        .cte("family")
    )
    person_columns = _PROVIDER_PERSON_COLUMNS if minimal else PERSON_COLUMNS
    members = (
        select(*(column.label(f"member_{column.name}") for column in person_columns))
        .where(
            person_table.c.family_id.in_(select(family.c.id)),
            *([person_table.c.status == "active"] if minimal else []),
        )
        .cte("members")
    )
    order = (
        *([] if minimal else [members.c.member_status]),
        members.c.member_birth_date,
        members.c.member_id,
    )
    member_ids = select(
        func.array_agg(aggregate_order_by(cast(members.c.member_id, Text), *order))
    ).scalar_subquery()
    audit = audit_insert(
        "get_family",
        FAMILY,
        func.array_cat(
            array([cast(family.c.id, Text)]),
            func.coalesce(member_ids, cast(array([], type_=Text), ARRAY(Text))),
        ),
        source=family,
    ).cte("audit")
    statement = (
        select(family, members)
        .select_from(family.outerjoin(members, true()))
        .order_by(*order)
        .add_cte(audit)
    )
    return compile_statement(statement)


async def get_family(
    connection: asyncpg.Connection, caller: Caller, family_id: uuid.UUID
) -> dict[str, Any]:
    """The family with its members, read and audited in one round trip on the driver
    connection, in the shape of the API's ``Family`` (a test holds them equal), or of
    ``FamilyForProvider`` for a provider's staff; 404 when it is not within the caller's reach
    (nothing is audited then)."""
    principal = caller.principal
    compiled = _family_read(principal.confinement)
    rows = await connection.fetch(
        compiled.sql,
        *compiled.arguments(
            family_id=family_id,
            **audit_arguments(caller),
        ),
    )
    if not rows:
        raise NotFound(FAMILY_NOT_FOUND)
    present = [row for row in rows if row["member_id"] is not None]
    if sees_provider_view(principal):
        return {
            **{name: rows[0][name] for name in PROVIDER_FAMILY_FIELDS},
            "members": [
                member_for_provider(
                    {
                        name: row[f"member_{name}"]
                        for name in (*PROVIDER_MEMBER_FIELDS, "birth_date")
                    },
                    caller.today,
                )
                for row in present
            ],
        }
    view = identifier_view(principal)
    members = [
        _opened({name: row[column] for name, column in _MEMBER_NAMES}, view, caller.keys)
        for row in present
    ]
    return _render_family({name: rows[0][name] for name in _FAMILY_NAMES}, members)


@dataclass(frozen=True, slots=True)
class FamilyFilter:
    q: str | None = None
    rnokpp: str | None = None
    unzr: str | None = None
    hromada: str | None = None
    category: str | None = None
    factor: str | None = None
    #: None: active families only (an archived family is history, shown when asked for)
    status: str | None = None
    has_child_under: int | None = None


async def list_families(
    connection: asyncpg.Connection, caller: Caller, page: PageRequest, where: FamilyFilter
) -> Page[dict[str, Any]]:
    """Families matching ``where``, each with its members: by relevance then id when searching
    by name, else by id; active families unless ``where.status`` asks for archived ones (an
    archived family is history: name search and identifier lookups leave it out too). One
    statement reads the page and writes its audit event. A provider's staff get each family
    in their view (``family_for_provider``)."""
    principal = caller.principal
    require_filters_allowed(
        principal,
        {name: getattr(where, name) for name in ("rnokpp", "unzr", "category", "factor")},
    )
    if where.hromada is not None:
        await require_territory(connection, "query.hromada", where.hromada, {"H", "K"})
    for field, kind, code in (
        ("query.category", "recipient_categories", where.category),
        ("query.factor", "hardship_factors", where.factor),
    ):
        if code is not None:
            await _require_reference_code(connection, field, kind, code)
    values: dict[str, Any] = {
        name: getattr(where, name) for name in _FILTERS if getattr(where, name) is not None
    }
    # A number is looked up by its blind index: the statement never carries the number.
    for identifier in (PERSON_RNOKPP, PERSON_UNZR):
        if identifier.name in values:
            values[identifier.name] = caller.keys.blind_index(
                identifier.name, values[identifier.name]
            )
    values["status"] = where.status or "active"
    filters = tuple(name for name in _FILTERS if name in values)
    # A name search runs three statements (candidate words, candidate persons, the page and
    # its audit) with no transaction around them (the reach the database may enforce is set
    # for all of them, ``statement_connection``): the page's statement holds its conditions
    # again on the families the search ranked, so one changed in between is not returned.
    searched: _Searched | None = None
    if where.q is not None:
        words = _search_words(where.q)
        if words is None:
            return Page([], None)  # a character no name holds: nothing matches it
        searched = await _search(connection, principal, filters, values, words, page)
        values["ids"] = searched.ids
    elif page.after is not None:
        values.update(_cursor_values(page.after))
    compiled = _page_statement(
        _PageShape(
            confinement=principal.confinement,
            filters=filters,
            search=searched is not None,
            after=page.after is not None and searched is None,
        )
    )
    rows = await connection.fetch(
        compiled.sql,
        *compiled.arguments(
            **values,
            fetch=page.limit + 1,
            limit=page.limit,
            **audit_arguments(caller),
        ),
    )
    found = _page_of_families(rows, page, view=identifier_view(principal), keys=caller.keys)
    if searched is not None:
        found = Page(found.items, searched.next_after)
    if sees_provider_view(principal):
        return Page([family_for_provider(f, caller.today) for f in found.items], found.next_after)
    return found


#: The filters other than the name, as conditions on a family (bound parameters named as the
#: filter); names and numbers find a family a person is or was a member of (a person's earlier
#: family is part of their history). ``status`` is always applied (``active`` by default), so
#: an archived family, whose members are all former members, is found only when asked for.
_FILTERS: dict[str, Any] = {
    "rnokpp": lambda: family_table.c.id.in_(
        select(person_table.c.family_id).where(
            person_table.c.rnokpp_index == bindparam("rnokpp", type_=LargeBinary)
        )
    ),
    "unzr": lambda: family_table.c.id.in_(
        select(person_table.c.family_id).where(
            person_table.c.unzr_index == bindparam("unzr", type_=LargeBinary)
        )
    ),
    "hromada": lambda: (
        family_table.c.hromada_code == bindparam("hromada", type_=family_table.c.hromada_code.type)
    ),
    "category": lambda: family_table.c.categories.contains(_one_code("category")),
    "factor": lambda: family_table.c.factors.contains(_one_code("factor")),
    "status": lambda: family_table.c.status == _param("status", family_table.c),
    "has_child_under": lambda: exists().where(
        person_table.c.family_id == family_table.c.id,
        person_table.c.status == "active",
        person_table.c.birth_date
        > func.current_date() - func.make_interval(bindparam("has_child_under", type_=Integer)),
    ),
}


def _param(name: str, columns: Any) -> Any:
    return bindparam(name, type_=columns[name].type)


def _one_code(name: str) -> Any:
    return cast(array([bindparam(name, type_=Text)]), ARRAY(Text))


@dataclass(frozen=True, slots=True)
class _PageShape:
    """What a list statement depends on besides its parameter values."""

    #: What decides which families the caller reaches (``Principal.confinement``)
    confinement: Principal
    filters: tuple[str, ...]
    #: Whether the page is the families a name search ranked (``ids``, in their order)
    search: bool
    after: bool


@functools.lru_cache(maxsize=1024)
def _page_statement(shape: _PageShape) -> Compiled:
    """One statement that reads a page of visible families (the ids, one more than the limit
    to know whether a next page exists), their members, and writes the audit event listing
    the families returned. Built once per shape; the SQL is the same for every caller of a
    role and territory, so the server keeps one prepared plan."""
    principal = shape.confinement
    statement = select(*FAMILY_COLUMNS).where(
        visible_families(principal), *(_FILTERS[name]() for name in shape.filters)
    )
    order_by: list[Any] = [family_table.c.id]
    if shape.search:
        # The families the search ranked (``_search``), in that order; the conditions above
        # hold again here, in the statement that returns and audits them.
        ranked = (
            func.unnest(bindparam("ids", type_=ARRAY(Uuid)))
            .table_valued("id", with_ordinality="rank")
            .render_derived("ranked")
        )
        statement = statement.join(ranked, ranked.c.id == family_table.c.id)
        order_by.insert(0, ranked.c.rank)
    if shape.after:
        statement = statement.where(family_table.c.id > bindparam("after_id", type_=Uuid))
    found = (
        statement.add_columns(*order_by[:-1])
        .order_by(*order_by)
        .limit(bindparam("fetch", type_=Integer))
        .cte("found")
    )
    order = [found.c[column.name] for column in order_by]
    listed = (
        select(*order).order_by(*order).limit(bindparam("limit", type_=Integer)).subquery("listed")
    )
    listed_ids = select(
        func.coalesce(
            func.array_agg(
                aggregate_order_by(cast(listed.c.id, Text), *(listed.c[c.name] for c in order_by))
            ),
            cast(array([], type_=Text), ARRAY(Text)),
        )
    ).scalar_subquery()
    audit = audit_insert("list_families", FAMILY, listed_ids).cte("audit")
    members = (column.label(f"member_{column.name}") for column in PERSON_COLUMNS)
    joined = select(found, *members).select_from(
        found.outerjoin(person_table, person_table.c.family_id == found.c.id)
    )
    return compile_statement(
        once_per_parent(
            joined,
            parent=found.c.keys(),
            order=[column.name for column in order],
            child_order=["member_status", "member_birth_date", "member_id"],
        ).add_cte(audit)
    )


def _cursor_values(after: tuple[Any, ...]) -> dict[str, Any]:
    """The bound values of a list's cursor: ``(id,)``."""
    if len(after) != 1 or not isinstance(after[0], str):
        raise InvalidCursor("cursor does not match this list")
    try:
        return {"after_id": uuid.UUID(after[0])}
    except ValueError as error:
        raise InvalidCursor("cursor does not match this list") from error


def _page_of_families(
    rows: Sequence[asyncpg.Record],
    page: PageRequest,
    *,
    view: IdentifierView,
    keys: IdentifierKeys,
) -> Page[dict[str, Any]]:
    """Fold the rows (one per member, ordered by family) into families and note where the
    next page starts: after the sort key of the last family shown."""
    families: list[dict[str, Any]] = []
    sort_keys: list[tuple[Any, ...]] = []
    width, member_at = len(_FAMILY_NAMES), -len(_PERSON_NAMES)
    members: list[dict[str, Any]] = []
    for row in rows:
        if row[0] is not None:  # a family's first row (``once_per_parent``)
            members = []
            families.append(
                _render_family(dict(zip(_FAMILY_NAMES, row[:width], strict=True)), members)
            )
            sort_keys.append((str(row[0]),))
        if row[member_at] is not None:
            members.append(
                _opened(dict(zip(_PERSON_NAMES, row[member_at:], strict=True)), view, keys)
            )
    if len(families) > page.limit:
        return Page(families[: page.limit], sort_keys[page.limit - 1])
    return Page(families, None)


def _search_words(q: str) -> list[str] | None:
    """The query's words (``rules.query_words``); None when the text holds a character no
    name holds (``%``, ``_``, ``*``…: taken literally, it finds nothing); 422 for text that
    is not a name, or more words than a name has."""
    try:
        if query_key(q) is None:
            return None
    except ValueError as error:
        raise InvalidInput(
            "The search text is not a name.", errors=[FieldError("query.q", str(error))]
        ) from None
    words = [word for word in query_words(q) if any(char.isalpha() for char in word)]
    if len(words) > MAX_QUERY_WORDS:
        raise InvalidInput(
            "The search text is not a name.",
            errors=[FieldError("query.q", f"must have at most {MAX_QUERY_WORDS} words")],
        )
    return words


@dataclass(frozen=True, slots=True)
class _Searched:
    #: The page's families, best first
    ids: list[uuid.UUID]
    next_after: tuple[Any, ...] | None


#: The query's prefixes, one row each.
_PREFIXES = (
    func.unnest(bindparam("prefixes", type_=ARRAY(Text)))
    .table_valued("prefix")
    .render_derived("prefixes")
)
#: The dictionary words whose forms equal a key or share a deletion neighbour with it, and
#: those a prefix begins (``[prefix, prefix + the last code point)`` in the "C" collation).
_CANDIDATE_WORDS = compile_statement(
    union(
        select(name_word_form_table.c.form, name_word_form_table.c.word).where(
            name_word_form_table.c.form == func.any(bindparam("keys", type_=ARRAY(Text)))
        ),
        select(name_word_form_table.c.form, name_word_form_table.c.word)
        .join(
            name_word_deletion_table,
            name_word_deletion_table.c.form == name_word_form_table.c.form,
        )
        .where(
            name_word_deletion_table.c.deletion == func.any(bindparam("keys", type_=ARRAY(Text)))
        ),
        select(name_word_form_table.c.form, name_word_form_table.c.word)
        .select_from(name_word_form_table.join(_PREFIXES, true()))
        .where(
            name_word_form_table.c.form >= _PREFIXES.c.prefix,
            name_word_form_table.c.form < func.concat(_PREFIXES.c.prefix, func.chr(0x10FFFF)),
        ),
    )
)


@dataclass(frozen=True, slots=True)
class _CandidateShape:
    confinement: Principal
    filters: tuple[str, ...]
    words: int


@functools.lru_cache(maxsize=1024)
def _candidate_persons(shape: _CandidateShape) -> Compiled:
    """The persons (current and former members) of the families within the caller's reach
    and the filters whose name has, for each query word, one of that word's candidate
    dictionary words (``words_<i>``): an exact lookup in the oblast-qualified name words' GIN
    index (``PERSON_OBLAST_NAME_WORDS``), of the caller's oblast for a territory-confined
    caller and of every oblast for the others."""
    principal = shape.confinement
    oblast = _oblast_of_reach(principal)
    oblasts = (
        select(territory_table.c.code).where(
            or_(territory_table.c.category == "O", territory_table.c.category == "K")
        )
        if oblast is None
        else select(oblast.label("code"))
    ).cte("oblasts")

    def qualified(words: Any) -> Any:
        word = func.unnest(words).table_valued("word").render_derived("query_word")
        return (
            select(
                func.array_agg(
                    cast(oblasts.c.code, Text).op("||")(literal_column("':'")).op("||")(word.c.word)
                )
            )
            .select_from(oblasts.join(word, true()))
            .scalar_subquery()
        )

    statement = (
        select(person_table.c.family_id, person_table.c.name_key)
        .join(family_table, family_table.c.id == person_table.c.family_id)
        .where(
            visible_families(principal),
            *(_FILTERS[name]() for name in shape.filters),
            *(
                PERSON_OBLAST_NAME_WORDS.op("&&")(
                    qualified(bindparam(f"words_{i}", type_=ARRAY(Text)))
                )
                for i in range(shape.words)
            ),
        )
    )
    return compile_statement(statement)


async def _search(
    connection: asyncpg.Connection,
    principal: Principal,
    filters: tuple[str, ...],
    values: dict[str, Any],
    words: list[str],
    page: PageRequest,
) -> _Searched:
    """The page of families a name search finds, ranked as ``rules.match_person`` ranks (a family
    by its best-matching person, then that person's name, then the family's id), and the
    cursor of the next page: the last family's rank and id (no name in it)."""
    if not words:
        return _Searched([], None)
    keys = sorted({key for word in words for key in (word, *deletions(word))})
    prefixes = sorted({word for word in words if len(word) >= PREFIX_LENGTH})
    candidates = await connection.fetch(
        _CANDIDATE_WORDS.sql, *_CANDIDATE_WORDS.arguments(keys=keys, prefixes=prefixes)
    )
    dictionary = {row["word"] for row in candidates}
    # How each query word matches each candidate word, once: a person's name words are then
    # ranked by looking them up (a word that is no query word's candidate matches none).
    ranks: list[dict[str, Rank]] = [
        {w: rank for w in dictionary if (rank := match_word(word, search_word(w))) is not None}
        for word in words
    ]
    if not all(ranks):
        return _Searched([], None)
    compiled = _candidate_persons(_CandidateShape(principal.confinement, filters, len(words)))
    rows = await connection.fetch(
        compiled.sql,
        *compiled.arguments(
            **values,
            **{f"words_{i}": sorted(found) for i, found in enumerate(ranks)},
            actor=principal.sub,
        ),
    )
    best: dict[uuid.UUID, tuple[Rank, str]] = {}
    by_name: dict[str, Rank | None] = {}  # many persons share a name
    for family_id, key in rows:
        if key not in by_name:
            name = key.split()
            by_name[key] = best_pairing([[found.get(w) for w in name] for found in ranks])
        rank = by_name[key]
        if rank is not None and (family_id not in best or (rank, key) < best[family_id]):
            best[family_id] = (rank, key)
    ranked = sorted(best, key=lambda family_id: (*best[family_id], family_id))
    start = 0
    if page.after is not None:
        start = _search_start(page.after, ranked, best)
    shown = ranked[start : start + page.limit]
    next_after = None
    if start + page.limit < len(ranked):
        rank = best[shown[-1]][0]
        next_after = (rank.prefixes, rank.distance, rank.inexact, str(shown[-1]))
    return _Searched(shown, next_after)


def _search_start(
    after: tuple[Any, ...], ranked: list[uuid.UUID], best: dict[uuid.UUID, tuple[Rank, str]]
) -> int:
    """Where the page after ``after`` (a search cursor) starts in ``ranked``: after the
    cursor's family; if it no longer matches, after every family ranked better or as well."""
    if len(after) != 4 or not all(isinstance(value, int) for value in after[:3]):
        raise InvalidCursor("cursor does not match this list")
    try:
        family_id = uuid.UUID(str(after[3]))
    except ValueError as error:
        raise InvalidCursor("cursor does not match this list") from error
    if family_id in best:
        return ranked.index(family_id) + 1
    rank = Rank(*after[:3])
    return sum(1 for other in ranked if best[other][0] <= rank)


def _oblast_of_reach(principal: Principal) -> Any | None:
    """The oblast that holds every family a territory-confined caller may see (see
    ``visible_families``), so name search can leave other oblasts' persons to the index
    (persons carry their family's oblast); None for callers not confined to a territory."""
    if principal.territory is None or principal.role not in _TERRITORY_CONFINED:
        return None
    reach = (
        select(territory_table.c.code, territory_table.c.parent_code, territory_table.c.category)
        .where(territory_table.c.code == principal.territory)
        .cte("reach", recursive=True)
    )
    parent = territory_table.alias("parent")
    reach = reach.union_all(
        select(parent.c.code, parent.c.parent_code, parent.c.category).join(
            reach, parent.c.code == reach.c.parent_code
        )
    )
    return (
        select(reach.c.code)
        .where(or_(reach.c.category == "O", reach.c.category == "K"))
        .scalar_subquery()
    )


_TERRITORY_CONFINED = frozenset(
    {Role.REGIONAL_OFFICER, Role.COMMUNITY_OFFICER, Role.SOCIAL_WORKER, Role.INTEGRATION}
)


async def possible_duplicates(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Active persons in other visible families with the same birth date and a similar name
    as one of this family's active members. Archived families do not count: their members'
    memberships ended with the archiving (their identifiers are free for the family they are
    registered in next), so registering them again is not a duplicate; their history is
    found with ``status=archived``."""
    require_registry_keeper(caller.principal)
    if not await _is_visible(session, caller, family_id):
        raise NotFound(FAMILY_NOT_FOUND)
    members = (
        await session.execute(
            select(person_table.c.id, person_table.c.name_key, person_table.c.birth_date).where(
                person_table.c.family_id == family_id, person_table.c.status == "active"
            )
        )
    ).all()
    found = await find_similar_persons(
        session,
        caller,
        [(m.id, m.name_key, m.birth_date) for m in members],
        exclude_family=family_id,
    )
    await record(
        session,
        caller,
        "list_possible_duplicates",
        FAMILY,
        [family_id, *{d["family_id"] for d in found}],
    )
    return found


async def find_similar_persons(
    session: AsyncSession,
    caller: Caller,
    persons: Sequence[tuple[uuid.UUID, str, date]],
    *,
    exclude_family: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """For each (person id, name key, birth date): active persons in visible families with
    that birth date and a name at least ``DUPLICATE_THRESHOLD`` alike (not audited: the
    caller records what it returns)."""
    if not persons:
        return []
    wanted = select(
        func.unnest(bindparam("ids", [p[0] for p in persons], ARRAY(Uuid))).label("person_id"),
        func.unnest(bindparam("keys", [p[1] for p in persons], ARRAY(Text))).label("name_key"),
        func.unnest(bindparam("dates", [p[2] for p in persons], ARRAY(Date))).label("birth_date"),
    ).subquery("wanted")
    score = cast(func.similarity(person_table.c.name_key, wanted.c.name_key), Numeric(5, 4))
    statement = (
        select(
            wanted.c.person_id.label("person_id"),
            person_table.c.id.label("matching_person_id"),
            person_table.c.family_id,
            person_table.c.last_name,
            person_table.c.first_name,
            person_table.c.patronymic,
            person_table.c.birth_date,
            score.label("score"),
        )
        .join(
            person_table,
            and_(
                person_table.c.birth_date == wanted.c.birth_date,
                person_table.c.id != wanted.c.person_id,
            ),
        )
        .join(family_table, family_table.c.id == person_table.c.family_id)
        .where(
            person_table.c.status == "active",
            score >= DUPLICATE_THRESHOLD,
            visible_families(caller.principal),
        )
        .order_by(wanted.c.person_id, score.desc(), person_table.c.id)
    )
    if exclude_family is not None:
        statement = statement.where(person_table.c.family_id != exclude_family)
    rows = (await session.execute(statement)).mappings().all()
    return [{**row, "score": float(row["score"])} for row in rows]


async def _is_visible(session: AsyncSession, caller: Caller, family_id: uuid.UUID) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(family_table.c.id == family_id, visible_families(caller.principal))
            )
        )
    )


async def get_member(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID, person_id: uuid.UUID
) -> dict[str, Any]:
    """A member (``Person``), or a current member as a provider's staff see them
    (``MemberForProvider``; a former member is not theirs to see: 404)."""
    minimal = sees_provider_view(caller.principal)
    row = (
        (
            await session.execute(
                select(*(_PROVIDER_PERSON_COLUMNS if minimal else PERSON_COLUMNS))
                .join(family_table, family_table.c.id == person_table.c.family_id)
                .where(
                    person_table.c.id == person_id,
                    person_table.c.family_id == family_id,
                    visible_families(caller.principal),
                    *([person_table.c.status == "active"] if minimal else []),
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("No member with this id is within your reach.")
    await record(session, caller, "get_member", PERSON, [person_id, family_id])
    if minimal:
        return member_for_provider(dict(row), caller.today)
    return render_person(row, identifier_view(caller.principal), caller.keys)


async def list_members(
    session: AsyncSession, caller: Caller, family_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Current and former members (``Person``), or the current members as a provider's staff
    see them (``MemberForProvider``)."""
    if not await _is_visible(session, caller, family_id):
        raise NotFound(FAMILY_NOT_FOUND)
    members = (
        await _members_of(session, [family_id], identifier_view(caller.principal), caller.keys)
    ).get(family_id, [])
    if sees_provider_view(caller.principal):
        members = [member_for_provider(m, caller.today) for m in members if m["status"] == "active"]
    await record(session, caller, "list_members", PERSON, [family_id, *(m["id"] for m in members)])
    return members


async def _require_reference_code(
    connection: asyncpg.Connection, field: str, kind: str, code: str
) -> None:
    if await connection.fetchval(_REFERENCE_CODE[kind], code) is None:
        raise InvalidInput(
            "The code is not in the reference list.",
            errors=[FieldError(field, f"not a code of /{kind.replace('_', '-')}")],
        )


_REFERENCE_TABLES = {
    "recipient_categories": recipient_category_table,
    "hardship_factors": hardship_factor_table,
}
#: Whether a code is in a reference list, by the list's kind.
_REFERENCE_CODE = {
    kind: compile_statement(
        select(table.c.code).where(table.c.code == bindparam("code", type_=Text))
    ).sql
    for kind, table in _REFERENCE_TABLES.items()
}


async def reference_list(session: AsyncSession, kind: str) -> list[RowMapping]:
    """A reference list (``recipient_categories`` or ``hardship_factors``) in its order."""
    table = _REFERENCE_TABLES[kind]
    return list(
        (await session.execute(select(table).order_by(table.c.sort_order, table.c.code)))
        .mappings()
        .all()
    )
