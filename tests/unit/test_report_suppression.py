"""Small-cell suppression of aggregate reports (``domain.reports.rules``): every count below k
is hidden, and an attacker who knows every published cell and total cannot work out any
hidden one exactly.

The attacker here is independent of the suppression's own reasoning (bridges of a graph): it
writes every relation a reader has — each row's cells sum to the row's total, each column's
to the column's total, the totals to the grand total — as linear equations in the hidden
entries, and solves them by exact Gaussian elimination. A hidden entry is recovered when its
value is the same in every solution.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.domain.reports.rules import (
    GroupBy,
    Protected,
    finer_or_same,
    margins,
    next_level_down,
    protect,
)

# --- the attacker --------------------------------------------------------------------------


def _equations(table: Protected) -> tuple[list[tuple[int, int]], list[list[Fraction]]]:
    """The hidden entries, and one equation per line of the table with its margins:
    coefficients over the hidden entries and, last, the known right-hand side."""
    grid = table.grid
    unknowns = sorted(table.hidden)
    index = {entry: i for i, entry in enumerate(unknowns)}
    rows, columns = len(grid), len(grid[0])
    lines = [[(i, j) for j in range(columns)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(columns)]
    equations = []
    for line in lines:
        # cells (and the totals' row/column cells) minus the line's total is zero
        total = line[-1]
        equation = [Fraction(0)] * (len(unknowns) + 1)
        for entry in line:
            sign = -1 if entry == total else 1
            if entry in index:
                equation[index[entry]] += sign
            else:
                equation[-1] -= sign * grid[entry[0]][entry[1]]
        equations.append(equation)
    return unknowns, equations


def _reduce(equations: list[list[Fraction]], width: int) -> list[list[Fraction]]:
    """Reduced row echelon form of the equations (exact)."""
    rows = [row[:] for row in equations]
    pivot_row = 0
    for column in range(width):
        pivot = next((r for r in range(pivot_row, len(rows)) if rows[r][column] != 0), None)
        if pivot is None:
            continue
        rows[pivot_row], rows[pivot] = rows[pivot], rows[pivot_row]
        lead = rows[pivot_row][column]
        rows[pivot_row] = [value / lead for value in rows[pivot_row]]
        for r in range(len(rows)):
            if r != pivot_row and rows[r][column] != 0:
                factor = rows[r][column]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[pivot_row], strict=True)]
        pivot_row += 1
    return rows[:pivot_row]


def recovered(table: Protected) -> dict[tuple[int, int], Fraction]:
    """Every hidden entry the published figures fix, with the value they fix it to: a row of
    the reduced system that names a single unknown."""
    unknowns, equations = _equations(table)
    if not unknowns:
        return {}
    found = {}
    for row in _reduce(equations, len(unknowns)):
        named = [i for i, value in enumerate(row[:-1]) if value != 0]
        if len(named) == 1:
            found[unknowns[named[0]]] = row[-1] / row[named[0]]
    return found


def hidden_counts(table: Protected, k: int) -> set[tuple[int, int]]:
    return {
        (i, j) for i, row in enumerate(table.grid) for j, value in enumerate(row) if 0 < value < k
    }


# --- the attacker works -----------------------------------------------------------------------


def test_the_attacker_recovers_a_cell_hidden_alone() -> None:
    """Primary suppression alone: the row's total gives the hidden cell back (the attacker
    is not blind; the tests below would prove nothing otherwise)."""
    table = Protected(margins([[2, 10, 20], [30, 40, 50]]), frozenset({(0, 0)}))
    assert recovered(table) == {(0, 0): 2}


def test_the_attacker_recovers_a_bridge_between_two_protected_blocks() -> None:
    """Every line with a hidden entry has two, yet the entry joining two cycles is fixed."""
    grid = margins([[7, 7, 30, 30], [7, 7, 30, 30], [30, 30, 7, 7], [30, 30, 7, 7]])
    cycles = {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3)}
    table = Protected(grid, frozenset(cycles | {(1, 2)}))
    assert recovered(table) == {(1, 2): 30}


# --- suppression -----------------------------------------------------------------------------


def test_nothing_hidden_when_every_count_is_large_or_zero() -> None:
    table = protect([[12, 0, 30], [40, 5, 9]], k=5)
    assert table.hidden == frozenset()
    assert table.cell(0, 1) == 0
    assert table.row_total(0) == 42
    assert table.column_total(2) == 39
    assert table.grand_total == 96


def test_a_small_cell_is_hidden_with_its_complements_and_cannot_be_recovered() -> None:
    table = protect([[2, 10, 20], [30, 40, 50], [60, 70, 80]], k=5)
    assert (0, 0) in table.hidden
    # its row and its column each hide another entry
    assert sum((0, j) in table.hidden for j in range(4)) >= 2
    assert sum((i, 0) in table.hidden for i in range(4)) >= 2
    assert recovered(table) == {}
    # the complement chosen is the smallest in the line: 10 in the row, 30 in the column
    assert (0, 1) in table.hidden
    assert (1, 0) in table.hidden


def test_a_small_total_is_hidden_too() -> None:
    table = protect([[1, 1, 1], [40, 50, 60]], k=5)
    assert table.row_total(0) is None
    assert table.cell(0, 0) is None
    assert recovered(table) == {}


def test_one_row_hides_its_column_totals_which_equal_its_cells() -> None:
    """A hromada's officer sees one row: each column's total is that row's cell."""
    table = protect([[3, 40, 50]], k=5)
    assert table.cell(0, 0) is None
    assert table.column_total(0) is None
    assert recovered(table) == {}


