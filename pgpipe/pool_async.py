"""A pool of asyncio connections that never hands out a dead one.

``pgpipe.pool`` (``pgpipe.Pool``, on threads) is generated from this module
by tools/async_to_sync.py; what differs, the waits, lives in
``pgpipe._tasks_aio`` and ``pgpipe._tasks_sync``.

>>> async with pgpipe.AsyncPool("postgresql://app@db/app", max_size=10) as pool:  # doctest: +SKIP
...     async with pool.connection() as conn:
...         await conn.query("SELECT 1")
"""

from __future__ import annotations

import logging
import random
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

from pgpipe import aio, errors
from pgpipe._io_aio import INTERRUPTS
from pgpipe._tasks_aio import Hook, Waiter, Wakeup, Worker, current_loop
from pgpipe._transaction import TransactionStatus
from pgpipe.result import Result
from pgpipe.rows import RowFactory

__all__ = ["AsyncPool"]

log = logging.getLogger("pgpipe.pool")

ConnectionHook: TypeAlias = Hook[aio.AsyncConnection[Any]]
"""A ``configure``, ``reset`` or ``check`` callback (a coroutine function for AsyncPool)."""

_CLOSE_TIMEOUT = 5.0  # saying goodbye to a connection the pool drops
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 10.0
_TICK = 1.0  # the worker's longest sleep: idle and lifetime limits are checked this often


@dataclass(eq=False)
class _Entry:
    """A connection the pool owns, and when it must go."""

    conn: aio.AsyncConnection[Any]
    expires: float  # monotonic time, max_lifetime with jitter
    idle_since: float = 0.0


@dataclass(eq=False, slots=True)
class _Lent:
    """A lent connection, held weakly (only the borrower holds it, so one never
    given back is collected and noticed); its channel, to close its socket then."""

    ref: weakref.ref[aio.AsyncConnection[Any]]
    expires: float
    taken_at: float
    channel: Any


@dataclass
class _Counters:
    requests_num: int = 0
    requests_queued: int = 0
    requests_wait_ms: float = 0.0
    requests_errors: int = 0
    usage_ms: float = 0.0
    returns_bad: int = 0
    connections_num: int = 0
    connections_ms: float = 0.0
    connections_errors: int = 0
    connections_lost: int = 0


