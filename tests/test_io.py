"""The blocking adapter's channel at the edge of a full socket buffer: a send
that times out keeps every byte it did not send, in order."""

from __future__ import annotations

import socket
import time

from pgpipe._io_sync import Channel
from pgpipe._stats import Stats


class ScriptedSession:
    """What the channel asks of a Session: bytes to send, a place for received ones."""

    def __init__(self, flights: list[bytes]) -> None:
        self.flights = flights
        self.received = bytearray()
        self.producing = False

    def data_to_send(self) -> bytes:
        return self.flights.pop(0) if self.flights else b""

    def receive_data(self, data: bytes) -> None:
        self.received += data


def _fill(sock: socket.socket) -> int:
    """Fill ``sock``'s send buffer (its peer reads nothing); how many bytes went in."""
    sock.setblocking(False)
    total = 0
    try:
        while True:
            total += sock.send(b"f" * 65536)
    except BlockingIOError:
        pass
    sock.setblocking(True)
    return total


def _read(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        data += sock.recv(count - len(data))
    return bytes(data)


def test_a_send_that_times_out_keeps_its_bytes_for_the_next_exchange() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.settimeout(5)  # a lost byte fails the read instead of hanging
        filler = _fill(ours)
        channel = Channel(ours, Stats(), None)
        session = ScriptedSession([b"first flight", b"second"])
        channel.exchange(session, time.monotonic() + 0.2)  # returns at the deadline
        assert not channel.sending
        assert session.received == b""
        # The server reads again: everything arrives once, in order.
        assert _read(theirs, filler) == b"f" * filler
        theirs.sendall(b"answer")
        channel.exchange(session, time.monotonic() + 5)
        assert _read(theirs, len(b"first flight")) == b"first flight"
        assert session.received == b"answer"
        theirs.sendall(b"more")
        channel.exchange(session, time.monotonic() + 5)
        assert _read(theirs, len(b"second")) == b"second"
        assert session.received == b"answermore"
