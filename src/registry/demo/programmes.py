"""Demo community programmes and the Child and Youth Friendly Community initiative
(``registry seed --demo``, ``registry serve --demo``).

Three programmes, as the ministry and the hromadas' officers would have worked them through
the API:

- UNICEF's multi-purpose cash for families with children and internally displaced families
  (USD, open) in five hromadas — Kyiv, Kharkiv, Dnipro, Odesa, Kramatorsk — each with its
  allocation; demo families of those hromadas that meet the rule on the day they were
  enrolled, paid monthly tranches by bank transfer; one payment returned by the bank and
  reversed with the reason, then paid again;
- UNHCR's winter support in kind (UAH): heaters, generators and children's winter kits of
  the aid-item catalogue, allocated to Kyiv and Kharkiv in quantities, received into their
  stock and handed out to enrolled families, drawing on allocation and stock;
- tablets for the centres working with children (UAH, in kind), handed out in Kyiv to the
  demo provider (``DEMO_PROVIDER_ID``: the printed ``provider_staff`` token sees them) and
  to the city's centre of social services.

And two hromadas on the way to the initiative's status: Kyiv at ``situation_analysis`` and
Bucha at ``memorandum``, each step dated and resting on its document.

The rows are the ones ``programmes.commands`` writes, kept as its invariants want them: a
balance line's ``distributed`` and ``reversed`` are what its distributions and reversals
sum to, a hromada's stock is what it received less what was handed out (never below zero on
any day: receipts and hand-outs are replayed in date order), families are enrolled only if
the eligibility rule (``programmes.rules.unmet_conditions``) holds for them on the day, and
a family is paid only while enrolled, on or after that day, within the programme's period
and never after the seed's day. The dates count back from the seed's day.

One seeded ``random.Random`` drives it. The seed only inserts (the caller commits) and runs
once per database: programmes marked ``created_by = 'demo-seed'`` mean it has run. Like the
other demo seeds it writes no audit events and no ``record_changes``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.demo.cases import DEMO_OFFICER, KMCSS_ID
from registry.demo.clock import latest_moment
from registry.demo.families import DEMO_ACTOR, KYIV
from registry.demo.military import DEMO_MINISTRY
from registry.demo.providers import BUCHA, DEMO_PROVIDER_ID, DNIPRO, KHARKIV, ODESA
from registry.domain.families.tables import family_table, person_table
from registry.domain.friendly_communities.rules import ORDER, Stage, may_go
from registry.domain.friendly_communities.tables import (
    friendly_community_step_table,
    friendly_community_table,
)
from registry.domain.programmes.rules import (
    CENT,
    Currency,
    EnrolmentStatus,
    FamilyFacts,
    Member,
    ProgrammeKind,
    ProgrammeStatus,
    age_on,
    unmet_conditions,
)
from registry.domain.programmes.tables import (
    aid_item_table,
    aid_receipt_table,
    aid_stock_table,
    allocation_table,
    distribution_item_table,
    distribution_table,
    enrolment_table,
    programme_table,
    reversal_table,
)
from registry.domain.providers.tables import provider_table
from registry.domain.territories.queries import locate_address

KRAMATORSK = "UA14120090000098500"
_LOCK_KEY = "registry.demo-seed"


@dataclass(frozen=True)
class DemoProgrammes:
    """What the programme seed added."""

    programmes: int
    enrolments: int
    distributions: int
    friendly_communities: int


@dataclass(frozen=True)
class _Office:
    """Who works the programmes in a hromada: the officer recording (a token's subject), and
    the name they sign a hand-over with."""

    officer: str
    name: str
    #: How the hromada is named in the references of its payments.
    tag: str


OFFICES = {
    KYIV: _Office(DEMO_OFFICER, "Оксана Гнатюк", "KYIV"),
    KHARKIV: _Office("officer-kharkiv-bondarenko", "Ігор Бондаренко", "KHARKIV"),
    DNIPRO: _Office("officer-dnipro-kravets", "Наталія Кравець", "DNIPRO"),
    ODESA: _Office("officer-odesa-moroz", "Людмила Мороз", "ODESA"),
    KRAMATORSK: _Office("officer-kramatorsk-lytvynenko", "Віктор Литвиненко", "KRAMATORSK"),
    BUCHA: _Office("officer-bucha-fedorenko", "Ірина Федоренко", "BUCHA"),
}

# --- the programmes --------------------------------------------------------------------------

#: UNICEF's rule: a family with a child, or displaced.
CASH_RULE = {
    "any": [
        {"condition": "children", "at_least": 1, "min_age": 0, "max_age": 17},
        {"condition": "category", "code": "idp"},
    ]
}
#: Per hromada: the allocation (USD) and how many families it enrols at most.
CASH_HROMADAS = {
    KYIV: (Decimal("45000.00"), 40),
    KHARKIV: (Decimal("20000.00"), 15),
    DNIPRO: (Decimal("15000.00"), 12),
    ODESA: (Decimal("15000.00"), 12),
    KRAMATORSK: (Decimal("20000.00"), 15),
}
CASH_BUDGET = Decimal("150000.00")
#: A tranche is so much per member of the family (at most five counted), three at most.
CASH_PER_MEMBER = Decimal("60.00")
CASH_TRANCHES = 3
CASH_REVERSAL = "Кошти повернуто банком: картковий рахунок отримувача закрито"
_BANK = "АТ «Ощадбанк», переказ на картку"

#: UNHCR's winter rule: a child under seven, a member with a disability, or displaced.
WINTER_RULE = {
    "any": [
        {"condition": "children", "at_least": 1, "min_age": 0, "max_age": 6},
        {"condition": "disability"},
        {"condition": "category", "code": "idp"},
    ]
}
WINTER_BUDGET = Decimal("2000000.00")


@dataclass(frozen=True)
class _Item:
    key: str
    name: str
    unit: str
    unit_value: Decimal


HEATER = _Item("heater", "Обігрівач масляний 2 кВт", "шт.", Decimal("3200.00"))
GENERATOR = _Item("generator", "Генератор бензиновий 3 кВт", "шт.", Decimal("28500.00"))
WINTER_KIT = _Item(
    "kit", "Зимовий набір для дитини (куртка, взуття, шапка, ковдра)", "набір", Decimal("2400.00")
)
TABLET = _Item("tablet", 'Планшет 10" з чохлом і навушниками', "шт.", Decimal("7800.00"))
ITEMS = (HEATER, GENERATOR, WINTER_KIT, TABLET)
#: Per hromada: each item's allocation, and the two deliveries into its stock.
WINTER_HROMADAS: dict[str, dict[_Item, tuple[int, tuple[int, int]]]] = {
    KYIV: {HEATER: (120, (80, 40)), GENERATOR: (10, (6, 4)), WINTER_KIT: (150, (100, 50))},
    KHARKIV: {HEATER: (60, (40, 20)), GENERATOR: (8, (5, 3)), WINTER_KIT: (60, (40, 20))},
}
WINTER_FAMILIES = {KYIV: 45, KHARKIV: 15}
TABLETS_BUDGET = Decimal("500000.00")
TABLETS = 40
#: The tablets' hand-overs in Kyiv: to whom, how many, how many days after the programme began.
TABLET_HANDOVERS = ((DEMO_PROVIDER_ID, 12, 20), (KMCSS_ID, 10, 27), (DEMO_PROVIDER_ID, 6, 64))

# --- the friendly communities ----------------------------------------------------------------

#: Per hromada: its steps (the stage, days after the first one, the document), its first step
#: so many days before the seed's day.
COMMUNITIES: dict[str, tuple[int, tuple[tuple[Stage, int, str], ...]]] = {
    KYIV: (
        520,
        (
            (
                Stage.COUNCIL_DECISION,
                0,
                "Рішення Київської міської ради від {day} № 412/7853 «Про участь в ініціативі "
                "„Громада, дружня до дітей та молоді“»",
            ),
            (Stage.LETTER_OF_INTEREST, 34, "Лист-заява КМДА від {day} № 001-4417"),
            (
                Stage.MEMORANDUM,
                97,
                "Меморандум про співпрацю між Мінсоцполітики, ЮНІСЕФ і КМДА від {day} № М-27/КВ",
            ),
            (
                Stage.SITUATION_ANALYSIS,
                230,
                "Ситуаційний аналіз становища дітей і молоді м. Києва, схвалений розпорядженням "
                "КМДА від {day} № 1186",
            ),
        ),
    ),
    BUCHA: (
        290,
        (
            (
                Stage.COUNCIL_DECISION,
                0,
                "Рішення Бучанської міської ради від {day} № 5127-61-VIII",
            ),
            (
                Stage.LETTER_OF_INTEREST,
                26,
                "Лист-заява Бучанської міської ради від {day} № 02-14/2290",
            ),
            (
                Stage.MEMORANDUM,
                71,
                "Меморандум про співпрацю між Мінсоцполітики, ЮНІСЕФ і Бучанською міською радою "
                "від {day} № М-41/БЧ",
            ),
        ),
    ),
}
_STEP_NOTES = {
    Stage.COUNCIL_DECISION: "Робочу групу утворено; координатор — служба у справах дітей",
    Stage.SITUATION_ANALYSIS: "Опитано 1 240 дітей і молодих людей; звіт оприлюднено на сайті",
}


# --- the seed -------------------------------------------------------------------------------


async def seed_demo_programmes(
    session: AsyncSession, *, seed: int = 20261204, today: date | None = None
) -> DemoProgrammes:
    """Insert the demo programmes with their books, and the demo friendly communities;
    nothing when the demo programmes are already there. Only executes and flushes."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(_LOCK_KEY))))
    if await session.scalar(select(exists().where(programme_table.c.created_by == DEMO_ACTOR))):
        return DemoProgrammes(0, 0, 0, 0)
    today = today or datetime.now(UTC).date()
    rng = random.Random(seed)  # noqa: S311  (repeatable made-up data, not secrets)
    latest = await latest_moment(session, today)

    def stamp(day: date) -> datetime:
        moment = datetime.combine(day, time(rng.randint(8, 17), rng.randrange(60)), UTC)
        return min(moment, latest)

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    addresses = {
        code: await locate_address(session, code, None)
        for code in {*CASH_HROMADAS, *WINTER_HROMADAS, *COMMUNITIES}
    }
    items = await _catalogue(session, stamp, new_id, today)
    families = await _families(session, {*CASH_HROMADAS, *WINTER_HROMADAS})
    stock = _Stock()
    books = [
        _cash(rng, today, stamp, new_id, addresses, families, stock),
        _winter(rng, today, stamp, new_id, addresses, families, items, stock),
        await _tablets(session, today, stamp, new_id, addresses, items, stock),
    ]
    for book in books:
        await book.write(session)
    await stock.write(session)
    communities = await _communities(session, today, stamp, addresses)
    await session.flush()
    return DemoProgrammes(
        programmes=len(books),
        enrolments=sum(len(book.enrolments) for book in books),
        distributions=sum(len(book.distributions) for book in books),
        friendly_communities=communities,
    )


# --- the books -------------------------------------------------------------------------------


@dataclass
class _Family:
    id: uuid.UUID
    address: dict[str, Any]
    categories: frozenset[str]
    factors: frozenset[str]
    members: tuple[Member, ...]
    #: The day the family consented to being registered (nobody enrols it before).
    registered_on: date | None

    def facts(self, day: date) -> FamilyFacts:
        return FamilyFacts(self.categories, self.factors, self.members, today=day)

    def children(self, day: date, oldest: int) -> int:
        return sum(1 for member in self.members if 0 <= age_on(member.birth_date, day) <= oldest)

    def size(self, day: date) -> int:
        return sum(1 for member in self.members if member.birth_date <= day)


class _Stock:
    """Each hromada's stock of each item, as ``aid_stock`` holds it, with its receipts. Aid is
    received and handed out in date order, so what is on hand is never below zero."""

    def __init__(self) -> None:
        self.receipts: list[dict[str, Any]] = []
        self.lines: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}

    def receive(self, receipt: dict[str, Any]) -> None:
        self.receipts.append(receipt)
        line = self.lines.setdefault(
            (receipt["hromada_code"], receipt["item_id"]),
            {
                "hromada_code": receipt["hromada_code"],
                "item_id": receipt["item_id"],
                "oblast_code": receipt["oblast_code"],
                "raion_code": receipt["raion_code"],
                "received": 0,
                "handed_out": 0,
                "updated_at": receipt["recorded_at"],
            },
        )
        line["received"] += receipt["quantity"]
        line["updated_at"] = max(line["updated_at"], receipt["recorded_at"])

    def on_hand(self, hromada: str, item_id: uuid.UUID, day: date) -> int:
        """What the hromada holds on ``day``: received until then, less all handed out
        (nothing is handed out later than the day asked about)."""
        received: int = sum(
            r["quantity"]
            for r in self.receipts
            if r["hromada_code"] == hromada and r["item_id"] == item_id and r["received_on"] <= day
        )
        line = self.lines.get((hromada, item_id))
        handed_out: int = line["handed_out"] if line else 0
        return received - handed_out

    def hand_out(self, hromada: str, item_id: uuid.UUID, quantity: int, at: datetime) -> None:
        line = self.lines[(hromada, item_id)]
        line["handed_out"] += quantity
        line["updated_at"] = max(line["updated_at"], at)

    async def write(self, session: AsyncSession) -> None:
        if self.receipts:
            await session.execute(insert(aid_receipt_table), self.receipts)
            await session.execute(insert(aid_stock_table), list(self.lines.values()))


