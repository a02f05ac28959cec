"""A scripted fake server that misbehaves: a typed error and a closed connection, never a hang."""

from __future__ import annotations

import socket
import threading

import pytest

import pgpipe
from tests import wire
from tests.clients import Adapter


class FakeServer:
    """Accepts one connection, answers the StartupMessage, then sends ``script`` and closes."""

    def __init__(self, script: bytes) -> None:
        self.script = script
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            try:
                conn.recv(65536)  # the StartupMessage
                conn.sendall(wire.startup_ok())
                conn.recv(65536)  # the first query
                conn.sendall(self.script)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()
        self.thread.join(10)


def run(adapter: Adapter, script: bytes) -> tuple[BaseException, object]:
    server = FakeServer(script)
    try:
        client = adapter.connect(
            host="127.0.0.1", port=server.port, user="u", dbname="d", sslmode="disable"
        )
        with pytest.raises(pgpipe.Error) as info:
            client.query("SELECT 1")
        return info.value, client
    finally:
        server.close()


@pytest.mark.parametrize(
    "script",
    [
        b"\x00\x01\x02garbage-garbage",
        wire.msg(b"D", b"\x00\x05"),  # a DataRow where ParseComplete is due
        wire.PARSE_COMPLETE + wire.msg(b"2", b"unexpected body"),
        wire.msg(b"Q", b""),  # not a backend message type
        b"1\x00\x00\x00\x02",  # a length shorter than the length field
    ],
)
def test_protocol_violation_closes_with_protocol_error(adapter: Adapter, script: bytes) -> None:
    error, client = run(adapter, script)
    assert isinstance(error, pgpipe.ProtocolError)
    assert client.closed  # type: ignore[attr-defined]
    with pytest.raises(pgpipe.InterfaceError, match="closed"):
        client.query("SELECT 1")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "script",
    [b"", wire.PARSE_COMPLETE + wire.BIND_COMPLETE + wire.row_description([("a", 23, 0)])[:9]],
    ids=["eof", "eof-mid-message"],
)
def test_server_closing_mid_query_is_operational_error(adapter: Adapter, script: bytes) -> None:
    error, client = run(adapter, script)
    assert isinstance(error, pgpipe.OperationalError)
    assert "closed the connection" in str(error)
    assert client.closed  # type: ignore[attr-defined]


def test_fatal_error_mid_query(adapter: Adapter) -> None:
    script = wire.error("57P01", "terminating connection due to administrator command", "FATAL")
    error, client = run(adapter, script)
    assert isinstance(error, pgpipe.errors.AdminShutdown)
    assert client.closed  # type: ignore[attr-defined]
