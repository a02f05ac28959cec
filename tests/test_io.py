"""The adapters' channels: a send that times out at the edge of a full socket
buffer keeps every byte it did not send, in order; a command queued whole is
taken by one call, a producing one until it ends; a large write goes out
while its answers are read; the asyncio transport reads into one kept buffer."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time

import pgpipe
from pgpipe._io_sync import Channel
from pgpipe._stats import Stats
from pgpipe.testing import TemporaryPostgres


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


class CountingSession(ScriptedSession):
    """A ScriptedSession that counts the channel's calls, and may be producing."""

    def __init__(self, flights: list[bytes], producing: bool) -> None:
        super().__init__(flights)
        self.producing = producing
        self.calls = 0

    def data_to_send(self) -> bytes:
        self.calls += 1
        data = super().data_to_send()
        if not self.flights:
            self.producing = False  # the producer gave its last part
        return data


def _untimed(ours: socket.socket, theirs: socket.socket) -> Channel:
    """A channel that ran one untimed exchange, as a connection has after its first query."""
    channel = Channel(ours, Stats(), None)
    theirs.sendall(b"ready")
    channel.exchange(ScriptedSession([]), None)
    return channel


def test_a_command_queued_whole_is_taken_by_one_call_and_answered() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.settimeout(5)
        channel = _untimed(ours, theirs)
        # Not producing: one call gave everything queued; a second would be wasted,
        # and a stray second flight would be sent ahead of its time.
        session = CountingSession([b"the query", b"not yet"], producing=False)
        theirs.sendall(b"its answer")
        channel.exchange(session, None)
        assert session.calls == 1
        assert session.received == b"its answer"
        assert _read(theirs, len(b"the query")) == b"the query"
        assert not channel.sending
        assert session.flights == [b"not yet"]


def test_a_producing_command_is_taken_until_it_ends() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.settimeout(5)
        channel = _untimed(ours, theirs)
        parts = [b"chunk %d;" % i for i in range(5)]
        session = CountingSession(list(parts), producing=True)
        received = bytearray()

        def server() -> None:  # answers once it has read every part
            received.extend(_read(theirs, len(b"".join(parts))))
            theirs.sendall(b"answers")

        peer = threading.Thread(target=server)
        peer.start()
        channel.exchange(session, None)
        peer.join(10)
        assert bytes(received) == b"".join(parts)
        assert session.received == b"answers"
        assert session.calls == len(parts)  # once per part, and none after the last


def test_a_large_untimed_command_is_written_while_its_answers_are_read() -> None:
    # Over 256 KiB: written in pieces with the answers read meanwhile, so neither
    # side's full buffers can deadlock (the peer answers before it reads).
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.settimeout(5)
        channel = _untimed(ours, theirs)
        big = bytes(range(256)) * 8192  # 2 MiB
        session = ScriptedSession([big])
        theirs.sendall(b"answer")
        channel.exchange(session, None)
        assert session.received == b"answer"
        received = bytearray()
        reader = threading.Thread(target=lambda: received.extend(_read(theirs, len(big))))
        reader.start()
        channel.flush(session)
        reader.join(10)
        assert bytes(received) == big


def test_the_asyncio_channel_takes_a_command_queued_whole_by_one_call() -> None:
    from pgpipe._io_aio import AsyncChannel, _Protocol

    ours, theirs = socket.socketpair()
    with theirs:
        theirs.settimeout(5)
        heard = bytearray()

        def server() -> None:
            heard.extend(_read(theirs, len(b"the query")))
            theirs.sendall(b"its answer")

        async def main() -> CountingSession:
            stats = Stats()
            transport, protocol = await asyncio.get_running_loop().create_connection(
                lambda: _Protocol(stats), sock=ours
            )
            channel = AsyncChannel(transport, protocol, stats, None)
            session = CountingSession([b"the query", b"not yet"], producing=False)
            protocol.attach(session)
            peer = threading.Thread(target=server)
            peer.start()
            await asyncio.wait_for(channel.exchange(session, None), 5)
            peer.join(5)
            transport.close()
            return session

        session = asyncio.run(main())
        assert bytes(heard) == b"the query"
        assert session.received == b"its answer"
        assert session.calls == 1
        assert session.flights == [b"not yet"]


def test_the_asyncio_channel_reads_into_one_kept_buffer() -> None:
    """asyncio's transport reads into the protocol's buffer (a plain Protocol's
    transport would allocate 256 KiB a read); what arrives in many reads is
    handed on whole and in order."""
    from pgpipe._io_aio import AsyncChannel, _Protocol

    payload = bytes(range(256)) * 1200  # 300 KiB: several reads of the kept buffer
    ours, theirs = socket.socketpair()
    with theirs:
        theirs.settimeout(5)
        buffers: list[memoryview] = []

        async def main() -> CountingSession:
            stats = Stats()
            transport, protocol = await asyncio.get_running_loop().create_connection(
                lambda: _Protocol(stats), sock=ours
            )
            kept = protocol.get_buffer

            def counted(sizehint: int) -> memoryview:
                buffers.append(kept(sizehint))
                return buffers[-1]

            protocol.get_buffer = counted  # type: ignore[method-assign]
            channel = AsyncChannel(transport, protocol, stats, None)
            session = CountingSession([b"q"], producing=False)
            protocol.attach(session)
            peer = threading.Thread(target=lambda: (_read(theirs, 1), theirs.sendall(payload)))
            peer.start()
            await asyncio.wait_for(channel.exchange(session, None), 5)
            while len(session.received) < len(payload):
                await asyncio.wait_for(protocol.wait(), 5)
            peer.join(5)
            transport.close()
            return session

        session = asyncio.run(main())
        assert bytes(session.received) == payload
        assert len(buffers) >= len(payload) // len(buffers[0])
        assert all(buffer is buffers[0] for buffer in buffers)


def test_a_large_answer_over_asyncio_arrives_whole(pg_server: TemporaryPostgres) -> None:
    async def main() -> tuple[str, int, int]:
        conn = await pgpipe.connect_async(pg_server.dsn(dbname="postgres"))
        async with conn:
            protocol = conn._channel._protocol
            reads = 0
            kept = protocol.get_buffer

            def counted(sizehint: int) -> memoryview:
                nonlocal reads
                reads += 1
                return kept(sizehint)

            protocol.get_buffer = counted  # type: ignore[method-assign]
            result = await conn.query(
                "SELECT repeat(md5(n::text), 10000) FROM generate_series(1, 3) n"
            )
            small = await conn.query("SELECT $1::int + 1", 41)
            return "".join(row[0] for row in result.rows), small.rows[0][0], reads

    text, answer, reads = asyncio.run(main())
    expected = "".join(hashlib.md5(str(n).encode()).hexdigest() * 10000 for n in (1, 2, 3))
    assert text == expected
    assert answer == 42
    assert reads >= 15  # 960 KB through a 64 KiB buffer
