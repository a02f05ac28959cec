"""Connections the caller opened: ``connect(sock=...)`` and ``connect_async(sock=...)``.

Tunnels, cloud connectors and test harnesses hand a driver a socket that is
already connected, sometimes already speaking TLS (the Cloud SQL connector
gives pg8000 an ``ssl.SSLSocket``). pgpipe takes it as it is: TLS already on
it is kept (no SSLRequest), a plain one negotiates TLS as ``sslmode`` says,
and pipelined connect keeps its round trips.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

import pgpipe
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from tests.tlsstub import Pki, TlsTerminator


def login(method: str = "password") -> dict[str, Any]:
    user, password = AUTH_USERS[method]
    return {"user": user, "password": password, "dbname": "pgpipe"}


def dial(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


@pytest.fixture
def terminator(pki: Pki, pg_server: TemporaryPostgres) -> Iterator[TlsTerminator]:
    """TLS from the first byte, relayed in plaintext to the server: what a cloud
    connector's local end looks like."""
    with TlsTerminator(
        pki.server_context(), backend=("127.0.0.1", pg_server.port), direct=True, alpn=False
    ) as stub:
        yield stub


def tls_client_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca_file)
    return context


# -- the blocking adapter --------------------------------------------------------------


def test_plain_socket(pg_server: TemporaryPostgres) -> None:
    with pgpipe.connect(sock=dial(pg_server.port), sslmode="disable", **login()) as conn:
        assert conn.query("SELECT $1::int + 1", 41).rows == [(42,)]
        assert conn.info.tls_version is None


def test_plain_socket_negotiates_tls_as_sslmode_says(
    pki: Pki, tls_server: TemporaryPostgres
) -> None:
    user, password = AUTH_USERS["scram"]
    with pgpipe.connect(
        sock=dial(tls_server.port),
        user=user,
        password=password,
        dbname="pgpipe",
        host="localhost",
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
    ) as conn:
        assert conn.query("SELECT 1").rows == [(1,)]
        assert conn.info.tls_version is not None
        assert conn.info.channel_binding  # SCRAM-SHA-256-PLUS over the given socket


def test_tls_socket_is_used_as_it_is(pki: Pki, terminator: TlsTerminator) -> None:
    raw = dial(terminator.port)
    sock = tls_client_context(pki).wrap_socket(raw, server_hostname="localhost")
    with pgpipe.connect(sock=sock, sslmode="require", **login("scram")) as conn:
        assert conn.query("SELECT 'over tls'").rows == [("over tls",)]
        assert conn.info.tls_version == sock.version()
        # The TLS is the terminator's, not the server's: no SSLRequest went inside.
        assert terminator.first_bytes and not terminator.first_bytes[0].startswith(
            b"\x00\x00\x00\x08\x04\xd2\x16\x2f"
        )
        # A large write and a pipeline go through the TLS socket's non-blocking path.
        big = "x" * (1 << 20)
        assert conn.query("SELECT length($1::text)", big).rows == [(1 << 20,)]
        rows = conn.executemany("SELECT $1::int", [(i,) for i in range(3000)])
        assert len(rows) == 3000


def test_pipelined_connect_keeps_one_round_trip(pg_server: TemporaryPostgres) -> None:
    with FlightCounter("127.0.0.1", pg_server.port) as counter:
        conn = pgpipe.connect(
            sock=dial(counter.port),
            sslmode="disable",
            pipeline_connect="password",
            allow_unverified_pipelining=True,
            **login("password"),
        )
        with conn:
            assert conn.query("SELECT 7").rows == [(7,)]
            assert counter.round_trips == 1


def test_cancel_reaches_the_server_through_the_peer_address(
    pg_server: TemporaryPostgres,
) -> None:
    with pgpipe.connect(sock=dial(pg_server.port), sslmode="disable", **login()) as conn:
        with pytest.raises(pgpipe.errors.QueryCanceled):
            conn.query("SELECT pg_sleep(30)", timeout=0.2)
        assert conn.query("SELECT 1").rows == [(1,)]