@dataclass
class _Book:
    """One programme's rows as its commands would have written them: the balance lines kept
    by every distribution and reversal (``commands._draw``, ``commands.reverse``)."""

    programme: dict[str, Any]
    new_id: Callable[[], uuid.UUID]
    stamp: Callable[[date], datetime]
    stock: _Stock
    lines: dict[tuple[str, uuid.UUID | None], dict[str, Any]] = field(default_factory=dict)
    enrolments: list[dict[str, Any]] = field(default_factory=list)
    distributions: list[dict[str, Any]] = field(default_factory=list)
    distribution_items: list[dict[str, Any]] = field(default_factory=list)
    reversals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> uuid.UUID:
        programme_id: uuid.UUID = self.programme["id"]
        return programme_id

    def allocate(
        self, address: Mapping[str, Any], item_id: uuid.UUID | None, quantity: Decimal, day: date
    ) -> None:
        at = self.stamp(day)
        self.lines[(address["hromada_code"], item_id)] = {
            "id": self.new_id(),
            "programme_id": self.id,
            "oblast_code": address["oblast_code"],
            "raion_code": address["raion_code"],
            "hromada_code": address["hromada_code"],
            "item_id": item_id,
            "allocated": quantity,
            "distributed": Decimal(0),
            "reversed": Decimal(0),
            "updated_by": DEMO_MINISTRY,
            "created_at": at,
            "updated_at": at,
        }

    def remaining(self, hromada: str, item_id: uuid.UUID | None) -> Decimal:
        line = self.lines.get((hromada, item_id))
        if line is None:
            return Decimal(0)
        remaining: Decimal = line["allocated"] - line["distributed"] + line["reversed"]
        return remaining

    def enrol(self, family: _Family, day: date) -> dict[str, Any] | None:
        """The family's enrolment on ``day``, if the rule holds for it then."""
        if unmet_conditions(self.programme["eligibility"], family.facts(day)):
            return None
        at = self.stamp(day)
        enrolment = {
            "id": self.new_id(),
            "programme_id": self.id,
            "family_id": family.id,
            **_codes(family.address),
            "status": EnrolmentStatus.ENROLLED.value,
            "enrolled_on": day,
            "enrolled_by": OFFICES[family.address["hromada_code"]].officer,
            "created_at": at,
            "updated_at": at,
        }
        self.enrolments.append(enrolment)
        return enrolment

    def distribute(
        self,
        day: date,
        address: Mapping[str, Any],
        *,
        amount: Decimal | None = None,
        items: Sequence[tuple[uuid.UUID, int]] = (),
        enrolment: Mapping[str, Any] | None = None,
        provider_id: uuid.UUID | None = None,
        handed_over_by: str,
        reference: str | None,
    ) -> dict[str, Any] | None:
        """The distribution, drawn on the hromada's balance (and stock); None when either has
        too little (the API's 409)."""
        hromada = address["hromada_code"]
        assert self.programme["starts_on"] <= day <= self.programme["ends_on"]
        if enrolment is not None:
            assert enrolment["enrolled_on"] <= day
            assert enrolment["hromada_code"] == hromada
        if amount is not None and self.remaining(hromada, None) < amount:
            return None
        for item_id, quantity in items:
            if self.remaining(hromada, item_id) < quantity:
                return None
            if self.stock.on_hand(hromada, item_id, day) < quantity:
                return None
        at = self.stamp(day)
        if amount is not None:
            self._move(hromada, None, "distributed", amount, at)
        for item_id, quantity in sorted(items):
            self._move(hromada, item_id, "distributed", Decimal(quantity), at)
            self.stock.hand_out(hromada, item_id, quantity, at)
        distribution = {
            "id": self.new_id(),
            "programme_id": self.id,
            **_codes(address),
            "family_id": None if enrolment is None else enrolment["family_id"],
            "enrolment_id": None if enrolment is None else enrolment["id"],
            "provider_id": provider_id,
            "amount": amount,
            "currency": self.programme["currency"],
            "distributed_on": day,
            "handed_over_by": handed_over_by,
            "receipt_reference": reference,
            "recorded_by": OFFICES[hromada].officer,
            "recorded_at": at,
        }
        self.distributions.append(distribution)
        self.distribution_items.extend(
            {"distribution_id": distribution["id"], "item_id": item_id, "quantity": quantity}
            for item_id, quantity in sorted(items)
        )
        return distribution

    def reverse(self, distribution: Mapping[str, Any], day: date, reason: str) -> None:
        """All of the distribution given back to its balance lines (and stock)."""
        hromada = distribution["hromada_code"]
        at = self.stamp(day)
        if distribution["amount"] is not None:
            self._move(hromada, None, "reversed", distribution["amount"], at)
        for line in self.distribution_items:
            if line["distribution_id"] == distribution["id"]:
                self._move(hromada, line["item_id"], "reversed", Decimal(line["quantity"]), at)
                self.stock.hand_out(hromada, line["item_id"], -line["quantity"], at)
        self.reversals.append(
            {
                "distribution_id": distribution["id"],
                "reason": reason,
                "reversed_on": day,
                "reversed_by": OFFICES[hromada].officer,
                "recorded_at": at,
            }
        )

    def _move(
        self, hromada: str, item_id: uuid.UUID | None, figure: str, by: Decimal, at: datetime
    ) -> None:
        line = self.lines[(hromada, item_id)]
        line[figure] += by
        line["updated_at"] = max(line["updated_at"], at)

    async def write(self, session: AsyncSession) -> None:
        await session.execute(insert(programme_table).values(**self.programme))
        for table, rows in (
            (allocation_table, list(self.lines.values())),
            (enrolment_table, self.enrolments),
            (distribution_table, self.distributions),
            (distribution_item_table, self.distribution_items),
            (reversal_table, self.reversals),
        ):
            if rows:
                await session.execute(insert(table), rows)


