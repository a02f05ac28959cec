"""FlightCounter against a line-echo server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pgpipe.proxy import FlightCounter

TIMEOUT = 10.0


class LineEchoServer:
    """Answers each complete line (up to b"\\n") with the same line, and nothing before.

    Replying only once a line is complete lets a client send one request
    in several pieces without the server answering in between.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept_loop, name="LineEchoServer")
        self.acceptor.start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._echo, args=(conn,))
            self.threads.append(thread)
            thread.start()

    def _echo(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        buffer = b""
        with conn:
            while not self.stopping.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                if b"\n" in buffer:
                    end = buffer.rindex(b"\n") + 1
                    conn.sendall(buffer[:end])
                    buffer = buffer[end:]

    def close(self) -> None:
        self.stopping.set()
        self.acceptor.join(TIMEOUT)
        for thread in self.threads:
            thread.join(TIMEOUT)
        self.listener.close()


@pytest.fixture
def echo_server() -> Iterator[LineEchoServer]:
    server = LineEchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo_server: LineEchoServer) -> Iterator[FlightCounter]:
    with FlightCounter("127.0.0.1", echo_server.port) as counter:
        yield counter


def connect(proxy: FlightCounter) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def test_ping_pong_counts_one_flight_and_one_round_trip_each(proxy: FlightCounter) -> None:
    with connect(proxy) as sock:
        for i in range(20):
            line = f"ping {i}\n".encode()
            sock.sendall(line)
            assert recv_exactly(sock, len(line)) == line
    assert proxy.client_flights == 20
    assert proxy.round_trips == 20
    assert proxy.connections == 1


def test_sends_without_reply_in_between_are_one_flight(proxy: FlightCounter) -> None:
    with connect(proxy) as sock:
        for piece in (b"one ", b"two ", b"three "):
            sock.sendall(piece)
            time.sleep(0.02)  # separate TCP segments, separate proxy reads
        sock.sendall(b"four\n")
        assert recv_exactly(sock, 19) == b"one two three four\n"
    assert proxy.client_flights == 1
    assert proxy.round_trips == 1


def test_bytes_are_counted_both_ways(proxy: FlightCounter) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"abc\n" + b"partial")
        assert recv_exactly(sock, 4) == b"abc\n"
        sock.sendall(b"\n")
        assert recv_exactly(sock, 8) == b"partial\n"
    assert proxy.bytes_from_client == 12
    assert proxy.bytes_from_server == 12
    assert proxy.client_flights == 2
    assert proxy.round_trips == 2


def test_reset_starts_counting_afresh(proxy: FlightCounter) -> None:
    with connect(proxy) as sock:
        for _ in range(3):
            sock.sendall(b"x\n")
            recv_exactly(sock, 2)
        proxy.reset()
        assert (proxy.client_flights, proxy.round_trips, proxy.bytes_from_client) == (0, 0, 0)
        sock.sendall(b"query\n")
        recv_exactly(sock, 6)
    assert proxy.client_flights == 1
    assert proxy.round_trips == 1
    assert proxy.bytes_from_client == 6


def test_reset_between_client_data_and_reply_still_counts_the_next_flight(
    proxy: FlightCounter,
) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"unanswered")
        time.sleep(0.05)
        proxy.reset()
        sock.sendall(b"\n")
        assert recv_exactly(sock, 11) == b"unanswered\n"
    assert proxy.client_flights == 1
    assert proxy.round_trips == 1


def test_connections_are_counted_separately(proxy: FlightCounter) -> None:
    with connect(proxy) as first, connect(proxy) as second:
        first.sendall(b"a")
        second.sendall(b"b\n")
        assert recv_exactly(second, 2) == b"b\n"
        first.sendall(b"\n")
        assert recv_exactly(first, 2) == b"a\n"
    # first: one flight in two pieces, interleaved with the second's traffic
    assert proxy.client_flights == 2
    assert proxy.round_trips == 2
    assert proxy.connections == 2


def test_large_transfers_in_both_directions(proxy: FlightCounter) -> None:
    payload = bytes(range(256)) * (8 * 4096) + b"\n"  # 8 MiB, over the proxy's buffer limit
    received = bytearray()
    with connect(proxy) as sock:

        def reader() -> None:
            while len(received) < len(payload):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return
                received.extend(chunk)

        thread = threading.Thread(target=reader)
        thread.start()
        sock.sendall(payload)
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    assert received == payload
    assert proxy.bytes_from_client == len(payload)
    assert proxy.bytes_from_server == len(payload)


def test_half_close_reaches_the_server_and_back() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            data = b""
            while chunk := conn.recv(1024):
                data += chunk
            conn.sendall(data.upper())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with FlightCounter("127.0.0.1", listener.getsockname()[1]) as proxy:
            with connect(proxy) as sock:
                sock.sendall(b"hello")
                sock.shutdown(socket.SHUT_WR)
                assert recv_exactly(sock, 5) == b"HELLO"
                assert sock.recv(1) == b""
            assert proxy.client_flights == 1
            assert proxy.round_trips == 1
    finally:
        thread.join(TIMEOUT)
        listener.close()


def test_unreachable_target_closes_the_client() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    with FlightCounter("127.0.0.1", port) as proxy, connect(proxy) as sock:
        assert sock.recv(1) == b""
        assert proxy.connections == 0


def test_close_stops_the_thread_and_open_connections(echo_server: LineEchoServer) -> None:
    proxy = FlightCounter("127.0.0.1", echo_server.port)
    proxy.start()
    with connect(proxy) as sock:
        sock.sendall(b"hi\n")
        assert recv_exactly(sock, 3) == b"hi\n"
        proxy.close()
        assert sock.recv(1) == b""  # the proxy closed its end
    assert not [t for t in threading.enumerate() if t.name.startswith("FlightCounter")]
    proxy.close()  # idempotent


def test_delay_is_added_each_way_and_counts_stay_right(echo_server: LineEchoServer) -> None:
    delay = 0.05
    with FlightCounter("127.0.0.1", echo_server.port, delay=delay) as slow:
        with socket.create_connection(("127.0.0.1", slow.port), timeout=TIMEOUT) as client:
            for n in range(3):
                started = time.monotonic()
                client.sendall(b"ping %d\n" % n)
                received = b""
                while not received.endswith(b"\n"):
                    received += client.recv(100)
                # A lower bound only: the proxy can never deliver earlier than its delay.
                assert time.monotonic() - started >= 2 * delay
                assert received == b"ping %d\n" % n
            client.shutdown(socket.SHUT_WR)
            assert client.recv(100) == b""
        assert (slow.client_flights, slow.round_trips) == (3, 3)
        assert slow.bytes_from_client == slow.bytes_from_server == 21
