"""What makes a family's and a person's values valid, checked on the whole record (a create,
or the record with a merge patch applied), so cross-field rules hold after every write.

Shapes (types, lengths, patterns) are checked by the API schemas; these rules need the
domain's knowledge: check digits, what an identifier encodes, the name alphabet, dates.
Every broken rule becomes one ``FieldError``; all are reported at once.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from registry.domain.shared.identifiers import validate_rnokpp, validate_unzr
from registry.domain.shared.names import (
    clean_name_part,
    latin_key,
    name_key,
    plain_latin,
    transliterate,
)
from registry.domain.shared.phones import clean_phone
from registry.errors import FieldError, InvalidInput

EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Relation(StrEnum):
    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    GUARDIAN = "guardian"
    OTHER = "other"


class DisabilityGroup(StrEnum):
    I = "I"  # noqa: E741  (the official group numbers)
    II = "II"
    III = "III"
    CHILD = "child"


class ConsentPurpose(StrEnum):
    """What the family agreed their data may be used for."""

    REGISTRY = "registry"
    SOCIAL_ACCOMPANIMENT = "social_accompaniment"
    SHARING_WITH_PROVIDERS = "sharing_with_providers"
    PROGRAMMES = "programmes"


NAME_PARTS = ("last_name", "first_name", "patronymic")


#: Adults' ages are not shown to providers (children's are: services for children go by age).
ADULT_AGE = 18


def age_on(birth_date: date, today: date) -> int:
    """Whole years from ``birth_date`` to ``today`` (a person born on 29 February turns a
    year older on 1 March in other years, as PostgreSQL's ``age()`` counts)."""
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


class _Errors:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.found: list[FieldError] = []

    def check(self, values: dict[str, Any], name: str, rule: Callable[[Any], Any]) -> None:
        """Replace ``values[name]`` by ``rule(value)``; a ``ValueError`` is that field's error."""
        if values.get(name) is None:
            return
        try:
            values[name] = rule(values[name])
        except ValueError as error:
            self.add(name, str(error))

    def add(self, name: str, message: str) -> None:
        self.found.append(FieldError(f"{self.prefix}{name}", message))

    def raise_any(self) -> None:
        if self.found:
            raise InvalidInput("The record has invalid fields; see errors.", errors=self.found)


def clean_person(values: dict[str, Any], *, prefix: str = "body.", today: date) -> dict[str, Any]:
    """The person's values, cleaned, with the search keys derived from the name.

    ``values`` holds every field of the person (after a merge patch, the merged record).
    """
    cleaned = dict(values)
    errors = _Errors(prefix)
    for part in NAME_PARTS:
        errors.check(cleaned, part, clean_name_part)
    birth_date: date | None = cleaned.get("birth_date")
    if birth_date is not None and not EARLIEST_BIRTH_DATE <= birth_date <= today:
        errors.add("birth_date", f"must be between {EARLIEST_BIRTH_DATE} and today")
        birth_date = None
    sex = cleaned.get("sex")
    errors.check(
        cleaned, "rnokpp", lambda number: validate_rnokpp(number, birth_date=birth_date, sex=sex)
    )
    if cleaned.get("rnokpp") is not None and cleaned.get("rnokpp_refused"):
        errors.add("rnokpp_refused", "a person who refused an RNOKPP has no rnokpp")
    errors.check(cleaned, "unzr", lambda number: validate_unzr(number, birth_date=birth_date))
    errors.check(cleaned, "idp_certificate", str.upper)
    errors.raise_any()
    names = [cleaned.get(part) for part in NAME_PARTS]
    cleaned["name_key"] = name_key(*names)
    cleaned["latin_key"] = latin_key(*names)
    return cleaned


def clean_family(values: dict[str, Any], *, prefix: str = "body.") -> dict[str, Any]:
    """The family's own values (not its members), cleaned; territories and reference codes are
    checked against the database by the caller."""
    cleaned = dict(values)
    errors = _Errors(prefix)
    errors.check(cleaned, "phone", clean_phone)
    for name in ("categories", "factors"):
        if cleaned.get(name) is not None:
            cleaned[name] = sorted(set(cleaned[name]))
    consent = cleaned.get("consent")
    if consent is not None:
        given_at: datetime = consent["given_at"]
        if given_at > datetime.now(UTC):
            errors.add("consent.given_at", "must not be in the future")
        cleaned["consent"] = {**consent, "scope": sorted(set(consent["scope"]))}
    errors.raise_any()
    return cleaned


# --- Name search -----------------------------------------------------------------------------
#
# A query is split into words; each query word must match a different name word of a person
# (last, first or patronymic name, in any order). Two words match when, normalised
# (``search_word``), their Damerau–Levenshtein distance (optimal string alignment: a swap of
# two neighbouring letters is one edit) is within ``edit_limit``; a Latin query word is
# compared with the name word's Latin forms (``latin_forms``); a query word of 3+ letters that
# begins a name word matches it too, ranked below full matches. The database finds the
# candidate words through a deletion neighbourhood (``deletions``) of a dictionary of the
# distinct name words; ``match_person`` decides and ranks.

#: Latin letters that look like Cyrillic ones (after casefolding), as they slip into a
#: Cyrillic word typed on a keyboard switched to the wrong layout or pasted from elsewhere.
_LOOK_ALIKE_TO_CYRILLIC = str.maketrans(
    {
        "a": "а",
        "b": "в",
        "c": "с",
        "e": "е",
        "h": "н",
        "i": "і",
        "k": "к",
        "m": "м",
        "o": "о",
        "p": "р",
        "t": "т",
        "x": "х",
        "y": "у",
    }
)
_LOOK_ALIKE_TO_LATIN = str.maketrans(
    {"а": "a", "в": "b", "с": "c", "е": "e", "і": "i", "к": "k", "м": "m", "о": "o", "р": "p"}
    | {"т": "t", "х": "x", "у": "y", "н": "h"}
)
#: Russian letters as Ukrainian writes them (the stored keys fold them the same way).
_RUSSIAN_TO_UKRAINIAN = str.maketrans({"ё": "е", "э": "е", "ы": "и", "ъ": None})
#: Apostrophes people type, and ISO 9's soft sign (ʹ), dropped from a word; hyphens and
#: other dashes split words.
_APOSTROPHES = str.maketrans(dict.fromkeys("'’‘`´ʼʹ"))
_WORD_SEPARATORS = re.compile(r"[\s\-‐‑–—]+")

#: The scholarly transliteration (ISO 9:1995, one Latin letter per Cyrillic one) without its
#: diacritics, as typed on an English keyboard: ``Ševčenko`` → ``sevcenko``.
_ISO9_PLAIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "є": "e",
    "ж": "z", "з": "z", "и": "i", "і": "i", "ї": "i", "й": "j", "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "h", "ц": "c", "ч": "c", "ш": "s", "щ": "s", "ь": "", "ю": "u",
    "я": "a",
}  # fmt: skip
#: Spellings older passports and foreign documents use where the 2010 standard differs
#: (Russian-style г as g, и as i, й as y, є ї ю я with y).
_PASSPORT = {
    **{letter: latin for letter, latin in _ISO9_PLAIN.items()},
    "в": "v", "ж": "zh", "й": "y", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "є": "ye", "ї": "yi", "ю": "yu", "я": "ya",
}  # fmt: skip