def _codes(address: Mapping[str, Any]) -> dict[str, Any]:
    return {k: address[k] for k in ("oblast_code", "raion_code", "hromada_code")}


def _programme(
    new_id: Callable[[], uuid.UUID],
    stamp: Callable[[date], datetime],
    today: date,
    *,
    funder: str,
    name: str,
    kind: ProgrammeKind,
    currency: Currency,
    budget: Decimal,
    starts_on: date,
    ends_on: date,
    eligibility: dict[str, Any] | None,
) -> dict[str, Any]:
    """The programme's row: created three weeks before it began, opened a week before (and
    closed after it ended, when it has)."""
    created = stamp(starts_on - timedelta(days=21))
    status = ProgrammeStatus.OPEN if today <= ends_on else ProgrammeStatus.CLOSED
    changed = stamp(starts_on - timedelta(days=7) if status is ProgrammeStatus.OPEN else ends_on)
    return {
        "id": new_id(),
        "funder": funder,
        "name": name,
        "kind": kind.value,
        "currency": currency.value,
        "budget": budget,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "status": status.value,
        "eligibility": eligibility,
        "created_by": DEMO_ACTOR,
        "created_at": created,
        "updated_at": max(created, changed),
        # created, opened (and closed): one version each
        "version": 2 if status is ProgrammeStatus.OPEN else 3,
    }


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _enrolment_day(
    rng: random.Random, family: _Family, starts_on: date, last: date, within: int
) -> date | None:
    """A day between the programme's start (and the family's registration) and ``last``."""
    first = max(starts_on, family.registered_on or starts_on)
    if first > last:
        return None
    return min(first + timedelta(days=rng.randint(0, within)), last)


