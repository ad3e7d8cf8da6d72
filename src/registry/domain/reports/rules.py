"""Pure rules of aggregate reports: the territorial levels a report is grouped by, and
small-cell suppression.

**Suppression.** A report is a table of counts: one row per territory, one column per
category, each row's total, each column's total and the grand total. A count from 1 to
``k - 1`` (``REGISTRY_REPORT_MIN_CELL``) could single out a family, so it is not published
(*primary* suppression; a total is a count too). Hiding it alone is not enough: a row's
total minus the row's published cells gives it back. So more cells are hidden
(*complementary* suppression) until no hidden count can be worked out exactly from what is
published, by any combination of row sums, column sums and the grand total.

The rule that decides it, and that ``protect`` reaches: write the table with its margins as
one grid in which every line sums to zero (a total enters its line negated). Every line's
sum is then known, and the hidden entries are the unknowns. Take the hidden entries as the
edges of a bipartite graph between the grid's rows and its columns. Adding ``t`` and
subtracting ``t`` alternately around a cycle of that graph changes no line's sum, so an
entry on a cycle can take other values without contradicting anything published; an entry
on no cycle (a *bridge*) is fixed by the line sums (the sum of one side's lines). So a table
is protected exactly when no hidden entry is a bridge. ``protect`` makes it so:

1. each line with exactly one hidden entry hides its smallest other entry (preferring a
   count above zero: a hidden zero bounds its neighbours from one side), to a fixed point;
2. then each hidden entry that is still a bridge — two protected parts joined by it — gets
   the smallest entry joining the two parts across, which closes a cycle through it.

Zero is published: it singles out no one, and hiding every zero would hide most of a sparse
table (service codes by hromada). What is protected is exact recovery from the linear
relations of one table; the README says what remains (tables of different levels read
together).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

#: The bounds of ``REGISTRY_REPORT_MIN_CELL``.
MIN_CELL_LOWEST = 2
MIN_CELL_HIGHEST = 100


class GroupBy(StrEnum):
    """The territorial level a report's rows are."""

    OBLAST = "oblast"
    RAION = "raion"
    HROMADA = "hromada"


#: From the coarsest level down.
LEVELS = (GroupBy.OBLAST, GroupBy.RAION, GroupBy.HROMADA)


def next_level_down(level: GroupBy | None) -> GroupBy:
    """The default grouping for a caller whose territory is at ``level`` (None: national):
    the level below it, or the hromada for a hromada's officer."""
    if level is None:
        return GroupBy.OBLAST
    return LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)]


def finer_or_same(group_by: GroupBy, level: GroupBy | None) -> bool:
    """Whether rows at ``group_by`` lie within a territory at ``level`` (a hromada's officer
    grouping by oblast would get a row named for the oblast counting only the hromada)."""
    return level is None or LEVELS.index(group_by) >= LEVELS.index(level)


@dataclass(frozen=True, slots=True)
class Protected:
    """A table after suppression. ``grid`` is the table with its margins: rows ``0..n-1``
    are the territories and row ``n`` the column totals; columns ``0..m-1`` the categories
    and column ``m`` the row totals; ``grid[n][m]`` the grand total. ``hidden`` marks what
    is not published."""

    grid: tuple[tuple[int, ...], ...]
    hidden: frozenset[tuple[int, int]]

    @property
    def row_count(self) -> int:
        return len(self.grid) - 1

    @property
    def column_count(self) -> int:
        return len(self.grid[0]) - 1

    def published(self, row: int, column: int) -> int | None:
        """The entry at (``row``, ``column``) of the grid, or None when it is hidden."""
        return None if (row, column) in self.hidden else self.grid[row][column]

    def cell(self, row: int, column: int) -> int | None:
        return self.published(row, column)

    def row_total(self, row: int) -> int | None:
        return self.published(row, self.column_count)

    def column_total(self, column: int) -> int | None:
        return self.published(self.row_count, column)

    @property
    def grand_total(self) -> int | None:
        return self.published(self.row_count, self.column_count)


def margins(
    cells: Sequence[Sequence[int]], row_totals: Sequence[int] | None = None
) -> tuple[tuple[int, ...], ...]:
    """``cells`` with a column of row totals and a row of column totals. ``row_totals`` are
    given when a row's total is not the sum of its cells (a family counted under each of its
    categories, and once in its row's total): suppression then treats them as if they were
    sums, which protects against more relations than hold."""
    if not cells:
        raise ValueError("a table needs at least one row")
    width = len(cells[0])
    if width == 0 or any(len(row) != width for row in cells):
        raise ValueError("every row needs the same number of cells, at least one")
    if any(value < 0 for row in cells for value in row):
        raise ValueError("counts are never negative")
    totals = [sum(row) for row in cells] if row_totals is None else list(row_totals)
    if len(totals) != len(cells):
        raise ValueError("one total per row")
    rows = [(*row, total) for row, total in zip(cells, totals, strict=True)]
    column_totals = tuple(sum(row[j] for row in rows) for j in range(width + 1))
    return (*rows, column_totals)


