"""Demo servicemember-family support: five units of the programme (the demo liaison's,
``DEMO_UNIT_ID``, serves Kyiv and Kyiv oblast), the eligible civil-society providers
assigned to them, servicemembers of demo families with their status histories, and support
cases in every status with planned and delivered measures and contacts with the family
(``registry seed --demo``, ``registry serve --demo``).

Servicemembers are the members of demo families marked ``is_servicemember`` who live where a
unit serves families, and the men of four new families (two in Kyiv, two in Kyiv oblast).
The demo unit's first cases are fixed (``DEMO_UNIT_CORE``): open ones unassigned and
assigned, contact overdue and not, active ones whose servicemember went missing, was
captured or fell, a suspended one, closed ones; the rest are drawn. Dates count back from the
seed's day, so ``GET /api/v1/support-cases?contact_overdue=true`` is never empty for the
printed ``military_liaison`` token on a freshly seeded database.

A case is made as a list of dated steps (opened, assigned, contacted, activated, measures
planned and delivered, suspended, closed) and the servicemember's status changes, replayed
in date order as the API would have made them (``Chronicle``): each step is the next version
of the case with its history row, and a status change while a case is open notes the status
on the case and plans the catalogue's measures for it, as ``military.commands`` does. So
whatever the API enforces holds: one open case per servicemember, activation only with a
provider of the unit that passes the gate and a worker, a reason to suspend or close,
nothing dated before the case was opened or after the seed's day. ``bench/military_data.py``
replays its generated cases with the same ``Chronicle``.

One seeded ``random.Random`` drives it. The seed only inserts (the caller commits) and runs
once per database: units marked ``created_by = 'demo-seed'`` mean it has run. Like the other
demo seeds it writes no audit events and no ``record_changes``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.demo.cases import DEMO_STAFF
from registry.demo.clock import latest_moment
from registry.demo.families import DEMO_ACTOR, KYIV, feminine_surname, patronymic
from registry.demo.providers import BUCHA_FUND_ID, DEMO_PROVIDER_ID, LVIV_FAMILIES_ID
from registry.domain.families.commands import index_name_words
from registry.domain.families.tables import family_table, person_table
from registry.domain.military.rules import (
    CONTACT_INTERVAL_DAYS,
    FIRST_CONTACT_DAYS,
    OPEN_STATUSES,
    REASONED,
    MeasureStatus,
    Origin,
    ServicememberStatus,
    SupportCaseStatus,
    allowed_transitions,
    first_contact_due,
    next_contact_due,
)
from registry.domain.military.tables import (
    military_unit_table,
    servicemember_status_table,
    servicemember_table,
    servicemember_unit_table,
    support_case_contact_table,
    support_case_event_table,
    support_case_measure_table,
    support_case_table,
    support_measure_table,
    unit_provider_table,
)
from registry.domain.providers.tables import provider_table
from registry.domain.shared.names import clean_name_part, latin_key, name_key
from registry.domain.territories.queries import locate_address

S = SupportCaseStatus
M = ServicememberStatus

#: The unit the printed ``military_liaison`` token names (its ``unit_id`` claim).
DEMO_UNIT_ID = "0f5d2c1a-8e7b-4a3c-b2d1-6e5f4a3b2c10"
#: The subject of the printed ``military_liaison`` token: the demo unit's liaison.
DEMO_LIAISON = "dev-military_liaison"
#: Who of the ministry assigned providers to units (the printed ``ministry_admin`` token).
DEMO_MINISTRY = "dev-ministry_admin"

KYIV_OBLAST = "UA32000000000030281"
CHERNIHIV_OBLAST = "UA74000000000025378"
ZHYTOMYR_OBLAST = "UA18000000000041385"
LVIV_OBLAST = "UA46000000000026241"
VOLYN_OBLAST = "UA07000000000024379"
ODESA_OBLAST = "UA51000000000030770"
MYKOLAIV_OBLAST = "UA48000000000039575"
BUCHA = "UA32080070000050759"
IRPIN = "UA32080150000035443"
_LOCK_KEY = "registry.demo-seed"


@dataclass(frozen=True)
class _Unit:
    id: str
    number: str
    stage: str
    oblasts: tuple[str, ...]
    joined_days_ago: int
    providers: tuple[str, ...]
    #: How many of the servicemembers of a family in one of its oblasts it takes (relative).
    weight: int = 1

    @property
    def liaison(self) -> str:
        return DEMO_LIAISON if self.id == DEMO_UNIT_ID else f"liaison-{self.number}"


UNITS = (
    _Unit(
        DEMO_UNIT_ID,
        "А0501",
        "pilot",
        (KYIV, KYIV_OBLAST),
        540,
        (DEMO_PROVIDER_ID, BUCHA_FUND_ID),
        weight=3,
    ),
    _Unit(
        "0f5d2c1a-8e7b-4a3c-b2d1-6e5f4a3b2c11",
        "А1314",
        "pilot",
        (KYIV, CHERNIHIV_OBLAST),
        510,
        (DEMO_PROVIDER_ID,),
    ),
    _Unit(
        "0f5d2c1a-8e7b-4a3c-b2d1-6e5f4a3b2c12",
        "В2317",
        "expansion",
        (KYIV_OBLAST, ZHYTOMYR_OBLAST),
        300,
        (BUCHA_FUND_ID,),
    ),
    _Unit(
        "0f5d2c1a-8e7b-4a3c-b2d1-6e5f4a3b2c13",
        "А4126",
        "expansion",
        (LVIV_OBLAST, VOLYN_OBLAST),
        280,
        (LVIV_FAMILIES_ID,),
    ),
    # No provider of Odesa or Mykolaiv oblast passes the gate yet: its cases wait, unassigned.
    _Unit(
        "0f5d2c1a-8e7b-4a3c-b2d1-6e5f4a3b2c14",
        "В0862",
        "expansion",
        (ODESA_OBLAST, MYKOLAIV_OBLAST),
        120,
        (),
    ),
)
#: Who of each programme provider's staff works its support cases (the demo provider's
#: first is the printed ``provider_staff`` token's subject).
WORKERS = {
    DEMO_PROVIDER_ID: (DEMO_STAFF, "staff-rodyna-bondar", "staff-rodyna-savchuk"),
    BUCHA_FUND_ID: ("staff-poruch-kovalchuk", "staff-poruch-lytvyn"),
    LVIV_FAMILIES_ID: ("staff-rodyny-hnatyshyn",),
}


# --- what happens to a servicemember and their case -------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Where a servicemember's support stands today."""

    #: The case's status now; None: no case (yet).
    case: SupportCaseStatus | None
    #: Open or active with the family's contact overdue.
    overdue: bool = False
    #: The servicemember's statuses after ``mobilised``, in order.
    path: tuple[ServicememberStatus, ...] = (M.SERVING,)
    #: An open case already given to a provider and a worker.
    assigned: bool = True
    #: A closed case's reason; closed while still open (never worked) unless
    #: ``support_completed``.
    closure: str | None = None


