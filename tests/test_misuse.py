"""Misuse is input too: whatever a careless caller passes to a public call, only
pgpipe.Error comes out, and the connection stays in sync (the next statement
gets its own answer). Also: the wrong event loop, and pipelined connect with
nothing to pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import enum
import ipaddress
import itertools
import math
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Type, conninfo, errors
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client


class Color(enum.Enum):
    RED = 1
    BLUE = "blue"
    PAIR = (1, 2)


class Size(enum.IntEnum):
    SMALL = 1
    HUGE = 2**40


class Mood(enum.StrEnum):
    HAPPY = "happy"
    ODD = "\ud800"


@dataclasses.dataclass
class Point3:
    x: float
    y: float
    z: float


class MyStr(str):
    pass


class MyBytes(bytes):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


_TEXT = st.text(st.characters(blacklist_categories=()), max_size=8)  # surrogates too
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.binary(max_size=8),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.just(Decimal("sNaN")),
    st.dates(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.times(),
    st.timedeltas(),
    st.uuids(),
    st.sampled_from([*Color, *Size, *Mood]),
    st.builds(Point3, st.floats(), st.floats(), st.floats()),
    _TEXT.map(MyStr),
    st.binary(max_size=4).map(MyBytes),
    st.integers().map(MyInt),
    st.floats().map(MyFloat),
    st.just(object()),
    st.just(ipaddress.ip_address("::1")),
    st.just(math.inf),
    st.just(b"\x00"),
    st.just("\x00"),
    st.just(...),
    st.just(type),
    st.just(lambda: None),
)
VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.builds(pgpipe.Json, inner),
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(_TEXT, inner, max_size=2),
        st.frozensets(st.integers(), max_size=2),
    ),
    max_leaves=6,
)
SQL = st.one_of(
    st.sampled_from(
        [
            "SELECT $1",
            "SELECT $1::text",
            "SELECT $1::int",
            "SELECT $1::int8[]",
            "SELECT $1::jsonb",
            "SELECT $1, $2",
            "SELECT 1",
            "",
            "SELECT 1; SELECT 2",
        ]
    ),
    VALUES,
)
OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "timeout": st.one_of(
            st.none(), st.floats(), st.integers(-1, 5), _TEXT, st.just(dt.timedelta(seconds=1))
        )
    },
)


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """A public call with arbitrary arguments: (name, positional, keyword)."""
    name = draw(
        st.sampled_from(
            [
                "query",
                "query_with_param_types",
                "execute",
                "executemany",
                "prepare",
                "stream",
                "pipeline",
                "transaction",
                "register_type",
            ]
        )
    )
    sql = draw(SQL)
    options = draw(OPTIONS)
    if name == "query":
        return name, (sql, *draw(st.lists(VALUES, max_size=3))), options
    if name == "query_with_param_types":
        oid = st.one_of(st.sampled_from(list(Type)), st.integers(-2, 2**33), VALUES)
        pairs = st.one_of(st.lists(st.tuples(VALUES, oid), max_size=3), VALUES)
        return name, (sql, draw(pairs)), options
    if name == "execute":
        return name, (sql,), options
    if name == "executemany":
        rows = st.one_of(st.lists(st.lists(VALUES, max_size=2), max_size=3), VALUES)
        types = st.none() | st.lists(st.sampled_from(list(Type)) | VALUES, max_size=2)
        return name, (sql, draw(rows)), {**options, "param_types": draw(types)}
    if name == "prepare":
        types = st.none() | st.lists(st.sampled_from(list(Type)) | VALUES, max_size=2)
        return name, (sql,), {"param_types": draw(types)}
    if name == "stream":
        size = st.one_of(st.integers(-1, 3), VALUES)
        return (
            name,
            (sql, *draw(st.lists(VALUES, max_size=2))),
            {**options, "batch_size": draw(size)},
        )
    if name == "pipeline":
        mode = st.one_of(st.sampled_from(["independent", "atomic"]), VALUES)
        return name, (draw(mode), sql, *draw(st.lists(VALUES, max_size=2))), options
    if name == "transaction":
        return (
            name,
            (),
            {
                "isolation": draw(st.none() | st.sampled_from(["serializable"]) | VALUES),
                "read_only": draw(VALUES),
            },
        )
    return name, (draw(st.one_of(st.sampled_from(["int4", "no_such_type"]), VALUES)),), {}


def _run(client: Client, name: str, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    """The call, through either adapter (tests/clients.py)."""
    if name == "stream":
        for _ in client.stream(*args, **kw):
            pass
    elif name == "pipeline":
        mode, sql, *params = args
        with client.pipeline(mode, **kw) as p:
            handle = p.query(sql, *params)
        handle.result()
    elif name == "transaction":
        with client.transaction(**kw):
            client.query("SELECT 1")
    else:
        getattr(client, name)(*args, **kw)


_tokens = itertools.count()


def _check_in_sync(result: Any) -> None:
    token = next(_tokens)
    assert result(token) == [(token,)]


@pytest.fixture(scope="module")
def sync_conn(pg_server: TemporaryPostgres) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        yield conn


@pytest.fixture(scope="module", params=["sync", "async"])
def misuse_client(request: pytest.FixtureRequest, pg_server: TemporaryPostgres) -> Iterator[Client]:
    """One connection of each adapter for all of hypothesis's calls."""
    adapter = Adapter(request.param)
    try:
        yield adapter.connect(pg_server.dsn(dbname="pgpipe"))
    finally:
        adapter.close()


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls())
def test_any_arguments(
    misuse_client: Client, call: tuple[str, tuple[Any, ...], dict[str, Any]]
) -> None:
    name, args, kw = call
    with contextlib.suppress(pgpipe.Error):
        _run(misuse_client, name, args, kw)
    assert not misuse_client.closed, misuse_client.closed_reason
    assert misuse_client.transaction_status == "I"
    _check_in_sync(lambda t: misuse_client.query("SELECT $1::int", t).rows)


