"""A WebSocket-to-TCP relay for tests, in the manner of Neon's proxy and wsproxy.

``/v1?address=host:port`` relays to that address (loopback only, else HTTP
403); any other path relays to the relay's own target (Neon's ``/v2``). Each
binary message goes to TCP as it is; each TCP read comes back as one binary
message; a close on either side closes the other.

One thread per connection drives two non-blocking sockets with ``select``;
TLS (for wss) runs over memory buffers, so no socket is ever shared by two
threads and no write can block the relay while its peer is writing too.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import ssl
import threading
import time
from http import HTTPStatus
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.utilities import ProtocolError

_TICK = 0.05
_IDLE_LIMIT = 60.0  # a connection with no traffic at all for this long is dropped


def _http_answer(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase
    return (f"HTTP/1.1 {status} {phrase}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").encode(
        "ascii"
    )


def _loopback_address(query: str) -> tuple[str, int] | None:
    """The ``address=host:port`` of a /v1 query when it is a loopback one, else None."""
    values = parse_qs(query).get("address", [])
    if len(values) != 1:
        return None
    host, _, port = values[0].rpartition(":")
    host = host.strip("[]")
    try:
        if not ipaddress.ip_address(host).is_loopback or not port.isdigit():
            return None
    except ValueError:
        return None
    return host, int(port)


class _Connection:
    """One client connection: TLS, the upgrade, then the relay."""

    def __init__(self, relay: WebSocketRelay, sock: socket.socket) -> None:
        self.relay = relay
        self.client = sock
        self.upstream: socket.socket | None = None
        self.ws = WSConnection(ConnectionType.SERVER)
        self.tls: ssl.SSLObject | None = None
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        if relay.tls is not None:
            self.tls = relay.tls.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.tls_done = relay.tls is None
        self.to_client = bytearray()
        self.to_upstream = bytearray()
        self.finishing = False  # flush what is owed to the client, then close
        self.upstream_open = False
        self.pings: list[bytes] = []  # the relay's lock guards it

    # -- bytes to and from the client ---------------------------------------------

    def send_frames(self, frames: bytes) -> None:
        if self.tls is None:
            self.to_client += frames
            return
        if frames:
            self.tls.write(frames)
        self.to_client += self.outgoing.read()

    def send_raw_answer(self, status: int) -> None:
        self.send_frames(_http_answer(status))
        self.finishing = True

    def from_client(self, data: bytes) -> None:
        if self.tls is None:
            self.on_plain(data)
            return
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()
        if not self.tls_done:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self.to_client += self.outgoing.read()
                return
            except ssl.SSLError:
                self.to_client += self.outgoing.read()
                self.finishing = True
                return
            self.tls_done = True
            self.to_client += self.outgoing.read()
        chunks: list[bytes] = []
        eof = not data
        while True:
            try:
                chunk = self.tls.read(1 << 17)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                eof = True
                break
            except ssl.SSLError:
                self.finishing = True
                return
            if not chunk:
                eof = True
                break
            chunks.append(chunk)
        if chunks:
            self.on_plain(b"".join(chunks))
        if eof:
            self.on_plain(b"")

    # -- the WebSocket --------------------------------------------------------------------

    def on_plain(self, data: bytes) -> None:
        if not data:
            self.finishing = True
            return
        if self.finishing:
            return
        try:
            self.ws.receive_data(data)
            for event in self.ws.events():
                self.on_event(event)
        except ProtocolError:
            if self.ws.state is ConnectionState.CONNECTING:
                self.send_raw_answer(400)
            else:
                self.finishing = True

    def on_event(self, event: object) -> None:
        if isinstance(event, Request):
            self.on_request(event)
        elif isinstance(event, BytesMessage):
            self.to_upstream += event.data
        elif isinstance(event, TextMessage):
            self.close_client(1003)
        elif isinstance(event, Ping):
            self.send_frames(self.ws.send(event.response()))
        elif isinstance(event, Pong):
            self.relay.pongs.append(bytes(event.payload))
        elif isinstance(event, CloseConnection):
            if self.ws.state is ConnectionState.REMOTE_CLOSING:
                self.send_frames(self.ws.send(event.response()))
            self.finishing = True

    def on_request(self, request: Request) -> None:
        relay = self.relay
        if relay.reject_with is not None:
            self.send_raw_answer(relay.reject_with)
            return
        parts = urlsplit(request.target)
        target = relay.target
        if parts.path == "/v1":
            address = _loopback_address(parts.query)
            if address is None:
                self.send_raw_answer(403)
                return
            target = address
        try:
            self.upstream = socket.create_connection(target, timeout=5)
        except OSError:
            self.send_raw_answer(502)
            return
        self.upstream.setblocking(False)
        self.upstream_open = True
        with relay.lock:
            relay.connections += 1
            relay.open_links.append(self)
        self.send_frames(self.ws.send(AcceptConnection()))

    def close_client(self, code: int = 1000) -> None:
        if self.ws.state is ConnectionState.OPEN:
            self.send_frames(self.ws.send(CloseConnection(code=code)))
        self.finishing = True

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        relay = self.relay
        self.client.setblocking(False)
        last_traffic = time.monotonic()
        try:
            while not relay.stopping.is_set():
                with relay.lock:
                    pings, self.pings = self.pings, []
                if self.ws.state is ConnectionState.OPEN and not self.finishing:
                    for payload in pings:
                        self.send_frames(self.ws.send(Ping(payload=payload)))
                if not self.upstream_open:
                    self.to_upstream.clear()
                if self.finishing and not self.to_client and not self.to_upstream:
                    return
                readers: list[socket.socket] = [] if self.finishing else [self.client]
                writers: list[socket.socket] = []
                if self.to_client:
                    writers.append(self.client)
                upstream = self.upstream
                if upstream is not None and self.upstream_open:
                    if not self.finishing:
                        readers.append(upstream)
                    if self.to_upstream:
                        writers.append(upstream)
                readable, writable, _ = select.select(readers, writers, [], _TICK)
                if readable or writable:
                    last_traffic = time.monotonic()
                elif time.monotonic() - last_traffic > _IDLE_LIMIT:
                    return
                if self.client in writable:
                    sent = self.client.send(self.to_client)
                    del self.to_client[:sent]
                if upstream is not None and upstream in writable:
                    sent = upstream.send(self.to_upstream)
                    del self.to_upstream[:sent]
                if self.client in readable:
                    self.from_client(self.client.recv(1 << 16))
                if upstream is not None and upstream in readable:
                    data = upstream.recv(1 << 16)
                    if data:
                        self.send_frames(self.ws.send(BytesMessage(data=data)))
                    else:
                        self.upstream_open = False
                        self.close_client()
        except OSError:
            return
        finally:
            with relay.lock:
                if self in relay.open_links:
                    relay.open_links.remove(self)
            if self.upstream is not None:
                self.upstream.close()
            self.client.close()


class WebSocketRelay:
    """A threaded WebSocket server on 127.0.0.1 relaying binary messages to TCP."""

    def __init__(
        self,
        target: tuple[str, int],
        tls: ssl.SSLContext | None = None,
        reject_with: int | None = None,
    ) -> None:
        self.target = target
        self.tls = tls
        self.reject_with = reject_with
        self.connections = 0
        self.pongs: list[bytes] = []
        self.open_links: list[_Connection] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_TICK)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []

    def url(self, path: str = "/v2") -> str:
        if self.tls is not None:
            return f"wss://localhost:{self.port}{path}"
        return f"ws://127.0.0.1:{self.port}{path}"

    def ping(self, payload: bytes = b"pgpipe") -> None:
        """Have every open connection send a ping with ``payload``; pongs go to ``.pongs``."""
        with self.lock:
            for link in self.open_links:
                link.pings.append(payload)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(
                target=_Connection(self, sock).run, name="wsrelay-connection", daemon=True
            )
            with self.lock:
                self._threads.append(thread)
            thread.start()

    def __enter__(self) -> WebSocketRelay:
        thread = threading.Thread(target=self._accept, name="wsrelay-accept", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._threads[0].join(timeout=10)  # accepts no more, so the list is final
        with self.lock:
            threads = self._threads[1:]
        for thread in threads:
            thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self._listener.close()
