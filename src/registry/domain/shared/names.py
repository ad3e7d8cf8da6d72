"""Person names as people write them: validating a name part as typed (letters of any
script), the keys that duplicate detection and search compare, and the official
Ukrainian→Latin transliteration (CMU resolution No. 55 of 27 January 2010).

Validators raise ``ValueError`` with a short message that never repeats the name.
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: U+02BC, the apostrophe of the official Ukrainian orthography; names are stored with it.
APOSTROPHE = "ʼ"
MAX_LENGTH = 100
#: Why a name part is refused for its characters (the API shows it as the field's message).
ONLY_NAME_CHARACTERS = "may contain only letters, apostrophes, hyphens and spaces"

#: Apostrophe look-alikes people type: ', ’, ‘, `, ´ and U+02BC itself.
_APOSTROPHE_VARIANTS = frozenset("'’‘`´" + APOSTROPHE)
#: Hyphen look-alikes: U+2010 hyphen, U+2011 non-breaking hyphen, U+2013 the en dash word
#: processors put for a typed " - ".
_HYPHEN_VARIANTS = "‐‑–"
_TO_STORED = str.maketrans(
    {**dict.fromkeys(_APOSTROPHE_VARIANTS, APOSTROPHE), **dict.fromkeys(_HYPHEN_VARIANTS, "-")}
)
#: The keys: no apostrophes, hyphens as spaces, and the Russian letters a Ukrainian writes
#: otherwise (ё, э → е; ы → и; ъ like an apostrophe), so either spelling finds the other.
_KEY_TRANSLATION = str.maketrans(
    {**dict.fromkeys(_APOSTROPHE_VARIANTS), "-": " ", "ё": "е", "э": "е", "ы": "и", "ъ": None}
)
_SPACES = re.compile(r"\s+")
_SPACED_HYPHEN = re.compile(r" ?- ?")
#: Scripts written together in one word (Japanese mixes kanji and kana), by the first word of
#: their letters' Unicode names.
_SCRIPT_GROUPS = dict.fromkeys(("HIRAGANA", "KATAKANA", "HALFWIDTH", "HANGUL", "BOPOMOFO"), "CJK")

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
#: Latin letters that are not a plain letter with a diacritic (so Unicode does not decompose
#: them), written as people type them on an English keyboard.
_PLAIN_LATIN = str.maketrans(
    {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "þ": "th", "æ": "ae", "œ": "oe"}
)


def clean_name_part(value: str) -> str:
    """Return one last, first or patronymic name as stored: NFC, single spaces, U+02BC
    apostrophes, ASCII hyphens, letter case as written.

    Letters of any script are accepted, with their combining marks; between words an
    apostrophe, a hyphen or one space. No digits, other punctuation, symbols or control
    characters, and no word that mixes scripts (a Latin ``i`` typed among Cyrillic letters).
    """
    text = unicodedata.normalize("NFC", value).translate(_TO_STORED).strip()
    # Runs of spaces (any Unicode space) are one space; "Квітка - Основʼяненко" is a typing
    # habit, not a different name.
    text = _SPACED_HYPHEN.sub("-", _collapse_spaces(text))
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"is longer than {MAX_LENGTH} characters")
    kinds = [_kind(char) for char in text]
    if None in kinds:
        raise ValueError(ONLY_NAME_CHARACTERS)
    previous: str | None = ""  # the kind of the character before
    for i, (char, kind) in enumerate(zip(text, kinds, strict=True)):
        if kind == "mark" and previous not in ("letter", "mark"):
            raise ValueError("may have a combining mark only after a letter")
        if char in (APOSTROPHE, "-") and not (
            previous in ("letter", "mark") and i + 1 < len(text) and kinds[i + 1] == "letter"
        ):
            what = "an apostrophe" if char == APOSTROPHE else "a hyphen"
            raise ValueError(f"may have {what} only between two letters")
        previous = kind
    if any(len(_scripts(word)) > 1 for word in re.split(r"[ -]", text)):
        raise ValueError("must not mix alphabets within a word")
    return text


def _collapse_spaces(text: str) -> str:
    """Single ASCII spaces for every run of spaces; control characters stay (and are
    refused)."""
    out: list[str] = []
    for char in text:
        if unicodedata.category(char) == "Zs":
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(char)
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _kind(char: str) -> str | None:
    """ "letter", "mark", the character itself for an apostrophe, hyphen or space, or None for
    anything a name may not hold."""
    if char in (APOSTROPHE, "-", " "):
        return char
    category = unicodedata.category(char)
    if category[0] == "L":
        return "letter"
    if category[0] == "M":
        return "mark"
    return None


def _scripts(word: str) -> set[str]:
    """The scripts of a word's letters, by their Unicode names (``LATIN SMALL LETTER A``);
    modifier letters (ʻ, Japanese 々 and ー) belong to none."""
    scripts = set()
    for char in word:
        if _kind(char) == "letter" and unicodedata.category(char) != "Lm":
            script = unicodedata.name(char, "").split(" ", 1)[0]
            scripts.add(_SCRIPT_GROUPS.get(script, script))
    return scripts


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFC", text).casefold().translate(_KEY_TRANSLATION)
    return _SPACES.sub(" ", folded).strip()


def name_key(*parts: str | None) -> str:
    """The key duplicate detection and Cyrillic search compare: casefolded, no apostrophes,
    hyphens as spaces, single spaces, Russian ё э ы ъ as Ukrainian writes them; ``None`` and
    empty parts are skipped. A Ukrainian name's key is the same as it always was."""
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