def _cash(
    rng: random.Random,
    today: date,
    stamp: Callable[[date], datetime],
    new_id: Callable[[], uuid.UUID],
    addresses: Mapping[str, dict[str, Any]],
    families: Mapping[str, list[_Family]],
    stock: _Stock,
) -> _Book:
    starts_on = _month_start(today - timedelta(days=150))
    ends_on = starts_on.replace(year=starts_on.year + 1) - timedelta(days=1)
    book = _Book(
        _programme(
            new_id,
            stamp,
            today,
            funder="UNICEF",
            name="Багатоцільова грошова допомога сімʼям з дітьми та внутрішньо переміщеним сімʼям",
            kind=ProgrammeKind.CASH,
            currency=Currency.USD,
            budget=CASH_BUDGET,
            starts_on=starts_on,
            ends_on=ends_on,
            eligibility=CASH_RULE,
        ),
        new_id,
        stamp,
        stock,
    )
    last_payment = min(today, ends_on)
    numbers: dict[str, int] = {}
    to_reverse: dict[str, Any] | None = None
    for hromada, (allocated, most) in CASH_HROMADAS.items():
        address = addresses[hromada]
        office = OFFICES[hromada]
        book.allocate(address, None, allocated, starts_on - timedelta(days=10))
        candidates = list(families.get(hromada, ()))
        rng.shuffle(candidates)
        enrolled = 0
        for family in candidates:
            if enrolled == most:
                break
            day = _enrolment_day(rng, family, starts_on, today - timedelta(days=3), 110)
            if day is None:
                continue
            enrolment = book.enrol(family, day)
            if enrolment is None:
                continue
            enrolled += 1
            paid_on = day + timedelta(days=rng.randint(3, 10))
            for _ in range(CASH_TRANCHES):
                if paid_on > last_payment:
                    break
                amount = (CASH_PER_MEMBER * min(family.size(paid_on), 5)).quantize(CENT)
                number = numbers[hromada] = numbers.get(hromada, 0) + 1
                paid = book.distribute(
                    paid_on,
                    address,
                    amount=amount,
                    enrolment=enrolment,
                    handed_over_by=_BANK,
                    reference=f"UNICEF-MPC/{office.tag}/{paid_on.year}/{number:05d}",
                )
                if paid is None:
                    break
                if to_reverse is None and hromada == KYIV and paid_on <= today - timedelta(days=10):
                    to_reverse = paid
                paid_on += timedelta(days=rng.randint(29, 32))
    if to_reverse is not None:
        # The bank returned a payment: reversed with why, and paid again to the new account.
        returned_on = to_reverse["distributed_on"] + timedelta(days=rng.randint(2, 4))
        book.reverse(to_reverse, returned_on, CASH_REVERSAL)
        enrolment = next(e for e in book.enrolments if e["id"] == to_reverse["enrolment_id"])
        number = numbers[KYIV] = numbers[KYIV] + 1
        book.distribute(
            returned_on + timedelta(days=rng.randint(1, 3)),
            addresses[KYIV],
            amount=to_reverse["amount"],
            enrolment=enrolment,
            handed_over_by=_BANK,
            reference=f"UNICEF-MPC/KYIV/{returned_on.year}/{number:05d}",
        )
    return book


