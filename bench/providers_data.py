"""The register of providers of social services as COPY-ready rows, for ``bench/generate``.

Its size does not follow the number of families: the register is a country's, a few thousand
entries. Every hromada has its communal centre of social services (most of them; some rural
ones share a neighbour's), cities add a territorial centre of social care and civil-society
organisations, oblast centres and Kyiv many more, plus state institutions, individual
entrepreneurs and natural persons. Each entry went through the register's statuses as the
API moves it (pending, then mostly active, a few refused or excluded), with its
``provider_status_changes``; its offers are services of the seeded classifier. Identifiers are
valid (``stdnum`` EDRPOU check digits, ``identifiers.rnokpp_for``) and unique.

The register is made once, in the main process, and handed to every generating process: the
families there are linked to the active providers of their hromada.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from clock import during_work, uuid7
from households import KYIV, Hromada
from stdnum.ua import edrpou

from registry.demo.families import (
    FEMALE_NAMES,
    KYIV_STREETS,
    MALE_NAMES,
    STREETS,
    SURNAMES,
    feminine_surname,
    patronymic,
)
from registry.domain.providers.rules import (
    EARLIEST_STATUS_DATE,
    provider_name_key,
    validate_edrpou,
    validate_provider_rnokpp,
)
from registry.domain.providers.tables import PROVIDER_RNOKPP
from registry.domain.shared.identifiers import rnokpp_for
from registry.domain.shared.sealing import IdentifierKeys

CREATED_BY = "bench-generate"
MINISTRY = "bench-ministry-admin"  # who verified support criteria, changed statuses

#: The columns of ``Register.provider_rows``, which hold an individual's RNOKPP as it is:
#: ``sealed_provider_rows`` makes them what is stored (``PROVIDER_COLUMNS``).
_ROW_COLUMNS = (
    "id",
    "kind",
    "sector",
    "edrpou",
    "rnokpp",
    "full_name",
    "short_name",
    "name_key",
    "legal_form",
    "status",
    "status_reason",
    "included_on",
    "excluded_on",
    "phone",
    "email",
    "website",
    "oblast_code",
    "raion_code",
    "hromada_code",
    "settlement_code",
    "address_line",
    "hromadas_served",
    "support_criteria_met",
    "support_verified_by",
    "support_verified_at",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)
_RNOKPP_AT = _ROW_COLUMNS.index("rnokpp")
PROVIDER_COLUMNS = (
    *_ROW_COLUMNS[:_RNOKPP_AT],
    PROVIDER_RNOKPP.column,
    str(PROVIDER_RNOKPP.index_column),
    *_ROW_COLUMNS[_RNOKPP_AT + 1 :],
)


def sealed_provider_rows(
    rows: list[tuple[Any, ...]], keys: IdentifierKeys
) -> list[tuple[Any, ...]]:
    """The register's rows as the application stores them: an individual's RNOKPP sealed
    (bound to the provider) and its blind index."""
    sealed = []
    for row in rows:
        number = row[_RNOKPP_AT]
        stored = (
            (None, None)
            if number is None
            else (
                keys.seal(number, PROVIDER_RNOKPP.place, row[0]),
                keys.blind_index(PROVIDER_RNOKPP.name, number),
            )
        )
        sealed.append((*row[:_RNOKPP_AT], *stored, *row[_RNOKPP_AT + 1 :]))
    return sealed


OFFER_COLUMNS = (
    "provider_id",
    "service_code",
    "frequency",
    "places",
    "capacity",
    "tariff_amount",
    "tariff_unit",
    "urgent",
    "active",
)
STATUS_CHANGE_COLUMNS = (
    "provider_id",
    "version",
    "from_status",
    "to_status",
    "effective_on",
    "reason",
    "actor",
    "changed_at",
)

KYIV_DISTRICTS = (
    "Голосіївського",
    "Дарницького",
    "Деснянського",
    "Дніпровського",
    "Оболонського",
    "Печерського",
    "Подільського",
    "Святошинського",
    "Солом’янського",
    "Шевченківського",
)
NGO_NAMES = (
    "Надія",
    "Світанок",
    "Турбота",
    "Крок назустріч",
    "Відродження",
    "Добре серце",
    "Рука допомоги",
    "Разом",
    "Джерело",
    "Берегиня",
    "Промінь",
    "Оберіг",
    "Право на дитинство",
    "Сила громади",
    "Повернення додому",
    "Плече ветерана",
    "Мир у родині",
    "Нове життя",
    "Калина",
    "Паростки",
    "Родина поруч",
    "Острів надії",
    "Теплий дім",
    "Ветеранський простір",
    "Дитячі мрії",
    "Відкриті серця",
)
NGO_FORMS = (
    ("громадська організація", "Громадська організація", "ГО"),
    ("благодійний фонд", "Благодійний фонд", "БФ"),
    ("благодійна організація", "Благодійна організація", "БО"),
)
CRITERIA = (
    "accompaniment_experience",
    "in_register",
    "mobile_team",
    "no_sanctions",
    "psychologist",
    "trained_staff",
)
EXCLUSION_REASONS = (
    "припинення діяльності за рішенням засновників",
    "невідповідність критеріям діяльності надавачів соціальних послуг",
    "за заявою надавача",
)
REFUSAL_REASON = "подано неповний пакет документів"
_PHONE_CODES = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")


@dataclass(frozen=True, slots=True)
class Offer:
    code: str
    frequency: str
    places: tuple[str, ...]
    capacity: int | None = None
    tariff: tuple[Decimal, str] | None = None  # (amount, unit)
    urgent: bool = False


#: (code, frequency, places offered, urgent) a kind of provider may offer.
_CATALOGUE: dict[str, tuple[tuple[str, str, tuple[str, ...], bool], ...]] = {
    "centre": (  # the hromada's centre of social services
        ("001.0", "permanent", ("semi_residential", "online", "phone"), False),
        ("002.0", "periodic", ("home", "semi_residential", "online", "phone"), False),
        ("003.0", "one_off", ("semi_residential", "online"), False),
        ("004.0", "temporary", ("semi_residential",), False),
        ("010.2", "permanent", ("home",), False),
        ("012.0", "crisis", ("home", "street", "phone"), True),
        ("013.0", "temporary", ("semi_residential", "home"), False),
        ("015.1", "permanent", ("home",), False),
        ("021.0", "one_off", ("street",), False),
    ),
    "care": (  # territorial centre of social care
        ("015.1", "permanent", ("home",), False),
        ("015.3", "permanent", ("semi_residential",), False),
        ("015.2", "permanent", ("residential",), False),
        ("021.0", "one_off", ("street",), False),
    ),
    "state": (
        ("017.1", "permanent", ("semi_residential", "residential"), False),
        ("018.1", "temporary", ("residential",), False),
        ("015.2", "permanent", ("residential",), False),
        ("009.1", "permanent", ("residential",), False),
    ),
    "ngo": (
        ("002.0", "periodic", ("online", "phone", "semi_residential", "home"), False),
        ("012.0", "crisis", ("home", "street", "phone", "residential"), True),
        ("013.0", "temporary", ("semi_residential", "online"), False),
        ("003.0", "one_off", ("semi_residential", "online"), False),
        ("004.0", "temporary", ("semi_residential",), False),
        ("009.1", "permanent", ("residential",), False),
        ("017.3", "temporary", ("semi_residential", "residential"), False),
    ),
    "entrepreneur": (
        ("015.1", "periodic", ("home",), False),
        ("018.1", "periodic", ("home",), False),
    ),
    "person": (
        ("015.1", "periodic", ("home",), False),
        ("018.1", "periodic", ("home",), False),
    ),
}
#: Offers each kind picks from its catalogue (at least, at most); the first is always offered.
_OFFER_COUNTS = {
    "centre": (4, 7),
    "care": (2, 3),
    "state": (1, 3),
    "ngo": (1, 4),
    "entrepreneur": (1, 1),
    "person": (1, 1),
}
#: How much of a hromada's family links each kind of provider draws, relative.
LINK_WEIGHTS = {
    "centre": 10.0,
    "care": 6.0,
    "state": 1.0,
    "ngo": 2.0,
    "entrepreneur": 1.0,
    "person": 0.5,
}
_HOURLY = "година"


@dataclass(frozen=True, slots=True)
class Provider:
    """What the generating processes need of a provider to link families to it and write its
    service records."""

    id: uuid.UUID
    role: str  # a key of _CATALOGUE
    hromada_code: str
    status: str
    included_on: date | None
    offers: tuple[Offer, ...]
    staff: str  # the token subject its records are written by


class Register:
    """The whole register: rows for the three tables and, per hromada, its active providers
    with their link weights."""

    def __init__(
        self,
        *,
        hromadas: list[Hromada],
        weights: list[int],
        services: set[str],
        seed: int,
        today: date,
    ) -> None:
        self.rng = random.Random(seed * 1000 + 999)
        self.today = today
        self.services = services
        self.providers: list[Provider] = []
        self.provider_rows: list[tuple[Any, ...]] = []
        self.offer_rows: list[tuple[Any, ...]] = []
        self.status_rows: list[tuple[Any, ...]] = []
        self.edrpou_used: set[str] = set()
        self.people = itertools.count()
        self.numbers = itertools.count(1)
        kyiv = Hromada(KYIV, KYIV, None, name="Київ")
        for role, count in (
            ("centre", 1),
            ("centre", 10),
            ("care", 10),
            ("state", 3),
            ("ngo", 30),
            ("entrepreneur", 6),
            ("person", 3),
        ):
            for n in range(count):
                # The city's own centre and one district's centre make 11 "centres".
                district = KYIV_DISTRICTS[n % len(KYIV_DISTRICTS)] if count > 1 else None
                self._provider(role, kyiv, district=district)
        for hromada, weight in zip(hromadas, weights, strict=True):
            for role in self._roles(weight):
                self._provider(role, hromada)

    def active_in(self) -> dict[str, list[Provider]]:
        """The active providers of each hromada (the ones families are linked to)."""
        by_hromada: dict[str, list[Provider]] = {}
        for provider in self.providers:
            if provider.status == "active":
                by_hromada.setdefault(provider.hromada_code, []).append(provider)
        return by_hromada

    # --- one provider --------------------------------------------------------------------------

    def _roles(self, weight: int) -> list[str]:
        """Which providers a hromada has: an oblast's main city (weight 40) many, another city
        (4) a few, a rural hromada (1) its centre at most and now and then one more."""
        rng = self.rng
        if weight >= 40:
            return [
                "centre",
                "centre",
                "care",
                "care",
                "state",
                *["ngo"] * 8,
                "entrepreneur",
                "entrepreneur",
                "person",
            ]
        if weight >= 4:
            roles = ["centre", "care"]
            roles += [
                role
                for role, p in (("ngo", 0.6), ("ngo", 0.3), ("entrepreneur", 0.3), ("state", 0.1))
                if rng.random() < p
            ]
            return roles
        roles = ["centre"] if rng.random() < 0.9 else []
        roles += [role for role, p in (("ngo", 0.12), ("person", 0.08)) if rng.random() < p]
        return roles

    def _provider(self, role: str, hromada: Hromada, *, district: str | None = None) -> None:
        rng = self.rng
        number = next(self.numbers)
        kind, sector, full_name, short_name, legal_form = self._names(role, hromada, district)
        edrpou_code = rnokpp = None
        if kind == "organisation":
            edrpou_code = self._edrpou(sector)
        else:
            rnokpp = self._rnokpp()
        # Communal centres were registered when the register opened; others since.
        opened = EARLIEST_STATUS_DATE + timedelta(days=30)
        earliest = opened if role in ("centre", "care", "state") else opened + timedelta(days=200)
        applied_on = earliest + timedelta(
            days=rng.randrange(max(1, (self.today - earliest).days - 60))
        )
        history = self._history(role, applied_on)
        status, reason, included_on, excluded_on = "pending", None, None, None
        for to, effective_on, why in history:
            status, reason = to, why
            if to == "active":
                included_on = effective_on
            elif to == "excluded":
                excluded_on = effective_on
        created_at = during_work(applied_on, rng)
        changes = [("pending", applied_on, None), *history]
        moments = [created_at, *(during_work(day, rng) for _, day, _ in history)]
        provider_id = uuid7(created_at, rng)

        offers = self._offers(role)
        criteria: list[str] = []
        if role == "ngo" and status == "active" and rng.random() < 0.3:
            criteria = sorted(rng.sample(CRITERIA, rng.randint(4, len(CRITERIA))))
        settlement = hromada.cities[0] if hromada.cities else None
        streets = KYIV_STREETS if hromada.is_kyiv else STREETS
        self.provider_rows.append(
            (
                provider_id,
                kind,
                sector,
                edrpou_code,
                rnokpp,
                full_name,
                short_name,
                provider_name_key(full_name, short_name),
                legal_form,
                status,
                reason,
                included_on,
                excluded_on,
                f"+380{rng.choice(_PHONE_CODES)}{rng.randrange(10**7):07d}"
                if rng.random() < 0.9
                else None,
                f"office{number}@social-services.org.ua" if rng.random() < 0.7 else None,
                f"https://provider{number}.org.ua"
                if role == "ngo" and rng.random() < 0.4
                else None,
                hromada.oblast_code,
                hromada.raion_code,
                hromada.code,
                settlement,
                f"{rng.choice(streets)}, {rng.randint(1, 150)}",
                [hromada.code],
                criteria,
                MINISTRY if criteria else None,
                moments[-1] if criteria else None,
                CREATED_BY,
                created_at,
                moments[-1],
                len(changes),
            )
        )
        self.offer_rows.extend(
            (
                provider_id,
                offer.code,
                offer.frequency,
                list(offer.places),
                offer.capacity,
                offer.tariff[0] if offer.tariff else None,
                offer.tariff[1] if offer.tariff else None,
                offer.urgent,
                True,
            )
            for offer in offers
        )
        self.status_rows.extend(
            (
                provider_id,
                version,
                changes[version - 2][0] if version > 1 else None,
                to,
                effective_on,
                why,
                CREATED_BY if version == 1 else MINISTRY,
                moment,
            )
            for version, ((to, effective_on, why), moment) in enumerate(
                zip(changes, moments, strict=True), start=1
            )
        )
        self.providers.append(
            Provider(
                provider_id,
                role,
                hromada.code,
                status,
                included_on,
                offers,
                f"bench-staff-{number}",
            )
        )

    def _history(self, role: str, applied_on: date) -> list[tuple[str, date, str | None]]:
        """Status changes after the application: most are included within weeks; recent
        applications wait; a few are refused or, later, excluded. Communal centres stay."""
        rng = self.rng
        included_on = applied_on + timedelta(days=rng.randint(7, 40))
        if role != "centre" and (included_on > self.today or rng.random() < 0.03):
            return []  # still pending
        if included_on > self.today:
            included_on = self.today
        if role != "centre" and rng.random() < 0.01:
            return [("excluded", included_on, REFUSAL_REASON)]
        history: list[tuple[str, date, str | None]] = [("active", included_on, None)]
        if role != "centre" and rng.random() < 0.03 and (self.today - included_on).days > 60:
            excluded_on = included_on + timedelta(
                days=rng.randint(30, (self.today - included_on).days)
            )
            history.append(("excluded", excluded_on, rng.choice(EXCLUSION_REASONS)))
        return history

    def _offers(self, role: str) -> tuple[Offer, ...]:
        rng = self.rng
        catalogue = [item for item in _CATALOGUE[role] if item[0] in self.services]
        if not catalogue:
            return ()
        least, most = _OFFER_COUNTS[role]
        chosen = [
            catalogue[0],
            *rng.sample(catalogue[1:], min(len(catalogue) - 1, rng.randint(least, most) - 1)),
        ]
        offers = []
        for code, frequency, places, urgent in sorted(chosen):
            kept = tuple(sorted(p for p in places if p == places[0] or rng.random() < 0.6))
            individual = role in ("entrepreneur", "person")
            capacity = (
                rng.randint(1, 3)
                if role == "person"
                else rng.randint(3, 12)
                if individual
                else rng.choice((None, rng.randint(10, 400)))
            )
            tariff = (
                (Decimal(rng.choice((120, 150, 180, 200, 250))).quantize(Decimal("1.00")), _HOURLY)
                if individual
                else None
            )
            offers.append(Offer(code, frequency, kept, capacity, tariff, urgent))
        return tuple(offers)

    def _names(
        self, role: str, hromada: Hromada, district: str | None
    ) -> tuple[str, str, str, str | None, str | None]:
        """(kind, sector, full name, short name, legal form)."""
        rng = self.rng
        place = _genitive(hromada.name)
        match role:
            case "centre" if hromada.is_kyiv and district:
                return (
                    "organisation",
                    "communal",
                    f"Центр соціальних служб {district} району міста Києва",
                    f"ЦСС {district} району",
                    "комунальна установа",
                )
            case "centre" if hromada.is_kyiv:
                return (
                    "organisation",
                    "communal",
                    "Київський міський центр соціальних служб",
                    "КМЦСС",
                    "комунальна установа",
                )
            case "centre":
                return (
                    "organisation",
                    "communal",
                    f"Центр надання соціальних послуг {place} територіальної громади",
                    f"ЦНСП {place} громади",
                    "комунальна установа",
                )
            case "care" if hromada.is_kyiv and district:
                return (
                    "organisation",
                    "communal",
                    f"Територіальний центр соціального обслуговування {district} району "
                    "міста Києва",
                    f"Терцентр {district} району",
                    "комунальна установа",
                )
            case "care":
                return (
                    "organisation",
                    "communal",
                    f"Територіальний центр соціального обслуговування (надання соціальних "
                    f"послуг) {place} громади",
                    f"Терцентр {place} громади",
                    "комунальна установа",
                )
            case "state":
                what = rng.choice(
                    (
                        "Центр соціальної реабілітації дітей з інвалідністю",
                        "Геріатричний пансіонат",
                        "Центр комплексної реабілітації",
                    )
                )
                return (
                    "organisation",
                    "state",
                    f"Державна установа «{what}»",
                    f"ДУ «{what}»",
                    "державна установа",
                )
            case "ngo":
                legal_form, title, prefix = rng.choice(NGO_FORMS)
                name = rng.choice(NGO_NAMES)
                return (
                    "organisation",
                    "non_state",
                    f"{title} «{name}»",
                    f"{prefix} «{name}»",
                    legal_form,
                )
            case "entrepreneur":
                person = self._person_name()
                return (
                    "individual_entrepreneur",
                    "non_state",
                    f"Фізична особа – підприємець {person}",
                    f"ФОП {person}",
                    "фізична особа – підприємець",
                )
            case _:
                return ("natural_person", "non_state", self._person_name(), None, None)

    def _person_name(self) -> str:
        rng = self.rng
        surname = rng.choice(SURNAMES)
        father = rng.choice(MALE_NAMES)[0]
        if rng.random() < 0.7:
            return (
                f"{feminine_surname(surname)} {rng.choice(FEMALE_NAMES)[0]} "
                f"{patronymic(father, 'female')}"
            )
        return f"{surname} {rng.choice(MALE_NAMES)[0]} {patronymic(father, 'male')}"

    def _edrpou(self, sector: str) -> str:
        """A fresh valid EDRPOU: older (lower) numbers for state and communal bodies."""
        rng = self.rng
        low, high = (2_000_000, 3_999_999) if sector != "non_state" else (4_000_000, 4_599_999)
        while True:
            base = f"{rng.randint(low, high):07d}"
            code = base + edrpou.calc_check_digit(base)
            if code not in self.edrpou_used:
                self.edrpou_used.add(code)
                return validate_edrpou(code)  # the app's own check, so a bad one fails loudly

    def _rnokpp(self) -> str:
        """A valid RNOKPP, unique among providers: one serial per individual provider."""
        born = date(1960, 1, 1) + timedelta(days=self.rng.randrange(365 * 40))
        sex = self.rng.choice(("male", "female"))
        return validate_provider_rnokpp(rnokpp_for(born, sex, next(self.people)))


def _genitive(hromada_name: str) -> str:
    """ "Бучанська" → "Бучанської" (hromada names are feminine adjectives)."""
    if hromada_name.endswith("ька"):
        return hromada_name[:-1] + "ої"
    return hromada_name


def provider_weights(providers: list[Provider]) -> list[float]:
    return list(itertools.accumulate(LINK_WEIGHTS[p.role] for p in providers))
