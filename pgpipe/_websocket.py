"""PostgreSQL over WebSockets, sans-IO: the protocol's bytes in binary messages.

This is how Neon's serverless proxy speaks (``wss://host/v2``, the Host header
naming the endpoint), and how the open-source ``wsproxy`` relays
``/v1?address=host:port`` to TCP. ``WebSocketNegotiation`` has the shape of
``pgpipe.tls.Negotiation``: the caller sends ``data_to_send()`` and feeds what
comes back to ``receive_data`` until ``done``; ``channel`` is then a
``WebSocketLink`` with ``TlsChannel``'s surface (``encrypt``/``decrypt``).

For wss the TLS runs over memory buffers here, under the WebSocket framing.
wsproto (an optional dependency) is imported only when a WebSocket is used.
Nothing here logs or shows a payload: it can carry passwords.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from pgpipe.errors import InterfaceError, OperationalError
from pgpipe.tls import TlsChannel

if TYPE_CHECKING:
    from wsproto import WSConnection

_MISSING: Final = "websocket= needs the wsproto package: pip install 'pgpipe[websocket]'"
_HEAD_LIMIT: Final = 1 << 13  # the start of the HTTP answer kept, for its status line
_DEFAULT_PORTS: Final = {"ws": 80, "wss": 443}


def _require_wsproto() -> None:
    try:
        import wsproto  # noqa: F401
    except ImportError:
        raise InterfaceError(_MISSING) from None


# -- the URL -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebSocketURL:
    """A ``ws://`` or ``wss://`` URL: where to connect and what to ask for."""

    secure: bool
    host: str  # IPv6 literals without their brackets
    port: int
    resource: str  # path and "?query", "/" at least

    @property
    def scheme(self) -> str:
        return "wss" if self.secure else "ws"

    @property
    def host_header(self) -> str:
        """The Host header: the host, with ``:port`` when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.resource}"


def parse_websocket_url(url: str) -> WebSocketURL:
    """Parse ``ws://host[:port][/path][?query]`` or ``wss://...``; InterfaceError if not."""

    def bad(why: str) -> InterfaceError:
        return InterfaceError(f"invalid WebSocket URL {url!r}: {why}")

    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        raise bad("it may hold only printable ASCII characters (percent-encode the rest)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise bad("the scheme must be ws:// or wss://")
    if parts.username is not None or parts.password is not None:
        raise bad("it must not carry a user name or password")
    if parts.fragment or url.endswith("#"):
        raise bad("it must not have a #fragment")
    host = parts.hostname
    if not host:
        raise bad("it names no host")
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    elif port == 0:
        raise bad("the port must be between 1 and 65535")
    resource = parts.path or "/"
    if parts.query or url.endswith("?"):
        resource += "?" + parts.query
    return WebSocketURL(secure=scheme == "wss", host=host, port=port, resource=resource)


# -- the link ------------------------------------------------------------------------------


class WebSocketLink:
    """An open WebSocket carrying PostgreSQL's bytes, with ``TlsChannel``'s surface.

    ``encrypt`` turns bytes into one masked binary message (after any control
    frame owed, such as a pong), TLS-encrypted for wss; ``decrypt`` turns what
    the socket gave into the binary messages' payload.
    """

    __slots__ = ("_ended", "_owed", "_received", "_tls", "_ws", "direct", "verified")

    def __init__(self, ws: WSConnection, tls: TlsChannel | None) -> None:
        self._ws = ws
        self._tls = tls
        self._owed: list[bytes] = []
        self._received: list[bytes] = []
        self._ended = False
        self.verified = tls is not None and tls.verified
        self.direct = False

    def __repr__(self) -> str:
        return f"<WebSocketLink {self.version or 'plain'}{' ended' if self._ended else ''}>"

    @property
    def version(self) -> str | None:
        """The TLS version for wss ("TLSv1.3"), None for ws."""
        return None if self._tls is None else self._tls.version

    def channel_binding(self) -> bytes | None:
        """None: the TLS ends at the WebSocket server, not at PostgreSQL."""
        return None

    def _absorb(self) -> None:
        """Take the events wsproto has parsed: payload kept, pings answered later."""
        from wsproto.connection import ConnectionState
        from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

        for event in self._ws.events():
            if isinstance(event, BytesMessage):
                self._received.append(bytes(event.data))
            elif isinstance(event, Ping):
                if self._ws.state is ConnectionState.OPEN and not self._ended:
                    self._owed.append(self._ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self._ended = True
            elif isinstance(event, TextMessage):
                raise OperationalError(
                    "the WebSocket server sent a text message: PostgreSQL's protocol "
                    "travels in binary messages"
                )

    def _plain(self, frames: bytes) -> bytes:
        return frames if self._tls is None else self._tls.encrypt(frames)

    def encrypt(self, data: bytes) -> bytes:
        """Frames owed, then ``data`` as one binary message; TLS records for wss."""
        from wsproto.events import BytesMessage
        from wsproto.utilities import LocalProtocolError

        frames = b"".join(self._owed)
        self._owed.clear()
        if data:
            try:
                frames += self._ws.send(BytesMessage(data=data))
            except LocalProtocolError:
                raise OperationalError("the WebSocket connection is closed") from None
        return self._plain(frames)

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        """Feed bytes from the socket (b"" at EOF); the payload so far and whether it ended."""
        from wsproto.connection import ConnectionState
        from wsproto.utilities import RemoteProtocolError

        if self._tls is not None:
            plain, eof = self._tls.decrypt(data)
        else:
            plain, eof = data, not data
        state = self._ws.state
        try:
            if plain and state in (ConnectionState.OPEN, ConnectionState.LOCAL_CLOSING):
                self._ws.receive_data(plain)
            if eof and state is not ConnectionState.CLOSED:
                self._ws.receive_data(None)
            self._absorb()
        except RemoteProtocolError as exc:
            raise OperationalError(f"WebSocket protocol error: {exc}") from None
        if eof:
            self._ended = True
        if self._ended:
            self._owed.clear()  # nothing but a close goes out after the end
        payload = b"".join(self._received)
        self._received.clear()
        return payload, self._ended

    def close_frame(self) -> bytes:
        """A close message to send before closing the socket (b"" if one went already)."""
        from wsproto.connection import ConnectionState
        from wsproto.events import CloseConnection

        if self._ws.state not in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            return b""
        try:
            return self._plain(self._ws.send(CloseConnection(code=1000)))
        except OperationalError:
            return b""


# -- the opening -----------------------------------------------------------------------


class WebSocketNegotiation:
    """TLS (for wss), then the HTTP/1.1 Upgrade, sans-IO, as ``tls.Negotiation`` is driven.

    The caller sends ``data_to_send()`` and feeds what comes back to
    ``receive_data`` until ``done``; ``channel`` is then the link. Bytes that
    came with the 101 answer wait in the link for its first ``decrypt``.
    """

    __slots__ = (
        "_head",
        "_outgoing",
        "_request",
        "_tls",
        "_url",
        "_ws",
        "channel",
        "done",
    )

    def __init__(self, url: WebSocketURL, context: ssl.SSLContext | None) -> None:
        _require_wsproto()
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import Request

        self._url = url
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._request = self._ws.send(Request(host=url.host_header, target=url.resource))
        self._head = b""
        self.channel: WebSocketLink | None = None
        self.done = False
        self._tls: TlsChannel | None = None
        if url.secure:
            if context is None:
                context = ssl.create_default_context()
            self._tls = TlsChannel(context, url.host)
            self._tls.handshake()
            self._outgoing = self._tls.data_to_send()
        else:
            self._outgoing, self._request = self._request, b""

    def __repr__(self) -> str:
        return f"<WebSocketNegotiation {self._url}{' done' if self.done else ''}>"

    @property
    def handshaking(self) -> bool:
        """Whether the TLS handshake (wss) is under way: a failure now is a TLS one."""
        return self._tls is not None and self._tls.version is None

    def data_to_send(self) -> bytes:
        data, self._outgoing = self._outgoing, b""
        return data

    def receive_data(self, data: bytes) -> None:
        if self.done:
            raise InterfaceError("the WebSocket negotiation is over")
        tls = self._tls
        if tls is None:
            self._http(data, not data)
            return
        if tls.version is None:
            if not data:
                raise OperationalError(
                    f"the WebSocket server at {self._url} closed the connection "
                    "during the TLS handshake"
                )
            done = tls.handshake(data)
            self._outgoing += tls.data_to_send()
            if not done:
                return
            # The request leaves with the client's Finished message.
            self._outgoing += tls.encrypt(self._request)
            self._request = b""
            plain, ended = tls.decrypted()
        else:
            plain, ended = tls.decrypt(data)
        if plain or ended:
            self._http(plain, ended)

    def _http(self, data: bytes, ended: bool) -> None:
        from wsproto.events import AcceptConnection, RejectConnection
        from wsproto.utilities import RemoteProtocolError

        url = self._url
        if len(self._head) < _HEAD_LIMIT:
            self._head += data[: _HEAD_LIMIT - len(self._head)]
        try:
            if data:
                self._ws.receive_data(data)
            for event in self._ws.events():
                if isinstance(event, RejectConnection):
                    raise OperationalError(
                        f"the WebSocket server at {url} refused the upgrade: "
                        f"HTTP {event.status_code} {self._reason(event.status_code)}"
                    )
                if isinstance(event, AcceptConnection):
                    link = WebSocketLink(self._ws, self._tls)
                    self.channel = link
                    self.done = True
                    link._absorb()  # frames that came with the 101
                    if ended:
                        link._ended = True
                        link._owed.clear()
                    return
        except RemoteProtocolError as exc:
            raise OperationalError(
                f"the WebSocket server at {url} sent an invalid upgrade answer: {exc}"
            ) from None
        if ended:
            raise OperationalError(
                f"the WebSocket server at {url} closed the connection before "
                "answering the upgrade request"
            )

    def _reason(self, status: int) -> str:
        """The reason phrase of the server's status line, else the standard one."""
        line = self._head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] == str(status) and parts[2].isprintable():
            return parts[2]
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return ""