@pytest.mark.parametrize(
    "sql",
    ["SELECT $1", "SELECT $1::text"],
)
@pytest.mark.parametrize("value", ["a\ud800b", MyStr("\udfff"), Mood.ODD, ["x", "\ud800"]])
def test_a_lone_surrogate_is_a_pgpipe_error(
    sync_conn: pgpipe.Connection, sql: str, value: object
) -> None:
    with pytest.raises(pgpipe.Error):
        sync_conn.query(sql, value)
    assert sync_conn.query("SELECT 1").rows == [(1,)]


def test_sql_with_a_lone_surrogate(sync_conn: pgpipe.Connection) -> None:
    with pytest.raises(errors.InterfaceError, match="lone surrogate"):
        sync_conn.query("SELECT '\ud800'")
    with pytest.raises(errors.InterfaceError, match="lone surrogate"):
        sync_conn.execute("SELECT '\ud800'")


# -- the wrong event loop ------------------------------------------------------------


def test_another_event_loop_is_refused_at_once(pg_server: TemporaryPostgres) -> None:
    dsn = pg_server.dsn(dbname="pgpipe")
    with asyncio.Runner() as first:
        conn = first.run(pgpipe.connect_async(dsn))
        assert first.run(conn.query("SELECT 1")).rows == [(1,)]

        async def elsewhere() -> None:
            for call in (
                lambda: conn.query("SELECT 1"),
                lambda: conn.execute("SELECT 1"),
                lambda: conn.executemany("SELECT $1::int", [(1,)]),
                lambda: conn.prepare("SELECT 1"),
                lambda: _first_row(conn.stream("SELECT 1")),
            ):
                with pytest.raises(errors.InterfaceError, match="another event loop"):
                    await asyncio.wait_for(call(), 5)
            with pytest.raises(errors.InterfaceError, match="another event loop"):
                async with conn.transaction():
                    pass

        with asyncio.Runner() as second:
            second.run(elsewhere())
        # Still usable from its own loop, and in sync.
        assert first.run(conn.query("SELECT $1::int", 5)).rows == [(5,)]

        async def close_elsewhere() -> None:
            await conn.close()

        with asyncio.Runner() as third:
            third.run(close_elsewhere())
        assert conn.closed
        first.run(asyncio.sleep(0))  # the connection's own loop drops the transport


async def _first_row(stream: Any) -> Any:
    async for row in stream:
        return row
    return None


# -- pipelined connect with nothing to pipeline ------------------------------------


