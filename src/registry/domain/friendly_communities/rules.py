"""The rules of the initiative: its stages in order, the one step each stage may take next,
who decides which steps, and the dates a step may carry. Pure: no I/O.

``council_decision → letter_of_interest → memorandum → situation_analysis → action_plan →
candidate → implementation → assessment → status_awarded``, and ``status_withdrawn`` from
``status_awarded``. A hromada's first step is its council's decision; a withdrawn status is
the end of the record.

The status is the national committee's to award and to withdraw: those two steps are the
ministry's (``MINISTRY_STAGES``); a hromada records the steps before them.

Implementation lasts two to three years: the assessment is due by three years after it
started (``assessment_due_by``). An earlier assessment is not refused; the record shows when
implementation started and when the assessment falls due while it runs.

A step is dated the day it was taken: not in the future, and not before the step before it.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class Stage(StrEnum):
    COUNCIL_DECISION = "council_decision"
    LETTER_OF_INTEREST = "letter_of_interest"
    MEMORANDUM = "memorandum"
    SITUATION_ANALYSIS = "situation_analysis"
    ACTION_PLAN = "action_plan"
    CANDIDATE = "candidate"
    IMPLEMENTATION = "implementation"
    ASSESSMENT = "assessment"
    STATUS_AWARDED = "status_awarded"
    STATUS_WITHDRAWN = "status_withdrawn"


S = Stage
#: The step a hromada with no record yet takes.
FIRST_STAGE = S.COUNCIL_DECISION
#: The stages in the order of the initiative.
ORDER: tuple[Stage, ...] = tuple(Stage)
#: What each stage may go to next (``None``: a hromada with no record yet).
TRANSITIONS: dict[Stage | None, frozenset[Stage]] = {
    None: frozenset({FIRST_STAGE}),
    S.COUNCIL_DECISION: frozenset({S.LETTER_OF_INTEREST}),
    S.LETTER_OF_INTEREST: frozenset({S.MEMORANDUM}),
    S.MEMORANDUM: frozenset({S.SITUATION_ANALYSIS}),
    S.SITUATION_ANALYSIS: frozenset({S.ACTION_PLAN}),
    S.ACTION_PLAN: frozenset({S.CANDIDATE}),
    S.CANDIDATE: frozenset({S.IMPLEMENTATION}),
    S.IMPLEMENTATION: frozenset({S.ASSESSMENT}),
    S.ASSESSMENT: frozenset({S.STATUS_AWARDED}),
    S.STATUS_AWARDED: frozenset({S.STATUS_WITHDRAWN}),
    S.STATUS_WITHDRAWN: frozenset(),
}
#: The steps the national committee takes, recorded by the ministry only.
MINISTRY_STAGES = frozenset({S.STATUS_AWARDED, S.STATUS_WITHDRAWN})

#: How long implementation lasts, in years: at least two, at most three.
IMPLEMENTATION_YEARS = (2, 3)


def allowed_next(stage: Stage | None) -> list[Stage]:
    """The stages ``stage`` may go to, in the initiative's order."""
    return sorted(TRANSITIONS[stage], key=ORDER.index)


def may_go(stage: Stage | None, to: Stage) -> bool:
    return to in TRANSITIONS[stage]


def refusal(stage: Stage | None, to: Stage) -> str:
    """Why ``to`` may not follow ``stage``, in words (for the 409)."""
    allowed = ", ".join(allowed_next(stage)) or "none: the record is closed"
    if stage is None:
        return (
            f"The hromada has no record of the initiative yet: its first step is "
            f"{FIRST_STAGE.value}, not {to.value}."
        )
    return f"A community at the stage {stage.value} cannot go to {to.value}; next: {allowed}."


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year that has none
        return day.replace(year=day.year + years, day=28)


def assessment_due_by(implementation_started_on: date) -> date:
    """The day the assessment falls due: three years after implementation started."""
    return _years_after(implementation_started_on, IMPLEMENTATION_YEARS[1])


def implementation_dates(stage: Stage, stage_on: date) -> tuple[date | None, date | None]:
    """When implementation started and when its assessment falls due, while it runs."""
    if stage is S.IMPLEMENTATION:
        return stage_on, assessment_due_by(stage_on)
    return None, None


def date_refusal(taken_on: date, today: date, previous_on: date | None) -> str | None:
    """Why a step may not be dated ``taken_on`` (``previous_on``: the date of the step before
    it), in words completing "the date …"; None when it may."""
    if taken_on > today:
        return "must not be in the future"
    if previous_on is not None and taken_on < previous_on:
        return f"must not be before the previous step ({previous_on.isoformat()})"
    return None