DEMO_UNIT_CORE = (
    Scenario(S.OPEN, overdue=True, path=(), assigned=False),
    Scenario(S.ACTIVE, overdue=True),
    Scenario(S.OPEN, assigned=False),
    Scenario(S.ACTIVE),
    Scenario(S.OPEN, overdue=True),
    Scenario(S.ACTIVE, path=(M.SERVING, M.MISSING)),
    Scenario(S.ACTIVE, overdue=True, path=(M.SERVING, M.CAPTURED)),
    Scenario(S.ACTIVE, path=(M.SERVING, M.FALLEN)),
    Scenario(S.SUSPENDED),
    Scenario(S.CLOSED, path=(M.SERVING, M.DEMOBILISED), closure="support_completed"),
    Scenario(S.CLOSED, closure="family_declined"),
    Scenario(S.OPEN),
)
"""What the demo unit's cases always include (the rest are drawn): every status, open cases
unassigned and assigned, overdue and not, and every status of a servicemember."""

_CASE_WEIGHTS = {S.OPEN: 14, S.ACTIVE: 50, S.SUSPENDED: 5, S.CLOSED: 26, None: 5}
_PATHS = (
    ((), 6),
    ((M.SERVING,), 70),
    ((M.SERVING, M.MISSING), 5),
    ((M.SERVING, M.MISSING, M.CAPTURED), 1),
    ((M.SERVING, M.CAPTURED), 3),
    ((M.SERVING, M.FALLEN), 5),
    ((M.SERVING, M.DEMOBILISED), 10),
)
_EARLY_CLOSURES = ("family_declined", "family_declined", "duplicate", "family_unreachable")
SUMMARIES = (
    "Дружина просить психологічної підтримки для себе й дітей на час служби чоловіка.",
    "Родина потребує допомоги з оформленням виплат і пільг.",
    "Батьки військовослужбовця похилого віку потребують супроводу.",
    "Родина переїхала, потребує допомоги з документами та школою для дітей.",
    "Дружина просить правової консультації щодо статусу чоловіка.",
    "Родина потребує зв'язку з частиною та інформації про службу.",
)
SUSPENSIONS = (
    "Родина тимчасово виїхала за кордон",
    "Дружина на лікуванні в стаціонарі; просила відновити зв'язок після виписки",
)
CONTACT_NOTES = (
    "Обговорили потреби родини; наступний дзвінок за місяць.",
    "Дружина почувається краще, діти відвідують школу.",
    "Передано інформацію про виплати; родина подає документи.",
    "Домовилися про консультацію психолога.",
    None,
    None,
)
CHANNELS = ("phone", "phone", "phone", "visit", "office", "video", "message")
OUTCOMES = (
    "Консультацію проведено; родина отримала потрібну інформацію.",
    "Документи подано до органу соціального захисту.",
    "Проведено три зустрічі з психологом.",
    "Родину представлено в ТЦК та СП; відповідь отримано.",
)


