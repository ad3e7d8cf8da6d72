"""The name search rule: words normalised, matched within a few edits, by transliteration or
as a prefix, each query word to a different name word, ranked best first."""

from __future__ import annotations

import pytest

from registry.domain.families.rules import (
    Rank,
    deletions,
    dictionary_entries,
    edit_distance,
    edit_limit,
    latin_forms,
    match_person,
    match_word,
    name_words,
    query_words,
    search_word,
)

IVANENKO = name_words("іваненко петро олегович")
SHEVCHENKO = name_words("шевченко тарас григорович")


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("ІВАНЕНКО", "іваненко"),
        ("Ивaненко", "иваненко"),  # a Latin а among Cyrillic letters
        ("Ivаnenko", "ivanenko"),  # a Cyrillic а among Latin letters
        ("Соловйов'", "соловйов"),
        ("Пʼятниця", "пятниця"),
        ("П’ятниця", "пятниця"),
        ("Сэмён", "семен"),  # Russian letters as Ukrainian writes them
        ("Объедков", "обедков"),
        ("Ševčenko", "sevcenko"),
        ("Kuzʹmenko", "kuzmenko"),  # ISO 9 writes the soft sign ʹ
    ],
)
def test_a_word_is_normalised(typed, normalised):
    assert search_word(typed) == normalised


def test_a_query_splits_into_words_at_spaces_and_hyphens():
    assert query_words("  Квітка - Основʼяненко  Григорій ") == [
        "квітка",
        "основяненко",
        "григорій",
    ]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("іваненко", "іваненко", 0),
        ("іваннеко", "іваненко", 1),  # neighbours swapped: one edit
        ("іванеко", "іваненко", 1),  # a letter dropped
        ("іваненкко", "іваненко", 1),  # a letter added
        ("іваненка", "іваненко", 1),  # a letter wrong
        ("ca", "abc", 3),  # optimal string alignment: no edit of a swapped pair
        ("", "abc", 3),
    ],
)
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


def test_long_words_tolerate_two_edits_and_short_ones_one():
    assert edit_limit("петро", "петра") == 1
    assert edit_limit("олегович", "олегвич") == 2
    assert match_word("пенто", "петро") is None  # two edits in a short word
    assert match_word("олгеовч", "олегович") is not None  # two edits in a long one
    assert match_word("олгеоч", "олегович") is None  # three


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("шевченко", ("shevchenko", "sevcenko")),
        ("галина", ("halyna", "galina")),
        ("юрій", ("yurii", "urij", "yuriy")),
        ("smith", ()),
    ],
)
def test_latin_forms(word, forms):
    assert latin_forms(word) == forms


def test_two_words_within_the_limit_share_a_deletion():
    for a, b in [("іваннеко", "іваненко"), ("петро", "петра"), ("олгеовч", "олегович")]:
        assert ({a} | deletions(a)) & ({b} | deletions(b))
    assert deletions("іван") == {"ван", "іан", "івн", "іва"}
    assert "аненко" in deletions("іваненко")  # two deleted from a long word
    assert "нко" not in deletions("іванко")


@pytest.mark.parametrize(
    ("q", "words", "rank"),
    [
        ("Іваненко", IVANENKO, Rank(0, 0, 0)),
        ("Іваннеко", IVANENKO, Rank(0, 1, 1)),  # swapped neighbours
        ("Іванеко", IVANENKO, Rank(0, 1, 1)),  # a letter dropped
        ("Іваненка", IVANENKO, Rank(0, 1, 1)),  # a letter wrong
        ("Ивaненко", IVANENKO, Rank(0, 1, 1)),  # a Latin look-alike, Russian и
        ("Іvаненко", IVANENKO, Rank(0, 1, 1)),
        ("Ševčenko", SHEVCHENKO, Rank(0, 0, 0)),  # scholarly Latin
        ("Shevchenko Taras", SHEVCHENKO, Rank(0, 0, 0)),  # the 2010 standard
        ("Taras Shevcenko", SHEVCHENKO, Rank(0, 1, 1)),
        ("Petro Ivanenko", IVANENKO, Rank(0, 0, 0)),
        ("Петро Іваненко", IVANENKO, Rank(0, 0, 0)),  # any order
        ("Іван", IVANENKO, Rank(1, 0, 1)),  # a surname cut short
        ("Іваненко Олег", IVANENKO, Rank(1, 0, 1)),
    ],
)
def test_a_person_matches(q, words, rank):
    assert match_person(query_words(q), words) == rank


@pytest.mark.parametrize(
    ("q", "words"),
    [
        ("Петренко", IVANENKO),
        ("Ів", IVANENKO),  # too short to be a prefix
        ("Іваненко Іваненко", IVANENKO),  # each query word needs a name word of its own
        ("Іваненко Петро Олегович Тарас", IVANENKO),
        ("Ivanenko Marko", IVANENKO),
        ("", IVANENKO),
    ],
)
def test_a_person_does_not_match(q, words):
    assert match_person(query_words(q), words) is None


def test_each_query_word_takes_a_different_name_word():
    # "Іваненко Іваненко" matches only a person with the word twice
    assert match_person(query_words("Іваненко Іваненко"), name_words("іваненко іваненко")) == (
        Rank(0, 0, 0)
    )


def test_full_matches_rank_above_prefixes_then_by_edits_then_exact_ones():
    ranks = [
        match_person(query_words("Іван"), name_words(key))
        for key in ("іваненко петро", "іванов петро", "івана петро", "іван петро")
    ]
    assert ranks == [Rank(1, 0, 1), Rank(1, 0, 1), Rank(0, 1, 1), Rank(0, 0, 0)]
    assert sorted(ranks)[0] == Rank(0, 0, 0)
    assert sorted(ranks)[1] == Rank(0, 1, 1)


def test_the_dictionary_holds_each_word_s_forms_and_their_neighbourhoods():
    forms, neighbourhood = dictionary_entries(["шевченко", "şevkiyeva"])
    assert forms == [
        ("шевченко", "шевченко"),
        ("shevchenko", "шевченко"),
        ("sevcenko", "шевченко"),
        ("sevkiyeva", "şevkiyeva"),  # a Latin word by its letters without marks
    ]
    assert ("шевчено", "шевченко") in neighbourhood
    assert ("hevchnko", "shevchenko") in neighbourhood  # two deleted from a long form
    assert ("evkiyeva", "sevkiyeva") in neighbourhood
    assert len(neighbourhood) == len(set(neighbourhood))
