"""``pgpipe.dbapi_async`` as the blocking DB-API SQLAlchemy's engine calls, inside
the greenlet ``create_async_engine`` runs it in: every awaitable method is
awaited through ``await_only``, which hands the coroutine to the event loop.

A plain cursor's rows are in memory once ``execute`` returns (pgpipe reads a
result whole), so they are taken then and fetched with no further switch; a
named (server-side) cursor FETCHes from the server as it is read.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.util.concurrency import await_only, in_greenlet

import pgpipe.dbapi_async as dbapi_async
from pgpipe import _dbapi, errors


class AsyncDBAPI:
    """The module SQLAlchemy's asyncio dialect sees: ``pgpipe.dbapi_async``'s
    globals and exceptions, and a ``connect`` that blocks the greenlet."""

    apilevel = _dbapi.apilevel
    threadsafety = _dbapi.threadsafety
    paramstyle = _dbapi.paramstyle
    Warning = _dbapi.Warning
    Error = errors.Error
    InterfaceError = errors.InterfaceError
    DatabaseError = errors.DatabaseError
    DataError = errors.DataError
    OperationalError = errors.OperationalError
    IntegrityError = errors.IntegrityError
    InternalError = errors.InternalError
    ProgrammingError = errors.ProgrammingError
    NotSupportedError = errors.NotSupportedError
    STRING = _dbapi.STRING
    BINARY = _dbapi.BINARY
    NUMBER = _dbapi.NUMBER
    DATETIME = _dbapi.DATETIME
    ROWID = _dbapi.ROWID
    Binary = _dbapi.Binary

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdaptedConnection:
        # create_async_engine(async_creator=...) arrives as async_creator_fn.
        creator: Callable[..., Awaitable[dbapi_async.AsyncConnection]] = kwargs.pop(
            "async_creator_fn", dbapi_async.connect
        )
        return AsyncAdaptedConnection(await_only(creator(*args, **kwargs)))


class AsyncAdaptedConnection(AdaptedConnection):
    """A ``pgpipe.dbapi_async.AsyncConnection`` with blocking methods."""

    __slots__ = ()

    _connection: dbapi_async.AsyncConnection  # type: ignore[assignment]

    def __init__(self, connection: dbapi_async.AsyncConnection) -> None:
        self._connection = connection

    @property
    def native(self) -> Any:
        """The pgpipe asyncio connection underneath (awaitable methods)."""
        return self._connection.native

    @property
    def closed(self) -> bool:
        return self._connection.closed

    @property
    def autocommit(self) -> bool:
        return self._connection.autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._connection.autocommit = value

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection.isolation_level = value

    @property
    def read_only(self) -> bool:
        return self._connection.read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self._connection.read_only = value

    @property
    def deferrable(self) -> bool:
        return self._connection.deferrable

    @deferrable.setter
    def deferrable(self, value: bool) -> None:
        self._connection.deferrable = value

    def cursor(self, name: str | None = None) -> AsyncAdaptedCursor:
        if name is not None:
            return AsyncAdaptedServerCursor(self._connection.cursor(name))
        return AsyncAdaptedCursor(self._connection.cursor())

    def commit(self) -> None:
        await_only(self._connection.commit())

    def rollback(self) -> None:
        await_only(self._connection.rollback())

    def close(self) -> None:
        await_only(self._connection.close())

    def terminate(self) -> None:
        """Close for the pool's invalidation and garbage collection: gracefully
        inside the greenlet, else (no event loop to await on) by dropping the
        socket, which the server sees as a lost client."""
        if in_greenlet():
            try:
                await_only(self._connection.close())
                return
            except (OSError, errors.Error):
                pass
        # pgpipe has no public synchronous abort for an asyncio connection.
        self._connection.native._abort("terminated by SQLAlchemy's pool")

    def ping(self) -> None:
        # On the native connection: a DB-API cursor would begin a transaction.
        await_only(self._connection.native.execute("SELECT 1"))

    def __repr__(self) -> str:
        return f"<pgpipe.sqlalchemy AsyncAdaptedConnection {self._connection!r}>"


class AsyncAdaptedCursor:
    """A plain cursor: the statement's rows are taken when ``execute`` returns."""

    server_side = False

    def __init__(self, cursor: dbapi_async.AsyncCursor) -> None:
        self._cursor = cursor
        self._rows: collections.deque[Any] = collections.deque()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    @property
    def lastrowid(self) -> None:
        return None

    def execute(self, operation: str, parameters: Any = None) -> None:
        await_only(self._cursor.execute(operation, parameters))
        self._take_rows()

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        await_only(self._cursor.executemany(operation, seq_of_parameters))
        self._rows.clear()

    def nextset(self) -> bool | None:
        moved = await_only(self._cursor.nextset())
        self._take_rows()
        return moved

    def _take_rows(self) -> None:
        if self._cursor.description is None:
            self._rows.clear()
        else:
            self._rows = collections.deque(self._cursor._remaining())

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self._cursor.arraysize if size is None else size
        rows = self._rows
        return [rows.popleft() for _ in range(min(max(count, 0), len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def setinputsizes(self, *sizes: object) -> None:
        """Accepted and ignored, as pgpipe.dbapi does."""

    def setoutputsize(self, size: object, column: object = None) -> None:
        """Accepted and ignored, as pgpipe.dbapi does."""

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio results (2.0.44 and later) before
        handing a buffered result to synchronous code: the rows are already
        here, so there is nothing to do."""

    def close(self) -> None:
        # Nothing on the server to close, and the rows are ours: no await, so it
        # also works outside the greenlet (SQLAlchemy closes some cursors there).
        self._rows.clear()

    def __enter__(self) -> AsyncAdaptedCursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncAdaptedServerCursor(AsyncAdaptedCursor):
    """A named cursor: each fetch FETCHes from the server (awaited)."""

    server_side = True

    def execute(self, operation: str, parameters: Any = None) -> None:
        await_only(self._cursor.execute(operation, parameters))

    def nextset(self) -> bool | None:
        return await_only(self._cursor.nextset())

    def fetchone(self) -> Any:
        return await_only(self._cursor.fetchone())

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return await_only(self._cursor.fetchmany(size))

    def fetchall(self) -> list[Any]:
        return await_only(self._cursor.fetchall())

    def __iter__(self) -> Iterator[Any]:
        while True:
            rows = self.fetchmany(getattr(self._cursor, "itersize", 2000))
            if not rows:
                return
            yield from rows

    def close(self) -> None:
        if not self._cursor.closed:
            await_only(self._cursor.close())
