"""stream(): rows as they arrive, bounded memory, early stops that leave the connection in sync."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.proxy import FlightCounter
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client


@pytest.fixture
def client(adapter: Adapter, dsn: str) -> Client:
    return adapter.connect(dsn)


def take(
    client: Client, sql: str, *params: object, stop: int | None = None, **kw: Any
) -> list[Any]:
    """Up to ``stop`` rows of ``conn.stream(...)``, through either adapter; closes early."""
    out = []
    with client.stream(sql, *params, **kw) as rows:
        for row in rows:
            if stop is not None and len(out) == stop:
                break
            out.append(row)
    return out


def assert_in_sync(client: Client) -> None:
    assert client.query("SELECT $1::text, 7", "next").rows == [("next", 7)]
    assert client.transaction_status == "I"


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_every_row_in_order(client: Client, batch_size: int) -> None:
    rows = take(
        client, "SELECT g, g::text FROM generate_series(1, $1::int) g", 2500, batch_size=batch_size
    )
    assert rows == [(g, str(g)) for g in range(1, 2501)]
    assert_in_sync(client)


def test_stopping_early_leaves_the_connection_in_sync(client: Client) -> None:
    rows = take(client, "SELECT generate_series(1, 10000000)", stop=1500, batch_size=500)
    assert rows == [(g,) for g in range(1, 1501)]
    assert_in_sync(client)


def test_another_command_ends_an_open_stream(pg_server: TemporaryPostgres) -> None:
    conn = pgpipe.connect(pg_server.dsn(dbname="pgpipe"))
    rows = conn.stream("SELECT generate_series(1, 1000000)", batch_size=10)
    assert next(rows) == (1,)
    assert conn.query("SELECT 'other'").rows == [("other",)]
    # The rows already received still come out; then the stream says why it ended.
    assert [next(rows) for _ in range(9)] == [(g,) for g in range(2, 11)]
    with pytest.raises(pgpipe.InterfaceError, match="ended by another command"):
        next(rows)
    assert conn.transaction_status == "I"
    conn.close()


def test_errors_mid_stream(client: Client) -> None:
    with pytest.raises(errors.DivisionByZero):
        take(client, "SELECT 1 / (g - 1500) FROM generate_series(1, 3000) g", batch_size=100)
    assert_in_sync(client)
    with pytest.raises(errors.UndefinedTable):
        take(client, "SELECT * FROM no_such_table")
    assert_in_sync(client)


def test_statements_without_rows(client: Client) -> None:
    assert take(client, "SELECT 1 WHERE false") == []
    assert take(client, "SELECT 1 WHERE $1", False) == []
    assert_in_sync(client)


def test_timeout_while_streaming(client: Client) -> None:
    with pytest.raises(errors.QueryTimeout):
        take(
            client,
            "SELECT pg_sleep(0.01) FROM generate_series(1, 1000)",
            timeout=0.3,
            batch_size=100,
        )
    assert_in_sync(client)


def test_streaming_inside_a_transaction(client: Client) -> None:
    with client.transaction():
        client.execute("CREATE TEMP TABLE s (n int) ON COMMIT DROP")
        client.query("INSERT INTO s SELECT generate_series(1, 3000)")
        assert len(take(client, "SELECT n FROM s", stop=100, batch_size=50)) == 100
        assert client.query("SELECT count(*) FROM s").rows == [(3000,)]
        assert client.transaction_status == "T"
    assert_in_sync(client)


def test_memory_stays_bounded(pg_server: TemporaryPostgres) -> None:
    conn = pgpipe.connect(pg_server.dsn(dbname="pgpipe"))
    tracemalloc.start()
    try:
        count = 0
        for _ in conn.stream(
            "SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g", batch_size=1000
        ):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200000
    # ~45 MB of rows went through; one batch (about 250 kB) and buffers stay.
    assert peak < 8_000_000, peak
    conn.close()


def test_batches_are_fetched_ahead(pg_server: TemporaryPostgres) -> None:
    with FlightCounter(pg_server.host, pg_server.port) as proxy:
        conn = pgpipe.connect(
            host="127.0.0.1", port=proxy.port, user="postgres", dbname="pgpipe", sslmode="disable"
        )
        conn.query("SELECT 1")
        proxy.reset()
        rows = list(conn.stream("SELECT generate_series(1, 100)", batch_size=10))
        assert len(rows) == 100
        # One flight per batch (the next is asked for before this one is used),
        # one more finds the portal complete, and one closes it with a Sync.
        assert proxy.client_flights == 12
        conn.close()


def test_async_for(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        conn = await pgpipe.connect_async(pg_server.dsn(dbname="pgpipe"))
        total = 0
        stream = conn.stream("SELECT generate_series(1, 10000)", batch_size=333)
        async for (n,) in stream:
            total += n
        assert total == 50005000
        assert stream.rowcount == 10000
        assert [c.name for c in stream.columns] == ["generate_series"]
        # Abandoned without aclose(): the next command ends it.
        abandoned = conn.stream("SELECT generate_series(1, 100000)", batch_size=10)
        assert await abandoned.__anext__() == (1,)
        assert (await conn.query("SELECT 5")).rows == [(5,)]
        task = asyncio.create_task(conn.query("SELECT count(*) FROM generate_series(1, 10)"))
        assert (await task).rows == [(10,)]
        await conn.close()

    asyncio.run(main())


@pytest.mark.parametrize("batch_size", [None, 0, -1, "10", 2.5, True])
def test_a_batch_size_that_is_not_a_positive_integer(client: Client, batch_size: Any) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="batch_size"):
        for _ in client.stream("SELECT 1", batch_size=batch_size):
            pass
    assert client.query("SELECT 2").rows == [(2,)]  # nothing was sent
