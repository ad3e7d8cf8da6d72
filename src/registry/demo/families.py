"""Demo families: a few thousand made-up but plausible Ukrainian households, so a newcomer can
try search and the confined reads at once (``registry seed --demo``, ``registry serve --demo``).

Everything comes from one seeded ``random.Random``: on an empty database the same seed and
day give the same families. The seed only inserts (the caller commits) and runs once per
database: families marked ``created_by = 'demo-seed'`` mean it has run.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.domain.families.commands import index_name_words
from registry.domain.families.tables import (
    PERSON_IDENTIFIERS,
    family_table,
    hardship_factor_table,
    person_table,
    recipient_category_table,
)
from registry.domain.shared.identifiers import rnokpp_for, unzr_for
from registry.domain.shared.names import clean_name_part, latin_key, name_key
from registry.domain.shared.sealing import IdentifierKeys
from registry.domain.territories.tables import territory_table

#: ``families.created_by`` of demo families; also how a second run knows it has nothing to do.
DEMO_ACTOR = "demo-seed"
KYIV = "UA80000000000093317"
KYIV_SHARE = 0.3
_CHUNK = 1000
#: Two seeds started together (e.g. by two workers) must not both insert.
_LOCK_KEY = "registry.demo-seed"


# --- names -------------------------------------------------------------------------------------

#: Surnames in the masculine form; :func:`feminine_surname` gives the feminine one.
SURNAMES = (
    "Шевченко",
    "Коваленко",
    "Бондаренко",
    "Ткаченко",
    "Кравченко",
    "Олійник",
    "Шевчук",
    "Коваль",
    "Поліщук",
    "Бондар",
    "Ткачук",
    "Мельник",
    "Марченко",
    "Руденко",
    "Савченко",
    "Петренко",
    "Клименко",
    "Павленко",
    "Кравчук",
    "Кузьменко",
    "Мороз",
    "Лисенко",
    "Гуменюк",
    "Романюк",
    "Савчук",
    "Мельничук",
    "Ковальчук",
    "Левченко",
    "Карпенко",
    "Литвиненко",
    "Юрченко",
    "Гаврилюк",
    "Остапчук",
    "Микитюк",
    "Дячук",
    "Ярошенко",
    "Гончаренко",
    "Федоренко",
    "Назаренко",
    "Шаповал",
    "Пономаренко",
    "Білоус",
    "Сидоренко",
    "Демченко",
    "Тимошенко",
    "Приходько",
    "Костенко",
    "Волошин",
    "Головко",
    "Гнатюк",
    "Кушнір",
    "Ковальський",
    "Вишневський",
    "Савицький",
    "Заболотний",
    "Білий",
    "Чорний",
    "Яворський",
    "Стельмах",
    "Бойко",
    "Кучер",
    "Захарчук",
    "Гордієнко",
    "Мазур",
    "Гребенюк",
    "Паламарчук",
    "Климчук",
    "Дорошенко",
    "Сорока",
    "Вовк",
    "Зайченко",
    "Нестеренко",
    "Прокоп'юк",
    "Дем'яненко",
    "Лук'яненко",
    "Мар'янчук",
    "Григор'єв",
    "Ільїн",
    "Кириленко",
    "Гайдамака",
    "Самойленко",
    "Яковенко",
    "Максименко",
    "Грицай",
    "Семенюк",
    "Коцюбинський",
    "Тарасюк",
    "Хоменко",
    "Сидорук",
    "Задорожний",
    "Кулик",
    "Іваненко",
    "Осадчий",
    "Рибак",
    "Ющенко",
    "Вакуленко",
    "Гуцал",
    "Дмитрук",
    "Франчук",
    "Кравець",
    "Пасічник",
    "Стасюк",
)

# First names with the generations that use them: o(ld) born before 1965, m(iddle)
# 1965–1994, y(oung) from 1995.
MALE_NAMES = (
    ("Олександр", "omy"),
    ("Андрій", "omy"),
    ("Іван", "omy"),
    ("Петро", "om"),
    ("Сергій", "om"),
    ("Олексій", "omy"),
    ("Микола", "om"),
    ("Ілля", "my"),
    ("Григорій", "o"),
    ("Яків", "o"),
    ("Лука", "y"),
    ("Юрій", "om"),
    ("Володимир", "om"),
    ("Василь", "om"),
    ("Дмитро", "my"),
    ("Михайло", "omy"),
    ("Богдан", "my"),
    ("Тарас", "my"),
    ("Остап", "my"),
    ("Ярослав", "my"),
    ("Віктор", "om"),
    ("Олег", "m"),
    ("Ігор", "m"),
    ("Роман", "my"),
    ("Максим", "my"),
    ("Артем", "my"),
    ("Денис", "m"),
    ("Павло", "omy"),
    ("Степан", "oy"),
    ("Віталій", "m"),
    ("Анатолій", "o"),
    ("Євген", "om"),
    ("Валерій", "om"),
    ("Геннадій", "o"),
    ("Руслан", "m"),
    ("Назар", "y"),
    ("Матвій", "y"),
    ("Данило", "y"),
    ("Кирило", "y"),
    ("Захар", "y"),
    ("Тимофій", "y"),
    ("Орест", "m"),
    ("Святослав", "my"),
    ("Федір", "o"),
    ("Костянтин", "om"),
    ("Леонід", "o"),
    ("Борис", "o"),
    ("Антон", "my"),
    ("Арсеній", "y"),
    ("Дем'ян", "y"),
    ("Марко", "y"),
    ("Давид", "y"),
    ("Устим", "y"),
    ("Олесь", "m"),
    ("Мирослав", "om"),
    ("Зеновій", "o"),
    ("Лев", "y"),
)
FEMALE_NAMES = (
    ("Олена", "om"),
    ("Наталія", "om"),
    ("Тетяна", "om"),
    ("Ірина", "m"),
    ("Світлана", "om"),
    ("Оксана", "m"),
    ("Марія", "omy"),
    ("Ганна", "oy"),
    ("Людмила", "o"),
    ("Галина", "o"),
    ("Юлія", "my"),
    ("Катерина", "my"),
    ("Ольга", "om"),
    ("Віра", "o"),
    ("Надія", "o"),
    ("Любов", "o"),
    ("Валентина", "o"),
    ("Лариса", "om"),
    ("Алла", "m"),
    ("Інна", "m"),
    ("Вікторія", "my"),
    ("Анастасія", "my"),
    ("Дарина", "y"),
    ("Софія", "y"),
    ("Соломія", "y"),
    ("Мар'яна", "my"),
    ("Євгенія", "om"),
    ("Христина", "my"),
    ("Зоряна", "my"),
    ("Богдана", "y"),
    ("Ярослава", "my"),
    ("Мирослава", "y"),
    ("Уляна", "my"),
    ("Оляна", "m"),
    ("Леся", "m"),
    ("Лілія", "m"),
    ("Антоніна", "o"),
    ("Зінаїда", "o"),
    ("Ніна", "o"),
    ("Раїса", "o"),
    ("Тамара", "o"),
    ("Олександра", "my"),
    ("Аліна", "my"),
    ("Діана", "y"),
    ("Ангеліна", "y"),
    ("Поліна", "y"),
    ("Вероніка", "y"),
    ("Злата", "y"),
    ("Емілія", "y"),
    ("Василина", "y"),
    ("Єлизавета", "y"),
    ("Стефанія", "y"),
    ("Орися", "m"),
    ("Ангела", "m"),
)

#: Patronymics the regular endings do not give: (masculine, feminine).
IRREGULAR_PATRONYMICS = {
    "Ілля": ("Ілліч", "Іллівна"),
    "Лука": ("Лукич", "Луківна"),
    "Микола": ("Миколайович", "Миколаївна"),
    "Григорій": ("Григорович", "Григорівна"),
    "Яків": ("Якович", "Яківна"),
    "Федір": ("Федорович", "Федорівна"),
    "Лев": ("Львович", "Львівна"),
    "Сава": ("Савич", "Савівна"),
    "Кузьма": ("Кузьмич", "Кузьмівна"),
    "Хома": ("Хомич", "Хомівна"),
}


def patronymic(father: str, sex: str) -> str:
    """The patronymic made from the father's first name: Петро → Петрович / Петрівна,
    Сергій → Сергійович / Сергіївна, Василь → Васильович / Василівна."""
    if father in IRREGULAR_PATRONYMICS:
        masculine, feminine = IRREGULAR_PATRONYMICS[father]
    elif father.endswith("ій"):
        masculine, feminine = father + "ович", father[:-1] + "ївна"
    elif father.endswith("ь"):
        masculine, feminine = father + "ович", father[:-1] + "івна"
    elif father.endswith("о"):
        masculine, feminine = father[:-1] + "ович", father[:-1] + "івна"
    elif father[-1] in "аяйеиіїоуюєʼ":
        raise ValueError("no rule for this name; add it to IRREGULAR_PATRONYMICS")
    else:
        masculine, feminine = father + "ович", father + "івна"
    return masculine if sex == "male" else feminine


def feminine_surname(surname: str) -> str:
    """Adjectival surnames and those in -ов/-ев/-єв/-ин/-їн agree in sex (Ковальський →
    Ковальська, Білий → Біла, Григорʼєв → Григорʼєва); -енко, -ук, -ів and the rest do not."""
    if surname.endswith("ий"):
        return surname[:-2] + "а"
    if surname.endswith(("ов", "ев", "єв", "ин", "їн")):
        return surname + "а"
    return surname


def _surname(masculine: str, sex: str) -> str:
    return masculine if sex == "male" else feminine_surname(masculine)


# --- places and contacts -------------------------------------------------------------------------

#: The biggest city of each oblast the seed uses (its centre, or the acting one), by the
#: oblast's 2-digit KATOTTG prefix: their hromadas get many more families.
REGIONAL_CITIES = {
    "05": "Вінниця",
    "07": "Луцьк",
    "12": "Дніпро",
    "14": "Краматорськ",
    "18": "Житомир",
    "21": "Ужгород",
    "23": "Запоріжжя",
    "26": "Івано-Франківськ",
    "32": "Біла Церква",
    "35": "Кропивницький",
    "46": "Львів",
    "48": "Миколаїв",
    "51": "Одеса",
    "53": "Полтава",
    "56": "Рівне",
    "59": "Суми",
    "61": "Тернопіль",
    "63": "Харків",
    "65": "Херсон",
    "68": "Хмельницький",
    "71": "Черкаси",
    "73": "Чернівці",
    "74": "Чернігів",
}
#: Crimea and Luhansk oblast: occupied, so no family registered there.
_SKIPPED_OBLASTS = ("01", "44")
_WEIGHT_REGIONAL_CITY, _WEIGHT_CITY, _WEIGHT_OTHER = 40, 4, 1

STREETS = (
    "вул. Шевченка",
    "вул. Івана Франка",
    "вул. Лесі Українки",
    "вул. Грушевського",
    "вул. Соборна",
    "вул. Незалежності",
    "вул. Миру",
    "вул. Садова",
    "вул. Центральна",
    "вул. Зелена",
    "вул. Шкільна",
    "вул. Польова",
    "вул. Калинова",
    "вул. Вишнева",
    "вул. Героїв Майдану",
    "вул. Богдана Хмельницького",
    "вул. Котляревського",
    "вул. Григорія Сковороди",
    "вул. Січових Стрільців",
    "вул. Михайла Коцюбинського",
    "просп. Свободи",
    "пров. Тихий",
    "вул. Молодіжна",
    "вул. Лугова",
    "вул. Обʼїзна",
)
KYIV_STREETS = (
    "вул. Хрещатик",
    "вул. Велика Васильківська",
    "просп. Берестейський",
    "просп. Миколи Бажана",
    "вул. Драгоманова",
    "просп. Оболонський",
    "вул. Антоновича",
    "вул. Січових Стрільців",
    "просп. Голосіївський",
    "вул. Лукʼянівська",
    "бульв. Лесі Українки",
    "вул. Мирослава Поповича",
    "просп. Академіка Глушкова",
    "вул. Електриків",
    "вул. Райдужна",
)
_MOBILE_CODES = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")
_CONSENT_SCOPE = ["registry", "social_accompaniment"]
_CONSENT_GIVEN_BY = "голова сімʼї"


@dataclass(frozen=True)
class _Hromada:
    code: str
    oblast_code: str
    raion_code: str | None
    #: Cities of the hromada, the regional city (if any) first; its other settlements.
    cities: tuple[str, ...] = ()
    others: tuple[str, ...] = ()

    @property
    def is_kyiv(self) -> bool:
        return self.code == KYIV


@dataclass
class _Member:
    sex: str
    first_name: str
    last_name: str
    patronymic: str
    birth_date: date
    relation: str
    disability_group: str | None = None
    is_servicemember: bool = False

    @property
    def adult(self) -> bool:
        return self.relation != "child"


@dataclass
class _Household:
    kind: str
    members: list[_Member] = field(default_factory=list)

    @property
    def children(self) -> list[_Member]:
        return [m for m in self.members if m.relation == "child"]


async def seed_demo_families(
    session: AsyncSession,
    keys: IdentifierKeys,
    *,
    families: int = 3000,
    seed: int = 20261123,
    today: date | None = None,
) -> int:
    """Insert ``families`` demo families with their members; return how many were inserted
    (0 when demo families are already there), their identifiers sealed with ``keys``. Only
    executes and flushes."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(_LOCK_KEY))))
    if await session.scalar(select(exists().where(family_table.c.created_by == DEMO_ACTOR))):
        return 0
    generator = _Generator(
        random.Random(seed),  # noqa: S311  (repeatable made-up data, not secrets)
        today or datetime.now(UTC).date(),
        hromadas=await _hromadas(session),
        categories=set(
            (
                await session.scalars(
                    select(recipient_category_table.c.code).where(recipient_category_table.c.active)
                )
            ).all()
        ),
        factors=set(
            (
                await session.scalars(
                    select(hardship_factor_table.c.code).where(hardship_factor_table.c.active)
                )
            ).all()
        ),
        keys=keys,
        # The blind indexes of current members' numbers (an RNOKPP's and a UNZR's never
        # coincide), which the made-up numbers must not repeat.
        taken=set(
            (
                await session.scalars(
                    select(person_table.c.rnokpp_index)
                    .where(
                        person_table.c.status == "active",
                        person_table.c.rnokpp_index.is_not(None),
                    )
                    .union_all(
                        select(person_table.c.unzr_index).where(
                            person_table.c.status == "active",
                            person_table.c.unzr_index.is_not(None),
                        )
                    )
                )
            ).all()
        ),
    )
    family_rows: list[dict[str, Any]] = []
    person_rows: list[dict[str, Any]] = []
    for _ in range(families):
        family, persons = generator.family()
        family_rows.append(family)
        person_rows.extend(_sealed(keys, person) for person in persons)
    for table, rows in ((family_table, family_rows), (person_table, person_rows)):
        for start in range(0, len(rows), _CHUNK):
            # Core executemany: compiled once, sent as multi-row INSERTs ("insertmanyvalues");
            # compiling a 1000-row VALUES clause per chunk took most of the run.
            await session.execute(insert(table), rows[start : start + _CHUNK])
    # Rows written past the families' commands: their name words go into the search's
    # dictionary here, as the commands would add them, or no demo person could be found.
    await index_name_words(session, [str(row["name_key"]) for row in person_rows])
    await session.flush()
    return families


