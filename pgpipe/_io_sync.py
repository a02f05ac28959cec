"""The blocking adapter's I/O: a socket and the waits on it.

Everything else the blocking adapter does is generated from ``pgpipe.aio``
into ``pgpipe.sync``; ``pgpipe._io_aio`` is this module's asyncio
counterpart, with the same names plus ``Async``.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Final, Protocol

from pgpipe import errors
from pgpipe._adapter import ConnectionBase as ConnectionBase
from pgpipe._cancel import CancelExchange
from pgpipe._dial import Attempt, open_address, tune_socket, unix_socket_family
from pgpipe._stats import Stats
from pgpipe.tls import Link, SocketTls

INTERRUPTS: Final = (KeyboardInterrupt,)
"""What interrupts a call: a statement running then is cancelled on the server."""

_RECV_SIZE = 1 << 16
# What a non-blocking send or recv raises when it cannot go on yet (a caller's
# ssl.SSLSocket raises the TLS ones, which are not BlockingIOError).
_WOULD_BLOCK: Final = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
# Writes up to this size go out with blocking sends; larger ones are interleaved
# with reading the answers, in pieces.
_SMALL_WRITE = 1 << 18
_WRITE_PIECE = 1 << 18


class Flights(Protocol):
    """What the channel asks of a Session: the bytes to send, and a place for the
    bytes received. (A Protocol, not Session: the compiled build checks a Session
    argument's type, and tests/test_io.py gives the channel scripted ones.)"""

    @property
    def producing(self) -> bool: ...

    def data_to_send(self) -> bytes: ...

    def receive_data(self, data: bytes) -> None: ...


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.001)


def _open_socket(attempt: Attempt, deadline: float | None) -> socket.socket:
    params = attempt.params
    host = params.hosts[0]
    where = params.address()
    try:
        if host.is_unix_socket and params.websocket is None:
            sock = socket.socket(unix_socket_family(host), socket.SOCK_STREAM)
            try:
                sock.settimeout(_remaining(deadline))
                sock.connect(host.socket_path())
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection(open_address(params), timeout=_remaining(deadline))
    except TimeoutError:
        raise errors.OperationalError(f"timeout connecting to {where}") from None
    except OSError as exc:
        raise errors.OperationalError(
            f"could not connect to {where}: {exc.strerror or exc}"
        ) from None
    return sock


