"""Timeouts and cancellation: the connection ends in sync, or closed and saying why.

Against the real server for what PostgreSQL does; against a scripted fake
server for what it cannot be made to do on demand (keys of other lengths, a
server that never answers, a cancel that is never acknowledged).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.protocol.frontend import CANCEL_REQUEST_CODE
from pgpipe.testing import TemporaryPostgres
from tests import wire
from tests.clients import Adapter, Client
from tests.tlsstub import Pki

SLOW = "SELECT pg_sleep(30)"


@pytest.fixture
def client(adapter: Adapter, dsn: str) -> Client:
    return adapter.connect(dsn, cancel_timeout=5)


def assert_in_sync(client: Client) -> None:
    """The next statement gets its own results: nothing left over from the last one."""
    token = time.monotonic_ns()
    assert client.query("SELECT $1::int8, 'after'", token).rows == [(token, "after")]
    assert client.transaction_status == "I"


# -- timeouts against the real server ------------------------------------------------


def test_call_timeout_cancels_and_stays_in_sync(client: Client) -> None:
    started = time.monotonic()
    with pytest.raises(errors.QueryTimeout) as info:
        client.query(SLOW, timeout=0.2)
    assert time.monotonic() - started < 5
    error = info.value
    assert isinstance(error, errors.QueryCanceled)
    assert isinstance(error, pgpipe.OperationalError)
    assert error.closed is False
    assert error.code == "57014"
    assert "timed out after 0.2 s and was cancelled" in str(error)
    assert not client.closed
    assert_in_sync(client)


@pytest.mark.parametrize("call", ["query_with_param_types", "execute"])
def test_every_call_takes_a_timeout(client: Client, call: str) -> None:
    with pytest.raises(errors.QueryTimeout):
        if call == "execute":
            client.execute("SELECT 1; " + SLOW, timeout=0.2)
        else:
            client.query_with_param_types(
                "SELECT pg_sleep($1)", [(30, pgpipe.Type.FLOAT8)], timeout=0.2
            )
    assert_in_sync(client)


def test_command_timeout_is_the_default(adapter: Adapter, dsn: str) -> None:
    client = adapter.connect(dsn, command_timeout=0.2)
    with pytest.raises(errors.QueryTimeout):
        client.query(SLOW)
    # A call's own timeout wins over the connection's.
    assert client.query("SELECT pg_sleep(0.4), 1", timeout=10).rows == [(None, 1)]
    assert_in_sync(client)


def test_timeout_inside_a_transaction_fails_it(client: Client) -> None:
    with pytest.raises(errors.QueryTimeout), client.transaction():
        client.query(SLOW, timeout=0.2)
    assert_in_sync(client)


def test_timeout_during_a_large_result(client: Client) -> None:
    with pytest.raises(errors.QueryTimeout):
        client.query("SELECT g, repeat('x', 100) FROM generate_series(1, 5000000) g", timeout=0.3)
    assert_in_sync(client)


def test_timeout_that_loses_the_race_says_so(client: Client) -> None:
    # Already expired before the first byte leaves: the statement runs and ends
    # before the cancel arrives (or is cancelled); either way the answer says which.
    with pytest.raises(errors.QueryTimeout) as info:
        client.query("SELECT 1", timeout=1e-9)
    assert "completed before the cancel" in str(info.value) or "was cancelled" in str(info.value)
    assert_in_sync(client)


def test_bad_timeouts_are_refused(adapter: Adapter, dsn: str) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="cancel_timeout"):
        adapter.connect(dsn, cancel_timeout=-1)
    client = adapter.connect(dsn)
    with pytest.raises(pgpipe.InterfaceError, match="timeout"):
        client.query("SELECT 1", timeout="soon")
    assert_in_sync(client)


def test_statement_timeout_on_the_server_keeps_the_connection(client: Client) -> None:
    client.execute("SET statement_timeout = 100")
    try:
        with pytest.raises(errors.QueryCanceled, match="statement timeout"):
            client.query(SLOW)
        assert not client.closed
    finally:
        client.execute("RESET statement_timeout")
    assert_in_sync(client)


# -- cancel() from elsewhere ---------------------------------------------------------


def test_cancel_from_another_thread(pg_server: TemporaryPostgres) -> None:
    conn = pgpipe.connect(pg_server.dsn(dbname="pgpipe"))
    timer = threading.Timer(0.2, conn.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(errors.QueryCanceled, match="user request"):
        conn.query(SLOW)
    assert time.monotonic() - started < 10
    timer.join()
    assert conn.query("SELECT 1").rows == [(1,)]
    conn.cancel()  # nothing running: the server ignores it
    assert conn.query("SELECT 2").rows == [(2,)]
    conn.close()
    conn.cancel()  # closed: nothing to do


def test_cancel_from_another_task(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        conn = await pgpipe.connect_async(pg_server.dsn(dbname="pgpipe"))
        running = asyncio.create_task(conn.query(SLOW))
        await asyncio.sleep(0.2)
        await conn.cancel()
        with pytest.raises(errors.QueryCanceled):
            await running
        assert (await conn.query("SELECT 1")).rows == [(1,)]
        await conn.close()

    asyncio.run(main())


def test_cancelled_task_leaves_the_connection_in_sync(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        conn = await pgpipe.connect_async(pg_server.dsn(dbname="pgpipe"))
        task = asyncio.create_task(conn.query(SLOW))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not conn.closed
        assert (await conn.query("SELECT 1")).rows == [(1,)]
        # asyncio.timeout around a call works the same way.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await conn.query(SLOW)
        assert (await conn.query("SELECT 2")).rows == [(2,)]
        assert conn.transaction_status == "I"
        await conn.close()

    asyncio.run(main())


def test_cancelling_again_while_recovering_closes(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        conn = await pgpipe.connect_async(pg_server.dsn(dbname="pgpipe"))
        task = asyncio.create_task(conn.query(SLOW))
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.sleep(0)  # the task starts sending the CancelRequest...
        task.cancel()  # ...and is cancelled again: the connection is given up
        with pytest.raises(asyncio.CancelledError):
            await task
        assert conn.closed
        assert "cancelled" in (conn.closed_reason or "")
        assert "CancelledError" in (conn.closed_reason or "")
        with pytest.raises(pgpipe.InterfaceError, match="closed"):
            await conn.query("SELECT 1")

    asyncio.run(main())


def test_keyboard_interrupt_cancels_the_statement(pg_server: TemporaryPostgres) -> None:
    # A shell that starts the run in the background makes it ignore SIGINT: use
    # Ctrl-C's own handler, whatever the run inherited.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        conn = pgpipe.connect(pg_server.dsn(dbname="pgpipe"))
        main = threading.get_ident()
        timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            conn.query(SLOW)
        timer.join()
        assert time.monotonic() - started < 10
        assert not conn.closed
        assert conn.query("SELECT 1").rows == [(1,)]
        conn.close()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_cancel_over_tls(adapter: Adapter, tls_server: TemporaryPostgres, pki: Pki) -> None:
    client = adapter.connect(
        host="127.0.0.1",
        port=tls_server.port,
        user="postgres",
        dbname="postgres",
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
    )
    assert client.tls_version is not None
    with pytest.raises(errors.QueryTimeout) as info:
        client.query(SLOW, timeout=0.2)
    assert info.value.closed is False
    assert_in_sync(client)


def test_cancel_over_a_unix_socket(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    client = adapter.connect(
        host=pg_server.socket_dir, port=pg_server.port, user="postgres", dbname="pgpipe"
    )
    with pytest.raises(errors.QueryTimeout):
        client.query(SLOW, timeout=0.2)
    assert_in_sync(client)


# -- the server ends the session -----------------------------------------------------


def terminate(pg_server: TemporaryPostgres, pid: int | None) -> None:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as admin:
        assert admin.query("SELECT pg_terminate_backend($1::int)", pid).rows == [(True,)]


def test_admin_shutdown_while_idle(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    client = adapter.connect(pg_server.dsn(dbname="pgpipe"))
    terminate(pg_server, client.backend_pid)
    time.sleep(0.1)
    with pytest.raises(pgpipe.OperationalError) as info:
        client.query("SELECT 1")
    assert isinstance(info.value, errors.AdminShutdown | errors.OperationalError)
    assert client.closed
    assert "administrator command" in str(info.value) or "closed" in str(info.value)
    with pytest.raises(pgpipe.InterfaceError, match="closed"):
        client.query("SELECT 1")


def test_admin_shutdown_mid_statement(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    client = adapter.connect(pg_server.dsn(dbname="pgpipe"))
    pid = client.backend_pid
    timer = threading.Timer(0.2, terminate, (pg_server, pid))
    timer.start()
    with pytest.raises(errors.AdminShutdown, match="administrator command"):
        client.query(SLOW)
    timer.join()
    assert client.closed
    assert "administrator command" in (client.closed_reason or "")


@pytest.mark.parametrize(
    ("setting", "first", "error"),
    [
        ("idle_session_timeout", None, errors.IdleSessionTimeout),
        ("idle_in_transaction_session_timeout", "BEGIN", errors.IdleInTransactionSessionTimeout),
    ],
)
def test_idle_timeouts_close_with_the_servers_reason(
    adapter: Adapter,
    pg_server: TemporaryPostgres,
    setting: str,
    first: str | None,
    error: type[Exception],
) -> None:
    client = adapter.connect(pg_server.dsn(dbname="pgpipe"), server_settings={setting: "150"})
    if first:
        client.execute(first)
    time.sleep(0.6)
    with pytest.raises(error) as info:
        client.query("SELECT 1")
    assert isinstance(info.value, pgpipe.OperationalError)
    assert "timeout" in str(info.value)
    assert client.closed
    assert "timeout" in (client.closed_reason or "")


# -- a scripted server: keys of every length, silence --------------------------------


class ScriptedServer:
    """Answers the startup with a cancel key of any length, then stays silent.

    Records each CancelRequest; ``acknowledge`` says whether it closes the cancel
    connection (as PostgreSQL does) or leaves it open (a frozen server or pooler).
    """

    def __init__(self, key: bytes, acknowledge: bool = True, answer_cancel: bool = True) -> None:
        self.key = key
        self.acknowledge = acknowledge
        self.answer_cancel = answer_cancel
        self.cancels: list[bytes] = []
        self.cancelled = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            main, _ = self.listener.accept()
            self.sockets.append(main)
            main.settimeout(10)
            main.recv(65536)
            main.sendall(wire.startup_ok(pid=4242, key=self.key))
            main.recv(65536)  # the query: never answered unless cancelled
            cancel, _ = self.listener.accept()
            self.sockets.append(cancel)
            cancel.settimeout(10)
            data = b""
            while len(data) < 8 or len(data) < struct.unpack("!i", data[:4])[0]:
                chunk = cancel.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.cancels.append(data)
            self.cancelled.set()
            if self.acknowledge:
                cancel.close()
            if self.answer_cancel:
                main.sendall(
                    wire.error("57014", "canceling statement due to user request") + wire.ready()
                )
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()
        self.thread.join(10)


@pytest.fixture
def scripted() -> Iterator[list[ScriptedServer]]:
    servers: list[ScriptedServer] = []
    yield servers
    for server in servers:
        server.close()


@pytest.mark.parametrize("size", [4, 32, 256])
def test_cancel_request_carries_the_key_the_server_gave(
    adapter: Adapter, scripted: list[ScriptedServer], size: int
) -> None:
    key = bytes(range(256))[:size]
    server = ScriptedServer(key)
    scripted.append(server)
    client = adapter.connect(host="127.0.0.1", port=server.port, user="u", sslmode="disable")
    with pytest.raises(errors.QueryTimeout) as info:
        client.query("SELECT 1", timeout=0.2)
    assert info.value.closed is False
    (request,) = server.cancels
    assert request == struct.pack("!iii", 12 + size, CANCEL_REQUEST_CODE, 4242) + key


def test_unacknowledged_cancel_closes_within_cancel_timeout(
    adapter: Adapter, scripted: list[ScriptedServer]
) -> None:
    server = ScriptedServer(b"abcd", acknowledge=False, answer_cancel=False)
    scripted.append(server)
    client = adapter.connect(
        host="127.0.0.1", port=server.port, user="u", sslmode="disable", cancel_timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(errors.QueryTimeout) as info:
        client.query("SELECT 1", timeout=0.2)
    assert time.monotonic() - started < 3
    assert info.value.closed is True
    assert "cancel_timeout (0.3 s)" in str(info.value)
    assert client.closed
    assert "cancel_timeout" in (client.closed_reason or "")
    with pytest.raises(pgpipe.InterfaceError, match="closed"):
        client.query("SELECT 1")


def test_server_that_never_ends_the_statement(
    adapter: Adapter, scripted: list[ScriptedServer]
) -> None:
    # The cancel is acknowledged but the statement never ends: a frozen backend.
    server = ScriptedServer(b"abcd", acknowledge=True, answer_cancel=False)
    scripted.append(server)
    client = adapter.connect(
        host="127.0.0.1", port=server.port, user="u", sslmode="disable", cancel_timeout=0.3
    )
    started = time.monotonic()
    with pytest.raises(errors.QueryTimeout):
        client.query("SELECT 1", timeout=0.2)
    assert time.monotonic() - started < 3
    assert server.cancelled.is_set()
    assert client.closed