def _sealed(keys: IdentifierKeys, person: dict[str, Any]) -> dict[str, Any]:
    """A person row as stored: its identifiers sealed, with their blind indexes."""
    row = {k: v for k, v in person.items() if k not in {i.name for i in PERSON_IDENTIFIERS}}
    for identifier in PERSON_IDENTIFIERS:
        row.update(identifier.stored(keys, person[identifier.name], person["id"]))
    return row


async def _hromadas(session: AsyncSession) -> list[tuple[_Hromada, int]]:
    """Kyiv first, then every hromada outside the skipped oblasts, with its weight."""
    hromada_unit = territory_table.alias("hromada")
    raion_unit = territory_table.alias("raion")
    settlement_unit = territory_table.alias("settlement")
    rows = (
        await session.execute(
            select(
                hromada_unit.c.code,
                hromada_unit.c.parent_code.label("raion_code"),
                raion_unit.c.parent_code.label("oblast_code"),
                settlement_unit.c.code.label("settlement_code"),
                settlement_unit.c.category.label("settlement_category"),
                settlement_unit.c.name.label("settlement_name"),
            )
            .join(raion_unit, raion_unit.c.code == hromada_unit.c.parent_code)
            .outerjoin(settlement_unit, settlement_unit.c.parent_code == hromada_unit.c.code)
            .where(hromada_unit.c.category == "H")
            .order_by(
                hromada_unit.c.code, settlement_unit.c.category != "M", settlement_unit.c.code
            )
        )
    ).all()
    settlements: dict[str, tuple[str, str, list[str], list[str]]] = {}
    regional: set[str] = set()
    for row in rows:
        if row.code[2:4] in _SKIPPED_OBLASTS:
            continue
        _, _, cities, others = settlements.setdefault(
            row.code, (row.oblast_code, row.raion_code, [], [])
        )
        if row.settlement_code is None:
            continue
        if row.settlement_category == "M":
            if REGIONAL_CITIES.get(row.code[2:4]) == row.settlement_name:
                regional.add(row.code)
                cities.insert(0, row.settlement_code)
            else:
                cities.append(row.settlement_code)
        else:
            others.append(row.settlement_code)
    weighted = []
    for code, (oblast, raion, cities, others) in settlements.items():
        weight = (
            _WEIGHT_REGIONAL_CITY if code in regional else _WEIGHT_CITY if cities else _WEIGHT_OTHER
        )
        weighted.append((_Hromada(code, oblast, raion, tuple(cities), tuple(others)), weight))
    if not weighted:
        raise LookupError("no hromadas: import the KATOTTG codifier first (registry migrate)")
    return weighted


