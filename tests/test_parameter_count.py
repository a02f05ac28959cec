"""Parameter counts: ``$n`` placeholders found as PostgreSQL's scanner finds them,
checked against the server's own count, and enforced before anything is sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Type, errors
from pgpipe._scan import parameter_count
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client

# -- the scanner alone -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("SELECT 1", 0),
        ("SELECT $1", 1),
        ("SELECT $1 + $2", 2),
        ("SELECT $2", 2),  # the server's count is the highest number used
        ("SELECT $1, $10", 10),
        ("SELECT $1::int, $1::text", 1),
        ("SELECT '$1'", 0),
        ("SELECT 'it''s $1'", 0),
        ("SELECT E'\\'$1'", 0),
        ("SELECT e'\\\\', $1", 1),
        ("SELECT E'''$1'", 0),
        ("SELECT U&'\\0041 $1'", 0),
        ('SELECT U&"\\0041$1"', 0),
        ("SELECT x$1", 0),  # one identifier: identifiers may hold $
        ("SELECT 1 AS a$1, $1", 1),
        ('SELECT "$1"', 0),
        ('SELECT "a""$1", $2', 2),
        ("SELECT $$ $1 $$", 0),
        ("SELECT $fn$ $1 $$ $2 $fn$, $3", 3),
        ("SELECT $a$ $b$ $1 $b$ $a$", 0),
        ("-- $1\nSELECT $2", 2),
        ("SELECT 1 -- $3", 0),
        ("/* $1 */ SELECT $2", 2),
        ("/* /* $1 */ $2 */ SELECT $3", 3),
        ("SELECT 1 /* $1 */ + $2 /* $3 */", 2),
        ("SELECT B'101', X'ff', N'$1', $1", 1),
        ("SELECT 'a'\n'$1'", 0),
        ("SELECT $1/*$2*/", 1),
        ("SELECT 3$1", 1),
        ("SELECT somee'$1'", 0),
        ("SELECT \u00e9$1", 0),
        ("SELECT '\u00e9', $1", 1),
    ],
)
def test_counts_placeholders_as_the_server_does(sql: str, count: int) -> None:
    assert parameter_count(sql) == count


def test_standard_conforming_strings_off_makes_backslash_an_escape() -> None:
    sql = "SELECT 'a\\' $1 '"
    assert parameter_count(sql, standard_conforming_strings=False) == 0
    assert parameter_count(sql, standard_conforming_strings=True) is None  # unterminated


@pytest.mark.parametrize(
    "sql", ["SELECT '$1", 'SELECT "$1', "SELECT $$ $1", "SELECT /* $1", "SELECT E'\\' $1"]
)
def test_unterminated_text_has_no_count(sql: str) -> None:
    assert parameter_count(sql) is None


@pytest.mark.parametrize("sql", [None, b"SELECT 1", 42, ["SELECT 1"]])
def test_sql_that_is_not_text_is_an_interface_error(sql: object) -> None:
    with pytest.raises(errors.InterfaceError, match="must be a str"):
        parameter_count(sql)


# -- statements full of lookalikes, counted by the server -----------------------------

_BODY = st.text(alphabet="$1234567890'\"\\-/*\n\r abcE$", max_size=12)


@st.composite
def _lookalike(draw: st.DrawFn, standard_conforming_strings: bool) -> str:
    """A fragment that the server reads as one constant, identifier or comment."""
    body = draw(_BODY)
    kind = draw(
        st.sampled_from(
            ["string", "estring", "dollar", "ident", "line", "block", "nested", "uescape"]
        )
    )
    if kind == "uescape" and not standard_conforming_strings:
        kind = "estring"  # U& strings need standard_conforming_strings on
    if kind == "string":
        escaped = body.replace("'", "''")
        if not standard_conforming_strings:
            escaped = escaped.replace("\\", "\\\\")
        return f"'{escaped}'"
    if kind == "estring":
        return "E'" + body.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if kind == "uescape":
        return "U&'" + body.replace("\\", "\\\\").replace("'", "''") + "'"
    if kind == "dollar":
        tag = draw(st.sampled_from(["", "x", "fn", "a1", "_q"]))
        delimiter = f"${tag}$"
        if (body + delimiter).find(delimiter) != len(body):
            return "'plain'"
        return f"{delimiter}{body}{delimiter}"
    if kind == "ident":
        return "0 AS " + '"' + (body.replace('"', '""') or "x").replace("\x00", "") + '"'
    if kind == "line":
        return "0 --" + body.replace("\n", " ").replace("\r", " ") + "\n"
    if kind == "block":
        if "/*" in body or "*/" in body or body.endswith(("/", "*")):
            return "0"
        return f"0 /* {body} */"
    inner = body if "/*" not in body and "*/" not in body else "$9"
    if inner.endswith(("/", "*")) or inner.startswith(("/", "*")):
        inner = "$8"
    return f"0 /* a /* {inner} */ b */"


@st.composite
def _statement(draw: st.DrawFn, standard_conforming_strings: bool) -> tuple[str, int]:
    """SELECT of placeholders ($1 to $k, each cast, some repeated) among lookalikes."""
    k = draw(st.integers(0, 12))
    placeholders = [f"${n}::int" for n in range(1, k + 1)]
    placeholders += draw(st.lists(st.sampled_from(placeholders), max_size=3)) if k else []
    noise = draw(st.lists(_lookalike(standard_conforming_strings), max_size=6))
    items = draw(st.permutations(placeholders + noise))
    alias = draw(st.sampled_from(["1", "1 AS x$1", "1 AS y$$", '1 AS "$2"']))
    return "SELECT " + ", ".join([*items, alias]), k


def _server_count(conn: pgpipe.Connection, sql: str) -> int:
    """The server's count: Parse and Describe (ParameterDescription)."""
    with conn.prepare(sql) as statement:
        return len(statement.param_types)


