"""The asyncio adapter's I/O: a transport and what waits on it.

Everything else the asyncio adapter does is written once, in ``pgpipe.aio``
(from which ``pgpipe.sync`` is generated); ``pgpipe._io_sync`` is this
module's blocking counterpart, with the same names less ``Async``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import select
import socket
import ssl
import sys
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final

from pgpipe import errors
from pgpipe._adapter import ConnectionState
from pgpipe._cancel import CancelExchange
from pgpipe._dial import Attempt, is_unix_family, open_address, tune_socket, unix_socket_family
from pgpipe._session import Session
from pgpipe._stats import Stats
from pgpipe.tls import Link, SocketTls

# How long closing waits for a caller's TLS transport to finish its shutdown.
_TLS_CLOSE_WAIT: Final = 0.25

INTERRUPTS: Final = (asyncio.CancelledError,)
"""What interrupts a call: a statement running then is cancelled on the server."""

# How much one read may take: the blocking adapter's read size too.
_READ_SIZE: Final = 1 << 16


class _Protocol(asyncio.BufferedProtocol):
    """Moves received bytes into the core and wakes the waiting task.

    Until ``attach`` hands it a session, received bytes are kept raw for the
    TLS negotiation.

    It is a BufferedProtocol: the event loop reads into one buffer kept per
    connection. A plain Protocol's transport allocates 256 KiB for every read;
    glibc's malloc gives a block that size its own mmap, shrinks it with mremap
    and unmaps it on free (three system calls, about 14 us a read here) until
    the process happens to free a larger block once, which depends on what it
    imported and in which order (``import pgpipe`` alone leaves it that way).
    Transports that only call ``data_received`` (``_jssocket``) still can.
    """

    def __init__(self, stats: Stats) -> None:
        self._session: Session | None = None
        self._stats = stats
        self._waiter: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None
        self.raw = bytearray()
        self.eof = False
        self.failure: errors.Error | None = None
        # Called when data (or the end) arrives and no task waits for it: the
        # connection reads notifications and goodbyes between commands.
        self.idle_hook: Callable[[], None] | None = None
        # Set while the transport's write buffer is over its high-water mark.
        self._drained: asyncio.Future[None] | None = None
        self._read_buffer = memoryview(bytearray(_READ_SIZE))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self.transport = transport

    def attach(self, session: Session) -> None:
        """From now on, received bytes go to ``session`` (after any kept so far)."""
        self._session = session
        raw, self.raw = bytes(self.raw), bytearray()
        if raw:
            self._feed(session, raw)
        if self.eof:
            self._feed(session, b"")

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._read_buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        if self._session is None:
            self.raw += data
        else:
            self._feed(self._session, data)
        self._wake()

    def _feed(self, session: Session, data: bytes) -> None:
        try:
            session.receive_data(data)
        except errors.ProtocolError:
            # A dead core refuses data; the waiting task's next_event() raises why.
            pass
        except errors.Error as exc:
            # TLS failed: nothing more can be read.
            self.failure = self.failure or exc
            with contextlib.suppress(errors.Error):
                session.core.receive_data(b"")

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def drain(self) -> None:
        """Until the transport's write buffer is under its high-water mark again;
        at least one turn of the event loop either way, so a writer that never
        waits for the network still lets other tasks run."""
        drained = self._drained
        if drained is not None:
            await asyncio.shield(drained)
        else:
            await asyncio.sleep(0)

    def connection_lost(self, exc: Exception | None) -> None:
        self.resume_writing()
        self.eof = True
        if self._session is not None:
            self._feed(self._session, b"")
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(None)
        elif self._session is not None and self.idle_hook is not None:
            self.idle_hook()

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def read_raw(self) -> bytes:
        """What arrived before ``attach`` (b"" once the server closed)."""
        while not self.raw and not self.eof:
            await self.wait()
        data = bytes(self.raw)
        self.raw.clear()
        self._stats.received(len(data))
        return data


async def _open_transport(attempt: Attempt, stats: Stats) -> tuple[asyncio.Transport, _Protocol]:
    params = attempt.params
    host = params.hosts[0]
    loop = asyncio.get_running_loop()
    try:
        if host.is_unix_socket and params.websocket is None:
            unix_socket_family(host)  # a clear error where there are no Unix sockets
            try:
                transport, protocol = await loop.create_unix_connection(
                    lambda: _Protocol(stats), host.socket_path()
                )
            except NotImplementedError:
                # The event loop has no Unix sockets (Windows' proactor loop).
                raise errors.OperationalError(
                    f"could not connect to {host}: this event loop has no Unix-domain "
                    "sockets; give a host name or IP address instead of a directory"
                ) from None
        elif sys.platform == "emscripten":
            # WebAssembly (Pyodide): no sockets in the event loop; the JavaScript
            # runtime's own socket API carries the bytes.
            from pgpipe import _jssocket

            transport, protocol = await _jssocket.create_connection(
                lambda: _Protocol(stats), *open_address(params)
            )
        else:
            transport, protocol = await loop.create_connection(
                lambda: _Protocol(stats), *open_address(params)
            )
    except OSError as exc:
        raise errors.OperationalError(
            f"could not connect to {params.address()}: {exc.strerror or exc}"
        ) from None
    if not isinstance(transport, asyncio.Transport):
        transport.close()
        raise errors.InterfaceError("the event loop gave an unusable transport")
    return transport, protocol


def _is_js_socket(given: object) -> bool:
    from pgpipe import _jssocket

    return _jssocket.is_js_socket(given)


class AsyncChannel:
    """The transport to one server, and the waits on it."""

    __slots__ = ("_loop", "_protocol", "_transport", "peer", "stats", "tls")

    sending: Final = False
    """Whether a write was under way when an interruption came: never, as
    transport writes only buffer."""

    def __init__(
        self,
        transport: asyncio.Transport,
        protocol: _Protocol,
        stats: Stats,
        tls: Link | None,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self.stats = stats
        self.tls = tls
        self._loop = asyncio.get_running_loop()
        # Where a CancelRequest goes: the very address this transport reached (None
        # for a caller's transport that has none).
        sock = transport.get_extra_info("socket")
        family = sock.family if sock is not None else socket.AF_INET
        peername = transport.get_extra_info("peername")
        self.peer: tuple[int, Any] | None = None if peername is None else (family, peername)

    @classmethod
    async def connect(cls, attempt: Attempt, deadline: float | None) -> AsyncChannel:
        """Connect to the attempt's host by ``deadline`` (OperationalError otherwise)."""
        stats = Stats()
        given = attempt.params.sock
        if given is not None:
            return await cls.adopt(given, stats)
        try:
            async with asyncio.timeout(_remaining(deadline)):
                transport, protocol = await _open_transport(attempt, stats)
        except TimeoutError:
            address = attempt.params.address()
            raise errors.OperationalError(f"timeout connecting to {address}") from None
        try:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                tune_socket(sock, attempt.params)
            if transport.get_extra_info("peername") is None:
                raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
            return cls(transport, protocol, stats, None)
        except OSError as exc:
            # Reset between connecting and here.
            transport.abort()
            raise errors.OperationalError(
                f"could not connect to {attempt.params.address()}: {exc.strerror or exc}"
            ) from None
        except BaseException:
            transport.abort()
            raise

    @classmethod
    async def adopt(cls, given: object, stats: Stats) -> AsyncChannel:
        """A connection the caller opened (``connect_async(sock=...)``): a connected
        socket, an ``asyncio.Transport`` or a ``(reader, writer)`` pair from
        ``asyncio.open_connection`` that nothing has read from. TLS already on the
        transport is kept, and no SSLRequest is sent over it."""
        protocol = _Protocol(stats)
        if isinstance(given, tuple) and len(given) == 2:
            given = getattr(given[1], "transport", None)
        if isinstance(given, ssl.SSLSocket):
            raise errors.InterfaceError(
                "asyncio cannot take over an ssl.SSLSocket: give the plain socket (pgpipe "
                "negotiates TLS as sslmode says) or a transport opened with ssl="
            )
        if isinstance(given, socket.socket):
            loop = asyncio.get_running_loop()
            try:
                transport, _ = await loop.create_connection(lambda: protocol, sock=given)
            except (OSError, ValueError) as exc:
                raise errors.OperationalError(f"the socket given cannot be used: {exc}") from None
        elif isinstance(given, asyncio.Transport):
            if given.is_closing():
                raise errors.OperationalError("the transport given is closed")
            transport = given
            transport.set_protocol(protocol)
            protocol.connection_made(transport)
        elif sys.platform == "emscripten" and _is_js_socket(given):
            # A JavaScript socket (cloudflare:sockets' connect()): a transport over it.
            from pgpipe import _jssocket

            try:
                transport = await _jssocket.adopt(given, protocol)
            except OSError as exc:
                raise errors.OperationalError(
                    f"the socket given cannot be used: {exc.strerror or exc}"
                ) from None
        else:
            raise errors.InterfaceError(
                "sock must be a connected socket.socket, an asyncio.Transport or a "
                f"(reader, writer) pair, not {type(given).__name__}"
            )
        if not isinstance(transport, asyncio.Transport):
            transport.close()
            raise errors.InterfaceError("the event loop gave an unusable transport")
        tls_object = transport.get_extra_info("ssl_object")
        return cls(
            transport, protocol, stats, None if tls_object is None else SocketTls(tls_object)
        )

    async def send_raw(self, data: bytes) -> None:
        """Bytes before the session is attached (the TLS negotiation's)."""
        if data:
            self._transport.write(data)
            self.stats.sent(len(data))

    async def receive_raw(self, deadline: float | None) -> bytes:
        """Bytes before the session is attached (b"" once the server closed);
        TimeoutError at ``deadline``."""
        async with asyncio.timeout(_remaining(deadline)):
            return await self._protocol.read_raw()

    def attach(self, session: Session) -> None:
        """Received bytes go to ``session`` from now on."""
        self._protocol.attach(session)

    async def flush(self, session: Session) -> None:
        """Send everything the session queued, without waiting for answers."""
        transport = self._transport
        data = session.data_to_send()
        while data:  # executemany queues its later chunks as they go
            transport.write(data)
            data = session.data_to_send() if session.producing else b""

    async def poll(self, session: Session) -> None:
        """Let the transport give the session what has arrived: it does so as data
        comes, but data the loop has not read yet is read first (a yield or two)."""
        transport = self._transport
        sock = transport.get_extra_info("socket")
        for _ in range(4):
            if sock is None:
                return
            try:
                if not select.select([sock.fileno()], [], [], 0)[0]:
                    return
            except (OSError, ValueError):
                return
            await asyncio.sleep(0)

    async def receive_idle(self, session: Session, deadline: float | None) -> None:
        """Between commands: wait until the server sends something (the transport
        gives it to the session) or ``deadline``."""
        protocol = self._protocol
        if protocol.eof:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(protocol.wait(), _remaining(deadline))

    def set_idle_hook(self, hook: Callable[[], None]) -> None:
        """``hook()`` (a bound method, held weakly: the transport must not keep an
        abandoned connection alive) runs when data arrives that no task waits for."""
        method = weakref.WeakMethod(hook)

        def call() -> None:
            bound = method()
            if bound is not None:
                bound()

        self._protocol.idle_hook = call

    async def drain(self) -> None:
        """Wait while the transport holds more than its high-water mark of unsent
        data (a COPY's writer must not outrun the network)."""
        await self._protocol.drain()
        if self._protocol.eof:
            raise ConnectionResetError("the connection was closed while sending")

    async def exchange(self, session: Session, deadline: float | None) -> None:
        """Send what the session queued, then give it what the server sends next;
        returns without anything at ``deadline``."""
        transport = self._transport
        data = session.data_to_send()
        while data:  # executemany queues its later chunks as they go
            transport.write(data)
            data = session.data_to_send() if session.producing else b""
        protocol = self._protocol
        if protocol.failure is not None:
            raise protocol.failure
        if deadline is None:
            # protocol.wait(), written out: one coroutine less on every reply.
            waiter = protocol._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                protocol._waiter = None
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            async with asyncio.timeout(remaining):
                await protocol.wait()
        except TimeoutError:
            return

    async def send_cancel(self, exchange: CancelExchange, deadline: float) -> None:
        """One CancelRequest on a new connection to the same address; returns once
        the server closed it. Raises TimeoutError at ``deadline``, OSError if it fails."""
        if self.peer is None:
            raise OSError("the connection was given as a transport with no peer address")
        family, address = self.peer
        loop = asyncio.get_running_loop()
        protocol = _Protocol(Stats())
        async with asyncio.timeout(_remaining(deadline)):
            if is_unix_family(family):
                transport, _ = await loop.create_unix_connection(lambda: protocol, address)
            elif sys.platform == "emscripten":
                from pgpipe import _jssocket

                transport, _ = await _jssocket.create_connection(
                    lambda: protocol, address[0], address[1]
                )
            else:
                transport, _ = await loop.create_connection(
                    lambda: protocol, address[0], address[1]
                )
            try:
                while not exchange.done:
                    data = exchange.data_to_send()
                    if data:
                        transport.write(data)
                    exchange.receive_data(await protocol.read_raw())
            finally:
                transport.close()

    async def terminate(self, data: bytes) -> None:
        """Send the last bytes (Terminate) and close.

        From another event loop than the transport's, the transport is only
        dropped (by its own loop, unless that loop is closed already)."""
        loop = self._loop
        if asyncio.get_running_loop() is not loop:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._transport.abort)
            return
        transport, protocol = self._transport, self._protocol
        if data:
            transport.write(data)
        transport.close()
        if protocol.eof or transport.get_extra_info("ssl_object") is None:
            return
        # A caller's TLS transport closes after a close_notify exchange that may
        # never end (asyncio waits 30 s): give it a moment, then drop it, so that
        # nothing is left open when the caller's loop ends.
        try:
            async with asyncio.timeout(_TLS_CLOSE_WAIT):
                while not protocol.eof:
                    await protocol.wait()
        except TimeoutError:
            transport.abort()
        except BaseException:
            transport.abort()
            raise

    def abort(self) -> None:
        loop = self._loop
        if loop.is_closed():
            # Its loop is gone, and with it the transport's callbacks: shut the
            # socket down (the server sees the end; the object closes when collected).
            sock = self._transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError, ValueError):
                    sock.shutdown(socket.SHUT_RDWR)
            return
        self._transport.abort()


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.001)


class _Turn:
    """``with conn._lock``: one operation at a time; a second concurrent one
    raises InterfaceError instead of waiting (the blocking adapter's is a
    ``threading.Lock``, which waits). A plain ``with``: nothing to await."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnectionBase) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        conn = self._conn
        if asyncio.get_running_loop() is not conn._loop:
            conn._check_loop()
        if conn._busy:
            raise errors.InterfaceError("another operation is in progress on this connection")
        conn._busy = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._conn._busy = False

    def locked(self) -> bool:
        """Whether an operation is running."""
        return self._conn._busy


class AsyncConnectionBase(ConnectionState):
    """What an asyncio connection has that a blocking one has not: its event loop."""

    __slots__ = ("_busy", "_lock", "_loop")

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._busy = False
        self._lock = _Turn(self)
        """``with self._lock:`` around an operation."""
        # The event loop the transport belongs to: the only one it can be used from.
        self._loop = asyncio.get_running_loop()

    def _check_loop(self) -> None:
        if asyncio.get_running_loop() is not self._loop:
            raise errors.InterfaceError(
                "this connection belongs to another event loop: an asyncio connection is "
                "used only from the loop that opened it"
            )
