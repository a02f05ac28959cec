"""The asyncio adapter: a Session driven over an asyncio transport.

This module is also the source of the blocking adapter: ``pgpipe.sync`` is
generated from it by ``tools/async_to_sync.py`` (``async``/``await`` dropped,
``Async`` names mapped to their blocking twins, ``if True:  # ASYNC`` blocks
replaced by their ``else`` branch). What really differs between the two, the
I/O, lives in ``pgpipe._io_aio`` and ``pgpipe._io_sync``; what a timeout or
an interruption does, in ``pgpipe._run``; the protocol, in the Session.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from pgpipe import errors, servicefile
from pgpipe._adapter import SEND_AT_CONNECT, StatementHandle, scram_nonce
from pgpipe._cancel import CancelExchange, cancel_key
from pgpipe._catalog import TYPE_LOOKUP, TypeInfo
from pgpipe._copy import (
    BINARY_HEADER,
    BINARY_TRAILER,
    BinaryReader,
    copy_format,
    csv_fields,
    csv_row,
    fast_binary_row_writer,
    text_fields,
    text_row,
)
from pgpipe._dial import (
    ROLE_QUERY,
    Attempt,
    attempts,
    failure,
    opening,
    queried_role,
    reported_role,
    role_mismatch,
)
from pgpipe._io_aio import INTERRUPTS, AsyncChannel, AsyncConnectionBase
from pgpipe._operations import CopyCommand, Operation, Startup, Stream, UnnamedQuery
from pgpipe._pipeline import Pipeline
from pgpipe._run import CANCEL, RECEIVE, Run, lost
from pgpipe._session import Session, many_rows, paired
from pgpipe._sql import quote_identifier
from pgpipe._transaction import Block
from pgpipe.conninfo import ConnectParams, parse_dsn, seconds
from pgpipe.protocol import events as ev
from pgpipe.protocol.events import NotificationResponse as Notification
from pgpipe.result import Column, Result, Results, Row
from pgpipe.rows import RowFactory, tuple_row
from pgpipe.tls import Link
from pgpipe.tracing import QueryHook, event
from pgpipe.types import binary_encoder, to_text

_Op = TypeVar("_Op", bound=Operation)
_R = TypeVar("_R")


def _caught(run: Run[Any], exc: BaseException, sending: bool) -> None:
    """Tell ``run`` what the I/O raised: an interruption (``sending``: while a send
    was under way), or a failure."""
    if isinstance(exc, INTERRUPTS):
        run.interrupt(exc, sending, time.monotonic())
    else:
        run.fail(exc)


def _deadline(limit: float | None) -> float | None:
    return None if limit is None else time.monotonic() + limit


async def _negotiate_tls(
    channel: AsyncChannel, attempt: Attempt, deadline: float | None
) -> Link | None:
    """The WebSocket upgrade, or SSLRequest (unless direct) and the TLS handshake;
    what carries the session's bytes afterwards (the channel's own, None for
    plaintext, when there is nothing to negotiate or the server said "N")."""
    negotiation = opening(attempt, os.environ)
    if negotiation is None:
        return channel.tls
    try:
        while not negotiation.done:
            await channel.send_raw(negotiation.data_to_send())
            negotiation.receive_data(await channel.receive_raw(deadline))
    except errors.OperationalError:
        attempt.tls_failed = negotiation.handshaking
        raise
    attempt.tls_used = negotiation.channel is not None
    return negotiation.channel


def _one(
    sql: str,
    params: Sequence[object],
    param_types: Sequence[int] | None,
    row_factory: RowFactory[Any] | None,
) -> Callable[[Session], UnnamedQuery]:
    """How ``query`` queues one statement: types inferred, or stated by ``param_types``
    (checked here, before anything is queued)."""
    if param_types is None:
        return lambda s: s.query(sql, params, row_factory=row_factory)
    pairs = paired(params, param_types)
    return lambda s: s.query_with_param_types(sql, pairs, row_factory=row_factory)


def _count(values: object) -> int:
    """How many parameter values, for the query hook (0 for what is no sequence:
    the command itself refuses it)."""
    return len(values) if isinstance(values, Sequence) else 0


class AsyncConnection(AsyncConnectionBase, Generic[Row]):
    """A connection to PostgreSQL. Create one with ``await pgpipe.connect_async()``.

    One operation at a time. Every call that talks to the server takes
    ``timeout`` (seconds; default: the connection's ``command_timeout``).
    Rows are tuples unless ``row_factory`` says otherwise (see
    ``pgpipe.rows``): per connection (``connect(row_factory=...)``, or the
    attribute) or per call. ``query_hook`` is called after each command
    (see ``pgpipe.tracing``).

    >>> async with await pgpipe.connect_async("postgresql://app@db/app") as conn:  # doctest: +SKIP
    ...     (await conn.query("SELECT $1::int + 1", 41)).rows
    [(42,)]
    """

    __slots__ = (
        "__weakref__",
        "_channel",
        "_depth",
        "_pipeline",
        "_startup",
        "_stream",
        "query_hook",
    )

    def __init__(self, channel: AsyncChannel, session: Session) -> None:
        super().__init__(session)
        self._channel = channel
        self._depth = 0  # transaction() blocks open
        # A stream() still open on the connection, or a copy() block.
        self._stream: Stream | CopyCommand | None = None
        self._pipeline: AsyncConnectionPipeline | None = None  # the pipeline() block open
        # With pipelined connect, the startup finishes inside the first call.
        self._startup: Startup | None = session.startup()
        self.query_hook: QueryHook | None = None
        channel.attach(session)
        channel.set_idle_hook(self._take_idle)

    @classmethod
    async def _connect(cls, params: ConnectParams) -> AsyncConnection[Any]:
        """Try each host (and TLS choice) in turn, as libpq does; see pgpipe._dial."""
        tried: list[Attempt] = []
        for attempt in attempts(params, os.environ):
            try:
                return await cls._attempt(attempt)
            except errors.DatabaseError as exc:
                attempt.error = exc
                tried.append(attempt)
        raise failure(tried)

    @classmethod
    async def _attempt(cls, attempt: Attempt) -> AsyncConnection[Any]:
        """Connect, negotiate TLS and (unless pipelined) authenticate, by connect_timeout."""
        params = attempt.params
        deadline = _deadline(params.connect_timeout)
        channel = await AsyncChannel.connect(attempt, deadline)
        try:
            channel.tls = await _negotiate_tls(channel, attempt, deadline)
            conn = cls(channel, Session(params, scram_nonce(), channel.tls, channel.stats))
            if params.pipeline_connect in SEND_AT_CONNECT:
                # The rest waits for the server's first answer anyway: send early.
                await channel.flush(conn._session)
        except TimeoutError:
            channel.abort()
            raise errors.OperationalError(f"timeout connecting to {params.address()}") from None
        except OSError as exc:
            channel.abort()
            raise errors.OperationalError(
                f"connection to {params.address()} lost: {exc.strerror or exc}"
            ) from None
        except BaseException:
            channel.abort()
            raise
        if params.pipeline_connect is None:
            await conn._complete_startup(deadline)
            if attempt.target != "any":
                await conn._check_role(attempt.target, deadline)
        return conn

    async def _complete_startup(self, deadline: float | None = None) -> None:
        op = self._startup
        if op is None:
            return
        self._startup = None
        if deadline is None:
            deadline = _deadline(self._session.params.connect_timeout)
        try:
            (await self._run(op, deadline)).check()
        except BaseException:
            self._abort("startup failed")
            raise

    async def _check_role(self, target: str, deadline: float | None) -> None:
        """target_session_attrs: refuse (and close) a server whose role does not fit."""
        role = reported_role(self._session.core.parameters)
        if role is None:
            op = self._session.queue(lambda s: s.query(ROLE_QUERY, (), row_factory=tuple_row))
            op = await self._run(op, deadline, self._session.params.connect_timeout)
            role = queried_role(op.result().rows)
        why = role_mismatch(target, *role)
        if why is not None:
            await self.close()
            raise errors.OperationalError(f"{why} (target_session_attrs={target})")

    async def _call(
        self,
        make: Callable[[Session], _Op],
        timeout: float | None = None,
        sql: str = "",
        param_count: int = 0,
    ) -> _Op:
        """Queue one command and run it; the first call also finishes a pipelined startup.

        Statements queued in an open pipeline go first: commands run in the
        order they were written (a transaction's BEGIN or COMMIT included).
        ``sql`` and ``param_count`` are for the query hook.
        """
        limit = self._session.params.command_timeout
        if timeout is not None:
            limit = seconds(timeout, "timeout") or limit
        pipeline = self._pipeline
        if pipeline is not None and len(pipeline):
            await pipeline.flush()
        with self._lock:
            if self._closed_reason is not None:
                self._check_open()
            if self._stream is None and self._startup is None and self.query_hook is None:
                # The common case, in short: queue it and run it.
                session = self._session
                op = session.queue(make)
                if limit is not None:
                    return await self._run(op, time.monotonic() + limit, limit)
                if session.core.has_input():
                    return await self._run(op)
                # The common command, without a Run (or a coroutine more): one
                # exchange brings its whole answer. Anything else goes on in
                # _run, as a Run's first step would.
                taken = False
                failure: BaseException | None = None
                try:
                    await self._channel.exchange(session, None)
                    taken = op.take_answer(session.core)
                except BaseException as exc:
                    failure = exc
                if taken and not session.is_closed:
                    return op
                return await self._run(op, None, None, taken, failure)
            return await self._command(make, limit, sql, param_count)

    async def _flush_pipeline(self) -> None:
        pipeline = self._pipeline
        if pipeline is not None and len(pipeline):
            await pipeline.flush()

    async def _command(
        self, make: Callable[[Session], _Op], limit: float | None, sql: str, param_count: int
    ) -> _Op:
        """``_call`` in the caller's turn; tells the query hook, when there is one."""
        hook = self.query_hook
        if hook is None:
            return await self._start(make, limit)
        started = time.perf_counter()
        op: _Op | None = None
        try:
            op = await self._start(make, limit)
        except BaseException as exc:
            hook(event(sql, param_count, time.perf_counter() - started, op, exc))
            raise
        hook(event(sql, param_count, time.perf_counter() - started, op, None))
        return op

    async def _start(self, make: Callable[[Session], _Op], limit: float | None) -> _Op:
        """End an open stream, queue the command, finish a pipelined startup, run."""
        if isinstance(self._stream, CopyCommand):
            raise errors.InterfaceError(
                "a COPY is in progress on this connection: end its block before running "
                "another command"
            )
        if self._stream is not None:
            await self._end_stream()
        op = self._session.queue(make)
        if self._startup is not None:
            try:
                await self._complete_startup()
            except errors.PipelineMismatch:
                if not self._session.params.pipeline_connect_fallback:
                    raise
                await self._fall_back()
                op = self._session.queue(make)
        return await self._run(op, None if limit is None else time.monotonic() + limit, limit)

    async def _fall_back(self) -> None:
        """Reconnect once without pipelining, after a wrong guess closed the connection."""
        stats = self._session.stats
        fresh = await AsyncConnection._connect(replace(self._session.params, pipeline_connect=None))
        stats.add(fresh._session.stats)
        fresh._session.stats = stats
        self._channel, self._session, self._startup = fresh._channel, fresh._session, None
        self._closed_reason = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<pgpipe.{type(self).__name__} {self._session!r} {state}>"

    @property
    def row_factory(self) -> RowFactory[Row] | None:
        """What each row of a result is made as (None: tuples); see ``pgpipe.rows``."""
        return self._session.row_factory

    @row_factory.setter
    def row_factory(self, factory: RowFactory[Row] | None) -> None:
        self._session.row_factory = factory

    # -- the I/O loop: pgpipe._run decides, the channel does -----------------

    async def _run(
        self,
        op: _Op,
        deadline: float | None = None,
        limit: float | None = None,
        taken: bool = False,
        failure: BaseException | None = None,
    ) -> _Op:
        """Run ``op`` to its end; past ``deadline`` (``limit`` seconds after the call
        began), or when interrupted, cancel it and bring the connection back in sync.

        ``taken`` and ``failure`` say how a first exchange went when the caller
        made it (``_call``): the answer was taken whole, or the exchange raised."""
        session = self._session
        channel = self._channel
        run = Run(session, op, deadline, limit)
        if taken:
            run.end()
        elif failure is not None:
            _caught(run, failure, channel.sending)
        while True:
            try:
                step = run.step(0.0 if run.deadline is None else time.monotonic())
                if step == RECEIVE:
                    await channel.exchange(session, run.deadline)
                elif step == CANCEL:
                    await channel.send_cancel(self._cancel_request(), run.deadline or 0.0)
                    run.cancel_sent()
                else:
                    break
            except BaseException as exc:
                _caught(run, exc, channel.sending)
        if run.close_reason is not None:
            self._abort(run.close_reason)
        elif run.clean:
            return op
        return run.outcome()

    def _cancel_request(self) -> CancelExchange:
        session = self._session
        key = cancel_key(session.core.backend_key)
        return CancelExchange(session.params, key, session.tls is not None)

    async def _probe(self) -> bool:
        """Whether the connection is usable as far as can be told without a round
        trip: open, no command running, and nothing the server sent while it was
        idle ends it (a FATAL error, EOF). A dead one is closed, saying why."""
        if self._closed_reason is not None:
            return False
        if self._lock.locked():
            return False
        try:
            await self._channel.poll(self._session)
        except (OSError, errors.Error) as exc:
            self._abort(f"the connection failed while idle: {exc}")
            return False
        self._take_idle()
        return self._closed_reason is None

    def _take_idle(self) -> None:
        """Read what the server sent between commands (notifications go to their
        handlers and to ``notifies()``); close the connection if it was a goodbye.
        Not while a command runs or the startup is unfinished: those read it."""
        if self._closed_reason is not None or self._startup is not None:
            return
        if True:  # ASYNC
            if self._lock.locked():
                return
            reason = self._session.take_idle()
        else:
            if not self._lock.acquire(blocking=False):
                return
            try:
                reason = self._session.take_idle()
            finally:
                self._lock.release()
        if reason is not None:
            self._abort(reason)

    def _abort(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        self._channel.abort()

    # -- public API ----------------------------------------------------------

    @overload
    async def query(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: None = None,
    ) -> Result[Row]: ...

    @overload
    async def query(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: RowFactory[_R],
    ) -> Result[_R]: ...

    async def query(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> Result[Any]:
        """Run one statement; parameter types are inferred from the Python values.

        One round trip, whether or not this SQL text was seen before. After
        ``timeout`` seconds (default: the connection's ``command_timeout``),
        or when interrupted (Ctrl-C, task cancellation), the statement is
        cancelled on the server and the connection brought back in sync
        (within ``cancel_timeout``); a timeout raises ``QueryTimeout``.
        ``param_types`` states the types instead (``pgpipe.Type.X``, one per
        value), as ``executemany``, ``prepare`` and ``stream`` take them.
        ``row_factory`` makes this result's rows (see ``pgpipe.rows``).
        """
        make: Callable[[Session], UnnamedQuery]
        if param_types is None:
            make = lambda s: s.query(sql, params, row_factory=row_factory)  # noqa: E731
        else:
            make = _one(sql, params, param_types, row_factory)
        return (await self._call(make, timeout, sql, len(params))).result()

    @overload
    async def query_with_param_types(
        self,
        sql: str,
        params: Sequence[tuple[object, int]],
        *,
        timeout: float | None = None,
        row_factory: None = None,
    ) -> Result[Row]: ...

    @overload
    async def query_with_param_types(
        self,
        sql: str,
        params: Sequence[tuple[object, int]],
        *,
        timeout: float | None = None,
        row_factory: RowFactory[_R],
    ) -> Result[_R]: ...

    async def query_with_param_types(
        self,
        sql: str,
        params: Sequence[tuple[object, int]],
        *,
        timeout: float | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> Result[Any]:
        """Run one statement with ``(value, pgpipe.Type.X)`` pairs: one round trip."""
        op = await self._call(
            lambda s: s.query_with_param_types(sql, params, row_factory=row_factory),
            timeout,
            sql,
            _count(params),
        )
        return op.result()

    @overload
    async def execute(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: None = None,
    ) -> list[Result[Row]]: ...

    @overload
    async def execute(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: RowFactory[_R],
    ) -> list[Result[_R]]: ...

    async def execute(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> list[Result[Any]]:
        """Run SQL for its effects: a list of Results, one per statement.

        Without parameters the text may hold several statements separated by
        semicolons (the simple protocol, as psycopg and asyncpg do); with
        parameters it is one statement, run as ``query`` runs it.
        """
        if params or param_types is not None:
            make = _one(sql, params, param_types, row_factory)
            return [(await self._call(make, timeout, sql, len(params))).result()]
        script = await self._call(lambda s: s.execute(sql, row_factory=row_factory), timeout, sql)
        return script.result()

    @overload
    async def executemany(
        self,
        sql: str,
        rows: Iterable[Sequence[object]],
        *,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: None = None,
    ) -> Results[Row]: ...

    @overload
    async def executemany(
        self,
        sql: str,
        rows: Iterable[Sequence[object]],
        *,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: RowFactory[_R],
    ) -> Results[_R]: ...

    async def executemany(
        self,
        sql: str,
        rows: Iterable[Sequence[object]],
        *,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> Results[Any]:
        """Run one statement once per row of parameters: one flight, one round trip.

        Parse once (again only where a row's inferred types differ), then Bind
        and Execute per row and one Sync: all rows or none (the first error
        skips the rest and nothing is committed). One Result per row, in a
        ``Results`` sequence whose ``rowcount`` is the total.
        ``param_types`` states the types (``pgpipe.Type.X``) instead of inferring them.
        """
        batch = many_rows(rows)
        if not batch:
            return Results([], (), {})
        op = await self._call(
            lambda s: s.executemany(sql, batch, param_types, row_factory=row_factory),
            timeout,
            sql,
            _count(batch[0]),
        )
        return op.result()

    async def prepare(
        self, sql: str, *, param_types: Sequence[int] | None = None, timeout: float | None = None
    ) -> AsyncPreparedStatement[Row]:
        """Prepare a named statement (one round trip); its runs send no Parse.

        The server infers the parameter types unless ``param_types`` states
        them; values are then encoded for exactly those types. Free it with
        ``close()`` (a protocol Close message) or a ``with`` block.
        """
        op = await self._call(lambda s: s.prepare(sql, param_types), timeout, sql)
        return AsyncPreparedStatement[Row](self, op.result())

    @overload
    def stream(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        batch_size: int = 1000,
        timeout: float | None = None,
        row_factory: None = None,
    ) -> AsyncRowStream[Row]: ...

    @overload
    def stream(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        batch_size: int = 1000,
        timeout: float | None = None,
        row_factory: RowFactory[_R],
    ) -> AsyncRowStream[_R]: ...

    def stream(
        self,
        sql: str,
        *params: object,
        param_types: Sequence[int] | None = None,
        batch_size: int = 1000,
        timeout: float | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> AsyncRowStream[Any]:
        """Iterate over a statement's rows as they arrive, ``batch_size`` at a time.

        The statement is sent when iteration starts (or the ``with`` block is
        entered). Memory holds one batch, whatever the result's size: the rows
        come through a portal, Execute with a row limit, and the next batch is
        asked for before the current one is handed out. Stopping early
        (``close()``, leaving a ``with`` block, or simply running another
        command on the connection) closes the portal and leaves the connection
        in sync. ``timeout`` applies to the wait for each batch.

        >>> async for (n,) in conn.stream("SELECT generate_series(1, $1)", 10**7):  # doctest: +SKIP
        ...     total += n
        """
        # A wrong parameter count is refused now, not at the first row.
        if param_types is None:
            self._session.check_parameters(sql, len(params))
        else:
            self._session.check_parameters(sql, len(paired(params, param_types)))
        return AsyncRowStream(self, sql, params, param_types, batch_size, timeout, row_factory)

    async def _stream_next(self, stream: AsyncRowStream[Any]) -> None:
        """Start the stream or read its next batch; ask for the one after it at once."""
        limit = seconds(stream._timeout, "timeout") or self._session.params.command_timeout
        op = stream._op
        if op is None:
            await self._flush_pipeline()
        with self._lock:
            self._check_open()
            if op is None:
                sql, params, size = stream._sql, stream._params, stream._batch_size
                types, factory = stream._param_types, stream._row_factory
                op = await self._command(
                    lambda s: s.stream(sql, params, size, param_types=types, row_factory=factory),
                    limit,
                    sql,
                    len(params),
                )
                stream._op = op
            else:
                if self._stream is not op:
                    raise errors.InterfaceError(
                        "the stream was ended by another command on this connection"
                    )
                try:
                    await self._run(op, _deadline(limit), limit)
                finally:
                    if op.done or self.closed:
                        self._stream = None
            stream._rows = op.rows()
            if op.done:
                self._stream = None
                op.check()
                return
            self._stream = op
            op.more(stream._batch_size)
            try:
                await self._channel.flush(self._session)
            except OSError as exc:
                self._abort(lost(exc))
                raise errors.OperationalError(lost(exc)) from None

    async def _end_stream(self) -> None:
        """Close an open stream's portal and read to its end (in the caller's turn)."""
        op, self._stream = self._stream, None
        if isinstance(op, Stream) and op.finish():
            await self._run(op)

    async def _close_stream(self, stream: AsyncRowStream[Any]) -> None:
        if stream._op is None or self._stream is not stream._op or self.closed:
            return
        with self._lock:
            self._check_open()
            if self._stream is stream._op:
                await self._end_stream()

    @asynccontextmanager
    async def pipeline(
        self, mode: str = "independent", *, timeout: float | None = None
    ) -> AsyncIterator[AsyncConnectionPipeline]:
        """Queue commands to send in one flight at the end of the block.

        ``mode`` is "independent" (a Sync per command: each its own implicit
        transaction) or "atomic" (one Sync: all or nothing; the commands after
        a failure raise ``PipelineAborted``). Each command returns a handle;
        ``handle.result()`` gives its result or raises its error once the
        pipeline has run. Nothing is sent if the block raises.

        >>> async with conn.pipeline() as p:  # doctest: +SKIP
        ...     a = p.query("SELECT 1")
        ...     b = p.query("SELECT $1::text", "x")
        >>> a.result().rows, b.result().rows  # doctest: +SKIP
        ([(1,)], [('x',)])
        """
        if self._pipeline is not None:
            raise errors.InterfaceError(
                "a pipeline is already open on this connection (pipelines do not nest): "
                "queue the statements in that one"
            )
        pipeline = AsyncConnectionPipeline(self, mode, timeout)
        self._pipeline = pipeline
        try:
            yield pipeline
        except BaseException:
            pipeline.discard("the pipeline's block raised")
            raise
        finally:
            self._pipeline = None
        await pipeline.flush()

    @asynccontextmanager
    async def transaction(
        self,
        *,
        isolation: str | None = None,
        read_only: bool = False,
        deferrable: bool = False,
        timeout: float | None = None,
    ) -> AsyncIterator[AsyncConnection[Row]]:
        """A transaction block: COMMIT when the block ends, ROLLBACK when it raises.

        Inside another transaction (a ``transaction()`` block or the caller's
        own BEGIN) it is a savepoint, released or rolled back to. ``isolation``
        is "read committed", "repeatable read" or "serializable"; the options
        apply to the outermost block only. ``timeout`` applies to the BEGIN,
        COMMIT or ROLLBACK (and SAVEPOINT) the block sends.

        >>> async with conn.transaction():  # doctest: +SKIP
        ...     await conn.query("INSERT INTO t VALUES ($1)", 1)
        """
        block = Block(isolation, read_only, deferrable)
        await self.execute(block.enter(self.transaction_status, self._depth), timeout=timeout)
        self._depth += 1
        try:
            yield self
            # A pipeline's statements written inside the block run inside it.
            pipeline = self._pipeline
            if pipeline is not None and len(pipeline):
                await pipeline.flush()
        except BaseException:
            self._depth -= 1
            if self._pipeline is not None:
                self._pipeline.discard("the transaction() block it was written in raised")
            statement, _ = block.exit(self.transaction_status, failed=True)
            if statement is not None and not self.closed:
                # The block's own exception is what the caller needs to see; a
                # rollback that fails leaves the connection closed and says why.
                with suppress(errors.Error):
                    await self.execute(statement, timeout=timeout)
            raise
        self._depth -= 1
        self._check_open()
        statement, error = block.exit(self.transaction_status, failed=False)
        if statement is not None:
            await self.execute(statement, timeout=timeout)
        if error is not None:
            raise error

    # -- COPY ----------------------------------------------------------------------

    def copy(self, sql: str, *, timeout: float | None = None) -> AsyncCopy:
        """``COPY ... FROM STDIN`` or ``COPY ... TO STDOUT`` as a block: write rows
        or data into it, or read them out of it. See ``AsyncCopy`` and docs/copy.md.

        >>> async with conn.copy("COPY t (a, b) FROM STDIN") as copy:  # doctest: +SKIP
        ...     await copy.write_row((1, "one"))
        """
        return AsyncCopy(self, sql, timeout)

    async def copy_records_to_table(
        self,
        table: str,
        records: Iterable[Sequence[object]] | AsyncIterator[Sequence[object]],
        *,
        columns: Sequence[str] | None = None,
        schema_name: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """Copy ``records`` (tuples, from any iterable, or an asynchronous iterator for
        the asyncio adapter) into ``table`` (its ``columns``, all by default) with
        binary COPY, encoded by the columns' types as the catalog gives them.
        Returns the command tag ("COPY n"). Nothing is committed if a record fails
        to encode: the error names it."""
        target = quote_identifier(table, "a table name")
        if schema_name is not None:
            target = f"{quote_identifier(schema_name, 'a schema name')}.{target}"
        found = await self.query(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = $1::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            target,
            timeout=timeout,
            row_factory=tuple_row,
        )
        types = {str(name): int(oid) for name, oid in found.rows}
        names = list(columns) if columns is not None else list(types)
        missing = [name for name in names if name not in types]
        if missing:
            raise errors.ProgrammingError(f"{target} has no column {missing[0]!r}")
        listed = ", ".join(quote_identifier(name, "a column name") for name in names)
        sql = f"COPY {target} ({listed}) FROM STDIN (FORMAT binary)"
        async with self.copy(sql, timeout=timeout) as copy:
            copy.set_types([types[name] for name in names])
            await copy.write_rows(records)
        return copy.status or ""

    async def _copy_start(self, copy: AsyncCopy) -> None:
        sql = copy.sql
        op = await self._call(lambda s: s.copy(sql), copy._timeout, sql, 0)
        copy._op = op
        if op.done:
            op.check()
            raise errors.ProgrammingError(
                "copy() runs COPY ... FROM STDIN or COPY ... TO STDOUT; use query() or "
                "execute() for other statements"
            )
        self._stream = op

    async def _copy_send(self, op: CopyCommand, data: bytes | bytearray) -> None:
        """COPY data to the server; raises the server's error at once if it already
        ended the COPY (the connection is then in sync)."""
        with self._lock:
            self._check_open()
            session = self._session
            session.core.send_copy_data(data)
            try:
                await self._channel.flush(session)
                await self._channel.drain()
                await self._channel.poll(session)
            except OSError as exc:
                self._abort(lost(exc))
                raise errors.OperationalError(lost(exc)) from None
            self._copy_events(op)
        if op.done:
            self._stream = None
            op.check()
            raise errors.ProtocolError("the server ended the COPY without an error")

    def _copy_events(self, op: CopyCommand) -> None:
        """Feed ``op`` what has arrived, without waiting."""
        core = self._session.core
        try:
            while not op.done:
                event = core.next_event()
                if event is ev.NEED_DATA:
                    break
                op.feed(event)
        except errors.Error as exc:
            self._abort(str(exc))
            raise
        if self._session.is_closed:
            self._abort(str(op.error) if op.error else "the server closed the connection")

    async def _copy_receive(self, op: CopyCommand, timeout: float | None) -> list[bytes]:
        """The next rows of COPY TO data; [] at the end."""
        if not op.chunks and not op.done:
            limit = seconds(timeout, "timeout") or self._session.params.command_timeout
            with self._lock:
                self._check_open()
                await self._run(op, _deadline(limit), limit)
        chunks, op.chunks = op.chunks, []
        if op.done and not chunks:
            if self._stream is op:
                self._stream = None
            op.check()
        return chunks

    async def _copy_end(self, copy: AsyncCopy, failure: BaseException | None) -> None:
        """Finish the COPY: CopyDone (or CopyFail when the block raised) and read to
        its end; a COPY TO read to its end, the rest dropped."""
        op = copy._op
        if op is None:
            return
        try:
            if self._closed_reason is not None:
                if failure is None:
                    raise errors.OperationalError(
                        f"the connection closed during the COPY: {self._closed_reason}"
                    )
                return
            if op.done:
                if failure is None:
                    op.check()
                return
            limit = seconds(copy._timeout, "timeout") or self._session.params.command_timeout
            with self._lock:
                self._check_open()
                core = self._session.core
                if op.direction == "in":
                    if failure is None:
                        core.send_copy_done()
                    else:
                        core.send_copy_fail(f"the client gave up: {type(failure).__name__}")
                else:
                    op.finish()
                await self._run(op, _deadline(limit), limit)
            if failure is None:
                op.check()
        finally:
            if self._stream is op:
                self._stream = None

    # -- LISTEN/NOTIFY and notices -------------------------------------------------

    async def listen(self, channel: str, *, timeout: float | None = None) -> None:
        """``LISTEN`` on ``channel`` (its exact name: quoted, so case and any
        character are kept). Notifications arrive to ``notifies()`` and to the
        notification handlers. Refused (NotSupportedError, nothing left listening)
        through a pooler that lends each transaction its own server session, where
        notifications would go to another client's session or nowhere."""
        name = quote_identifier(channel)
        results = await self.execute(f"LISTEN {name}; SELECT pg_backend_pid()", timeout=timeout)
        key = self._session.core.backend_key
        if key is None or results[-1].scalar() != key.process_id:
            await self.execute(f"UNLISTEN {name}", timeout=timeout)
            raise errors.NotSupportedError(
                "LISTEN needs one server session for the whole connection, and this one "
                "goes through a connection pooler (the server session differs from the one "
                "the connection started with): connect directly, or through a session pooler"
            )

    async def unlisten(self, channel: str | None = None, *, timeout: float | None = None) -> None:
        """``UNLISTEN`` ``channel``, or every channel when None."""
        target = "*" if channel is None else quote_identifier(channel)
        await self.execute(f"UNLISTEN {target}", timeout=timeout)

    async def notifies(
        self, *, timeout: float | None = None, stop_after: int | None = None
    ) -> AsyncIterator[Notification]:
        """The notifications of the channels listened to, as they arrive (those
        that arrived before first), for ``timeout`` seconds (None: until
        ``stop_after`` of them, or for ever). The connection may run other
        commands between two. If the connection dies while waiting, the iteration
        ends with OperationalError saying why, not in silence."""
        deadline = _deadline(timeout)
        pending = self._session.notifications
        count = 0
        while True:
            self._take_idle()
            while pending:
                yield pending.popleft()
                count += 1
                if stop_after is not None and count >= stop_after:
                    return
            if self._closed_reason is not None:
                raise errors.OperationalError(
                    f"the connection ended while waiting for notifications: {self._closed_reason}"
                )
            if deadline is not None and time.monotonic() >= deadline:
                return
            with self._lock:
                await self._channel.receive_idle(self._session, deadline)
            # Read (and any goodbye noticed) at the top of the loop.

    notifications = notifies

    def add_notification_handler(self, handler: Callable[[Notification], object]) -> None:
        """Call ``handler(notification)`` for each notification as it is read: during
        a command, in ``notifies()``, and for the asyncio adapter also while the
        connection is idle. It still reaches ``notifies()`` too."""
        self._session.notification_handlers.append(handler)

    def remove_notification_handler(self, handler: Callable[[Notification], object]) -> None:
        self._session.notification_handlers.remove(handler)

    def add_notice_handler(self, handler: Callable[[Mapping[str, str]], object]) -> None:
        """Call ``handler(fields)`` for each notice (NoticeResponse fields: ``"S"``
        severity, ``"M"`` message, ...). Notices also go to the ``pgpipe.notices``
        logger and to ``notices``."""
        self._session.notice_handlers.append(handler)

    def remove_notice_handler(self, handler: Callable[[Mapping[str, str]], object]) -> None:
        self._session.notice_handlers.remove(handler)

    async def cancel(self) -> None:
        """Ask the server to cancel the statement this connection is running.

        For use from another thread or task; returns once the server has taken
        the request (or after ``cancel_timeout``). The call running the
        statement raises ``QueryCanceled`` and the connection stays usable.
        When nothing runs the server ignores the request; a statement that
        starts while the request is on its way may be the one cancelled, as
        with libpq.
        """
        if self.closed or self._session.core.backend_key is None:
            return
        limit = self._session.params.cancel_timeout
        try:
            await self._channel.send_cancel(self._cancel_request(), time.monotonic() + limit)
        except TimeoutError:
            raise errors.OperationalError(
                "could not send the cancel request: no answer within cancel_timeout"
            ) from None
        except OSError as exc:
            raise errors.OperationalError(
                f"could not send the cancel request: {exc.strerror or exc}"
            ) from None

    async def register_type(
        self,
        name: str,
        *,
        decode: Callable[[str], object] | None = None,
        encode: Callable[[object], str] | None = None,
        decode_binary: Callable[[bytes], object] | None = None,
        encode_binary: Callable[[object], bytes] | None = None,
        timeout: float | None = None,
    ) -> TypeInfo:
        """Look a type up by name (one round trip, once) and decode and encode it from now on.

        Domains take their base type's codecs, composite types decode to named
        tuples of their attributes (which go back as parameters as they
        are), ``hstore`` to a ``dict``. For any other type, ``decode`` turns
        PostgreSQL's text form into a value and ``encode`` a value into text;
        ``decode_binary`` and ``encode_binary`` do the same with its binary
        form (then results are read in binary). The type's array follows.

        A domain takes ``encode`` (for values sent as the domain) but no
        decoder: the server sends a domain's values with its base type's
        OID, so one would never be called (InterfaceError).
        """
        if not isinstance(name, str):
            raise errors.InterfaceError(f"a type name is a str, not {type(name).__name__}")
        lookup = await self.query(TYPE_LOOKUP, name, timeout=timeout, row_factory=tuple_row)
        rows = lookup.rows
        info = TypeInfo.found(name, rows)
        self._session.register(info, decode, encode, decode_binary, encode_binary)
        return info

    async def close(self) -> None:
        """Send Terminate and close the connection; closing twice is harmless."""
        if self._closed_reason is not None:
            return
        self._closed_reason = "closed by the client"
        try:
            self._session.core.send_terminate()
            data = self._session.data_to_send()
        except errors.Error:
            data = b""
        await self._channel.terminate(data)

    async def __aenter__(self) -> AsyncConnection[Row]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncPreparedStatement(StatementHandle["AsyncConnection[Any]"], Generic[Row]):
    """A statement prepared on the server; see ``AsyncConnection.prepare``."""

    __slots__ = ()

    @overload
    async def query(
        self, *params: object, timeout: float | None = None, row_factory: None = None
    ) -> Result[Row]: ...

    @overload
    async def query(
        self, *params: object, timeout: float | None = None, row_factory: RowFactory[_R]
    ) -> Result[_R]: ...

    async def query(
        self,
        *params: object,
        timeout: float | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> Result[Any]:
        """Run it: Bind, Describe, Execute and Sync in one packet, one round trip."""
        prepared = self._prepared
        op = await self._conn._call(
            lambda s: s.run_prepared(prepared, params, row_factory=row_factory),
            timeout,
            prepared.sql,
            len(params),
        )
        return op.result()

    async def close(self, *, timeout: float | None = None) -> None:
        """Free it on the server with a Close message (one round trip); idempotent."""
        prepared = self._prepared
        if not prepared.closed and not self._conn.closed:
            (await self._conn._call(lambda s: s.close_prepared(prepared), timeout)).check()
        prepared.closed = True

    async def __aenter__(self) -> AsyncPreparedStatement[Row]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


_COPY_CHUNK = 1 << 16  # COPY data sent in messages of about this size


def _unencodable(number: int, exc: Exception) -> errors.DataError:
    return errors.DataError(f"COPY row {number} could not be encoded: {exc}")


def _copy_text(value: object) -> str | None:
    """A value's text for a text or CSV COPY row."""
    if value is None or type(value) is str:
        return value
    return to_text(value).decode()


class AsyncCopy:
    """A COPY running on a connection: ``AsyncConnection.copy``'s block.

    COPY FROM STDIN: ``write_row`` encodes a row in the statement's format
    (text, CSV or binary; binary needs the columns' types, ``set_types``);
    ``write`` sends data as it is (bytes, or str in text and CSV). Data goes
    out in messages of about 64 KiB as it is written, so memory stays bounded.
    Leaving the block ends the COPY (CopyDone) and raises the server's error
    if it refused the data; an exception inside the block aborts it
    (CopyFail): nothing is copied.

    COPY TO STDOUT: iterating gives each row's data as the server sent it;
    ``read_row`` and ``rows()`` give the rows as tuples: str (None for NULL)
    in text and CSV, or values of the types given to ``set_types`` (needed
    for binary). Leaving the block early reads the rest and drops it.
    """

    __slots__ = (
        "_buffer",
        "_conn",
        "_encoders",
        "_header_sent",
        "_op",
        "_pending",
        "_reader",
        "_row_number",
        "_timeout",
        "_types",
        "format",
        "sql",
    )

    def __init__(self, conn: AsyncConnection[Any], sql: str, timeout: float | None) -> None:
        self._conn = conn
        self.sql = sql
        self.format = copy_format(sql)
        """The statement's format: "text", "csv" or "binary"."""
        self._timeout = timeout
        self._op: CopyCommand | None = None
        self._buffer = bytearray()
        self._types: list[int] | None = None
        self._encoders: Callable[[Sequence[object]], bytes] | None = None
        self._header_sent = False
        self._pending: list[bytes] = []
        self._reader = BinaryReader()
        self._row_number = 0

    def __repr__(self) -> str:
        op = self._op
        state = "new" if op is None else "done" if op.done else f"copying {op.direction}"
        return f"<pgpipe.{type(self).__name__} {self.format} {state}>"

    @property
    def status(self) -> str | None:
        """The command tag once the COPY has ended ("COPY 1000")."""
        return self._op.status if self._op is not None else None

    @property
    def rowcount(self) -> int:
        """Rows copied, once the COPY has ended (-1 before)."""
        status = self.status
        return int(status.split()[-1]) if status and status.split()[-1].isdigit() else -1

    def set_types(self, types: Sequence[int]) -> None:
        """The columns' type OIDs (``pgpipe.Type.INT4``...): how ``write_row``
        encodes binary rows and how ``read_row`` decodes."""
        oids = [int(oid) for oid in types]
        self._types = oids
        self._encoders = None
        if self.format == "binary":
            encoders = []
            for oid in oids:
                encode = binary_encoder(oid)
                if encode is None:
                    raise errors.NotSupportedError(
                        f"no binary encoder for type {oid}: use the text or CSV format"
                    )
                encoders.append(encode)
            self._encoders = fast_binary_row_writer(oids, encoders)

    def _in(self) -> CopyCommand:
        op = self._op
        if op is None:
            raise errors.InterfaceError("the COPY has not started: use it as a block")
        if op.direction != "in" or op.done:
            raise errors.InterfaceError(
                "this COPY takes no data" if op.direction != "in" else "the COPY has ended"
            )
        return op

    async def write(self, data: bytes | bytearray | memoryview | str) -> None:
        """COPY data as it is (``str`` is sent as UTF-8)."""
        op = self._in()
        if isinstance(data, str):
            data = data.encode()
        self._buffer += data
        if len(self._buffer) >= _COPY_CHUNK:
            await self._send(op)

    async def write_row(self, row: Sequence[object]) -> None:
        """One row, encoded in the statement's format."""
        await self.write_rows((row,))

    async def write_rows(
        self, rows: Iterable[Sequence[object]] | AsyncIterator[Sequence[object]]
    ) -> None:
        """Rows (sequences, from any iterable; the asyncio adapter also takes an
        asynchronous iterator), each as ``write_row``."""
        op = self._in()
        write = self._row_writer()
        buffer = self._buffer
        number = self._row_number
        if True:  # ASYNC
            if isinstance(rows, AsyncIterator):
                # The same loop as below, over an async iterator (a loop of its own:
                # it runs once per row).
                async for row in rows:
                    number += 1
                    try:
                        buffer += write(row)
                    except Exception as exc:
                        raise _unencodable(number, exc) from exc
                    if len(buffer) >= _COPY_CHUNK:
                        self._row_number = number
                        await self._send(op)
                        buffer = self._buffer
                self._row_number = number
                return
        for row in rows:
            number += 1
            try:
                buffer += write(row)
            except Exception as exc:
                raise _unencodable(number, exc) from exc
            if len(buffer) >= _COPY_CHUNK:
                self._row_number = number
                await self._send(op)
                buffer = self._buffer
        self._row_number = number

    def _row_writer(self) -> Callable[[Sequence[object]], bytes]:
        if self.format != "binary":
            row_of = csv_row if self.format == "csv" else text_row

            def write(row: Sequence[object]) -> bytes:
                return row_of([_copy_text(v) for v in row])

            return write
        writer = self._encoders
        if writer is None:
            raise errors.InterfaceError(
                "binary COPY needs the columns' types first: set_types([...])"
            )
        if not self._header_sent:
            self._buffer += BINARY_HEADER
            self._header_sent = True
        return writer

    async def _send(self, op: CopyCommand) -> None:
        data, self._buffer = self._buffer, bytearray()
        await self._conn._copy_send(op, data)

    async def read(self) -> bytes:
        """The next row's data as the server sent it; b"" at the end."""
        op = self._op
        if op is None:
            raise errors.InterfaceError("the COPY has not started: use it as a block")
        if op.direction != "out":
            raise errors.InterfaceError("this COPY gives no data")
        if not self._pending:
            self._pending = (await self._conn._copy_receive(op, self._timeout))[::-1]
            if not self._pending:
                return b""
        return self._pending.pop()

    async def read_row(self) -> tuple[Any, ...] | None:
        """The next row as a tuple (see the class); None at the end."""
        while True:
            data = await self.read()
            if not data:
                return None
            if self.format == "binary":
                fields: tuple[Any, ...] | None = self._reader.row(data)
                if fields is None:
                    continue  # the trailer
            elif self.format == "csv":
                fields = csv_fields(data)
            else:
                fields = text_fields(data)
            types = self._types
            if types is None:
                if self.format == "binary":
                    raise errors.InterfaceError(
                        "binary COPY rows need the columns' types: set_types([...])"
                    )
                return fields
            return self._decoded(fields, types)

    def _decoded(self, fields: tuple[Any, ...], types: list[int]) -> tuple[Any, ...]:
        session = self._conn._session
        fmt = 1 if self.format == "binary" else 0
        if len(fields) != len(types):
            raise errors.DataError(f"a COPY row has {len(fields)} fields for {len(types)} types")
        values: list[Any] = []
        for field, oid in zip(fields, types, strict=True):
            if field is None:
                values.append(None)
            else:
                data = field if fmt else field.encode()
                values.append(session.result_decoder(oid, fmt)(data))
        return tuple(values)

    async def rows(self) -> AsyncIterator[tuple[Any, ...]]:
        """Every row, as ``read_row`` gives them."""
        while True:
            row = await self.read_row()
            if row is None:
                return
            yield row

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            data = await self.read()
            if not data:
                return
            yield data

    async def __aenter__(self) -> AsyncCopy:
        await self._conn._copy_start(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        op = self._op
        if op is not None and exc is None and op.direction == "in" and not op.done:
            if self._header_sent:
                self._buffer += BINARY_TRAILER
            if self._buffer:
                await self._send(op)
        await self._conn._copy_end(self, exc)


class AsyncRowStream(Generic[Row]):
    """Rows of one statement as they arrive; see ``AsyncConnection.stream``."""

    __slots__ = (
        "_batch_size",
        "_closed",
        "_conn",
        "_op",
        "_param_types",
        "_params",
        "_pos",
        "_row_factory",
        "_rows",
        "_sql",
        "_timeout",
    )

    def __init__(
        self,
        conn: AsyncConnection[Any],
        sql: str,
        params: Sequence[object],
        param_types: Sequence[int] | None,
        batch_size: int,
        timeout: float | None,
        row_factory: RowFactory[Any] | None,
    ) -> None:
        self._conn = conn
        self._param_types = param_types
        self._row_factory = row_factory
        self._sql = sql
        self._params = params
        self._batch_size = batch_size
        self._timeout = timeout
        self._op: Stream | None = None
        self._rows: list[Row] = []
        self._pos = 0
        self._closed = False

    def __repr__(self) -> str:
        op = self._op
        state = "new" if op is None else "done" if op.done else "open"
        return f"<pgpipe.{type(self).__name__} {state}>"

    @property
    def columns(self) -> tuple[Column, ...]:
        """The result's columns once the first batch arrived (empty before, and for
        a statement that returns no rows)."""
        return self._op.columns if self._op is not None else ()

    @property
    def rowcount(self) -> int:
        """How many rows were received so far."""
        return self._op.rowcount if self._op is not None else 0

    def __aiter__(self) -> AsyncRowStream[Row]:
        return self

    async def __anext__(self) -> Row:
        while self._pos >= len(self._rows):
            if self._closed or (self._op is not None and self._op.ended(self._closed)):
                raise StopAsyncIteration
            await self._conn._stream_next(self)
            self._pos = 0
        row = self._rows[self._pos]
        self._pos += 1
        return row

    async def close(self) -> None:
        """Stop early: close the portal, read what was in flight, drop it."""
        self._rows, self._pos = [], 0
        self._closed = True
        await self._conn._close_stream(self)

    async def __aenter__(self) -> AsyncRowStream[Row]:
        if self._op is None and not self._closed:
            await self._conn._stream_next(self)
            self._pos = 0
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class AsyncConnectionPipeline(Pipeline):
    """A pipeline on a connection; see ``AsyncConnection.pipeline``."""

    __slots__ = ("_conn", "_timeout")

    def __init__(self, conn: AsyncConnection[Any], mode: str, timeout: float | None) -> None:
        super().__init__(mode)
        self._conn = conn
        self._timeout = timeout

    async def flush(self) -> None:
        """Send what is queued (one flight) and read every answer; the handles then hold
        their results. The pipeline can take more commands afterwards."""
        if len(self):
            await self._conn._call(self._taken(), self._timeout, f"<pipeline of {len(self)}>")


@overload
async def connect_async(
    dsn: str | None = None,
    *,
    row_factory: RowFactory[_R],
    query_hook: QueryHook | None = None,
    **params: Any,
) -> AsyncConnection[_R]: ...


@overload
async def connect_async(
    dsn: str | None = None,
    *,
    row_factory: None = None,
    query_hook: QueryHook | None = None,
    **params: Any,
) -> AsyncConnection[tuple[Any, ...]]: ...


async def connect_async(
    dsn: str | None = None,
    *,
    row_factory: RowFactory[Any] | None = None,
    query_hook: QueryHook | None = None,
    **params: Any,
) -> AsyncConnection[Any]:
    """Open a connection.

    ``dsn`` is a ``postgresql://`` URI or a libpq ``key=value`` string.
    Keyword arguments take libpq's parameter names (host, port, user,
    password, dbname, sslmode, ...; see docs/connecting.md) plus ``ssl`` (an
    ``ssl.SSLContext``), ``server_settings`` and the pipelined-connect
    options. They override the string, which overrides a connection service,
    which overrides the PG* environment variables. ``row_factory`` makes the
    connection's rows (see ``pgpipe.rows``); ``query_hook`` is called after
    each command (see ``pgpipe.tracing``).
    """
    environ = os.environ
    conn: AsyncConnection[Any] = await AsyncConnection._connect(
        parse_dsn(dsn, params, environ, lambda name: servicefile.lookup(name, environ))
    )
    conn.row_factory = row_factory
    conn.query_hook = query_hook
    return conn
