"""A loopback TCP proxy that injects network faults into one connection.

``FaultProxy`` listens on an ephemeral port of 127.0.0.1 and relays every
accepted connection to an upstream address. The *first* connection accepted
after ``start()`` (or after ``arm()``) gets a fault plan, a ``Fault``, in one
direction:

* ``cut_at=N``: forward exactly N bytes in that direction, then close both
  sockets, with a FIN (``reset=False``) or with a TCP reset (SO_LINGER 0,
  ``reset=True``). The cut happens as soon as the N-th byte has been handed to
  the kernel (at once for N=0), whether or not more data is waiting.
* ``stall_at=N``: forward N bytes, then nothing more in that direction (not
  even an end of file), keeping both sockets open until the proxy closes.
* ``trickle=True``: deliver that direction one byte per ``send``, with
  TCP_NODELAY and ``trickle_delay`` seconds between bytes.

Every later connection (a CancelRequest the driver opens to the same address,
say) is relayed untouched. Bytes forwarded are counted per connection and per
direction, so a clean recording run tells how many offsets a session has.

One thread serves every connection with non-blocking sockets and a selector,
so only that thread ever closes a socket. ``close()`` wakes it, closes the
listener and every connection, and joins it; everything blocking has a bound.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

Direction = Literal["to_client", "to_server"]

TO_CLIENT: Direction = "to_client"
TO_SERVER: Direction = "to_server"

_CHUNK = 65536
# Read no more from one side while this much waits to reach the other side.
_HIGH_WATER = 1 << 20
_POLL_INTERVAL = 0.5
_UPSTREAM_TIMEOUT = 5.0
_JOIN_TIMEOUT = 10.0
_LINGER_RESET = struct.pack("ii", 1, 0)
_DRAIN_READS = 64


@dataclass(frozen=True)
class Fault:
    """What goes wrong on the faulted connection, in ``direction``.

    Exactly one of ``cut_at``, ``stall_at`` and ``trickle`` is set.
    """

    direction: Direction
    cut_at: int | None = None
    reset: bool = False
    stall_at: int | None = None
    trickle: bool = False
    trickle_delay: float = 0.001

    def __post_init__(self) -> None:
        chosen = [self.cut_at is not None, self.stall_at is not None, self.trickle]
        if sum(chosen) != 1:
            raise ValueError("a Fault needs exactly one of cut_at, stall_at and trickle")
        for limit in (self.cut_at, self.stall_at):
            if limit is not None and limit < 0:
                raise ValueError("a byte offset cannot be negative")
        if self.reset and self.cut_at is None:
            raise ValueError("reset only applies to cut_at")

    @property
    def limit(self) -> int | None:
        """Bytes forwarded before the cut or the stall; None for a trickle."""
        return self.cut_at if self.cut_at is not None else self.stall_at

    def __str__(self) -> str:
        if self.cut_at is not None:
            how = "reset" if self.reset else "cut"
            return f"{how} {self.direction} at {self.cut_at}"
        if self.stall_at is not None:
            return f"stall {self.direction} at {self.stall_at}"
        return f"trickle {self.direction}"


class Traffic:
    """Bytes one connection forwarded, per direction; ``finished`` once it is closed."""

    def __init__(self, fault: Fault | None) -> None:
        self.fault = fault
        self.to_client = 0
        self.to_server = 0
        self.sends_to_client = 0
        self.sends_to_server = 0
        self.cut = False
        self.stalled = False
        self.finished = threading.Event()

    def __repr__(self) -> str:
        return (
            f"<Traffic to_client={self.to_client} to_server={self.to_server}"
            f" fault={self.fault} cut={self.cut} stalled={self.stalled}>"
        )


class _Leg:
    """One direction of one connection: read from ``src``, written to ``dst``."""

    def __init__(
        self, direction: Direction, src: socket.socket, dst: socket.socket, fault: Fault | None
    ) -> None:
        self.direction = direction
        self.src = src
        self.dst = dst
        self.fault = fault if fault is not None and fault.direction == direction else None
        self.limit = None if self.fault is None else self.fault.limit
        self.trickle = self.fault is not None and self.fault.trickle
        self.pending = bytearray()
        self.forwarded = 0
        self.eof = False  # src has no more to give
        self.shut = False  # dst has been told so (SHUT_WR)
        self.stalled = False
        self.ready_at = 0.0  # trickle: no send before this time

    def wants_read(self) -> bool:
        if self.eof or self.stalled or len(self.pending) >= _HIGH_WATER:
            return False
        return self.limit is None or self.forwarded + len(self.pending) < self.limit

    def read_size(self) -> int:
        if self.limit is None:
            return _CHUNK
        return min(_CHUNK, self.limit - self.forwarded - len(self.pending))

    def wants_write(self, now: float) -> bool:
        return bool(self.pending) and not self.stalled and now >= self.ready_at


class _Link:
    """One proxied connection: the client's socket, the upstream one, two legs."""

    def __init__(
        self, client: socket.socket, server: socket.socket, fault: Fault | None, traffic: Traffic
    ) -> None:
        self.client = client
        self.server = server
        self.traffic = traffic
        self.to_client = _Leg(TO_CLIENT, server, client, fault)
        self.to_server = _Leg(TO_SERVER, client, server, fault)
        self.closed = False

    def legs(self) -> tuple[_Leg, _Leg]:
        return self.to_client, self.to_server


