"""Random draws for the row generators of ``bench/generate``, cheaper than ``random.Random``'s.

``choice``, ``randint`` and ``choices`` cost 0.5–4 µs a call (rejection sampling, argument
handling); generating a million families takes tens of millions of draws, so that was a large
part of the generating time. One ``random()`` scaled to the range does the same job for load
data (its bias, below 2⁻⁴⁰, does not matter here) in about 0.2 µs.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """``rng.choice(items)``."""
    return items[int(rng.random() * len(items))]


def between(rng: random.Random, least: int, most: int) -> int:
    """``rng.randint(least, most)``: both ends included."""
    return least + int(rng.random() * (most - least + 1))


def weighted(rng: random.Random, items: Sequence[T], cumulative: Sequence[float]) -> T:
    """``rng.choices(items, cum_weights=cumulative)[0]``."""
    return items[bisect(cumulative, rng.random() * cumulative[-1])]
