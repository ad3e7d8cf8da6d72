"""The rules of servicemember-family support: the values a unit, a servicemember and a support
case take, the support case's state machine and deadlines, and the eligibility gate a provider
passes to be assigned to a unit. Pure: no I/O.

``open → active ⇄ suspended → closed``: an open case may also be closed without being
worked (the family declined, a duplicate), and an active case closed without a suspension.
Activation needs a provider and a worker assigned; suspension and closure need a reason.

Deadlines: the first contact with the family within ``first_contact_days`` of the case's
opening (default 3), then a contact at least every ``contact_interval_days`` (default 30)
while the case is open or active; a resumed case is due a contact within the first-contact
days again. ``contact_overdue``: open or active and past the due day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from enum import StrEnum
from typing import Any


class ServicememberStatus(StrEnum):
    MOBILISED = "mobilised"
    SERVING = "serving"
    MISSING = "missing"
    CAPTURED = "captured"
    FALLEN = "fallen"
    DEMOBILISED = "demobilised"


class SupportCaseStatus(StrEnum):
    OPEN = "open"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


S = SupportCaseStatus
TRANSITIONS: dict[SupportCaseStatus, frozenset[SupportCaseStatus]] = {
    S.OPEN: frozenset({S.ACTIVE, S.CLOSED}),
    S.ACTIVE: frozenset({S.SUSPENDED, S.CLOSED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.CLOSED}),
    S.CLOSED: frozenset(),
}
OPEN_STATUSES = frozenset({S.OPEN, S.ACTIVE, S.SUSPENDED})
#: Statuses in which contact with the family is due.
CONTACTED = frozenset({S.OPEN, S.ACTIVE})
#: Transitions that need a reason.
REASONED = frozenset({S.SUSPENDED, S.CLOSED})


def allowed_transitions(status: SupportCaseStatus) -> frozenset[SupportCaseStatus]:
    return TRANSITIONS[status]


class SupportClosureReason(StrEnum):
    SUPPORT_COMPLETED = "support_completed"
    FAMILY_DECLINED = "family_declined"
    FAMILY_UNREACHABLE = "family_unreachable"
    SERVICEMEMBER_TRANSFERRED = "servicemember_transferred"
    DUPLICATE = "duplicate"
    OTHER = "other"


class MeasureStatus(StrEnum):
    PLANNED = "planned"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class ContactChannel(StrEnum):
    PHONE = "phone"
    VISIT = "visit"
    OFFICE = "office"
    VIDEO = "video"
    MESSAGE = "message"


class Origin(StrEnum):
    """Why a measure is in a case's plan: planned by a worker, or added by the catalogue
    when the servicemember's status changed."""

    PLANNED = "planned"
    STATUS_CHANGE = "status_change"


# --- deadlines --------------------------------------------------------------------------------

FIRST_CONTACT_DAYS = 3
CONTACT_INTERVAL_DAYS = 30


class Deadline(StrEnum):
    """A deadline of a support case that can pass, named as the case's flag that says it
    has (and as the change feed's action when it does): the first contact and each next one
    alike, both kept in ``contact_due_on``."""

    CONTACT_OVERDUE = "contact_overdue"


def first_contact_due(opened_on: date, first_contact_days: int) -> date:
    return opened_on + timedelta(days=first_contact_days)


def next_contact_due(last_contact: date, contact_interval_days: int) -> date:
    return last_contact + timedelta(days=contact_interval_days)


# --- the eligibility gate -----------------------------------------------------------------------


class Ineligibility(StrEnum):
    """Why a provider may not be assigned to a unit (or receive its new cases)."""

    NOT_ACTIVE = "not_active"
    NOT_NON_STATE = "not_non_state"
    CRITERIA_NOT_MET = "criteria_not_met"
    CRITERIA_NOT_VERIFIED = "criteria_not_verified"


def ineligibility(
    provider: Mapping[str, Any], criteria: Iterable[str]
) -> list[tuple[Ineligibility, str]]:
    """Why ``provider`` (its register row) fails the gate of servicemember-family support,
    each reason with its words; empty when it passes: ``active`` in the register,
    ``non_state``, every criterion of ``criteria`` (the active ones of /support-criteria) met
    and the criteria verified by the ministry."""
    reasons: list[tuple[Ineligibility, str]] = []
    if provider["status"] != "active":
        reasons.append(
            (
                Ineligibility.NOT_ACTIVE,
                f"is not active in the register of providers (status {provider['status']})",
            )
        )
    if provider["sector"] != "non_state":
        reasons.append(
            (
                Ineligibility.NOT_NON_STATE,
                f"is of the {provider['sector']} sector; the programme's providers are non_state",
            )
        )
    missing = sorted(set(criteria) - set(provider["support_criteria_met"] or ()))
    if missing:
        reasons.append(
            (
                Ineligibility.CRITERIA_NOT_MET,
                "does not meet the support criteria " + ", ".join(missing),
            )
        )
    if provider["support_verified_at"] is None or provider["support_verified_by"] is None:
        reasons.append(
            (
                Ineligibility.CRITERIA_NOT_VERIFIED,
                "has no support criteria verified by the ministry",
            )
        )
    return reasons
