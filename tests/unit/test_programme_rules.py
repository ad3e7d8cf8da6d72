"""The eligibility rule's one evaluator, each condition type and each combination, and money
as exact decimals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from registry.domain.programmes.rules import (
    FamilyFacts,
    Member,
    allowed_moves,
    money,
    money_text,
    unmet_conditions,
)

TODAY = date(2026, 12, 4)


def facts(
    categories: tuple[str, ...] = (),
    factors: tuple[str, ...] = (),
    members: tuple[Member, ...] = (),
) -> FamilyFacts:
    return FamilyFacts(frozenset(categories), frozenset(factors), members, TODAY)


def adult(**overrides) -> Member:
    values = {"birth_date": date(1985, 5, 1), "disability_group": None, "is_servicemember": False}
    values.update(overrides)
    return Member(**values)


def child_born(day: date) -> Member:
    return Member(birth_date=day, disability_group=None, is_servicemember=False)


def paths(rule, family) -> list[str]:
    return [unmet.path for unmet in unmet_conditions(rule, family)]


def test_no_rule_admits_every_family():
    assert unmet_conditions(None, facts()) == []


@pytest.mark.parametrize(
    ("condition", "meets", "fails"),
    [
        ({"condition": "category", "code": "idp"}, facts(("idp",)), facts(("large_family",))),
        (
            {"condition": "hardship", "code": "low_income"},
            facts(factors=("low_income",)),
            facts(factors=("disability",)),
        ),
        (
            {"condition": "disability"},
            facts(members=(adult(disability_group="II"),)),
            facts(members=(adult(),)),
        ),
        (
            {"condition": "servicemember_family"},
            facts(members=(adult(is_servicemember=True),)),
            facts(("idp",), members=(adult(),)),
        ),
        (
            {"condition": "servicemember_family"},
            facts(("missing_servicemember_family",)),
            facts(("veteran_family",)),
        ),
    ],
)
def test_each_condition_type(condition, meets, fails):
    rule = {"all": [condition]}
    assert unmet_conditions(rule, meets) == []
    (unmet,) = unmet_conditions(rule, fails)
    assert unmet.path == "eligibility.all.0"
    assert unmet.condition == condition
    assert unmet.words


def test_children_are_counted_by_full_years_on_the_day():
    rule = {"all": [{"condition": "children", "at_least": 2, "min_age": 6, "max_age": 17}]}
    seventeen = child_born(date(2009, 12, 4))  # 17 today
    eighteen_today = child_born(date(2008, 12, 4))
    six_tomorrow = child_born(date(2020, 12, 5))  # still 5
    assert paths(rule, facts(members=(seventeen, eighteen_today))) == ["eligibility.all.0"]
    assert paths(rule, facts(members=(seventeen, six_tomorrow))) == ["eligibility.all.0"]
    assert paths(rule, facts(members=(seventeen, child_born(date(2019, 1, 1))))) == []


def test_all_lists_each_unmet_part_and_any_lists_all_when_none_holds():
    rule = {
        "all": [
            {"condition": "category", "code": "idp"},
            {
                "any": [
                    {"condition": "children"},
                    {"condition": "category", "code": "large_family"},
                ]
            },
        ]
    }
    assert paths(rule, facts()) == [
        "eligibility.all.0",
        "eligibility.all.1.any.0",
        "eligibility.all.1.any.1",
    ]
    assert paths(rule, facts(("idp", "large_family"))) == []
    assert paths(rule, facts(("large_family",))) == ["eligibility.all.0"]
    either = {"any": [{"condition": "disability"}, {"all": [{"condition": "children"}]}]}
    assert paths(either, facts(members=(child_born(date(2015, 1, 1)),))) == []
    assert paths(either, facts()) == ["eligibility.any.0", "eligibility.any.1.all.0"]


def test_money_is_exact():
    assert money("0.1") + money("0.2") == Decimal("0.30")
    assert money_text(money("50000")) == "50000.00"
    assert sum((money("0.10") for _ in range(10)), Decimal(0)) == money("1.00")


def test_a_programme_moves_draft_open_closed():
    assert allowed_moves("draft") == ("open",)
    assert allowed_moves("open") == ("closed",)
    assert allowed_moves("closed") == ()
