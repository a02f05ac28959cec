"""PostgreSQL over WebSockets (``websocket="wss://host/v2"``), both adapters.

The relay in tests/wsrelay.py stands in for Neon's proxy and the open-source
wsproxy in front of the throwaway server. Round trips are counted by a
FlightCounter between pgpipe and the relay, so the WebSocket upgrade and the
TLS handshake are counted as the network sees them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

import pgpipe
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from tests.clients import Adapter
from tests.tlsstub import Pki
from tests.wsrelay import WebSocketRelay


def login(method: str = "password") -> dict[str, Any]:
    user, password = AUTH_USERS[method]
    return {"user": user, "password": password, "dbname": "pgpipe", "host": "pg.example"}


@pytest.fixture(scope="module")
def relay(pg_server: TemporaryPostgres) -> Iterator[WebSocketRelay]:
    with WebSocketRelay(("127.0.0.1", pg_server.port)) as r:
        yield r


@pytest.fixture(scope="module")
def tls_relay(pki: Pki, pg_server: TemporaryPostgres) -> Iterator[WebSocketRelay]:
    with WebSocketRelay(("127.0.0.1", pg_server.port), tls=pki.server_context()) as r:
        yield r


def test_queries_types_and_pipelines_over_ws(adapter: Adapter, relay: WebSocketRelay) -> None:
    client = adapter.connect(websocket=relay.url(), **login("scram"))
    assert client.query("SELECT $1::int + 1, $2::text", 41, "ünïcode").rows == [(42, "ünïcode")]
    with client.pipeline() as pipe:
        first = pipe.query("SELECT 1")
        second = pipe.query("SELECT 2")
    assert (first.result().rows, second.result().rows) == ([(1,)], [(2,)])
    # One megabyte each way: many WebSocket frames, reassembled.
    big = "y" * (1 << 20)
    assert client.query("SELECT $1::text", big).rows == [(big,)]
    assert client.info.tls_version is None


def test_wss_with_the_proxy_certificate_checked(
    adapter: Adapter, tls_relay: WebSocketRelay, pki: Pki
) -> None:
    client = adapter.connect(websocket=tls_relay.url(), sslrootcert=pki.ca_file, **login("md5"))
    assert client.query("SELECT 'secure'").rows == [("secure",)]
    assert client.info.tls_version is not None
    assert not client.info.channel_binding


def test_wsproxy_address_path(adapter: Adapter, relay: WebSocketRelay, pg_server: Any) -> None:
    url = relay.url(f"/v1?address=127.0.0.1:{pg_server.port}")
    client = adapter.connect(websocket=url, **login("password"))
    assert client.query("SELECT current_user").rows == [(AUTH_USERS["password"][0],)]


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_round_trips_to_first_rows(
    adapter: Adapter,
    relay: WebSocketRelay,
    tls_relay: WebSocketRelay,
    pki: Pki,
    secure: bool,
) -> None:
    """Pipelined password connect: TCP + (TLS) + HTTP upgrade + 1 to the first rows."""
    target = tls_relay if secure else relay
    with FlightCounter("127.0.0.1", target.port) as counter:
        scheme = "wss" if secure else "ws"
        host = "localhost" if secure else "127.0.0.1"
        extra: dict[str, Any] = {"sslrootcert": pki.ca_file} if secure else {}
        if not secure:
            extra["allow_unverified_pipelining"] = True
        client = adapter.connect(
            websocket=f"{scheme}://{host}:{counter.port}/v2",
            pipeline_connect="password",
            **extra,
            **login("password"),
        )
        assert client.query("SELECT 42").rows == [(42,)]
        # TLS 1.3 costs one round trip, the upgrade one, the startup and query one.
        assert counter.round_trips == (3 if secure else 2)
        assert client.info.tls_version in ((None,) if not secure else ("TLSv1.3",))


def test_cancel_goes_over_a_second_websocket(adapter: Adapter, relay: WebSocketRelay) -> None:
    client = adapter.connect(websocket=relay.url(), cancel_timeout=5, **login("password"))
    before = relay.connections
    with pytest.raises(pgpipe.errors.QueryCanceled):
        client.query("SELECT pg_sleep(30)", timeout=0.3)
    assert relay.connections == before + 1
    assert client.query("SELECT 'still in sync'").rows == [("still in sync",)]


def test_server_side_end_is_a_clear_error(
    adapter: Adapter, relay: WebSocketRelay, pg_server: TemporaryPostgres
) -> None:
    client = adapter.connect(websocket=relay.url(), **login("password"))
    pid = client.query("SELECT pg_backend_pid()").rows[0][0]
    pg_server.psql(f"SELECT pg_terminate_backend({pid})")
    with pytest.raises(pgpipe.OperationalError):
        client.query("SELECT 1")
    assert client.closed


def test_refused_upgrade(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    with (
        WebSocketRelay(("127.0.0.1", pg_server.port), reject_with=403) as refusing,
        pytest.raises(pgpipe.OperationalError, match="403"),
    ):
        adapter.connect(websocket=refusing.url(), **login())


def test_untrusted_proxy_certificate(adapter: Adapter, tls_relay: WebSocketRelay, pki: Pki) -> None:
    with pytest.raises(pgpipe.OperationalError, match="certificate"):
        adapter.connect(websocket=tls_relay.url(), sslrootcert=pki.other_ca_file, **login())


def test_parameters_that_cannot_work(adapter: Adapter) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="wss://"):
        adapter.connect(websocket="ws://127.0.0.1:1/v2", sslmode="require", **login())
    with pytest.raises(pgpipe.InterfaceError, match="ws:// or wss://"):
        adapter.connect(websocket="https://example.com/v2", **login())
    for wrong in (b"", b"ws://127.0.0.1:1/v2", 7):
        with pytest.raises(pgpipe.InterfaceError, match="ws:// or wss://"):
            adapter.connect(websocket=wrong, **login())
    with pytest.raises(pgpipe.InterfaceError, match="channel_binding"):
        adapter.connect(websocket="wss://127.0.0.1:1/v2", channel_binding="require", **login())
    # Unverified pipelining of a password over plaintext is refused here too.
    with pytest.raises(pgpipe.InterfaceError, match="pipelin"):
        adapter.connect(websocket="ws://127.0.0.1:1/v2", pipeline_connect="password", **login())


def test_without_wsproto(
    adapter: Adapter, relay: WebSocketRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wsproto", None)
    for name in [n for n in sys.modules if n.startswith("wsproto.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(pgpipe.InterfaceError, match=r"pgpipe\[websocket\]"):
        adapter.connect(websocket=relay.url(), **login())
