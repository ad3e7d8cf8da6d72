"""A national-sized list of surnames for ``bench/generate``: the demo seed's common surnames
plus tens of thousands of made-up but Ukrainian-shaped ones (a stem and a surname suffix).

The demo seed knows about 130 surnames; at a million families that makes every surname and
first name pair a few dozen Kyiv families, where the country has tens of thousands of
surnames and a common one is worn by about one person in a thousand. Name search's recall
and its candidate counts are measured against a realistic spread only with a realistic list:
here a person has one of the common surnames with ``COMMON_SHARE`` and otherwise one of
``RARE_SURNAMES`` made-up ones.
"""

from __future__ import annotations

import random
import re

from registry.demo.families import SURNAMES

#: How many people wear one of the demo seed's common surnames.
COMMON_SHARE = 0.15
#: How many made-up surnames the rest wear.
RARE_SURNAMES = 20_000

#: A stem is two syllables (onset and vowel), cut to 3–6 letters, closed by a consonant.
_ONSETS = "б в г д ж з к л м н п р с т ф х ц ч ш бр гр др кр пр тр хм шв".split()  # noqa: SIM905
_VOWELS = "а е и і о у".split()  # noqa: SIM905
_CODAS = "б в д ж з к л м н п р с т х ц ч ш льн рч шк вч нч".split()  # noqa: SIM905
#: Three consonants in a row read as a typo, not a name.
_CLUSTER = re.compile(r"[^аеєиіїоуюяь]{3}")
#: Surname suffixes after a stem that ends in a consonant.
_SUFFIXES = ("енко ук юк чук ишин ів ський цький ович ець ик ак ан няк ун ас ин ов ега ай").split()  # noqa: SIM905


def surnames(seed: int = 18) -> list[str]:
    """The common surnames first, then ``RARE_SURNAMES`` made-up ones, distinct from them
    and from each other (the same list for the same seed)."""
    rng = random.Random(seed)
    found = dict.fromkeys(SURNAMES)
    while len(found) < len(SURNAMES) + RARE_SURNAMES:
        stem = "".join(
            (rng.choice(_ONSETS), rng.choice(_VOWELS), rng.choice(_ONSETS), rng.choice(_VOWELS))
        )[: rng.choice((3, 4, 5, 6))]
        if stem[-1] in "аеиіоу":
            stem += rng.choice(_CODAS)
        surname = (stem + rng.choice(_SUFFIXES)).capitalize()
        if not _CLUSTER.search(surname.lower()):
            found.setdefault(surname)
    return list(found)