#: Longer words tolerate two edits, shorter ones one.
LONG_WORD = 7
#: A query word this long or longer also matches the name words it begins.
PREFIX_LENGTH = 3
#: Query words beyond this many are refused: no person's name has more words to match.
MAX_QUERY_WORDS = 6


def _script(char: str) -> str:
    return unicodedata.name(char, "").split(" ", 1)[0]


def search_word(word: str) -> str:
    """One word as search compares it: NFC, casefolded, no apostrophes, Russian ё э ы ъ as
    Ukrainian writes them, Latin look-alike letters inside a Cyrillic word made Cyrillic (and
    Cyrillic look-alikes inside a Latin word made Latin), Latin letters without diacritics."""
    text = unicodedata.normalize("NFC", word).casefold().translate(_APOSTROPHES)
    scripts = [_script(char) for char in text if char.isalpha()]
    cyrillic = scripts.count("CYRILLIC")
    latin = scripts.count("LATIN")
    if cyrillic and latin:
        if cyrillic >= latin:
            text = text.translate(_LOOK_ALIKE_TO_CYRILLIC)
        else:
            text = text.translate(_LOOK_ALIKE_TO_LATIN)
    text = text.translate(_RUSSIAN_TO_UKRAINIAN)
    return plain_latin(text) if latin > cyrillic else text


def is_latin(word: str) -> bool:
    """Whether a (normalised) word is written in Latin letters."""
    return any(char.isalpha() for char in word) and all(
        _script(char) == "LATIN" for char in word if char.isalpha()
    )


def query_words(q: str) -> list[str]:
    """The words of a search query, normalised (``search_word``), in order."""
    return [search_word(word) for word in _WORD_SEPARATORS.split(q.strip()) if word]


