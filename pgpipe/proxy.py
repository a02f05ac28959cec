"""A loopback TCP proxy that counts client flights, and can add network latency.

Timing cannot prove "one round trip"; counting how often the client had to
start talking again after hearing back from the server can. With a delay the
same proxy shows on one machine what round trips cost at a distance: the
tests, the ``pgpipe`` command's ``--latency`` and the benchmarks use it.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Literal

_Direction = Literal["client", "server"]

_CHUNK = 65536
# Stop reading from one side while this much is still waiting to reach the
# other side, so a peer that does not read cannot make the proxy buffer
# without bound.
_HIGH_WATER = 1 << 20
_POLL_INTERVAL = 0.5
_JOIN_TIMEOUT = 10.0


class _Link:
    """One proxied connection: the client's socket, the server's, and what is in transit."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.to_server = bytearray()
        self.to_client = bytearray()
        self.client_eof = False
        self.server_eof = False
        self.server_shut = False
        self.client_shut = False
        self.closed = False
        self.last: _Direction | None = None
        self.epoch = 0
        # With a delay: (due time, bytes) read but not yet released, per direction.
        self.delayed_to_server: deque[tuple[float, bytes]] = deque()
        self.delayed_to_client: deque[tuple[float, bytes]] = deque()


class FlightCounter:
    """A threaded TCP proxy on 127.0.0.1 in front of ``(target_host, target_port)``.

    Point a client at ``127.0.0.1:<port>``; every accepted connection is
    relayed to the target, and the traffic is counted in *flights*:

    * A **client flight** is a maximal run of client->server reads with no
      server->client read in between. The first client data on a
      connection starts flight 1; client data arriving after the proxy read
      anything from the server since the client's previous data starts a
      new flight. TCP splitting one send into several segments therefore
      still counts as one flight, and so do several sends with no reply in
      between.
    * A **round trip** is a server->client flight that follows a client
      flight: one time the client waited for, and got, an answer. Server
      data on a connection before any client data (or, after ``reset()``,
      before the next client data) is not a round trip.

    Flights are tracked per connection and summed over all connections.
    Every count happens when the proxy reads the bytes, before it forwards
    them, so once the client has received an answer the counters include
    everything that led to it. The proxy only sees its own reads: a client
    flight larger than the socket buffers, answered by the server before the
    proxy read its tail, would count as two flights.

    Typical use::

        with FlightCounter(pg.host, pg.port) as proxy:
            conn = connect(port=proxy.port)
            proxy.reset()
            conn.execute("select 1")
            assert proxy.client_flights == 1

    Both legs use TCP_NODELAY. One thread serves all connections with
    non-blocking sockets; leaving the ``with`` block (or ``close()``) closes
    every socket and joins the thread, and re-raises anything that broke the
    thread.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        connect_timeout: float = 5.0,
        delay: float = 0.0,
    ) -> None:
        """``delay`` seconds are added to every byte's trip, in each direction."""
        self._target = (target_host, target_port)
        self._delay = delay
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._epoch = 0
        self._client_flights = 0
        self._round_trips = 0
        self._bytes_from_client = 0
        self._bytes_from_server = 0
        self._connections = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._failure: BaseException | None = None
        self._selector = selectors.DefaultSelector()
        self._wakeup_reader: socket.socket | None = None
        self._wakeup_writer: socket.socket | None = None
        self._links: set[_Link] = set()
        self._masks: dict[socket.socket, int] = {}

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> FlightCounter:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1 and start relaying."""
        if self._thread is not None:
            raise RuntimeError("FlightCounter can only be started once")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self._wakeup_reader, self._wakeup_writer = socket.socketpair()
        self._wakeup_reader.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ, self._accept)
        self._selector.register(self._wakeup_reader, selectors.EVENT_READ, self._drain_wakeup)
        self._thread = threading.Thread(
            target=self._serve, name=f"FlightCounter-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Close every connection and the listener, and join the thread.

        :raises RuntimeError: if the relay thread failed or would not stop.
        """
        thread, wakeup = self._thread, self._wakeup_writer
        if thread is None or wakeup is None or self._stopping.is_set():
            return
        self._stopping.set()
        # The relay thread may see the flag on its own (its select timed out)
        # and close the other end first: then there is nobody left to wake.
        with contextlib.suppress(OSError):
            wakeup.send(b"\0")
        thread.join(_JOIN_TIMEOUT)
        wakeup.close()
        if thread.is_alive():
            raise RuntimeError("FlightCounter thread did not stop")
        if self._failure is not None:
            raise RuntimeError("FlightCounter thread failed") from self._failure

    # -- counters ------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port on 127.0.0.1 to connect to instead of the target."""
        if self._listener is None:
            raise RuntimeError("FlightCounter is not started")
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def client_flights(self) -> int:
        """Client->server flights since the start or the last ``reset()``."""
        with self._lock:
            return self._client_flights

    @property
    def round_trips(self) -> int:
        """Server->client flights answering a client flight, since the last ``reset()``."""
        with self._lock:
            return self._round_trips

    @property
    def bytes_from_client(self) -> int:
        """Bytes read from clients since the last ``reset()``."""
        with self._lock:
            return self._bytes_from_client

    @property
    def bytes_from_server(self) -> int:
        """Bytes read from the target since the last ``reset()``."""
        with self._lock:
            return self._bytes_from_server

    @property
    def connections(self) -> int:
        """Connections accepted since the last ``reset()``."""
        with self._lock:
            return self._connections

    def reset(self) -> None:
        """Zero every counter; the next client data on any connection starts a flight."""
        with self._lock:
            self._epoch += 1
            self._client_flights = 0
            self._round_trips = 0
            self._bytes_from_client = 0
            self._bytes_from_server = 0
            self._connections = 0

    def _observe(self, link: _Link, direction: _Direction, size: int) -> None:
        with self._lock:
            last = link.last if link.epoch == self._epoch else None
            if direction == "client":
                self._bytes_from_client += size
                if last != "client":
                    self._client_flights += 1
            else:
                self._bytes_from_server += size
                if last == "client":
                    self._round_trips += 1
            link.last = direction
            link.epoch = self._epoch

    # -- relay thread --------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                timeout = self._release_due() if self._delay else _POLL_INTERVAL
                for key, mask in self._selector.select(timeout):
                    handler: Callable[[int], None] = key.data
                    handler(mask)
        except BaseException as exc:
            self._failure = exc
        finally:
            for link in list(self._links):
                self._close_link(link)
            self._selector.close()
            if self._listener is not None:
                self._listener.close()
            if self._wakeup_reader is not None:
                self._wakeup_reader.close()

    def _drain_wakeup(self, mask: int) -> None:
        if self._wakeup_reader is not None:
            with contextlib.suppress(BlockingIOError):
                self._wakeup_reader.recv(_CHUNK)

    def _accept(self, mask: int) -> None:
        if self._listener is None:
            return
        while True:
            try:
                client, _ = self._listener.accept()
            except BlockingIOError:
                return
            try:
                server = socket.create_connection(self._target, timeout=self._connect_timeout)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += 1
            link = _Link(client, server)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
            self._links.add(link)
            self._update_interest(link)

    def _on_event(self, link: _Link, from_client: bool, mask: int) -> None:
        if link.closed:
            return
        try:
            if mask & selectors.EVENT_READ:
                self._read(link, from_client)
            if mask & selectors.EVENT_WRITE:
                self._flush(link, to_client=from_client)
        except OSError:
            # Reset or broken pipe on either leg: drop the whole connection.
            self._close_link(link)
            return
        if link.client_shut and link.server_shut:
            self._close_link(link)
        else:
            self._update_interest(link)

    def _read(self, link: _Link, from_client: bool) -> None:
        source = link.client if from_client else link.server
        pending = link.to_server if from_client else link.to_client
        size = 0
        while len(pending) < _HIGH_WATER:
            try:
                chunk = source.recv(_CHUNK)
            except BlockingIOError:
                break
            if not chunk:
                if from_client:
                    link.client_eof = True
                else:
                    link.server_eof = True
                break
            if self._delay:
                delayed = link.delayed_to_server if from_client else link.delayed_to_client
                delayed.append((time.monotonic() + self._delay, chunk))
            else:
                pending += chunk
            size += len(chunk)
        if size:
            self._observe(link, "client" if from_client else "server", size)
        self._flush(link, to_client=not from_client)

    def _flush(self, link: _Link, *, to_client: bool) -> None:
        target = link.client if to_client else link.server
        pending = link.to_client if to_client else link.to_server
        while pending:
            try:
                sent = target.send(pending)
            except BlockingIOError:
                return
            del pending[:sent]
        source_eof = link.server_eof if to_client else link.client_eof
        delayed = link.delayed_to_client if to_client else link.delayed_to_server
        if source_eof and not delayed:
            if to_client and not link.client_shut:
                link.client_shut = True
                target.shutdown(socket.SHUT_WR)
            elif not to_client and not link.server_shut:
                link.server_shut = True
                target.shutdown(socket.SHUT_WR)

    def _release_due(self) -> float:
        """Move delayed bytes whose time has come to the send buffers; seconds to the next."""
        now = time.monotonic()
        following = now + _POLL_INTERVAL
        for link in list(self._links):
            for delayed, pending, to_client in (
                (link.delayed_to_client, link.to_client, True),
                (link.delayed_to_server, link.to_server, False),
            ):
                released = False
                while delayed and delayed[0][0] <= now:
                    pending += delayed.popleft()[1]
                    released = True
                if delayed:
                    following = min(following, delayed[0][0])
                source_eof = link.server_eof if to_client else link.client_eof
                if (released or source_eof) and not link.closed:
                    try:
                        self._flush(link, to_client=to_client)
                    except OSError:
                        self._close_link(link)
                        break
            if not link.closed:
                if link.client_shut and link.server_shut:
                    self._close_link(link)
                else:
                    self._update_interest(link)
        return max(0.0, following - now)

    def _update_interest(self, link: _Link) -> None:
        read, write = selectors.EVENT_READ, selectors.EVENT_WRITE
        client_reads = not link.client_eof and len(link.to_server) < _HIGH_WATER
        server_reads = not link.server_eof and len(link.to_client) < _HIGH_WATER
        client_mask = (read if client_reads else 0) | (write if link.to_client else 0)
        server_mask = (read if server_reads else 0) | (write if link.to_server else 0)
        self._set_mask(link.client, client_mask, lambda mask: self._on_event(link, True, mask))
        self._set_mask(link.server, server_mask, lambda mask: self._on_event(link, False, mask))

    def _set_mask(self, sock: socket.socket, mask: int, handler: Callable[[int], None]) -> None:
        current = self._masks.get(sock, 0)
        if mask == current:
            return
        if current == 0:
            self._selector.register(sock, mask, handler)
        elif mask == 0:
            self._selector.unregister(sock)
        else:
            self._selector.modify(sock, mask, handler)
        if mask:
            self._masks[sock] = mask
        else:
            del self._masks[sock]

    def _close_link(self, link: _Link) -> None:
        link.closed = True
        self._links.discard(link)
        for sock in (link.client, link.server):
            if self._masks.pop(sock, 0):
                self._selector.unregister(sock)
            sock.close()