def plain_latin(text: str) -> str:
    """Latin letters without their diacritics (``Şevkiyeva`` → ``Sevkiyeva``, ``ı`` → ``i``,
    ``ß`` stays for :meth:`str.casefold` to make ``ss``); other scripts as they are."""
    if text.isascii():
        return text
    out: list[str] = []
    latin_base = False
    for char in unicodedata.normalize("NFKD", text.translate(_PLAIN_LATIN)):
        if unicodedata.category(char)[0] == "M":
            if latin_base:
                continue  # a diacritic of a Latin letter
        else:
            latin_base = char.isascii()
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


def _latin(key: str) -> str:
    # A word of only "ь" transliterates to nothing and would leave a double space.
    return _SPACES.sub(" ", plain_latin(transliterate(key))).strip()


def latin_key(*parts: str | None) -> str:
    """The key Latin search input is compared with: :func:`name_key` transliterated, its
    Latin letters without diacritics. Only Cyrillic has a transliteration; other scripts
    keep their letters (found by a query in that script)."""
    return _latin(name_key(*parts))


#: What a name search may hold besides letters and combining marks: digits, apostrophes,
#: hyphens and spaces. Anything else (``%``, ``_``, ``*``…) would not be part of a name.
_QUERY_EXTRA = _APOSTROPHE_VARIANTS | frozenset(_HYPHEN_VARIANTS + "-")


def _query_character(char: str) -> bool:
    return (
        _kind(char) in ("letter", "mark")
        or char.isdecimal()
        or char.isspace()
        or char in _QUERY_EXTRA
    )


def query_key(q: str) -> tuple[str, bool] | None:
    """Normalise a search query; return ``(key, is_latin)``, or ``None`` when the text holds
    a character no name holds (``%``, ``_``, ``*``…): it is taken literally, not as a
    wildcard, so it finds nothing.

    A query with Latin letters and no Cyrillic ones is compared with :func:`latin_key`
    (``Sevkiyeva`` and ``Şevkiyeva`` alike), any other with :func:`name_key`.
    """
    text = unicodedata.normalize("NFC", q)
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("must not contain control characters")
    if not any(unicodedata.category(char).startswith("L") for char in text):
        raise ValueError("must contain letters")
    if not all(_query_character(char) for char in text):
        return None
    key = _key(text.translate(_TO_STORED))
    scripts = {unicodedata.name(char, "").split(" ", 1)[0] for char in key if char.isalpha()}
    if not scripts:
        return None  # only apostrophes: nothing of a name to look for
    if "LATIN" in scripts and "CYRILLIC" not in scripts:
        return _latin(key), True
    return key, False
