"""Network faults at every byte of a real session: a result or an OperationalError, never a hang.

A scripted session (connect, a query with a parameter, a query returning 50
rows, close) runs through ``FaultProxy`` in front of the session's throwaway
PostgreSQL. A clean run records how many bytes cross in each direction and
where each step ends; then the connection is cut after every byte offset in
each direction, once per adapter, alternating a clean close (FIN) and a reset
(RST) from one offset to the next, the other way round for the other adapter.
Every case must end, within a few seconds, either with exactly the right
results, or with ``pgpipe.OperationalError`` at the step the cut falls in,
after which the connection is closed, says why, and refuses further queries
with InterfaceError. Any other exception, a hang or a wrong result fails.

Then the same session with one direction delivered one byte at a time, and
stalls (bytes held back without closing) during the startup and during a
query, which ``connect_timeout``, the per-call ``timeout`` / ``command_timeout``
and ``cancel_timeout`` must turn into an OperationalError in bounded time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import pytest

import pgpipe
import pgpipe.errors
from pgpipe.result import Result
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from tests.clients import Adapter, Client
from tests.faultproxy import TO_CLIENT, TO_SERVER, Direction, Fault, FaultProxy

USER: Final = AUTH_USERS["trust"][0]
SQL_ONE: Final = "SELECT $1::int, repeat('x', 200)"
SQL_TWO: Final = "SELECT generate_series(1, 50)"
ROWS_ONE: Final = [(7, "x" * 200)]
ROWS_TWO: Final = [(n,) for n in range(1, 51)]
# Where a case can end: the step that raised, or "done" (every result right).
STAGES: Final = ("connect", "query 1", "query 2", "done")
LABELS: Final[dict[Direction, str]] = {TO_CLIENT: "server->client", TO_SERVER: "client->server"}

CONNECT_TIMEOUT: Final = 3.0
# A cut case takes milliseconds; past this the watchdog closes the proxy (which
# unblocks any read) and the case counts as a hang.
CASE_LIMIT: Final = 5.0
# One direction's every offset through one adapter (about 1,500 cases).
LOOP_LIMIT: Final = 90.0
# libpq's (and pgpipe's) smallest connect_timeout: anything under 2 s means 2 s.
STALL_CONNECT_TIMEOUT: Final = 2.0
QUERY_TIMEOUT: Final = 0.3
CANCEL_TIMEOUT: Final = 0.3
# How long a stalled case may take beyond the timeouts that should end it.
SLACK: Final = 2.0
# Cases run side by side, each thread with its own Adapter: a case mostly waits
# for the server to start a backend.
WORKERS: Final = int(os.environ.get("PGPIPE_FAULT_WORKERS", "2"))

_T = TypeVar("_T")
_I = TypeVar("_I")


def connect(adapter: Adapter, port: int, **params: Any) -> Client:
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    return adapter.connect(
        host="127.0.0.1", port=port, user=USER, dbname="pgpipe", sslmode="disable", **params
    )


def check_results(one: Result, two: Result) -> None:
    assert one.rows == ROWS_ONE
    assert two.rows == ROWS_TWO
    assert (two.command, two.rowcount) == ("SELECT", 50)


# -- the recording ---------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """Bytes each direction had carried when each step returned, from the driver's counts.

    ``to_client[i]`` / ``to_server[i]``: after connect (i=0), query 1, query 2,
    close; the proxy's totals for the whole connection must agree with the
    last ones.
    """

    to_client: tuple[int, ...]
    to_server: tuple[int, ...]

    def total(self, direction: Direction) -> int:
        return self.to_client[-1] if direction == TO_CLIENT else self.to_server[-1]

    def expected_stage(self, direction: Direction, offset: int) -> str:
        """Where a clean cut after ``offset`` bytes in ``direction`` must end the session.

        Server->client: a step needs every byte of its answer, so it fails if
        the cut falls before its last byte. Client->server: the cut happens as
        the offset-th byte goes out, before any answer to it, so a step fails
        if the cut falls at or before its last byte.
        """
        marks = self.to_client[:3] if direction == TO_CLIENT else self.to_server[:3]
        for stage, mark in zip(STAGES[:3], marks, strict=True):
            if offset < mark or (direction == TO_SERVER and offset <= mark):
                return stage
        return "done"


def record(adapter: Adapter, pg: TemporaryPostgres) -> Recording:
    """One clean run of the scripted session through the proxy."""
    with FaultProxy(pg.host, pg.port) as proxy:
        client = connect(adapter, proxy.port)
        stats = [client.stats]
        one = client.query(SQL_ONE, 7)
        stats.append(client.stats)
        two = client.query(SQL_TWO)
        stats.append(client.stats)
        client.close()
        stats.append(client.stats)
        check_results(one, two)
        traffic = proxy.first()
        assert traffic.finished.wait(5), "the proxy did not see the session end"
        assert proxy.connections == 1
    recording = Recording(
        to_client=tuple(s.bytes_received for s in stats),
        to_server=tuple(s.bytes_sent for s in stats),
    )
    # The proxy forwarded exactly what the driver sent and received.
    assert (traffic.to_client, traffic.to_server) == (
        recording.total(TO_CLIENT),
        recording.total(TO_SERVER),
    )
    # Nothing comes from the server after the last ReadyForQuery; Terminate is 5 bytes.
    assert recording.to_client[2] == recording.to_client[3]
    assert recording.to_server[3] == recording.to_server[2] + 5
    for marks in (recording.to_client[:3], recording.to_server[:3]):
        assert 0 < marks[0] < marks[1] < marks[2], recording
    return recording


# -- one faulted run -------------------------------------------------------------


class Watchdog:
    """Closes the proxy if a case outlives ``limit``: every blocked read then sees the end."""

    def __init__(self, proxy: FaultProxy, limit: float) -> None:
        self.fired = False
        self._proxy = proxy
        self._timer = threading.Timer(limit, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        with contextlib.suppress(RuntimeError):
            self._proxy.close()

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        self._timer.join(CASE_LIMIT)


def check_closed(client: Client, error: pgpipe.OperationalError) -> None:
    """After an OperationalError the connection is closed, says why, and refuses queries."""
    assert client.closed, f"{error!r} left the connection open"
    assert client.closed_reason, "a closed connection must say why"
    try:
        client.query("SELECT 1")
    except pgpipe.InterfaceError as refused:
        assert "closed" in str(refused), repr(refused)
    else:
        raise AssertionError(f"a query went through after {error!r}")


def scripted_session(adapter: Adapter, port: int) -> str:
    """Run the session; the stage it ended at (a step's OperationalError, or "done")."""
    stage = "connect"
    try:
        client = connect(adapter, port)
    except pgpipe.OperationalError:
        return stage
    try:
        stage = "query 1"
        one = client.query(SQL_ONE, 7)
        stage = "query 2"
        two = client.query(SQL_TWO)
    except pgpipe.OperationalError as exc:
        check_closed(client, exc)
        return stage
    check_results(one, two)
    # A cut after the last answer may already be known: the asyncio adapter reads
    # the server's end while idle. Then the connection is closed and says why.
    assert not client.closed or client.closed_reason
    client.close()  # the cut may have come already: close must not raise either
    assert client.closed
    return "done"


@dataclass
class Case:
    fault: Fault
    stage: str
    seconds: float
    problem: str | None = None


def run_case(
    adapter: Adapter,
    pg: TemporaryPostgres,
    fault: Fault,
    session: Callable[[Adapter, int], str] = scripted_session,
) -> Case:
    """One ``session`` (the stage it ended at) through a proxy with ``fault``; any
    problem is noted, not raised."""
    start = time.monotonic()
    stage, problem = "?", None
    with FaultProxy(pg.host, pg.port, fault) as proxy:
        with Watchdog(proxy, CASE_LIMIT) as watchdog:
            try:
                stage = session(adapter, proxy.port)
            except Exception as exc:
                problem = "".join(traceback.format_exception(exc))
        if watchdog.fired:
            problem = f"hang: still running after {CASE_LIMIT} s ({stage}); {problem}"
        elif fault.cut_at is not None:
            # The client may have closed before the proxy relayed its last bytes.
            traffic = proxy.first()
            if not (traffic.finished.wait(CASE_LIMIT) and traffic.cut):
                problem = problem or f"the proxy never cut: {traffic!r}"
    return Case(fault, stage, time.monotonic() - start, problem)


def in_workers(
    name: str, items: list[_I], work: Callable[[Adapter, _I], _T], workers: int
) -> list[_T]:
    """``work(adapter, item)`` for every item, in threads with an Adapter of their own each.

    ``workers`` threads take the items in order; the results come back in the
    items' order. The first exception raised in a thread is raised here.
    Bounded by LOOP_LIMIT.
    """
    lock = threading.Lock()
    queue = iter(enumerate(items))
    results: dict[int, _T] = {}
    failures: list[BaseException] = []

    def worker() -> None:
        own = Adapter(name)
        try:
            while True:
                with lock:
                    taken = next(queue, None)
                if taken is None:
                    return
                index, item = taken
                result = work(own, item)
                with lock:
                    results[index] = result
        except BaseException as exc:
            with lock:
                failures.append(exc)
        finally:
            own.close()

    threads = [
        threading.Thread(target=worker, name=f"fault-case-{n}", daemon=True)
        for n in range(min(workers, len(items)))
    ]
    deadline = time.monotonic() + LOOP_LIMIT
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
    assert not any(thread.is_alive() for thread in threads), "the cases did not finish in time"
    if failures:
        raise failures[0]
    return [results[index] for index in range(len(items))]


def judge(case: Case, recording: Recording, direction: Direction) -> str | None:
    """What is wrong with a finished cut case, if anything."""
    if case.problem is not None:
        return case.problem
    offset, reset = case.fault.cut_at, case.fault.reset
    assert offset is not None
    expected = recording.expected_stage(direction, offset)
    if case.stage != expected:
        # A reset may lose the last bytes before it: then the step that was
        # just answered can fail instead of the next one.
        lost_tail = reset and direction == TO_CLIENT and offset in recording.to_client[:3]
        earlier = STAGES.index(case.stage) == STAGES.index(expected) - 1
        if not (lost_tail and earlier):
            return f"ended at {case.stage!r}, expected {expected!r}"
    if case.seconds > CASE_LIMIT:
        return f"took {case.seconds:.2f} s"
    return None


def cut_every_offset(
    adapter: Adapter, pg: TemporaryPostgres, recording: Recording, direction: Direction
) -> Counter[str]:
    """Cut ``direction`` at 0..total; a reset at every other offset. Fails on any problem."""
    total = recording.total(direction)
    flip = adapter.name == "async"
    faults = [
        Fault(direction, cut_at=offset, reset=(offset % 2 == 1) != flip)
        for offset in range(total + 1)
    ]
    start = time.monotonic()
    cases = in_workers(adapter.name, faults, lambda own, fault: run_case(own, pg, fault), WORKERS)
    elapsed = time.monotonic() - start
    stages = Counter(case.stage for case in cases)
    problems = [
        f"[{adapter.name}] {case.fault}: {problem}"
        for case in cases
        if (problem := judge(case, recording, direction)) is not None
    ]
    print(
        f"\n[{adapter.name}] cut {len(cases)} {LABELS[direction]} offsets (0..{total}, "
        f"reset at every other) in {elapsed:.1f} s: {dict(stages)}"
    )
    assert not problems, f"{len(problems)} of {len(cases)} cases failed:\n" + "\n".join(
        problems[:20]
    )
    assert [case.fault.cut_at for case in cases] == list(range(total + 1))
    assert elapsed < LOOP_LIMIT
    return stages


@pytest.fixture
def recording(adapter: Adapter, pg_server: TemporaryPostgres) -> Recording:
    return record(adapter, pg_server)


# -- cuts ---------------------------------------------------------------------------


def test_recording_is_the_same_through_both_adapters(pg_server: TemporaryPostgres) -> None:
    recordings = []
    for name in ("sync", "async"):
        adapter = Adapter(name)
        try:
            recordings.append(record(adapter, pg_server))
        finally:
            adapter.close()
    assert recordings[0] == recordings[1]
    print(f"\nsession bytes: {recordings[0]}")


def test_cut_server_to_client_at_every_offset(
    adapter: Adapter, pg_server: TemporaryPostgres, recording: Recording
) -> None:
    stages = cut_every_offset(adapter, pg_server, recording, TO_CLIENT)
    # Every step had offsets failing it, and a cut after the last byte lost nothing.
    assert all(stages[stage] > 0 for stage in STAGES)


def test_cut_client_to_server_at_every_offset(
    adapter: Adapter, pg_server: TemporaryPostgres, recording: Recording
) -> None:
    stages = cut_every_offset(adapter, pg_server, recording, TO_SERVER)
    assert all(stages[stage] > 0 for stage in STAGES)
    # Only a cut inside or after Terminate's 5 bytes loses nothing.
    assert stages["done"] == 5


# -- one byte at a time -----------------------------------------------------------


@pytest.mark.parametrize("direction", [TO_CLIENT, TO_SERVER], ids=["to_client", "to_server"])
def test_trickle(
    adapter: Adapter, pg_server: TemporaryPostgres, recording: Recording, direction: Direction
) -> None:
    with FaultProxy(pg_server.host, pg_server.port, Fault(direction, trickle=True)) as proxy:
        start = time.monotonic()
        stage = scripted_session(adapter, proxy.port)
        elapsed = time.monotonic() - start
        traffic = proxy.first()
        assert traffic.finished.wait(5)
    assert stage == "done"
    assert (traffic.to_client, traffic.to_server) == (
        recording.total(TO_CLIENT),
        recording.total(TO_SERVER),
    )
    sends = traffic.sends_to_client if direction == TO_CLIENT else traffic.sends_to_server
    assert sends == recording.total(direction), "each byte must have been its own send"
    assert elapsed < 30


# -- stalls ----------------------------------------------------------------------------


def concurrently(adapter: Adapter, jobs: list[Callable[[Adapter], _T]]) -> list[_T]:
    """Run the jobs side by side, each in its own thread with an Adapter of its own."""
    return in_workers(adapter.name, jobs, lambda own, job: job(own), len(jobs))


@contextlib.contextmanager
def proxies(pg: TemporaryPostgres, faults: list[Fault]) -> Iterator[list[FaultProxy]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(FaultProxy(pg.host, pg.port, fault)) for fault in faults]


def expect_connect_failure(port: int) -> Callable[[Adapter], tuple[BaseException | None, float]]:
    def job(adapter: Adapter) -> tuple[BaseException | None, float]:
        start = time.monotonic()
        try:
            connect(adapter, port, connect_timeout=STALL_CONNECT_TIMEOUT)
        except Exception as exc:
            return exc, time.monotonic() - start
        return None, time.monotonic() - start

    return job


def test_stall_during_startup(
    adapter: Adapter, pg_server: TemporaryPostgres, recording: Recording
) -> None:
    """Held back anywhere in the startup, connect fails after connect_timeout, no later."""
    startup_in, startup_out = recording.to_client[0], recording.to_server[0]
    offsets_in = sorted({0, 1, 5, 8, 9, 20, startup_in // 2, startup_in - 6, startup_in - 1})
    faults = [Fault(TO_CLIENT, stall_at=n) for n in offsets_in]
    faults += [Fault(TO_SERVER, stall_at=n) for n in (0, 4, 8, startup_out - 1)]
    with proxies(pg_server, faults) as stalled:
        outcomes = concurrently(adapter, [expect_connect_failure(p.port) for p in stalled])
        assert all(proxy.first().stalled for proxy in stalled)
    for fault, (error, seconds) in zip(faults, outcomes, strict=True):
        assert isinstance(error, pgpipe.OperationalError), f"{fault}: {error!r}"
        assert "timeout" in str(error), f"{fault}: {error!r}"
        assert STALL_CONNECT_TIMEOUT * 0.9 <= seconds < STALL_CONNECT_TIMEOUT + SLACK, (
            f"{fault}: {seconds:.2f} s"
        )


@dataclass
class QueryStall:
    error: BaseException | None
    seconds: float
    closed: bool
    closed_reason: str | None
    refused: BaseException | None


def expect_query_timeout(port: int, per_call: bool) -> Callable[[Adapter], QueryStall]:
    """Connect (unstalled), then a query that the stall keeps from ending: it must time out."""

    def job(adapter: Adapter) -> QueryStall:
        params: dict[str, float] = {"cancel_timeout": CANCEL_TIMEOUT}
        if not per_call:
            params["command_timeout"] = QUERY_TIMEOUT
        client = connect(adapter, port, **params)
        start = time.monotonic()
        error: BaseException | None = None
        try:
            if per_call:
                client.query(SQL_ONE, 7, timeout=QUERY_TIMEOUT)
            else:
                client.query(SQL_ONE, 7)
        except Exception as exc:
            error = exc
        seconds = time.monotonic() - start
        refused: BaseException | None = None
        try:
            client.query("SELECT 1")
        except Exception as exc:
            refused = exc
        return QueryStall(error, seconds, client.closed, client.closed_reason, refused)

    return job


def check_query_stalls(
    faults: list[Fault], proxies: list[FaultProxy], outcomes: list[QueryStall]
) -> None:
    for fault, proxy, outcome in zip(faults, proxies, outcomes, strict=True):
        where = f"{fault}: {outcome}"
        assert isinstance(outcome.error, pgpipe.errors.QueryTimeout), where
        assert isinstance(outcome.error, pgpipe.OperationalError), where
        limit = QUERY_TIMEOUT + CANCEL_TIMEOUT + SLACK
        assert QUERY_TIMEOUT * 0.9 <= outcome.seconds < limit, where
        assert outcome.closed and outcome.closed_reason, where
        assert isinstance(outcome.refused, pgpipe.InterfaceError), where
        assert "closed" in str(outcome.refused), where
        # The CancelRequest went to the same address: a second, unfaulted connection
        # carrying one CancelRequest (16 bytes with a 4-byte key, up to 268).
        assert proxy.connections >= 2, f"{where}: {proxy.traffic}"
        cancel = proxy.traffic[1]
        assert cancel.fault is None and 16 <= cancel.to_server <= 268, f"{where}: {cancel}"


def test_stall_server_to_client_during_a_query(
    adapter: Adapter, pg_server: TemporaryPostgres, recording: Recording
) -> None:
    """The answer to the first query held back at a sample of offsets: QueryTimeout, closed."""
    begin, end = recording.to_client[0], recording.to_client[1]
    offsets = sorted({begin, begin + 1, begin + 5, (begin + end) // 2, end - 7, end - 1})
    faults = [Fault(TO_CLIENT, stall_at=n) for n in offsets]
    with proxies(pg_server, faults) as stalled:
        outcomes = concurrently(adapter, [expect_query_timeout(p.port, True) for p in stalled])
        check_query_stalls(faults, stalled, outcomes)


def test_stall_client_to_server_during_a_query(
    adapter: Adapter, pg_server: TemporaryPostgres, recording: Recording
) -> None:
    """The first query held back on its way out (command_timeout this time): QueryTimeout."""
    begin, end = recording.to_server[0], recording.to_server[1]
    offsets = sorted({begin, begin + 1, (begin + end) // 2, end - 1})
    faults = [Fault(TO_SERVER, stall_at=n) for n in offsets]
    with proxies(pg_server, faults) as stalled:
        outcomes = concurrently(adapter, [expect_query_timeout(p.port, False) for p in stalled])
        check_query_stalls(faults, stalled, outcomes)


# -- the proxy itself ----------------------------------------------------------------


class EchoServer:
    """Echoes every connection's bytes back until the peer closes; bounded everywhere."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.stopping = threading.Event()
        self.port: int = self.listener.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._echo, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                while data := conn.recv(65536):
                    conn.sendall(data)

    def close(self) -> None:
        self.stopping.set()
        self.accepter.join(5)
        self.listener.close()
        for thread in self.threads:
            thread.join(5)
        assert not self.accepter.is_alive()
        assert not any(thread.is_alive() for thread in self.threads)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def receive_all(sock: socket.socket) -> tuple[bytes, BaseException | None]:
    """Read until the end of file or an error (within the socket's timeout)."""
    received = bytearray()
    while True:
        try:
            data = sock.recv(65536)
        except OSError as exc:
            return bytes(received), exc
        if not data:
            return bytes(received), None
        received += data


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("direction", [TO_CLIENT, TO_SERVER], ids=["to_client", "to_server"])
def test_proxy_cuts_after_exactly_n_bytes(
    echo: EchoServer, direction: Direction, reset: bool
) -> None:
    payload = bytes(range(256)) * 4
    with FaultProxy("127.0.0.1", echo.port, Fault(direction, cut_at=300, reset=reset)) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            sock.sendall(payload)
            received, error = receive_all(sock)
        traffic = proxy.first()
        assert traffic.finished.wait(5) and traffic.cut
    assert payload.startswith(received) and len(received) <= 300
    if reset:
        assert error is None or isinstance(error, ConnectionResetError)
    else:
        # Server->client: exactly 300 bytes, then the end; client->server: the
        # cut came before the echo of anything.
        assert error is None
        assert received == (payload[:300] if direction == TO_CLIENT else b"")
    assert (traffic.to_client if direction == TO_CLIENT else traffic.to_server) == 300


def test_proxy_stall_holds_until_close_and_later_connections_are_clean(
    echo: EchoServer,
) -> None:
    with FaultProxy("127.0.0.1", echo.port, Fault(TO_CLIENT, stall_at=10)) as proxy:
        name = f"FaultProxy-{proxy.port}"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as stalled:
            stalled.sendall(b"0123456789abcdef")
            got = b""
            while len(got) < 10:
                got += stalled.recv(100)
            assert got == b"0123456789"
            stalled.settimeout(0.3)
            with pytest.raises(TimeoutError):
                stalled.recv(100)  # held back, and not closed
            # A later connection (a CancelRequest's, say) is relayed untouched.
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as second:
                second.sendall(b"second")
                assert second.recv(100) == b"second"
            assert proxy.traffic[0].stalled and proxy.traffic[1].fault is None
            # arm() gives the next connection a plan of its own.
            proxy.arm(Fault(TO_CLIENT, cut_at=2))
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as third:
                third.sendall(b"third")
                assert receive_all(third) == (b"th", None)
            assert proxy.traffic[2].cut and proxy.connections == 3
            start = time.monotonic()
            proxy.close()
            stalled.settimeout(5)
            assert receive_all(stalled)[0] == b""  # closing the proxy ends the stall
            assert time.monotonic() - start < 2
    assert proxy.closed
    assert not any(thread.name == name for thread in threading.enumerate())