def _winter_season(today: date) -> tuple[date, date]:
    """The winter whose support is under way (or, from April to mid-November, the last one):
    1 October to 31 March."""
    day = today - timedelta(days=45)
    year = day.year if day.month >= 10 else day.year - 1
    return date(year, 10, 1), date(year + 1, 3, 31)


def _winter(
    rng: random.Random,
    today: date,
    stamp: Callable[[date], datetime],
    new_id: Callable[[], uuid.UUID],
    addresses: Mapping[str, dict[str, Any]],
    families: Mapping[str, list[_Family]],
    items: Mapping[str, uuid.UUID],
    stock: _Stock,
) -> _Book:
    starts_on, ends_on = _winter_season(today)
    book = _Book(
        _programme(
            new_id,
            stamp,
            today,
            funder="UNHCR",
            name=f"Зимова підтримка {starts_on.year}/{ends_on.year}: обігрівачі, генератори, "
            "зимові набори",
            kind=ProgrammeKind.IN_KIND,
            currency=Currency.UAH,
            budget=WINTER_BUDGET,
            starts_on=starts_on,
            ends_on=ends_on,
            eligibility=WINTER_RULE,
        ),
        new_id,
        stamp,
        stock,
    )
    last = min(today, ends_on)
    waybills = iter(range(1180, 10_000, 7))
    planned: list[tuple[date, int, _Family, dict[str, Any]]] = []
    for hromada, lines in WINTER_HROMADAS.items():
        address = addresses[hromada]
        for item, (allocated, deliveries) in lines.items():
            book.allocate(
                address, items[item.key], Decimal(allocated), starts_on - timedelta(days=5)
            )
            for days, quantity in zip(
                (rng.randint(3, 7), rng.randint(38, 45)), deliveries, strict=True
            ):
                received_on = starts_on + timedelta(days=days)
                if received_on > last:
                    continue
                stock.receive(
                    {
                        "id": new_id(),
                        **_codes(address),
                        "item_id": items[item.key],
                        "quantity": quantity,
                        "source": f"UNHCR, склад у Києві; накладна № UNHCR-KBP-{next(waybills)}",
                        "received_on": received_on,
                        "programme_id": book.id,
                        "recorded_by": OFFICES[hromada].officer,
                        "recorded_at": stamp(received_on),
                    }
                )
        candidates = list(families.get(hromada, ()))
        rng.shuffle(candidates)
        enrolled = 0
        for family in candidates:
            if enrolled == WINTER_FAMILIES[hromada]:
                break
            day = _enrolment_day(rng, family, starts_on + timedelta(days=5), last, 75)
            if day is None:
                continue
            enrolment = book.enrol(family, day)
            if enrolment is None:
                continue
            enrolled += 1
            handed_on = day + timedelta(days=rng.randint(1, 7))
            if handed_on <= last:
                planned.append((handed_on, len(planned), family, enrolment))
    for handed_on, _, family, enrolment in sorted(planned, key=lambda p: p[:2]):
        wanted = [(items[HEATER.key], 1)]
        kits = min(family.children(handed_on, 13), 3)
        if kits:
            wanted.append((items[WINTER_KIT.key], kits))
        if any(m.disability_group for m in family.members) and rng.random() < 0.6:
            wanted.append((items[GENERATOR.key], 1))
        hromada = enrolment["hromada_code"]
        # What the hromada still has of each, on its balance and in its stock, is handed over.
        given = [
            line
            for line in wanted
            if book.remaining(hromada, line[0]) >= line[1]
            and stock.on_hand(hromada, line[0], handed_on) >= line[1]
        ]
        if given:
            book.distribute(
                handed_on,
                addresses[hromada],
                items=given,
                enrolment=enrolment,
                handed_over_by=OFFICES[hromada].name,
                reference=f"Акт видачі № {len(book.distributions) + 1}/{OFFICES[hromada].tag}",
            )
    return book


