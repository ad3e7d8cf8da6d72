"""Made-up but plausible Ukrainian households as COPY-ready rows, for ``bench/generate``.

The same kinds of household as the demo seed (``registry.demo.families``), and its name
lists and grammar helpers, but written for volume: every name part's search keys are computed
once up front, rows are plain tuples in COPY column order, and national identifiers come from
per-(birth date, sex) counters instead of random draws checked against a set. Each generating
process gets its own slice of the identifier serials, so numbers stay unique across processes
without talking to each other.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from clock import fast_uuid
from draw import between, pick, weighted
from surnames import COMMON_SHARE, surnames

from registry.demo.families import (
    FEMALE_NAMES,
    KYIV_STREETS,
    MALE_NAMES,
    STREETS,
    SURNAMES,
    feminine_surname,
    patronymic,
)
from registry.domain.families.tables import PERSON_IDP_CERTIFICATE, PERSON_RNOKPP, PERSON_UNZR
from registry.domain.shared.identifiers import rnokpp_for, unzr_for
from registry.domain.shared.names import clean_name_part, latin_key, name_key
from registry.domain.shared.sealing import IdentifierKeys, SealedField

KYIV = "UA80000000000093317"
CREATED_BY = "bench-generate"

FAMILY_COLUMNS = (
    "id",
    "oblast_code",
    "raion_code",
    "hromada_code",
    "settlement_code",
    "address_line",
    "phone",
    "categories",
    "factors",
    "consent_given_at",
    "consent_given_by",
    "consent_scope",
    "status",
    "archive_reason",
    "archived_at",
    "created_by",
    "created_at",
    "updated_at",
    "version",
)
PERSON_COLUMNS = (
    "id",
    "family_id",
    "oblast_code",
    "last_name",
    "first_name",
    "patronymic",
    "name_key",
    "latin_key",
    "birth_date",
    "sex",
    "relation",
    "rnokpp_sealed",
    "rnokpp_index",
    "rnokpp_refused",
    "unzr_sealed",
    "unzr_index",
    "disability_group",
    "idp_certificate_sealed",
    "is_servicemember",
    "status",
    "removal_reason",
    "removed_at",
    "created_at",
    "updated_at",
    "version",
)

# (kind, weight): the demo seed's mix of households.
KINDS = (
    ("couple_with_children", 40),
    ("single_mother", 14),
    ("single_father", 3),
    ("couple", 9),
    ("single", 10),
    ("elderly", 12),
    ("three_generations", 8),
    ("grandparent_guardian", 4),
)
ARCHIVED_SHARE = 0.02  # families that overcame their circumstances (members then "removed")
REMOVED_MEMBER_SHARE = 0.01  # members who left a family that is still active
ARCHIVE_REASONS = ("сімʼя подолала складні життєві обставини", "сімʼя переїхала")
MEMBER_REMOVAL_REASON = "вибув зі складу сімʼї"
_MOBILE_CODES = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")
_CONSENT_SCOPE = ["registry", "social_accompaniment"]
_CONSENT_GIVEN_BY = "голова сімʼї"
_CHILD_COUNTS, _CHILD_COUNT_WEIGHTS = (0, 1, 2, 3, 4, 5), (8, 38, 34, 13, 5, 2)
_CHILD_COUNT_CUMULATIVE = tuple(itertools.accumulate(_CHILD_COUNT_WEIGHTS))
#: RNOKPP serials per (birth date, sex) and UNZR serials per birth date.
_RNOKPP_SERIALS, _UNZR_SERIALS = 5000, 10000
#: The check digits' weights (``identifiers``): RNOKPP's 9 digits; UNZR's ICAO 7-3-1 repeated
#: over its 12 digits (8 of the date, 4 of the serial).
_RNOKPP_WEIGHTS = (-1, 5, 7, 9, 4, 6, 10, 5, 7)
_ICAO_WEIGHTS = (7, 3, 1)
_RNOKPP_EPOCH_ORDINAL = date(1899, 12, 31).toordinal()


_UNZR_WEIGHTS = tuple(_ICAO_WEIGHTS[i % 3] for i in range(12))


def _sums(count: int, width: int, weights: tuple[int, ...]) -> list[int]:
    """The weighted digit sum of every number below ``count`` written with ``width`` digits:
    a check digit's share from one part of the number."""
    return [
        sum(w * int(d) for w, d in zip(weights, f"{n:0{width}d}", strict=True))
        for n in range(count)
    ]


