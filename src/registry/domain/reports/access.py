"""Whose figures a caller reads: the ministry's analysts and administrators (and an
integration client holding ``reports:read`` with no territory) the whole country; a regional
officer their oblast; a community officer their hromada; an integration client with a
``territory`` that oblast, raion or hromada. A caller acting for a provider or a military unit
has no territory to report on (403). Holding ``reports:read`` at all is the permission's.

A report may be narrowed to a territory within the caller's (``territory``) and grouped at
its level or below it: rows named for a unit larger than what the caller may count would
count only a part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, or_

from registry.auth.principal import Principal, territory_category
from registry.auth.roles import Role
from registry.domain.reports.rules import GroupBy, finer_or_same, next_level_down
from registry.domain.shared.territory import in_territory
from registry.errors import FieldError, Forbidden, InvalidInput

_LEVEL_OF_CATEGORY = {
    "O": GroupBy.OBLAST,
    "K": GroupBy.OBLAST,
    "P": GroupBy.RAION,
    "H": GroupBy.HROMADA,
}
#: Where each level's digits end in a KATOTTG code: a unit lies within another when their
#: codes agree up to the end of the other's level.
_LEVEL_END = {GroupBy.OBLAST: 4, GroupBy.RAION: 6, GroupBy.HROMADA: 9}


def level_of(code: str) -> GroupBy | None:
    """The level a KATOTTG code names (None below a hromada)."""
    category = territory_category(code)
    return None if category is None else _LEVEL_OF_CATEGORY.get(category)


def national(principal: Principal) -> bool:
    return principal.territory is None and (
        principal.role in (Role.MINISTRY_ANALYST, Role.MINISTRY_ADMIN)
        or (
            principal.role is Role.INTEGRATION
            and not principal.acts_for_provider
            and not principal.acts_for_unit
        )
    )


def _within(outer: str, outer_level: GroupBy, code: str) -> bool:
    if outer == code:
        return True
    level = level_of(code)
    end = _LEVEL_END[outer_level]
    return level is not None and level is not outer_level and code[:end] == outer[:end]


@dataclass(frozen=True, slots=True)
class Scope:
    """What one report counts: the caller's reach, narrowed to ``territory`` when given
    (None: the whole country), grouped by ``group_by``."""

    principal: Principal
    territory: str | None
    group_by: GroupBy

    def clauses(self, table: Table) -> list[ColumnElement[bool]]:
        """The rows of ``table`` (with ``oblast_code``, ``raion_code``, ``hromada_code``)
        this report counts."""
        clauses: list[ColumnElement[bool]] = []
        if not national(self.principal):
            clauses.append(in_territory(self.principal, table))
        if self.territory is not None:
            clauses.append(
                or_(
                    table.c.oblast_code == self.territory,
                    table.c.raion_code == self.territory,
                    table.c.hromada_code == self.territory,
                )
            )
        return clauses


def scope_of(principal: Principal, group_by: GroupBy | None, territory: str | None) -> Scope:
    """The report's scope, or 403 (no territory to report on, or ``territory`` outside the
    caller's) or 422 (grouped above the territory's level). ``territory`` has been checked
    to be a unit of the codifier."""
    if national(principal):
        reach, reach_level = None, None
    elif principal.acts_for_provider or principal.acts_for_unit or principal.territory is None:
        raise Forbidden("Reports count territories; a provider's or a unit's caller has none.")
    else:
        reach = principal.territory
        reach_level = level_of(reach)
        if reach_level is None:  # a token's territory is an oblast, raion or hromada
            raise Forbidden("Your territory is not one reports are counted for.")
    level = reach_level
    if territory is not None:
        level = level_of(territory)
        if level is None:
            raise InvalidInput(
                "Reports are counted for an oblast, a raion or a hromada.",
                errors=[FieldError("query.territory", "must be an oblast, raion or hromada")],
            )
        if (
            reach is not None
            and reach_level is not None
            and not _within(reach, reach_level, territory)
        ):
            raise Forbidden("The territory is outside yours.")
    chosen = group_by or next_level_down(level)
    if not finer_or_same(chosen, level):
        raise InvalidInput(
            f"Rows by {chosen} would be larger than the territory counted ({level}).",
            errors=[FieldError("query.group_by", f"must be {level} or finer for this territory")],
        )
    return Scope(principal, territory, chosen)
