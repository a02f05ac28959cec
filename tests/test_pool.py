"""pgpipe.Pool and pgpipe.AsyncPool against a real PostgreSQL: lending and giving
back, the queue, the callbacks, and faults (backends terminated idle and busy,
the server restarted, the network cut, cancellation, a burst of waiters).

Every scenario runs on both pools (``kind``), directly and through PgBouncer
in transaction mode (the ``dsn`` fixture), except where marked. The invariant
checked after each fault: no dead connection is handed out, none leaks, the
pool is back at ``min_size`` in bounded time and every request is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.testing import TemporaryPgBouncer, TemporaryPostgres
from tests.faultproxy import FaultProxy
from tests.poolviews import AsyncPoolView, LoopThread, hook

BOUND = 20.0  # seconds: every recovery below must happen within this


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_pool(kind: str) -> Iterator[Callable[..., Any]]:
    """Pools of ``kind``, closed at the end of the test."""
    made: list[Any] = []
    lt = LoopThread() if kind == "async" else None

    def make(*args: Any, **kwargs: Any) -> Any:
        pool: Any
        pool = pgpipe.Pool(*args, **kwargs) if lt is None else AsyncPoolView(lt, *args, **kwargs)
        made.append(pool)
        return pool

    try:
        yield make
    finally:
        for pool in made:
            pool.close(timeout=1.0)
        if lt is not None:
            lt.close()


def eventually(condition: Callable[[], bool], within: float = BOUND) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s")
        time.sleep(0.02)


def app_name() -> str:
    return f"pooltest-{uuid.uuid4().hex[:10]}"


def terminate(pg_server: TemporaryPostgres, application_name: str, state: str | None = None) -> int:
    """pg_terminate_backend on the server sessions of one pool; how many."""
    where = f"application_name = '{application_name}'"
    if state is not None:
        where += f" AND state = '{state}'"
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as admin:
        rows = admin.query(
            # With a timeout, pg_terminate_backend waits for the session to end: the
            # server's goodbye has been sent by then. (A connection killed at the
            # very moment it is lent cannot be told from a live one without a
            # round trip: that is what ``check`` is for.)
            f"SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE {where}"
        ).rows
    return len(rows)


def _sessions(pg_server: TemporaryPostgres, application_name: str) -> int:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as admin:
        return int(
            admin.query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                application_name,
            ).scalar()
        )


def run_queries(pool: Any, n: int) -> None:
    for i in range(n):
        assert pool.query("SELECT $1::int + 1", i).rows == [(i + 1,)]


# -- lending and giving back -------------------------------------------------------


def test_opens_min_size_and_lends(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=2, max_size=4)
    pool.open(wait=True, timeout=BOUND)
    stats = pool.get_stats()
    assert (stats["pool_size"], stats["pool_available"]) == (2, 2)
    with pool.connection() as conn:
        assert conn.query("SELECT 41 + 1").rows == [(42,)]
        assert pool.get_stats()["pool_available"] == 1
    assert pool.query("SELECT $1::text", "x").rows == [("x",)]
    assert pool.get_stats()["pool_available"] == 2
    assert pool.get_stats()["requests_num"] == 2


def test_grows_to_max_size_and_no_further(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=0, max_size=3, timeout=0.3)
    held = [pool.getconn() for _ in range(3)]
    assert len({conn.backend_pid for conn in held}) == 3
    with pytest.raises(pgpipe.PoolTimeout, match=r"waited 0\.3s"):
        pool.getconn()
    for conn in held:
        pool.putconn(conn)
    assert pool.get_stats()["pool_size"] == 3
    assert pool.get_stats()["requests_errors"] == 1


def test_a_transaction_left_open_is_rolled_back(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=1, max_size=1)
    pool.execute("CREATE TABLE IF NOT EXISTS pool_rollback (n int)")
    table = f"pool_rb_{uuid.uuid4().hex[:8]}"
    pool.execute(f"CREATE TABLE {table} (n int)")
    with pool.connection() as conn:
        conn.execute("BEGIN")
        conn.query(f"INSERT INTO {table} VALUES ($1)", 1)
        assert conn.transaction_status == pgpipe.TransactionStatus.IN_TRANSACTION
    with pool.connection() as again:
        assert again.transaction_status == pgpipe.TransactionStatus.IDLE
        assert again.query(f"SELECT count(*) FROM {table}").rows == [(0,)]
    assert pool.get_stats()["returns_bad"] == 0
    pool.execute(f"DROP TABLE {table}")


def test_a_failed_transaction_or_closed_connection_is_dropped(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=1, max_size=1)
    pool.wait(BOUND)
    with pool.connection() as conn:
        conn.execute("BEGIN")
        with pytest.raises(errors.DivisionByZero):
            conn.query("SELECT 1 / 0")
        first = conn
    with pool.connection() as conn:
        assert conn is not first
        assert conn.transaction_status == pgpipe.TransactionStatus.IDLE
        conn.close()
    with pool.connection() as conn:
        assert conn.query("SELECT 1").rows == [(1,)]
    assert pool.get_stats()["returns_bad"] == 2
    eventually(lambda: pool.get_stats()["pool_size"] == 1)


def test_given_back_twice_or_from_elsewhere(make_pool: Any, dsn: str, kind: str) -> None:
    pool = make_pool(dsn, min_size=0, max_size=2)
    conn = pool.getconn()
    pool.putconn(conn)
    with pytest.raises(errors.ProgrammingError, match="not lent by the pool"):
        pool.putconn(conn)
    other = make_pool(dsn, min_size=0, max_size=1)
    foreign = other.getconn()
    with pytest.raises(errors.ProgrammingError, match="not lent by the pool"):
        pool.putconn(foreign)
    other.putconn(foreign)
    assert pool.get_stats()["pool_size"] == 1


def test_callbacks_configure_reset_check(make_pool: Any, dsn: str, kind: str) -> None:
    calls: list[str] = []

    def configure(conn: Any) -> None:
        calls.append("configure")
        conn.execute("SET application_name = 'configured'")

    def reset(conn: Any) -> None:
        calls.append("reset")

    def check(conn: Any) -> None:
        calls.append("check")
        conn.execute("")

    pool = make_pool(
        dsn,
        min_size=0,
        max_size=1,
        configure=hook(kind, configure),
        reset=hook(kind, reset),
        check=hook(kind, check),
    )
    assert pool.query("SHOW application_name").rows == [("configured",)]
    assert pool.query("SELECT 1").rows == [(1,)]
    assert calls == ["configure", "reset", "check", "reset"]


def test_a_failing_reset_or_check_drops_the_connection(make_pool: Any, dsn: str, kind: str) -> None:
    fail = {"reset": True}

    def reset(conn: Any) -> None:
        if fail["reset"]:
            fail["reset"] = False
            raise RuntimeError("reset refused")

    pool = make_pool(dsn, min_size=0, max_size=1, reset=hook(kind, reset))
    with pool.connection() as conn:
        pid = conn.backend_pid
    assert pool.get_stats()["returns_bad"] == 1
    with pool.connection() as conn:
        assert conn.backend_pid != pid


def test_configure_failing_is_the_requests_error(make_pool: Any, dsn: str, kind: str) -> None:
    def configure(conn: Any) -> None:
        conn.execute("SET no_such_setting_here = 1")

    pool = make_pool(dsn, min_size=0, max_size=1, configure=hook(kind, configure))
    with pytest.raises(errors.ProgrammingError):
        pool.getconn()
    stats = pool.get_stats()
    assert stats["pool_size"] == 0
    assert stats["connections_errors"] == 1


def test_max_lifetime_replaces_connections(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=1, max_size=1, max_lifetime=0.3)
    with pool.connection() as conn:
        first = conn.backend_pid
    time.sleep(0.4)
    with pool.connection() as conn:
        assert conn.backend_pid != first
    eventually(lambda: pool.get_stats()["connections_num"] >= 2)


def test_max_idle_shrinks_to_min_size(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=1, max_size=3, max_idle=0.2)
    held = [pool.getconn() for _ in range(3)]
    for conn in held:
        pool.putconn(conn)
    assert pool.get_stats()["pool_size"] == 3
    eventually(lambda: pool.get_stats()["pool_size"] == 1, within=5.0)


def test_max_idle_applies_at_checkout_when_the_worker_did_not_run(dsn: str) -> None:
    """A frozen serverless function's pool thread runs no maintenance: a connection
    idle past max_idle is not lent after the thaw (a NAT may have forgotten it)."""
    pool = pgpipe.Pool(dsn, min_size=0, max_size=1, max_idle=0.3)
    try:
        pool._retire = lambda: None  # type: ignore[method-assign]  # the worker, frozen
        with pool.connection() as conn:
            first = conn.backend_pid
        with pool.connection() as conn:
            assert conn.backend_pid == first  # young enough: kept
        time.sleep(0.4)
        with pool.connection() as conn:
            assert conn.backend_pid != first
    finally:
        pool.close(timeout=1.0)


def test_resize(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=1, max_size=2)
    pool.wait(BOUND)
    pool.resize(3, 4)
    eventually(lambda: pool.get_stats()["pool_size"] == 3)
    assert (pool.get_stats()["pool_min"], pool.get_stats()["pool_max"]) == (3, 4)
    with pytest.raises(errors.ProgrammingError):
        pool.resize(5, 4)


def test_bad_settings_are_refused(make_pool: Any, dsn: str) -> None:
    with pytest.raises(errors.ProgrammingError):
        make_pool(dsn, min_size=3, max_size=2)
    with pytest.raises(errors.ProgrammingError):
        make_pool(dsn, max_lifetime=0)


# -- the queue -----------------------------------------------------------------------


def test_waiters_are_served_first_come_first_served(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=1, max_size=1)
    held = pool.getconn()
    order: list[int] = []
    lock = threading.Lock()

    def wait_turn(i: int) -> None:
        with pool.connection(timeout=BOUND), lock:
            order.append(i)

    threads = []
    for i in range(5):
        thread = threading.Thread(target=wait_turn, args=(i,))
        thread.start()
        threads.append(thread)
        eventually(lambda i=i: pool.get_stats()["requests_waiting"] == i + 1)
    pool.putconn(held)
    for thread in threads:
        thread.join(BOUND)
    assert order == [0, 1, 2, 3, 4]


def test_max_waiting_refuses_at_once(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=0, max_size=1, max_waiting=1, timeout=BOUND)
    held = pool.getconn()
    waiter = threading.Thread(target=lambda: pool.putconn(pool.getconn()))
    waiter.start()
    eventually(lambda: pool.get_stats()["requests_waiting"] == 1)
    started = time.monotonic()
    with pytest.raises(pgpipe.TooManyRequests, match="max_waiting=1"):
        pool.getconn()
    assert time.monotonic() - started < 1.0
    pool.putconn(held)
    waiter.join(BOUND)
    assert not waiter.is_alive()


def test_a_burst_of_ten_times_max_size(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=2, max_size=4, timeout=BOUND)
    outcomes: list[str] = []

    def request(i: int) -> None:
        with pool.connection() as conn:
            assert conn.query("SELECT $1::int, pg_sleep(0.01)", i).rows[0][0] == i
        outcomes.append("ok")

    with ThreadPoolExecutor(max_workers=40) as executor:
        for future in [executor.submit(request, i) for i in range(40)]:
            future.result(BOUND)
    assert outcomes.count("ok") == 40
    stats = pool.get_stats()
    assert stats["pool_size"] <= 4
    assert stats["requests_waiting"] == 0
    assert stats["requests_num"] == 40
    assert stats["pool_available"] == stats["pool_size"]


def test_a_lost_connection_warns_and_frees_its_place(
    make_pool: Any, dsn: str, pg_server: TemporaryPostgres
) -> None:
    name = app_name()
    pool = make_pool(dsn, min_size=0, max_size=1, timeout=BOUND, application_name=name)
    conn = pool.getconn()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del conn
        for _ in range(3):
            gc.collect()
        # Its socket is closed too (an asyncio transport would be kept open by its
        # loop): the server session ends.
        eventually(lambda: _sessions(pg_server, name) == 0)
        gc.collect()
    assert any(
        issubclass(w.category, ResourceWarning) and "without being given back" in str(w.message)
        for w in caught
    )
    assert pool.get_stats()["pool_size"] == 0
    assert pool.query("SELECT 1").rows == [(1,)]


def test_close_drains_and_answers_waiters(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=0, max_size=1, timeout=BOUND)
    held = pool.getconn()
    failures: list[BaseException] = []

    def wait() -> None:
        try:
            pool.getconn()
        except BaseException as exc:
            failures.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    eventually(lambda: pool.get_stats()["requests_waiting"] == 1)
    giver = threading.Timer(0.3, lambda: pool.putconn(held))
    giver.start()
    started = time.monotonic()
    pool.close(timeout=5.0)
    assert time.monotonic() - started < 4.0  # the lent connection came back
    waiter.join(BOUND)
    giver.join(BOUND)
    assert len(failures) == 1 and isinstance(failures[0], pgpipe.PoolClosed)
    assert held.closed
    with pytest.raises(pgpipe.PoolClosed):
        pool.getconn()


def test_close_closes_what_is_not_given_back(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=0, max_size=1)
    held = pool.getconn()
    started = time.monotonic()
    pool.close(timeout=0.3)
    assert time.monotonic() - started < 3.0
    assert held.closed


# -- faults ----------------------------------------------------------------------------


def test_idle_connections_terminated(
    make_pool: Any, dsn: str, target: Any, pg_server: TemporaryPostgres
) -> None:
    name = app_name()
    pool = make_pool(dsn, min_size=3, max_size=3, application_name=name)
    pool.wait(BOUND)
    killed = terminate(pg_server, name, state="idle")
    run_queries(pool, 10)  # not one of them meets a dead connection
    eventually(lambda: pool.get_stats()["pool_size"] == 3)
    if not isinstance(target, TemporaryPgBouncer):
        assert killed == 3
        # Noticed by the worker or on checkout, without a failed query.
        eventually(lambda: pool.get_stats()["connections_lost"] == 3)


def test_busy_connection_terminated(make_pool: Any, dsn: str, pg_server: TemporaryPostgres) -> None:
    name = app_name()
    pool = make_pool(dsn, min_size=2, max_size=2, application_name=name)
    pool.wait(BOUND)
    with pool.connection() as conn:
        conn.execute("BEGIN")  # through PgBouncer: one server session for both statements
        pid = conn.query("SELECT pg_backend_pid()").scalar()
        killer = threading.Timer(0.3, lambda: _terminate_pid(pg_server, pid))
        killer.start()
        with pytest.raises(errors.OperationalError):
            conn.query("SELECT pg_sleep(10)", timeout=BOUND)
        killer.join()
    run_queries(pool, 10)
    eventually(lambda: pool.get_stats()["pool_size"] == 2)


def _terminate_pid(pg_server: TemporaryPostgres, pid: int) -> None:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as admin:
        admin.query("SELECT pg_terminate_backend($1)", pid)


def through(proxy: FaultProxy, target: Any) -> str:
    """``target``'s DSN, by way of ``proxy``."""
    return f"postgresql://postgres@127.0.0.1:{proxy.port}/pgpipe?sslmode=disable"