# RNOKPP: 5 digits of days (3 + 2), 3 of the serial, the sex digit.
_RNOKPP_DAY_HIGH_SUMS = _sums(1000, 3, _RNOKPP_WEIGHTS[0:3])
_RNOKPP_DAY_LOW_SUMS = _sums(100, 2, _RNOKPP_WEIGHTS[3:5])
_RNOKPP_SERIAL_SUMS = _sums(1000, 3, _RNOKPP_WEIGHTS[5:8])
# UNZR: YYYY MM DD, then 4 digits of the serial.
_UNZR_YEAR_SUMS = _sums(10000, 4, _UNZR_WEIGHTS[0:4])
_UNZR_MONTH_SUMS = _sums(13, 2, _UNZR_WEIGHTS[4:6])
_UNZR_DAY_SUMS = _sums(32, 2, _UNZR_WEIGHTS[6:8])
_UNZR_SERIAL_SUMS = _sums(_UNZR_SERIALS, 4, _UNZR_WEIGHTS[8:12])
#: The version (4) and variant (RFC 4122) bits of a random UUID.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


class Part(NamedTuple):
    """One name part as stored, with its search keys (computed once)."""

    text: str
    key: str
    latin: str


def _part(raw: str) -> Part:
    text = clean_name_part(raw)
    return Part(text, name_key(text), latin_key(text))


@dataclass(frozen=True, slots=True)
class Hromada:
    code: str
    oblast_code: str
    raion_code: str | None
    cities: tuple[str, ...] = ()  # settlement codes; the main city first
    others: tuple[str, ...] = ()
    name: str = ""  # as the codifier has it: "Бучанська"

    @property
    def is_kyiv(self) -> bool:
        return self.code == KYIV


class Member:
    __slots__ = (
        "born",
        "disability",
        "first",
        "last",
        "patronymic",
        "relation",
        "servicemember",
        "sex",
        "surname",
    )

    def __init__(
        self, sex: str, first: Part, surname: int, patronymic: Part, born: date, relation: str
    ) -> None:
        self.sex = sex
        self.first = first
        self.surname = surname  # index into ``surnames()``: the family's surname in either form
        self.patronymic = patronymic
        self.born = born
        self.relation = relation
        self.disability: str | None = None
        self.servicemember = False