class Channel:
    """The socket to one server, and the waits on it."""

    __slots__ = ("_sock", "_timed", "_unsent", "peer", "sending", "stats", "tls")

    def __init__(self, sock: socket.socket, stats: Stats, tls: Link | None) -> None:
        self._sock = sock
        self.stats = stats
        self.tls = tls
        # Where a CancelRequest goes: the very address this socket reached (None
        # for a caller's socket that has no address).
        self.peer: tuple[int, Any] | None = (sock.family, sock.getpeername())
        # Bytes the session queued that the socket has not taken yet, and whether a
        # send is under way (an interrupt then leaves an unknown amount sent).
        self._unsent = bytearray()
        self.sending = False
        self._timed = True  # the socket has a timeout set

    @classmethod
    def connect(cls, attempt: Attempt, deadline: float | None) -> Channel:
        """Connect to the attempt's host by ``deadline`` (OperationalError otherwise)."""
        given = attempt.params.sock
        if given is not None:
            return cls.adopt(given)
        sock = _open_socket(attempt, deadline)
        try:
            tune_socket(sock, attempt.params)
            return cls(sock, Stats(), None)
        except OSError as exc:
            # Reset between connect() and here: getpeername() finds no peer.
            sock.close()
            raise errors.OperationalError(
                f"could not connect to {attempt.params.address()}: {exc.strerror or exc}"
            ) from None
        except BaseException:
            sock.close()
            raise

    @classmethod
    def adopt(cls, sock: object) -> Channel:
        """A connected socket the caller opened (``connect(sock=...)``); an
        ``ssl.SSLSocket`` keeps its TLS, and no SSLRequest is sent over it."""
        if not isinstance(sock, socket.socket):
            raise errors.InterfaceError(
                f"sock must be a connected socket.socket, not {type(sock).__name__}"
            )
        if sock.type != socket.SOCK_STREAM:
            raise errors.InterfaceError("sock must be a stream socket")
        try:
            channel = cls(
                sock, Stats(), SocketTls(sock) if isinstance(sock, ssl.SSLSocket) else None
            )
        except OSError as exc:
            raise errors.OperationalError(
                f"the socket given is not connected: {exc.strerror or exc}"
            ) from None
        return channel

    def send_raw(self, data: bytes) -> None:
        """Bytes before the session is attached (the TLS negotiation's)."""
        if data:
            self._sock.sendall(data)
            self.stats.sent(len(data))

    def receive_raw(self, deadline: float | None) -> bytes:
        """Bytes before the session is attached (b"" once the server closed);
        TimeoutError at ``deadline``."""
        self._sock.settimeout(_remaining(deadline))
        data = self._sock.recv(_RECV_SIZE)
        self.stats.received(len(data))
        return data

    def attach(self, session: Flights) -> None:
        """Received bytes go to ``session`` from now on (the caller reads them)."""

    def flush(self, session: Flights) -> None:
        """Send everything the session queued (reading answers meanwhile, into it)."""
        while self._flush(session, None):
            pass

    def poll(self, session: Flights) -> None:
        """Give the session whatever has arrived, without waiting (b"" at EOF)."""
        sock = self._sock
        while True:
            try:
                # select, not MSG_DONTWAIT: a socket with a timeout waits regardless.
                if not select.select([sock], [], [], 0)[0]:
                    return
                data = sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError, TimeoutError):
                return
            except OSError:
                data = b""
            session.receive_data(data)  # which counts it in the stats
            if not data:
                return

    def receive_idle(self, session: Flights, deadline: float | None) -> None:
        """Between commands: wait for what the server sends next (a notification,
        its goodbye) until ``deadline``, and give it to the session."""
        try:
            self._settimeout(deadline)
            data = self._sock.recv(_RECV_SIZE)
        except TimeoutError:
            return
        except OSError:
            data = b""
        session.receive_data(data)  # which counts it in the stats

    def set_idle_hook(self, hook: Callable[[], None]) -> None:
        """Nothing reads a blocking socket between commands: the hook is not needed."""

    def drain(self) -> None:
        """Nothing to wait for: ``flush`` returns once the socket took everything."""

    def exchange(self, session: Flights, deadline: float | None) -> None:
        """Send what the session queued, then give it what the server sends next;
        returns without anything at ``deadline``."""
        try:
            if self._flush(session, deadline):
                return
            if deadline is not None or self._timed:
                self._settimeout(deadline)
            session.receive_data(self._sock.recv(_RECV_SIZE))
        except TimeoutError:
            self.sending = False  # a send that timed out sent nothing
            return

    def _settimeout(self, deadline: float | None) -> None:
        """Block in the next socket call until ``deadline`` (forever when None)."""
        if deadline is None:
            if self._timed:
                self._sock.settimeout(None)
                self._timed = False
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self._sock.settimeout(remaining)
        self._timed = True

    def _flush(self, session: Flights, deadline: float | None) -> bool:
        """Write what is queued; True when it read from the server meanwhile.

        A large write (a long pipeline, executemany's chunks as they are
        produced) goes out in pieces while whatever the server answers is
        read, so neither side's buffers fill up and deadlock; it returns as
        soon as something was read, for the caller to hand on, and is called
        again for the rest. A timeout leaves exactly the unsent part in
        ``_unsent``.
        """
        unsent = self._unsent
        sock = self._sock
        data = session.data_to_send()
        if (
            not unsent
            and deadline is None
            and not self._timed
            and 0 < len(data) <= _SMALL_WRITE
            and not session.producing
        ):
            # The common write in short: one small command, sent whole.
            self.sending = True
            sent = sock.send(data)
            self.sending = False
            if sent == len(data):
                return False
            data = data[sent:]
        while True:
            if data:
                unsent += data
            if not unsent:
                return False
            if len(unsent) <= _SMALL_WRITE and not session.producing:
                while unsent:
                    if deadline is not None or self._timed:
                        self._settimeout(deadline)
                    self.sending = True
                    del unsent[: sock.send(unsent)]
                    self.sending = False
                return False  # not producing: nothing more was queued meanwhile
            sock.setblocking(False)
            self._timed = True
            while unsent:
                wait = None
                if deadline is not None:
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        raise TimeoutError
                readable, writable, _ = select.select((sock,), (sock,), (), wait)
                if not readable and not writable:
                    raise TimeoutError
                if writable:
                    self.sending = True
                    with suppress(*_WOULD_BLOCK):
                        del unsent[: sock.send(memoryview(unsent)[:_WRITE_PIECE])]
                    self.sending = False
                if readable:
                    try:
                        received = sock.recv(_RECV_SIZE)
                    except _WOULD_BLOCK:
                        continue
                    session.receive_data(received)
                    return True
            data = session.data_to_send()

    def send_cancel(self, exchange: CancelExchange, deadline: float) -> None:
        """One CancelRequest on a new connection to the same address; returns once
        the server closed it. Raises TimeoutError at ``deadline``, OSError if it fails."""
        if self.peer is None:
            raise OSError("the connection was given as a socket with no peer address")
        family, address = self.peer
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(_remaining(deadline))
            sock.connect(address)
            while not exchange.done:
                data = exchange.data_to_send()
                if data:
                    sock.sendall(data)
                sock.settimeout(_remaining(deadline))
                exchange.receive_data(sock.recv(_RECV_SIZE))

    def terminate(self, data: bytes) -> None:
        """Send the last bytes (Terminate) and close."""
        with suppress(OSError):
            if data:
                self._sock.sendall(data)
        self._sock.close()

    def abort(self) -> None:
        self._sock.close()