def test_network_cut(make_pool: Any, target: Any) -> None:
    with FaultProxy(target.host, target.port) as proxy:
        dsn = through(proxy, target)
        pool = make_pool(dsn, min_size=2, max_size=3, timeout=BOUND)
        pool.wait(BOUND)
        busy = pool.getconn()
        proxy.sever(refuse=True)
        with pytest.raises(errors.OperationalError):
            busy.query("SELECT 1")
        pool.putconn(busy)
        # While the network is down: a request gets a clear error, never a dead connection.
        with pytest.raises(errors.OperationalError):
            pool.query("SELECT 1", timeout=2.0)
        proxy.restore()
        eventually(lambda: _answers(pool))
        eventually(lambda: pool.get_stats()["pool_size"] == 2)
        run_queries(pool, 5)


def _answers(pool: Any) -> bool:
    try:
        return bool(pool.query("SELECT 1", timeout=2.0).rows == [(1,)])
    except errors.OperationalError:
        return False


@pytest.fixture(scope="module")
def restartable() -> Iterator[TemporaryPostgres]:
    """A server of the module's own, restarted by the tests."""
    with TemporaryPostgres() as server:
        yield server


@pytest.mark.parametrize("route", ["direct", "pgbouncer"])
def test_server_restart_while_busy(
    make_pool: Any, restartable: TemporaryPostgres, route: str
) -> None:
    with contextlib.ExitStack() as stack:
        if route == "pgbouncer":
            bouncer = stack.enter_context(
                TemporaryPgBouncer(restartable, pool_mode="transaction", pool_size=4)
            )
            dsn = bouncer.dsn(dbname="postgres")
        else:
            dsn = restartable.dsn(dbname="postgres")
        pool = make_pool(dsn, min_size=2, max_size=4, timeout=BOUND)
        pool.wait(BOUND)
        stop = threading.Event()
        errors_seen: list[BaseException] = []
        done: list[int] = []

        def load() -> None:
            while not stop.is_set():
                try:
                    assert pool.query("SELECT 1", timeout=5.0).rows == [(1,)]
                    done.append(1)
                except (errors.OperationalError, errors.InterfaceError) as exc:
                    errors_seen.append(exc)
                    time.sleep(0.05)

        workers = [threading.Thread(target=load) for _ in range(4)]
        for worker in workers:
            worker.start()
        eventually(lambda: len(done) > 20)
        restartable.restart(down_for=0.5)
        before = len(done)
        eventually(lambda: len(done) > before + 20)
        stop.set()
        for worker in workers:
            worker.join(BOUND)
            assert not worker.is_alive()
        # After the restart every request is served by a live connection.
        run_queries(pool, 10)
        eventually(lambda: pool.get_stats()["pool_size"] >= 2)
        assert pool.get_stats()["pool_size"] <= 4


