"""Demo cases: social accompaniment of demo families in every status of the lifecycle, with
what each status implies — the assignment, the needs assessment, the decision, the plan with
its measures, referrals to providers, visits and reviews — and the services the providers
then delivered (``registry seed --demo``, ``registry serve --demo``).

Most cases are in Kyiv, where the demo tokens reach: worked by the demo social worker
(``DEMO_WORKER``, the subject of the printed ``social_worker`` token) and three colleagues,
some with a visit or the assessment overdue, many referred to the demo provider (pending and
accepted, with the service records its staff submitted). Dates count back from the seed's
day, so the overdue views are never empty on a freshly seeded database. A few cases lie in
other hromadas of demo families, for the ministry's and the regions' views.

Everything follows the rules the API enforces: an assessment only with a worker, planning
only after a completed assessment and a decision to provide, activation only with a plan
agreed with the family and a measure, a visit every 14 days while active, referrals only to
active providers serving the family's hromada for a service they offer (one open referral
per provider and service), nothing dated before the case was received or after the seed's
day, open cases only on active families.

One seeded ``random.Random`` drives it: on the same families the same seed and day give the
same cases. The seed only inserts (the caller commits) and runs once per database: cases
marked ``created_by = 'demo-seed'`` mean it has run. Like the demo families and providers,
it writes no audit events — nobody read or changed a real record.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, and_, cast, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.demo.clock import latest_moment
from registry.demo.families import DEMO_ACTOR, KYIV
from registry.demo.providers import DEMO_PROVIDER_ID
from registry.demo.service_records import Grant, seed_demo_service_records
from registry.domain.cases.commands import GRANTED_BY_REFERRAL
from registry.domain.cases.rules import (
    ACCOMPANIMENT_MONTHS,
    ASSESSMENT_DOMAINS,
    VISIT_INTERVAL_DAYS,
    VISITED,
    CaseStatus,
    add_months,
    add_working_days,
)
from registry.domain.cases.tables import (
    case_assessment_table,
    case_measure_table,
    case_plan_table,
    case_review_table,
    case_table,
    case_transition_table,
    case_visit_table,
    referral_table,
)
from registry.domain.families.tables import family_table, person_table
from registry.domain.providers.tables import provider_service_table, provider_table
from registry.domain.territories.tables import territory_table

S = CaseStatus

#: The subjects of the tokens ``registry serve --demo`` prints (``dev-<role>``).
DEMO_WORKER = "dev-social_worker"
DEMO_OFFICER = "dev-community_officer"
DEMO_STAFF = "dev-provider_staff"
#: The demo social worker and three colleagues of the Kyiv centre of social services.
KYIV_WORKERS = (DEMO_WORKER, "sw-kyiv-hnatiuk", "sw-kyiv-lysenko", "sw-kyiv-moroz")
_KYIV_WORKER_WEIGHTS = (4, 2, 2, 2)
KYIV_CASE_SHARE = 0.15
OTHER_CASE_SHARE = 0.02
KMCSS_ID = "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e02"
PECHERSK_ID = "7b0c6a52-3f4e-4c1e-9a57-0c9b8f1d2e03"
#: Who of each demo provider's staff decides its referrals and submits its records.
STAFF = {
    DEMO_PROVIDER_ID: DEMO_STAFF,
    KMCSS_ID: "staff-kmcss-petrenko",
    PECHERSK_ID: "staff-tercentr-melnyk",
}
#: Hromadas families fled from: a transferred-in case began there (Kharkiv first).
_ORIGIN_OBLASTS = ("63", "14", "65")
_LOCK_KEY = "registry.demo-seed"


# --- what a family needs -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Need:
    goal: str
    measure: str
    service: str | None
    #: The provider preferred for it (another one serving the hromada when it does not).
    provider: str | None = None
    summary: str = ""
    #: Who carries the measure out when no provider does.
    responsible: str = "соціальний працівник"


_NEEDS = {
    "children": _Need(
        "Батьки застосовують позитивні методи виховання, діти доглянуті",
        "Консультування батьків щодо виховання дітей (8 зустрічей)",
        "002.0",
        DEMO_PROVIDER_ID,
        "Мати просить допомоги: діти пропускають школу, вдома постійні конфлікти.",
    ),
    "servicemember": _Need(
        "Сім'я має психологічну підтримку на час служби чоловіка",
        "Психологічне консультування дружини та дітей військовослужбовця",
        "002.0",
        DEMO_PROVIDER_ID,
        "Чоловік на службі; дружина сама з дітьми, просить психологічної підтримки.",
    ),
    "idp": _Need(
        "Сім'я адаптувалася в громаді: житло, школа, робота",
        "Група соціальної адаптації для внутрішньо переміщених осіб",
        "013.0",
        DEMO_PROVIDER_ID,
        "Сім'я переселилася з прифронтової громади, потребує допомоги з адаптацією.",
    ),
    "documents": _Need(
        "Відновлено документи, оформлено допомогу на проживання",
        "Представництво інтересів у ЦНАП та управлінні соціального захисту",
        "004.0",
        KMCSS_ID,
        "Документи втрачено під час евакуації; допомогу не оформлено.",
    ),
    "violence": _Need(
        "Мати й діти в безпеці, є план безпеки",
        "Кризове втручання: план безпеки, тимчасовий притулок за потреби",
        "012.0",
        DEMO_PROVIDER_ID,
        "Повідомлення поліції про домашнє насильство; у сім'ї є діти.",
    ),
    "income": _Need(
        "Сім'я отримує всі належні їй виплати",
        "Інформування про державну допомогу сім'ям з дітьми",
        "001.0",
        KMCSS_ID,
        "Доходу сім'ї не вистачає на харчування й оплату житла.",
    ),
    "work": _Need(
        "Дорослі члени сім'ї працевлаштовані",
        "Реєстрація в центрі зайнятості, добір вакансій і курсів",
        None,
        summary="Батьки втратили роботу, сім'я живе в борг.",
        responsible="голова сім'ї",
    ),
    "care": _Need(
        "Літні члени сім'ї доглянуті вдома",
        "Догляд удома: три відвідування на тиждень",
        "015.1",
        PECHERSK_ID,
        "Літня жінка не виходить з дому, потребує постійного догляду.",
    ),
    "escort": _Need(
        "Дитина регулярно відвідує реабілітацію",
        "Фізичний супровід до реабілітаційного центру",
        "021.0",
        DEMO_PROVIDER_ID,
        "Дитина з інвалідністю пропускає реабілітацію: нікому супроводжувати.",
    ),
    "school": _Need(
        "Діти відвідують школу без пропусків",
        "Щотижневий зв'язок зі школою щодо відвідування й навчання",
        None,
        summary="Школа повідомляє про систематичні пропуски занять.",
    ),
}
_SERVICEMEMBER = {
    "servicemember_family",
    "missing_servicemember_family",
    "captured_servicemember_family",
    "fallen_servicemember_family",
}


@dataclass(frozen=True)
class _Family:
    id: uuid.UUID
    oblast_code: str
    raion_code: str | None
    hromada_code: str
    categories: tuple[str, ...]
    factors: tuple[str, ...]
    children: int
    elderly: int

    def needs(self) -> list[str]:
        """What the family's circumstances call for, the most pressing first."""
        categories, factors = set(self.categories), set(self.factors)
        needs = []
        if "domestic_violence" in factors:
            needs.append("violence")
        if categories & _SERVICEMEMBER:
            needs.append("servicemember")
        if "idp" in categories:
            needs += ["idp", "documents"]
        if "child_with_disability" in categories:
            needs.append("escort")
        if self.elderly and factors & {"old_age", "mobility_loss", "memory_loss"}:
            needs.append("care")
        if "low_income" in categories or "low_income" in factors:
            needs.append("income")
        if "unemployment" in factors:
            needs.append("work")
        if self.children:
            needs += ["children", "school"]
        return needs or ["income"]

    @property
    def participants(self) -> list[str]:
        if self.children:
            return ["мати", "діти"] if self.children > 1 else ["мати", "дитина"]
        return ["голова сім'ї"]


