"""The public API as psycopg and asyncpg users reach for it, through both adapters:
``execute(sql, *params)``, ``row_factory`` per call and per connection, the
query hook, ``timeout=`` on every call that talks to the server."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.rows import dict_row, namedtuple_row
from pgpipe.testing import TemporaryPostgres
from pgpipe.tracing import QueryEvent, log_queries
from tests.clients import Adapter


def dsn(server: TemporaryPostgres) -> str:
    return server.dsn(dbname="pgpipe")


# -- execute ------------------------------------------------------------------------


def test_execute_takes_parameters_as_psycopg_and_asyncpg_do(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    conn = adapter.connect(dsn(pg_server))
    conn.execute("CREATE TEMP TABLE t (id int, name text)")
    (inserted,) = conn.execute("INSERT INTO t VALUES ($1, $2)", 1, "a")
    assert inserted.status == "INSERT 0 1" and inserted.rowcount == 1
    # Without parameters, several statements in one text, one Result each.
    first, second = conn.execute("INSERT INTO t VALUES (2, 'b'); SELECT name FROM t ORDER BY id")
    assert first.rowcount == 1 and second.rows == [("a",), ("b",)]
    # With parameters, one statement: the count is checked as query() checks it.
    with pytest.raises(errors.ProgrammingError, match="2"):
        conn.execute("UPDATE t SET name = $1 WHERE id = $2", "z")
    assert conn.query("SELECT count(*) FROM t WHERE name = 'z'").scalar() == 0
    conn.close()


# -- row factories through the adapters ----------------------------------------------


def test_row_factory_per_call_and_per_connection(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    conn = adapter.connect(dsn(pg_server))
    sql = "SELECT 1 AS id, 'a' AS name"
    assert conn.query(sql).rows == [(1, "a")]
    assert conn.query(sql, row_factory=dict_row).one() == {"id": 1, "name": "a"}
    assert conn.query(sql).rows == [(1, "a")]  # per call: the next one is tuples again
    (result,) = conn.execute(sql, row_factory=dict_row)
    assert result.rows == [{"id": 1, "name": "a"}]
    many = conn.executemany("SELECT $1::int AS n", [(1,), (2,)], row_factory=dict_row)
    assert [r.one() for r in many] == [{"n": 1}, {"n": 2}]
    statement = conn.prepare("SELECT $1::int AS n")
    assert statement.query(5, row_factory=namedtuple_row).one().n == 5
    conn.conn.row_factory = dict_row  # on the adapter's own connection
    assert conn.query(sql).rows == [{"id": 1, "name": "a"}]
    assert statement.query(6).one() == {"n": 6}
    # The lookups pgpipe makes for itself are not affected.
    info = conn.register_type("int4")
    assert info.oid == 23
    conn.close()


def test_connect_takes_a_row_factory(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    conn = adapter.connect(dsn(pg_server), row_factory=dict_row, target_session_attrs="read-write")
    assert conn.row_factory is dict_row
    assert conn.query("SELECT 2 AS two").one() == {"two": 2}
    with conn.stream("SELECT g AS g FROM generate_series(1, 3) g", batch_size=2) as rows:
        assert list(rows) == [{"g": 1}, {"g": 2}, {"g": 3}]
    conn.close()


# -- the query hook -------------------------------------------------------------------


def test_the_query_hook_sees_every_command_but_never_a_parameter_value(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    events: list[QueryEvent] = []
    conn = adapter.connect(dsn(pg_server), query_hook=events.append)
    conn.query("SELECT $1::text", "s3cret")
    conn.execute("SELECT 1; SELECT 2")
    with pytest.raises(errors.DivisionByZero):
        conn.query("SELECT 1 / $1::int", 0)
    conn.executemany("SELECT $1::int, $2::int", [(1, 2), (3, 4), (5, 6)])
    assert [(e.sql, e.param_count, e.rowcount) for e in events] == [
        ("SELECT $1::text", 1, 1),
        ("SELECT 1; SELECT 2", 0, None),
        ("SELECT 1 / $1::int", 1, None),
        ("SELECT $1::int, $2::int", 2, None),
    ]
    assert isinstance(events[2].error, errors.DivisionByZero)
    assert all(e.error is None for i, e in enumerate(events) if i != 2)
    assert all(e.duration > 0 for e in events)
    assert "s3cret" not in repr(events)
    conn.conn.query_hook = None  # on the adapter's own connection
    conn.query("SELECT 1")
    assert len(events) == 4  # unset: no more calls
    conn.close()


def test_the_query_hook_sees_a_timeout(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    events: list[QueryEvent] = []
    conn = adapter.connect(dsn(pg_server), query_hook=events.append)
    with pytest.raises(errors.QueryTimeout):
        conn.query("SELECT pg_sleep(5)", timeout=0.2)
    assert len(events) == 1 and isinstance(events[0].error, errors.QueryTimeout)
    assert conn.query("SELECT 1").scalar() == 1  # back in sync
    conn.close()


def test_log_queries_writes_to_logging(
    adapter: Adapter, pg_server: TemporaryPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    conn = adapter.connect(dsn(pg_server), query_hook=log_queries())
    with caplog.at_level(logging.DEBUG, logger="pgpipe.queries"):
        conn.query("SELECT $1::int AS password_value", 424242)
        with pytest.raises(errors.UndefinedTable):
            conn.query("SELECT * FROM no_such_table")
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert messages[0][0] == logging.DEBUG
    assert "SELECT $1::int AS password_value" in messages[0][1] and "1 rows" in messages[0][1]
    assert "424242" not in messages[0][1]
    assert messages[1][0] == logging.WARNING and "no_such_table" in messages[1][1]
    conn.close()


# -- timeout= on every call that talks to the server -----------------------------------


@pytest.mark.parametrize("call", ["prepare", "register_type"])
def test_timeout_reaches_calls_that_read_the_catalog(
    adapter: Adapter, pg_server: TemporaryPostgres, call: str
) -> None:
    """With pg_type locked elsewhere, each call waits; its timeout= ends the wait and
    leaves the connection in sync."""
    conn = adapter.connect(dsn(pg_server))
    holder = pgpipe.connect(dsn(pg_server))
    holder.execute("BEGIN; LOCK TABLE pg_catalog.pg_type IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(errors.QueryTimeout):
            if call == "prepare":
                conn.prepare("SELECT typname FROM pg_catalog.pg_type", timeout=0.3)
            else:
                conn.register_type("int8", timeout=0.3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert conn.query("SELECT 1").scalar() == 1
    conn.close()


def _signature_has_timeout(method: Any) -> bool:
    import inspect

    return "timeout" in inspect.signature(method).parameters


def test_every_server_call_takes_timeout() -> None:
    for cls in (pgpipe.Connection, pgpipe.AsyncConnection):
        for name in (
            "query",
            "query_with_param_types",
            "execute",
            "executemany",
            "prepare",
            "stream",
            "pipeline",
            "transaction",
            "register_type",
        ):
            assert _signature_has_timeout(getattr(cls, name)), (cls, name)
    for cls in (pgpipe.sync.PreparedStatement, pgpipe.aio.AsyncPreparedStatement):
        assert _signature_has_timeout(cls.query) and _signature_has_timeout(cls.close)


# -- one way to state parameter types: param_types= -------------------------------


def test_param_types_on_every_call_that_takes_parameters(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    conn = adapter.connect(dsn(pg_server))
    int2 = pgpipe.Type.INT2
    # Stated, the server gets int2 where pgpipe would have inferred int4 from a small int.
    sql = "SELECT pg_typeof($1)::text"
    assert conn.query(sql, 5).scalar() == "integer"
    assert conn.query(sql, 5, param_types=[int2]).scalar() == "smallint"
    assert conn.query_with_param_types(sql, [(5, int2)]).scalar() == "smallint"
    (result,) = conn.execute(sql, 5, param_types=[int2])
    assert result.scalar() == "smallint"
    with conn.stream(sql, 5, param_types=[int2]) as rows:
        assert list(rows) == [("smallint",)]
    many = conn.executemany(sql, [(1,), (2,)], param_types=[int2])
    assert [r.scalar() for r in many] == ["smallint", "smallint"]
    assert conn.prepare(sql, param_types=[int2]).query(3).scalar() == "smallint"
    with conn.pipeline() as p:
        queued = p.query(sql, 5, param_types=[int2], row_factory=dict_row)
    assert queued.result().one() == {"pg_typeof": "smallint"}
    conn.close()


@pytest.mark.parametrize(
    ("values", "types", "error", "message"),
    [
        ((1,), [], errors.ProgrammingError, "1 parameter value given with 0 param_types"),
        ((1, 2), [pgpipe.Type.INT4], errors.ProgrammingError, "2 parameter values"),
        ((1,), "int4", errors.InterfaceError, "param_types"),
        ((1,), [None], errors.InterfaceError, "param_types"),
    ],
)
def test_param_types_that_do_not_fit_are_refused_before_anything_is_sent(
    adapter: Adapter,
    pg_server: TemporaryPostgres,
    values: tuple[object, ...],
    types: Any,
    error: type[Exception],
    message: str,
) -> None:
    conn = adapter.connect(dsn(pg_server))
    before = conn.stats.round_trips
    for call in (
        lambda: conn.query("SELECT $1::int", *values, param_types=types),
        lambda: conn.execute("SELECT $1::int", *values, param_types=types),
        lambda: conn.stream("SELECT $1::int", *values, param_types=types),
    ):
        with pytest.raises(error, match=message):
            call()
    assert conn.stats.round_trips == before
    assert conn.query("SELECT 1").scalar() == 1
    conn.close()