class AsyncPool:
    """Connections kept open and lent out, one task at a time.

    ``async with pool.connection() as conn`` lends one (``timeout`` seconds at
    most, else ``PoolTimeout``) and takes it back at the end of the block:
    rolled back if it was left inside a transaction, dropped if it is closed,
    broken or inside a failed transaction, closed when older than
    ``max_lifetime``. Requests wait first come, first served; with
    ``max_waiting`` set, more are refused with ``TooManyRequests``.

    A background worker keeps ``min_size`` connections open, closes those idle
    longer than ``max_idle`` above ``min_size`` and replaces expired and dead
    ones, backing off while the server refuses. An idle connection is checked
    without a round trip before it is lent (the server's goodbye, a reset
    socket); ``check`` adds a callback that may use one (``AsyncPool.check_connection``).

    ``max_idle=0`` with ``min_size=0`` is the *null* pool for serverless code:
    nothing is kept, each checkout connects (with pipelined connect when the
    connection parameters ask for it) and ``max_size`` still bounds how many
    are open at once.

    Connection parameters are ``connect_async``'s: ``dsn`` and keyword arguments.
    The pool sends no session reset of its own (no DISCARD ALL), so it works
    behind a transaction-mode pooler; ``reset`` is a callback for your own.
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        min_size: int = 4,
        max_size: int | None = None,
        max_lifetime: float = 3600.0,
        max_idle: float = 600.0,
        timeout: float = 30.0,
        max_waiting: int = 0,
        connect_timeout: float = 10.0,
        configure: ConnectionHook | None = None,
        reset: ConnectionHook | None = None,
        check: ConnectionHook | None = None,
        row_factory: RowFactory[Any] | None = None,
        name: str | None = None,
        **params: Any,
    ) -> None:
        self.name = name or f"pool-{id(self):x}"
        self._dsn = dsn
        self._params = params
        self._row_factory = row_factory
        self._check_sizes(min_size, max_size if max_size is not None else max(min_size, 1))
        self.min_size = min_size
        self.max_size = max_size if max_size is not None else max(min_size, 1)
        if max_lifetime <= 0 or max_idle < 0 or timeout < 0 or max_waiting < 0:
            raise errors.ProgrammingError(
                "max_lifetime must be positive; max_idle, timeout and max_waiting not negative"
            )
        self.max_lifetime = max_lifetime
        self.max_idle = max_idle
        self.timeout = timeout
        self.max_waiting = max_waiting
        self.connect_timeout = connect_timeout
        self.configure = configure
        self.reset = reset
        self.check = check
        self._lock = threading.Lock()
        self._idle: deque[_Entry] = deque()  # most recently returned last
        self._waiting: deque[Waiter] = deque()
        self._lent: dict[int, _Lent] = {}  # by id of the connection
        self._orphans: list[Any] = []  # channels of connections never given back
        self._size = 0  # open or being opened
        self._opened = False
        self._closed = False
        self._loop: object = None
        self._wakeup: Wakeup | None = None
        self._worker: Worker | None = None
        self._backoff = 0.0
        self._last_error: BaseException | None = None
        self._stats = _Counters()

    @staticmethod
    def _check_sizes(min_size: int, max_size: int) -> None:
        if min_size < 0 or max_size < 1 or max_size < min_size:
            raise errors.ProgrammingError(
                f"pool sizes must satisfy 0 <= min_size <= max_size and max_size >= 1, "
                f"not min_size={min_size}, max_size={max_size}"
            )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._opened else "not opened"
        return (
            f"<{type(self).__name__} {self.name!r} {state} size={self._size} "
            f"idle={len(self._idle)} waiting={len(self._waiting)}>"
        )

    @property
    def closed(self) -> bool:
        return self._closed

    # -- opening and closing ------------------------------------------------

    async def open(self, wait: bool = False, timeout: float | None = None) -> None:
        """Start the worker, which opens ``min_size`` connections in the background;
        with ``wait``, return once they are open (see ``wait``). Idempotent; the
        first checkout opens the pool too."""
        self._open()
        if wait:
            await self.wait(timeout)

    def _open(self) -> None:
        if self._closed:
            raise errors.PoolClosed(f"the pool {self.name!r} is closed")
        if self._opened:
            if current_loop() is not self._loop:
                raise errors.InterfaceError(
                    f"the pool {self.name!r} belongs to another event loop: an asyncio pool "
                    "is used only from the loop that opened it"
                )
            return
        self._opened = True
        self._loop = current_loop()
        self._wakeup = Wakeup()
        self._worker = Worker(self._maintain, f"pgpipe {self.name} worker")

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until ``min_size`` connections are open; ``PoolTimeout`` after
        ``timeout`` seconds (the pool's ``timeout`` by default)."""
        self._open()
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            with self._lock:
                ready = len(self._idle) + len(self._lent) >= self.min_size
            if ready:
                return
            if self._closed:
                raise errors.PoolClosed(f"the pool {self.name!r} was closed")
            if time.monotonic() >= deadline:
                raise errors.PoolTimeout(self._timeout_message(limit, "to open min_size"))
            await self._sleep(0.01)

    async def _sleep(self, seconds: float) -> None:
        # A Wakeup of its own: a short, cancellable wait on either adapter.
        await Wakeup().wait(seconds)

    async def close(self, timeout: float = 5.0) -> None:
        """Refuse new requests (the waiting ones get ``PoolClosed``), close the idle
        connections, wait up to ``timeout`` seconds for lent ones to come back,
        then close those too."""
        if self._closed:
            return
        with self._lock:
            self._closed = True
            waiting, self._waiting = list(self._waiting), deque()
            idle, self._idle = list(self._idle), deque()
            self._size -= len(idle)
        if self._opened and current_loop() is not self._loop:
            # From another event loop (the pool's own has ended, say): nothing of
            # the pool's can be awaited here, so its connections are dropped.
            for entry in idle:
                entry.conn._abort(f"the pool {self.name!r} was closed")
            with self._lock:
                lent = [item.ref() for item in self._lent.values()]
                self._lent.clear()
            for conn in lent:
                if conn is not None:
                    conn._abort(f"the pool {self.name!r} was closed")
            return
        for waiter in waiting:
            waiter.deliver(errors.PoolClosed(f"the pool {self.name!r} was closed"))
        for entry in idle:
            await self._close_quietly(entry.conn)
        if self._wakeup is not None:
            self._wakeup.set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._lent:
                    break
            await self._sleep(0.01)
        with self._lock:
            lent = [item.ref() for item in self._lent.values()]
            self._lent.clear()
        for conn in lent:
            if conn is not None and not conn.closed:
                log.warning("pool %s: closed a connection still lent at close", self.name)
                conn._abort(f"the pool {self.name!r} was closed")
        if self._worker is not None:
            await self._worker.join(_CLOSE_TIMEOUT)
        self._close_orphans()

    async def __aenter__(self) -> AsyncPool:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- lending ------------------------------------------------------------

    @asynccontextmanager
    async def connection(
        self, timeout: float | None = None
    ) -> AsyncIterator[aio.AsyncConnection[Any]]:
        """A connection for the block, given back at its end (see the class)."""
        conn = await self.getconn(timeout)
        try:
            yield conn
        finally:
            await self.putconn(conn)

    async def getconn(self, timeout: float | None = None) -> aio.AsyncConnection[Any]:
        """A connection, to be given back with ``putconn``; ``PoolTimeout`` after
        ``timeout`` seconds (the pool's ``timeout`` by default)."""
        self._open()
        limit = self.timeout if timeout is None else timeout
        start = time.monotonic()
        deadline = start + limit
        with self._lock:
            self._stats.requests_num += 1
        while True:
            entry, waiter, grow = self._take()
            if entry is not None:
                if await self._usable(entry):
                    return self._lend(entry, start)
                continue
            if grow:
                entry = await self._connect_reserved(deadline)
                return self._lend(entry, start)
            assert waiter is not None
            return self._lend(await self._wait(waiter, deadline, limit), start)

    def _take(self) -> tuple[_Entry | None, Waiter | None, bool]:
        """Under the lock: an idle connection, or room to open one, or a place in
        the queue."""
        with self._lock:
            if self._closed:
                raise errors.PoolClosed(f"the pool {self.name!r} is closed")
            if self._idle and not self._waiting:
                return self._idle.pop(), None, False
            if self._size < self.max_size and not self._waiting:
                self._size += 1
                return None, None, True
            if self.max_waiting and len(self._waiting) >= self.max_waiting:
                self._stats.requests_errors += 1
                raise errors.TooManyRequests(
                    f"the pool {self.name!r} already has {len(self._waiting)} requests waiting "
                    f"(max_waiting={self.max_waiting})"
                )
            waiter = Waiter()
            self._waiting.append(waiter)
            self._stats.requests_queued += 1
        if self._wakeup is not None:
            self._wakeup.set()  # the worker opens connections for waiters when there is room
        return None, waiter, False

    async def _wait(self, waiter: Waiter, deadline: float, limit: float) -> _Entry:
        try:
            await waiter.wait(max(deadline - time.monotonic(), 0.0))
        except BaseException:
            # Cancelled or interrupted: a connection delivered meanwhile goes on.
            value = self._abandon(waiter)
            if isinstance(value, _Entry) and not self._hand_on(value):
                value.conn._abort(f"the pool {self.name!r} was closed")
            raise
        value = self._abandon(waiter)
        if value is None:
            with self._lock:
                self._stats.requests_errors += 1
            raise errors.PoolTimeout(self._timeout_message(limit, "for a connection"))
        if isinstance(value, BaseException):
            raise value
        entry: _Entry = value
        return entry

    def _abandon(self, waiter: Waiter) -> Any:
        """Leave the queue; what was delivered meanwhile, if anything (a connection
        delivered to a request that is going away is handed on)."""
        with self._lock:
            if not waiter.delivered():
                self._waiting.remove(waiter)
                return None
        return waiter.value()

    async def _usable(self, entry: _Entry) -> bool:
        """Whether an idle connection may be lent; a dead or expired one is dropped."""
        conn = entry.conn
        now = time.monotonic()
        with self._lock:
            above_min = self._size > self.min_size
        # Past max_idle too: the worker may not have run (a frozen serverless
        # function), and a network may have forgotten so old a connection.
        if entry.expires <= now or (0 < self.max_idle < now - entry.idle_since and above_min):
            await self._drop(entry, lost=False)
            return False
        if not await conn._probe():
            log.info("pool %s: dropped a dead idle connection (%s)", self.name, conn.closed_reason)
            await self._drop(entry, lost=True)
            return False
        if self.check is not None:
            try:
                await self.check(conn)
            except Exception as exc:
                log.info("pool %s: check failed, connection dropped (%s)", self.name, exc)
                await self._drop(entry, lost=True)
                return False
        return True

    def _lend(self, entry: _Entry, start: float) -> aio.AsyncConnection[Any]:
        now = time.monotonic()
        conn = entry.conn
        pool_ref = weakref.ref(self)
        key = id(conn)

        def forgotten(_: object) -> None:
            pool = pool_ref()
            if pool is not None:
                pool._forgotten(key)

        waited = (now - start) * 1000.0
        with self._lock:
            self._lent[key] = _Lent(
                weakref.ref(conn, forgotten), entry.expires, now, conn._channel
            )
            self._stats.requests_wait_ms += waited
        return conn

    def _forgotten(self, key: int) -> None:
        """A lent connection was garbage-collected without being given back."""
        with self._lock:
            item = self._lent.pop(key, None)
            if item is None:
                return
            self._size -= 1
            self._stats.returns_bad += 1
            # Its socket is closed by the worker, in the pool's own thread or loop:
            # an asyncio transport is kept open by its event loop.
            self._orphans.append(item.channel)
        warnings.warn(
            f"a connection of the pool {self.name!r} was garbage-collected without being "
            "given back: use 'with pool.connection()' or putconn()",
            ResourceWarning,
            stacklevel=2,
        )
        if self._wakeup is not None:
            self._wakeup.set()

    async def putconn(self, conn: aio.AsyncConnection[Any]) -> None:
        """Give back a connection from ``getconn``: kept, rolled back and kept, or
        dropped (see the class)."""
        with self._lock:
            item = self._lent.pop(id(conn), None)
            closed = self._closed
        if item is None and closed:
            # Given back after close() gave up waiting for it: closed already.
            await self._close_quietly(conn)
            return
        with self._lock:
            if item is None or item.ref() is not conn:
                raise errors.ProgrammingError(
                    f"this connection is not lent by the pool {self.name!r} "
                    "(given back twice, or from elsewhere)"
                )
            self._stats.usage_ms += (time.monotonic() - item.taken_at) * 1000.0
        entry = _Entry(conn, item.expires)
        if not await self._restore(entry):
            with self._lock:
                self._stats.returns_bad += 1
            await self._drop(entry, lost=False)
            return
        if entry.expires <= time.monotonic():
            await self._drop(entry, lost=False)
            return
        if self.max_idle == 0:
            # The null pool keeps nothing; a request waiting still takes it over.
            with self._lock:
                waiting = bool(self._waiting)
            if not waiting:
                await self._drop(entry, lost=False)
                return
        await self._give(entry)

    async def _restore(self, entry: _Entry) -> bool:
        """Whether a returned connection is fit to keep, after rolling back a
        transaction left open and the ``reset`` callback."""
        conn = entry.conn
        if conn.closed:
            return False
        status = conn.transaction_status
        if status == TransactionStatus.IN_TRANSACTION:
            try:
                await conn.execute("ROLLBACK", timeout=self.connect_timeout)
            except Exception as exc:
                log.info("pool %s: rollback on return failed (%s)", self.name, exc)
                return False
        elif status != TransactionStatus.IDLE:
            # Inside a failed transaction, or a command still running: not kept.
            return False
        if self.reset is not None:
            try:
                await self.reset(conn)
            except Exception as exc:
                log.info("pool %s: reset failed, connection dropped (%s)", self.name, exc)
                return False
            if conn.closed or conn.transaction_status != TransactionStatus.IDLE:
                return False
        return True

    async def _give(self, entry: _Entry) -> None:
        """To the first request waiting, else to the idle connections."""
        if not self._hand_on(entry):
            await self._close_quietly(entry.conn)

    def _hand_on(self, entry: _Entry, idle_since: float | None = None) -> bool:
        """To the first request waiting, else to the idle connections (idle since
        now, or ``idle_since``); False when the pool is closed: the caller closes
        the connection, whose place is already given up."""
        with self._lock:
            if self._closed:
                self._size -= 1
                return False
            if self._waiting:
                self._waiting.popleft().deliver(entry)
                return True
            entry.idle_since = time.monotonic() if idle_since is None else idle_since
            self._idle.append(entry)
            return True

    async def _drop(self, entry: _Entry, *, lost: bool) -> None:
        with self._lock:
            self._size -= 1
            if lost:
                self._stats.connections_lost += 1
        await self._close_quietly(entry.conn)
        if self._wakeup is not None:
            self._wakeup.set()

    async def _close_quietly(self, conn: aio.AsyncConnection[Any]) -> None:
        if conn.closed:
            return
        try:
            await conn.close()
        except Exception:
            conn._abort("dropped by the pool")

    # -- opening connections -------------------------------------------------

    async def _connect(self, deadline: float | None) -> _Entry:
        """A new connection, configured; the caller has reserved its place."""
        limit = self.connect_timeout
        if deadline is not None:
            limit = max(min(limit, deadline - time.monotonic()), 0.001)
        start = time.monotonic()
        try:
            conn = await aio.connect_async(
                self._dsn,
                row_factory=self._row_factory,
                connect_timeout=limit,
                **self._params,
            )
        except BaseException as exc:
            with self._lock:
                self._stats.connections_errors += 1
                self._last_error = exc
            raise
        try:
            if self.configure is not None:
                await self.configure(conn)
                if conn.transaction_status != TransactionStatus.IDLE and not conn.closed:
                    raise errors.ProgrammingError(
                        "the configure callback left the connection inside a transaction"
                    )
        except BaseException as exc:
            with self._lock:
                self._stats.connections_errors += 1
                self._last_error = exc
            await self._close_quietly(conn)
            raise
        now = time.monotonic()
        with self._lock:
            self._stats.connections_num += 1
            self._stats.connections_ms += (now - start) * 1000.0
            self._last_error = None
        jitter = random.uniform(0.95, 1.0)
        return _Entry(conn, expires=now + self.max_lifetime * jitter)

    async def _connect_reserved(self, deadline: float | None) -> _Entry:
        """Open a connection in a place already reserved (``_size`` counts it);
        on failure the place is given up and the worker woken for the queue."""
        try:
            return await self._connect(deadline)
        except BaseException:
            with self._lock:
                self._size -= 1
            if self._wakeup is not None:
                self._wakeup.set()
            raise

    async def _maintain(self) -> None:
        """The worker: keep min_size, serve the queue when there is room, retire
        idle and expired connections; back off while connecting fails."""
        wakeup = self._wakeup
        assert wakeup is not None
        while not self._closed:
            self._close_orphans()
            try:
                await self._retire()
                opened = await self._grow()
            except INTERRUPTS:
                raise
            except BaseException as exc:  # never let the worker die quietly
                log.error("pool %s: worker error: %r", self.name, exc)
                opened = False
            if self._closed:
                break
            if self._backoff:
                # Backing off: only close() cuts the wait short.
                resume = time.monotonic() + self._backoff
                while not self._closed and time.monotonic() < resume:
                    await wakeup.wait(resume - time.monotonic())
            elif not opened:
                await wakeup.wait(_TICK)

    def _close_orphans(self) -> None:
        with self._lock:
            orphans, self._orphans = self._orphans, []
        for channel in orphans:
            channel.abort()

    def _wanted(self) -> int:
        """How many connections to open now: up to min_size, and one per request
        waiting while there is room."""
        with self._lock:
            if self._closed:
                return 0
            room = self.max_size - self._size
            want = max(self.min_size - self._size, len(self._waiting))
            return max(min(want, room), 0)

    async def _grow(self) -> bool:
        """Open one connection if one is wanted; whether one was opened."""
        if self._wanted() <= 0:
            return False
        with self._lock:
            if self._closed or self._size >= self.max_size:
                return False
            self._size += 1
        try:
            entry = await self._connect_reserved(None)
        except INTERRUPTS:
            raise
        except BaseException as exc:
            self._backoff = min(max(self._backoff * 2, _BACKOFF_FIRST), _BACKOFF_MAX)
            self._backoff *= random.uniform(0.8, 1.0)
            log.warning(
                "pool %s: connecting failed, next attempt in %.1fs: %s",
                self.name,
                self._backoff,
                exc,
            )
            return False
        self._backoff = 0.0
        await self._give(entry)
        return True

    async def _retire(self) -> None:
        """Close idle connections past max_idle (above min_size) or max_lifetime, and
        those the server ended while idle (a restart, pg_terminate_backend), so
        min_size is restored before anyone asks. The idle connections are taken
        out while they are looked at, so no one borrows one meanwhile."""
        now = time.monotonic()
        with self._lock:
            idle, self._idle = list(self._idle), deque()
            count = self._size
        keep: list[_Entry] = []
        for entry in idle:
            if entry.expires <= now or (
                0 < self.max_idle < now - entry.idle_since and count > self.min_size
            ):
                count -= 1
                await self._drop(entry, lost=False)
            elif not await entry.conn._probe():
                count -= 1
                reason = entry.conn.closed_reason
                log.info("pool %s: dropped a dead idle connection (%s)", self.name, reason)
                await self._drop(entry, lost=True)
            else:
                keep.append(entry)
        for entry in keep:
            if not self._hand_on(entry, entry.idle_since):
                await self._close_quietly(entry.conn)

    # -- maintenance on request ---------------------------------------------------

    async def check_all(self) -> None:
        """Check every idle connection now (``check``, or a probe without one),
        dropping those that fail."""
        with self._lock:
            idle, self._idle = list(self._idle), deque()
        for entry in idle:
            if await self._usable(entry):
                await self._give(entry)
        if self._wakeup is not None:
            self._wakeup.set()

    def resize(self, min_size: int, max_size: int | None = None) -> None:
        """New sizes; the worker opens or retires connections to meet them."""
        max_size = max_size if max_size is not None else max(min_size, self.max_size)
        self._check_sizes(min_size, max_size)
        with self._lock:
            self.min_size, self.max_size = min_size, max_size
        if self._wakeup is not None:
            self._wakeup.set()

    @staticmethod
    async def check_connection(conn: aio.AsyncConnection[Any]) -> None:
        """A ``check`` callback: an empty statement, one round trip."""
        await conn.execute("", timeout=5.0)

    def get_stats(self) -> dict[str, float]:
        """The pool now and its counters since it was made (psycopg_pool's names):
        pool_min, pool_max, pool_size, pool_available, requests_waiting,
        requests_num, requests_queued, requests_wait_ms, requests_errors,
        usage_ms, returns_bad, connections_num, connections_ms,
        connections_errors, connections_lost."""
        with self._lock:
            s = self._stats
            return {
                "pool_min": self.min_size,
                "pool_max": self.max_size,
                "pool_size": self._size,
                "pool_available": len(self._idle),
                "requests_waiting": len(self._waiting),
                "requests_num": s.requests_num,
                "requests_queued": s.requests_queued,
                "requests_wait_ms": round(s.requests_wait_ms, 3),
                "requests_errors": s.requests_errors,
                "usage_ms": round(s.usage_ms, 3),
                "returns_bad": s.returns_bad,
                "connections_num": s.connections_num,
                "connections_ms": round(s.connections_ms, 3),
                "connections_errors": s.connections_errors,
                "connections_lost": s.connections_lost,
            }

    def _timeout_message(self, limit: float, what: str) -> str:
        message = f"the pool {self.name!r} waited {limit}s {what}"
        with self._lock:
            message += f" (size {self._size}/{self.max_size}, {len(self._waiting)} waiting)"
            error = self._last_error
        if error is not None:
            message += f"; the last attempt to connect failed: {error}"
        return message

    # -- one statement --------------------------------------------------------

    async def query(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> Result[Any]:
        """``query`` on a connection lent for this one statement."""
        async with self.connection() as conn:
            return await conn.query(
                sql, *params, param_types=param_types, timeout=timeout, row_factory=row_factory
            )

    async def execute(self, sql: str, *, timeout: float | None = None) -> list[Result[Any]]:
        """``execute`` (a script, simple protocol) on a connection lent for it."""
        async with self.connection() as conn:
            return await conn.execute(sql, timeout=timeout)