@dataclass(frozen=True)
class _Provider:
    id: str
    name: str
    serves: frozenset[str]
    offers: frozenset[str]


# --- what happens to a case ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Scenario:
    status: CaseStatus
    worker: str | None
    #: A visit overdue (active, review) or the needs assessment (referred, assessment).
    overdue: bool = False
    #: The demo provider's referral: ``pending`` or ``accepted``.
    demo_referral: str | None = None
    #: The last status the case was worked in before it was suspended (where it resumes)
    #: or closed.
    worked: CaseStatus | None = None
    #: ``worker`` (to another worker of the hromada) or ``hromada`` (in from another one).
    transfer: str | None = None
    closure: str | None = None
    #: Active past the six months decided on: ``exceeded`` (not yet extended) or extended.
    length: str | None = None


KYIV_CORE = (
    _Scenario(S.REFERRED, DEMO_WORKER, overdue=True),
    _Scenario(S.REFERRED, None),
    _Scenario(S.ASSESSMENT, DEMO_WORKER, overdue=True),
    _Scenario(S.ASSESSMENT, DEMO_WORKER),
    _Scenario(S.PLANNING, DEMO_WORKER, demo_referral="pending"),
    _Scenario(S.ACTIVE, DEMO_WORKER, overdue=True, demo_referral="accepted"),
    _Scenario(S.ACTIVE, DEMO_WORKER, demo_referral="accepted"),
    _Scenario(S.ACTIVE, DEMO_WORKER, demo_referral="pending"),
    _Scenario(S.REVIEW, DEMO_WORKER, demo_referral="accepted"),
    _Scenario(S.SUSPENDED, DEMO_WORKER, worked=S.ACTIVE),
    _Scenario(S.TRANSFERRED, DEMO_WORKER, transfer="worker"),
    _Scenario(S.TRANSFERRED, None, transfer="hromada"),
    _Scenario(
        S.CLOSED, DEMO_WORKER, demo_referral="accepted", worked=S.ACTIVE, closure="goals_achieved"
    ),
    _Scenario(S.ACTIVE, "sw-kyiv-lysenko", overdue=True, demo_referral="accepted"),
    _Scenario(S.ACTIVE, DEMO_WORKER, length="exceeded"),
)
"""What the Kyiv cases always include: every status, the demo worker's overdue cases, and
the demo provider's pending and accepted referrals (the rest are drawn)."""

