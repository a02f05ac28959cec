"""PostgreSQL over WebSockets, the sans-IO part: URLs, the upgrade, the link's framing,
over loopback sockets through tests/wsrelay.py and in memory against wsproto's server."""

from __future__ import annotations

import select
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import trustme
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from pgpipe._websocket import (
    WebSocketLink,
    WebSocketNegotiation,
    WebSocketURL,
    parse_websocket_url,
)
from pgpipe.errors import InterfaceError, OperationalError
from tests.wsrelay import WebSocketRelay

DEADLINE = 20.0


# -- URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wss://ep-cool-1.neon.tech/v2", WebSocketURL(True, "ep-cool-1.neon.tech", 443, "/v2")),
        (
            "ws://localhost:8080/v1?address=127.0.0.1:5432",
            WebSocketURL(False, "localhost", 8080, "/v1?address=127.0.0.1:5432"),
        ),
        ("ws://example.org", WebSocketURL(False, "example.org", 80, "/")),
        ("WSS://Example.ORG:8443", WebSocketURL(True, "example.org", 8443, "/")),
        ("ws://[::1]:9000/x", WebSocketURL(False, "::1", 9000, "/x")),
        ("wss://[::1]/", WebSocketURL(True, "::1", 443, "/")),
        ("ws://h?q=1", WebSocketURL(False, "h", 80, "/?q=1")),
    ],
)
def test_urls_parse(url: str, expected: WebSocketURL) -> None:
    assert parse_websocket_url(url) == expected


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("wss://ep-cool-1.neon.tech/v2", "wss://ep-cool-1.neon.tech/v2"),
        ("ws://localhost:8080/v1?address=a:1", "ws://localhost:8080/v1?address=a:1"),
        ("ws://[::1]:9000/x", "ws://[::1]:9000/x"),
        ("wss://h:443/v2", "wss://h/v2"),
        ("ws://h", "ws://h/"),
    ],
)
def test_urls_print_back(url: str, text: str) -> None:
    parsed = parse_websocket_url(url)
    assert str(parsed) == text
    assert parse_websocket_url(str(parsed)) == parsed


def test_host_header_names_the_port_only_when_not_the_default() -> None:
    assert parse_websocket_url("wss://h/v2").host_header == "h"
    assert parse_websocket_url("wss://h:80/v2").host_header == "h:80"
    assert parse_websocket_url("ws://[::1]:81").host_header == "[::1]:81"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.org/", "ws:// or wss://"),
        ("postgresql://h/db", "ws:// or wss://"),
        ("example.org:443", "ws:// or wss://"),
        ("wss:///v2", "no host"),
        ("wss://:443/v2", "no host"),
        ("ws://h:99999/", "out of range"),
        ("ws://h:0/", "between 1 and 65535"),
        ("ws://h:http/", "Port could not be cast"),
        ("ws://user:pw@h/", "user name or password"),
        ("ws://h/x#frag", "fragment"),
        ("ws://h/a b", "printable ASCII"),
        ("ws://h/\u00e9", "printable ASCII"),
        ("", "ws:// or wss://"),
    ],
)
def test_bad_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(InterfaceError, match="invalid WebSocket URL") as info:
        parse_websocket_url(url)
    assert why in str(info.value)


def test_missing_wsproto_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wsproto", None)
    with pytest.raises(InterfaceError, match=r"pip install 'pgpipe\[websocket\]'"):
        WebSocketNegotiation(parse_websocket_url("ws://h/v2"), None)


# -- in memory, against wsproto's server -------------------------------------------------


def opened(server_extra: bytes = b"") -> tuple[WebSocketLink, WSConnection, bytes]:
    """A ws:// link and the server side; ``server_extra`` rides in the 101's read."""
    negotiation = WebSocketNegotiation(parse_websocket_url("ws://db.example:8080/v2"), None)
    request = negotiation.data_to_send()
    assert request.startswith(b"GET /v2 HTTP/1.1\r\n")
    assert b"host: db.example:8080\r\n" in request.lower()
    assert negotiation.data_to_send() == b""
    assert not negotiation.handshaking
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(request)
    events = list(server.events())
    assert isinstance(events[0], Request)
    assert events[0].host == "db.example:8080"
    answer = server.send(AcceptConnection())
    assert negotiation.channel is None
    negotiation.receive_data(answer[:10])
    assert not negotiation.done and negotiation.channel is None
    assert negotiation.data_to_send() == b""
    negotiation.receive_data(answer[10:] + server_extra)
    assert negotiation.done
    link = negotiation.channel
    assert link is not None
    assert negotiation.data_to_send() == b""
    return link, server, request


