"""``conn.info``: every fact about a connection, checked against what the server
itself says (``SHOW``, ``pg_backend_pid()``, ``pg_stat_ssl``), through both adapters."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import pgpipe
from pgpipe._info import server_version_number
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from tests import wire
from tests.clients import Adapter, Client


def login(server: TemporaryPostgres, method: str = "scram", **extra: Any) -> dict[str, Any]:
    user, password = AUTH_USERS[method]
    params: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": user,
        "password": password,
        "dbname": "pgpipe",
        "sslmode": "disable",
    }
    params.update(extra)
    return params


def show(client: Client, setting: str) -> str:
    value: str = client.query(f"SHOW {setting}").rows[0][0]
    return value


# -- where the connection went ------------------------------------------------------


def test_facts_over_tcp(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    client = adapter.connect(**login(pg_server))
    info = client.info
    assert isinstance(info, pgpipe.ConnectionInfo)
    assert (info.host, info.port) == ("127.0.0.1", pg_server.port)
    assert client.query("SELECT inet_server_port()").rows == [(info.port,)]
    assert (info.user, info.dbname) == (AUTH_USERS["scram"][0], "pgpipe")
    assert client.query("SELECT current_user, current_database()").rows == [
        (info.user, info.dbname)
    ]
    assert info.server_version == int(show(client, "server_version_num"))
    assert info.server_version == pg_server.server_version_num
    assert client.query("SELECT pg_backend_pid()").rows == [(info.backend_pid,)]
    assert info.encoding == show(client, "client_encoding") == "UTF8"
    assert info.timezone == show(client, "TimeZone")
    assert info.auth_method == "scram"
    assert info.tls_version is None and info.channel_binding is False
    assert info.transaction_status is pgpipe.TransactionStatus.IDLE


def test_facts_over_a_unix_socket(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    client = adapter.connect(**login(pg_server, "md5", host=pg_server.socket_dir))
    info = client.info
    # The socket directory, without the ".s.PGSQL.<port>" file name; the port apart.
    assert (info.host, info.port) == (pg_server.socket_dir, pg_server.port)
    assert client.query("SELECT inet_client_addr()").rows == [(None,)]
    assert client.query("SELECT pg_backend_pid()").rows == [(info.backend_pid,)]
    assert info.auth_method == "md5" and info.user == AUTH_USERS["md5"][0]


def test_the_host_that_answered(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    client = adapter.connect(
        **login(
            pg_server, host=f"127.0.0.1,{pg_server.socket_dir}", port=f"{closed},{pg_server.port}"
        )
    )
    assert (client.info.host, client.info.port) == (pg_server.socket_dir, pg_server.port)
    assert client.query("SELECT inet_client_addr()").rows == [(None,)]


# -- live facts ---------------------------------------------------------------------


def test_transaction_status_follows_the_session(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    client = adapter.connect(**login(pg_server))
    info = client.info  # kept aside: read again, it is current
    assert info.transaction_status == "I"
    client.execute("BEGIN")
    assert info.transaction_status is pgpipe.TransactionStatus.IN_TRANSACTION
    assert client.info.transaction_status == client.transaction_status == "T"
    with pytest.raises(pgpipe.errors.DivisionByZero):
        client.query("SELECT 1 / 0")
    assert info.transaction_status is pgpipe.TransactionStatus.FAILED
    client.execute("ROLLBACK")
    assert info.transaction_status is pgpipe.TransactionStatus.IDLE
    with client.transaction():
        assert info.transaction_status is pgpipe.TransactionStatus.IN_TRANSACTION
    assert info.transaction_status is pgpipe.TransactionStatus.IDLE


def test_parameters_are_a_copy(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    client = adapter.connect(**login(pg_server))
    info = client.info
    reported = info.parameters
    zone = reported["TimeZone"]
    reported["TimeZone"] = "Mars/Olympus_Mons"
    reported.pop("server_version")
    reported["made_up"] = "x"
    assert info.parameters["TimeZone"] == client.parameters["TimeZone"] == zone
    assert info.timezone == zone
    assert info.parameters["server_version"] == show(client, "server_version")
    assert "made_up" not in info.parameters and "made_up" not in client.parameters
    assert info.parameters is not info.parameters
    # A SET the server reports (ParameterStatus) shows at the next read, not in the copy.
    other = "America/Sao_Paulo" if zone != "America/Sao_Paulo" else "Asia/Tokyo"
    client.execute(f"SET TimeZone = '{other}'")
    assert info.timezone == info.parameters["TimeZone"] == show(client, "TimeZone") == other
    assert reported["TimeZone"] == "Mars/Olympus_Mons"


def test_info_is_read_only(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    client = adapter.connect(**login(pg_server))
    info = client.info
    for name, value in [("host", "elsewhere"), ("port", 1), ("backend_pid", 1), ("other", 1)]:
        with pytest.raises(AttributeError):
            setattr(info, name, value)
    assert info.host == "127.0.0.1" and info.port == pg_server.port


def test_the_older_properties_agree(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    client = adapter.connect(**login(pg_server))
    info = client.info
    assert client.backend_pid == info.backend_pid is not None
    assert client.parameters == info.parameters
    assert client.transaction_status is info.transaction_status
    assert (client.tls_version, client.channel_binding) == (info.tls_version, info.channel_binding)
    assert client.auth_method == info.auth_method == "scram"
    # conn.host is the address for messages: the port comes with it.
    assert client.host == f"{info.host}:{info.port}"
    assert repr(info).startswith(f"<pgpipe.ConnectionInfo {info.user}@127.0.0.1:{info.port}/")
    assert "pw-scram" not in repr(info)


def test_facts_of_a_pipelined_connect(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    # The startup's answers come back with the first result: what the server tells
    # is unknown until then, what the client chose is known at once.
    client = adapter.connect(**login(pg_server, "trust"), pipeline_connect="trust")
    info = client.info
    assert (info.host, info.port, info.user) == ("127.0.0.1", pg_server.port, "pgpipe_trust")
    assert (info.backend_pid, info.server_version, info.parameters) == (None, 0, {})
    assert info.auth_method is None
    assert client.query("SELECT pg_backend_pid()").rows == [(info.backend_pid,)]
    assert info.server_version == pg_server.server_version_num
    assert info.auth_method == "trust"


# -- TLS ----------------------------------------------------------------------------


@pytest.mark.parametrize("sslmode", ["disable", "require"])
def test_tls_facts(adapter: Adapter, tls_server: TemporaryPostgres, sslmode: str) -> None:
    client = adapter.connect(**login(tls_server, sslmode=sslmode))
    info = client.info
    sql = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    if sslmode == "disable":
        assert client.query(sql).rows == [(False, None)]
        assert info.tls_version is None and info.channel_binding is False
    else:
        assert client.query(sql).rows == [(True, info.tls_version)]
        assert info.tls_version == "TLSv1.3" and info.channel_binding is True
    assert info.auth_method == "scram"
    assert info.server_version == tls_server.server_version_num


# -- server_version as PQserverVersion reads it --------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("15.4", 150004),
        ("16.0", 160000),
        ("10.23", 100023),
        ("16beta1", 160000),
        ("17rc1", 170000),
        ("18devel", 180000),
        ("15.4 (Debian 15.4-1.pgdg120+1)", 150004),
        ("16.2 (Ubuntu 16.2-1ubuntu4)", 160002),
        ("9.6.24", 90624),
        ("9.6devel", 90600),
        ("9.6", 90600),
        ("", 0),
        ("devel", 0),
        ("\u0661\u0665.4", 0),  # Arabic-Indic digits are not a version
    ],
)
def test_server_version_number(text: str, number: int) -> None:
    assert server_version_number(text) == number


class VersionServer:
    """Answers one startup as a trust server reporting ``server_version`` = ``version``
    (or none at all), then waits for the client to leave."""

    def __init__(self, version: str | None) -> None:
        settings = [("client_encoding", "UTF8"), ("DateStyle", "ISO, MDY")]
        if version is not None:
            settings.append(("server_version", version))
        self.answer = (
            wire.auth_ok()
            + b"".join(wire.parameter_status(name, value) for name, value in settings)
            + wire.backend_key_data(4242, b"\x00\x00\x00\x07")
            + wire.ready("I")
        )
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(10)
            conn.recv(65536)  # the StartupMessage
            conn.sendall(self.answer)
            while conn.recv(65536):  # Terminate, then the end of the stream
                pass

    def close(self) -> None:
        self.thread.join(10)
        self.listener.close()


@pytest.fixture
def version_server(request: pytest.FixtureRequest) -> Iterator[VersionServer]:
    server = VersionServer(request.param)
    yield server
    server.close()


@pytest.mark.parametrize(
    ("version_server", "number"),
    [("16beta1", 160000), ("15.4 (Debian 15.4-1.pgdg120+1)", 150004), ("9.6.1", 90601), (None, 0)],
    indirect=["version_server"],
)
def test_server_version_as_reported(
    adapter: Adapter, version_server: VersionServer, number: int
) -> None:
    client = adapter.connect(
        host="127.0.0.1", port=version_server.port, user="u", dbname="d", sslmode="disable"
    )
    assert client.info.server_version == number
    assert client.info.backend_pid == 4242
    client.close()