def test_server_down_backs_off_and_recovers(make_pool: Any, target: Any) -> None:
    with FaultProxy(target.host, target.port) as proxy:
        dsn = through(proxy, target)
        proxy.sever(refuse=True)
        pool = make_pool(dsn, min_size=2, max_size=2, timeout=0.5)
        with pytest.raises(pgpipe.PoolTimeout, match="the last attempt to connect failed"):
            pool.wait(0.5)
        time.sleep(1.0)
        attempts = pool.get_stats()["connections_errors"]
        assert 2 <= attempts < 40  # backing off, not spinning
        proxy.restore()
        pool.wait(BOUND)
        run_queries(pool, 3)


# -- the null pool: serverless ------------------------------------------------------------


def test_null_pool_connects_per_checkout(make_pool: Any, dsn: str) -> None:
    pool = make_pool(dsn, min_size=0, max_size=2, max_idle=0, pipeline_connect="trust")
    with pool.connection() as conn:
        assert conn.query("SELECT 1").rows == [(1,)]
        # Pipelined connect: the startup and the first query in one round trip (trust).
        assert conn.stats.round_trips == 1
        first = conn
    assert first.closed
    stats = pool.get_stats()
    assert (stats["pool_size"], stats["pool_available"]) == (0, 0)
    with pool.connection() as conn:
        assert conn is not first
    assert pool.get_stats()["connections_num"] == 2