def server_reads(server: WSConnection, data: bytes) -> list[object]:
    server.receive_data(data)
    return list(server.events())


def test_link_frames_are_binary_masked_and_one_message_each() -> None:
    link, server, _ = opened()
    assert (link.version, link.verified, link.direct) == (None, False, False)
    assert link.channel_binding() is None
    frame = link.encrypt(b"\x00\x01startup")
    assert frame[0] == 0x82  # FIN, binary
    assert frame[1] & 0x80  # masked
    assert b"startup" not in frame
    (event,) = server_reads(server, frame)
    assert isinstance(event, BytesMessage)
    assert event.data == b"\x00\x01startup" and event.message_finished
    assert link.encrypt(b"") == b""


def test_bytes_after_the_101_are_kept() -> None:
    server = WSConnection(ConnectionType.SERVER)
    negotiation = WebSocketNegotiation(parse_websocket_url("ws://h/v2"), None)
    server.receive_data(negotiation.data_to_send())
    list(server.events())
    answer = server.send(AcceptConnection()) + server.send(BytesMessage(data=b"early"))
    negotiation.receive_data(answer)
    link = negotiation.channel
    assert link is not None
    assert link.decrypt(server.send(BytesMessage(data=b" and late"))) == (b"early and late", False)


def test_fragmented_messages_are_reassembled() -> None:
    link, server, _ = opened()
    wire = b"".join(
        server.send(BytesMessage(data=part, message_finished=last))
        for part, last in [(b"one ", False), (b"two ", False), (b"three", True)]
    )
    wire += server.send(BytesMessage(data=b"!"))
    received = b""
    for i in range(len(wire)):  # a byte at a time
        payload, ended = link.decrypt(wire[i : i + 1])
        assert not ended
        received += payload
    assert received == b"one two three!"


def test_a_text_message_is_a_protocol_error() -> None:
    link, server, _ = opened()
    with pytest.raises(OperationalError, match="text message"):
        link.decrypt(server.send(TextMessage(data="hello")))


def test_ping_is_answered_with_the_next_write() -> None:
    link, server, _ = opened()
    assert link.decrypt(server.send(Ping(payload=b"are you there"))) == (b"", False)
    wire = link.encrypt(b"query")
    events = server_reads(server, wire)
    assert isinstance(events[0], Pong) and events[0].payload == b"are you there"
    assert isinstance(events[1], BytesMessage) and events[1].data == b"query"
    assert link.decrypt(server.send(Ping(payload=b"again"))) == (b"", False)
    (pong,) = server_reads(server, link.encrypt(b""))
    assert isinstance(pong, Pong)
    assert link.encrypt(b"") == b""


def test_a_ping_with_the_end_is_not_answered() -> None:
    link, server, _ = opened()
    wire = server.send(BytesMessage(data=b"bye")) + server.send(Ping(payload=b"p"))
    assert link.decrypt(wire[:-1]) == (b"bye", False)
    assert link.decrypt(wire[-1:]) == (b"", False)
    assert link.decrypt(b"") == (b"", True)
    link2, server2, _ = opened()
    wire = server2.send(Ping(payload=b"p")) + server2.send(CloseConnection(1001))
    assert link2.decrypt(wire) == (b"", True)
    assert link2.encrypt(b"") == b""


def test_close_from_the_server_ends_the_stream() -> None:
    link, server, _ = opened()
    wire = server.send(BytesMessage(data=b"last words")) + server.send(CloseConnection(1000))
    assert link.decrypt(wire) == (b"last words", True)
    (close,) = server_reads(server, link.close_frame())
    assert isinstance(close, CloseConnection) and close.code == 1000
    assert link.close_frame() == b""
    with pytest.raises(OperationalError, match="closed"):
        link.encrypt(b"more")


def test_eof_ends_the_stream() -> None:
    link, server, _ = opened()
    assert link.decrypt(server.send(BytesMessage(data=b"x"))) == (b"x", False)
    assert link.decrypt(b"") == (b"", True)
    assert link.decrypt(b"") == (b"", True)


def test_close_frame_from_the_client() -> None:
    link, server, _ = opened()
    (close,) = server_reads(server, link.close_frame())
    assert isinstance(close, CloseConnection) and close.code == 1000