async def _tablets(
    session: AsyncSession,
    today: date,
    stamp: Callable[[date], datetime],
    new_id: Callable[[], uuid.UUID],
    addresses: Mapping[str, dict[str, Any]],
    items: Mapping[str, uuid.UUID],
    stock: _Stock,
) -> _Book:
    starts_on = today - timedelta(days=120)
    book = _Book(
        _programme(
            new_id,
            stamp,
            today,
            funder="Міністерство цифрової трансформації України",
            name="Планшети для центрів, що працюють з дітьми",
            kind=ProgrammeKind.IN_KIND,
            currency=Currency.UAH,
            budget=TABLETS_BUDGET,
            starts_on=starts_on,
            ends_on=starts_on.replace(year=starts_on.year + 1) - timedelta(days=1),
            eligibility=None,
        ),
        new_id,
        stamp,
        stock,
    )
    kyiv = addresses[KYIV]
    tablet = items[TABLET.key]
    book.allocate(kyiv, tablet, Decimal(TABLETS), starts_on - timedelta(days=5))
    received_on = starts_on + timedelta(days=9)
    stock.receive(
        {
            "id": new_id(),
            **_codes(kyiv),
            "item_id": tablet,
            "quantity": TABLETS,
            "source": "Мінцифри; видаткова накладна № МЦ-2206",
            "received_on": received_on,
            "programme_id": book.id,
            "recorded_by": DEMO_OFFICER,
            "recorded_at": stamp(received_on),
        }
    )
    active = set(
        (
            await session.scalars(
                select(provider_table.c.id).where(
                    provider_table.c.id.in_([uuid.UUID(p) for p, _, _ in TABLET_HANDOVERS]),
                    provider_table.c.status == "active",
                )
            )
        ).all()
    )
    for number, (provider, quantity, days) in enumerate(TABLET_HANDOVERS, start=1):
        day = starts_on + timedelta(days=days)
        if uuid.UUID(provider) not in active or day > today:
            continue
        book.distribute(
            day,
            kyiv,
            items=[(tablet, quantity)],
            provider_id=uuid.UUID(provider),
            handed_over_by=OFFICES[KYIV].name,
            reference=f"Акт приймання-передачі № {number}/ПЛ-{day.year}",
        )
    return book


