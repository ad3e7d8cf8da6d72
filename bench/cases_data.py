"""Cases of social accompaniment as COPY-ready rows, for ``bench/generate``.

About 7 % of active families have a case (families with a risk factor such as domestic
violence or substance use far more often). Each case is played forward from the day it was
received, step by step as the API would have been called (``cases.commands``): the officer
opens and assigns it, the worker assesses, decides, plans with measures, accompanies with
visits every one to two weeks (now and then three or four), reviews, sometimes suspends or
extends, and closes it when the six months are over, until the story reaches today. So the
status mix, the transition history, the version (one per change the API bumps), assessments,
plans and measures exist where the status implies them, and active cases whose last visit
is more than 14 days ago are overdue, as ``visit_overdue`` finds them.

Measures may name a provider of the hromada (one the family is linked to, when one offers the
service); the case is referred to it once accompaniment starts, and an accepted referral
grants the provider access to the family (``services_data.Access``), revoked again when
the case closes, unless an officer's link still stands.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from datetime import date, datetime, timedelta
from typing import Any

from clock import during_work, uuid7
from draw import between, pick, weighted
from providers_data import Provider
from services_data import (
    F_CREATED,
    F_FACTORS,
    F_HROMADA,
    F_ID,
    F_OBLAST,
    F_RAION,
    F_STATUS,
    P_RELATION,
    P_STATUS,
    Access,
    officer_of,
)

from registry.domain.cases.rules import (
    ACCOMPANIMENT_MONTHS,
    VISIT_INTERVAL_DAYS,
    add_months,
    add_working_days,
)

CASE_COLUMNS = (
    "id",
    "family_id",
    "oblast_code",
    "raion_code",
    "hromada_code",
    "status",
    "suspended_from",
    "source",
    "reporter_kind",
    "reporter_name",
    "reporter_contact",
    "summary",
    "received_on",
    "worker_sub",
    "assigned_at",
    "assigned_by",
    "assessment_due_on",
    "decision",
    "decision_reason",
    "decided_on",
    "decided_by",
    "accompaniment_until",
    "extension_reason",
    "extended_by",
    "visit_due_on",
    "closure_reason",
    "closure_outcome",
    "closed_at",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)
TRANSITION_COLUMNS = (
    "case_id",
    "version",
    "from_status",
    "to_status",
    "reason",
    "details",
    "actor",
    "at",
)
ASSESSMENT_COLUMNS = (
    "case_id",
    "child_development_level",
    "child_development_notes",
    "parenting_capacity_level",
    "parenting_capacity_notes",
    "family_environment_level",
    "family_environment_notes",
    "conclusions",
    "completed_at",
    "completed_by",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)
PLAN_COLUMNS = (
    "case_id",
    "goals",
    "agreed_by",
    "agreed_at",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)
MEASURE_COLUMNS = (
    "id",
    "case_id",
    "description",
    "service_code",
    "provider_id",
    "responsible",
    "due_on",
    "status",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)
REFERRAL_COLUMNS = (
    "id",
    "case_id",
    "measure_id",
    "provider_id",
    "service_code",
    "note",
    "status",
    "decline_reason",
    "decided_at",
    "decided_by",
    "closed_at",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)
VISIT_COLUMNS = (
    "id",
    "case_id",
    "visited_on",
    "kind",
    "participants",
    "notes",
    "created_by",
    "created_at",
)
REVIEW_COLUMNS = ("id", "case_id", "reviewed_on", "outcome", "notes", "created_by", "created_at")
COLUMNS = {
    "cases": CASE_COLUMNS,
    "case_transitions": TRANSITION_COLUMNS,
    "case_assessments": ASSESSMENT_COLUMNS,
    "case_plans": PLAN_COLUMNS,
    "case_measures": MEASURE_COLUMNS,
    "referrals": REFERRAL_COLUMNS,
    "case_visits": VISIT_COLUMNS,
    "case_reviews": REVIEW_COLUMNS,
}

CASE_SHARE, RISK_CASE_SHARE = 0.05, 0.4
RISK_FACTORS = frozenset(
    {"domestic_violence", "substance_use", "evading_child_rearing", "mental_disorder"}
)
ASSESSMENT_WORKING_DAYS = 10  # the settings' default (assessment_working_days)
HISTORY_DAYS = 730
#: Social workers per hromada in generated rows, by how many families it has (roughly).
WORKERS_KYIV, WORKERS_OTHER = 40, 3
REPORTER_KINDS = (
    "neighbour",
    "school",
    "healthcare",
    "police",
    "social_services",
    "ngo",
    "anonymous",
    "family_member",
    "other",
)
SUMMARIES = (
    "Сімʼя опинилася у складних життєвих обставинах через втрату роботи",
    "Повідомлення школи про систематичні пропуски занять дитиною",
    "Звернення матері щодо допомоги у догляді за дитиною з інвалідністю",
    "Повідомлення поліції про домашнє насильство",
    "Сімʼя внутрішньо переміщених осіб потребує соціальної адаптації",
    "Звернення щодо підтримки після загибелі члена сімʼї",
)
LEVELS = ("none", "low", "medium", "high")
GOALS = (
    "Стабілізувати емоційний стан членів сімʼї",
    "Забезпечити відвідування школи дитиною",
    "Оформити соціальні виплати",
    "Працевлаштування одного з батьків",
    "Відновити документи",
    "Подолати залежність",
    "Безпечне середовище для дітей",
)
#: (description, service code or None) of a plan's measures.
MEASURES = (
    ("Консультування батьків щодо виховання дітей", "002.0"),
    ("Кризове втручання: безпечне місце перебування", "012.0"),
    ("Соціальна адаптація після переміщення", "013.0"),
    ("Представництво інтересів сімʼї в органах влади", "004.0"),
    ("Догляд вдома за особою похилого віку", "015.1"),
    ("Медіація між членами сімʼї", "003.0"),
    ("Оформлення документів на допомогу", None),
    ("Направлення до центру зайнятості", None),
)
DECLINE_REASON = "немає вільних місць"
CLOSURE_REASONS = ("goals_achieved", "family_refused", "moved", "child_placed", "other", "death")
_CLOSURE_CUMULATIVE = tuple(itertools.accumulate((70, 12, 8, 3, 5, 2)))
CLOSURE_OUTCOMES = {
    "goals_achieved": "Складні життєві обставини подолано",
    "family_refused": "Сімʼя відмовилася від подальшого супроводу",
    "moved": "Сімʼя переїхала до іншої громади",
}
SUSPEND_REASON = "тимчасовий виїзд сімʼї за кордон"
EXTENSION_REASON = "цілі плану досягнуто частково"
REVIEW_OUTCOMES = ("progressing", "progressing", "no_progress", "plan_changed")
VISIT_KINDS = ("home", "home", "home", "office", "phone", "online")


class _Stop(Exception):
    """The story of a case reached today: it stays as it is."""


class _Case:
    """One case being played forward; every API call it mirrors is a method."""

    def __init__(self, cases: Cases, family: tuple[Any, ...], received_on: date) -> None:
        self.cases, self.rng, self.now = cases, cases.rng, cases.now
        self.family_id = family[F_ID]
        self.hromada = family[F_HROMADA]
        self.officer = officer_of(self.hromada)
        self.t = min(max(during_work(received_on, self.rng), family[F_CREATED]), self.now)
        self.id = uuid7(self.t, self.rng)
        self.version = 0
        self.status: str | None = None
        self.row: dict[str, Any] = dict.fromkeys(CASE_COLUMNS)
        self.row.update(
            id=self.id,
            family_id=family[F_ID],
            oblast_code=family[F_OBLAST],
            raion_code=family[F_RAION],
            hromada_code=self.hromada,
            received_on=received_on,
            assessment_due_on=add_working_days(received_on, ASSESSMENT_WORKING_DAYS),
            created_by=self.officer,
            created_at=self.t,
        )
        self.measures: list[list[Any]] = []
        self.referrals: list[list[Any]] = []
        #: Accesses of the providers that accepted its referrals, and those of them the
        #: referrals granted (the others are standing links).
        self.served: list[Access] = []
        self.grants: list[Access] = []

    # --- time and versions ---------------------------------------------------------------------

    def wait(self, least: int, most: int) -> None:
        """Days pass; stop (leaving the case as it is) when the next step would be after now."""
        then = during_work(self.t.date() + timedelta(days=between(self.rng, least, most)), self.rng)
        if then > self.now:
            raise _Stop
        self.t = then

    def bump(self, **changes: Any) -> None:
        self.version += 1
        self.row.update(changes, updated_at=self.t, version=self.version)

    def transition(
        self,
        to: str,
        actor: str,
        reason: str | None = None,
        details: str | None = None,
        **changes: Any,
    ) -> None:
        if to == "suspended":
            changes["suspended_from"] = self.status
        elif self.status == "suspended":
            changes["suspended_from"] = None
        if to in ("active", "review") and self.status not in ("active", "review"):
            changes["visit_due_on"] = self.t.date() + timedelta(days=VISIT_INTERVAL_DAYS)
        elif to not in ("active", "review"):
            changes["visit_due_on"] = None
        self.bump(status=to, **changes)
        self.cases.rows["case_transitions"].append(
            (self.id, self.version, self.status, to, reason, details, actor, self.t)
        )
        self.status = to


class Cases:
    """Cases for the families of one generating process."""

    def __init__(
        self, *, providers: dict[str, list[Provider]], seed: int, worker: int, now: datetime
    ) -> None:
        self.rng = random.Random(seed * 1000 + 700 + worker)
        self.providers = providers
        #: Per hromada and service code, the providers offering it.
        self.offering: dict[tuple[str, str], list[Provider]] = {}
        for hromada, active in providers.items():
            for provider in active:
                for offer in provider.offers:
                    self.offering.setdefault((hromada, offer.code), []).append(provider)
        self.now = now
        self.today = now.date()
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}

    def take_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        rows, self.rows = self.rows, {table: [] for table in COLUMNS}
        return rows

    def case(
        self, family: tuple[Any, ...], persons: list[tuple[Any, ...]], links: list[Access]
    ) -> list[Access]:
        """Maybe a case for the family; returns the accesses its accepted referrals granted
        (new rows; a standing link that also serves the case is marked in place)."""
        rng = self.rng
        if family[F_STATUS] != "active":
            return []
        risky = not RISK_FACTORS.isdisjoint(family[F_FACTORS])
        if rng.random() >= (RISK_CASE_SHARE if risky else CASE_SHARE):
            return []
        earliest = max(family[F_CREATED].date(), self.today - timedelta(days=HISTORY_DAYS))
        received_on = earliest + timedelta(days=between(rng, 0, (self.today - earliest).days))
        case = _Case(self, family, received_on)
        children = any(p[P_RELATION] == "child" and p[P_STATUS] == "active" for p in persons)
        with contextlib.suppress(_Stop):  # the story reached today: the case stays there
            self._play(case, children, links)
        self._write(case)
        return case.grants

    # --- the story -----------------------------------------------------------------------------

    def _play(self, case: _Case, children: bool, links: list[Access]) -> None:
        rng = self.rng
        report = rng.random() < 0.45
        summary = pick(rng, SUMMARIES)
        case.row.update(
            source="report" if report else "application",
            reporter_kind=pick(rng, REPORTER_KINDS) if report else None,
            reporter_contact=f"+38067{between(rng, 0, 10**7 - 1):07d}"
            if report and rng.random() < 0.3
            else None,
            summary=summary,
        )
        case.transition("referred", case.officer, reason=summary)  # opening: version 1

        case.wait(0, 3)
        workers = WORKERS_KYIV if case.hromada.startswith("UA80") else WORKERS_OTHER
        worker = f"worker-{case.hromada}-{between(rng, 1, workers)}"
        case.bump(worker_sub=worker, assigned_at=case.t, assigned_by=case.officer)
        case.wait(0, 2)
        case.transition("assessment", worker)

        self._assessment(case, worker, children)
        provide = rng.random() < 0.85
        case.bump(
            decision="provide" if provide else "refuse",
            decision_reason="потребує соціального супроводу"
            if provide
            else "підстав для супроводу не виявлено",
            decided_on=case.t.date(),
            decided_by=worker,
            accompaniment_until=add_months(case.t.date(), ACCOMPANIMENT_MONTHS)
            if provide
            else None,
        )
        if not provide:
            case.wait(0, 3)
            self._close(case, worker, "no_grounds")
            return

        case.wait(0, 3)
        case.transition("planning", worker)
        case.wait(1, 10)
        goals = rng.sample(GOALS, between(rng, 1, 3))
        self.rows["case_plans"].append(
            (case.id, goals, "голова сімʼї", case.t, worker, case.t, case.t, 1)
        )
        case.bump()
        for _ in range(between(rng, 1, 4)):
            self._measure(case, worker, links)
        case.wait(0, 3)
        case.transition("active", worker)
        self._refer(case, worker, links)
        self._accompany(case, worker)

    def _assessment(self, case: _Case, worker: str, children: bool) -> None:
        """A draft now and then, then the completed assessment (each save bumps the case)."""
        rng = self.rng
        created_at, saves = None, 0
        row: list[Any] = []
        try:
            if rng.random() < 0.25:
                case.wait(1, 5)
                created_at, saves = case.t, 1
                row = [
                    LEVELS[0] if not children else pick(rng, LEVELS),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                ]
                case.bump()
            case.wait(2, 14)
            created_at, saves = created_at or case.t, saves + 1
            row = [
                pick(rng, LEVELS) if children else "none",
                "розвиток відповідає віку" if children else None,
                pick(rng, LEVELS),
                "батьки потребують підтримки",
                pick(rng, LEVELS),
                "житлові умови задовільні",
                "сімʼя потребує соціального супроводу",
                case.t,
                worker,
            ]
            case.bump()
        finally:
            if saves:
                self.rows["case_assessments"].append(
                    (case.id, *row, worker, created_at, case.t, saves)
                )

    def _measure(self, case: _Case, worker: str, links: list[Access]) -> None:
        rng = self.rng
        description, code = pick(rng, MEASURES)
        provider = self._provider_for(case, code, links) if code and rng.random() < 0.7 else None
        case.bump()
        case.measures.append(
            [
                uuid7(case.t, rng),
                case.id,
                description,
                code,
                provider.id if provider else None,
                "надавач соціальних послуг" if provider else "соціальний працівник",
                case.t.date() + timedelta(days=between(rng, 14, 120)),
                "planned",
                worker,
                case.t,
                case.t,
                1,
            ]
        )

    def _provider_for(self, case: _Case, code: str, links: list[Access]) -> Provider | None:
        """A provider the family is linked to that offers the service, else another active
        one of the hromada (not one with a link revoked or made later: its access row is
        taken)."""
        standing = [
            a.provider
            for a in links
            if a.revoked_at is None
            and a.granted_at <= case.t
            and any(o.code == code for o in a.provider.offers)
        ]
        if standing:
            return pick(self.rng, standing)
        taken = {a.provider.id for a in links}
        others = [
            p
            for p in self.offering.get((case.hromada, code), ())
            if p.id not in taken and p.included_on is not None and p.included_on <= case.t.date()
        ]
        return pick(self.rng, others) if others else None

    def _refer(self, case: _Case, worker: str, links: list[Access]) -> None:
        """Referrals for the measures naming a provider; the provider decides within days."""
        rng = self.rng
        standing = {a.provider.id: a for a in links if a.revoked_at is None}
        for measure in case.measures:
            provider_id = measure[4]
            if provider_id is None or any(r[3] == provider_id for r in case.referrals):
                continue
            provider = next(p for p in self.providers[case.hromada] if p.id == provider_id)
            made = case.t
            referral = [
                uuid7(made, rng),
                case.id,
                measure[0],
                provider_id,
                measure[3],
                None,
                "pending",
                None,
                None,
                None,
                None,
                worker,
                made,
                made,
                1,
            ]
            case.referrals.append(referral)
            decided = during_work(made.date() + timedelta(days=between(rng, 1, 5)), rng)
            if decided > self.now or rng.random() < 0.05:
                continue
            referral[8], referral[9] = decided, provider.staff  # decided_at, decided_by
            referral[13], referral[14] = decided, 2  # updated_at, version
            if rng.random() < 0.1:
                referral[6], referral[7] = "declined", DECLINE_REASON
                continue
            referral[6] = "accepted"
            access = standing.get(provider_id)
            if access is None:
                access = Access(provider, decided, provider.staff, "referral")
                case.grants.append(access)
            access.case_id, access.case_from = case.id, decided
            case.served.append(access)

    def _accompany(self, case: _Case, worker: str) -> None:
        """Visits until the accompaniment ends (extended now and then), a review half way,
        measures under way and done, sometimes a suspension, then closure."""
        rng = self.rng
        until = case.row["accompaniment_until"]
        reviewed = rng.random() < 0.5
        suspend = rng.random() < 0.04
        extended = False
        while True:
            # Mostly every one to two weeks; now and then the worker is late.
            late = rng.random() >= 0.82
            gap = (
                between(rng, VISIT_INTERVAL_DAYS + 1, 35)
                if late
                else between(rng, 5, VISIT_INTERVAL_DAYS)
            )
            case.wait(gap, gap)
            if case.t.date() >= until:
                if not extended and rng.random() < 0.1:
                    extended = True
                    until = add_months(until, 3)
                    case.bump(
                        accompaniment_until=until,
                        extension_reason=EXTENSION_REASON,
                        extended_by=worker,
                    )
                    continue
                break
            self._visit(case, worker)
            if suspend and rng.random() < 0.1:
                case.transition("suspended", worker, reason=SUSPEND_REASON)
                case.wait(10, 60)
                case.transition("active", worker)
                suspend = False
            if reviewed and case.t.date() >= until - timedelta(days=90):
                case.transition("review", worker)
                case.wait(1, 7)
                self.rows["case_reviews"].append(
                    (
                        uuid7(case.t, rng),
                        case.id,
                        case.t.date(),
                        pick(rng, REVIEW_OUTCOMES),
                        None,
                        worker,
                        case.t,
                    )
                )
                case.transition("active", worker)
                reviewed = False
                self._measures_progress(case)
        self._measures_progress(case, done=True)
        reason = weighted(rng, CLOSURE_REASONS, _CLOSURE_CUMULATIVE)
        self._close(case, worker, reason)

    def _visit(self, case: _Case, worker: str) -> None:
        rng = self.rng
        visited_on = case.t.date()
        self.rows["case_visits"].append(
            (
                uuid7(case.t, rng),
                case.id,
                visited_on,
                pick(rng, VISIT_KINDS),
                ["соціальний працівник", "голова сімʼї"],
                None,
                worker,
                case.t,
            )
        )
        case.bump(visit_due_on=visited_on + timedelta(days=VISIT_INTERVAL_DAYS))

    def _measures_progress(self, case: _Case, *, done: bool = False) -> None:
        """Measures move on (each change bumps the measure and the case)."""
        for measure in case.measures:
            if measure[7] in ("done", "cancelled"):
                continue
            measure[7] = (
                ("done" if self.rng.random() < 0.85 else "cancelled") if done else ("in_progress")
            )
            measure[10], measure[11] = case.t, measure[11] + 1
            case.bump()

    def _close(self, case: _Case, actor: str, reason: str) -> None:
        case.transition(
            "closed",
            actor,
            reason=CLOSURE_OUTCOMES.get(reason, "Супровід завершено"),
            closure_reason=reason,
            closure_outcome=CLOSURE_OUTCOMES.get(reason),
            closed_at=case.t,
        )
        for referral in case.referrals:  # closing the case closes its open referrals
            if referral[6] in ("pending", "accepted"):
                referral[6], referral[10], referral[13] = "closed", case.t, case.t
                referral[14] += 1
        for access in case.served:
            access.case_until = case.t
        for access in case.grants:  # what the referrals granted ends with them
            access.revoked_at, access.revoked_by = case.t, actor
            access.revoke_reason = "referral closed"

    # --- rows ----------------------------------------------------------------------------------

    def _write(self, case: _Case) -> None:
        rows = self.rows
        rows["cases"].append(tuple(case.row[name] for name in CASE_COLUMNS))
        rows["case_measures"].extend(tuple(m) for m in case.measures)
        rows["referrals"].extend(tuple(r) for r in case.referrals)