_STATUS_WEIGHTS = {
    S.REFERRED: 10,
    S.ASSESSMENT: 14,
    S.PLANNING: 10,
    S.ACTIVE: 32,
    S.REVIEW: 7,
    S.SUSPENDED: 5,
    S.TRANSFERRED: 4,
    S.CLOSED: 18,
}
_CLOSURES = (
    ("goals_achieved", S.ACTIVE, 6),
    ("goals_achieved", S.REVIEW, 2),
    ("moved", S.ACTIVE, 1),
    ("family_refused", S.ASSESSMENT, 1),
    ("no_grounds", S.ASSESSMENT, 2),
)
_SUSPENSIONS = (
    "Сім'я тимчасово виїхала до родичів за кордон",
    "Мати на лікуванні в стаціонарі",
    "Сім'я тимчасово в іншій області на час лікування дитини",
)
_CLOSURE_OUTCOMES = {
    "goals_achieved": "Цілі плану досягнуто: діти доглянуті, сім'я отримує належні виплати.",
    "moved": "Сім'я переїхала до іншої області; інформацію передано за місцем проживання.",
    "family_refused": "Сім'я відмовилася від подальшої роботи з соціальним працівником.",
    "no_grounds": "Оцінювання не виявило потреби в соціальному супроводі.",
}
_REPORTERS = (
    ("school", "Ліцей № 12", "+380442901412"),
    ("healthcare", "Центр первинної медико-санітарної допомоги № 3", "+380444302203"),
    ("police", "Сектор ювенальної превенції", None),
    ("neighbour", None, None),
    ("social_services", "Служба у справах дітей", "+380442547130"),
)
_VISIT_NOTES = (
    "Умови проживання задовільні, діти доглянуті.",
    "Обговорили виконання плану; мати відвідує консультації.",
    "Вдома холодно: передано заявку на обігрівач.",
    "Дитина відвідує школу, пропусків за тиждень немає.",
    "Сім'я оформила допомогу; наступний крок — пошук роботи.",
    None,
)
_REVIEW_OUTCOMES = ("progressing", "progressing", "progressing", "plan_changed", "no_progress")
_LINK_REASONS = {
    "015.1": "Договір про догляд удома",
    "002.0": "Програма підтримки родин військовослужбовців",
}
#: The statuses a case is worked through, in order.
_LIFECYCLE = (S.REFERRED, S.ASSESSMENT, S.PLANNING, S.ACTIVE, S.REVIEW)
_LEVELS = ("none", "low", "medium", "high")


@dataclass
class _Place:
    """Who works the cases of a hromada: its officer and its social workers."""

    officer: str
    workers: tuple[str, ...]
    weights: tuple[int, ...]


@dataclass
class _Rows:
    cases: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    assessments: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)
    referrals: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)


@dataclass(frozen=True)
class DemoCases:
    """What the case seed added."""

    cases: int
    referrals: int
    service_records: int


