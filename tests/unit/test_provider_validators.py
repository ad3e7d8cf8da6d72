"""Providers' identifiers (property-based) and register status rules, without the database.

Both check digits are a weighted sum mod 11 folded into one decimal digit, so a changed digit
is caught unless the fold hides it: a changed check digit always is; a changed digit elsewhere
is, except when the two sums differ only by what the fold maps to the same digit (0 and 10
for the RNOKPP; for the EDRPOU also its second round of weights, used when the first sum
leaves 10). The properties below state exactly that, against the published algorithm.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from stdnum.ua import edrpou, rntrc

from registry.domain.providers.rules import (
    TRANSITIONS,
    ProviderStatus,
    allowed_transitions,
    clean_provider,
    status_change_problems,
    validate_edrpou,
    validate_provider_rnokpp,
)
from registry.errors import InvalidInput

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def _edrpou_weights(first_digit: str) -> list[int]:
    return [7, 1, 2, 3, 4, 5, 6] if first_digit in "345" else [1, 2, 3, 4, 5, 6, 7]


def _edrpou_first_sum(base: str) -> int:
    return sum(w * int(d) for w, d in zip(_edrpou_weights(base[0]), base, strict=True)) % 11


def _rnokpp_sum(base: str) -> int:
    weights = (-1, 5, 7, 9, 4, 6, 10, 5, 7)
    return sum(w * int(d) for w, d in zip(weights, base, strict=True)) % 11


def _changed(number: str, position: int, digit: str) -> str:
    return number[:position] + digit + number[position + 1 :]


# --- EDRPOU ------------------------------------------------------------------------------------

edrpou_bases = st.text(alphabet="0123456789", min_size=7, max_size=7)


@given(edrpou_bases)
@example("3714843")  # weights of numbers starting 3, 4 or 5
@example("0000000")
def test_a_valid_edrpou_is_accepted(base):
    number = base + edrpou.calc_check_digit(base)
    assert validate_edrpou(number) == number
    assert validate_edrpou(f" {number[:4]} {number[4:]} ") == number


@given(edrpou_bases, st.integers(1, 9))
def test_an_edrpou_with_a_changed_check_digit_is_refused(base, shift):
    number = base + edrpou.calc_check_digit(base)
    with pytest.raises(ValueError, match="check digit"):
        validate_edrpou(_changed(number, 7, str((int(number[7]) + shift) % 10)))


@given(edrpou_bases, st.integers(0, 6), digits)
def test_an_edrpou_with_another_changed_digit_is_refused_unless_the_fold_hides_it(
    base, position, digit
):
    assume(digit != base[position])
    number = base + edrpou.calc_check_digit(base)
    changed_base = _changed(base, position, digit)
    # One weight set and both sums in the first round: the change moves the sum mod 11
    # (every weight is prime to 11), so the check digit moves.
    assume((base[0] in "345") == (changed_base[0] in "345"))
    assume(_edrpou_first_sum(base) < 10 and _edrpou_first_sum(changed_base) < 10)
    with pytest.raises(ValueError, match="check digit"):
        validate_edrpou(changed_base + number[7])


@pytest.mark.parametrize("value", ["1234567", "123456789", "1234567a", "", "3714843 3 3"])
def test_an_edrpou_must_be_8_digits(value):
    with pytest.raises(ValueError, match="8 digits"):
        validate_edrpou(value)


# --- an individual provider's RNOKPP -----------------------------------------------------------

rnokpp_bases = st.text(alphabet="0123456789", min_size=9, max_size=9)


@given(rnokpp_bases)
def test_a_valid_rnokpp_is_accepted_whatever_birth_date_it_encodes(base):
    number = base + rntrc.calc_check_digit(base)
    assert validate_provider_rnokpp(number) == number


@given(rnokpp_bases, st.integers(1, 9))
def test_an_rnokpp_with_a_changed_check_digit_is_refused(base, shift):
    number = base + rntrc.calc_check_digit(base)
    with pytest.raises(ValueError, match="check digit"):
        validate_provider_rnokpp(_changed(number, 9, str((int(number[9]) + shift) % 10)))


@given(rnokpp_bases, st.integers(0, 8), digits)
def test_an_rnokpp_with_another_changed_digit_is_refused_unless_the_fold_hides_it(
    base, position, digit
):
    assume(digit != base[position])
    number = base + rntrc.calc_check_digit(base)
    changed = _changed(number, position, digit)
    hidden = {_rnokpp_sum(base), _rnokpp_sum(changed[:9])} == {0, 10}
    if hidden:
        assert validate_provider_rnokpp(changed) == changed
    else:
        with pytest.raises(ValueError, match="check digit"):
            validate_provider_rnokpp(changed)


# --- the record --------------------------------------------------------------------------------


def _organisation(**overrides):
    base = "2000000"
    return {
        "kind": "organisation",
        "sector": "non_state",
        "edrpou": base + edrpou.calc_check_digit(base),
        "rnokpp": None,
        "full_name": "ГО «Дружня громада»",
        "short_name": None,
        **overrides,
    }


def _fields(error: pytest.ExceptionInfo[InvalidInput]) -> set[str]:
    return {problem.field for problem in error.value.errors}


def test_each_kind_has_its_own_identifier():
    rnokpp = rntrc.calc_check_digit("312345678")
    with pytest.raises(InvalidInput) as error:
        clean_provider(_organisation(edrpou=None, rnokpp="312345678" + rnokpp))
    assert _fields(error) == {"body.edrpou", "body.rnokpp"}
    with pytest.raises(InvalidInput) as error:
        clean_provider(_organisation(kind="natural_person", sector="communal"))
    assert _fields(error) == {"body.rnokpp", "body.edrpou", "body.sector"}


def test_every_problem_is_reported_at_once():
    offer = {"service_code": "002.0", "frequency": "periodic", "places": ["home"]}
    with pytest.raises(InvalidInput) as error:
        clean_provider(_organisation(edrpou="20000000", phone="12", services=[offer, offer]))
    assert _fields(error) == {"body.edrpou", "body.phone", "body.services.1.service_code"}


def test_the_name_key_joins_both_names_folded():
    cleaned = clean_provider(
        _organisation(full_name="Фонд «Обʼєднані»", short_name="БФ 'Обʼєднані'")
    )
    assert cleaned["name_key"] == "фонд «обєднані» бф обєднані"


# --- register status ---------------------------------------------------------------------------


def test_the_transitions_are_the_registers():
    assert {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets} == {
        ("pending", "active"),
        ("pending", "excluded"),
        ("active", "excluded"),
        ("excluded", "pending"),
    }
    assert allowed_transitions("active") == (ProviderStatus.EXCLUDED,)


def test_a_status_change_needs_a_reason_to_exclude_and_a_date_not_in_the_future():
    today = date(2025, 6, 1)
    assert status_change_problems("active", None, today, today) == []
    assert {
        p.field for p in status_change_problems("excluded", None, today + timedelta(days=1), today)
    } == {"body.reason", "body.effective_on"}
    assert [
        p.field for p in status_change_problems("pending", None, date(2019, 12, 31), today)
    ] == ["body.effective_on"]
