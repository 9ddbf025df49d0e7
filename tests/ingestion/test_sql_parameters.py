"""`?` parameters on both warehouses: a `?` or `%` that is text (in a literal, a quoted name, a comment) stays text.

DuckDB binds `?` itself; for psycopg2 core.warehouse.format_placeholders turns each placeholder into `%s`
and doubles every other `%`. The same statements run on both targets through Connection and through the
API's helpers (api.db), and give the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.db import fetch_dicts, stream_rows, where_equal
from core.warehouse import Connection, Warehouse, format_placeholders

# Every kind of lexeme in which `?` and `%` are text, between three placeholders.
TRICKY = r"""
select '?' as q, '100%' as pct, 'it''s ?' as doubled, E'it\'s ?%' as escaped, $$?%$$ as dollar,
       $tag$ ?'% $tag$ as tagged, 'C:\' as backslash, ? as "ok?%", 'a%' || ? as joined -- a ? and a %
       /* a ? /* nested ? % */ still a comment ? */, ? + 1 as n
"""
TRICKY_PARAMS = (7, "?%", 41)
TRICKY_ROW = ("?", "100%", "it's ?", "it's ?%", "?%", " ?'% ", "C:\\", 7, "a%?%", 42)
TRICKY_COLUMNS = ["q", "pct", "doubled", "escaped", "dollar", "tagged", "backslash", "ok?%", "joined", "n"]
LABELS = {1: "what?", 2: "100%", 3: "%s", 4: "plain"}


@pytest.fixture
def conn(warehouse: Warehouse) -> Iterator[Connection]:
    """A connection to a fresh warehouse holding `probe` (id, label): LABELS, inserted through parameters."""
    connection = warehouse.connect()
    try:
        connection.execute("create table probe (id integer, label varchar)")
        for row in LABELS.items():
            connection.execute("insert into probe (id, label) values (?, ?)", row)
        yield connection
    finally:
        connection.close()


def test_placeholders_become_format_style_and_other_text_is_kept() -> None:
    assert format_placeholders("select '?', \"?\", ? -- ?\n") == "select '?', \"?\", %s -- ?\n"
    assert format_placeholders("select 7 % ?, '%s' /* % */") == "select 7 %% %s, '%%s' /* %% */"
    assert format_placeholders("select $t$?$t$, a$b$, ?, $1") == "select $t$?$t$, a$b$, %s, $1"
    assert format_placeholders("select /* /* ? */ ? */ ?") == "select /* /* ? */ ? */ %s"
    assert format_placeholders(r"select E'\'?', 'C:\', ?") == r"select E'\'?', 'C:\', %s"
    assert format_placeholders("select 'open ?") == "select 'open ?"  # the server reports the open literal


def test_literal_question_marks_and_percents_stay_text_while_parameters_bind(conn: Connection) -> None:
    columns, rows = conn.fetch(TRICKY, TRICKY_PARAMS)
    assert columns == TRICKY_COLUMNS
    assert rows == [TRICKY_ROW]
    assert conn.scalar("select ? || '?' || ? || '%'", ("a", "b")) == "a?b%"


def test_statement_without_parameters_is_sent_as_written(conn: Connection) -> None:
    assert conn.execute("select '?' as q, 7 % 4 as r, '%s' as s, '%(x)s' as t") == [("?", 3, "%s", "%(x)s")]


def test_values_holding_question_marks_and_percents_bind_as_values(conn: Connection) -> None:
    assert dict(conn.execute("select id, label from probe order by id")) == LABELS
    for wanted, label in LABELS.items():
        where, params = where_equal(label=label)
        assert fetch_dicts(conn, f"select id from probe{where}", params) == [{"id": wanted}]
    containing = "select id from probe where label like '%' || ? || '%' escape '!' order by id"
    assert conn.execute(containing, ("?",)) == [(1,)]
    assert conn.execute(containing, ("!%",)) == [(2,), (3,)]


def test_streamed_rows_keep_literals_and_bind_parameters(conn: Connection) -> None:
    statement = "select id, label, '?%' as lit from probe where id >= ? and label <> '?' order by id"
    batches = list(stream_rows(conn, statement, (2,), batch=2))
    assert batches == [[(2, "100%", "?%"), (3, "%s", "?%")], [(4, "plain", "?%")]]
    assert list(stream_rows(conn, TRICKY, TRICKY_PARAMS)) == [[TRICKY_ROW]]