class FaultProxy:
    """A threaded TCP proxy on 127.0.0.1 in front of ``(upstream_host, upstream_port)``.

    ``fault`` applies to the first accepted connection; ``arm()`` sets the plan
    for the next one. Use as a context manager, or call ``start()`` and
    ``close()``; ``close()`` re-raises anything that broke the relay thread.
    """

    def __init__(self, upstream_host: str, upstream_port: int, fault: Fault | None = None) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._plan: Fault | None = fault
        self._armed = True
        self._traffic: list[Traffic] = []
        self._links: list[_Link] = []
        self._selector = selectors.DefaultSelector()
        self._masks: dict[socket.socket, int] = {}
        self._listener: socket.socket | None = None
        self._wake_reader: socket.socket | None = None
        self._wake_writer: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._failure: BaseException | None = None
        self._sever = threading.Event()
        self._severed = threading.Event()
        self._refusing = False

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> FaultProxy:
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
            raise RuntimeError("FaultProxy can only be started once")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            listener.setblocking(False)
            self._wake_reader, self._wake_writer = socket.socketpair()
            self._wake_reader.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ)
        self._selector.register(self._wake_reader, selectors.EVENT_READ)
        self._thread = threading.Thread(
            target=self._serve, name=f"FaultProxy-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Close the listener and every connection, and join the thread (idempotent).

        :raises RuntimeError: if the relay thread failed or would not stop.
        """
        thread, wake = self._thread, self._wake_writer
        if thread is None or wake is None:
            self._close_unstarted()
            return
        if not self._stopping.is_set():
            self._stopping.set()
            with contextlib.suppress(OSError):
                wake.send(b"\0")
        if thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT)
            if thread.is_alive():
                raise RuntimeError("FaultProxy thread did not stop")
        with contextlib.suppress(OSError):
            wake.close()
        if self._failure is not None:
            raise RuntimeError("FaultProxy thread failed") from self._failure

    def sever(self, *, refuse: bool = False) -> None:
        """Cut every connection now with a TCP reset, as a network failure would
        (the proxy keeps listening); with ``refuse``, reset each new connection too
        until ``restore()``. Returns once the relay thread has cut them."""
        wake = self._wake_writer
        if wake is None:
            raise RuntimeError("FaultProxy is not started")
        with self._lock:
            self._refusing = refuse
        self._severed.clear()
        self._sever.set()
        with contextlib.suppress(OSError):
            wake.send(b"\0")
        if not self._severed.wait(_JOIN_TIMEOUT):
            raise RuntimeError("FaultProxy did not sever its connections")

    def restore(self) -> None:
        """Accept and relay new connections again after ``sever(refuse=True)``."""
        with self._lock:
            self._refusing = False

    def _close_unstarted(self) -> None:
        self._selector.close()

    @property
    def closed(self) -> bool:
        return self._stopping.is_set()

    # -- plan and counters ---------------------------------------------------

    @property
    def port(self) -> int:
        """The port on 127.0.0.1 to connect to instead of the upstream."""
        if self._listener is None:
            raise RuntimeError("FaultProxy is not started")
        port: int = self._listener.getsockname()[1]
        return port

    def arm(self, fault: Fault | None) -> None:
        """Give the next accepted connection this plan (None: relay it untouched)."""
        with self._lock:
            self._plan = fault
            self._armed = True

    @property
    def traffic(self) -> list[Traffic]:
        """One entry per accepted connection, in order."""
        with self._lock:
            return list(self._traffic)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._traffic)

    def first(self) -> Traffic:
        """The traffic of the first connection (the faulted one)."""
        traffic = self.traffic
        if not traffic:
            raise AssertionError("no connection reached the proxy")
        return traffic[0]

    # -- relay thread ----------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                timeout = _POLL_INTERVAL
                for link in self._links:
                    for leg in link.legs():
                        if leg.pending and not leg.stalled and leg.ready_at > now:
                            timeout = min(timeout, leg.ready_at - now)
                    self._update_interest(link, now)
                for key, mask in self._selector.select(timeout):
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept()
                    elif sock is self._wake_reader and self._wake_reader is not None:
                        with contextlib.suppress(OSError):
                            self._wake_reader.recv(_CHUNK)
                    else:
                        link = key.data
                        assert isinstance(link, _Link)
                        self._on_event(link, sock, mask)
                self._flush_due()
                if self._sever.is_set():
                    self._sever.clear()
                    for link in list(self._links):
                        self._close_link(link, reset=True)
                    self._severed.set()
        except BaseException as exc:
            self._failure = exc
        finally:
            self._stopping.set()
            for link in list(self._links):
                self._close_link(link, reset=False)
            self._selector.close()
            for own in (self._listener, self._wake_reader):
                if own is not None:
                    own.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            with self._lock:
                fault = self._plan if self._armed else None
                self._armed = False
                traffic = Traffic(fault)
                self._traffic.append(traffic)
                refusing = self._refusing
            if refusing:
                with contextlib.suppress(OSError):
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                client.close()
                traffic.finished.set()
                continue
            try:
                server = socket.create_connection(self._upstream, timeout=_UPSTREAM_TIMEOUT)
            except OSError:
                client.close()
                traffic.finished.set()
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
            link = _Link(client, server, fault, traffic)
            self._links.append(link)
            for leg in link.legs():
                if leg.limit == 0:
                    self._limit_reached(link, leg)

    def _on_event(self, link: _Link, sock: object, mask: int) -> None:
        if link.closed:
            return
        try:
            if mask & selectors.EVENT_READ:
                leg = link.to_server if sock is link.client else link.to_client
                if leg.wants_read():
                    self._read(link, leg)
            if mask & selectors.EVENT_WRITE and not link.closed:
                leg = link.to_client if sock is link.client else link.to_server
                self._flush(link, leg)
        except OSError:
            # A reset or a broken pipe on either side: drop the whole connection.
            self._close_link(link, reset=False)

    def _read(self, link: _Link, leg: _Leg) -> None:
        try:
            data = leg.src.recv(leg.read_size())
        except (BlockingIOError, InterruptedError):
            return
        if data:
            leg.pending += data
        else:
            leg.eof = True
        self._flush(link, leg)

    def _flush(self, link: _Link, leg: _Leg) -> None:
        while leg.pending and not link.closed and not leg.stalled:
            if leg.trickle:
                if time.monotonic() < leg.ready_at:
                    return
                piece = bytes(leg.pending[:1])
            else:
                piece = bytes(leg.pending)
            try:
                sent = leg.dst.send(piece)
            except (BlockingIOError, InterruptedError):
                return
            del leg.pending[:sent]
            leg.forwarded += sent
            self._count(link, leg, sent)
            if leg.trickle and leg.fault is not None:
                leg.ready_at = time.monotonic() + leg.fault.trickle_delay
            if leg.limit is not None and leg.forwarded >= leg.limit:
                self._limit_reached(link, leg)
                return
        if leg.eof and not leg.pending and not leg.shut and not link.closed:
            leg.shut = True
            leg.dst.shutdown(socket.SHUT_WR)
            if link.to_client.shut and link.to_server.shut:
                self._close_link(link, reset=False)

    def _flush_due(self) -> None:
        """Send the trickled bytes whose time has come."""
        now = time.monotonic()
        for link in list(self._links):
            for leg in link.legs():
                if leg.trickle and leg.wants_write(now) and not link.closed:
                    try:
                        self._flush(link, leg)
                    except OSError:
                        self._close_link(link, reset=False)

    def _count(self, link: _Link, leg: _Leg, sent: int) -> None:
        with self._lock:
            if leg.direction == TO_CLIENT:
                link.traffic.to_client += sent
                link.traffic.sends_to_client += 1
            else:
                link.traffic.to_server += sent
                link.traffic.sends_to_server += 1

    def _limit_reached(self, link: _Link, leg: _Leg) -> None:
        fault = leg.fault
        assert fault is not None
        if fault.cut_at is not None:
            link.traffic.cut = True
            self._close_link(link, reset=fault.reset)
        else:
            link.traffic.stalled = True
            leg.stalled = True

    def _update_interest(self, link: _Link, now: float) -> None:
        if link.closed:
            return
        read, write = selectors.EVENT_READ, selectors.EVENT_WRITE
        for sock, outgoing, incoming in (
            (link.client, link.to_server, link.to_client),
            (link.server, link.to_client, link.to_server),
        ):
            mask = (read if outgoing.wants_read() else 0) | (
                write if incoming.wants_write(now) else 0
            )
            current = self._masks.get(sock, 0)
            if mask == current:
                continue
            if current == 0:
                self._selector.register(sock, mask, link)
            elif mask == 0:
                self._selector.unregister(sock)
            else:
                self._selector.modify(sock, mask, link)
            if mask:
                self._masks[sock] = mask
            else:
                del self._masks[sock]

    def _close_link(self, link: _Link, *, reset: bool) -> None:
        if link.closed:
            return
        link.closed = True
        with contextlib.suppress(ValueError):
            self._links.remove(link)
        for sock in (link.client, link.server):
            if self._masks.pop(sock, 0):
                self._selector.unregister(sock)
            with contextlib.suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                else:
                    # A FIN first; and closing with unread bytes would send a
                    # reset instead, so read those away.
                    sock.shutdown(socket.SHUT_WR)
                    for _ in range(_DRAIN_READS):
                        if not sock.recv(_CHUNK):
                            break
            sock.close()
        link.traffic.finished.set()
