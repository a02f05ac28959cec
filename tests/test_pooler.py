"""pgpipe behind PgBouncer in transaction pool mode: what works, what cannot, and how it shows.

The integration modules already run through the session's PgBouncer
(tests/targets.py). These tests are about pooling itself, against PgBouncers
of their own: ``solo`` lends every client of a user the same single server
session, so whatever one client leaves in the session the next one finds;
``pair`` lends two in turn, so a client's consecutive transactions run in
different server sessions. docs/poolers.md describes the results.

A statement that reads session state also reads ``pg_backend_pid()``, so each
assertion knows which server session answered, whatever PgBouncer's choice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pytest

import pgpipe
from pgpipe import Type, errors
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS, TemporaryPgBouncer, TemporaryPostgres
from tests.clients import Adapter

# Enough statements to see a server session other than the first: with
# server_round_robin it is the very next one.
ATTEMPTS = 8


@pytest.fixture(scope="module")
def solo(pg_server: TemporaryPostgres) -> Iterator[TemporaryPgBouncer]:
    """One server connection per user: every client of a user shares one server session."""
    with TemporaryPgBouncer(pg_server, pool_size=1) as bouncer:
        yield bouncer


@pytest.fixture(scope="module")
def pair(pg_server: TemporaryPostgres) -> Iterator[TemporaryPgBouncer]:
    """Two server connections per user, lent in turn; the superuser's both open."""
    with TemporaryPgBouncer(pg_server, pool_size=2) as bouncer:
        with (
            pgpipe.connect(bouncer.dsn(dbname="pgpipe")) as first,
            pgpipe.connect(bouncer.dsn(dbname="pgpipe")) as second,
            first.transaction(),
            second.transaction(),
        ):
            assert server_pid(first) != server_pid(second)
        yield bouncer


@pytest.fixture
def opened() -> Iterator[list[pgpipe.Connection]]:
    """Connections a test opens; closed at its end."""
    conns: list[pgpipe.Connection] = []
    yield conns
    for conn in conns:
        conn.close()


class Connect(Protocol):
    def __call__(self, bouncer: TemporaryPgBouncer, **params: Any) -> pgpipe.Connection: ...


@pytest.fixture
def connect(opened: list[pgpipe.Connection]) -> Connect:
    """Connects to the ``pgpipe`` database through a given PgBouncer, as the superuser."""

    def make(bouncer: TemporaryPgBouncer, **params: Any) -> pgpipe.Connection:
        conn = pgpipe.connect(bouncer.dsn(dbname="pgpipe"), **params)
        opened.append(conn)
        return conn

    return make


def server_pid(conn: pgpipe.Connection) -> int:
    ((pid,),) = conn.query("SELECT pg_backend_pid()").rows
    assert isinstance(pid, int)
    return pid