def test_refusal_names_the_status_and_reason() -> None:
    negotiation = WebSocketNegotiation(parse_websocket_url("ws://h/v2"), None)
    negotiation.data_to_send()
    with pytest.raises(OperationalError) as info:
        negotiation.receive_data(b"HTTP/1.1 404 No Such Endpoint\r\ncontent-length: 0\r\n\r\n")
    assert str(info.value) == (
        "the WebSocket server at ws://h/v2 refused the upgrade: HTTP 404 No Such Endpoint"
    )


def test_an_answer_that_is_not_http_is_an_error() -> None:
    negotiation = WebSocketNegotiation(parse_websocket_url("ws://h/v2"), None)
    negotiation.data_to_send()
    with pytest.raises(OperationalError, match="invalid upgrade answer"):
        negotiation.receive_data(b"R\x00\x00\x00\x08\x00\x00\x00\x00garbage\r\n\r\n")


def test_eof_during_the_upgrade() -> None:
    negotiation = WebSocketNegotiation(parse_websocket_url("ws://h/v2"), None)
    negotiation.data_to_send()
    negotiation.receive_data(b"HTTP/1.1 101 Switching")
    with pytest.raises(OperationalError, match="closed the connection before answering"):
        negotiation.receive_data(b"")


def test_nothing_shows_the_payload() -> None:
    link, _, _ = opened()
    link.encrypt(b"secret-password")
    assert "secret" not in repr(link)


