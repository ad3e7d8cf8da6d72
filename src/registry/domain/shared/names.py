"""Ukrainian person names: validating a name part as typed, the keys that duplicate detection
and search compare, and the official Ukrainian→Latin transliteration (CMU resolution No. 55
of 27 January 2010).

Validators raise ``ValueError`` with a short message that never repeats the name.
"""

from __future__ import annotations

import re
import unicodedata

#: U+02BC, the apostrophe of the official Ukrainian orthography; names are stored with it.
APOSTROPHE = "ʼ"
MAX_LENGTH = 100

_UPPER = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯ"
_LETTERS = frozenset(_UPPER + _UPPER.lower())
_ALLOWED = _LETTERS | {APOSTROPHE, "-", " "}
#: Apostrophe look-alikes people type: ', ’, ‘, `, ´ and U+02BC itself.
_APOSTROPHE_VARIANTS = frozenset("'’‘`´" + APOSTROPHE)
_TO_APOSTROPHE = str.maketrans(dict.fromkeys(_APOSTROPHE_VARIANTS, APOSTROPHE))
_KEY_TRANSLATION = str.maketrans({**dict.fromkeys(_APOSTROPHE_VARIANTS), "-": " "})
_SPACES = re.compile(r"\s+")
_SPACED_HYPHEN = re.compile(r" ?- ?")

_LATIN = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "h",
    "ґ": "g",
    "д": "d",
    "е": "e",
    "ж": "zh",
    "з": "z",
    "и": "y",
    "і": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ь": "",
    **dict.fromkeys(_APOSTROPHE_VARIANTS, ""),
}
#: Letters spelt differently at the start of a word and elsewhere.
_LATIN_BY_POSITION = {
    "є": ("ye", "ie"),
    "ї": ("yi", "i"),
    "й": ("y", "i"),
    "ю": ("yu", "iu"),
    "я": ("ya", "ia"),
}


def clean_name_part(value: str) -> str:
    """Return one last, first or patronymic name as stored: NFC, single spaces, U+02BC
    apostrophes, letter case as written."""
    text = unicodedata.normalize("NFC", value).translate(_TO_APOSTROPHE)
    # "Квітка - Основʼяненко" is a typing habit, not a different name.
    text = _SPACED_HYPHEN.sub("-", _SPACES.sub(" ", text).strip())
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"is longer than {MAX_LENGTH} characters")
    if not _ALLOWED.issuperset(text):
        raise ValueError("must be written in Ukrainian letters")
    if not _between_letters(text, APOSTROPHE):
        raise ValueError("may have an apostrophe only between two letters")
    if not _between_letters(text, "-"):
        raise ValueError("may have a hyphen only between two letters")
    return text


def _between_letters(text: str, mark: str) -> bool:
    return all(
        0 < i < len(text) - 1 and text[i - 1] in _LETTERS and text[i + 1] in _LETTERS
        for i, char in enumerate(text)
        if char == mark
    )


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFC", text).casefold().translate(_KEY_TRANSLATION)
    return _SPACES.sub(" ", folded).strip()


def name_key(*parts: str | None) -> str:
    """The key duplicate detection and Cyrillic search compare: casefolded, no apostrophes,
    hyphens as spaces, single spaces; ``None`` and empty parts are skipped."""
    return _key(" ".join(part for part in parts if part))


def transliterate(text: str) -> str:
    """Ukrainian Cyrillic → Latin by CMU resolution No. 55 (2010), lower-cased; anything else
    (Latin letters, digits, spaces, hyphens) passes through lower-cased."""
    out: list[str] = []
    previous = ""
    for char in unicodedata.normalize("NFC", text).casefold():
        if char == "г" and previous == "з":
            out.append("gh")  # зг → zgh keeps it apart from ж (zh)
        elif char in _LATIN_BY_POSITION:
            at_start = not (previous.isalnum() or previous in _APOSTROPHE_VARIANTS)
            out.append(_LATIN_BY_POSITION[char][0 if at_start else 1])
        else:
            out.append(_LATIN.get(char, char))
        previous = char
    return "".join(out)


def latin_key(*parts: str | None) -> str:
    """The key Latin search input is compared with: the transliterated :func:`name_key`."""
    # A word of only "ь" transliterates to nothing and would leave a double space.
    return _SPACES.sub(" ", transliterate(name_key(*parts))).strip()


def query_key(q: str) -> tuple[str, bool]:
    """Normalise a search query; return ``(key, is_latin)``.

    A query with Latin letters and no Cyrillic ones is compared with :func:`latin_key`,
    any other with :func:`name_key`.
    """
    key = _key(q)
    scripts = {unicodedata.name(char, "").split(" ", 1)[0] for char in key if char.isalpha()}
    if not scripts:
        raise ValueError("must contain letters")
    return key, "LATIN" in scripts and "CYRILLIC" not in scripts