def name_words(key: str) -> list[str]:
    """The words of a person's stored ``name_key`` (already casefolded, no apostrophes,
    hyphens as spaces), as the dictionary holds them."""
    return [search_word(word) for word in key.split()]


def _by_letter(word: str, table: dict[str, str]) -> str:
    return "".join(table.get(char, char) for char in word)


@functools.lru_cache(maxsize=65536)
def latin_forms(word: str) -> tuple[str, ...]:
    """A Cyrillic name word's Latin spellings, without diacritics: the national standard of
    2010 (``shevchenko``), the scholarly ISO 9 (``Ševčenko`` → ``sevcenko``) and the older
    passport spelling (``galyna`` → ``galina``); none for a word in another script (a Latin
    word is its own Latin form)."""
    if not any(_script(char) == "CYRILLIC" for char in word):
        return ()
    forms = (
        plain_latin(transliterate(word)),
        _by_letter(word, _ISO9_PLAIN),
        _by_letter(word, _PASSPORT),
    )
    return tuple(dict.fromkeys(form for form in forms if form and form != word))


def edit_limit(a: str, b: str) -> int:
    """How many edits two words may differ by and still match: 1 when both are of up to
    ``LONG_WORD`` letters, else 2."""
    return 1 if max(len(a), len(b)) <= LONG_WORD else 2


def edit_distance(a: str, b: str) -> int:
    """Damerau–Levenshtein distance by optimal string alignment: inserting, deleting or
    changing a letter, or swapping two neighbouring letters, is one edit each."""
    if a == b:
        return 0
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def deletions(word: str) -> set[str]:
    """The word's deletion neighbourhood: every string left by deleting one letter, and for a
    word longer than ``LONG_WORD`` letters two. Two words within ``edit_limit`` of each other
    share the word itself or one of these, so looking them up by equality finds every
    candidate."""
    found: set[str] = set()
    layer = {word}
    for _ in range(1 if len(word) <= LONG_WORD else 2):
        layer = {w[:i] + w[i + 1 :] for w in layer for i in range(len(w)) if len(w) > 1}
        found |= layer
    found.discard(word)
    return found


@dataclass(frozen=True, slots=True, order=True)
class Rank:
    """How well a person's name matches a query, best first: fewer words matched only as a
    prefix, then fewer edits in all, then more words matched exactly."""

    prefixes: int
    distance: int
    inexact: int


@functools.lru_cache(maxsize=65536)
def match_word(query: str, word: str) -> Rank | None:
    """How a query word matches one name word (both normalised), or None: within
    ``edit_limit`` edits of the word or of one of its Latin forms, or (3+ letters) the start
    of one of them."""
    forms = [word, *latin_forms(word)] if is_latin(query) else [word]
    best: Rank | None = None
    for form in forms:
        distance = edit_distance(query, form)
        if distance <= edit_limit(query, form):
            found = Rank(0, distance, int(distance > 0))
        elif len(query) >= PREFIX_LENGTH and form.startswith(query):
            found = Rank(1, 0, 1)
        else:
            continue
        if best is None or found < best:
            best = found
    return best


def match_person(query: Sequence[str], words: Sequence[str]) -> Rank | None:
    """How a person's name words match the query's words, each query word a different name
    word (any order), by the best such pairing; None when some query word has no name word
    of its own."""
    return best_pairing([[match_word(q, w) for w in words] for q in query])


def best_pairing(table: Sequence[Sequence[Rank | None]]) -> Rank | None:
    """The best way to give each query word (a row: how it matches each name word, or None)
    a different name word of its own, summed; None when there is none."""
    if not table or len(table) > len(table[0]):
        return None
    best: Rank | None = None
    for pairing in itertools.permutations(range(len(table[0])), len(table)):
        ranks = [table[i][j] for i, j in enumerate(pairing)]
        if any(rank is None for rank in ranks):
            continue
        total = Rank(
            sum(r.prefixes for r in ranks if r),
            sum(r.distance for r in ranks if r),
            sum(r.inexact for r in ranks if r),
        )
        if best is None or total < best:
            best = total
    return best


def dictionary_entries(
    words: Iterable[str],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """What the dictionary holds for new name words (as they appear in ``name_key``): each
    word's forms as ``(form, word)`` and the forms' deletion neighbourhoods as
    ``(deletion, form)``."""
    forms: dict[tuple[str, str], None] = {}
    for word in words:
        normalised = search_word(word)
        for form in (normalised, *latin_forms(normalised)):
            forms[(form, word)] = None
    neighbourhood = {
        (deletion, form) for form in {form for form, _ in forms} for deletion in deletions(form)
    }
    return list(forms), sorted(neighbourhood)
