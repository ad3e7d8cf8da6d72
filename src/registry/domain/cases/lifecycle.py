"""The state machine of a case (the state standard of social accompaniment).

``referred → assessment → planning → active ⇄ review → closed``; an open case may be
suspended (and resumes where it stopped) or transferred to another hromada or worker (the
receiving side resumes it). What each transition needs beyond being allowed (an assessment,
an agreed plan, a reason) is checked by ``commands``.
"""

from __future__ import annotations

from enum import StrEnum


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