class Households:
    """Families and their members for one generating process (``worker`` of ``workers``)."""

    def __init__(
        self,
        *,
        hromadas: list[Hromada],
        weights: list[int],
        kyiv_share: float,
        categories: set[str],
        factors: set[str],
        seed: int,
        worker: int,
        workers: int,
        today: date,
        keys: IdentifierKeys,
    ) -> None:
        self.rng = random.Random(seed * 1000 + worker)
        self.keys = keys
        self.hromadas = hromadas
        self.cumulative = list(itertools.accumulate(weights))
        self.kyiv = Hromada(KYIV, KYIV, None)
        self.kyiv_share = kyiv_share
        self.categories, self.factors = categories, factors
        self.worker, self.workers = worker, workers
        self.today = today
        self.today_ordinal = today.toordinal()
        self.now = datetime.now(UTC)
        self.rnokpp_used: dict[tuple[int, str], int] = {}
        self.unzr_used: dict[int, int] = {}
        self.kinds = [kind for kind, _ in KINDS]
        self.kind_weights = list(itertools.accumulate(weight for _, weight in KINDS))
        # Name parts with their keys: surnames by index and sex, first names by sex and
        # generation (o: born before 1965, m: 1965–1994, y: from 1995), patronymics by the
        # father's first name.
        self.surnames = [
            {"male": _part(s), "female": _part(feminine_surname(s))} for s in surnames()
        ]
        self.common_surnames = len(SURNAMES)
        self.male_names = [_part(name) for name, _ in MALE_NAMES]
        self.first_names = {
            (sex, generation): [_part(name) for name, used in names if generation in used]
            for sex, names in (("male", MALE_NAMES), ("female", FEMALE_NAMES))
            for generation in "omy"
        }
        self.patronymics = {
            father.text: {
                "male": _part(patronymic(father.text, "male")),
                "female": _part(patronymic(father.text, "female")),
            }
            for father in self.male_names
        }
        self.persons_made = 0

    # --- one family ----------------------------------------------------------------------------

    def family(self) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        rng = self.rng
        hromada = (
            self.kyiv
            if rng.random() < self.kyiv_share
            else weighted(rng, self.hromadas, self.cumulative)
        )
        kind = weighted(rng, self.kinds, self.kind_weights)
        members = self._members(kind)
        idp = rng.random() < (0.3 if kind != "elderly" else 0.15)
        categories, factors = self._circumstances(kind, members, idp)
        family_id = self._uuid()
        settlement = self._settlement(hromada)
        created = self.now - timedelta(
            days=between(rng, 1, 1000), seconds=between(rng, 0, 86400 - 1)
        )
        consent = rng.random() < 0.85
        archived_at = archive_reason = None
        if rng.random() < ARCHIVED_SHARE:
            archived_at = min(created + timedelta(days=between(rng, 30, 300)), self.now)
            archive_reason = pick(rng, ARCHIVE_REASONS)
        family = (
            family_id,
            hromada.oblast_code,
            hromada.raion_code,
            hromada.code,
            settlement,
            self._address(hromada, settlement),
            self._phone() if rng.random() < 0.85 else None,
            categories,
            factors,
            created if consent else None,
            _CONSENT_GIVEN_BY if consent else None,
            _CONSENT_SCOPE if consent else None,
            "archived" if archived_at else "active",
            archive_reason,
            archived_at,
            CREATED_BY,
            created,
            archived_at or created,
            2 if archived_at else 1,
        )
        # Archiving ends every membership with the family's reason, as the app does.
        ended = f"family archived: {archive_reason}" if archive_reason else None
        persons = [
            self._person_row(m, family_id, hromada.oblast_code, idp, created, archived_at, ended)
            for m in members
        ]
        return family, persons

    def _members(self, kind: str) -> list[Member]:
        rng = self.rng
        members: list[Member] = []
        if kind in ("couple_with_children", "couple", "three_generations"):
            ages = {
                "couple_with_children": (22, 55),
                "couple": (20, 70),
                "three_generations": (24, 48),
            }[kind]
            husband, wife = self._couple(members, ages)
            if kind == "three_generations":
                self._grandparents(members, husband)
            if kind != "couple":
                self._children(
                    members,
                    husband.first,
                    husband.surname,
                    wife.born,
                    most=min(4, 6 - len(members)),
                    least=kind != "three_generations",
                )
        elif kind in ("single_mother", "single_father"):
            sex = "male" if kind == "single_father" else "female"
            parent = self._adult(sex, between(rng, 20, 55), self._surname(), "head")
            members.append(parent)
            father = parent.first if sex == "male" else pick(rng, self.male_names)
            self._children(members, father, parent.surname, parent.born, most=3, least=True)
        elif kind == "single":
            members.append(
                self._adult(
                    pick(rng, ("male", "female")), between(rng, 20, 70), self._surname(), "head"
                )
            )
        elif kind == "elderly":
            if rng.random() < 0.45:
                self._couple(members, (63, 88))
            else:
                sex = "female" if rng.random() < 0.75 else "male"
                members.append(self._adult(sex, between(rng, 65, 90), self._surname(), "head"))
        else:  # grandparent_guardian: a grandparent raising grandchildren
            sex = "female" if rng.random() < 0.85 else "male"
            guardian = self._adult(sex, between(rng, 50, 75), self._surname(), "head")
            members.append(guardian)
            mother_born = guardian.born + timedelta(days=365 * between(rng, 20, 28))
            self._children(
                members,
                pick(rng, self.male_names),
                guardian.surname,
                mother_born,
                most=3,
                least=True,
            )
        return members

    def _couple(self, members: list[Member], ages: tuple[int, int]) -> tuple[Member, Member]:
        rng = self.rng
        surname = self._surname()
        husband_age = between(rng, ages[0], ages[1])
        wife_age = max(ages[0], min(ages[1], husband_age + between(rng, -7, 3)))
        husband = self._adult("male", husband_age, surname, "spouse")
        wife = self._adult(
            "female", wife_age, surname if rng.random() < 0.9 else self._surname(), "spouse"
        )
        (husband if rng.random() < 0.6 else wife).relation = "head"
        members += [husband, wife]
        return husband, wife

    def _grandparents(self, members: list[Member], husband: Member) -> None:
        """One or both of the husband's parents; his patronymic follows his father."""
        rng = self.rng
        age = self._age(husband.born)
        grandfather = None
        if rng.random() < 0.5:
            grandfather = self._adult("male", age + between(rng, 20, 34), husband.surname, "other")
            members.append(grandfather)
            husband.patronymic = self.patronymics[grandfather.first.text]["male"]
        if grandfather is None or rng.random() < 0.6:
            members.append(
                self._adult("female", age + between(rng, 19, 32), husband.surname, "other")
            )

    def _children(
        self,
        members: list[Member],
        father: Part,
        surname: int,
        mother_born: date,
        *,
        most: int,
        least: bool,
    ) -> None:
        """Up to ``most`` children aged 0–17, born when their mother was 18–42."""
        rng = self.rng
        mother_age = self._age(mother_born)
        oldest, youngest = min(17, mother_age - 18), max(0, mother_age - 42)
        if most <= 0 or oldest < youngest:
            return
        count = weighted(rng, _CHILD_COUNTS, _CHILD_COUNT_CUMULATIVE)
        for _ in range(max(int(least), min(most, count))):
            sex = "male" if rng.random() < 0.5 else "female"
            born = self._born(between(rng, youngest, oldest))
            members.append(
                Member(
                    sex,
                    self._first_name(sex, born),
                    surname,
                    self.patronymics[father.text][sex],
                    born,
                    "child",
                )
            )

    def _adult(self, sex: str, age: int, surname: int, relation: str) -> Member:
        born = self._born(age)
        father = pick(self.rng, self.male_names).text
        return Member(
            sex, self._first_name(sex, born), surname, self.patronymics[father][sex], born, relation
        )

    def _surname(self) -> int:
        """A common surname with ``COMMON_SHARE``, else a rare one (``surnames``)."""
        if self.rng.random() < COMMON_SHARE:
            return between(self.rng, 0, self.common_surnames - 1)
        return between(self.rng, self.common_surnames, len(self.surnames) - 1)

    def _first_name(self, sex: str, born: date) -> Part:
        generation = "o" if born.year < 1965 else "m" if born.year < 1995 else "y"
        return pick(self.rng, self.first_names[sex, generation])

    def _born(self, age: int) -> date:
        """A birth date at which someone is ``age`` years old today."""
        days = between(self.rng, int(age * 365.25) + 1, int((age + 1) * 365.25) - 1)
        return date.fromordinal(self.today_ordinal - days)

    def _age(self, born: date) -> int:
        today = self.today
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    # --- circumstances (a compact version of the demo seed's rules) ----------------------------

    def _circumstances(
        self, kind: str, members: list[Member], idp: bool
    ) -> tuple[list[str], list[str]]:
        rng = self.rng
        children = [m for m in members if m.relation == "child"]
        adults = [m for m in members if m.relation != "child"]
        categories: list[str] = []
        factors: list[str] = []
        if len(children) >= 3:
            categories.append("large_family")
        if kind in ("single_mother", "single_father"):
            categories.append("single_parent")
        if kind == "grandparent_guardian":
            categories.append("guardianship")
        if idp:
            categories.append("idp")
            if rng.random() < 0.75:
                factors.append("hostilities_harm")
            if rng.random() < 0.3:
                factors.append("unemployment")
        if children and rng.random() < 0.06:
            pick(rng, children).disability = "child"
            categories.append("child_with_disability")
        men = [m for m in adults if m.sex == "male" and self._age(m.born) <= 60]
        if men and kind in ("couple_with_children", "couple", "three_generations"):
            draw = rng.random()
            if draw < 0.14:
                pick(rng, men).servicemember = True
                categories.append(
                    "servicemember_family"
                    if draw < 0.12
                    else pick(
                        rng, ("missing_servicemember_family", "captured_servicemember_family")
                    )
                )
            elif draw < 0.18:
                categories.append("veteran_family")
        if kind == "single_mother" and rng.random() < 0.06:
            categories.append("fallen_servicemember_family")
        if rng.random() < (0.35 if kind in ("single_mother", "elderly") else 0.12):
            categories.append("low_income")
            factors.append("low_income")
        if kind == "elderly":
            factors += [
                f
                for f, p in (("old_age", 0.8), ("mobility_loss", 0.3), ("long_term_illness", 0.3))
                if rng.random() < p
            ]
        if rng.random() < 0.07:
            pick(rng, adults).disability = pick(rng, ("I", "II", "II", "III", "III"))
            factors.append("disability")
        if kind != "elderly" and rng.random() < 0.08:
            factors.append(
                pick(
                    rng,
                    (
                        "domestic_violence",
                        "substance_use",
                        "unemployment",
                        "evading_child_rearing",
                        "mental_disorder",
                    ),
                )
            )
        return (_known(categories, self.categories), _known(factors, self.factors))

    # --- rows ----------------------------------------------------------------------------------

    def _person_row(
        self,
        member: Member,
        family_id: uuid.UUID,
        oblast_code: str,
        idp: bool,
        created: datetime,
        archived_at: datetime | None,
        archive_reason: str | None,
    ) -> tuple[Any, ...]:
        rng = self.rng
        last = self.surnames[member.surname][member.sex]
        first, middle = member.first, member.patronymic
        keys = (
            f"{last.key} {first.key} {middle.key}",
            f"{last.latin} {first.latin} {middle.latin}",
        )
        self.persons_made += 1
        if self.persons_made % 499 == 1:  # the joined per-part keys must be the app's keys
            names = (last.text, first.text, middle.text)
            assert keys == (name_key(*names), latin_key(*names)), names
        adult = member.relation != "child"
        refused = adult and rng.random() < 0.02
        rnokpp = (
            self._rnokpp(member.born, member.sex)
            if not refused and rng.random() < (0.7 if adult else 0.35)
            else None
        )
        unzr = (
            self._unzr(member.born)
            if rng.random() < (0.75 if member.born.year >= 1955 else 0.3)
            else None
        )
        removed_at, reason = archived_at, archive_reason
        if removed_at is None and rng.random() < REMOVED_MEMBER_SHARE:
            removed_at = min(created + timedelta(days=between(rng, 1, 200)), self.now)
            reason = MEMBER_REMOVAL_REASON
        person_id = self._uuid()
        certificate = (
            f"{between(rng, 1000, 9999)}-{between(rng, 0, 10**10 - 1):010d}"
            if idp and rng.random() < 0.8
            else None
        )
        return (
            person_id,
            family_id,
            oblast_code,
            last.text,
            first.text,
            middle.text,
            *keys,
            member.born,
            member.sex,
            member.relation,
            *self._sealed(PERSON_RNOKPP, rnokpp, person_id),
            refused,
            *self._sealed(PERSON_UNZR, unzr, person_id),
            member.disability,
            *self._sealed(PERSON_IDP_CERTIFICATE, certificate, person_id),
            member.servicemember,
            "removed" if removed_at else "active",
            reason,
            removed_at,
            created,
            removed_at or created,
            2 if removed_at else 1,
        )

    def _sealed(
        self, identifier: SealedField, value: str | None, person_id: uuid.UUID
    ) -> tuple[bytes | None, ...]:
        """An identifier's columns as the application stores them: sealed (bound to the
        person), and its blind index if it has one."""
        if value is None:
            return (None, None) if identifier.index_column else (None,)
        sealed = self.keys.seal(value, identifier.place, person_id)
        if identifier.index_column is None:
            return (sealed,)
        return sealed, self.keys.blind_index(identifier.name, value)

    def _rnokpp(self, born: date, sex: str) -> str | None:
        """A valid RNOKPP no other process makes: serials ``worker``, ``worker + workers``, …

        What ``identifiers.rnokpp_for`` makes, with the check digit's weighted sum added up
        from tables of each part's share (every 97th is compared with the app's own
        function)."""
        key = (born.toordinal(), sex)
        used = self.rnokpp_used.get(key, 0)
        serial = used * self.workers + self.worker
        if serial >= _RNOKPP_SERIALS:
            return None  # this birth date has run out of numbers here: leave it empty
        self.rnokpp_used[key] = used + 1
        days = born.toordinal() - _RNOKPP_EPOCH_ORDINAL
        sex_digit = 2 * (serial // 1000) + (sex == "male")
        total = (
            _RNOKPP_DAY_HIGH_SUMS[days // 100]
            + _RNOKPP_DAY_LOW_SUMS[days % 100]
            + _RNOKPP_SERIAL_SUMS[serial % 1000]
            + _RNOKPP_WEIGHTS[8] * sex_digit
        )
        number = f"{days:05d}{serial % 1000:03d}{sex_digit}{total % 11 % 10}"
        if self.persons_made % 97 == 0:
            assert number == rnokpp_for(born, sex, serial), (born, sex, serial)
        return number

    def _unzr(self, born: date) -> str | None:
        """A valid UNZR no other process makes; ``identifiers.unzr_for`` made faster as
        :meth:`_rnokpp` is."""
        key = born.toordinal()
        used = self.unzr_used.get(key, 0)
        serial = used * self.workers + self.worker
        if serial >= _UNZR_SERIALS:
            return None
        self.unzr_used[key] = used + 1
        total = (
            _UNZR_YEAR_SUMS[born.year]
            + _UNZR_MONTH_SUMS[born.month]
            + _UNZR_DAY_SUMS[born.day]
            + _UNZR_SERIAL_SUMS[serial]
        )
        number = f"{born:%Y%m%d}-{serial:04d}{total % 10}"
        if self.persons_made % 97 == 0:
            assert number == unzr_for(born, serial), (born, serial)
        return number

    def _settlement(self, hromada: Hromada) -> str | None:
        rng = self.rng
        if hromada.is_kyiv or rng.random() < 0.1:
            return None
        if hromada.cities and (not hromada.others or rng.random() < 0.85):
            return hromada.cities[0] if rng.random() < 0.9 else pick(rng, hromada.cities)
        return pick(rng, hromada.others) if hromada.others else None

    def _address(self, hromada: Hromada, settlement: str | None) -> str | None:
        rng = self.rng
        if rng.random() < 0.05:
            return None
        urban = hromada.is_kyiv or settlement in hromada.cities
        street = pick(rng, KYIV_STREETS if hromada.is_kyiv else STREETS)
        house = between(rng, 1, 120 if urban else 80)
        if urban and rng.random() < 0.8:
            return f"{street}, {house}, кв. {between(rng, 1, 180)}"
        return f"{street}, {house}"

    def _phone(self) -> str:
        return f"+380{pick(self.rng, _MOBILE_CODES)}{between(self.rng, 0, 10**7 - 1):07d}"

    def _uuid(self) -> uuid.UUID:
        """A version 4 UUID (what ``uuid.UUID(int=…, version=4)`` makes, made faster)."""
        return fast_uuid(self.rng.getrandbits(128) & _V4_CLEAR | _V4_SET)


def _known(codes: list[str], known: set[str]) -> list[str]:
    """The first 3 distinct codes the reference table has (as the demo seed keeps them)."""
    kept: list[str] = []  # a loop: dict.fromkeys over a generator costs more for 0–4 codes
    for code in codes:
        if code in known and code not in kept:
            kept.append(code)
    return kept[:3]
