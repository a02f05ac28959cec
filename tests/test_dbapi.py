"""pgpipe.dbapi and pgpipe.dbapi_async beyond the compliance suite: implicit
transactions and their settings, round trips, server-side cursors, row
factories, ``with`` blocks, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import pgpipe.dbapi as dbapi
import pgpipe.dbapi_async as dbapi_async
from pgpipe.rows import dict_row
from pgpipe.testing import TemporaryPostgres


@pytest.fixture
def conn(pg_server: TemporaryPostgres) -> Iterator[dbapi.Connection]:
    connection = dbapi.connect(pg_server.dsn(dbname="pgpipe"))
    yield connection
    connection.close()


def round_trips(connection: dbapi.Connection) -> int:
    return connection.native.stats.round_trips


def test_a_transaction_begins_with_the_first_statement_in_the_same_round_trip(
    conn: dbapi.Connection,
) -> None:
    cur = conn.cursor()
    before = round_trips(conn)
    cur.execute("SELECT %s::int + 1", (41,))
    assert round_trips(conn) == before + 1  # BEGIN and the statement: one flight
    assert cur.fetchone() == (42,)
    assert conn.native.transaction_status == "T"
    conn.rollback()
    assert conn.native.transaction_status == "I"


def test_commit_keeps_and_rollback_drops(
    conn: dbapi.Connection, pg_server: TemporaryPostgres
) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TEMP TABLE kept (n int)")
    conn.commit()
    cur.execute("INSERT INTO kept VALUES (%s)", (1,))
    conn.rollback()
    cur.execute("INSERT INTO kept VALUES (%s)", (2,))
    conn.commit()
    cur.execute("SELECT n FROM kept")
    assert cur.fetchall() == [(2,)]


def test_autocommit_sends_no_begin(conn: dbapi.Connection) -> None:
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert conn.native.transaction_status == "I"
    conn.autocommit = False
    cur.execute("SELECT 1")
    assert conn.native.transaction_status == "T"
    with pytest.raises(dbapi.ProgrammingError, match="inside a transaction"):
        conn.autocommit = True


def test_isolation_read_only_and_deferrable_apply_to_the_next_transaction(
    conn: dbapi.Connection,
) -> None:
    conn.isolation_level = "serializable"
    conn.read_only = True
    conn.deferrable = True
    cur = conn.cursor()
    cur.execute(
        "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'),"
        " current_setting('transaction_deferrable')"
    )
    assert cur.fetchone() == ("serializable", "on", "on")
    with pytest.raises(dbapi.errors.ReadOnlySqlTransaction):
        cur.execute("CREATE TEMP TABLE nope (n int)")
    conn.rollback()


def test_a_failed_statement_leaves_the_transaction_failed_until_rollback(
    conn: dbapi.Connection,
) -> None:
    cur = conn.cursor()
    with pytest.raises(dbapi.ProgrammingError):
        cur.execute("SELECT * FROM no_such_table")
    assert conn.native.transaction_status == "E"
    with pytest.raises(dbapi.InternalError):  # InFailedSqlTransaction
        cur.execute("SELECT 1")
    conn.rollback()
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)


def test_executemany_is_one_round_trip_inside_the_transaction(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TEMP TABLE many (n int, s text)")
    before = round_trips(conn)
    cur.executemany(
        "INSERT INTO many VALUES (%(n)s, %(s)s)", [{"n": i, "s": str(i)} for i in range(500)]
    )
    assert round_trips(conn) == before + 1
    assert cur.rowcount == 500
    cur.execute("SELECT count(*), sum(n) FROM many")
    assert cur.fetchone() == (500, sum(range(500)))


def test_the_with_block_commits_or_rolls_back_and_closes(pg_server: TemporaryPostgres) -> None:
    dsn = pg_server.dsn(dbname="pgpipe")
    with dbapi.connect(dsn) as setup:
        setup.cursor().execute("CREATE TABLE IF NOT EXISTS dbapi_with (n int)")
    with dbapi.connect(dsn) as first:
        first.cursor().execute("INSERT INTO dbapi_with VALUES (1)")
    assert first.closed
    with pytest.raises(RuntimeError), dbapi.connect(dsn) as second:
        second.cursor().execute("INSERT INTO dbapi_with VALUES (2)")
        raise RuntimeError("the block fails")
    with dbapi.connect(dsn) as check:
        cur = check.cursor()
        cur.execute("SELECT n FROM dbapi_with")
        assert cur.fetchall() == [(1,)]
        cur.execute("DROP TABLE dbapi_with")


def test_a_server_side_cursor_streams_in_batches(conn: dbapi.Connection) -> None:
    cur = conn.cursor("big")
    cur.itersize = 1000
    cur.execute("SELECT g, repeat('x', 100) FROM generate_series(1, %s) g", (25_000,))
    assert cur.description is not None and cur.description[0][0] == "g"
    first = cur.fetchmany(10)
    assert [row[0] for row in first] == list(range(1, 11))
    # Rows come from the server a batch at a time, never all at once.
    assert len(cur._rows) <= 1000
    total = 10
    for row in cur:
        total += 1
        assert len(cur._rows) <= 1000
        assert row[0] == total
    assert total == 25_000 and cur.rowcount == 25_000
    cur.close()
    conn.commit()


def test_a_server_side_cursor_in_autocommit_is_held(conn: dbapi.Connection) -> None:
    conn.autocommit = True
    cur = conn.cursor("held")
    cur.execute("SELECT generate_series(1, 5)")
    assert cur.fetchall() == [(1,), (2,), (3,), (4,), (5,)]
    cur.close()
    assert conn.native.transaction_status == "I"


def test_row_factories_per_cursor_and_per_connection(pg_server: TemporaryPostgres) -> None:
    conn = dbapi.connect(pg_server.dsn(dbname="pgpipe"), row_factory=dict_row)
    cur = conn.cursor()
    cur.execute("SELECT 1 AS a, %s AS b", ("x",))
    assert cur.fetchone() == {"a": 1, "b": "x"}
    plain = conn.native.query("SELECT 1 AS a")
    assert plain.rows == [{"a": 1}]
    conn.close()


def test_description_and_type_objects(conn: dbapi.Connection) -> None:
    cur = conn.cursor()
    cur.execute(
        "SELECT 1::int4 AS i, 'x'::varchar(20) AS v, 1.5::numeric(10, 3) AS n,"
        " now() AS t, '\\x00'::bytea AS b"
    )
    assert cur.description is not None
    names = [d[0] for d in cur.description]
    assert names == ["i", "v", "n", "t", "b"]
    i, v, n, t, b = cur.description
    assert i[1] == dbapi.NUMBER and v[1] == dbapi.STRING and t[1] == dbapi.DATETIME
    assert b[1] == dbapi.BINARY and n[1] == dbapi.NUMBER and n[4:6] == (10, 3)
    assert v[3] == 20
    assert i[1] != dbapi.STRING
    cur.execute("CREATE TEMP TABLE d (n int)")
    assert cur.description is None
    with pytest.raises(dbapi.ProgrammingError, match="no rows"):
        cur.fetchone()


def test_parameters_that_do_not_fit_are_refused_before_anything_is_sent(
    conn: dbapi.Connection,
) -> None:
    cur = conn.cursor()
    before = round_trips(conn)
    with pytest.raises(dbapi.ProgrammingError):
        cur.execute("SELECT %s, %s", (1,))
    with pytest.raises(dbapi.ProgrammingError):
        cur.execute("SELECT %(a)s", {"b": 1})
    assert round_trips(conn) == before
    assert conn.native.transaction_status == "I"


def test_the_asyncio_form(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        conn = await dbapi_async.connect(pg_server.dsn(dbname="pgpipe"))
        async with conn:
            cur = conn.cursor()
            await cur.execute("SELECT %s::int + 1 AS n", (41,))
            assert cur.description is not None and cur.description[0][0] == "n"
            assert await cur.fetchone() == (42,)
            assert conn.native.transaction_status == "T"
            await cur.executemany("SELECT %s", [(1,), (2,)])
            server = conn.cursor("s")
            await server.execute("SELECT generate_series(1, 3)")
            assert [row async for row in server] == [(1,), (2,), (3,)]
            await server.close()
        assert conn.closed

    asyncio.run(main())