class _Generator:
    def __init__(
        self,
        rng: random.Random,
        today: date,
        *,
        hromadas: list[tuple[_Hromada, int]],
        categories: set[str],
        factors: set[str],
        keys: IdentifierKeys,
        taken: set[bytes],
    ) -> None:
        self.rng = rng
        self.today = today
        self.kyiv = _Hromada(KYIV, KYIV, None)
        self.hromadas = [h for h, _ in hromadas]
        self.cumulative_weights = list(itertools.accumulate(weight for _, weight in hromadas))
        self.categories = categories
        self.factors = factors
        self.keys = keys
        self.taken = taken
        self.male = [clean_name_part(name) for name, _ in MALE_NAMES]
        self.female = [clean_name_part(name) for name, _ in FEMALE_NAMES]
        self.surnames = [clean_name_part(name) for name in SURNAMES]
        self.names_by_generation = {
            (sex, generation): [clean_name_part(name) for name, used in names if generation in used]
            for sex, names in (("male", MALE_NAMES), ("female", FEMALE_NAMES))
            for generation in "omy"
        }

    # --- one family --------------------------------------------------------------------------

    def family(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rng = self.rng
        hromada = (
            self.kyiv
            if rng.random() < KYIV_SHARE
            else rng.choices(self.hromadas, cum_weights=self.cumulative_weights)[0]
        )
        household = self._household()
        idp = rng.random() < (0.3 if household.kind != "elderly" else 0.15)
        categories, factors = self._circumstances(household, idp)
        family_id = self._uuid()
        settlement = self._settlement(hromada)
        consent = rng.random() < 0.85
        given_at = datetime.combine(
            self.today - timedelta(days=rng.randint(1, 900)),
            time(rng.randint(6, 15), rng.randrange(60)),
            tzinfo=UTC,
        )
        family = {
            "id": family_id,
            "oblast_code": hromada.oblast_code,
            "raion_code": hromada.raion_code,
            "hromada_code": hromada.code,
            "settlement_code": settlement,
            "address_line": self._address(hromada, settlement),
            "phone": self._phone() if rng.random() < 0.85 else None,
            "categories": sorted(categories),
            "factors": sorted(factors),
            "consent_given_at": given_at if consent else None,
            "consent_given_by": _CONSENT_GIVEN_BY if consent else None,
            "consent_scope": _CONSENT_SCOPE if consent else None,
            "created_by": DEMO_ACTOR,
        }
        persons = [
            self._person_row(member, family_id, hromada.oblast_code, idp)
            for member in household.members
        ]
        return family, persons

    def _household(self) -> _Household:
        kinds: Sequence[tuple[str, Callable[[_Household], object]]] = (
            ("couple_with_children", self._couple_with_children),
            ("single_mother", self._single_parent),
            ("single_father", self._single_parent),
            ("couple", self._couple),
            ("single", self._single),
            ("elderly", self._elderly),
            ("three_generations", self._three_generations),
            ("grandparent_guardian", self._grandparent_guardian),
        )
        kind, build = self.rng.choices(kinds, weights=(40, 14, 3, 9, 10, 12, 8, 4))[0]
        household = _Household(kind)
        build(household)
        return household

    def _couple_with_children(self, household: _Household) -> None:
        husband, wife = self._couple(household, ages=(22, 55))
        self._children(
            household, husband.first_name, husband.last_name, wife.birth_date, most=4, least=1
        )

    def _couple(
        self, household: _Household, ages: tuple[int, int] = (20, 70)
    ) -> tuple[_Member, _Member]:
        rng = self.rng
        surname = rng.choice(self.surnames)
        husband_age = rng.randint(*ages)
        wife_age = max(ages[0], min(ages[1], husband_age + rng.randint(-7, 3)))
        husband = self._adult("male", husband_age, surname)
        wife_surname = surname if rng.random() < 0.9 else rng.choice(self.surnames)
        wife = self._adult("female", wife_age, wife_surname)
        head, spouse = (husband, wife) if rng.random() < 0.6 else (wife, husband)
        head.relation, spouse.relation = "head", "spouse"
        household.members += [head, spouse]
        return husband, wife

    def _single_parent(self, household: _Household) -> None:
        sex = "male" if household.kind == "single_father" else "female"
        parent = self._adult(sex, self.rng.randint(20, 55), self.rng.choice(self.surnames))
        parent.relation = "head"
        household.members.append(parent)
        father = parent.first_name if sex == "male" else self.rng.choice(self.male)
        self._children(
            household, father, self._masculine(parent), parent.birth_date, most=3, least=1
        )

    def _single(self, household: _Household) -> None:
        sex = self.rng.choice(("male", "female"))
        person = self._adult(sex, self.rng.randint(20, 70), self.rng.choice(self.surnames))
        person.relation = "head"
        household.members.append(person)

    def _elderly(self, household: _Household) -> None:
        if self.rng.random() < 0.45:
            self._couple(household, ages=(63, 88))
            return
        sex = "female" if self.rng.random() < 0.75 else "male"
        person = self._adult(sex, self.rng.randint(65, 90), self.rng.choice(self.surnames))
        person.relation = "head"
        household.members.append(person)

    def _three_generations(self, household: _Household) -> None:
        """A couple, their children and one or both of the husband's parents."""
        rng = self.rng
        husband, wife = self._couple(household, ages=(24, 48))
        husband_age = self._age(husband.birth_date)
        grandfather = None
        if rng.random() < 0.5:
            grandfather = self._adult("male", husband_age + rng.randint(20, 34), husband.last_name)
            grandfather.relation = "other"
            household.members.append(grandfather)
            husband.patronymic = patronymic(grandfather.first_name, "male")
        if grandfather is None or rng.random() < 0.6:
            grandmother = self._adult(
                "female", husband_age + rng.randint(19, 32), husband.last_name
            )
            grandmother.relation = "other"
            household.members.append(grandmother)
        self._children(
            household,
            husband.first_name,
            husband.last_name,
            wife.birth_date,
            most=6 - len(household.members),
        )

    def _grandparent_guardian(self, household: _Household) -> None:
        sex = "female" if self.rng.random() < 0.85 else "male"
        guardian = self._adult(sex, self.rng.randint(50, 75), self.rng.choice(self.surnames))
        guardian.relation = "head"
        household.members.append(guardian)
        mother_born = guardian.birth_date + timedelta(days=365 * self.rng.randint(20, 28))
        self._children(
            household,
            self.rng.choice(self.male),
            self._masculine(guardian),
            mother_born,
            most=3,
            least=1,
        )

    def _children(
        self,
        household: _Household,
        father: str,
        surname: str,
        mother_born: date,
        *,
        most: int,
        least: int = 0,
    ) -> None:
        """Up to ``most`` children (0–17 years), born when the mother was 18–42."""
        rng = self.rng
        mother_age = self._age(mother_born)
        oldest, youngest = min(17, mother_age - 18), max(0, mother_age - 42)
        if most <= 0 or oldest < youngest:
            return
        count = min(most, rng.choices((0, 1, 2, 3, 4, 5), weights=(8, 38, 34, 13, 5, 2))[0])
        for _ in range(max(least, count)):
            sex = rng.choice(("male", "female"))
            age = rng.randint(youngest, oldest)
            born = self._born(age)
            child = _Member(
                sex,
                self._first_name(sex, born),
                _surname(surname, sex),
                patronymic(father, sex),
                born,
                "child",
            )
            household.members.append(child)

    def _adult(self, sex: str, age: int, surname: str) -> _Member:
        born = self._born(age)
        return _Member(
            sex,
            self._first_name(sex, born),
            _surname(surname, sex),
            patronymic(self.rng.choice(self.male), sex),
            born,
            "other",
        )

    def _first_name(self, sex: str, born: date) -> str:
        generation = "o" if born.year < 1965 else "m" if born.year < 1995 else "y"
        return self.rng.choice(self.names_by_generation[sex, generation])

    def _masculine(self, member: _Member) -> str:
        """The masculine form of the member's surname (surnames are drawn masculine)."""
        if member.sex == "male":
            return member.last_name
        return next(
            (s for s in self.surnames if feminine_surname(s) == member.last_name), member.last_name
        )

    def _born(self, age: int) -> date:
        """A birth date at which someone is ``age`` years old today."""
        days = self.rng.randint(int(age * 365.25) + 1, int((age + 1) * 365.25) - 1)
        return self.today - timedelta(days=days)

    def _age(self, born: date) -> int:
        return (
            self.today.year
            - born.year
            - ((self.today.month, self.today.day) < (born.month, born.day))
        )

    # --- what the family needs ---------------------------------------------------------------

    def _circumstances(self, household: _Household, idp: bool) -> tuple[list[str], list[str]]:
        """Recipient categories and hardship factors (at most 3 of each), and the member
        details they imply (a child's disability, a servicemember)."""
        rng = self.rng
        children = household.children
        adults = [m for m in household.members if m.adult]
        men = [m for m in adults if m.sex == "male" and self._age(m.birth_date) <= 60]
        categories: list[str] = []
        factors: list[str] = []
        if len(children) >= 3:
            categories.append("large_family")
        if household.kind in ("single_mother", "single_father"):
            categories.append("single_parent")
        if household.kind == "grandparent_guardian":
            categories.append("guardianship")
        if idp:
            categories.append("idp")
            factors += [
                f
                for f, p in (("hostilities_harm", 0.75), ("unemployment", 0.3))
                if rng.random() < p
            ]
        if children and rng.random() < 0.06:
            rng.choice(children).disability_group = "child"
            categories.append("child_with_disability")
        if men and household.kind in ("couple_with_children", "couple", "three_generations"):
            draw = rng.random()
            if draw < 0.12:
                rng.choice(men).is_servicemember = True
                categories.append("servicemember_family")
            elif draw < 0.14:
                rng.choice(men).is_servicemember = True
                categories.append(
                    rng.choice(("missing_servicemember_family", "captured_servicemember_family"))
                )
            elif draw < 0.18:
                categories.append("veteran_family")
        if household.kind == "single_mother" and rng.random() < 0.06:
            categories.append("fallen_servicemember_family")
        if household.kind == "couple_with_children" and rng.random() < 0.01:
            categories.append("foster_family")
        if rng.random() < (0.35 if household.kind in ("single_mother", "elderly") else 0.12):
            categories.append("low_income")
            factors.append("low_income")

        if household.kind == "elderly":
            factors += [
                f
                for f, p in (
                    ("old_age", 0.8),
                    ("mobility_loss", 0.3),
                    ("long_term_illness", 0.3),
                    ("memory_loss", 0.1),
                )
                if rng.random() < p
            ]
        elif household.kind == "single_mother" and rng.random() < 0.15:
            factors.append("child_behaviour_after_divorce")
        if rng.random() < 0.07:
            rng.choice(adults).disability_group = rng.choice(("I", "II", "II", "III", "III"))
            factors.append("disability")
        if household.kind != "elderly" and rng.random() < 0.08:
            factors.append(
                rng.choice(
                    (
                        "domestic_violence",
                        "substance_use",
                        "evading_child_rearing",
                        "loss_of_social_ties",
                        "mental_disorder",
                        "unemployment",
                    )
                )
            )
        return (self._known(categories, self.categories), self._known(factors, self.factors))

    @staticmethod
    def _known(codes: list[str], known: set[str]) -> list[str]:
        """The first 3 distinct codes the reference table still has."""
        return list(dict.fromkeys(c for c in codes if c in known))[:3]

    # --- rows ----------------------------------------------------------------------------------

    def _person_row(
        self, member: _Member, family_id: uuid.UUID, oblast_code: str, idp: bool
    ) -> dict[str, Any]:
        rng = self.rng
        names = (member.last_name, member.first_name, member.patronymic)
        refused = member.adult and rng.random() < 0.02
        has_rnokpp = not refused and rng.random() < (0.7 if member.adult else 0.35)
        has_unzr = rng.random() < (0.75 if member.birth_date.year >= 1955 else 0.3)
        return {
            "id": self._uuid(),
            "family_id": family_id,
            "oblast_code": oblast_code,
            "last_name": member.last_name,
            "first_name": member.first_name,
            "patronymic": member.patronymic,
            "name_key": name_key(*names),
            "latin_key": latin_key(*names),
            "birth_date": member.birth_date,
            "sex": member.sex,
            "relation": member.relation,
            "rnokpp": self._rnokpp(member) if has_rnokpp else None,
            "rnokpp_refused": refused,
            "unzr": self._unzr(member.birth_date) if has_unzr else None,
            "disability_group": member.disability_group,
            "idp_certificate": (
                f"{rng.randint(1000, 9999)}-{rng.randrange(10**10):010d}"
                if idp and rng.random() < 0.8
                else None
            ),
            "is_servicemember": member.is_servicemember,
        }

    def _rnokpp(self, member: _Member) -> str:
        while True:
            number = rnokpp_for(member.birth_date, member.sex, self.rng.randrange(5000))
            index = self.keys.blind_index("rnokpp", number)
            if index not in self.taken:
                self.taken.add(index)
                return number

    def _unzr(self, born: date) -> str:
        while True:
            number = unzr_for(born, self.rng.randrange(10000))
            index = self.keys.blind_index("unzr", number)
            if index not in self.taken:
                self.taken.add(index)
                return number

    def _settlement(self, hromada: _Hromada) -> str | None:
        rng = self.rng
        if hromada.is_kyiv or rng.random() < 0.1:
            return None
        if hromada.cities and (not hromada.others or rng.random() < 0.85):
            return hromada.cities[0] if rng.random() < 0.9 else rng.choice(hromada.cities)
        return rng.choice(hromada.others) if hromada.others else None

    def _address(self, hromada: _Hromada, settlement: str | None) -> str | None:
        rng = self.rng
        if rng.random() < 0.05:
            return None
        urban = hromada.is_kyiv or settlement in hromada.cities
        street = rng.choice(KYIV_STREETS if hromada.is_kyiv else STREETS)
        house = str(rng.randint(1, 120 if urban else 80))
        if rng.random() < 0.08:
            house += rng.choice("абв")
        if urban and rng.random() < 0.8:
            return f"{street}, {house}, кв. {rng.randint(1, 180)}"
        return f"{street}, {house}"

    def _phone(self) -> str:
        return f"+380{self.rng.choice(_MOBILE_CODES)}{self.rng.randrange(10**7):07d}"

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)
