"""Deadlines of a case: the needs assessment within working days of the referral, a visit at
least every 14 days while the case is active, accompaniment up to 6 months from the decision.

Working days are Monday to Friday. (Public holidays are not days off under martial law, so
none are skipped.)
"""

from __future__ import annotations

from datetime import date, timedelta

VISIT_INTERVAL_DAYS = 14
ACCOMPANIMENT_MONTHS = 6


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