# --- what the books draw on ------------------------------------------------------------------


async def _catalogue(
    session: AsyncSession,
    stamp: Callable[[date], datetime],
    new_id: Callable[[], uuid.UUID],
    today: date,
) -> dict[str, uuid.UUID]:
    """The demo items of the catalogue (an item of the same name already there is taken as it
    is: names are unique), by key."""
    created = stamp(today - timedelta(days=400))
    await session.execute(
        pg_insert(aid_item_table).on_conflict_do_nothing(),
        [
            {
                "id": new_id(),
                "name": item.name,
                "unit": item.unit,
                "unit_value": item.unit_value,
                "currency": Currency.UAH.value,
                "created_by": DEMO_ACTOR,
                "created_at": created,
            }
            for item in ITEMS
        ],
    )
    ids = {
        name: item_id
        for name, item_id in await session.execute(
            select(aid_item_table.c.name, aid_item_table.c.id).where(
                aid_item_table.c.name.in_([item.name for item in ITEMS])
            )
        )
    }
    return {item.key: ids[item.name] for item in ITEMS}


async def _families(session: AsyncSession, hromadas: Iterable[str]) -> dict[str, list[_Family]]:
    """The active demo families of ``hromadas`` with their current members, by hromada."""
    members: dict[uuid.UUID, list[Member]] = {}
    rows = await session.execute(
        select(
            person_table.c.family_id,
            person_table.c.birth_date,
            person_table.c.disability_group,
            person_table.c.is_servicemember,
        )
        .join(family_table, family_table.c.id == person_table.c.family_id)
        .where(
            family_table.c.created_by == DEMO_ACTOR,
            family_table.c.status == "active",
            family_table.c.hromada_code.in_(list(hromadas)),
            person_table.c.status == "active",
        )
        .order_by(person_table.c.family_id, person_table.c.id)
    )
    for family_id, *member in rows:
        members.setdefault(family_id, []).append(Member(*member))
    by_hromada: dict[str, list[_Family]] = {}
    rows = await session.execute(
        select(
            family_table.c.id,
            family_table.c.oblast_code,
            family_table.c.raion_code,
            family_table.c.hromada_code,
            family_table.c.categories,
            family_table.c.factors,
            family_table.c.consent_given_at,
        )
        .where(family_table.c.id.in_(list(members)))
        .order_by(family_table.c.id)
    )
    for row in rows.mappings():
        by_hromada.setdefault(row["hromada_code"], []).append(
            _Family(
                id=row["id"],
                address=_codes(dict(row)),
                categories=frozenset(row["categories"]),
                factors=frozenset(row["factors"]),
                members=tuple(members[row["id"]]),
                registered_on=row["consent_given_at"].date() if row["consent_given_at"] else None,
            )
        )
    return by_hromada


