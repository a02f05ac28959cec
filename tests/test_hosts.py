"""Several hosts, target_session_attrs, the password and service files, settings
that ride in the StartupMessage, and keepalives, against real servers."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pgpipe
from pgpipe._dial import reported_role, role_mismatch
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from tests.clients import Adapter

READER = ("pgpipe_reader", "pw-reader")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def two_servers(
    pg_server: TemporaryPostgres, tls_server: TemporaryPostgres
) -> Iterator[tuple[TemporaryPostgres, TemporaryPostgres]]:
    """(read-write, read-only): a role whose sessions are read-only on the second server."""
    user, password = READER
    for server in (pg_server, tls_server):
        server.psql(
            f"DROP ROLE IF EXISTS {user}; CREATE ROLE {user} LOGIN PASSWORD '{password}';"
            f"GRANT CONNECT ON DATABASE pgpipe TO {user};"
        )
    tls_server.psql(f"ALTER ROLE {user} SET default_transaction_read_only = on;")
    yield pg_server, tls_server


def both(rw: TemporaryPostgres, ro: TemporaryPostgres, **extra: Any) -> dict[str, Any]:
    user, password = READER
    params: dict[str, Any] = {
        "host": "127.0.0.1,127.0.0.1",
        "port": f"{rw.port},{ro.port}",
        "user": user,
        "password": password,
        "dbname": "pgpipe",
        "sslmode": "disable",
    }
    params.update(extra)
    return params


def test_hosts_are_tried_in_order(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    user, password = AUTH_USERS["scram"]
    dead = closed_port()
    dsn = (
        f"postgresql://{user}:{password}@127.0.0.1:{dead},127.0.0.1:{pg_server.port}/pgpipe"
        "?sslmode=disable"
    )
    client = adapter.connect(dsn)
    assert client.host == f"127.0.0.1:{pg_server.port}"
    assert client.query("SELECT 1").rows == [(1,)]


def test_every_host_failing_names_each(adapter: Adapter) -> None:
    first, second = closed_port(), closed_port()
    with pytest.raises(pgpipe.OperationalError) as info:
        adapter.connect(
            host="127.0.0.1,127.0.0.1", port=f"{first},{second}", user="u", sslmode="disable"
        )
    message = str(info.value)
    assert f"127.0.0.1:{first}" in message and f"127.0.0.1:{second}" in message
    assert message.startswith("could not connect to any host")


@pytest.mark.parametrize(
    ("target", "order", "lands_on"),
    [
        ("any", "rw,ro", "rw"),
        ("read-write", "ro,rw", "rw"),
        ("read-only", "rw,ro", "ro"),
        ("primary", "ro,rw", "ro"),
        ("prefer-standby", "rw,ro", "rw"),
    ],
)
def test_target_session_attrs(
    adapter: Adapter,
    two_servers: tuple[TemporaryPostgres, TemporaryPostgres],
    target: str,
    order: str,
    lands_on: str,
) -> None:
    servers = dict(zip(("rw", "ro"), two_servers, strict=True))
    first, second = (servers[name] for name in order.split(","))
    with (
        FlightCounter("127.0.0.1", first.port) as p1,
        FlightCounter("127.0.0.1", second.port) as p2,
    ):
        rw_port = {first.port: p1.port, second.port: p2.port}
        params = both(
            first,
            second,
            port=f"{rw_port[first.port]},{rw_port[second.port]}",
            target_session_attrs=target,
        )
        client = adapter.connect(**params)
        assert client.query("SELECT 1").rows == [(1,)]
        expected = servers[lands_on].port
        assert client.query("SHOW port").rows == [(str(expected),)]
        read_only = client.query("SHOW transaction_read_only").rows[0][0]
        assert (read_only == "on") is (lands_on == "ro")
        # The role came from the startup's ParameterStatus: no query was spent on it.
        proxy = p1 if expected == first.port else p2
        assert client.stats.round_trips == 3 + 3  # scram startup (3) + 1 per query above
        assert proxy.round_trips >= 3


def test_standby_wanted_but_none_there(
    adapter: Adapter, two_servers: tuple[TemporaryPostgres, TemporaryPostgres]
) -> None:
    with pytest.raises(pgpipe.OperationalError, match="not in hot standby"):
        adapter.connect(**both(*two_servers, target_session_attrs="standby"))
    ro = two_servers[1]
    with pytest.raises(pgpipe.OperationalError, match="the session is read-only"):
        adapter.connect(**both(ro, ro, target_session_attrs="read-write"))


def test_load_balancing_reaches_every_host(
    adapter: Adapter, two_servers: tuple[TemporaryPostgres, TemporaryPostgres]
) -> None:
    seen = set()
    for _ in range(24):
        client = adapter.connect(**both(*two_servers, load_balance_hosts="random"))
        seen.add(client.query("SHOW port").rows[0][0])
        client.close()
    assert seen == {str(two_servers[0].port), str(two_servers[1].port)}


def test_roles_from_parameter_status() -> None:
    assert reported_role({}) is None
    assert reported_role({"in_hot_standby": "on", "default_transaction_read_only": "off"}) == (
        True,
        True,
    )
    assert role_mismatch("read-write", standby=False, read_only=True) == "the session is read-only"
    assert role_mismatch("standby", standby=True, read_only=True) is None
    assert role_mismatch("any", standby=True, read_only=True) is None


def test_password_file(
    adapter: Adapter, pg_server: TemporaryPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = AUTH_USERS["scram"]
    path = tmp_path / "pgpass"
    path.write_text(f"127.0.0.1:{pg_server.port}:pgpipe:{user}:{password}\n")
    path.chmod(0o600)
    params = {
        "host": "127.0.0.1",
        "port": pg_server.port,
        "user": user,
        "dbname": "pgpipe",
        "sslmode": "disable",
    }
    assert adapter.connect(**params, passfile=str(path)).query("SELECT 1").rows == [(1,)]
    monkeypatch.setenv("PGPASSFILE", str(path))
    assert adapter.connect(**params).query("SELECT 2").rows == [(2,)]
    path.chmod(0o644)
    with pytest.raises(pgpipe.OperationalError, match="no password was given"):
        adapter.connect(**params)


def test_service_file(
    adapter: Adapter, pg_server: TemporaryPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, password = AUTH_USERS["md5"]
    path = tmp_path / "services.conf"
    path.write_text(
        f"[mydb]\nhost=127.0.0.1\nport={pg_server.port}\nuser={user}\npassword={password}\n"
        "dbname=pgpipe\nsslmode=disable\napplication_name=from-service\n"
    )
    monkeypatch.setenv("PGSERVICEFILE", str(path))
    client = adapter.connect("service=mydb")
    assert client.query("SHOW application_name").rows == [("from-service",)]
    monkeypatch.setenv("PGSERVICE", "mydb")
    client = adapter.connect(application_name="keyword-wins")
    assert client.query("SHOW application_name").rows == [("keyword-wins",)]


def test_settings_ride_in_the_startup_message(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    client = adapter.connect(
        pg_server.dsn(dbname="pgpipe") + "&options=-c%20work_mem%3D4242kB&application_name=app1"
    )
    rows = client.query("SELECT current_setting('work_mem'), current_setting('application_name')")
    assert rows.rows == [("4242kB", "app1")]
    # trust: the startup and two queries, nothing more.
    assert client.stats.round_trips == 2


def _socket_of(conn: Any) -> socket.socket:
    """The connection's socket (the blocking channel's, or the asyncio transport's)."""
    channel = conn._channel
    if hasattr(channel, "_sock"):
        return channel._sock  # type: ignore[no-any-return]
    return channel._transport.get_extra_info("socket")  # type: ignore[no-any-return]