async def seed_demo_cases(
    session: AsyncSession,
    *,
    seed: int = 20261124,
    today: date | None = None,
    assessment_working_days: int = 10,
) -> DemoCases:
    """Insert demo cases for the demo families (and the service records of the providers
    they were referred or linked to); nothing when demo cases are already there. Only
    executes and flushes."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(_LOCK_KEY))))
    if await session.scalar(select(exists().where(case_table.c.created_by == DEMO_ACTOR))):
        return DemoCases(0, 0, 0)
    today = today or datetime.now(UTC).date()
    rng = random.Random(seed)  # noqa: S311  (repeatable made-up data, not secrets)
    families = await _demo_families(session, today)
    maker = _CaseMaker(
        rng,
        today,
        assessment_working_days,
        providers=await _providers(session),
        origins=await _origins(session),
        latest=await latest_moment(session, today),
    )
    kyiv = [f for f in families if f.hromada_code == KYIV]
    others = [f for f in families if f.hromada_code != KYIV]
    kyiv_place = _Place(DEMO_OFFICER, KYIV_WORKERS, _KYIV_WORKER_WEIGHTS)
    chosen = _sample(rng, kyiv, max(len(KYIV_CORE), round(len(kyiv) * KYIV_CASE_SHARE)))
    for index, family in enumerate(chosen):
        scenario = KYIV_CORE[index] if index < len(KYIV_CORE) else maker.scenario(kyiv_place)
        maker.case(family, scenario, kyiv_place)
    for family in _sample(rng, others, round(len(others) * OTHER_CASE_SHARE)):
        code = family.hromada_code[2:]
        place = _Place(f"co-{code}", (f"sw-{code}-1", f"sw-{code}-2"), (1, 1))
        maker.case(family, maker.scenario(place), place)

    rows = maker.rows
    for table, values in (
        (case_table, rows.cases),
        (case_transition_table, rows.transitions),
        (case_assessment_table, rows.assessments),
        (case_plan_table, rows.plans),
        (case_measure_table, rows.measures),
        (referral_table, rows.referrals),
        (case_visit_table, rows.visits),
        (case_review_table, rows.reviews),
    ):
        if values:
            # Core executemany (multi-row INSERTs); every row names the same columns.
            columns = set().union(*values)
            await session.execute(
                insert(table), [{name: row.get(name) for name in columns} for row in values]
            )
    maker.links(kyiv, {case["family_id"] for case in rows.cases})
    records = await seed_demo_service_records(session, rng, today, rows.grants)
    await session.flush()
    return DemoCases(len(rows.cases), len(rows.referrals), records)


def _sample(rng: random.Random, families: Sequence[_Family], count: int) -> list[_Family]:
    """``count`` families, those with more hardship likelier (weighted, without repeats)."""

    def weight(family: _Family) -> float:
        return 1 + len(family.factors) + 0.5 * len(family.categories) + (family.children > 0)

    keyed = sorted(families, key=lambda f: rng.random() ** (1 / weight(f)), reverse=True)
    return keyed[: min(count, len(keyed))]


async def _demo_families(session: AsyncSession, today: date) -> list[_Family]:
    """The active demo families with how many children and older members each has."""
    elderly_born = date(today.year - 65, today.month, min(today.day, 28))
    members = (
        select(
            person_table.c.family_id,
            func.count().filter(person_table.c.relation == "child").label("children"),
            func.count()
            .filter(person_table.c.birth_date <= cast(elderly_born, Date))
            .label("elderly"),
        )
        .where(person_table.c.status == "active")
        .group_by(person_table.c.family_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            family_table.c.id,
            family_table.c.oblast_code,
            family_table.c.raion_code,
            family_table.c.hromada_code,
            family_table.c.categories,
            family_table.c.factors,
            func.coalesce(members.c.children, 0),
            func.coalesce(members.c.elderly, 0),
        )
        .outerjoin(members, members.c.family_id == family_table.c.id)
        .where(family_table.c.created_by == DEMO_ACTOR, family_table.c.status == "active")
        .order_by(family_table.c.id)
    )
    return [
        _Family(
            row[0], row[1], row[2], row[3], tuple(row[4]), tuple(row[5]), int(row[6]), int(row[7])
        )
        for row in rows
    ]


async def _providers(session: AsyncSession) -> list[_Provider]:
    """Active providers (demo ones first, by id) with the hromadas they serve and the
    services they offer now."""
    rows = await session.execute(
        select(
            provider_table.c.id,
            func.coalesce(provider_table.c.short_name, provider_table.c.full_name),
            provider_table.c.hromadas_served,
            func.array_agg(provider_service_table.c.service_code),
        )
        .join(
            provider_service_table,
            and_(
                provider_service_table.c.provider_id == provider_table.c.id,
                provider_service_table.c.active,
            ),
        )
        .where(provider_table.c.status == "active", provider_table.c.created_by == DEMO_ACTOR)
        .group_by(provider_table.c.id)
        .order_by(provider_table.c.id)
    )
    return [
        _Provider(str(provider_id), name, frozenset(served), frozenset(offers))
        for provider_id, name, served, offers in rows
    ]


async def _origins(session: AsyncSession) -> list[str]:
    """Hromadas near the front a transferred-in case can have come from."""
    codes = await session.scalars(
        select(territory_table.c.code)
        .where(
            territory_table.c.category == "H",
            func.substr(territory_table.c.code, 3, 2).in_(_ORIGIN_OBLASTS),
        )
        .order_by(territory_table.c.code)
        .limit(12)
    )
    return list(codes) or [KYIV]


# --- one case ------------------------------------------------------------------------------------


@dataclass
class _Story:
    """A case as it is being made: its row, its history so far, its version."""

    case: dict[str, Any]
    officer: str
    actor: str
    hromada: str
    version: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)
    referrals: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)
    #: The days of the visits while active, each a version of the case (it moves the next
    #: visit's due date), counted in as the story passes them.
    visits: list[date] = field(default_factory=list)

    def changed(self, versions: int = 1) -> None:
        self.version += versions

    def visited_until(self, day: date) -> None:
        while self.visits and self.visits[0] <= day:
            self.visits.pop(0)
            self.version += 1

    def moved(
        self,
        to: CaseStatus,
        at: datetime,
        actor: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """A transition: the next version of the case."""
        self.visited_until(at.date())
        if self.history:
            self.version += 1
        self.history.append(
            {
                "case_id": self.case["id"],
                "version": self.version,
                "from_status": self.history[-1]["to_status"] if self.history else None,
                "to_status": to.value,
                "reason": reason,
                "details": details,
                "actor": actor,
                "at": at,
            }
        )


class _CaseMaker:
    def __init__(
        self,
        rng: random.Random,
        today: date,
        assessment_working_days: int,
        *,
        providers: list[_Provider],
        origins: list[str],
        latest: datetime,
    ) -> None:
        self.rng = rng
        self.today = today
        self.assessment_working_days = assessment_working_days
        self.providers = providers
        self.origins = origins
        #: Nothing is stamped later than this (see ``clock.latest_moment``).
        self.latest = latest
        self.rows = _Rows()

    def scenario(self, place: _Place) -> _Scenario:
        """A case drawn by the usual shares of statuses, workers and delays."""
        rng = self.rng
        status = rng.choices(list(_STATUS_WEIGHTS), weights=list(_STATUS_WEIGHTS.values()))[0]
        worker: str | None = rng.choices(place.workers, weights=place.weights)[0]
        match status:
            case S.REFERRED:
                return _Scenario(
                    status, worker if rng.random() < 0.6 else None, overdue=rng.random() < 0.3
                )
            case S.ASSESSMENT:
                return _Scenario(status, worker, overdue=rng.random() < 0.3)
            case S.ACTIVE:
                draw = rng.random()
                length = "exceeded" if draw < 0.05 else "extended" if draw < 0.15 else None
                return _Scenario(status, worker, overdue=rng.random() < 0.25, length=length)
            case S.REVIEW:
                return _Scenario(status, worker, overdue=rng.random() < 0.25)
            case S.SUSPENDED:
                worked = rng.choice((S.ASSESSMENT, S.PLANNING, S.ACTIVE))
                return _Scenario(status, worker, worked=worked)
            case S.TRANSFERRED:
                if rng.random() < 0.5:
                    return _Scenario(status, worker, transfer="worker")
                return _Scenario(status, None, transfer="hromada")
            case S.CLOSED:
                closure, worked, _ = rng.choices(_CLOSURES, weights=[w for *_, w in _CLOSURES])[0]
                return _Scenario(status, worker, closure=closure, worked=worked)
        return _Scenario(status, worker)

    # --- stamps --------------------------------------------------------------------------------

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _at(self, day: date, earliest: int = 8, latest: int = 17) -> datetime:
        """A time of ``day`` in working hours (never later than now)."""
        stamp = datetime.combine(
            day, time(self.rng.randint(earliest, latest), self.rng.randrange(60)), UTC
        )
        return min(stamp, self.latest)

    def _days(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    # --- the case ------------------------------------------------------------------------------

    def case(self, family: _Family, scenario: _Scenario, place: _Place) -> None:
        rng, today = self.rng, self.today
        status = scenario.status
        ended = status in (S.SUSPENDED, S.TRANSFERRED, S.CLOSED)
        # The statuses the case was worked in, in order; the last lasts until today, or until
        # the case was suspended, transferred or closed (``ended_on``).
        if status is S.TRANSFERRED:
            worked = rng.choice((S.PLANNING, S.ACTIVE))
        else:
            worked = scenario.worked or status
        path = _LIFECYCLE[: _LIFECYCLE.index(worked) + 1]
        lengths = {
            S.REFERRED: self._days(1, 4),
            S.ASSESSMENT: self._days(6, 12),
            S.PLANNING: self._days(4, 10),
            S.ACTIVE: self._days(30, 120),
            S.REVIEW: self._days(2, 8),
        }
        if not ended:
            lengths[status] = self._current_length(scenario)
        ended_on = today - timedelta(days=self._days(3, 60) if ended else 0)
        received = ended_on - timedelta(days=sum(lengths[s] for s in path))

        origin = rng.choice(self.origins) if scenario.transfer == "hromada" else None
        officer = f"co-{origin[2:]}" if origin else place.officer
        worker = scenario.worker
        if origin is not None:
            worker = f"sw-{origin[2:]}-1"
        elif scenario.transfer == "worker":
            worker = rng.choice([w for w in place.workers if w != scenario.worker])
        elif worker is None and status is not S.REFERRED:
            worker = place.workers[0]
        needs = self._needs(family, scenario)
        source = "report" if rng.random() < 0.45 else "application"
        reporter = rng.choice(_REPORTERS) if source == "report" else (None, None, None)
        summary = _NEEDS[needs[0]].summary
        story = _Story(
            {
                "id": self._uuid(),
                "family_id": family.id,
                "oblast_code": family.oblast_code,
                "raion_code": family.raion_code,
                "hromada_code": family.hromada_code,
                "source": source,
                "reporter_kind": reporter[0],
                "reporter_name": reporter[1],
                "reporter_contact": reporter[2],
                "summary": summary,
                "received_on": received,
                "assessment_due_on": add_working_days(received, self.assessment_working_days),
                "created_by": DEMO_ACTOR,
                "created_at": self._at(received),
            },
            officer=officer,
            actor=worker or officer,
            hromada=origin or family.hromada_code,
        )
        story.moved(S.REFERRED, story.case["created_at"], officer, summary)
        if worker is not None:
            assigned_on = received + timedelta(days=min(self._days(0, 2), lengths[S.REFERRED]))
            story.case.update(
                worker_sub=worker, assigned_at=self._at(assigned_on), assigned_by=officer
            )
            story.changed()

        day = received + timedelta(days=lengths[S.REFERRED])
        activated: date | None = None
        visited: list[date] = []
        for stage in path[1:]:
            story.moved(stage, self._at(day), story.actor)
            if stage is S.ASSESSMENT:
                decision = (
                    "refuse"
                    if scenario.closure == "no_grounds"
                    else "provide"
                    if stage is not path[-1]
                    else None
                )
                self._assess(story, family, day, lengths[stage], decision)
            elif stage is S.PLANNING:
                self._plan(story, needs, scenario, day, went_on=stage is not path[-1])
            elif stage is S.ACTIVE:
                activated = day
                self._progress(story)
                visited = self._visits(story, family, day, ended_on, overdue=scenario.overdue)
                story.visits = list(visited)
            elif stage is S.REVIEW:
                self.rows.reviews.append(
                    {
                        "id": self._uuid(),
                        "case_id": story.case["id"],
                        "reviewed_on": day,
                        "outcome": rng.choice(_REVIEW_OUTCOMES),
                        "notes": None,
                        "created_by": story.actor,
                        "created_at": self._at(day),
                    }
                )
            day += timedelta(days=lengths[stage])
        if len(path) > 1:
            self._assessment_visit(story, family, received + timedelta(days=lengths[S.REFERRED]))
        if activated is not None and status in VISITED:
            last = visited[-1] if visited else activated
            story.case["visit_due_on"] = last + timedelta(days=VISIT_INTERVAL_DAYS)
            story.visited_until(today)
            if scenario.length == "extended":
                self._extend(story, place)
        self._end(story, scenario, family, place, ended_on, origin)
        self.rows.transitions += story.history
        self.rows.measures += story.measures
        self.rows.referrals += story.referrals
        story.case.update(
            status=status.value, version=story.version, updated_at=story.history[-1]["at"]
        )
        self.rows.cases.append(story.case)

    def _current_length(self, scenario: _Scenario) -> int:
        """How long the case has been in its current status: past the assessment's due date
        or the visit's (14 days) when it is overdue, well within them when not."""
        overdue = scenario.overdue
        # The most calendar days the working days of the assessment can span.
        due = self.assessment_working_days
        span = due + 2 * ((due + 4) // 5) + 1
        match scenario.status:
            case S.REFERRED:
                return self._days(span + 1, span + 9) if overdue else self._days(0, 5)
            case S.ASSESSMENT:
                return self._days(span + 1, span + 6) if overdue else self._days(1, 4)
            case S.PLANNING:
                return self._days(2, 12)
            case S.ACTIVE if scenario.length:
                return self._days(200, 230)  # past the six months decided on
            case S.ACTIVE:
                return self._days(40, 150) if overdue else self._days(10, 150)
            case _:
                return self._days(1, 10)

    def _needs(self, family: _Family, scenario: _Scenario) -> list[str]:
        """Up to three needs; one met by the demo provider when the case is referred to it."""
        needs = list(dict.fromkeys(family.needs()))
        if scenario.demo_referral and not any(
            _NEEDS[n].provider == DEMO_PROVIDER_ID for n in needs[:3]
        ):
            needs.insert(0, "servicemember" if "servicemember" in needs else "children")
        return list(dict.fromkeys(needs))[:3]

    # --- the stages ----------------------------------------------------------------------------

    def _assess(
        self, story: _Story, family: _Family, start: date, length: int, decision: str | None
    ) -> None:
        """The needs assessment from ``start``: completed and ``decision`` taken (the case
        went on, or accompaniment was refused), else a draft or nothing yet."""
        rng = self.rng
        levels = {
            domain: (
                rng.choice(_LEVELS[1:])
                if family.children or domain != "child_development"
                else "none"
            )
            for domain in ASSESSMENT_DOMAINS
        }
        row: dict[str, Any] = {
            "case_id": story.case["id"],
            **{f"{domain}_level": level for domain, level in levels.items()},
            "child_development_notes": (
                "Розвиток дітей відповідає віку" if family.children else "Дітей у сім'ї немає"
            ),
            "parenting_capacity_notes": "Дорослі дбають про сім'ю, але потребують підтримки",
            "family_environment_notes": "Житло орендоване; доходу не вистачає",
            "conclusions": "Сім'я потребує соціального супроводу за індивідуальним планом",
            "completed_at": None,
            "completed_by": None,
            "created_by": story.actor,
            "created_at": self._at(start + timedelta(days=min(1, length))),
            "version": 1,
        }
        if decision is None:
            if rng.random() < 0.35:
                return  # not begun yet
            row.update(family_environment_level=None, conclusions=None)
            row["updated_at"] = row["created_at"]
            self.rows.assessments.append(row)
            story.changed()
            return
        completed = self._at(start + timedelta(days=length - 1))
        row.update(completed_at=completed, completed_by=story.actor, updated_at=completed)
        row["version"] = 2
        self.rows.assessments.append(row)
        decided = start + timedelta(days=length)
        provide = decision == "provide"
        story.case.update(
            decision=decision,
            decision_reason=(
                "Сім'я перебуває у складних життєвих обставинах і погоджується на супровід"
                if provide
                else "Сім'я долає обставини самостійно; підстав для супроводу немає"
            ),
            decided_on=decided,
            decided_by=story.actor,
            accompaniment_until=add_months(decided, ACCOMPANIMENT_MONTHS) if provide else None,
        )
        story.changed(3)  # the draft, its completion, the decision

    def _plan(
        self, story: _Story, needs: list[str], scenario: _Scenario, start: date, *, went_on: bool
    ) -> None:
        """The plan made from ``start`` (agreed with the family when the case went on, and
        sometimes already while in planning), a measure per need, and a referral for each
        measure a provider serving the hromada offers."""
        rng, today = self.rng, self.today
        case_id = story.case["id"]
        agreed_on = start + timedelta(days=self._days(1, 3))
        agreed = went_on or (agreed_on <= today and rng.random() < 0.5)
        self.rows.plans.append(
            {
                "case_id": case_id,
                "goals": [_NEEDS[n].goal for n in needs],
                "agreed_by": "голова сім'ї" if agreed else None,
                "agreed_at": self._at(agreed_on) if agreed else None,
                "created_by": story.actor,
                "created_at": self._at(start),
                "updated_at": self._at(agreed_on if agreed else start),
                "version": 2 if agreed else 1,
            }
        )
        story.changed(2 if agreed else 1)
        for index, key in enumerate(needs):
            need = _NEEDS[key]
            provider = self._provider_for(need, story.hromada)
            measure_id = self._uuid()
            story.measures.append(
                {
                    "id": measure_id,
                    "case_id": case_id,
                    "description": need.measure,
                    "service_code": need.service,
                    "provider_id": uuid.UUID(provider.id) if provider else None,
                    "responsible": provider.name if provider else need.responsible,
                    "due_on": start + timedelta(days=self._days(30, 120)),
                    "status": "planned",
                    "created_by": story.actor,
                    "created_at": self._at(start),
                    "updated_at": self._at(start),
                    "version": 1,
                }
            )
            story.changed()
            if provider is None or need.service is None:
                continue
            if any(
                r["provider_id"] == uuid.UUID(provider.id) and r["service_code"] == need.service
                for r in story.referrals
            ):
                continue  # one referral per provider and service
            if provider.id == DEMO_PROVIDER_ID and scenario.demo_referral:
                status = scenario.demo_referral
            elif not went_on or (index and rng.random() < 0.25):
                status = "pending"
            else:
                status = "declined" if rng.random() < 0.1 else "accepted"
            sent = min(start + timedelta(days=index + 1), today)
            decided = min(sent + timedelta(days=self._days(1, 4)), today)
            staff = STAFF.get(provider.id, f"staff-{provider.id[-2:]}")
            pending = status == "pending"
            story.referrals.append(
                {
                    "id": self._uuid(),
                    "case_id": case_id,
                    "measure_id": measure_id,
                    "provider_id": uuid.UUID(provider.id),
                    "service_code": need.service,
                    "note": None,
                    "status": status,
                    "decline_reason": (
                        "Немає вільних місць до кінця місяця" if status == "declined" else None
                    ),
                    "decided_at": None if pending else self._at(decided),
                    "decided_by": None if pending else staff,
                    "closed_at": None,
                    "created_by": story.actor,
                    "created_at": self._at(sent),
                    "updated_at": self._at(sent if pending else decided),
                    "version": 1 if pending else 2,
                }
            )

    def _provider_for(self, need: _Need, hromada: str) -> _Provider | None:
        """The need's provider if it serves the hromada and offers the service, else the
        first one that does, else none (the worker or the family carries the measure out)."""
        if need.service is None:
            return None
        serving = [p for p in self.providers if hromada in p.serves and need.service in p.offers]
        preferred = [p for p in serving if p.id == need.provider]
        return (preferred + serving)[0] if serving else None

    def _progress(self, story: _Story) -> None:
        """Accompaniment under way: the measures a provider took on are in progress."""
        taken = {r["measure_id"] for r in story.referrals if r["status"] == "accepted"}
        for measure in story.measures:
            if measure["id"] in taken or (
                measure["provider_id"] is None and self.rng.random() < 0.5
            ):
                measure.update(status="in_progress", version=2)
                story.changed()

    def _assessment_visit(self, story: _Story, family: _Family, start: date) -> None:
        """The home visit of the needs assessment (from its start, when that day has come)."""
        visited_on = start + timedelta(days=self._days(1, 3))
        if visited_on <= self.today:
            self._visit(story, family, visited_on, "home")

    def _visits(
        self, story: _Story, family: _Family, start: date, end: date, *, overdue: bool
    ) -> list[date]:
        """Visits while accompaniment was under way (``start`` to ``end``), every 7–13 days,
        counted back from the last: just before ``end``, or 15–30 days before today when the
        next one is overdue. Their days, in order."""
        last = end - timedelta(days=self._days(0, 4))
        if overdue:
            last = min(last, self.today - timedelta(days=self._days(15, 30)))
        days = []
        while last > start:
            days.append(last)
            last -= timedelta(days=self._days(7, 13))
        days.reverse()
        for visited_on in days:
            self._visit(story, family, visited_on, None)
        return days

    def _visit(self, story: _Story, family: _Family, visited_on: date, kind: str | None) -> None:
        self.rows.visits.append(
            {
                "id": self._uuid(),
                "case_id": story.case["id"],
                "visited_on": visited_on,
                "kind": kind or self.rng.choice(("home", "home", "home", "phone", "office")),
                "participants": family.participants,
                "notes": self.rng.choice(_VISIT_NOTES),
                "created_by": story.actor,
                "created_at": self._at(visited_on, 15, 19),
            }
        )

    def _extend(self, story: _Story, place: _Place) -> None:
        """Accompaniment past its six months, extended by the officer by three months (the
        ones not extended are what ``duration_exceeded`` finds)."""
        until = story.case.get("accompaniment_until")
        if until is None or until >= self.today:
            return
        story.case.update(
            accompaniment_until=add_months(until, 3),
            extension_reason="Потрібен час, щоб завершити заходи плану",
            extended_by=place.officer,
        )
        story.changed()

    def _end(
        self,
        story: _Story,
        scenario: _Scenario,
        family: _Family,
        place: _Place,
        on: date,
        origin: str | None,
    ) -> None:
        """Suspend, transfer or close the case on ``on``; then the grants its accepted
        referrals gave (revoked when it closed)."""
        case = story.case
        at = self._at(on)
        accepted = [r for r in story.referrals if r["status"] == "accepted"]
        match scenario.status:
            case S.SUSPENDED:
                assert scenario.worked is not None
                case["suspended_from"] = scenario.worked.value
                story.moved(S.SUSPENDED, at, story.actor, self.rng.choice(_SUSPENSIONS))
            case S.TRANSFERRED:
                to_worker = scenario.worker if scenario.transfer == "worker" else None
                details = {
                    "from_hromada": story.hromada,
                    "from_worker": case.get("worker_sub"),
                    "to_worker": to_worker,
                }
                if origin is not None:
                    details["to_hromada"] = family.hromada_code
                    reason = "Сім'я переїхала до іншої громади"
                else:
                    reason = "Перерозподіл навантаження між соціальними працівниками"
                story.moved(S.TRANSFERRED, at, story.officer, reason, details)
                case.update(
                    worker_sub=to_worker,
                    assigned_at=at if to_worker else None,
                    assigned_by=place.officer if to_worker else None,
                )
            case S.CLOSED:
                assert scenario.closure is not None
                outcome = _CLOSURE_OUTCOMES[scenario.closure]
                case.update(closure_reason=scenario.closure, closure_outcome=outcome, closed_at=at)
                story.moved(S.CLOSED, at, story.actor, outcome)
                done = "done" if scenario.closure == "goals_achieved" else "cancelled"
                for measure in story.measures:
                    measure.update(status=done, updated_at=at, version=measure["version"] + 1)
                for referral in story.referrals:
                    if referral["status"] in ("pending", "accepted"):
                        referral.update(
                            status="closed",
                            closed_at=at,
                            updated_at=at,
                            version=referral["version"] + 1,
                        )
        for referral in accepted:
            provider = str(referral["provider_id"])
            self.rows.grants.append(
                Grant(
                    provider_id=provider,
                    family_id=family.id,
                    oblast_code=family.oblast_code,
                    raion_code=family.raion_code,
                    hromada_code=family.hromada_code,
                    service_code=referral["service_code"],
                    case_id=case["id"],
                    granted_at=referral["decided_at"],
                    granted_by=referral["decided_by"],
                    reason=GRANTED_BY_REFERRAL,
                    revoked_at=case.get("closed_at"),
                    revoked_by=story.actor if case.get("closed_at") else None,
                    staff=referral["decided_by"],
                )
            )

    # --- links without a case ------------------------------------------------------------------

    def links(self, families: Sequence[_Family], with_case: set[uuid.UUID]) -> None:
        """Kyiv families without a case that providers serve by agreement with the
        community officer: home care for older members, the demo provider's counselling
        for servicemembers' families."""
        rng, today = self.rng, self.today
        for family in families:
            if family.id in with_case or family.hromada_code != KYIV:
                continue
            if family.elderly and {"old_age", "mobility_loss"} & set(family.factors):
                need = _NEEDS["care"]
            elif set(family.categories) & _SERVICEMEMBER:
                need = _NEEDS["servicemember"]
            else:
                continue
            provider = self._provider_for(need, family.hromada_code)
            if provider is None or need.service is None or rng.random() < 0.7:
                continue
            granted = self._at(today - timedelta(days=self._days(20, 240)))
            self.rows.grants.append(
                Grant(
                    provider_id=provider.id,
                    family_id=family.id,
                    oblast_code=family.oblast_code,
                    raion_code=family.raion_code,
                    hromada_code=family.hromada_code,
                    service_code=need.service,
                    case_id=None,
                    granted_at=granted,
                    granted_by=DEMO_OFFICER,
                    reason=_LINK_REASONS[need.service],
                    revoked_at=None,
                    revoked_by=None,
                    staff=STAFF.get(provider.id, f"staff-{provider.id[-2:]}"),
                )
            )
