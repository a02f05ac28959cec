"""Pipelined connect against a real server: round trips counted by a proxy, both adapters.

Every test runs directly and through PgBouncer in transaction pool mode
(tests/targets.py). PgBouncer authenticates clients itself, with the same
messages in the same order as PostgreSQL, reads what arrives early (a
pipelined first query) once the client is logged in, and logs into
PostgreSQL only inside those round trips (once per server connection): the
client counts the same round trips either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS
from tests.clients import Adapter, Client
from tests.targets import Target, wrong_password_error

# Round trips after the TCP handshake to the first query's rows, directly and
# through PgBouncer alike.
EXPECTED = {
    (None, "trust"): 2,
    (None, "password"): 3,
    (None, "md5"): 3,
    (None, "scram"): 4,
    ("auto", "trust"): 2,
    ("auto", "password"): 2,
    ("auto", "md5"): 2,
    ("auto", "scram"): 3,
    ("trust", "trust"): 1,
    ("password", "password"): 1,
    ("scram", "scram"): 2,
}


@pytest.fixture
def proxy(target: Target) -> Iterator[FlightCounter]:
    with FlightCounter(target.host, target.port) as counter:
        yield counter


def login(method: str, port: int, password: str | None = None) -> dict[str, object]:
    user, right = AUTH_USERS[method]
    return {
        "host": "127.0.0.1",
        "port": port,
        "user": user,
        "password": right if password is None else password,
        "dbname": "pgpipe",
        "sslmode": "disable",
    }


@pytest.mark.parametrize(("mode", "method"), list(EXPECTED), ids=[f"{m}-{a}" for m, a in EXPECTED])
def test_round_trips_to_first_result(
    adapter: Adapter, proxy: FlightCounter, mode: str | None, method: str
) -> None:
    client = adapter.connect(
        **login(method, proxy.port), pipeline_connect=mode, allow_unverified_pipelining=True
    )
    result = client.query("SELECT current_user, $1::int + 1", 41)
    assert result.rows == [(AUTH_USERS[method][0], 42)]
    expected = EXPECTED[(mode, method)]
    assert proxy.round_trips == expected
    assert client.stats.round_trips == expected
    assert client.stats.flights == proxy.client_flights
    assert client.stats.bytes_sent == proxy.bytes_from_client
    assert client.stats.bytes_received == proxy.bytes_from_server
    assert client.auth_method == method
    # Later queries: one round trip each.
    proxy.reset()
    assert client.query("SELECT 2").rows == [(2,)]
    assert (proxy.client_flights, proxy.round_trips) == (1, 1)
    assert client.stats.round_trips == expected + 1


@pytest.mark.parametrize(
    ("mode", "method"),
    [
        ("password", "scram"),
        ("password", "trust"),
        ("scram", "md5"),
        ("trust", "password"),
        ("scram", "password"),
        ("password", "md5"),
    ],
)
def test_wrong_guess_says_what_the_server_asked_for(
    adapter: Adapter, target: Target, mode: str, method: str
) -> None:
    # A trust user has no password; the guesses need one to send.
    client = adapter.connect(
        **login(method, target.port, password="guess" if method == "trust" else None),
        pipeline_connect=mode,
        allow_unverified_pipelining=True,
    )
    with pytest.raises(errors.PipelineMismatch) as info:
        client.query("SELECT 1")
    assert info.value.configured == mode
    assert info.value.server_method == method
    assert f"pipeline_connect={mode!r}" in str(info.value)
    assert f"asked for {method}" in str(info.value)
    assert client.closed
    secret = AUTH_USERS[method][1]
    assert secret is None or secret not in str(info.value)


@pytest.mark.parametrize(("mode", "method"), [("password", "scram"), ("trust", "md5")])
def test_fallback_reconnects_once(
    adapter: Adapter, proxy: FlightCounter, mode: str, method: str
) -> None:
    client = adapter.connect(
        **login(method, proxy.port),
        pipeline_connect=mode,
        allow_unverified_pipelining=True,
        pipeline_connect_fallback=True,
    )
    assert client.query("SELECT 7").rows == [(7,)]
    assert not client.closed
    assert client.auth_method == method
    assert client.query("SELECT 8").rows == [(8,)]
    assert client.stats.round_trips == proxy.round_trips


def fallen_back(adapter: Adapter, proxy: FlightCounter) -> Client:
    """A connection whose pipelined connect guesses wrong and falls back."""
    return adapter.connect(
        **login("scram", proxy.port),
        pipeline_connect="password",
        allow_unverified_pipelining=True,
        pipeline_connect_fallback=True,
    )


@pytest.mark.parametrize("first", ["pipeline", "executemany"])
def test_fallback_with_many_statements_first(
    adapter: Adapter, proxy: FlightCounter, first: str
) -> None:
    # The first command is queued again on the new connection: a pipeline's
    # statements too, though it had been taken out of the pipeline once.
    client = fallen_back(adapter, proxy)
    if first == "pipeline":
        handles: list[pgpipe.Pending[pgpipe.Result]] = []
        if client.adapter == "sync":
            with client.conn.pipeline() as p:
                handles += [p.query("SELECT $1::int", n) for n in range(3)]
        else:

            async def go() -> None:
                async with client.conn.pipeline() as p:
                    handles.extend(p.query("SELECT $1::int", n) for n in range(3))

            client._call(go())
        assert [h.result().rows for h in handles] == [[(0,)], [(1,)], [(2,)]]
    else:
        results = client._call(client.conn.executemany("SELECT $1::int", [(4,), (5,)]))
        assert [r.rows for r in results] == [[(4,)], [(5,)]]
    assert client.auth_method == "scram"
    assert client.query("SELECT 'next'").rows == [("next",)]


@pytest.mark.not_through(
    "pgpool",
    "pgpool-II 4.3 never answers a stream's Execute with a row limit and Flush (docs/poolers.md)",
)
def test_fallback_with_a_stream_first(adapter: Adapter, proxy: FlightCounter) -> None:
    client = fallen_back(adapter, proxy)
    if client.adapter == "sync":
        rows = list(client.conn.stream("SELECT generate_series(1, 2500)", batch_size=1000))
    else:

        async def read() -> list[object]:
            return [r async for r in client.conn.stream("SELECT generate_series(1, 2500)")]

        rows = client._call(read())
    assert len(rows) == 2500
    assert client.query("SELECT 'next'").rows == [("next",)]


@pytest.mark.parametrize("mode", ["password", "scram"])
def test_speculative_modes_need_the_opt_in(adapter: Adapter, target: Target, mode: str) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="allow_unverified_pipelining"):
        adapter.connect(**login(mode, target.port), pipeline_connect=mode)


def test_auto_scram_without_opt_in_waits_for_the_server_signature(
    adapter: Adapter, proxy: FlightCounter
) -> None:
    client = adapter.connect(**login("scram", proxy.port), pipeline_connect="auto")
    assert client.query("SELECT 1").rows == [(1,)]
    # The query leaves only after the server proved itself: no saving over ordinary.
    assert proxy.round_trips == 4


@pytest.mark.parametrize(
    ("mode", "method"), [("auto", "md5"), ("password", "password"), ("scram", "scram")]
)
def test_wrong_password_surfaces_from_the_first_query(
    adapter: Adapter, target: Target, mode: str, method: str
) -> None:
    client = adapter.connect(
        **login(method, target.port, password="not-the-password"),
        pipeline_connect=mode,
        allow_unverified_pipelining=True,
    )
    error, message = wrong_password_error(target)
    with pytest.raises(error, match=message):
        client.query("SELECT 1")
    assert client.closed


def test_invalid_mode(adapter: Adapter, target: Target) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="pipeline_connect must be one of"):
        adapter.connect(**login("trust", target.port), pipeline_connect="md5")


@pytest.mark.parametrize(
    ("mode", "method"),
    [("trust", "trust"), ("password", "password"), ("auto", "md5"), ("scram", "scram")],
)
@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT * FROM no_such_table", errors.UndefinedTable),
        ("SELEKT 1", errors.SyntaxError),
        ("SELECT 1/0", errors.DivisionByZero),
    ],
)
def test_server_error_in_the_pipelined_query(
    adapter: Adapter,
    proxy: FlightCounter,
    mode: str,
    method: str,
    sql: str,
    error: type[Exception],
) -> None:
    client = adapter.connect(
        **login(method, proxy.port), pipeline_connect=mode, allow_unverified_pipelining=True
    )
    with pytest.raises(error):
        client.query(sql)
    # The error came from the first flight's query; the connection is fine.
    assert proxy.round_trips == EXPECTED[(mode, method)]
    assert not client.closed
    assert client.transaction_status == "I"
    assert client.query("SELECT $1::int", 5).rows == [(5,)]
