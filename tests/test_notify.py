"""LISTEN/NOTIFY and notices on both adapters, against a real PostgreSQL.

Notifications reach ``notifies()`` (``notifications()`` too) and the handlers,
none lost when they interleave with query results; a dead connection ends the
iteration with an error; the asyncio adapter reads them while idle; channel
names are quoted; a transaction-mode pooler is refused clearly. Notices reach
their handlers and the ``pgpipe.notices`` logger.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.testing import TemporaryPgBouncer, TemporaryPostgres

BOUND = 20.0


@pytest.fixture
def dsn(pg_server: TemporaryPostgres) -> str:
    return pg_server.dsn(dbname="pgpipe")


@pytest.fixture
def sender(dsn: str) -> Iterator[pgpipe.Connection[Any]]:
    with pgpipe.connect(dsn) as conn:
        yield conn


def notify(conn: pgpipe.Connection[Any], channel: str, payload: str) -> None:
    conn.query("SELECT pg_notify($1, $2)", channel, payload)


# -- blocking ---------------------------------------------------------------------------


def test_listen_and_receive(dsn: str, sender: pgpipe.Connection[Any]) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.listen("jobs")
        notify(sender, "jobs", "one")
        got = list(conn.notifies(timeout=1.0, stop_after=1))
        assert [(n.channel, n.payload) for n in got] == [("jobs", "one")]
        assert got[0].process_id == sender.backend_pid
        assert isinstance(got[0], pgpipe.Notification)


def test_notifies_waits_and_times_out(dsn: str) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.listen("nothing")
        started = time.monotonic()
        assert list(conn.notifies(timeout=0.3)) == []
        assert 0.25 <= time.monotonic() - started < 3.0
        later = threading.Timer(0.2, lambda: _notify_from_new(dsn, "nothing", "late"))
        later.start()
        got = list(conn.notifies(timeout=BOUND, stop_after=1))
        later.join()
        assert [n.payload for n in got] == ["late"]
        assert conn.query("SELECT 1").rows == [(1,)]  # still in sync


def _notify_from_new(dsn: str, channel: str, payload: str) -> None:
    with pgpipe.connect(dsn) as conn:
        notify(conn, channel, payload)


def test_unlisten(dsn: str, sender: pgpipe.Connection[Any]) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.listen("a")
        conn.listen("b")
        conn.unlisten("a")
        notify(sender, "a", "not heard")
        notify(sender, "b", "heard")
        assert [n.payload for n in conn.notifies(timeout=0.5)] == ["heard"]
        conn.unlisten()
        notify(sender, "b", "not heard either")
        assert list(conn.notifies(timeout=0.3)) == []


@pytest.mark.parametrize("name", ["MixedCase", 'we"ird; DROP TABLE x; --', "sp ace", "ünï"])
def test_channel_names_are_quoted(dsn: str, sender: pgpipe.Connection[Any], name: str) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.listen(name)
        notify(sender, name, "exact")
        notify(sender, name.lower() + "-other", "other")
        assert [(n.channel, n.payload) for n in conn.notifies(timeout=0.5)] == [(name, "exact")]


def test_bad_channel_names_are_refused(dsn: str) -> None:
    with pgpipe.connect(dsn) as conn:
        for bad in ["", "a\x00b"]:
            with pytest.raises(errors.ProgrammingError, match="non-empty str"):
                conn.listen(bad)
        assert conn.query("SELECT 1").rows == [(1,)]


def test_interleaved_with_queries_none_lost(dsn: str, sender: pgpipe.Connection[Any]) -> None:
    total = 100_000
    with pgpipe.connect(dsn) as conn:
        conn.listen("bulk")
        got: list[str] = []
        # Notifications arrive in the middle of this connection's own results.
        sender.execute(f"SELECT pg_notify('bulk', g::text) FROM generate_series(1, {total // 2}) g")
        assert conn.query("SELECT count(*) FROM generate_series(1, 1000)").scalar() == 1000
        got.extend(n.payload for n in conn.notifies(timeout=BOUND, stop_after=1000))
        sender.execute(
            f"SELECT pg_notify('bulk', g::text) FROM generate_series({total // 2 + 1}, {total}) g"
        )
        for i in range(3):
            assert conn.query("SELECT $1::int", i).scalar() == i
        got.extend(n.payload for n in conn.notifies(timeout=BOUND, stop_after=total - len(got)))
        assert got == [str(i) for i in range(1, total + 1)]


def _notification_size(channel: str, payload: str) -> int:
    """NotificationResponse's bytes on the wire: type, length, process id, two C strings."""
    return 1 + 4 + 4 + len(channel) + 1 + len(payload) + 1