@pytest.fixture(scope="module")
def conn(pg_server: TemporaryPostgres) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as c:
        yield c


@settings(max_examples=1500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_statement(standard_conforming_strings=True))
def test_count_matches_the_server(conn: pgpipe.Connection, case: tuple[str, int]) -> None:
    sql, placeholders = case
    server = _server_count(conn, sql)
    assert server == placeholders
    assert parameter_count(sql) == server, sql


@pytest.fixture(scope="module")
def conn_without_scs(pg_server: TemporaryPostgres) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(
        pg_server.dsn(dbname="pgpipe"),
        server_settings={"standard_conforming_strings": "off", "escape_string_warning": "off"},
    ) as c:
        assert c.parameters["standard_conforming_strings"] == "off"
        yield c


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_statement(standard_conforming_strings=False))
def test_count_matches_the_server_without_standard_conforming_strings(
    conn_without_scs: pgpipe.Connection, case: tuple[str, int]
) -> None:
    sql, placeholders = case
    server = _server_count(conn_without_scs, sql)
    assert server == placeholders
    assert parameter_count(sql, standard_conforming_strings=False) == server, sql


def test_the_session_follows_standard_conforming_strings(adapter: Adapter, dsn: str) -> None:
    client = adapter.connect(dsn)
    sql = "SELECT 'a\\' AS q, $1::text AS r --'"
    assert client.query(sql, "b").rows == [("a\\", "b")]
    client.execute("SET standard_conforming_strings = off; SET escape_string_warning = off")
    # Now the backslash escapes the quote: one string constant, no placeholder at all.
    assert client.query(sql).rows == [("a' AS q, $1::text AS r --",)]
    with pytest.raises(errors.ProgrammingError, match="takes no parameters"):
        client.query(sql, "b")


# -- every call refuses the wrong number of values, sends nothing, stays usable --------


@pytest.fixture
def client(adapter: Adapter, dsn: str) -> Client:
    return adapter.connect(dsn)


@pytest.fixture
def account(client: Client) -> Iterator[str]:
    name = f"acct_{uuid.uuid4().hex[:10]}"
    client.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, balance int)")
    client.execute(f"INSERT INTO {name} VALUES (1, 100), (2, 200)")
    yield name
    client.execute(f"DROP TABLE {name}")


def _refused(client: Client, call: Any, expected: int, given_: int) -> None:
    """``call()`` raises ProgrammingError naming both numbers; nothing left; usable."""
    sent = client.stats.flights
    with pytest.raises(errors.ProgrammingError) as raised:
        client._call(call())
    message = str(raised.value)
    assert f"{given_} value" in message
    assert ("no parameters" if expected == 0 else f"{expected} parameter") in message
    assert client.stats.flights == sent
    assert client.query("SELECT $1::int + 1", 1).rows == [(2,)]


def test_a_value_the_statement_does_not_use_updates_nothing(client: Client, account: str) -> None:
    _refused(client, lambda: client.conn.query(f"UPDATE {account} SET balance = 0", 1), 0, 1)
    rows = client.query(f"SELECT id, balance FROM {account} ORDER BY id").rows
    assert rows == [(1, 100), (2, 200)]


def test_too_few_values_is_a_programming_error_not_operational(client: Client) -> None:
    _refused(client, lambda: client.conn.query("SELECT $1 + $2", 1), 2, 1)