def protect(
    cells: Sequence[Sequence[int]], k: int, row_totals: Sequence[int] | None = None
) -> Protected:
    """``cells`` (one row per territory; at least one) with its margins, and what must be
    hidden so that no count from 1 to ``k - 1`` is published or can be worked out exactly
    from what is."""
    if not MIN_CELL_LOWEST <= k <= MIN_CELL_HIGHEST:
        raise ValueError(f"k must be from {MIN_CELL_LOWEST} to {MIN_CELL_HIGHEST}")
    grid = margins(cells, row_totals)
    hidden = {
        (i, j)
        for i, row in enumerate(grid)
        for j, value in enumerate(row)
        if 0 < value < k  # primary suppression
    }
    _Complement(grid, hidden).run()
    return Protected(grid, frozenset(hidden))


class _Complement:
    """Complementary suppression on a grid: hides entries until no hidden one is a bridge."""

    def __init__(self, grid: tuple[tuple[int, ...], ...], hidden: set[tuple[int, int]]) -> None:
        self.grid = grid
        self.hidden = hidden
        self.rows = len(grid)
        self.columns = len(grid[0])

    def run(self) -> None:
        while True:
            self._until_no_line_has_one()
            bridges = self._bridges()
            if not bridges:
                return
            for bridge in bridges:
                self._close_cycle_through(bridge)

    # --- step 1: no line with exactly one hidden entry ----------------------------------------

    def _line(self, line: tuple[str, int]) -> list[tuple[int, int]]:
        kind, index = line
        if kind == "row":
            return [(index, j) for j in range(self.columns)]
        return [(i, index) for i in range(self.rows)]

    def _until_no_line_has_one(self) -> None:
        lines = [("row", i) for i in range(self.rows)] + [
            ("column", j) for j in range(self.columns)
        ]
        pending = deque(lines)
        while pending:
            line = pending.popleft()
            entries = self._line(line)
            if sum(entry in self.hidden for entry in entries) != 1:
                continue
            choice = self._smallest(entry for entry in entries if entry not in self.hidden)
            if choice is None:
                continue  # a line of one entry (a table of no rows): nothing to pair it with
            self.hidden.add(choice)
            pending.extend((("row", choice[0]), ("column", choice[1])))

    def _smallest(self, entries: Iterable[tuple[int, int]]) -> tuple[int, int] | None:
        """The entry with the smallest count above zero, else a zero; ties by position (the
        same table is always hidden the same way)."""
        best: tuple[tuple[bool, int, tuple[int, int]], tuple[int, int]] | None = None
        for entry in entries:
            value = self.grid[entry[0]][entry[1]]
            key = (value == 0, value, entry)
            if best is None or key < best[0]:
                best = (key, entry)
        return None if best is None else best[1]

    # --- step 2: no bridge ----------------------------------------------------------------

    def _node_of_column(self, column: int) -> int:
        return self.rows + column

    def _adjacency(self) -> dict[int, list[tuple[int, tuple[int, int]]]]:
        adjacency: dict[int, list[tuple[int, tuple[int, int]]]] = {}
        for entry in self.hidden:
            row, column = entry[0], self._node_of_column(entry[1])
            adjacency.setdefault(row, []).append((column, entry))
            adjacency.setdefault(column, []).append((row, entry))
        return adjacency

    def _bridges(self) -> list[tuple[int, int]]:
        """The hidden entries on no cycle (Tarjan's bridges, iteratively: a national table
        of hromadas is deeper than Python's recursion)."""
        adjacency = self._adjacency()
        order: dict[int, int] = {}
        low: dict[int, int] = {}
        bridges: list[tuple[int, int]] = []
        for root in sorted(adjacency):
            if root in order:
                continue
            order[root] = low[root] = len(order)
            stack: list[tuple[int, tuple[int, int] | None, int]] = [(root, None, 0)]
            while stack:
                node, via, position = stack[-1]
                neighbours = adjacency[node]
                if position < len(neighbours):
                    stack[-1] = (node, via, position + 1)
                    neighbour, entry = neighbours[position]
                    if entry == via:
                        continue
                    if neighbour in order:
                        low[node] = min(low[node], order[neighbour])
                    else:
                        order[neighbour] = low[neighbour] = len(order)
                        stack.append((neighbour, entry, 0))
                    continue
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent] and via is not None:
                        bridges.append(via)
        return sorted(bridges)

    def _side(self, start: int, without: tuple[int, int]) -> set[int]:
        """The nodes reached from ``start`` over hidden entries other than ``without``."""
        adjacency = self._adjacency()
        seen = {start}
        pending = [start]
        while pending:
            node = pending.pop()
            for neighbour, entry in adjacency.get(node, []):
                if entry != without and neighbour not in seen:
                    seen.add(neighbour)
                    pending.append(neighbour)
        return seen

    def _close_cycle_through(self, bridge: tuple[int, int]) -> None:
        row_node, column_node = bridge[0], self._node_of_column(bridge[1])
        one_side = self._side(row_node, bridge)
        if column_node in one_side:
            return  # an entry hidden for an earlier bridge has closed a cycle through it
        other_side = self._side(column_node, bridge)
        crossing = (
            (i, j)
            for i in range(self.rows)
            for j in range(self.columns)
            if (i, j) not in self.hidden
            and (
                (i in one_side and self._node_of_column(j) in other_side)
                or (i in other_side and self._node_of_column(j) in one_side)
            )
        )
        choice = self._smallest(crossing)
        if choice is not None:
            self.hidden.add(choice)
            return
        # No entry joins the two sides across (cannot happen once every line has two hidden
        # entries, but never publish a bridge): hide the bridge's whole row and column.
        self.hidden.update((bridge[0], j) for j in range(self.columns))
        self.hidden.update((i, bridge[1]) for i in range(self.rows))
