"""Pure rules of community programmes: kinds, currencies, the programme's lifecycle, money as
exact decimals, and the eligibility rule language with its one evaluator.

The eligibility rule (shown to clients as data, evaluated only by ``unmet_conditions``):

- a rule is ``{"all": [...]}`` or ``{"any": [...]}`` of conditions and groups;
- a group is ``{"all": [...]}`` or ``{"any": [...]}`` of conditions (one level deep);
- a condition is one of ``category`` (a recipient category of the family), ``hardship`` (a
  hardship factor of the family), ``children`` (at least ``at_least`` members aged
  ``min_age``–``max_age`` on the day), ``disability`` (a member with a disability group),
  ``servicemember_family`` (a member serving, or a servicemember's family by category).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class ProgrammeKind(StrEnum):
    CASH = "cash"
    IN_KIND = "in_kind"
    GRANT = "grant"
    COMMUNITY_INITIATIVE = "community_initiative"


#: Kinds whose allocations and distributions are money; ``in_kind`` moves aid items.
MONEY_KINDS = frozenset(
    {ProgrammeKind.CASH, ProgrammeKind.GRANT, ProgrammeKind.COMMUNITY_INITIATIVE}
)


class Currency(StrEnum):
    """ISO 4217 codes the programmes are funded in."""

    UAH = "UAH"
    USD = "USD"
    EUR = "EUR"


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


_PROGRAMME_MOVES: dict[ProgrammeStatus, tuple[ProgrammeStatus, ...]] = {
    ProgrammeStatus.DRAFT: (ProgrammeStatus.OPEN,),
    ProgrammeStatus.OPEN: (ProgrammeStatus.CLOSED,),
    ProgrammeStatus.CLOSED: (),
}


def allowed_moves(status: str) -> tuple[ProgrammeStatus, ...]:
    return _PROGRAMME_MOVES[ProgrammeStatus(status)]


class EnrolmentStatus(StrEnum):
    ENROLLED = "enrolled"
    WITHDRAWN = "withdrawn"


#: Money is kept to the cent; no amount is ever a binary float.
CENT = Decimal("0.01")
#: The largest amount a programme counts in (numeric(16, 2) in the database).
MAX_AMOUNT = Decimal("99999999999999.99")


def money(text: str) -> Decimal:
    """Decimal text (the schema admits at most 2 decimals) as an exact amount in cents."""
    try:
        return Decimal(text).quantize(CENT)
    except (InvalidOperation, ValueError) as error:  # the schema's pattern admits neither
        raise ValueError(f"not an amount: {text!r}") from error


def money_text(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


# --- eligibility ------------------------------------------------------------------------------


class Condition(StrEnum):
    CATEGORY = "category"
    HARDSHIP = "hardship"
    CHILDREN = "children"
    DISABILITY = "disability"
    SERVICEMEMBER_FAMILY = "servicemember_family"


#: The recipient categories that make a family a servicemember's family on their own.
SERVICEMEMBER_CATEGORIES = frozenset(
    {
        "servicemember_family",
        "fallen_servicemember_family",
        "missing_servicemember_family",
        "captured_servicemember_family",
    }
)


@dataclass(frozen=True, slots=True)
class Member:
    birth_date: date
    disability_group: str | None
    is_servicemember: bool


@dataclass(frozen=True, slots=True)
class FamilyFacts:
    """What the rule is evaluated on: the family as it stands on ``today``."""

    categories: frozenset[str]
    factors: frozenset[str]
    members: tuple[Member, ...]
    today: date


@dataclass(frozen=True, slots=True)
class Unmet:
    """A condition the family does not meet: where it is in the rule, and in words."""

    path: str
    condition: Mapping[str, Any]
    words: str


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    return years - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _meets(condition: Mapping[str, Any], facts: FamilyFacts) -> bool:
    match Condition(condition["condition"]):
        case Condition.CATEGORY:
            return bool(condition["code"] in facts.categories)
        case Condition.HARDSHIP:
            return bool(condition["code"] in facts.factors)
        case Condition.CHILDREN:
            low, high = condition.get("min_age", 0), condition.get("max_age", 17)
            aged = sum(
                1
                for member in facts.members
                if low <= age_on(member.birth_date, facts.today) <= high
            )
            return aged >= int(condition.get("at_least", 1))
        case Condition.DISABILITY:
            return any(member.disability_group for member in facts.members)
        case Condition.SERVICEMEMBER_FAMILY:
            return bool(facts.categories & SERVICEMEMBER_CATEGORIES) or any(
                member.is_servicemember for member in facts.members
            )


def describe(condition: Mapping[str, Any]) -> str:
    """A condition in words, for a refusal."""
    match Condition(condition["condition"]):
        case Condition.CATEGORY:
            return f"the family must be of the recipient category {condition['code']}"
        case Condition.HARDSHIP:
            return f"the family must have the hardship factor {condition['code']}"
        case Condition.CHILDREN:
            return (
                f"the family must have at least {condition.get('at_least', 1)} member(s) aged "
                f"{condition.get('min_age', 0)} to {condition.get('max_age', 17)}"
            )
        case Condition.DISABILITY:
            return "a member of the family must have a disability group"
        case Condition.SERVICEMEMBER_FAMILY:
            return "the family must be a servicemember's family"


def _group(node: Mapping[str, Any]) -> tuple[str, Sequence[Mapping[str, Any]]] | None:
    for combinator in ("all", "any"):
        if combinator in node:
            return combinator, node[combinator]
    return None


def unmet_conditions(rule: Mapping[str, Any] | None, facts: FamilyFacts) -> list[Unmet]:
    """Every condition of ``rule`` that keeps the family out (none: eligible). In an ``all``,
    each unmet part; in an ``any`` that nothing meets, every one of its conditions."""
    if rule is None:
        return []
    return _unmet(rule, facts, "eligibility")


def _unmet(node: Mapping[str, Any], facts: FamilyFacts, path: str) -> list[Unmet]:
    group = _group(node)
    if group is None:
        return [] if _meets(node, facts) else [Unmet(path, node, describe(node))]
    combinator, parts = group
    found = [_unmet(part, facts, f"{path}.{combinator}.{i}") for i, part in enumerate(parts)]
    if combinator == "all":
        return [unmet for part in found for unmet in part]
    if any(not part for part in found):
        return []
    return [unmet for part in found for unmet in part]


def codes_in(rule: Mapping[str, Any] | None, condition: Condition) -> Iterable[tuple[str, str]]:
    """The codes of ``condition`` the rule names, each with its path (checked against the
    reference lists when a rule is written)."""
    if rule is None:
        return
    stack: list[tuple[str, Mapping[str, Any]]] = [("body.eligibility", rule)]
    while stack:
        path, node = stack.pop()
        group = _group(node)
        if group is None:
            if node["condition"] == condition:
                yield f"{path}.code", node["code"]
            continue
        combinator, parts = group
        stack.extend((f"{path}.{combinator}.{i}", part) for i, part in enumerate(parts))