# -- asyncio only ---------------------------------------------------------------------------


def test_async_cancelled_waiter_leaves_no_trace(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        async with pgpipe.AsyncPool(pg_server.dsn(dbname="pgpipe"), min_size=0, max_size=1) as pool:
            held = await pool.getconn()
            task = asyncio.create_task(pool.getconn(timeout=BOUND))
            while pool.get_stats()["requests_waiting"] == 0:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert pool.get_stats()["requests_waiting"] == 0
            await pool.putconn(held)
            # Cancelled just as a connection was handed to it: handed on, not leaked.
            held = await pool.getconn()
            late = asyncio.create_task(pool.getconn(timeout=BOUND))
            while pool.get_stats()["requests_waiting"] == 0:
                await asyncio.sleep(0.01)
            await pool.putconn(held)
            late.cancel()
            with pytest.raises(asyncio.CancelledError):
                await late
            async with pool.connection(timeout=1.0) as conn:
                assert (await conn.query("SELECT 1")).rows == [(1,)]
            assert pool.get_stats()["pool_size"] == 1

    asyncio.run(main())


def test_async_timeout_while_waiting(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        async with pgpipe.AsyncPool(pg_server.dsn(dbname="pgpipe"), min_size=0, max_size=1) as pool:
            async with pool.connection():
                with pytest.raises(pgpipe.PoolTimeout):
                    await pool.getconn(timeout=0.1)
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(pool.getconn(timeout=BOUND), 0.1)
                assert pool.get_stats()["requests_waiting"] == 0
            assert (await pool.query("SELECT 2")).rows == [(2,)]

    asyncio.run(main())


def test_async_pool_refuses_another_event_loop(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        async with pgpipe.AsyncPool(pg_server.dsn(dbname="pgpipe"), min_size=1, max_size=1) as pool:
            assert (await pool.query("SELECT 1")).rows == [(1,)]
            failures: list[BaseException] = []

            def elsewhere() -> None:
                async def use() -> None:
                    await pool.query("SELECT 1")

                try:
                    asyncio.run(use())
                except BaseException as exc:
                    failures.append(exc)

            await asyncio.to_thread(elsewhere)
            assert len(failures) == 1
            assert isinstance(failures[0], errors.InterfaceError)
            assert "another event loop" in str(failures[0])
            # Still fine in its own loop.
            assert (await pool.query("SELECT 2")).rows == [(2,)]

    asyncio.run(main())


def test_async_pool_closed_after_its_loop_ended(pg_server: TemporaryPostgres) -> None:
    pool = pgpipe.AsyncPool(pg_server.dsn(dbname="pgpipe"), min_size=1, max_size=1)

    async def use(pool: pgpipe.AsyncPool) -> int:
        await pool.wait(BOUND)
        return int((await pool.query("SELECT pg_backend_pid()")).scalar())

    async def close(pool: pgpipe.AsyncPool) -> None:
        await pool.close()

    pid = asyncio.run(use(pool))  # the loop ends with the pool still open
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the dead loop's socket objects
        asyncio.run(close(pool))
        assert pool.closed
        del pool
        gc.collect()
    # The server saw the end of that session.
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as admin:
        eventually(
            lambda: admin.query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).rows
            == [(0,)]
        )


def test_ctrl_c_while_waiting_leaves_no_trace(pg_server: TemporaryPostgres) -> None:
    with pgpipe.Pool(pg_server.dsn(dbname="pgpipe"), min_size=0, max_size=1) as pool:
        held = pool.getconn()
        # A real SIGINT, as Ctrl-C sends: it interrupts the wait itself.
        interrupter = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        interrupter.start()
        with pytest.raises(KeyboardInterrupt):
            pool.getconn(timeout=BOUND)
        interrupter.join()
        assert pool.get_stats()["requests_waiting"] == 0
        pool.putconn(held)
        with pool.connection(timeout=1.0) as conn:
            assert conn.query("SELECT 1").rows == [(1,)]
        assert pool.get_stats()["pool_size"] == 1