def test_one_column_hides_a_second_row_and_the_totals_that_give_it() -> None:
    table = protect([[3], [40], [50]], k=5)
    assert table.cell(0, 0) is None
    assert table.row_total(0) is None
    assert recovered(table) == {}
    assert table.grand_total is not None or (2, 1) in table.hidden


def test_given_row_totals_are_protected_as_if_they_were_sums() -> None:
    """Families counted under each of their categories: the row's total is the number of
    families, not the sum. Treating it as a sum hides at least what the true relations need."""
    table = protect([[3, 30, 40], [20, 25, 30]], k=5, row_totals=[60, 60])
    assert table.cell(0, 0) is None
    assert table.row_total(0) == 60 or (0, 3) in table.hidden
    assert recovered(table) == {}


def test_the_same_table_is_always_hidden_the_same_way() -> None:
    cells = [[3, 9, 9, 2], [9, 3, 2, 9], [8, 8, 8, 8]]
    assert protect(cells, k=5) == protect(cells, k=5)


def test_k_outside_its_range_is_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        protect([[1]], k=1)
    with pytest.raises(ValueError, match="k must be"):
        protect([[1]], k=101)


def test_a_table_of_no_rows_or_ragged_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one row"):
        protect([], k=5)
    with pytest.raises(ValueError, match="same number"):
        protect([[1, 2], [3]], k=5)


# --- properties ------------------------------------------------------------------------------

_COUNTS = st.one_of(st.integers(0, 6), st.integers(0, 60))


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[list[int]], int]:
    rows = draw(st.integers(1, 6))
    columns = draw(st.integers(1, 6))
    cells = [[draw(_COUNTS) for _ in range(columns)] for _ in range(rows)]
    return cells, draw(st.integers(2, 10))


@settings(max_examples=300, deadline=None)
@given(_tables())
def test_no_count_below_k_is_published_and_no_hidden_one_is_recovered(
    drawn: tuple[list[list[int]], int],
) -> None:
    cells, k = drawn
    table = protect(cells, k)
    assert hidden_counts(table, k) <= table.hidden
    assert recovered(table) == {}


@settings(max_examples=200, deadline=None)
@given(_tables())
def test_what_is_published_is_the_true_figure(drawn: tuple[list[list[int]], int]) -> None:
    cells, k = drawn
    table = protect(cells, k)
    for i, row in enumerate(cells):
        for j, value in enumerate(row):
            assert table.cell(i, j) in (value, None)
        assert table.row_total(i) in (sum(row), None)
    grand = sum(map(sum, cells))
    assert table.grand_total in (grand, None)


# --- levels ------------------------------------------------------------------------------------


def test_the_default_grouping_is_the_level_below_the_callers() -> None:
    assert next_level_down(None) is GroupBy.OBLAST
    assert next_level_down(GroupBy.OBLAST) is GroupBy.RAION
    assert next_level_down(GroupBy.RAION) is GroupBy.HROMADA
    assert next_level_down(GroupBy.HROMADA) is GroupBy.HROMADA


def test_grouping_above_the_callers_territory_is_not_within_it() -> None:
    assert finer_or_same(GroupBy.OBLAST, None)
    assert finer_or_same(GroupBy.HROMADA, GroupBy.OBLAST)
    assert not finer_or_same(GroupBy.OBLAST, GroupBy.HROMADA)
    assert not finer_or_same(GroupBy.RAION, GroupBy.HROMADA)