def admin(bouncer: TemporaryPgBouncer, command: str) -> list[dict[str, object]]:
    """A PgBouncer admin console command (simple protocol only), rows as dicts."""
    with pgpipe.connect(bouncer.dsn(dbname="pgbouncer")) as console:
        (result,) = console.execute(command)
    names = [column.name for column in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def other_session(
    conn: pgpipe.Connection, first: int, probe: Callable[[], tuple[int, object]]
) -> object:
    """Run ``probe`` (returning a server pid and a value) until it runs in a session
    other than ``first``; every run in ``first`` must not be the answer. Returns
    what the probe saw there, or the exception it raised (not knowing the pid)."""
    for _ in range(ATTEMPTS):
        try:
            pid, value = probe()
        except pgpipe.DatabaseError as exc:
            return exc
        if pid != first:
            return value
    pytest.fail(f"{ATTEMPTS} statements all ran in server session {first}")


def in_session(conn: pgpipe.Connection, pid: int, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` in server session ``pid``: transactions until PgBouncer lends that one."""
    for _ in range(ATTEMPTS):
        with conn.transaction():
            if server_pid(conn) == pid:
                (result,) = conn.execute(sql)
                return result.rows
    pytest.fail(f"PgBouncer never lent server session {pid} in {ATTEMPTS} transactions")


# -- the helper ----------------------------------------------------------------


def test_helper_lifecycle_and_config(pg_server: TemporaryPostgres) -> None:
    bouncer = TemporaryPgBouncer(
        pg_server,
        pool_size=3,
        databases={"pgpipe_solo": "dbname=pgpipe pool_size=1"},
        settings={"max_client_conn": "50"},
    )
    assert repr(bouncer) == "<TemporaryPgBouncer stopped>"
    with pytest.raises(RuntimeError, match="not started"):
        _ = bouncer.port
    with bouncer:
        directory = bouncer.directory
        config = Path(bouncer.config_path).read_text(encoding="utf-8")
        for line in (
            "pool_mode = transaction",
            "default_pool_size = 3",
            "min_pool_size = 3",
            "server_round_robin = 1",
            "auth_type = hba",
            "max_client_conn = 50",
            f"pgpipe = host={pg_server.socket_dir} port={pg_server.port} dbname=pgpipe",
        ):
            assert line + "\n" in config
        assert bouncer.dsn("u@x", "p:w", "db") == (
            f"postgresql://u%40x:p%3Aw@127.0.0.1:{bouncer.port}/db?sslmode=disable"
        )
        assert f"127.0.0.1:{bouncer.port} (transaction)" in repr(bouncer)
        # PgBouncer's default (empty) plus the entry commonly added for JDBC: never
        # anything for pgpipe, which sends only what libpq may send.
        assert "ignore_startup_parameters = extra_float_digits\n" in config
        with pytest.raises(RuntimeError, match="already started"):
            bouncer.start()
        with pgpipe.connect(bouncer.dsn(dbname="pgpipe")) as conn:
            assert conn.query("SELECT current_database()").rows == [("pgpipe",)]
            assert conn.parameters["server_version"] == pg_server.server_version
        with pgpipe.connect(bouncer.dsn(dbname="pgpipe_solo")) as conn:
            assert conn.query("SELECT current_database()").rows == [("pgpipe",)]
        solo_pool = [p for p in admin(bouncer, "SHOW DATABASES") if p["name"] == "pgpipe_solo"]
        assert [p["pool_size"] for p in solo_pool] == [1]
        assert "process up: PgBouncer" in Path(bouncer.log_path).read_text(encoding="utf-8")
    bouncer.stop()
    assert repr(bouncer) == "<TemporaryPgBouncer stopped>"
    assert not os.path.exists(directory)


def test_missing_pgbouncer_is_an_error_not_a_skip(
    pg_server: TemporaryPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError, match="is not an executable pgbouncer program"):
        TemporaryPgBouncer(pg_server, program="/nonexistent/pgbouncer").start()
    monkeypatch.delenv("PGPIPE_PGBOUNCER", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(pgpipe.testing, "_POOLER_DIRECTORIES", ())
    with pytest.raises(RuntimeError, match=r"apt-get install pgbouncer.*PGPIPE_PGBOUNCER"):
        TemporaryPgBouncer(pg_server).start()


def test_a_bad_config_fails_with_the_log(pg_server: TemporaryPostgres) -> None:
    with pytest.raises(RuntimeError, match=r"(?s)exit 1.*invalid value \"bogus\" for parameter"):
        TemporaryPgBouncer(pg_server, pool_mode="bogus").start()


def test_the_session_pooler_is_in_transaction_mode(pgbouncer: TemporaryPgBouncer) -> None:
    with pgpipe.connect(pgbouncer.dsn(dbname="pgpipe")) as conn:
        conn.query("SELECT 1")
    pools = admin(pgbouncer, "SHOW POOLS")
    pool = next(p for p in pools if p["database"] == "pgpipe" and p["user"] == "postgres")
    assert pool["pool_mode"] == "transaction"
    # The admin console speaks the simple protocol only; pgpipe says what it said.
    with (
        pgpipe.connect(pgbouncer.dsn(dbname="pgbouncer")) as console,
        pytest.raises(errors.ProtocolViolation, match="extended query protocol not supported"),
    ):
        console.query("SHOW POOLS")


# -- zero configuration: one-packet queries in shared server sessions -----------


def one_packet_cases(conn: pgpipe.Connection, client: int, i: int) -> None:
    """One statement, picked by ``i``, whose answer only this client and iteration can have.

    Several cases share a SQL text with different parameter types ("SELECT $1"),
    which is what breaks drivers naming their prepared statements; each text runs
    again and again, so pgpipe asks for binary results after the first run, in
    whatever server session PgBouncer picks.
    """
    k = client * 1000 + i
    tag = f"c{client}-{i}"
    case = i % 12
    if case == 0:
        rows = conn.query_with_param_types(
            "SELECT $1::int4 + 1, $2::text", [(k, Type.INT4), (tag, Type.TEXT)]
        ).rows
        assert rows == [(k + 1, tag)]
    elif case == 1:
        assert conn.query("SELECT $1", k).rows == [(k,)]
    elif case == 2:
        assert conn.query("SELECT $1", tag).rows == [(tag,)]
    elif case == 3:
        assert conn.query("SELECT $1", k + 0.5).rows == [(k + 0.5,)]
    elif case == 4:
        assert conn.query("SELECT $1", Decimal(k) / 8).rows == [(Decimal(k) / 8,)]
    elif case == 5:
        rows = conn.query_with_param_types("SELECT $1", [(tag.encode(), Type.BYTEA)]).rows
        assert rows == [(tag.encode(),)]
    elif case == 6:
        day = dt.date(2024, 1, 1)
        rows = conn.query("SELECT $1::date + $2::int4", day, i).rows
        assert rows == [(day + dt.timedelta(days=i),)]
    elif case == 7:
        assert conn.query("SELECT $1::jsonb -> 'k'", {"k": [k, tag]}).rows == [([k, tag],)]
    elif case == 8:
        with pytest.raises(errors.DivisionByZero) as info:
            conn.query("SELECT $1::int4 / $2::int4", k, 0)
        assert info.value.sqlstate == "22012"
    elif case == 9:
        # A SQL text never seen before, every time.
        assert conn.query(f"SELECT {k} AS v_{uuid.uuid4().hex}").rows == [(k,)]
    elif case == 10:
        first, second = conn.execute(f"SELECT {k}; SELECT '{tag}'")
        assert (first.rows, second.rows) == ([(k,)], [(tag,)])
    else:
        with conn.transaction():
            inside = server_pid(conn)
            assert conn.query("SELECT $1::text", tag).rows == [(tag,)]
            assert server_pid(conn) == inside


@pytest.mark.parametrize("pool", ["solo", "pair"])
def test_interleaved_one_packet_queries_never_meet_a_prepared_statement(
    request: pytest.FixtureRequest, pool: str
) -> None:
    bouncer: TemporaryPgBouncer = request.getfixturevalue(pool)
    clients, rounds = 6, 36
    failures: list[BaseException] = []
    pids: set[int] = set()
    start = threading.Barrier(clients)

    def run(client: int) -> None:
        try:
            with pgpipe.connect(bouncer.dsn(dbname="pgpipe")) as conn:
                start.wait(30)
                for i in range(rounds):
                    one_packet_cases(conn, client, i)
                    if i % 6 == 0:
                        pids.add(server_pid(conn))
        except BaseException as exc:  # reported below, with its traceback
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    for failure in failures:
        assert "prepared statement" not in str(failure)
        assert getattr(failure, "sqlstate", None) != "26000"
    if failures:
        raise failures[0]
    # Six clients, served by the pool's one or two server sessions.
    assert len(pids) == bouncer.pool_size


def test_interleaved_async_clients(pair: TemporaryPgBouncer) -> None:
    async def client(n: int) -> list[int]:
        async with await pgpipe.connect_async(pair.dsn(dbname="pgpipe")) as conn:
            seen = []
            for i in range(20):
                # One SQL text, an int8 parameter one time and a text one the next.
                value: object = n * 100 + i if i % 2 else f"{n}:{i}"
                (row,) = (await conn.query("SELECT $1, pg_backend_pid()", value)).rows
                assert row[0] == value
                seen.append(row[1])
            return seen

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(client(n) for n in range(4)))

    pids = {pid for seen in asyncio.run(main()) for pid in seen}
    assert len(pids) == pair.pool_size


def test_named_prepared_statements_are_what_breaks(
    pair: TemporaryPgBouncer, connect: Connect
) -> None:
    """The error class pgpipe's unnamed statements avoid, made on purpose with SQL PREPARE."""
    conn = connect(pair)
    with conn.transaction():
        conn.execute("PREPARE pooled_stmt AS SELECT 1")
        first = server_pid(conn)

    def probe() -> tuple[int, object]:
        (row,) = conn.query(
            "SELECT pg_backend_pid(), count(*) FROM pg_prepared_statements"
            " WHERE name = 'pooled_stmt'"
        ).rows
        return row[0], row[1]

    assert other_session(conn, first, probe) == 0
    for _ in range(ATTEMPTS):
        try:
            conn.execute("EXECUTE pooled_stmt")
        except errors.InvalidSqlStatementName as exc:
            assert exc.sqlstate == "26000"
            assert 'prepared statement "pooled_stmt" does not exist' in str(exc)
            break
    else:
        pytest.fail("EXECUTE always found the statement")
    in_session(conn, first, "DEALLOCATE pooled_stmt")


def test_opt_in_named_statements_pay_behind_a_pooler(pair: TemporaryPgBouncer) -> None:
    """prepare() and statement_cache_size name their statements: each server session
    that lacks one answers 26000, and pgpipe prepares it again in the same call
    (outside a transaction), at the price of a second round trip. With two server
    sessions lent in turn, that is every run."""
    with (
        FlightCounter(pair.host, pair.port) as proxy,
        pgpipe.connect(proxy_dsn(proxy), statement_cache_size=4) as conn,
    ):
        statement = conn.prepare("SELECT $1::int * 2, pg_backend_pid()")
        trips = []
        for n in range(4):
            proxy.reset()
            assert statement.query(n).rows[0][0] == 2 * n
            trips.append(proxy.round_trips)
        assert 2 in trips and set(trips) <= {1, 2}
        trips = []
        for n in range(4):
            proxy.reset()
            assert conn.query("SELECT $1::int + 1", n).rows == [(n + 1,)]  # cached after one run
            trips.append(proxy.round_trips)
        assert trips[0] == 1 and 2 in trips[1:] and set(trips) <= {1, 2}
        # Inside a transaction the failed Bind aborted it: the error stands.
        for _ in range(ATTEMPTS):
            try:
                with conn.transaction():
                    statement.query(7)
            except errors.InvalidSqlStatementName as exc:
                assert "a transaction-mode pooler may have moved this session" in str(exc)
                break
        else:
            pytest.fail("the statement was in every server session")


def proxy_dsn(proxy: FlightCounter) -> str:
    return f"postgresql://postgres@127.0.0.1:{proxy.port}/pgpipe?sslmode=disable"


# -- transactions -----------------------------------------------------------------


def test_a_transaction_keeps_one_server_session(pair: TemporaryPgBouncer, connect: Connect) -> None:
    writer, reader = connect(pair), connect(pair)
    table = f"pooled_{uuid.uuid4().hex[:12]}"
    writer.execute(f"CREATE TABLE {table} (n int)")
    try:
        with writer.transaction():
            pid = server_pid(writer)
            writer.query(f"INSERT INTO {table} VALUES ($1)", 1)
            assert reader.query(f"SELECT count(*) FROM {table}").rows == [(0,)]
            writer.query(f"INSERT INTO {table} VALUES ($1)", 2)
            assert server_pid(writer) == pid
            assert writer.transaction_status == "T"
        assert reader.query(f"SELECT count(*) FROM {table}").rows == [(2,)]
        with pytest.raises(ValueError), writer.transaction():
            writer.query(f"INSERT INTO {table} VALUES ($1)", 3)
            raise ValueError
        assert writer.query(f"SELECT sum(n) FROM {table}").rows == [(3,)]
        # Outside a transaction, the client's statements run wherever PgBouncer puts them.
        assert len({server_pid(writer) for _ in range(ATTEMPTS)}) == 2
    finally:
        writer.execute(f"DROP TABLE {table}")


def test_set_local_is_the_way_to_set_something(pair: TemporaryPgBouncer, connect: Connect) -> None:
    conn = connect(pair)
    with conn.transaction():
        conn.execute("SET LOCAL search_path = pooler_elsewhere, public")
        assert conn.query("SHOW search_path").rows == [("pooler_elsewhere, public",)]
    # It ended with the transaction, in whichever server session that was.
    for _ in range(ATTEMPTS // 2):
        assert conn.query("SHOW search_path").rows == [('"$user", public',)]


# -- session state: what cannot work, and what it looks like -------------------------


def test_set_of_an_ordinary_setting_leaks_to_other_clients(
    solo: TemporaryPgBouncer, connect: Connect
) -> None:
    setter, bystander = connect(solo), connect(solo)
    setter.query("SET search_path = pooler_elsewhere, public")
    try:
        assert server_pid(setter) == server_pid(bystander)
        assert bystander.query("SHOW search_path").rows == [("pooler_elsewhere, public",)]
    finally:
        bystander.query("RESET search_path")


def test_set_of_an_ordinary_setting_is_lost_by_its_client(
    pair: TemporaryPgBouncer, connect: Connect
) -> None:
    conn = connect(pair)
    with conn.transaction():
        conn.execute("SET search_path = pooler_elsewhere, public")
        first = server_pid(conn)

    def probe() -> tuple[int, object]:
        (row,) = conn.query("SELECT pg_backend_pid(), current_setting('search_path')").rows
        return row[0], row[1]

    try:
        assert other_session(conn, first, probe) == '"$user", public'
    finally:
        in_session(conn, first, "RESET search_path")


def test_timezone_and_application_name_follow_their_client(
    pair: TemporaryPgBouncer, pg_server: TemporaryPostgres, connect: Connect
) -> None:
    """PgBouncer keeps five settings per client (client_encoding, DateStyle, TimeZone,
    standard_conforming_strings, application_name) and sets them on each server
    session it lends: SET of these works, and pgpipe sees the ParameterStatus."""
    default_zone = pg_server.psql("SHOW TimeZone").strip()
    tokyo = connect(pair, application_name="tokyo")
    other = connect(pair, application_name="other")
    tokyo.query("SET TimeZone = 'Asia/Tokyo'")
    assert tokyo.parameters["TimeZone"] == "Asia/Tokyo"
    sql = (
        "SELECT pg_backend_pid(), current_setting('TimeZone'), current_setting('application_name')"
    )
    seen = set()
    for _ in range(ATTEMPTS // 2):
        pid, zone, name = tokyo.query(sql).rows[0]
        assert (zone, name) == ("Asia/Tokyo", "tokyo")
        seen.add(pid)
        pid, zone, name = other.query(sql).rows[0]
        assert (zone, name) == (default_zone, "other")
        seen.add(pid)
    assert len(seen) == 2
    instant = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    (value,) = tokyo.query("SELECT $1::timestamptz", instant).rows[0]
    assert value == instant and value.utcoffset() == dt.timedelta(hours=9)


def test_a_client_without_application_name_gets_the_last_one(
    solo: TemporaryPgBouncer, connect: Connect
) -> None:
    """An empty application_name is "not set" to PgBouncer: it sets nothing for that client."""
    named, anonymous = connect(solo, application_name="named"), connect(solo)
    assert named.query("SHOW application_name").rows == [("named",)]
    assert anonymous.query("SHOW application_name").rows == [("named",)]


def test_intervalstyle_left_by_another_client(solo: TemporaryPgBouncer, connect: Connect) -> None:
    """PgBouncer restores IntervalStyle per client from 1.20 on; before, another
    client's SET stays in the server session, unreported to the next client.
    pgpipe reads intervals in every style, so neither client notices."""
    reader, setter = connect(solo), connect(solo)
    setter.execute("SET IntervalStyle = 'iso_8601'")
    assert setter.parameters["IntervalStyle"] == "iso_8601"
    expected = [(dt.timedelta(days=-1, hours=2, microseconds=-500),)]
    try:
        for conn in (setter, reader):
            # A comment of its own: the statement's first run, so text results.
            sql = f"SELECT '-1 day +01:59:59.9995'::interval /* {uuid.uuid4()} */"
            assert conn.query(sql).rows == expected
            assert conn.query(sql).rows == expected  # binary on the second run
        style = reader.query("SHOW IntervalStyle").rows
        assert style == [("postgres",)] if solo.version >= (1, 20) else [("iso_8601",)]
    finally:
        setter.query("RESET IntervalStyle")


def test_datestyle_follows_its_client(solo: TemporaryPgBouncer, connect: Connect) -> None:
    """PgBouncer keeps each client's DateStyle (the server's when its StartupMessage
    named none, as pgpipe's does not) and sets it on the server session it lends:
    a client's SET DateStyle stays its own, and pgpipe reads dates in it."""
    reader, setter = connect(solo), connect(solo)
    setter.execute("SET DateStyle = 'German'")
    assert setter.parameters["DateStyle"] == "German, DMY"
    sql = "SELECT current_setting('DateStyle'), '01/02/2024'::date, $1::date, $2::timestamp"
    stamp = dt.datetime(2024, 1, 2, 3, 4, 5, 6)
    try:
        for conn, style, literal in (
            (setter, "German, DMY", dt.date(2024, 2, 1)),
            (reader, "ISO, MDY", dt.date(2024, 1, 2)),
            (setter, "German, DMY", dt.date(2024, 2, 1)),
        ):
            for _ in range(2):  # text, then binary
                rows = conn.query(sql, dt.date(2024, 1, 2), stamp).rows
                assert rows == [(style, literal, dt.date(2024, 1, 2), stamp)]
    finally:
        setter.query("RESET DateStyle")


def test_startup_settings_pgbouncer_does_not_know_are_refused(
    pair: TemporaryPgBouncer, connect: Connect
) -> None:
    with pytest.raises(errors.ProtocolViolation, match="unsupported startup parameter: options"):
        connect(pair, options="-c search_path=elsewhere")
    with pytest.raises(
        errors.ProtocolViolation, match="unsupported startup parameter: statement_timeout"
    ):
        connect(pair, server_settings={"statement_timeout": "5s"})
    conn = connect(pair, server_settings={"TimeZone": "Asia/Kolkata"})
    assert conn.query("SHOW TimeZone").rows == [("Asia/Kolkata",)]


def test_listen_belongs_to_the_server_session(solo: TemporaryPgBouncer, connect: Connect) -> None:
    """LISTEN succeeds; the registration stays in the server session, whoever uses it next."""
    listener, bystander = connect(solo), connect(solo)
    assert listener.query("LISTEN pooled_channel").command == "LISTEN"
    try:
        assert server_pid(listener) == server_pid(bystander)
        assert bystander.query("SELECT pg_listening_channels()").rows == [("pooled_channel",)]
    finally:
        bystander.query("UNLISTEN *")


def test_a_notification_to_an_idle_server_session_is_dropped(
    pair: TemporaryPgBouncer, connect: Connect
) -> None:
    """PgBouncer 1.18 skips (and logs) what a server session sends while no client has it:
    the notification reaches nobody, and the session stays, still listening."""
    listener, notifier = connect(pair), connect(pair)
    log_offset = os.path.getsize(pair.log_path)
    listener.execute("BEGIN; LISTEN pooled_idle")
    listening = server_pid(listener)
    notifier.execute("BEGIN; NOTIFY pooled_idle, 'lost'")
    assert server_pid(notifier) != listening  # the listener's session is taken
    listener.execute("COMMIT")  # listening from now on, idle in the pool
    notifier.execute("COMMIT")  # the notification goes to the idle session
    deadline = time.monotonic() + 10
    while "got packet 'A' from server when not linked" not in read_from(pair.log_path, log_offset):
        assert time.monotonic() < deadline, "PgBouncer never logged the notification"
        time.sleep(0.05)
    channels = in_session(notifier, listening, "SELECT array(SELECT pg_listening_channels())")
    assert channels == [(["pooled_idle"],)]
    in_session(notifier, listening, "UNLISTEN *")


def read_from(path: str, offset: int) -> str:
    with open(path, encoding="utf-8", errors="replace") as file:
        file.seek(offset)
        return file.read()


def test_session_advisory_locks_are_shared(solo: TemporaryPgBouncer, connect: Connect) -> None:
    holder, rival = connect(solo), connect(solo)
    assert holder.query("SELECT pg_advisory_lock(4242)").rows == [(None,)]
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"
    try:
        # The same server session holds the lock: the rival "gets" it too.
        assert rival.query("SELECT pg_try_advisory_lock(4242)").rows == [(True,)]
        # And the lock outlives the client that took it: the session stays in the pool.
        holder.close()
        assert rival.query(held).rows == [(1,)]
    finally:
        rival.query("SELECT pg_advisory_unlock_all()")
    assert rival.query(held).rows == [(0,)]


def test_unlocking_from_another_session_is_a_warning(
    pair: TemporaryPgBouncer, connect: Connect
) -> None:
    holder, other = connect(pair), connect(pair)
    holder.execute("BEGIN")
    ((pid, _),) = holder.query("SELECT pg_backend_pid(), pg_advisory_lock(4343)").rows
    try:
        with other.transaction():
            assert server_pid(other) != pid
            assert other.query("SELECT pg_advisory_unlock(4343)").rows == [(False,)]
        assert other.notices[-1]["M"] == "you don't own a lock of type ExclusiveLock"
    finally:
        holder.query("SELECT pg_advisory_unlock(4343)")
        holder.execute("COMMIT")


def test_temporary_tables_stay_in_one_server_session(
    pair: TemporaryPgBouncer, connect: Connect
) -> None:
    conn = connect(pair)
    with conn.transaction():
        conn.execute("CREATE TEMP TABLE pooled_temp (n int)")
        first = server_pid(conn)

    def probe() -> tuple[int, object]:
        (row,) = conn.query("SELECT pg_backend_pid(), count(*) FROM pooled_temp").rows
        return row[0], row[1]

    try:
        missing = other_session(conn, first, probe)
        assert isinstance(missing, errors.UndefinedTable), missing
        assert 'relation "pooled_temp" does not exist' in str(missing)
    finally:
        in_session(conn, first, "DROP TABLE pg_temp.pooled_temp")


def test_with_hold_cursors_stay_in_one_server_session(
    pair: TemporaryPgBouncer, connect: Connect
) -> None:
    conn = connect(pair)
    with conn.transaction():
        conn.execute("DECLARE pooled_cursor CURSOR WITH HOLD FOR SELECT 1")
        first = server_pid(conn)

    def probe() -> tuple[int, object]:
        (row,) = conn.query(
            "SELECT pg_backend_pid(), count(*) FROM pg_cursors WHERE name = 'pooled_cursor'"
        ).rows
        return row[0], row[1]

    try:
        assert other_session(conn, first, probe) == 0
        for _ in range(ATTEMPTS):
            try:
                conn.execute("FETCH pooled_cursor")
            except errors.InvalidCursorName as exc:
                assert exc.sqlstate == "34000"
                break
        else:
            pytest.fail("FETCH always found the cursor")
    finally:
        in_session(conn, first, "CLOSE pooled_cursor")


def test_backend_pid_is_pgbouncers_cancel_key(solo: TemporaryPgBouncer, connect: Connect) -> None:
    conn = connect(solo)
    assert conn.backend_pid is not None
    assert conn.backend_pid != server_pid(conn)
    assert conn.query("SELECT pg_terminate_backend($1::int)", conn.backend_pid).rows == [(False,)]
    assert "is not a PostgreSQL backend process" in conn.notices[-1]["M"]


def test_statement_mode_refuses_transactions(pg_server: TemporaryPostgres) -> None:
    with (
        TemporaryPgBouncer(pg_server, pool_mode="statement") as bouncer,
        pgpipe.connect(bouncer.dsn(dbname="pgpipe")) as conn,
    ):
        assert conn.query("SELECT $1::int", 1).rows == [(1,)]
        assert [r.rows for r in conn.execute("SELECT 1; SELECT 2")] == [[(1,)], [(2,)]]
        with (
            pytest.raises(errors.ProtocolViolation, match="transaction blocks not allowed"),
            conn.transaction(),
        ):
            pass
        assert conn.closed


def test_waiting_for_a_busy_pool_too_long(pg_server: TemporaryPostgres) -> None:
    settings = {"query_wait_timeout": "1"}
    with (
        TemporaryPgBouncer(pg_server, pool_size=1, settings=settings) as bouncer,
        pgpipe.connect(bouncer.dsn(dbname="pgpipe")) as busy,
        pgpipe.connect(bouncer.dsn(dbname="pgpipe")) as waiting,
    ):
        with (
            busy.transaction(),
            pytest.raises(errors.ProtocolViolation, match="query_wait_timeout"),
        ):
            waiting.query("SELECT 1")
        assert waiting.closed
        assert busy.query("SELECT 1").rows == [(1,)]


# -- cancellation and timeouts ---------------------------------------------------------


def test_cancel_goes_through_pgbouncer(pair: TemporaryPgBouncer, connect: Connect) -> None:
    conn = connect(pair)
    timer = threading.Timer(0.3, conn.cancel)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(errors.QueryCanceled, match="canceling statement due to user request"):
            conn.query("SELECT pg_sleep(10)")
    finally:
        timer.join(10)
    assert time.monotonic() - started < 5
    assert conn.query("SELECT 1").rows == [(1,)]


def test_timeout_cancels_through_pgbouncer(pair: TemporaryPgBouncer, connect: Connect) -> None:
    conn = connect(pair)
    with pytest.raises(errors.QueryTimeout) as info:
        conn.query("SELECT pg_sleep(10)", timeout=0.3)
    assert not info.value.closed
    assert conn.query("SELECT 2").rows == [(2,)]

    async def main() -> None:
        async with await pgpipe.connect_async(pair.dsn(dbname="pgpipe")) as aconn:
            with pytest.raises(errors.QueryTimeout) as info:
                await aconn.query("SELECT pg_sleep(10)", timeout=0.3)
            assert not info.value.closed
            task = asyncio.create_task(aconn.query("SELECT pg_sleep(10)"))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await aconn.query("SELECT 3")).rows == [(3,)]

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5


def test_timeout_while_waiting_for_a_server_connection(pg_server: TemporaryPostgres) -> None:
    """A statement still queued in PgBouncer cannot be cancelled: PgBouncer drops that
    CancelRequest ("cancel request for idle client"), so pgpipe closes the connection
    after cancel_timeout; the statement, never sent to the server, goes with it."""
    table = f"pooled_{uuid.uuid4().hex[:12]}"
    with (
        TemporaryPgBouncer(pg_server, pool_size=1) as bouncer,
        pgpipe.connect(bouncer.dsn(dbname="pgpipe")) as busy,
        pgpipe.connect(bouncer.dsn(dbname="pgpipe"), cancel_timeout=1) as waiting,
    ):
        busy.execute(f"CREATE TABLE {table} (n int)")
        try:
            with busy.transaction():
                started = time.monotonic()
                with pytest.raises(errors.QueryTimeout) as info:
                    waiting.query(f"INSERT INTO {table} VALUES (1)", timeout=0.3)
                assert info.value.closed and waiting.closed
                assert time.monotonic() - started < 3
            assert busy.query(f"SELECT count(*) FROM {table}").rows == [(0,)]
        finally:
            busy.execute(f"DROP TABLE {table}")


# -- connecting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "method", "expected"),
    [("trust", "trust", 1), ("password", "password", 1), ("scram", "scram", 2)],
)
def test_pipelined_connect_to_a_cold_pgbouncer(
    pg_server: TemporaryPostgres, mode: str, method: str, expected: int
) -> None:
    """No server connection yet: PgBouncer logs into PostgreSQL inside the client's round trips."""
    user, password = AUTH_USERS[method]
    with (
        TemporaryPgBouncer(pg_server) as bouncer,
        FlightCounter(bouncer.host, bouncer.port) as proxy,
        pgpipe.connect(
            host="127.0.0.1",
            port=proxy.port,
            user=user,
            password=password,
            dbname="pgpipe",
            sslmode="disable",
            pipeline_connect=mode,
            allow_unverified_pipelining=True,
        ) as conn,
    ):
        assert conn.query("SELECT current_user").rows == [(user,)]
        assert proxy.round_trips == conn.stats.round_trips == expected


@pytest.fixture(scope="module")
def bare(pg_server: TemporaryPostgres) -> Iterator[TemporaryPgBouncer]:
    """A PgBouncer whose file has no ignore_startup_parameters at all."""
    with TemporaryPgBouncer(pg_server, settings={"ignore_startup_parameters": None}) as bouncer:
        yield bouncer


@pytest.mark.parametrize("method", sorted(AUTH_USERS))
def test_connects_to_pgbouncer_in_its_default_configuration(
    bare: TemporaryPgBouncer, adapter: Adapter, method: str
) -> None:
    """Nothing in pgpipe's StartupMessage needs ignore_startup_parameters (PgBouncer
    before 1.20 refuses IntervalStyle with "unsupported startup parameter")."""
    assert "ignore_startup_parameters" not in Path(bare.config_path).read_text(encoding="utf-8")
    user, password = AUTH_USERS[method]
    conn = adapter.connect(bare.dsn(user, password, "pgpipe"))
    assert conn.auth_method == method
    sql = (
        "SELECT current_user, '2024-03-10 01:59:59.5'::timestamp, '-1 year +2 days'::interval, "
        f"'2024-02-29'::date, tstzrange('2024-01-01 UTC', NULL) /* {uuid.uuid4()} */"
    )
    expected = [
        (
            user,
            dt.datetime(2024, 3, 10, 1, 59, 59, 500000),
            pgpipe.Interval(-12, 2, 0),
            dt.date(2024, 2, 29),
            pgpipe.Range(dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None),
        )
    ]
    for _ in range(2):  # text on the first run, binary on the next
        assert conn.query(sql).rows == expected
    conn.execute("SET IntervalStyle = 'sql_standard'; SET DateStyle = 'SQL, DMY'")
    assert conn.query(sql).rows == expected


def test_unknown_database_is_pgbouncers_protocol_violation(
    pair: TemporaryPgBouncer,
) -> None:
    with pytest.raises(errors.ProtocolViolation, match="no such database: nowhere"):
        pgpipe.connect(pair.dsn(dbname="nowhere"))