def test_bytes_read_while_idle_are_counted_once(dsn: str, sender: pgpipe.Connection[Any]) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.listen("counted")
        before = conn.stats.bytes_received
        notify(sender, "counted", "once")
        assert [n.payload for n in conn.notifies(timeout=BOUND, stop_after=1)] == ["once"]
        assert conn.stats.bytes_received - before == _notification_size("counted", "once")
    # A pool's idle check reads what arrived meanwhile: counted once too.
    with pgpipe.Pool(dsn, min_size=1, max_size=1) as pool:
        with pool.connection() as conn:
            conn.listen("pooled")
            before = conn.stats.bytes_received
        notify(sender, "pooled", "idle")
        deadline = time.monotonic() + BOUND
        seen: list[str] = []
        while not seen and time.monotonic() < deadline:
            with pool.connection() as again:
                assert again is conn
                seen = [n.payload for n in again.notifies(timeout=0)]
            time.sleep(0.01)
        assert seen == ["idle"]
        assert conn.stats.bytes_received - before == _notification_size("pooled", "idle")

    async def main() -> None:
        async with await pgpipe.connect_async(dsn) as conn:
            await conn.listen("counted")
            before = conn.stats.bytes_received
            await asyncio.to_thread(notify, sender, "counted", "async")
            got = [n.payload async for n in conn.notifies(timeout=BOUND, stop_after=1)]
            assert got == ["async"]
            assert conn.stats.bytes_received - before == _notification_size("counted", "async")

    asyncio.run(main())


def test_a_dead_connection_ends_notifies_with_an_error(dsn: str) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.listen("doomed")
        pid = conn.backend_pid
        killer = threading.Timer(0.3, lambda: _terminate(dsn, pid))
        killer.start()
        started = time.monotonic()
        with pytest.raises(errors.OperationalError, match="ended while waiting"):
            list(conn.notifies(timeout=BOUND))
        killer.join()
        assert time.monotonic() - started < BOUND / 2
        assert conn.closed


def _terminate(dsn: str, pid: int | None) -> None:
    with pgpipe.connect(dsn) as admin:
        admin.query("SELECT pg_terminate_backend($1)", pid)


def test_handlers_during_queries(dsn: str, sender: pgpipe.Connection[Any]) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.listen("h")
        seen: list[str] = []
        conn.add_notification_handler(lambda n: seen.append(n.payload))
        notify(sender, "h", "x")
        time.sleep(0.1)
        conn.query("SELECT 1")  # read with its answer
        assert seen == ["x"]
        # A failing handler is logged, and breaks nothing.
        conn.add_notification_handler(lambda n: 1 / 0)
        notify(sender, "h", "y")
        time.sleep(0.1)
        assert conn.query("SELECT 2").rows == [(2,)]
        assert seen == ["x", "y"]
        assert [n.payload for n in conn.notifies(timeout=0.2)] == ["x", "y"]


def test_listen_through_a_transaction_pooler_is_refused(pgbouncer: TemporaryPgBouncer) -> None:
    with pgpipe.connect(pgbouncer.dsn(dbname="pgpipe")) as conn:
        with pytest.raises(errors.NotSupportedError, match="connection pooler"):
            conn.listen("pooled")
        assert conn.query("SELECT 1").rows == [(1,)]


def test_listen_through_a_session_pooler_works(pgpool: Any, sender: pgpipe.Connection[Any]) -> None:
    with pgpipe.connect(pgpool.dsn(dbname="pgpipe")) as conn:
        conn.listen("pooled")
        notify(sender, "pooled", "through pgpool-II")
        assert [n.payload for n in conn.notifies(timeout=BOUND, stop_after=1)] == [
            "through pgpool-II"
        ]