async def _communities(
    session: AsyncSession,
    today: date,
    stamp: Callable[[date], datetime],
    addresses: Mapping[str, dict[str, Any]],
) -> int:
    """The demo hromadas' records of the initiative, step by step as ``record_step`` makes
    them (a hromada with a record already keeps its own)."""
    taken = set(
        (
            await session.scalars(
                select(friendly_community_table.c.hromada_code).where(
                    friendly_community_table.c.hromada_code.in_(list(COMMUNITIES))
                )
            )
        ).all()
    )
    added = 0
    for hromada, (days_ago, steps) in COMMUNITIES.items():
        if hromada in taken:
            continue
        first = today - timedelta(days=days_ago)
        rows = []
        stage: Stage | None = None
        for version, (to, after, document) in enumerate(steps, start=1):
            assert may_go(stage, to), (stage, to)
            taken_on = first + timedelta(days=after)
            assert taken_on <= today
            rows.append(
                {
                    "hromada_code": hromada,
                    "version": version,
                    "stage": to.value,
                    "taken_on": taken_on,
                    "document_reference": document.format(day=taken_on.strftime("%d.%m.%Y")),
                    "note": _STEP_NOTES.get(to),
                    "recorded_by": OFFICES[hromada].officer,
                    "recorded_at": stamp(taken_on),
                }
            )
            stage = to
        assert stage is not None
        assert ORDER.index(stage) < ORDER.index(Stage.STATUS_AWARDED)
        address = addresses[hromada]
        await session.execute(
            insert(friendly_community_table).values(
                **_codes(address),
                stage=stage.value,
                stage_on=rows[-1]["taken_on"],
                created_by=DEMO_ACTOR,
                created_at=rows[0]["recorded_at"],
                updated_at=rows[-1]["recorded_at"],
                version=len(rows),
            )
        )
        await session.execute(insert(friendly_community_step_table), rows)
        added += 1
    return added