# -- over loopback sockets, through the relay ------------------------------------------------


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[str, int]]:
    """A TCP server that sends back whatever it receives."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stopping = threading.Event()
    threads: list[threading.Thread] = []

    def echo(conn: socket.socket) -> None:
        conn.settimeout(0.05)
        with conn:
            while not stopping.is_set():
                try:
                    data = conn.recv(1 << 16)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=echo, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[:2]
    finally:
        stopping.set()
        acceptor.join(timeout=10)
        for thread in threads:
            thread.join(timeout=10)
        listener.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def negotiate(url: str, context: ssl.SSLContext | None) -> tuple[socket.socket, WebSocketLink]:
    """Connect and drive the negotiation as the adapters do."""
    parsed = parse_websocket_url(url)
    sock = socket.create_connection((parsed.host, parsed.port), timeout=DEADLINE)
    try:
        negotiation = WebSocketNegotiation(parsed, context)
        while not negotiation.done:
            sock.sendall(negotiation.data_to_send())
            negotiation.receive_data(sock.recv(1 << 16))
    except BaseException:
        sock.close()
        raise
    assert negotiation.channel is not None
    return sock, negotiation.channel


def exchange(sock: socket.socket, link: WebSocketLink, payload: bytes, expect: int) -> bytes:
    """Send ``payload`` in one message while reading, until ``expect`` bytes came back."""
    outgoing = memoryview(link.encrypt(payload))
    received: list[bytes] = []
    count = 0
    deadline = time.monotonic() + DEADLINE
    sock.setblocking(False)
    try:
        while count < expect or outgoing:
            assert time.monotonic() < deadline, "the exchange took too long"
            readable, writable, _ = select.select([sock], [sock] if outgoing else [], [], 0.5)
            if writable:
                outgoing = outgoing[sock.send(outgoing) :]
            if readable:
                data, ended = link.decrypt(sock.recv(1 << 17))
                received.append(data)
                count += len(data)
                owed = link.encrypt(b"")
                if owed:
                    outgoing = memoryview(bytes(outgoing) + owed)
                assert not ended or count >= expect, "the stream ended early"
    finally:
        sock.setblocking(True)
    return b"".join(received)


def closed(sock: socket.socket, link: WebSocketLink) -> None:
    with sock:
        sock.sendall(link.close_frame())


@pytest.mark.parametrize("path", ["/v2", "/v1?address=127.0.0.1:{port}"])
def test_ws_round_trip(echo_server: tuple[str, int], path: str) -> None:
    with WebSocketRelay(echo_server) as relay:
        sock, link = negotiate(relay.url(path.format(port=echo_server[1])), None)
        assert link.version is None and not link.verified
        for payload in (b"hello", b"\x00" * 70_000, b"x"):
            assert exchange(sock, link, payload, len(payload)) == payload
        closed(sock, link)
        assert relay.connections == 1


def test_wss_round_trip(
    echo_server: tuple[str, int],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    with WebSocketRelay(echo_server, tls=server_context) as relay:
        assert relay.url().startswith("wss://localhost:")
        sock, link = negotiate(relay.url(), client_context)
        assert link.verified
        assert link.version is not None and link.version.startswith("TLS")
        assert link.channel_binding() is None
        assert exchange(sock, link, b"over TLS", 8) == b"over TLS"
        closed(sock, link)


@pytest.mark.parametrize("secure", [False, True])
def test_five_megabytes(
    echo_server: tuple[str, int],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    secure: bool,
) -> None:
    payload = bytes(range(256)) * (5 * 4096)
    with WebSocketRelay(echo_server, tls=server_context if secure else None) as relay:
        sock, link = negotiate(relay.url(), client_context if secure else None)
        assert exchange(sock, link, payload, len(payload)) == payload
        closed(sock, link)


def test_relay_close_ends_the_stream(echo_server: tuple[str, int]) -> None:
    with WebSocketRelay(echo_server) as relay:
        sock, link = negotiate(relay.url(), None)
        with sock:
            sock.sendall(link.close_frame())
            ended = False
            deadline = time.monotonic() + DEADLINE
            while not ended:
                assert time.monotonic() < deadline
                _, ended = link.decrypt(sock.recv(1 << 16))


def test_refused_upgrade(echo_server: tuple[str, int]) -> None:
    with WebSocketRelay(echo_server, reject_with=403) as relay:
        url = relay.url()
        with pytest.raises(OperationalError) as info:
            negotiate(url, None)
        assert str(info.value) == (
            f"the WebSocket server at {url} refused the upgrade: HTTP 403 Forbidden"
        )
        assert relay.connections == 0


def test_v1_refuses_addresses_off_loopback(echo_server: tuple[str, int]) -> None:
    with WebSocketRelay(echo_server) as relay:
        with pytest.raises(OperationalError, match="HTTP 403 Forbidden"):
            negotiate(relay.url("/v1?address=192.0.2.1:5432"), None)
        assert relay.connections == 0


def test_relay_answers_a_plain_request_with_400(echo_server: tuple[str, int]) -> None:
    with (
        WebSocketRelay(echo_server) as relay,
        socket.create_connection(("127.0.0.1", relay.port), timeout=DEADLINE) as sock,
    ):
        sock.sendall(b"GET /v2 HTTP/1.1\r\nhost: localhost\r\n\r\n")
        assert sock.recv(1 << 16).startswith(b"HTTP/1.1 400 ")


def test_wrong_certificate_host_name(
    echo_server: tuple[str, int],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    with WebSocketRelay(echo_server, tls=server_context) as relay:
        with pytest.raises(OperationalError, match="host name mismatch"):
            negotiate(f"wss://127.0.0.1:{relay.port}/v2", client_context)
        assert relay.connections == 0


def test_unknown_ca(echo_server: tuple[str, int], server_context: ssl.SSLContext) -> None:
    with (
        WebSocketRelay(echo_server, tls=server_context) as relay,
        pytest.raises(OperationalError, match="unknown CA"),
    ):
        negotiate(relay.url(), ssl.create_default_context())


@pytest.mark.parametrize("secure", [False, True])
def test_eof_during_the_handshake(client_context: ssl.SSLContext, secure: bool) -> None:
    """A server that accepts the TCP connection, reads a little and hangs up."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def hang_up() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(1 << 16)

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        scheme = "wss" if secure else "ws"
        try:
            with pytest.raises(OperationalError, match="closed the connection") as info:
                negotiate(f"{scheme}://localhost:{port}/v2", client_context)
        finally:
            thread.join(timeout=10)
    assert ("TLS handshake" in str(info.value)) == secure


def test_a_ping_from_the_server_is_answered(echo_server: tuple[str, int]) -> None:
    with WebSocketRelay(echo_server) as relay:
        sock, link = negotiate(relay.url(), None)
        with sock:
            relay.ping(b"keepalive")
            sock.settimeout(DEADLINE)
            assert link.decrypt(sock.recv(1 << 16)) == (b"", False)
            sock.sendall(link.encrypt(b""))
            deadline = time.monotonic() + DEADLINE
            while relay.pongs != [b"keepalive"]:
                assert time.monotonic() < deadline, "no pong"
                time.sleep(0.01)
            assert exchange(sock, link, b"still here", 10) == b"still here"
            sock.sendall(link.close_frame())