def test_misuse(pg_server: TemporaryPostgres) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="sock must be a connected socket"):
        pgpipe.connect(sock="127.0.0.1:5432", **login())  # type: ignore[arg-type]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with udp, pytest.raises(pgpipe.InterfaceError, match="stream socket"):
        pgpipe.connect(sock=udp, **login())
    unconnected = socket.socket()
    with unconnected, pytest.raises(pgpipe.OperationalError, match="not connected"):
        pgpipe.connect(sock=unconnected, **login())
    # Refused before anything is attempted: the socket is still the caller's.
    with dial(pg_server.port) as sock, pytest.raises(pgpipe.InterfaceError, match="not both"):
        pgpipe.connect(sock=sock, websocket="ws://127.0.0.1:1/v2", **login())


def test_a_closed_peer_is_a_clear_error(pg_server: TemporaryPostgres) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        sock = dial(listener.getsockname()[1])
        accepted, _ = listener.accept()
        accepted.close()
        with pytest.raises(pgpipe.OperationalError):
            pgpipe.connect(sock=sock, sslmode="disable", connect_timeout=5, **login())


# -- the asyncio adapter ---------------------------------------------------------------


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_async_plain_socket(pg_server: TemporaryPostgres) -> None:
    async def main() -> Any:
        conn = await pgpipe.connect_async(sock=dial(pg_server.port), sslmode="disable", **login())
        async with conn:
            return (await conn.query("SELECT $1::int * 2", 21)).rows

    assert run(main()) == [(42,)]


def test_async_stream_pair_and_cancel(pg_server: TemporaryPostgres) -> None:
    async def main() -> Any:
        pair = await asyncio.open_connection("127.0.0.1", pg_server.port)
        conn = await pgpipe.connect_async(sock=pair, sslmode="disable", **login())
        async with conn:
            with pytest.raises(pgpipe.errors.QueryCanceled):
                await conn.query("SELECT pg_sleep(30)", timeout=0.2)
            return (await conn.query("SELECT 'after'")).rows

    assert run(main()) == [("after",)]


def test_async_tls_transport_is_used_as_it_is(pki: Pki, terminator: TlsTerminator) -> None:
    async def main() -> Any:
        _, writer = await asyncio.open_connection(
            "127.0.0.1",
            terminator.port,
            ssl=tls_client_context(pki),
            server_hostname="localhost",
        )
        conn = await pgpipe.connect_async(
            sock=writer.transport, sslmode="verify-full", **login("scram")
        )
        async with conn:
            assert conn.info.tls_version is not None
            return (await conn.query("SELECT 'tls transport'")).rows

    assert run(main()) == [("tls transport",)]


def test_async_plain_socket_pipelined(pg_server: TemporaryPostgres) -> None:
    async def main() -> tuple[Any, int]:
        with FlightCounter("127.0.0.1", pg_server.port) as counter:
            conn = await pgpipe.connect_async(
                sock=dial(counter.port),
                sslmode="disable",
                pipeline_connect="password",
                allow_unverified_pipelining=True,
                **login("password"),
            )
            async with conn:
                rows = (await conn.query("SELECT 8")).rows
                return rows, counter.round_trips

    assert run(main()) == ([(8,)], 1)


def test_async_misuse(pki: Pki, pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        with pytest.raises(pgpipe.InterfaceError, match="sock must be"):
            await pgpipe.connect_async(sock=42, **login())
        raw = dial(pg_server.port)
        tls = ssl.create_default_context().wrap_socket(
            raw, server_hostname="localhost", do_handshake_on_connect=False
        )
        with tls, pytest.raises(pgpipe.InterfaceError, match=r"ssl\.SSLSocket"):
            await pgpipe.connect_async(sock=tls, **login())
        _, writer = await asyncio.open_connection("127.0.0.1", pg_server.port)
        writer.close()
        await writer.wait_closed()
        with pytest.raises(pgpipe.OperationalError, match="closed"):
            await pgpipe.connect_async(sock=writer.transport, **login())

    run(main())
