"""The rules of a case: its state machine (the state standard of social accompaniment), its
deadlines, and the values its steps take.

``referred → assessment → planning → active ⇄ review → closed``; an open case may be
suspended (and resumes where it stopped) or transferred to another hromada or worker (the
receiving side resumes it). What each transition needs beyond being allowed (an assessment,
an agreed plan, a reason) is checked by ``commands``.

Deadlines: the needs assessment within working days of the referral, a visit at least every
14 days while the case is active, accompaniment up to 6 months from the decision. Working
days are Monday to Friday. (Public holidays are not days off under martial law, so none are
skipped.)
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from registry.errors import FieldError, InvalidInput


class CaseStatus(StrEnum):
    REFERRED = "referred"
    ASSESSMENT = "assessment"
    PLANNING = "planning"
    ACTIVE = "active"
    REVIEW = "review"
    SUSPENDED = "suspended"
    TRANSFERRED = "transferred"
    CLOSED = "closed"


S = CaseStatus
#: Where a case may go from each status (suspended returns to where it was suspended from,
#: which ``allowed_transitions`` works out).
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.REFERRED: frozenset({S.ASSESSMENT, S.SUSPENDED, S.TRANSFERRED, S.CLOSED}),
    S.ASSESSMENT: frozenset({S.PLANNING, S.SUSPENDED, S.TRANSFERRED, S.CLOSED}),
    S.PLANNING: frozenset({S.ACTIVE, S.SUSPENDED, S.TRANSFERRED, S.CLOSED}),
    S.ACTIVE: frozenset({S.REVIEW, S.SUSPENDED, S.TRANSFERRED, S.CLOSED}),
    S.REVIEW: frozenset({S.ACTIVE, S.SUSPENDED, S.TRANSFERRED, S.CLOSED}),
    S.SUSPENDED: frozenset({S.CLOSED}),
    S.TRANSFERRED: frozenset({S.ASSESSMENT, S.PLANNING, S.ACTIVE, S.CLOSED}),
    S.CLOSED: frozenset(),
}
#: Statuses in which a visit is due at least every ``VISIT_INTERVAL_DAYS``.
VISITED = frozenset({S.ACTIVE, S.REVIEW})
OPEN = frozenset(set(CaseStatus) - {S.CLOSED})
#: Statuses in which the case has a plan (made, then worked): its measures and referrals.
PLANNED = (S.PLANNING, S.ACTIVE, S.REVIEW)
#: A referral is open while pending or accepted: one open referral per provider and service.
OPEN_REFERRAL_STATUSES = ("pending", "accepted")


def allowed_transitions(
    status: CaseStatus, suspended_from: CaseStatus | None = None
) -> frozenset[CaseStatus]:
    allowed = TRANSITIONS[status]
    if status is S.SUSPENDED and suspended_from is not None:
        allowed = allowed | {suspended_from}
    return allowed


class ClosureReason(StrEnum):
    GOALS_ACHIEVED = "goals_achieved"
    FAMILY_REFUSED = "family_refused"
    MOVED = "moved"
    TRANSFERRED = "transferred"
    CHILD_PLACED = "child_placed"
    NO_GROUNDS = "no_grounds"
    ACCOMPANIMENT_REFUSED = "accompaniment_refused"
    DEATH = "death"
    OTHER = "other"


#: The domains of the needs assessment (each with a level and notes).
ASSESSMENT_DOMAINS = ("child_development", "parenting_capacity", "family_environment")


# --- deadlines ---------------------------------------------------------------------------------

VISIT_INTERVAL_DAYS = 14
ACCOMPANIMENT_MONTHS = 6


class Deadline(StrEnum):
    """A deadline of a case that can pass, named as the case's flag that says it has (and
    as the change feed's action when it does)."""

    VISIT_OVERDUE = "visit_overdue"
    ASSESSMENT_OVERDUE = "assessment_overdue"
    DURATION_EXCEEDED = "duration_exceeded"


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start``."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in range(start.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(start.day, 28))


def next_visit_due(last_contact: date) -> date:
    return last_contact + timedelta(days=VISIT_INTERVAL_DAYS)


def require_not_after(field: str, day: date, today: date) -> None:
    """422 when ``day`` (what happened: a visit, a review, a report received) is after today."""
    if day > today:
        raise InvalidInput(
            "A date is in the future.", errors=[FieldError(field, "must not be in the future")]
        )


def require_not_before_received(field: str, day: date, received_on: date, what: str) -> None:
    """422 when ``day`` (a visit, a review, a measure's due date) is before the case was
    received: nothing of a case happens before it exists."""
    if day < received_on:
        raise InvalidInput(
            f"The {what} is dated before the case was received ({received_on.isoformat()}).",
            errors=[
                FieldError(
                    field, f"must not be before the case was received ({received_on.isoformat()})"
                )
            ],
        )
