"""Prepared statements and the statement cache: no Parse on reruns, Close to free, re-prepare.

Every scenario runs through both adapters (tests/clients.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.proxy import FlightCounter
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client

# A long comment makes a Parse easy to spot: it carries the SQL text, a Bind does not.
PADDING = "/* " + "p" * 2000 + " */"


@pytest.fixture
def proxy(pg_server: TemporaryPostgres) -> Iterator[FlightCounter]:
    with FlightCounter(pg_server.host, pg_server.port) as counter:
        yield counter


def connect(adapter: Adapter, proxy: FlightCounter, **options: object) -> Client:
    conn = adapter.connect(
        host="127.0.0.1",
        port=proxy.port,
        user="postgres",
        dbname="pgpipe",
        sslmode="disable",
        **options,
    )
    conn.query("SELECT 1")
    proxy.reset()
    return conn


def server_statements(conn: Client) -> list[str]:
    return sorted(name for (name,) in conn.query("SELECT name FROM pg_prepared_statements").rows)


def test_prepared_statement_runs_without_parse(adapter: Adapter, proxy: FlightCounter) -> None:
    conn = connect(adapter, proxy)
    statement = conn.prepare(f"SELECT $1::int + $2, $3::text {PADDING}")
    assert (proxy.client_flights, proxy.round_trips) == (1, 1)
    assert statement.param_types == (23, 23, 25)  # the server's inference
    assert statement.name in server_statements(conn)
    for n in range(3):
        proxy.reset()
        assert statement.query(n, 1, "x").rows == [(n + 1, "x")]
        assert (proxy.client_flights, proxy.round_trips) == (1, 1)
        assert proxy.bytes_from_client < 200  # Bind/Describe/Execute/Sync, no SQL text
    statement.close()
    assert statement.name not in server_statements(conn)
    with pytest.raises(pgpipe.InterfaceError, match="was closed"):
        statement.query(1, 2, "y")
    statement.close()  # harmless
    conn.close()


def test_stated_parameter_types_and_errors(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    with adapter.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        with conn.prepare("SELECT $1 + 1", param_types=[pgpipe.Type.INT8]) as statement:
            assert statement.query(2**40).rows == [(2**40 + 1,)]
            with pytest.raises(pgpipe.ProgrammingError, match="takes 1 parameter"):
                statement.query()
            with pytest.raises(errors.NumericValueOutOfRange):
                statement.query(2**63 - 1)
            assert statement.query(1).rows == [(2,)]
        with pytest.raises(errors.UndefinedTable):
            conn.prepare("SELECT * FROM no_such_table")
        assert conn.query("SELECT 1").rows == [(1,)]


def test_vanished_statement_is_prepared_again(adapter: Adapter, proxy: FlightCounter) -> None:
    conn = connect(adapter, proxy)
    statement = conn.prepare("SELECT $1::int * 2")
    # What a transaction-mode pooler does when it hands the session another server
    # connection: the statement is not there. Here it is removed by hand.
    conn.execute(f"DEALLOCATE {statement.name}")
    proxy.reset()
    assert statement.query(21).rows == [(42,)]
    # The error, then Close + Parse + Bind + Describe + Execute + Sync in one flight.
    assert (proxy.client_flights, proxy.round_trips) == (2, 2)
    proxy.reset()
    assert statement.query(5).rows == [(10,)]
    assert (proxy.client_flights, proxy.round_trips) == (1, 1)
    conn.close()


def test_vanished_statement_inside_a_transaction_is_an_error(
    adapter: Adapter,
    pg_server: TemporaryPostgres,
) -> None:
    with adapter.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        statement = conn.prepare("SELECT $1::int * 2")
        failed = pytest.raises(errors.InvalidSqlStatementName, match="only outside a transaction")
        with pytest.raises(errors.InFailedSqlTransaction), conn.transaction(), failed:
            conn.execute(f"DEALLOCATE {statement.name}")
            statement.query(1)
        assert conn.transaction_status == "I"
        assert statement.query(4).rows == [(8,)]  # outside: prepared again


def cached_sql(conn: Client) -> list[str]:
    """The statements prepared on the server (the listing query caches itself too)."""
    return [sql for (sql,) in conn.query("SELECT statement FROM pg_prepared_statements").rows]


def test_statement_cache(adapter: Adapter, proxy: FlightCounter) -> None:
    conn = connect(adapter, proxy, statement_cache_size=2)
    first = f"SELECT $1::int + 1 {PADDING}"
    assert conn.query(first, 1).rows == [(2,)]
    assert (proxy.client_flights, proxy.round_trips) == (1, 1)  # Parse rides along
    assert proxy.bytes_from_client > 2000
    proxy.reset()
    assert conn.query(first, 2).rows == [(3,)]
    assert (proxy.client_flights, proxy.round_trips) == (1, 1)
    assert proxy.bytes_from_client < 200  # no Parse
    assert first in cached_sql(conn)
    conn.query("SELECT 'b'")
    conn.query("SELECT 'c'")  # evicts: the Close goes with this query's flight
    prepared = cached_sql(conn)
    assert first not in prepared
    assert len(prepared) == 2
    proxy.reset()
    assert conn.query(first, 3).rows == [(4,)]  # parsed again
    assert proxy.bytes_from_client > 2000
    assert len(cached_sql(conn)) == 2
    conn.close()


def test_statement_cache_forgets_failed_statements(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    with adapter.connect(pg_server.dsn(dbname="pgpipe"), statement_cache_size=10) as conn:
        for _ in range(2):
            with pytest.raises(errors.UndefinedTable):
                conn.query("SELECT * FROM not_yet_there")
        conn.execute("CREATE TEMP TABLE not_yet_there (a int)")
        assert conn.query("SELECT count(*) FROM not_yet_there").rows == [(0,)]
        assert conn.query("SELECT $1::text", "ok").rows == [("ok",)]
        assert conn.query("SELECT $1::text", "again").rows == [("again",)]


def test_statement_cache_keeps_statements_that_failed_to_run(
    adapter: Adapter,
    pg_server: TemporaryPostgres,
) -> None:
    # Prepared, then failed at Execute: the statement is fine and stays cached
    # (forgetting it would leave it on the server and prepare a new one each time).
    with adapter.connect(pg_server.dsn(dbname="pgpipe"), statement_cache_size=4) as conn:
        conn.execute("CREATE TEMP TABLE once (n int PRIMARY KEY); INSERT INTO once VALUES (1)")
        for _ in range(5):  # the first run (with its Parse) fails too
            with pytest.raises(errors.UniqueViolation):
                conn.query("INSERT INTO once VALUES ($1)", 1)
        assert conn.query("INSERT INTO once VALUES ($1)", 2).rowcount == 1
        inserts = conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO once%'"
        )
        assert inserts[0].rows == [(1,)]


def test_a_statement_whose_parse_failed_earlier_in_a_pipeline(
    adapter: Adapter,
    pg_server: TemporaryPostgres,
) -> None:
    with adapter.connect(pg_server.dsn(dbname="pgpipe"), statement_cache_size=4) as conn:
        with conn.pipeline() as p:
            first = p.query("SELECT * FROM not_there_yet")
            second = p.query("SELECT * FROM not_there_yet")  # Bind only: cached
            third = p.query("SELECT 3")  # (the last statement would be retried)
        with pytest.raises(errors.UndefinedTable):
            first.result()
        with pytest.raises(errors.InvalidSqlStatementName, match=r"was never prepared.*Undefined"):
            second.result()
        assert third.result().rows == [(3,)]
        conn.execute("CREATE TEMP TABLE not_there_yet (a int)")
        assert conn.query("SELECT * FROM not_there_yet").rows == []  # prepared anew
        assert server_statements(conn) != []


def test_statement_cache_is_unchanged_by_a_statement_that_cannot_be_sent(
    adapter: Adapter,
    pg_server: TemporaryPostgres,
) -> None:
    with adapter.connect(pg_server.dsn(dbname="pgpipe"), statement_cache_size=1) as conn:
        listed = "SELECT name FROM pg_prepared_statements"  # simple protocol: not cached
        assert conn.query("SELECT 1::int").rows == [(1,)]
        before = conn.execute(listed)[0].rows
        with pytest.raises(pgpipe.InterfaceError, match="NUL"):
            conn.query("SELECT 2 -- \x00")
        assert conn.query("SELECT 1::int").rows == [(1,)]  # still cached: no new Parse
        assert conn.execute(listed)[0].rows == before


def test_statement_cache_is_off_by_default(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    with adapter.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        conn.query("SELECT 1")
        conn.query("SELECT 1")
        assert server_statements(conn) == []
    with pytest.raises(pgpipe.InterfaceError, match="statement_cache_size"):
        adapter.connect(pg_server.dsn(dbname="pgpipe"), statement_cache_size=-1)


def test_a_prepared_statement_block_beside_the_statement_cache(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    conn = adapter.connect(pg_server.dsn(dbname="pgpipe"), statement_cache_size=4)
    with conn.prepare("SELECT $1::text || '!'") as statement:
        assert statement.query("hi").rows == [("hi!",)]
        conn.execute(f"DEALLOCATE {statement.name}")
        assert statement.query("again").rows == [("again!",)]
    for n in range(6):
        assert conn.query(f"SELECT {n}, $1::int", n).rows == [(n, n)]
    rows = conn.query("SELECT count(*) FROM pg_prepared_statements").rows
    assert rows == [(4,)]
    conn.close()
