"""The asyncio adapter: a Session driven over an asyncio transport.

The transport's protocol feeds received bytes straight into the core and wakes
the one task waiting for them. All protocol and result logic lives in
``pgpipe._session``. An operation interrupted half-way (an exception, task
cancellation) closes the connection, so it is never left out of sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar

from pgpipe import errors, servicefile
from pgpipe._adapter import (
    SEND_AT_CONNECT,
    ConnectionState,
    StatementHandle,
    interrupted,
    scram_nonce,
    timeout_error,
)
from pgpipe._cancel import CancelExchange, cancel_key
from pgpipe._catalog import TYPE_LOOKUP, TypeInfo
from pgpipe._dial import (
    ROLE_QUERY,
    Attempt,
    attempts,
    failure,
    is_unix_family,
    open_address,
    queried_role,
    reported_role,
    role_mismatch,
    tune_socket,
    unix_socket_family,
)
from pgpipe._operations import Operation, Startup, Stream
from pgpipe._pipeline import Pipeline
from pgpipe._session import Session, many_rows
from pgpipe._stats import Stats
from pgpipe._transaction import Block
from pgpipe.conninfo import ConnectParams, parse_dsn, seconds
from pgpipe.protocol.events import NEED_DATA
from pgpipe.result import Column, Result, Results
from pgpipe.tls import Negotiation, TlsChannel, make_context

_Op = TypeVar("_Op", bound=Operation)


class _Protocol(asyncio.Protocol):
    """Moves received bytes into the core and wakes the waiting task.

    Until ``attach`` hands it a session, received bytes are kept raw for the
    TLS negotiation.
    """

    def __init__(self, stats: Stats) -> None:
        self._session: Session | None = None
        self._stats = stats
        self._waiter: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None
        self.raw = bytearray()
        self.eof = False
        self.failure: errors.Error | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self.transport = transport

    def attach(self, session: Session) -> None:
        """From now on, received bytes go to ``session`` (after any kept so far)."""
        self._session = session
        raw, self.raw = bytes(self.raw), bytearray()
        if raw:
            self._feed(session, raw)
        if self.eof:
            self._feed(session, b"")

    def data_received(self, data: bytes) -> None:
        if self._session is None:
            self.raw += data
        else:
            self._feed(self._session, data)
        self._wake()

    def _feed(self, session: Session, data: bytes) -> None:
        try:
            session.receive_data(data)
        except errors.ProtocolError:
            # A dead core refuses data; the waiting task's next_event() raises why.
            pass
        except errors.Error as exc:
            # TLS failed: nothing more can be read.
            self.failure = self.failure or exc
            with contextlib.suppress(errors.Error):
                session.core.receive_data(b"")

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if self._session is not None:
            self._feed(self._session, b"")
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def read_raw(self) -> bytes:
        """What arrived before ``attach`` (b"" once the server closed)."""
        while not self.raw and not self.eof:
            await self.wait()
        data = bytes(self.raw)
        self.raw.clear()
        self._stats.received(len(data))
        return data


def _peer(transport: asyncio.Transport) -> tuple[int, Any]:
    sock = transport.get_extra_info("socket")
    family = sock.family if sock is not None else socket.AF_INET
    return family, transport.get_extra_info("peername")


def _send(transport: asyncio.Transport, data: bytes, stats: Stats) -> None:
    if data:
        transport.write(data)
        stats.sent(len(data))


async def _negotiate_tls(
    transport: asyncio.Transport, protocol: _Protocol, attempt: Attempt, stats: Stats
) -> TlsChannel | None:
    """SSLRequest (unless direct) and the TLS handshake; None if the server said "N"."""
    negotiation = Negotiation(make_context(attempt.params, os.environ), attempt.params)
    try:
        while not negotiation.done:
            _send(transport, negotiation.data_to_send(), stats)
            negotiation.receive_data(await protocol.read_raw())
    except errors.OperationalError:
        attempt.tls_failed = negotiation.handshaking
        raise
    attempt.tls_used = negotiation.channel is not None
    return negotiation.channel


class AsyncConnection(ConnectionState):
    """An asyncio connection to PostgreSQL. Create one with ``await pgpipe.connect_async()``.

    One operation at a time: a second concurrent call raises InterfaceError.
    """

    __slots__ = (
        "_busy",
        "_depth",
        "_loop",
        "_peer",
        "_pipeline",
        "_protocol",
        "_startup",
        "_stream",
        "_transport",
    )

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol, session: Session) -> None:
        super().__init__(session)
        self._transport = transport
        self._protocol = protocol
        self._busy = False
        self._depth = 0  # transaction() blocks open
        self._stream: Stream | None = None  # a stream() still open on the connection
        self._pipeline: AsyncConnectionPipeline | None = None  # the pipeline() block open
        # The event loop the transport belongs to: the only one it can be used from.
        self._loop = asyncio.get_running_loop()
        # Where a CancelRequest goes: the very address this transport reached.
        self._peer: tuple[int, Any] = _peer(transport)
        # With pipelined connect, the startup finishes inside the first call.
        self._startup: Startup | None = session.startup()

    @classmethod
    async def _connect(cls, params: ConnectParams) -> AsyncConnection:
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
    async def _attempt(cls, attempt: Attempt) -> AsyncConnection:
        params = attempt.params
        try:
            async with asyncio.timeout(params.connect_timeout):
                conn = await cls._open(attempt)
                if params.pipeline_connect is None:
                    await conn._complete_startup(timed=False)
                    if attempt.target != "any":
                        await conn._check_role(attempt.target)
        except TimeoutError:
            raise errors.OperationalError(f"timeout connecting to {params.address()}") from None
        return conn

    @classmethod
    async def _open(cls, attempt: Attempt) -> AsyncConnection:
        """Connect and negotiate TLS; with "auto" and "scram", send the startup flight too."""
        params = attempt.params
        host = params.hosts[0]
        stats = Stats()
        loop = asyncio.get_running_loop()
        try:
            if host.is_unix_socket:
                unix_socket_family(host)  # a clear error where there are no Unix sockets
                try:
                    transport, protocol = await loop.create_unix_connection(
                        lambda: _Protocol(stats), host.socket_path()
                    )
                except NotImplementedError:
                    # The event loop has no Unix sockets (Windows' proactor loop).
                    raise errors.OperationalError(
                        f"could not connect to {host}: this event loop has no Unix-domain "
                        "sockets; give a host name or IP address instead of a directory"
                    ) from None
            else:
                transport, protocol = await loop.create_connection(
                    lambda: _Protocol(stats), *open_address(host)
                )
        except OSError as exc:
            raise errors.OperationalError(
                f"could not connect to {params.address()}: {exc.strerror or exc}"
            ) from None
        if not isinstance(transport, asyncio.Transport):
            raise errors.InterfaceError("the event loop gave an unusable transport")
        try:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                tune_socket(sock, params)
            tls = await _negotiate_tls(transport, protocol, attempt, stats) if attempt.tls else None
            session = Session(params, scram_nonce(), tls, stats)
            protocol.attach(session)
            conn = cls(transport, protocol, session)
            if params.pipeline_connect in SEND_AT_CONNECT:
                transport.write(session.data_to_send())
        except BaseException:
            transport.abort()
            raise
        return conn

    async def _complete_startup(self, *, timed: bool = True) -> None:
        op = self._startup
        if op is None:
            return
        self._startup = None
        params = self._session.params
        try:
            async with asyncio.timeout(params.connect_timeout if timed else None):
                (await self._run(op)).check()
        except TimeoutError:
            self._abort("timeout during startup")
            raise errors.OperationalError(f"timeout connecting to {params.address()}") from None
        except BaseException:
            self._abort("startup failed")
            raise

    async def _check_role(self, target: str) -> None:
        """target_session_attrs: refuse (and close) a server whose role does not fit."""
        role = reported_role(self._session.core.parameters)
        if role is None:
            role = queried_role(
                (await self._run(self._session.query(ROLE_QUERY, ()))).result().rows
            )
        why = role_mismatch(target, *role)
        if why is not None:
            await self.close()
            raise errors.OperationalError(f"{why} (target_session_attrs={target})")

    async def _call(self, make: Callable[[Session], _Op], timeout: float | None = None) -> _Op:
        """Queue one command and run it; the first call also finishes a pipelined startup.

        Statements queued in an open pipeline go first; see ``Connection._call``.
        """
        limit = seconds(timeout, "timeout") or self._session.params.command_timeout
        pipeline = self._pipeline
        if pipeline is not None and len(pipeline):
            self._begin()
            await pipeline.flush()
        session = self._begin()
        if self._stream is not None:
            await self._end_stream()
            session = self._begin()  # another task may have started a command meanwhile
        op = session.queue(make)
        if self._startup is not None:
            try:
                await self._complete_startup()
            except errors.PipelineMismatch:
                if not self._session.params.pipeline_connect_fallback:
                    raise
                await self._fall_back()
                op = self._session.queue(make)
        return await self._run(op, limit)

    async def _fall_back(self) -> None:
        """Reconnect once without pipelining, after a wrong guess closed the connection."""
        stats = self._session.stats
        fresh = await AsyncConnection._connect(replace(self._session.params, pipeline_connect=None))
        stats.add(fresh._session.stats)
        fresh._session.stats = stats
        self._transport, self._protocol = fresh._transport, fresh._protocol
        self._session, self._startup = fresh._session, None
        self._peer = fresh._peer
        self._closed_reason = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<pgpipe.AsyncConnection {self._session!r} {state}>"

    # -- the I/O loop --------------------------------------------------------

    def _begin(self) -> Session:
        """Check the connection can take a command now, before anything is queued."""
        if asyncio.get_running_loop() is not self._loop:
            raise errors.InterfaceError(
                "this connection belongs to another event loop: an asyncio connection is "
                "used only from the loop that opened it"
            )
        if self._closed_reason is not None:
            raise errors.InterfaceError(f"the connection is closed ({self._closed_reason})")
        if self._busy:
            raise errors.InterfaceError("another operation is in progress on this connection")
        return self._session

    async def _run(self, op: _Op, limit: float | None = None) -> _Op:
        """Run ``op`` to its end; after ``limit`` seconds, or when the task is
        cancelled, cancel it and bring the connection back in sync."""
        self._busy = True
        try:
            if limit is None:
                await self._pump(op)
            else:
                async with asyncio.timeout(limit):
                    await self._pump(op)
        except TimeoutError:
            why = f"the statement timed out after {limit:g} s"
            raise timeout_error(why, op, await self._cancel_and_drain(op, why), self) from None
        except asyncio.CancelledError:
            if isinstance(op, Startup):
                self._abort("startup cancelled")
            else:
                await self._cancel_and_drain(op, "the task running the statement was cancelled")
            raise
        except BaseException as exc:
            self._abort(interrupted(exc))
            raise
        finally:
            self._busy = False
        if self._session.is_closed:
            self._abort(str(op.error) if op.error else "the server closed the connection")
        return op

    async def _pump(self, op: Operation) -> None:
        """Send what the core queued and feed ``op`` until it is done."""
        session = self._session
        core = session.core
        protocol = self._protocol
        while True:
            if op.in_rows:
                rows = core.next_rows()
                if rows:
                    op.feed_rows(rows)
                    continue
            event = core.next_event()
            if event is NEED_DATA:
                data = session.data_to_send()
                while data:  # executemany queues its later chunks as they go
                    self._transport.write(data)
                    data = session.data_to_send()
                if protocol.failure is not None:
                    raise protocol.failure
                await protocol.wait()
            elif op.feed(event):
                return

    async def _cancel_and_drain(self, op: Operation, why: str) -> bool:
        """Cancel the running statement and read to its end within cancel_timeout.

        True when the connection is back in sync; False when it had to be closed.
        A second cancellation meanwhile closes the connection.
        """
        limit = self._session.params.cancel_timeout
        try:
            async with asyncio.timeout(limit):
                await self._send_cancel()
                await self._pump(op)
                if op.finish():
                    await self._pump(op)
        except TimeoutError:
            self._abort(
                f"{why}; the server did not end the cancelled statement within "
                f"cancel_timeout ({limit:g} s)"
            )
            return False
        except (OSError, errors.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self._abort(f"{why}; cancelling it failed: {reason}")
            return False
        except BaseException as exc:
            self._abort(f"{why}; then {interrupted(exc)}")
            raise
        if self._session.is_closed:
            self._abort(f"{why}; then {op.error or 'the server closed the connection'}")
            return False
        return True

    async def _send_cancel(self) -> None:
        """One CancelRequest on a new connection to the same address; returns once the
        server closed it (the backend has been signalled)."""
        key = cancel_key(self._session.core.backend_key)
        exchange = CancelExchange(self._session.params, key, self._session.tls is not None)
        family, address = self._peer
        if is_unix_family(family):
            reader, writer = await asyncio.open_unix_connection(address)
        else:
            reader, writer = await asyncio.open_connection(address[0], address[1])
        try:
            while not exchange.done:
                data = exchange.data_to_send()
                if data:
                    writer.write(data)
                exchange.receive_data(await reader.read(1 << 16))
        finally:
            writer.close()

    def _abort(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        self._transport.abort()

    # -- public API ----------------------------------------------------------

    async def query(self, sql: str, *params: object, timeout: float | None = None) -> Result:
        """Run one statement; parameter types are inferred from the Python values.

        After ``timeout`` seconds (default: the connection's ``command_timeout``),
        or when the task is cancelled, the statement is cancelled on the server
        and the connection brought back in sync (see ``cancel_timeout``).
        """
        return (await self._call(lambda s: s.query(sql, params), timeout)).result()

    async def query_with_param_types(
        self, sql: str, params: Sequence[tuple[object, int]], *, timeout: float | None = None
    ) -> Result:
        """Run one statement with ``(value, pgpipe.Type.X)`` pairs: one round trip."""
        op = await self._call(lambda s: s.query_with_param_types(sql, params), timeout)
        return op.result()

    async def execute(self, sql: str, *, timeout: float | None = None) -> list[Result]:
        """Run SQL text that may hold several statements (simple protocol, no parameters)."""
        return (await self._call(lambda s: s.execute(sql), timeout)).result()

    async def executemany(
        self,
        sql: str,
        rows: Iterable[Sequence[object]],
        *,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
    ) -> Results:
        """Run one statement once per row of parameters: one flight, one round trip.

        See ``Connection.executemany``: all rows or none, one Result per row.
        """
        batch = many_rows(rows)
        if not batch:
            return Results([], (), {})
        op = await self._call(lambda s: s.executemany(sql, batch, param_types), timeout)
        return op.result()

    async def prepare(
        self, sql: str, *, param_types: Sequence[int] | None = None
    ) -> AsyncPreparedStatement:
        """Prepare a named statement (one round trip); see ``Connection.prepare``."""
        prepared = (await self._call(lambda s: s.prepare(sql, param_types))).result()
        return AsyncPreparedStatement(self, prepared)

    def stream(
        self,
        sql: str,
        *params: object,
        batch_size: int = 1000,
        timeout: float | None = None,
    ) -> AsyncRowStream:
        """``async for row in conn.stream(sql, ...)``: rows as they arrive, one batch
        in memory; see ``Connection.stream``."""
        return AsyncRowStream(self, sql, params, batch_size, timeout)

    async def _stream_next(self, stream: AsyncRowStream) -> None:
        """Start the stream or read its next batch; ask for the one after it at once."""
        op = stream.op
        if op is None:
            sql, params, size = stream.sql, stream.params, stream.batch_size
            op = await self._call(lambda s: s.stream(sql, params, size), stream.timeout)
            stream.op = op
        else:
            if self._stream is not op:
                raise errors.InterfaceError(
                    "the stream was ended by another command on this connection"
                )
            session = self._begin()
            try:
                limit = seconds(stream.timeout, "timeout") or session.params.command_timeout
                await self._run(op, limit)
            finally:
                if op.done or self.closed:
                    self._stream = None
        stream.rows = op.rows()
        if op.done:
            self._stream = None
            op.check()
            return
        self._stream = op
        op.more(stream.batch_size)
        self._transport.write(self._session.data_to_send())

    async def _end_stream(self) -> None:
        """Close an open stream's portal and read to its end."""
        op, self._stream = self._stream, None
        if op is not None and op.finish():
            await self._run(op)

    async def _close_stream(self, stream: AsyncRowStream) -> None:
        if stream.op is not None and self._stream is stream.op and not self.closed:
            self._begin()
            await self._end_stream()

    @contextlib.asynccontextmanager
    async def pipeline(
        self, mode: str = "independent", *, timeout: float | None = None
    ) -> AsyncIterator[AsyncConnectionPipeline]:
        """Queue commands to send in one flight at the end of the block; see
        ``Connection.pipeline``."""
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

    @contextlib.asynccontextmanager
    async def transaction(
        self,
        *,
        isolation: str | None = None,
        read_only: bool = False,
        deferrable: bool = False,
    ) -> AsyncIterator[AsyncConnection]:
        """A transaction block: COMMIT when the block ends, ROLLBACK when it raises.

        Inside another transaction it is a savepoint; see
        ``Connection.transaction``.
        """
        block = Block(isolation, read_only, deferrable)
        await self.execute(block.enter(self.transaction_status, self._depth))
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
                with contextlib.suppress(errors.Error):
                    await self.execute(statement)
            raise
        self._depth -= 1
        if self._closed_reason is not None:
            raise errors.InterfaceError(f"the connection is closed ({self._closed_reason})")
        statement, error = block.exit(self.transaction_status, failed=False)
        if statement is not None:
            await self.execute(statement)
        if error is not None:
            raise error

    async def cancel(self) -> None:
        """Ask the server to cancel the statement this connection is running.

        For use from another task; returns once the server has taken the
        request (or after ``cancel_timeout``). The call running the statement
        raises ``QueryCanceled`` and the connection stays usable. Cancelling
        the task that runs the statement does this by itself.
        """
        if self.closed or self._session.core.backend_key is None:
            return
        try:
            async with asyncio.timeout(self._session.params.cancel_timeout):
                await self._send_cancel()
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
        rows = (await self.query(TYPE_LOOKUP, name)).rows
        info = TypeInfo.found(name, rows)
        self._session.register(info, decode, encode, decode_binary, encode_binary)
        return info

    async def close(self) -> None:
        """Send Terminate and close the transport; closing twice is harmless."""
        if self._closed_reason is not None:
            return
        self._closed_reason = "closed by the client"
        if asyncio.get_running_loop() is not self._loop:
            # The transport can only be used from its own loop: have that loop drop it
            # (without Terminate). A loop that is closed already can close nothing.
            if not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._transport.abort)
            return
        try:
            self._session.core.send_terminate()
            self._transport.write(self._session.data_to_send())
        except errors.Error:
            pass
        self._transport.close()

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncPreparedStatement(StatementHandle[AsyncConnection]):
    """A statement prepared on the server; see ``AsyncConnection.prepare``."""

    __slots__ = ()

    async def query(self, *params: object, timeout: float | None = None) -> Result:
        """Run it: Bind, Describe, Execute and Sync in one packet, one round trip."""
        prepared = self._prepared
        op = await self._conn._call(lambda s: s.run_prepared(prepared, params), timeout)
        return op.result()

    async def close(self) -> None:
        """Free it on the server with a Close message (one round trip); idempotent."""
        prepared = self._prepared
        if not prepared.closed and not self._conn.closed:
            (await self._conn._call(lambda s: s.close_prepared(prepared))).check()
        prepared.closed = True

    async def __aenter__(self) -> AsyncPreparedStatement:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class AsyncRowStream:
    """Rows of one statement as they arrive; see ``AsyncConnection.stream``."""

    __slots__ = (
        "_closed",
        "_pos",
        "batch_size",
        "conn",
        "op",
        "params",
        "rows",
        "sql",
        "timeout",
    )

    def __init__(
        self,
        conn: AsyncConnection,
        sql: str,
        params: Sequence[object],
        batch_size: int,
        timeout: float | None,
    ) -> None:
        self.conn = conn
        self.sql = sql
        self.params = params
        self.batch_size = batch_size
        self.timeout = timeout
        self.op: Stream | None = None
        self.rows: list[tuple[Any, ...]] = []
        self._pos = 0
        self._closed = False

    def __repr__(self) -> str:
        state = "new" if self.op is None else "done" if self.op.done else "open"
        return f"<pgpipe.AsyncRowStream {state}>"

    @property
    def columns(self) -> tuple[Column, ...]:
        """The result's columns, once the first batch arrived."""
        return self.op.columns if self.op is not None else ()

    @property
    def rowcount(self) -> int:
        """How many rows were received so far."""
        return self.op.rowcount if self.op is not None else 0

    def __aiter__(self) -> AsyncRowStream:
        return self

    async def __anext__(self) -> tuple[Any, ...]:
        while self._pos >= len(self.rows):
            if self.op is not None and self.op.ended(self._closed):
                raise StopAsyncIteration
            await self.conn._stream_next(self)
            self._pos = 0
        row = self.rows[self._pos]
        self._pos += 1
        return row

    async def aclose(self) -> None:
        """Stop early: close the portal, read what was in flight, drop it."""
        self.rows, self._pos = [], 0
        self._closed = True
        await self.conn._close_stream(self)

    async def __aenter__(self) -> AsyncRowStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class AsyncConnectionPipeline(Pipeline):
    """A pipeline on an asyncio connection; see ``AsyncConnection.pipeline``."""

    __slots__ = ("_conn", "_timeout")

    def __init__(self, conn: AsyncConnection, mode: str, timeout: float | None) -> None:
        super().__init__(mode)
        self._conn = conn
        self._timeout = timeout

    async def flush(self) -> None:
        """Send what is queued (one flight) and read every answer."""
        if len(self):
            await self._conn._call(self.taken(), self._timeout)


async def connect_async(dsn: str | None = None, **params: Any) -> AsyncConnection:
    """Open an asyncio connection; arguments as for ``pgpipe.connect``."""
    environ = os.environ
    return await AsyncConnection._connect(
        parse_dsn(dsn, params, environ, lambda name: servicefile.lookup(name, environ))
    )