def test_keepalive_settings_reach_the_socket(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    client = adapter.connect(
        pg_server.dsn(dbname="pgpipe"),
        keepalives_idle=7,
        keepalives_interval=3,
        keepalives_count=4,
        tcp_user_timeout=9000,
    )
    conn = client.conn
    sock = _socket_of(conn)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 7
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 3
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 9000
    off = adapter.connect(pg_server.dsn(dbname="pgpipe"), keepalives=0)
    conn = off.conn
    sock = _socket_of(conn)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


def test_requirepeer_on_the_unix_socket(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    import pwd

    owner = pwd.getpwuid(os.stat(pg_server.socket_dir).st_uid).pw_name
    params = {
        "host": pg_server.socket_dir,
        "port": pg_server.port,
        "user": "postgres",
        "dbname": "pgpipe",
    }
    assert adapter.connect(**params, requirepeer=owner).query("SELECT 1").rows == [(1,)]
    with pytest.raises(pgpipe.OperationalError, match="requirepeer specifies 'nobody-else'"):
        adapter.connect(**params, requirepeer="nobody-else")


def test_a_server_that_does_not_report_its_role_is_asked(
    adapter: Adapter,
    two_servers: tuple[TemporaryPostgres, TemporaryPostgres],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Servers before PostgreSQL 14 send no in_hot_standby: one query decides.
    from pgpipe import aio, sync

    for module in (sync, aio):
        monkeypatch.setattr(module, "reported_role", lambda parameters: None)
    rw, ro = two_servers
    client = adapter.connect(**both(ro, rw, target_session_attrs="read-write"))
    assert client.query("SHOW port").rows == [(str(rw.port),)]
    assert client.stats.round_trips == 3 + 1 + 1  # scram startup, the role query, SHOW
    with pytest.raises(pgpipe.OperationalError, match="not in hot standby"):
        adapter.connect(**both(rw, ro, target_session_attrs="standby"))


@pytest.mark.parametrize("sslmode", ["allow", "prefer"])
def test_only_a_server_refusal_is_retried_on_the_same_host(sslmode: str) -> None:
    from pgpipe._dial import Attempt
    from pgpipe.conninfo import parse_dsn

    params = parse_dsn(f"host=h sslmode={sslmode}", {}, {})
    attempt = Attempt(params, tls=sslmode == "prefer", target="any", tls_used=True)
    attempt.error = pgpipe.OperationalError("could not connect to h:5432: Connection refused")
    assert not attempt.retry_same_host()
    attempt.error = pgpipe.errors.from_fields({"S": "FATAL", "C": "28000", "M": "no entry"})
    assert attempt.retry_same_host()


def test_a_connection_reset_right_after_connecting_is_an_operational_error(
    adapter: Adapter, pg_server: TemporaryPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer that resets between connect() and the first use of the socket (a
    pooler restarting, a network cut) is a failed connection attempt, not a bare
    OSError out of getpeername()."""
    import pgpipe._io_aio
    import pgpipe._io_sync

    def reset(sock: socket.socket, params: Any) -> None:
        raise ConnectionResetError(104, "Connection reset by peer")

    monkeypatch.setattr(pgpipe._io_sync, "tune_socket", reset)
    monkeypatch.setattr(pgpipe._io_aio, "tune_socket", reset)
    with pytest.raises(pgpipe.OperationalError, match="Connection reset by peer"):
        adapter.connect(pg_server.dsn(), sslmode="disable")
    monkeypatch.undo()
    assert adapter.connect(pg_server.dsn(), sslmode="disable").query("SELECT 1").rows == [(1,)]