def test_query_with_param_types_counts(client: Client) -> None:
    conn = client.conn
    _refused(client, lambda: conn.query_with_param_types("SELECT $1", []), 1, 0)
    _refused(
        client,
        lambda: conn.query_with_param_types("SELECT $1", [(1, Type.INT4), (2, Type.INT4)]),
        1,
        2,
    )


def test_executemany_counts_every_row(client: Client, account: str) -> None:
    conn = client.conn
    sql = f"UPDATE {account} SET balance = $2 WHERE id = $1"
    _refused(client, lambda: conn.executemany(sql, [(1, 5), (2,)]), 2, 1)
    _refused(client, lambda: conn.executemany(sql, [(1, 5, 9)]), 2, 3)
    _refused(client, lambda: conn.executemany(sql, [(1, 5)], param_types=[Type.INT4]), 2, 1)
    with pytest.raises(errors.ProgrammingError, match="row 3"):
        client._call(conn.executemany(sql, [(1, 5), (2, 6), (1,)]))
    rows = client.query(f"SELECT id, balance FROM {account} ORDER BY id").rows
    assert rows == [(1, 100), (2, 200)]


def test_stream_counts(client: Client) -> None:
    conn = client.conn
    if client.adapter == "sync":
        _refused(client, lambda: conn.stream("SELECT generate_series(1, $1)"), 1, 0)
    else:

        async def first() -> object:
            async for row in conn.stream("SELECT generate_series(1, $1)"):
                return row
            return None

        _refused(client, first, 1, 0)


def test_prepare_and_prepared_statements_count(client: Client) -> None:
    conn = client.conn
    _refused(client, lambda: conn.prepare("SELECT $1, $2", param_types=[Type.INT4]), 2, 1)
    statement = client._call(conn.prepare("SELECT $1::int + $2::int"))
    _refused(client, lambda: statement.query(1), 2, 1)
    _refused(client, lambda: statement.query(1, 2, 3), 2, 3)
    assert client._call(statement.query(1, 2)).rows == [(3,)]


def test_pipeline_statements_count_when_written(client: Client, account: str) -> None:
    conn = client.conn
    if client.adapter == "sync":
        with (
            pytest.raises(errors.ProgrammingError, match="takes 1 parameter"),
            conn.pipeline() as p,
        ):
            p.query(f"DELETE FROM {account} WHERE id = $1")
        with conn.pipeline() as p:
            with pytest.raises(errors.ProgrammingError, match="takes no parameters"):
                p.query_with_param_types(f"DELETE FROM {account}", [(1, Type.INT4)])
            ok = p.query("SELECT $1::int", 7)
        assert ok.result().rows == [(7,)]
    else:

        async def go() -> None:
            with pytest.raises(errors.ProgrammingError, match="takes 1 parameter"):
                async with conn.pipeline() as p:
                    p.query(f"DELETE FROM {account} WHERE id = $1")
            async with conn.pipeline() as p:
                with pytest.raises(errors.ProgrammingError, match="takes no parameters"):
                    p.query_with_param_types(f"DELETE FROM {account}", [(1, Type.INT4)])
                ok = p.query("SELECT $1::int", 7)
            assert ok.result().rows == [(7,)]

        client._call(go())
    assert client.query(f"SELECT count(*) FROM {account}").rows == [(2,)]


@pytest.mark.parametrize("sql", [None, b"SELECT 1", 1, ["SELECT 1"]])
def test_sql_that_is_not_text(client: Client, sql: Any) -> None:
    conn = client.conn
    for call in (
        lambda: conn.query(sql),
        lambda: conn.query_with_param_types(sql, []),
        lambda: conn.execute(sql),
        lambda: conn.executemany(sql, [()]),
        lambda: conn.prepare(sql),
    ):
        with pytest.raises(errors.InterfaceError, match="must be a str"):
            client._call(call())
    assert client.query("SELECT 1").rows == [(1,)]


def test_a_non_str_sql_is_refused_whatever_texts_were_counted(client: Client) -> None:
    """The inlined fast path looks counts up by text: a non-str must never match one
    (a NUL-only text had been counted and let ``query([])`` through to a TypeError)."""
    with pytest.raises(errors.InterfaceError, match="NUL"):
        client.query("\x00")
    for sql in ([], None, b"\x00", 0):
        with pytest.raises(errors.InterfaceError, match="must be a str"):
            client.query(sql)  # type: ignore[arg-type]
    assert client.query("SELECT 1").rows == [(1,)]