# -- asyncio -----------------------------------------------------------------------------


def test_async_iterator_and_callbacks_while_idle(dsn: str, sender: pgpipe.Connection[Any]) -> None:
    async def main() -> None:
        async with await pgpipe.connect_async(dsn) as conn:
            await conn.listen("events")
            heard: list[str] = []
            arrived = asyncio.Event()

            def handler(n: pgpipe.Notification) -> None:
                heard.append(n.payload)
                arrived.set()

            conn.add_notification_handler(handler)
            await asyncio.to_thread(notify, sender, "events", "idle")
            # Nothing is awaited on the connection: the handler runs anyway.
            await asyncio.wait_for(arrived.wait(), BOUND)
            assert heard == ["idle"]
            await asyncio.to_thread(notify, sender, "events", "second")
            payloads = [n.payload async for n in conn.notifications(timeout=BOUND, stop_after=2)]
            assert payloads == ["idle", "second"]
            conn.remove_notification_handler(handler)

    asyncio.run(main())


def test_async_many_notifications_in_order(dsn: str, sender: pgpipe.Connection[Any]) -> None:
    total = 100_000

    async def main() -> None:
        async with await pgpipe.connect_async(dsn) as conn:
            await conn.listen("bulk")
            await asyncio.to_thread(
                sender.execute,
                f"SELECT pg_notify('bulk', g::text) FROM generate_series(1, {total}) g",
            )
            got: list[str] = []
            async for n in conn.notifies(timeout=BOUND):
                got.append(n.payload)
                if len(got) % 20_000 == 0:  # queries between notifications
                    assert (await conn.query("SELECT 1")).rows == [(1,)]
                if len(got) == total:
                    break
            assert got == [str(i) for i in range(1, total + 1)]

    asyncio.run(main())


def test_async_dead_connection_ends_the_iterator(dsn: str) -> None:
    async def main() -> None:
        async with await pgpipe.connect_async(dsn) as conn:
            await conn.listen("doomed")
            pid = conn.backend_pid
            killer = threading.Timer(0.3, _terminate, (dsn, pid))
            killer.start()
            with pytest.raises(errors.OperationalError, match="ended while waiting"):
                async for _ in conn.notifies(timeout=BOUND):
                    pass
            killer.join()
            assert conn.closed

    asyncio.run(main())


def test_async_cancelled_wait_leaves_the_connection_usable(dsn: str) -> None:
    async def main() -> None:
        async with await pgpipe.connect_async(dsn) as conn:
            await conn.listen("quiet")

            async def wait() -> None:
                async for _ in conn.notifies():
                    pass

            task = asyncio.create_task(wait())
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await conn.query("SELECT 1")).rows == [(1,)]

    asyncio.run(main())


# -- notices -----------------------------------------------------------------------------

RAISE = "DO $$ BEGIN RAISE NOTICE 'careful: %', 42; RAISE WARNING 'worse'; END $$"


def test_notices_to_handlers_and_logging(
    dsn: str, caplog: pytest.LogCaptureFixture, adapter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # logging.config.fileConfig (Alembic's env.py, in another test) disables the
    # loggers that exist: this one must be on here.
    monkeypatch.setattr(logging.getLogger("pgpipe.notices"), "disabled", False)
    conn = adapter.connect(dsn)
    seen: list[tuple[str, str]] = []

    def handler(fields: Any) -> None:
        seen.append((fields["S"], fields["M"]))

    conn.add_notice_handler(handler)
    with caplog.at_level(logging.INFO, logger="pgpipe.notices"):
        conn.execute(RAISE)
    assert seen == [("NOTICE", "careful: 42"), ("WARNING", "worse")]
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "pgpipe.notices"]
    assert records == [(logging.INFO, "NOTICE: careful: 42"), (logging.WARNING, "WARNING: worse")]
    assert [n["M"] for n in conn.notices][-2:] == ["careful: 42", "worse"]
    conn.remove_notice_handler(handler)
    conn.execute(RAISE)
    assert len(seen) == 2
