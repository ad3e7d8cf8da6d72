"""Constants written into a compiled statement's SQL (``db.statements.in_constants``)."""

from __future__ import annotations

import pytest
from sqlalchemy import column, select

from registry.db.statements import compile_statement, in_constants


def test_constants_are_written_into_the_sql_so_the_statement_can_be_prepared():
    compiled = compile_statement(select(column("id")).where(in_constants(column("s"), ["b", "a"])))
    assert "IN ('a', 'b')" in compiled.sql
    assert "POSTCOMPILE" not in compiled.sql
    assert compiled.names == ()


@pytest.mark.parametrize("value", ["a'; DROP TABLE x; --", "Active", "", "a b", "о"])
def test_anything_but_a_lower_case_word_is_refused(value):
    with pytest.raises(ValueError, match="lower-case constants"):
        in_constants(column("s"), ["open", value])