# --- the replay ----------------------------------------------------------------------------------


@dataclass
class Rows:
    """The rows the replay made, by table name."""

    servicemembers: list[dict[str, Any]] = field(default_factory=list)
    servicemember_statuses: list[dict[str, Any]] = field(default_factory=list)
    servicemember_units: list[dict[str, Any]] = field(default_factory=list)
    support_cases: list[dict[str, Any]] = field(default_factory=list)
    support_case_history: list[dict[str, Any]] = field(default_factory=list)
    support_case_measures: list[dict[str, Any]] = field(default_factory=list)
    support_case_contacts: list[dict[str, Any]] = field(default_factory=list)

    def take(self) -> dict[str, list[dict[str, Any]]]:
        taken = dict(vars(self))
        for name in taken:
            setattr(self, name, [])
        return taken


@dataclass(frozen=True)
class Place:
    """A unit as its cases need it: its liaison, and its providers with their workers."""

    unit_id: uuid.UUID
    liaison: str
    #: (provider id, who carries a measure out, its workers' subjects)
    providers: tuple[tuple[uuid.UUID, str, tuple[str, ...]], ...]


@dataclass
class _Step:
    day: date
    order: int
    kind: str
    case: dict[str, Any] | None
    values: dict[str, Any]


class Chronicle:
    """Makes servicemembers and their support cases as dated steps and replays the steps in
    date order, each as the API's command would have written it."""

    def __init__(
        self,
        rng: random.Random,
        today: date,
        catalogue: dict[str, tuple[str, ...]],
        *,
        new_id: Callable[[datetime], uuid.UUID],
        stamp: Callable[[date], datetime],
        latest: datetime,
        first_contact_days: int = FIRST_CONTACT_DAYS,
        contact_interval_days: int = CONTACT_INTERVAL_DAYS,
    ) -> None:
        self.rng = rng
        self.today = today
        #: The active measures of the catalogue applying to each servicemember status.
        self.catalogue = catalogue
        self.new_id = new_id
        self.stamp = stamp
        self.first_contact_days = first_contact_days
        self.contact_interval_days = contact_interval_days
        #: Nothing is stamped later than this (see ``clock.latest_moment``).
        self.latest = latest
        self.rows = Rows()

    def _days(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def draw(self, place: Place) -> Scenario:
        """A scenario by the usual shares; only a unit with providers works cases."""
        rng = self.rng
        case = rng.choices(list(_CASE_WEIGHTS), weights=list(_CASE_WEIGHTS.values()))[0]
        path = rng.choices([p for p, _ in _PATHS], weights=[w for _, w in _PATHS])[0]
        closure = None
        if case is S.CLOSED:
            closure = "support_completed" if rng.random() < 0.75 else rng.choice(_EARLY_CLOSURES)
        return self.fit(
            Scenario(
                case,
                overdue=case in (S.OPEN, S.ACTIVE) and rng.random() < 0.25,
                path=path,
                assigned=rng.random() < 0.5,
                closure=closure,
            ),
            place,
        )

    @staticmethod
    def fit(scenario: Scenario, place: Place) -> Scenario:
        """The scenario as the unit can have it: without a provider a case is never worked."""
        if place.providers:
            return scenario
        if scenario.case is S.CLOSED:
            closure = scenario.closure if scenario.closure != "support_completed" else "duplicate"
            return Scenario(S.CLOSED, path=scenario.path, closure=closure)
        if scenario.case is None:
            return scenario
        return Scenario(S.OPEN, overdue=scenario.overdue, path=scenario.path, assigned=False)

    # --- one servicemember ---------------------------------------------------------------------

    def servicemember(
        self,
        scenario: Scenario,
        place: Place,
        *,
        person_id: uuid.UUID,
        family_id: uuid.UUID,
        status_of_family: ServicememberStatus | None = None,
    ) -> None:
        """The servicemember, their statuses and (per ``scenario``) their support case."""
        today = self.today
        path = scenario.path
        if status_of_family is not None and status_of_family not in path:
            path = (M.SERVING, status_of_family)  # the family's category says where they are
        opened, ended = self._case_window(scenario)
        before = self._days(0, 10) if not path else self._days(45, 200)
        mobilised = (opened or today - timedelta(days=self._days(10, 400))) - timedelta(days=before)
        recorded = min(mobilised + timedelta(days=self._days(0, 5)), opened or today)
        statuses = [(mobilised, M.MOBILISED)]
        last = mobilised
        for status in path:
            gap = self._days(20, 35) if status is M.SERVING else self._days(15, 200)
            day = min(last + timedelta(days=gap), today - timedelta(days=self._days(1, 10)))
            if day <= last:
                break
            statuses.append((day, status))
            last = day

        steps: list[_Step] = []
        created = min(self.stamp(recorded), self.latest)
        sm_id = self.new_id(created)
        servicemember = {
            "id": sm_id,
            "person_id": person_id,
            "family_id": family_id,
            "unit_id": place.unit_id,
            "created_by": place.liaison,
            "created_at": created,
        }
        for day, status in statuses[1:]:
            steps.append(_Step(day, len(steps), "status", None, {"status": status}))
        if scenario.case is not None and opened is not None and ended is not None:
            steps += self._case_steps(scenario, place, opened, ended, statuses, len(steps))
        self._replay(servicemember, place, statuses[0], recorded, steps)

    def _case_window(self, scenario: Scenario) -> tuple[date | None, date | None]:
        """The day the case was opened and the day its story ends (today, or the day it was
        suspended or closed)."""
        today = self.today

        def ago(low: int, high: int) -> date:
            return today - timedelta(days=self._days(low, high))

        match scenario.case:
            case S.OPEN:
                opened = ago(5, 25) if scenario.overdue else ago(0, 2)
                return opened, today
            case S.ACTIVE:
                return ago(70, 330), today
            case S.SUSPENDED:
                return ago(70, 330), ago(5, 40)
            case S.CLOSED if scenario.closure == "support_completed":
                return ago(150, 600), ago(3, 120)
            case S.CLOSED:
                opened = ago(8, 300)
                return opened, opened + timedelta(days=self._days(1, 6))
        return None, None

    def _case_steps(
        self,
        scenario: Scenario,
        place: Place,
        opened: date,
        ended: date,
        statuses: list[tuple[date, ServicememberStatus]],
        order: int,
    ) -> list[_Step]:
        rng = self.rng
        case: dict[str, Any] = {"opened_on": opened, "summary": rng.choice(SUMMARIES)}
        steps: list[_Step] = []

        def step(day: date, kind: str, **values: Any) -> None:
            steps.append(_Step(day, order + len(steps), kind, case, values))

        worked = scenario.case in (S.ACTIVE, S.SUSPENDED) or (
            scenario.case is S.CLOSED and scenario.closure == "support_completed"
        )
        provider_id, responsible, workers = (
            rng.choice(place.providers) if place.providers else (None, None, ())
        )
        worker = rng.choice(workers) if workers else None
        at_opening = (scenario.assigned and rng.random() < 0.6) or (worked and rng.random() < 0.5)
        if provider_id is not None and at_opening:
            step(opened, "open", provider_id=provider_id, worker=worker)
            assigned_on = opened
        else:
            step(opened, "open")
            assigned_on = opened + timedelta(days=self._days(1, 2))
            if provider_id is not None and (worked or scenario.assigned):
                step(min(assigned_on, self.today), "assign", provider_id=provider_id, worker=worker)
        if not worked:
            if scenario.case is S.CLOSED:
                reason = scenario.closure or "family_declined"
                step(ended, "move", to=S.CLOSED, closure_reason=reason, actor=place.liaison)
            return steps

        assert worker is not None
        assert responsible is not None
        first = assigned_on + timedelta(days=self._days(0, 2))
        step(first, "contact", actor=worker)
        step(first, "move", to=S.ACTIVE, actor=worker)
        planned_on = first + timedelta(days=self._days(0, 3))
        status = _status_on(statuses, planned_on)
        codes = rng.sample(self.catalogue[status], min(len(self.catalogue[status]), 3))
        for code in codes[: self._days(1, 3)]:
            due = planned_on + timedelta(days=self._days(14, 60))
            step(planned_on, "plan", code=code, due_on=due, responsible=responsible, actor=worker)
        # The latest contact: overdue ones more than the interval ago.
        if scenario.case is S.ACTIVE:
            latest = self.today - timedelta(
                days=self._days(self.contact_interval_days + 1, 60)
                if scenario.overdue
                else self._days(0, 25)
            )
        else:
            latest = ended - timedelta(days=self._days(0, 10))
        contacts = []
        day = latest
        while day > planned_on:
            contacts.append(day)
            day -= timedelta(days=self._days(10, 28))
        contacts.reverse()
        for day in contacts:
            step(day, "contact", actor=worker)
        for code in codes:
            later = [d for d in contacts if d > planned_on]
            draw = rng.random()
            if later and draw < 0.6:
                step(
                    rng.choice(later), "settle", code=code, to=MeasureStatus.DELIVERED, actor=worker
                )
            elif later and draw < 0.68:
                step(
                    rng.choice(later), "settle", code=code, to=MeasureStatus.CANCELLED, actor=worker
                )
        if scenario.case is S.SUSPENDED:
            step(ended, "move", to=S.SUSPENDED, reason=rng.choice(SUSPENSIONS), actor=worker)
        elif scenario.case is S.CLOSED:
            step(ended, "settle_all", actor=worker)
            step(
                ended,
                "move",
                to=S.CLOSED,
                closure_reason=scenario.closure,
                reason="Підтримку надано; родина дякує за супровід",
                actor=worker,
            )
        return steps

    # --- the replay ----------------------------------------------------------------------------

    def _at(self, day: date, after: datetime | None) -> datetime:
        """A moment of ``day``, after ``after`` (steps of one day keep their order)."""
        moment = self.stamp(day)
        if after is not None and moment <= after:
            moment = after + timedelta(minutes=self._days(5, 40))
        return min(moment, self.latest)

    def _replay(
        self,
        servicemember: dict[str, Any],
        place: Place,
        first: tuple[date, ServicememberStatus],
        recorded: date,
        steps: list[_Step],
    ) -> None:
        rows = self.rows
        sm_id = servicemember["id"]
        liaison = place.liaison
        effective_on, status = first
        at = servicemember["created_at"]
        servicemember.update(status=status.value, status_effective_on=effective_on, version=1)
        rows.servicemember_statuses.append(
            {
                "servicemember_id": sm_id,
                "version": 1,
                "status": status.value,
                "effective_on": effective_on,
                "recorded_by": liaison,
                "recorded_at": at,
            }
        )
        rows.servicemember_units.append(
            {
                "servicemember_id": sm_id,
                "version": 1,
                "unit_id": place.unit_id,
                "from_unit_id": None,
                "effective_on": effective_on,
                "reason": None,
                "recorded_by": liaison,
                "recorded_at": at,
            }
        )
        cases: list[dict[str, Any]] = []
        for step in sorted(steps, key=lambda s: (s.day, s.order)):
            if step.day > self.today:
                continue
            at = self._at(step.day, at)
            if step.kind == "status":
                status = step.values["status"]
                version = servicemember["version"] + 1
                servicemember.update(
                    status=status.value, status_effective_on=step.day, version=version
                )
                rows.servicemember_statuses.append(
                    {
                        "servicemember_id": sm_id,
                        "version": version,
                        "status": status.value,
                        "effective_on": step.day,
                        "recorded_by": liaison,
                        "recorded_at": at,
                    }
                )
                for case in cases:
                    if case["status"] in OPEN_STATUSES:
                        self._status_on_case(case, status, step.day, at, liaison)
                servicemember["updated_at"] = at
                continue
            assert step.case is not None
            if step.kind == "open":
                case = self._open(step, servicemember, place, at)
                assert not any(c["status"] in OPEN_STATUSES for c in cases)
                cases.append(case)
                step.case["row"] = case
            else:
                self._case_step(step.case["row"], step, at, liaison)
        servicemember.setdefault("updated_at", servicemember["created_at"])
        rows.servicemembers.append(servicemember)
        for case in cases:
            case.pop("_measures")
            rows.support_cases.append(case)

    def _open(
        self, step: _Step, servicemember: dict[str, Any], place: Place, at: datetime
    ) -> dict[str, Any]:
        opened = step.day
        provider_id = step.values.get("provider_id")
        case = {
            "id": self.new_id(at),
            "servicemember_id": servicemember["id"],
            "family_id": servicemember["family_id"],
            "unit_id": place.unit_id,
            "status": S.OPEN.value,
            "summary": step.case["summary"] if step.case else None,
            "opened_on": opened,
            "provider_id": provider_id,
            "worker_sub": step.values.get("worker"),
            "assigned_at": at if provider_id else None,
            "assigned_by": place.liaison if provider_id else None,
            "last_contact_on": None,
            "contact_due_on": first_contact_due(opened, self.first_contact_days),
            "closure_reason": None,
            "closed_at": None,
            "created_by": place.liaison,
            "created_at": at,
            "updated_at": at,
            "version": 1,
            "_measures": [],
        }
        self._event(case, "transition", None, S.OPEN.value, place.liaison, at)
        return case

    def _bump(self, case: dict[str, Any], at: datetime, **changes: Any) -> int:
        case.update(changes, version=case["version"] + 1, updated_at=at)
        return int(case["version"])

    def _event(
        self,
        case: dict[str, Any],
        kind: str,
        from_status: str | None,
        to_status: str,
        actor: str,
        at: datetime,
        *,
        reason: str | None = None,
        servicemember_status: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.rows.support_case_history.append(
            {
                "case_id": case["id"],
                "version": case["version"],
                "kind": kind,
                "from_status": from_status,
                "to_status": to_status,
                "reason": reason,
                "servicemember_status": servicemember_status,
                "details": details,
                "actor": actor,
                "at": at,
            }
        )

    def _status_on_case(
        self,
        case: dict[str, Any],
        status: ServicememberStatus,
        day: date,
        at: datetime,
        liaison: str,
    ) -> None:
        """``commands._apply_status_to_cases``: the catalogue's measures for the new status
        not already planned, due within the first-contact days, and the status noted."""
        planned = {m["measure_code"] for m in case["_measures"] if m["status"] == "planned"}
        added = [code for code in self.catalogue[status] if code not in planned]
        for code in added:
            self._measure(
                case,
                code,
                at,
                liaison,
                origin=Origin.STATUS_CHANGE,
                servicemember_status=status.value,
                due_on=first_contact_due(day, self.first_contact_days),
            )
        self._bump(case, at)
        self._event(
            case,
            "servicemember_status",
            case["status"],
            case["status"],
            liaison,
            at,
            servicemember_status=status.value,
            details={"effective_on": day.isoformat(), "measures_planned": added},
        )

    def _measure(
        self,
        case: dict[str, Any],
        code: str,
        at: datetime,
        actor: str,
        *,
        origin: Origin,
        due_on: date,
        servicemember_status: str | None = None,
        responsible: str | None = None,
    ) -> None:
        measure = {
            "id": self.new_id(at),
            "case_id": case["id"],
            "measure_code": code,
            "status": MeasureStatus.PLANNED.value,
            "origin": origin.value,
            "servicemember_status": servicemember_status,
            "responsible": responsible,
            "due_on": due_on,
            "delivered_on": None,
            "outcome": None,
            "notes": None,
            "delivered_by": None,
            "created_by": actor,
            "created_at": at,
            "updated_at": at,
            "version": 1,
        }
        case["_measures"].append(measure)
        self.rows.support_case_measures.append(measure)

    def _case_step(self, case: dict[str, Any], step: _Step, at: datetime, liaison: str) -> None:
        values, day = step.values, step.day
        status = S(case["status"])
        if status is S.CLOSED:
            return  # a closed case is read-only
        actor = values.get("actor", liaison)
        match step.kind:
            case "assign":
                self._bump(
                    case,
                    at,
                    provider_id=values["provider_id"],
                    worker_sub=values["worker"],
                    assigned_at=at,
                    assigned_by=liaison,
                )
                self._event(
                    case,
                    "assignment",
                    status.value,
                    status.value,
                    liaison,
                    at,
                    details={
                        "provider_id": str(values["provider_id"]),
                        "worker_sub": values["worker"],
                    },
                )
            case "move":
                to = values["to"]
                assert to in allowed_transitions(status), (status, to)
                assert to is not S.ACTIVE or (case["provider_id"] and case["worker_sub"])
                reason = values.get("reason") or (
                    "Родина відмовилася від підтримки" if to is S.CLOSED else None
                )
                assert to not in REASONED or reason
                changes: dict[str, Any] = {"status": to.value}
                if to is S.CLOSED:
                    changes.update(closure_reason=values["closure_reason"], closed_at=at)
                if status is S.SUSPENDED and to is S.ACTIVE:
                    changes["contact_due_on"] = max(
                        case["contact_due_on"] or day,
                        first_contact_due(day, self.first_contact_days),
                    )
                self._bump(case, at, **changes)
                self._event(case, "transition", status.value, to.value, actor, at, reason=reason)
            case "contact":
                last = max(day, case["last_contact_on"] or day)
                self.rows.support_case_contacts.append(
                    {
                        "id": self.new_id(at),
                        "case_id": case["id"],
                        "contacted_on": day,
                        "channel": self.rng.choice(CHANNELS),
                        "notes": self.rng.choice(CONTACT_NOTES),
                        "created_by": actor,
                        "created_at": at,
                    }
                )
                self._bump(
                    case,
                    at,
                    last_contact_on=last,
                    contact_due_on=next_contact_due(last, self.contact_interval_days),
                )
            case "plan":
                if any(
                    m["measure_code"] == values["code"] and m["status"] == "planned"
                    for m in case["_measures"]
                ):
                    return
                self._measure(
                    case,
                    values["code"],
                    at,
                    actor,
                    origin=Origin.PLANNED,
                    due_on=values["due_on"],
                    responsible=values["responsible"],
                )
                self._bump(case, at)
            case "settle" | "settle_all":
                for measure in case["_measures"]:
                    if measure["status"] != "planned":
                        continue
                    if step.kind == "settle" and measure["measure_code"] != values["code"]:
                        continue
                    to = values.get("to") or (
                        MeasureStatus.DELIVERED
                        if self.rng.random() < 0.85
                        else MeasureStatus.CANCELLED
                    )
                    delivered = to is MeasureStatus.DELIVERED
                    measure.update(
                        status=to.value,
                        delivered_on=day if delivered else None,
                        outcome=self.rng.choice(OUTCOMES) if delivered else "Потреба відпала",
                        delivered_by=actor if delivered else None,
                        updated_at=at,
                        version=2,
                    )
                    self._bump(case, at)


def _status_on(
    statuses: Sequence[tuple[date, ServicememberStatus]], day: date
) -> ServicememberStatus:
    current = statuses[0][1]
    for effective_on, status in statuses:
        if effective_on <= day:
            current = status
    return current


_FAMILY_STATUS = {
    "missing_servicemember_family": M.MISSING,
    "captured_servicemember_family": M.CAPTURED,
}


def status_of_family(categories: Sequence[str]) -> ServicememberStatus | None:
    """What a family's recipient category says of its servicemember (missing, captured)."""
    return next((_FAMILY_STATUS[c] for c in categories if c in _FAMILY_STATUS), None)


async def catalogue(session: AsyncSession) -> dict[str, tuple[str, ...]]:
    """The active measures of the catalogue for each servicemember status, in its order."""
    rows = await session.execute(
        select(support_measure_table.c.code, support_measure_table.c.statuses)
        .where(support_measure_table.c.active)
        .order_by(support_measure_table.c.sort_order, support_measure_table.c.code)
    )
    by_status: dict[str, list[str]] = {status: [] for status in M}
    for code, statuses in rows:
        for status in statuses:
            by_status.setdefault(status, []).append(code)
    return {status: tuple(codes) for status, codes in by_status.items()}


# --- the seed ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoMilitary:
    """What the military seed added."""

    units: int
    servicemembers: int
    support_cases: int


#: Four families the liaisons recorded with their servicemember (new to the registry):
#: (hromada, surname, husband, his father, wife, her father, the husband's birth year,
#: the family's category).
NEW_FAMILIES = (
    (KYIV, "Ткаченко", "Андрій", "Олег", "Ірина", "Василь", 1991, "servicemember_family"),
    (KYIV, "Гаврилюк", "Дмитро", "Петро", "Оксана", "Іван", 1987, "servicemember_family"),
    (BUCHA, "Мельничук", "Сергій", "Микола", "Наталія", "Степан", 1984, "servicemember_family"),
    (IRPIN, "Бондар", "Олександр", "Юрій", "Марія", "Богдан", 1995, "servicemember_family"),
)


async def seed_demo_military(
    session: AsyncSession,
    *,
    seed: int = 20261203,
    today: date | None = None,
    first_contact_days: int = FIRST_CONTACT_DAYS,
    contact_interval_days: int = CONTACT_INTERVAL_DAYS,
) -> DemoMilitary:
    """Insert the demo units, their providers, servicemembers and support cases; nothing
    when the demo units are already there. Only executes and flushes."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(_LOCK_KEY))))
    if await session.scalar(select(exists().where(military_unit_table.c.created_by == DEMO_ACTOR))):
        return DemoMilitary(0, 0, 0)
    today = today or datetime.now(UTC).date()
    rng = random.Random(seed)  # noqa: S311  (repeatable made-up data, not secrets)
    latest = await latest_moment(session, today)

    def stamp(day: date) -> datetime:
        moment = datetime.combine(day, time(rng.randint(8, 16), rng.randrange(60)), UTC)
        return min(moment, latest)

    def new_id(_: datetime) -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    chronicle = Chronicle(
        rng,
        today,
        await catalogue(session),
        new_id=new_id,
        stamp=stamp,
        latest=latest,
        first_contact_days=first_contact_days,
        contact_interval_days=contact_interval_days,
    )
    places = await _units(session, today, rng)
    by_oblast: dict[str, list[tuple[_Unit, Place]]] = {}
    for unit in UNITS:
        for oblast in unit.oblasts:
            by_oblast.setdefault(oblast, []).append((unit, places[unit.id]))

    known = await _servicemember_persons(session)  # before the new families are there
    members = await _new_families(session, rng, today) + known
    core = iter(DEMO_UNIT_CORE)
    added = 0
    for person_id, family_id, oblast, categories, new in members:
        serving = by_oblast.get(oblast)
        if not serving:
            continue
        if new:
            unit, place = UNITS[0], places[DEMO_UNIT_ID]
        else:
            unit, place = rng.choices(serving, weights=[u.weight for u, _ in serving])[0]
        scenario = next(core, None) if unit.id == DEMO_UNIT_ID else None
        chronicle.servicemember(
            chronicle.fit(scenario, place) if scenario else chronicle.draw(place),
            place,
            person_id=person_id,
            family_id=family_id,
            status_of_family=status_of_family(categories),
        )
        added += 1

    rows = chronicle.rows.take()
    for table, values in (
        (servicemember_table, rows["servicemembers"]),
        (servicemember_status_table, rows["servicemember_statuses"]),
        (servicemember_unit_table, rows["servicemember_units"]),
        (support_case_table, rows["support_cases"]),
        (support_case_event_table, rows["support_case_history"]),
        (support_case_measure_table, rows["support_case_measures"]),
        (support_case_contact_table, rows["support_case_contacts"]),
    ):
        if values:
            columns = set().union(*values)
            await session.execute(
                insert(table), [{name: row.get(name) for name in columns} for row in values]
            )
    await session.flush()
    return DemoMilitary(len(UNITS), added, len(rows["support_cases"]))


async def _units(session: AsyncSession, today: date, rng: random.Random) -> dict[str, Place]:
    """The units and their standing assignments (a provider that no longer passes the gate,
    or is not there, is left out); each unit as its cases need it."""
    wanted = {uuid.UUID(p) for unit in UNITS for p in unit.providers}
    names = {
        row.id: row.name
        for row in await session.execute(
            select(
                provider_table.c.id,
                func.coalesce(provider_table.c.short_name, provider_table.c.full_name).label(
                    "name"
                ),
            ).where(
                provider_table.c.id.in_(wanted),
                provider_table.c.status == "active",
                provider_table.c.sector == "non_state",
                provider_table.c.support_verified_at.is_not(None),
            )
        )
    }
    places: dict[str, Place] = {}
    unit_rows, assignment_rows = [], []
    for unit in UNITS:
        joined = today - timedelta(days=unit.joined_days_ago)
        unit_rows.append(
            {
                "id": uuid.UUID(unit.id),
                "number": unit.number,
                "name": f"Військова частина {unit.number}",
                "oblast_codes": sorted(unit.oblasts),
                "stage": unit.stage,
                "joined_on": joined,
                "left_on": None,
                "created_by": DEMO_ACTOR,
                "version": 1,
            }
        )
        providers = []
        for provider in unit.providers:
            provider_id = uuid.UUID(provider)
            if provider_id not in names:
                continue
            assignment_rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "unit_id": uuid.UUID(unit.id),
                    "provider_id": provider_id,
                    "assigned_on": joined + timedelta(days=rng.randint(0, 14)),
                    "assigned_by": DEMO_MINISTRY,
                }
            )
            providers.append((provider_id, names[provider_id], WORKERS[provider]))
        places[unit.id] = Place(uuid.UUID(unit.id), unit.liaison, tuple(providers))
    await session.execute(insert(military_unit_table), unit_rows)
    if assignment_rows:
        await session.execute(insert(unit_provider_table), assignment_rows)
    return places


Member = tuple[uuid.UUID, uuid.UUID, str, tuple[str, ...], bool]


async def _servicemember_persons(session: AsyncSession) -> list[Member]:
    """Current members of active demo families marked as servicemembers: (person, family,
    the family's oblast, its categories, False)."""
    rows = await session.execute(
        select(
            person_table.c.id,
            person_table.c.family_id,
            family_table.c.oblast_code,
            family_table.c.categories,
        )
        .join(family_table, family_table.c.id == person_table.c.family_id)
        .where(
            family_table.c.created_by == DEMO_ACTOR,
            family_table.c.status == "active",
            person_table.c.status == "active",
            person_table.c.is_servicemember,
        )
        .order_by(person_table.c.id)
    )
    return [(row[0], row[1], row[2], tuple(row[3]), False) for row in rows]


async def _new_families(session: AsyncSession, rng: random.Random, today: date) -> list[Member]:
    """The four new families (a servicemember and his wife, a child now and then), as the
    liaison registered them with the servicemember."""
    members: list[Member] = []
    for hromada, surname, husband, his_father, wife, her_father, born, category in NEW_FAMILIES:
        family_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        address = await locate_address(session, hromada, None)
        await session.execute(
            insert(family_table).values(
                id=family_id,
                **address,
                address_line=f"вул. Шевченка, {rng.randint(1, 90)}",
                phone=f"+38067{rng.randrange(10**7):07d}",
                categories=[category],
                factors=[],
                created_by=DEMO_ACTOR,
            )
        )
        husband_born = date(born, rng.randint(1, 12), rng.randint(1, 28))
        wife_born = husband_born + timedelta(days=rng.randint(-900, 900))
        people = [
            ("male", husband, surname, patronymic(his_father, "male"), husband_born, "head"),
            (
                "female",
                wife,
                feminine_surname(surname),
                patronymic(her_father, "female"),
                wife_born,
                "spouse",
            ),
        ]
        if rng.random() < 0.7:
            child_born = today - timedelta(days=rng.randint(365, 12 * 365))
            people.append(
                (
                    "female",
                    "Софія",
                    feminine_surname(surname),
                    patronymic(husband, "female"),
                    child_born,
                    "child",
                )
            )
        person_ids = []
        for sex, first, last, middle, birth, relation in people:
            person_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            parts = (clean_name_part(last), clean_name_part(first), clean_name_part(middle))
            await session.execute(
                insert(person_table).values(
                    id=person_id,
                    family_id=family_id,
                    oblast_code=address["oblast_code"],
                    last_name=parts[0],
                    first_name=parts[1],
                    patronymic=parts[2],
                    name_key=name_key(*parts),
                    latin_key=latin_key(*parts),
                    birth_date=birth,
                    sex=sex,
                    relation=relation,
                    is_servicemember=relation == "head",
                )
            )
            await index_name_words(session, [name_key(*parts)])
            person_ids.append(person_id)
        members.append((person_ids[0], family_id, address["oblast_code"], (category,), True))
    return members
