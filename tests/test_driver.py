"""The driver against a real PostgreSQL, every scenario through both adapters.

Tests using ``target``, ``dsn`` or ``conn`` also run through PgBouncer in
transaction pool mode (tests/targets.py), with no pgpipe setting changed.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import uuid
from decimal import Decimal

import pytest

import pgpipe
from pgpipe import Type, errors
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS, TemporaryPgpool
from tests.clients import Adapter, Client
from tests.targets import Target, wrong_password_error


@pytest.fixture
def conn(adapter: Adapter, dsn: str) -> Client:
    return adapter.connect(dsn)


def login(method: str, pg: Target, password: str | None = None) -> dict[str, object]:
    user, right = AUTH_USERS[method]
    return {
        "host": pg.host,
        "port": pg.port,
        "user": user,
        "password": password if password is not None else right,
        "dbname": "pgpipe",
    }


# -- connecting and authentication ----------------------------------------------


@pytest.mark.parametrize("method", ["trust", "password", "md5", "scram"])
def test_every_auth_method(adapter: Adapter, target: Target, method: str) -> None:
    client = adapter.connect(**login(method, target))
    user = AUTH_USERS[method][0]
    assert client.query("SELECT current_user").rows == [(user,)]
    assert client.backend_pid is not None
    assert client.parameters["client_encoding"] == "UTF8"


@pytest.mark.parametrize("method", ["password", "md5", "scram"])
def test_wrong_password(adapter: Adapter, target: Target, method: str) -> None:
    secret = "wrong-password-xyz"
    # InvalidPassword (28P01) from PostgreSQL, ProtocolViolation (08P01) from
    # PgBouncer, InternalServerError (XX000) from pgpool-II.
    error, message = wrong_password_error(target)
    with pytest.raises(error, match=message) as info:
        adapter.connect(**login(method, target, password=secret))
    if isinstance(target, TemporaryPgpool):
        assert info.value.sqlstate == "XX000"  # pgpool-II's code, not a connection error
    else:
        assert isinstance(info.value, pgpipe.OperationalError)
    assert secret not in str(info.value) and secret not in repr(info.value)


@pytest.mark.parametrize("method", ["password", "md5", "scram"])
def test_missing_password(adapter: Adapter, target: Target, method: str) -> None:
    params = login(method, target)
    del params["password"]
    with pytest.raises(pgpipe.OperationalError, match="no password"):
        adapter.connect(**params, **{})


def test_uri_and_unix_socket(adapter: Adapter, target: Target) -> None:
    user, password = AUTH_USERS["scram"]
    via_uri = adapter.connect(target.dsn(user=user, password=password, dbname="pgpipe"))
    assert via_uri.query("SELECT 1").rows == [(1,)]
    # PgBouncer has its own Unix socket, and reaches PostgreSQL over the server's.
    via_socket = adapter.connect(
        host=target.socket_dir,
        port=target.port,
        user=user,
        password=password,
        dbname="pgpipe",
    )
    assert via_socket.query("SELECT inet_client_addr()").rows == [(None,)]


def test_application_name(adapter: Adapter, dsn: str) -> None:
    # PgBouncer keeps application_name per client and sets it on the server connection.
    client = adapter.connect(dsn, application_name="pgpipe-test")
    assert client.query("SHOW application_name").rows == [("pgpipe-test",)]


def test_connection_refused(adapter: Adapter) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(pgpipe.OperationalError, match="could not connect"):
        adapter.connect(host="127.0.0.1", port=port, user="x", dbname="x", sslmode="disable")


def test_connect_timeout_on_silent_server(adapter: Adapter) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(pgpipe.OperationalError, match="timeout"):
            adapter.connect(
                host="127.0.0.1",
                port=port,
                user="x",
                dbname="x",
                connect_timeout=0.5,
                sslmode="disable",
            )


# -- queries and types ---------------------------------------------------------

TYPED_VALUES = [
    (True, Type.BOOL),
    (-32768, Type.INT2),
    (2**31 - 1, Type.INT4),
    (-(2**63), Type.INT8),
    (1.5, Type.FLOAT4),
    (-1.0e300, Type.FLOAT8),
    (Decimal("-12345678901234567890.000123"), Type.NUMERIC),
    (Decimal("NaN"), Type.NUMERIC),
    ("héllo, wörld ☃", Type.TEXT),
    ("v", Type.VARCHAR),
    ("pad", Type.BPCHAR),
    ("a_name", Type.NAME),
    (b"\x00\x01\xffbytes", Type.BYTEA),
    (dt.date(2024, 2, 29), Type.DATE),
    (dt.time(23, 59, 59, 999999), Type.TIME),
    (dt.datetime(1999, 12, 31, 23, 59, 59, 123456), Type.TIMESTAMP),
    (dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.UTC), Type.TIMESTAMPTZ),
    (dt.timedelta(days=-3, seconds=5, microseconds=7), Type.INTERVAL),
    (uuid.UUID("12345678-1234-5678-1234-567812345678"), Type.UUID),
    ({"a": [1, 2, None], "b": "x"}, Type.JSONB),
    ([1, "two"], Type.JSON),
    (4000000000, Type.OID),
    (None, Type.INT4),
]


@pytest.mark.parametrize(("value", "oid"), TYPED_VALUES, ids=[t.name for _, t in TYPED_VALUES])
def test_round_trip_typed(conn: Client, value: object, oid: Type) -> None:
    # The first run of a statement reads text results, later runs binary: check both.
    sql = f"SELECT $1::{oid.name.lower()} /* {uuid.uuid4()} */"
    first = conn.query_with_param_types(sql, [(value, oid)]).rows
    second = conn.query_with_param_types(sql, [(value, oid)]).rows
    if isinstance(value, Decimal) and value.is_nan():
        assert first[0][0].is_nan() and second[0][0].is_nan()
    else:
        assert first == second == [(value,)]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([5], "pairs; parameter 1 is a int"),
        ([("x",)], "parameter 1 is a tuple of 1"),
        ([(5, Type.INT4, 1)], "parameter 1 is a tuple of 3"),
        ([(5, "int4")], "type is a str, not a type OID"),
        ([(5, True)], "type is a bool, not a type OID"),
        ("ab", "not str"),
        ({"a": Type.INT4}, "not dict"),
    ],
)
def test_query_with_param_types_refuses_what_is_not_pairs(
    conn: Client, params: object, message: str
) -> None:
    with pytest.raises(pgpipe.InterfaceError, match=message):
        conn.query_with_param_types("SELECT $1", params)  # type: ignore[arg-type]
    assert conn.query("SELECT 'in sync'").rows == [("in sync",)]


@pytest.mark.parametrize("param_types", [["int4"], [None], "ab", 23])
def test_param_types_must_be_type_oids(conn: Client, param_types: object) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="param_types"):
        conn._call(conn.conn.executemany("SELECT $1", [(1,)], param_types=param_types))
    with pytest.raises(pgpipe.InterfaceError, match="param_types"):
        conn._call(conn.conn.prepare("SELECT $1", param_types=param_types))
    assert conn.query("SELECT 'in sync'").rows == [("in sync",)]


def test_round_trip_inferred(conn: Client) -> None:
    aware = dt.datetime(2020, 1, 1, 5, 30, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    values: list[object] = [
        None,
        True,
        7,
        2**70,
        2.5,
        Decimal("1.10"),
        "text",
        b"\x00bin",
        dt.date(2000, 1, 1),
        dt.time(1, 2, 3),
        dt.datetime(2001, 2, 3, 4, 5, 6),
        aware,
        dt.timedelta(hours=25),
        uuid.UUID(int=5),
        {"k": [1]},
    ]
    for value in values:
        for _ in range(2):
            (row,) = conn.query("SELECT $1", value).rows
            assert row == (value,), value
    assert conn.query("SELECT $1::date + 1", "2024-02-28").rows == [(dt.date(2024, 2, 29),)]


def test_unknown_types_come_back_as_str(conn: Client) -> None:
    sql = "SELECT 'a b'::tsvector, 'x & y'::tsquery, 'a'::text"
    for _ in range(3):
        assert conn.query(sql).rows == [("'a' 'b'", "'x' & 'y'", "a")]


def test_columns_and_command_tags(conn: Client) -> None:
    conn.execute("DROP TABLE IF EXISTS tags; CREATE TABLE tags (id int PRIMARY KEY, name text)")
    ins = conn.query("INSERT INTO tags VALUES ($1, $2), ($3, $4)", 1, "a", 2, "b")
    assert (ins.command, ins.rowcount, ins.status) == ("INSERT", 2, "INSERT 0 2")
    sel = conn.query("SELECT id, name FROM tags ORDER BY id")
    assert sel.rows == [(1, "a"), (2, "b")]
    assert [(c.name, c.type_oid) for c in sel.columns] == [("id", Type.INT4), ("name", Type.TEXT)]
    assert (sel.command, sel.rowcount) == ("SELECT", 2)
    upd = conn.query("UPDATE tags SET name = upper(name)")
    assert (upd.command, upd.rowcount) == ("UPDATE", 2)
    dele = conn.query("DELETE FROM tags WHERE id = $1", 1)
    assert (dele.command, dele.rowcount) == ("DELETE", 1)
    ddl = conn.query("CREATE INDEX ON tags (name)")
    assert (ddl.command, ddl.rowcount, ddl.rows) == ("CREATE INDEX", None, [])
    conn.execute("DROP TABLE tags")


def test_large_result(conn: Client) -> None:
    result = conn.query("SELECT g, repeat('x', g % 50) FROM generate_series(1, 20000) g")
    assert len(result.rows) == 20000
    assert result.rows[-1] == (20000, "x" * 0)
    assert result.rows[48] == (49, "x" * 49)


def test_script_with_several_results(conn: Client) -> None:
    results = conn.execute("SELECT 1 AS a; SELECT 'two' AS b, NULL::int; SET search_path = public")
    assert [r.rows for r in results] == [[(1,)], [("two", None)], []]
    assert [r.command for r in results] == ["SELECT", "SELECT", "SET"]
    (empty,) = conn.execute("")
    assert empty.rows == [] and empty.status is None


def test_empty_query(conn: Client) -> None:
    result = conn.query("")
    assert result.rows == [] and result.status is None


# -- errors --------------------------------------------------------------------


def test_server_error_fields_and_recovery(conn: Client) -> None:
    conn.execute(
        "DROP TABLE IF EXISTS uniq; CREATE TABLE uniq (id int CONSTRAINT uniq_pk PRIMARY KEY)"
    )
    conn.query("INSERT INTO uniq VALUES ($1)", 1)
    with pytest.raises(errors.UniqueViolation) as info:
        conn.query("INSERT INTO uniq VALUES ($1)", 1)
    err = info.value
    assert isinstance(err, pgpipe.IntegrityError)
    assert err.sqlstate == "23505"
    assert err.constraint_name == "uniq_pk"
    assert err.table_name == "uniq"
    assert err.detail is not None and "already exists" in err.detail
    assert err.severity == "ERROR"
    # The connection is in sync and usable.
    assert conn.query("SELECT count(*) FROM uniq").rows == [(1,)]
    conn.execute("DROP TABLE uniq")


def test_syntax_error_position(conn: Client) -> None:
    with pytest.raises(errors.SyntaxError) as info:
        conn.query("SELECT 1 FROMM x")
    assert info.value.position == 16  # "FROMM" is read as a column alias; "x" is the error
    assert isinstance(info.value, pgpipe.ProgrammingError)
    assert conn.query("SELECT 2").rows == [(2,)]


def test_multiple_statements_refused_in_query(conn: Client) -> None:
    with pytest.raises(pgpipe.DatabaseError, match="multiple commands"):
        conn.query("SELECT 1; SELECT 2")
    assert conn.query("SELECT 3").rows == [(3,)]


def test_failed_transaction(conn: Client) -> None:
    conn.execute("BEGIN")
    assert conn.transaction_status == "T"
    with pytest.raises(errors.DivisionByZero):
        conn.query("SELECT 1 / $1", 0)
    assert conn.transaction_status == "E"
    with pytest.raises(errors.InFailedSqlTransaction):
        conn.query("SELECT 1")
    conn.execute("ROLLBACK")
    assert conn.transaction_status == "I"
    assert conn.query("SELECT 1").rows == [(1,)]


def test_bad_parameter_value_leaves_connection_usable(conn: Client) -> None:
    with pytest.raises(pgpipe.DataError):
        conn.query_with_param_types("SELECT $1", [(2**40, Type.INT4)])
    with pytest.raises(pgpipe.DataError):
        conn.query_with_param_types("SELECT $1", [("nul\x00", Type.TEXT)])
    with pytest.raises(pgpipe.InterfaceError):
        conn.query("SELECT 1 -- \x00")
    assert conn.query("SELECT 1").rows == [(1,)]


def test_notices_are_kept(conn: Client) -> None:
    conn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$")
    assert conn.notices[-1]["M"] == "hello 42"


@pytest.mark.session_state(
    "backend_pid names the client's own server process; behind PgBouncer it is PgBouncer's "
    "cancel key, and a pooled client owns no server process between transactions"
)
@pytest.mark.not_through(
    "pgpool",
    "pgpool-II 4.3 reports its server session's termination inconsistently: the server's "
    "FATAL 57P01 passed on, a FATAL XX000 of its own ('unable to read data from DB node 0'), "
    "or sometimes no answer at all until the client gives up (raw protocol messages too)",
)
def test_admin_shutdown_closes_the_connection(adapter: Adapter, dsn: str) -> None:
    victim = adapter.connect(dsn)
    killer = adapter.connect(dsn)
    assert killer.query("SELECT pg_terminate_backend($1::int)", victim.backend_pid).rows == [
        (True,)
    ]
    with pytest.raises(pgpipe.OperationalError):
        victim.query("SELECT 1")
    assert victim.closed
    with pytest.raises(pgpipe.InterfaceError, match="closed"):
        victim.query("SELECT 1")


def test_changing_client_encoding_closes_the_connection(conn: Client) -> None:
    # Text is read as UTF-8; DateStyle and IntervalStyle may change (tests/test_datestyle.py).
    with pytest.raises(pgpipe.ProtocolError, match="client_encoding"):
        conn.execute("SET client_encoding = 'LATIN1'")
    assert conn.closed
    assert "client_encoding" in (conn.closed_reason or "")


def test_closed_connection_refuses(conn: Client) -> None:
    conn.close()
    conn.close()
    assert conn.closed
    with pytest.raises(pgpipe.InterfaceError):
        conn.query("SELECT 1")


def test_context_managers(dsn: str) -> None:
    with pgpipe.connect(dsn) as c:
        assert c.query("SELECT 1").rows == [(1,)]
    assert c.closed

    async def main() -> None:
        async with await pgpipe.connect_async(dsn) as ac:
            assert (await ac.query("SELECT 1")).rows == [(1,)]
        assert ac.closed

    import asyncio

    asyncio.run(main())


def test_password_not_in_repr(adapter: Adapter, target: Target) -> None:
    client = adapter.connect(**login("scram", target))
    assert AUTH_USERS["scram"][1] not in repr(client.conn)


# -- round trips, counted --------------------------------------------------------


@pytest.mark.parametrize("method", ["trust", "password", "md5", "scram"])
def test_one_round_trip_per_query(adapter: Adapter, target: Target, method: str) -> None:
    with FlightCounter(target.host, target.port) as proxy:
        params = login(method, target)
        params["port"] = proxy.port
        params["host"] = "127.0.0.1"
        client = adapter.connect(**params)
        for i in range(3):
            proxy.reset()
            sql = f"SELECT $1::int + {i} /* never seen before {uuid.uuid4()} */"
            assert client.query_with_param_types(sql, [(1, Type.INT4)]).rows == [(1 + i,)]
            assert (proxy.client_flights, proxy.round_trips) == (1, 1)
            proxy.reset()
            assert client.query_with_param_types(sql, [(2, Type.INT4)]).rows == [(2 + i,)]
            assert (proxy.client_flights, proxy.round_trips) == (1, 1)
            proxy.reset()
            assert client.query(f"SELECT $1::text || '{uuid.uuid4()}'", "x").rows[0][0][0] == "x"
            assert (proxy.client_flights, proxy.round_trips) == (1, 1)
        proxy.reset()
        with pytest.raises(errors.UndefinedTable):
            client.query("SELECT * FROM no_such_table_here")
        assert (proxy.client_flights, proxy.round_trips) == (1, 1)


# -- asyncio specifics ------------------------------------------------------------


def test_async_concurrent_use_is_refused(dsn: str) -> None:
    import asyncio

    async def main() -> None:
        conn = await pgpipe.connect_async(dsn)
        first = asyncio.create_task(conn.query("SELECT pg_sleep(0.2), 1"))
        await asyncio.sleep(0.05)
        with pytest.raises(pgpipe.InterfaceError, match="in progress"):
            await conn.query("SELECT 2")
        assert (await first).rows[0][1] == 1
        assert (await conn.query("SELECT 3")).rows == [(3,)]
        await conn.close()

    asyncio.run(main())


def test_sync_connection_usable_from_another_thread(dsn: str) -> None:
    conn = pgpipe.connect(dsn)
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(conn.query("SELECT 5").rows))
    t.start()
    t.join(30)
    assert out == [[(5,)]]
    conn.close()


def test_json_values(conn: Client) -> None:
    doc = {"nested": {"list": [1, 2.5, "x", None, True]}}
    assert conn.query("SELECT $1::jsonb", json.dumps(doc)).rows == [(doc,)]


def test_script_with_large_results(conn: Client) -> None:
    first, second = conn.execute(
        "SELECT g FROM generate_series(1, 5000) g; SELECT 'x' || g FROM generate_series(1, 3) g"
    )
    assert first.rows == [(g,) for g in range(1, 5001)]
    assert second.rows == [("x1",), ("x2",), ("x3",)]
