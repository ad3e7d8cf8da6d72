"""What each value pattern of the API means, in words: a 422 tells the caller what a field
takes ("must be an RNOKPP: ten digits"), never the regular expression it failed.

A pattern is given its words where it is declared (``pattern=worded(RNOKPP, "…")``); the
problem renderer looks them up by the pattern Pydantic reports. A test holds every pattern
of the OpenAPI document to have words."""

from __future__ import annotations

_WORDS: dict[str, str] = {}

#: Said of a pattern nobody gave words to (a test keeps this from happening).
UNWORDED = "is not in the form this field takes"


def worded(pattern: str, words: str) -> str:
    """``pattern``, remembered with what it means (``words`` completes "the field …")."""
    known = _WORDS.setdefault(pattern, words)
    if known != words:
        raise ValueError(f"The pattern {pattern!r} is already worded as {known!r}.")
    return pattern


def words_for(pattern: str) -> str:
    return _WORDS.get(pattern, UNWORDED)


def has_words(pattern: str) -> bool:
    return pattern in _WORDS
