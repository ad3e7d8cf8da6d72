"""The state machine of the Child and Youth Friendly Community initiative, its dates and its
implementation deadline (``domain.friendly_communities.rules``)."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest

from registry.domain.friendly_communities.rules import (
    FIRST_STAGE,
    MINISTRY_STAGES,
    ORDER,
    Stage,
    allowed_next,
    assessment_due_by,
    date_refusal,
    implementation_dates,
    may_go,
    refusal,
)

S = Stage
WAY = [
    S.COUNCIL_DECISION,
    S.LETTER_OF_INTEREST,
    S.MEMORANDUM,
    S.SITUATION_ANALYSIS,
    S.ACTION_PLAN,
    S.CANDIDATE,
    S.IMPLEMENTATION,
    S.ASSESSMENT,
    S.STATUS_AWARDED,
    S.STATUS_WITHDRAWN,
]


def test_the_way_is_one_step_after_another():
    assert list(ORDER) == WAY
    assert allowed_next(None) == [FIRST_STAGE] == [S.COUNCIL_DECISION]
    for stage, following in pairwise(WAY):
        assert allowed_next(stage) == [following]
    assert allowed_next(S.STATUS_WITHDRAWN) == []


@pytest.mark.parametrize("current", [None, *WAY])
@pytest.mark.parametrize("to", WAY)
def test_only_the_next_stage_may_follow(current, to):
    expected = to == (WAY[0] if current is None else dict(pairwise(WAY)).get(current))
    assert may_go(current, to) is expected


def test_a_refusal_names_the_current_stage_and_the_next():
    words = refusal(S.MEMORANDUM, S.CANDIDATE)
    assert "memorandum" in words
    assert "candidate" in words
    assert "situation_analysis" in words
    assert "council_decision" in refusal(None, S.MEMORANDUM)
    assert "closed" in refusal(S.STATUS_WITHDRAWN, S.STATUS_AWARDED)


def test_the_status_is_the_ministrys():
    assert {S.STATUS_AWARDED, S.STATUS_WITHDRAWN} == MINISTRY_STAGES


def test_the_assessment_falls_due_three_years_after_implementation_started():
    assert assessment_due_by(date(2024, 3, 14)) == date(2027, 3, 14)
    assert assessment_due_by(date(2024, 2, 29)) == date(2027, 2, 28)
    assert implementation_dates(S.IMPLEMENTATION, date(2024, 3, 14)) == (
        date(2024, 3, 14),
        date(2027, 3, 14),
    )
    for stage in WAY:
        if stage is not S.IMPLEMENTATION:
            assert implementation_dates(stage, date(2024, 3, 14)) == (None, None)


def test_a_step_is_dated_neither_in_the_future_nor_before_the_previous_one():
    today = date(2025, 6, 1)
    assert date_refusal(today, today, None) is None
    assert date_refusal(date(2025, 5, 1), today, date(2025, 5, 1)) is None
    assert date_refusal(date(2025, 6, 2), today, None) == "must not be in the future"
    refused = date_refusal(date(2025, 4, 30), today, date(2025, 5, 1))
    assert refused is not None
    assert "2025-05-01" in refused