@pytest.mark.parametrize("mode", ["scram", "password"])
@pytest.mark.parametrize("connect", [pgpipe.connect, pgpipe.connect_async])
def test_speculative_pipelining_without_a_password_says_so(
    pg_server: TemporaryPostgres,
    mode: str,
    connect: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    dsn = pg_server.dsn(dbname="pgpipe")

    def attempt() -> Any:
        made = connect(dsn, pipeline_connect=mode, allow_unverified_pipelining=True)
        return asyncio.run(made) if asyncio.iscoroutine(made) else made

    with pytest.raises(errors.InterfaceError, match="no password was given") as raised:
        attempt()
    assert "asked for" not in str(raised.value)


# -- connection parameters ------------------------------------------------------------

_PARAMETER_NAMES = sorted({*conninfo.PARAMETERS, *conninfo._KEYWORD_ONLY, "database"})
_DSN = st.one_of(
    st.none(),
    _TEXT,
    st.sampled_from(
        [
            "postgresql://",
            "postgresql://u:p@h:5432/d?sslmode=require",
            "postgresql://[::1",
            "postgresql://h:99999/d",
            "postgres://%zz@h/d",
            "host=h port=x",
            "host='unterminated",
            "sslmode=",
            "a=b c",
        ]
    ),
    st.text(alphabet="postgresql:/@[]?=&%:hpu1' \\", max_size=30),
)


@settings(max_examples=1500)
@given(_DSN, st.dictionaries(st.sampled_from(_PARAMETER_NAMES), VALUES, max_size=3))
def test_any_connection_parameters(dsn: Any, params: dict[str, Any]) -> None:
    """The parsing connect() does first (pure: nothing is dialled): a ConnectParams,
    or a pgpipe error."""
    environ = {"USER": "someone"}
    with contextlib.suppress(pgpipe.Error):
        conninfo.parse_dsn(dsn, params, environ, lambda name: {})


class BadStr:
    """A value whose own code raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    __repr__ = __str__


@pytest.mark.parametrize("value", [BadStr(), [BadStr()], {"a": BadStr()}])
def test_a_value_whose_own_code_raises_is_a_data_error(
    sync_conn: pgpipe.Connection, value: object
) -> None:
    with pytest.raises(errors.DataError):
        sync_conn.query("SELECT $1", value)
    assert sync_conn.query("SELECT 1").rows == [(1,)]


def test_a_registered_encoder_that_raises_is_a_data_error(pg_server: TemporaryPostgres) -> None:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        conn.register_type("numeric", encode=lambda value: str(1 / 0))
        with pytest.raises(errors.DataError, match="encoder registered") as raised:
            conn.query_with_param_types("SELECT $1", [(Decimal(1), Type.NUMERIC)])
        assert isinstance(raised.value.__cause__, ZeroDivisionError)
        assert conn.query("SELECT 1").rows == [(1,)]


def test_copy_from_stdin_is_refused_before_anything_is_sent(pg_server: TemporaryPostgres) -> None:
    """Through the extended protocol the server would read the Close and Sync after
    Execute as COPY data and drop the connection: refused first, by every call."""
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        conn.execute("CREATE TEMP TABLE copy_in (a int)")
        sent = conn.stats.flights
        for call in (
            lambda: conn.query("COPY copy_in FROM STDIN"),
            lambda: conn.query("/* load */ copy copy_in (a) from stdin with (format csv)"),
            lambda: conn.query_with_param_types("COPY copy_in FROM STDIN", []),
            lambda: conn.executemany("COPY copy_in FROM STDIN", [()]),
            lambda: conn.prepare("COPY copy_in FROM STDIN"),
            lambda: list(conn.stream("COPY copy_in FROM STDIN")),
        ):
            with pytest.raises(errors.NotSupportedError, match="FROM STDIN"):
                call()
        assert conn.stats.flights == sent
        with pytest.raises(errors.NotSupportedError, match="FROM STDIN"), conn.pipeline() as p:
            p.query("COPY copy_in FROM STDIN")
        # A COPY from a file or to STDOUT is not refused by the scanner.
        assert conn.query("SELECT $1::text", "COPY t FROM STDIN").rows == [("COPY t FROM STDIN",)]
        assert not conn.closed
        assert conn.query("SELECT count(*) FROM copy_in").rows == [(0,)]
