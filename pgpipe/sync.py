"""The blocking adapter: a Session driven over a socket.

All protocol and result logic lives in ``pgpipe._session``; this module only
connects, sends what the core queued, and reads until the operation ends.
An operation interrupted half-way (an exception, KeyboardInterrupt) closes
the connection, so it is never left out of sync.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
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

_RECV_SIZE = 1 << 16
# Writes up to this size go out with blocking sends; larger ones are interleaved
# with reading the answers, in pieces.
_SMALL_WRITE = 1 << 18
_WRITE_PIECE = 1 << 18
_Op = TypeVar("_Op", bound=Operation)


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.001)


def _open_socket(params: ConnectParams, deadline: float | None) -> socket.socket:
    host = params.hosts[0]
    where = params.address()
    try:
        if host.is_unix_socket:
            sock = socket.socket(unix_socket_family(host), socket.SOCK_STREAM)
            try:
                sock.settimeout(_remaining(deadline))
                sock.connect(host.socket_path())
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection(open_address(host), timeout=_remaining(deadline))
    except TimeoutError:
        raise errors.OperationalError(f"timeout connecting to {where}") from None
    except OSError as exc:
        raise errors.OperationalError(
            f"could not connect to {where}: {exc.strerror or exc}"
        ) from None
    try:
        tune_socket(sock, params)
    except BaseException:
        sock.close()
        raise
    return sock


def _recv(sock: socket.socket, deadline: float | None, stats: Stats) -> bytes:
    sock.settimeout(_remaining(deadline))
    data = sock.recv(_RECV_SIZE)
    stats.received(len(data))
    return data


def _send(sock: socket.socket, data: bytes, stats: Stats) -> None:
    if data:
        sock.sendall(data)
        stats.sent(len(data))


def _negotiate_tls(
    sock: socket.socket, attempt: Attempt, deadline: float | None, stats: Stats
) -> TlsChannel | None:
    """SSLRequest (unless direct) and the TLS handshake; None if the server said "N"."""
    negotiation = Negotiation(make_context(attempt.params, os.environ), attempt.params)
    try:
        while not negotiation.done:
            _send(sock, negotiation.data_to_send(), stats)
            negotiation.receive_data(_recv(sock, deadline, stats))
    except errors.OperationalError:
        attempt.tls_failed = negotiation.handshaking
        raise
    attempt.tls_used = negotiation.channel is not None
    return negotiation.channel


class Connection(ConnectionState):
    """A blocking connection to PostgreSQL. Create one with ``pgpipe.connect()``.

    >>> with pgpipe.connect("postgresql://app@localhost/app") as conn:  # doctest: +SKIP
    ...     conn.query("SELECT $1::int + 1", 41).rows
    [(42,)]
    """

    __slots__ = (
        "_depth",
        "_lock",
        "_peer",
        "_pipeline",
        "_sending",
        "_sock",
        "_startup",
        "_stream",
        "_timed",
        "_unsent",
    )

    def __init__(self, sock: socket.socket, session: Session) -> None:
        super().__init__(session)
        self._sock = sock
        # Where a CancelRequest goes: the very address this socket reached.
        self._peer: tuple[int, Any] = (sock.family, sock.getpeername())
        # One operation at a time: another thread waits for the current one to finish.
        self._lock = threading.Lock()
        # With pipelined connect, the startup finishes inside the first call.
        self._startup: Startup | None = session.startup()
        # Bytes the core queued that the socket has not taken yet, and whether a
        # send is under way (an interrupt then leaves an unknown amount sent).
        self._unsent = bytearray()
        self._sending = False
        self._timed = True  # the socket has a timeout set
        self._depth = 0  # transaction() blocks open
        self._stream: Stream | None = None  # a stream() still open on the connection
        self._pipeline: ConnectionPipeline | None = None  # the pipeline() block open

    @classmethod
    def _connect(cls, params: ConnectParams) -> Connection:
        """Try each host (and TLS choice) in turn, as libpq does; see pgpipe._dial."""
        tried: list[Attempt] = []
        for attempt in attempts(params, os.environ):
            try:
                return cls._attempt(attempt)
            except errors.DatabaseError as exc:
                attempt.error = exc
                tried.append(attempt)
        raise failure(tried)

    @classmethod
    def _attempt(cls, attempt: Attempt) -> Connection:
        timeout = attempt.params.connect_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        conn = cls._open(attempt, deadline)
        if attempt.params.pipeline_connect is None:
            conn._complete_startup(deadline)
            if attempt.target != "any":
                conn._check_role(attempt.target)
        return conn

    @classmethod
    def _open(cls, attempt: Attempt, deadline: float | None) -> Connection:
        """Connect and negotiate TLS; with "auto" and "scram", send the startup flight too."""
        params = attempt.params
        sock = _open_socket(params, deadline)
        stats = Stats()
        try:
            tls = _negotiate_tls(sock, attempt, deadline, stats) if attempt.tls else None
            conn = cls(sock, Session(params, scram_nonce(), tls, stats))
            if params.pipeline_connect in SEND_AT_CONNECT:
                sock.sendall(conn._session.data_to_send())
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise errors.OperationalError(f"timeout connecting to {params.address()}") from None
            raise errors.OperationalError(
                f"connection to {params.address()} lost: {exc.strerror or exc}"
            ) from None
        except BaseException:
            sock.close()
            raise
        return conn

    def _complete_startup(self, deadline: float | None = None) -> None:
        op = self._startup
        if op is None:
            return
        self._startup = None
        if deadline is None and self._session.params.connect_timeout is not None:
            deadline = time.monotonic() + self._session.params.connect_timeout
        try:
            self._run(op, deadline).check()
        except BaseException:
            self._abort("startup failed")
            raise
        self._sock.settimeout(None)

    def _check_role(self, target: str) -> None:
        """target_session_attrs: refuse (and close) a server whose role does not fit."""
        role = reported_role(self._session.core.parameters)
        if role is None:
            role = queried_role(self._run(self._session.query(ROLE_QUERY, ())).result().rows)
        why = role_mismatch(target, *role)
        if why is not None:
            self.close()
            raise errors.OperationalError(f"{why} (target_session_attrs={target})")

    def _call(self, make: Callable[[Session], _Op], timeout: float | None = None) -> _Op:
        """Queue one command and run it; the first call also finishes a pipelined startup.

        Statements queued in an open pipeline go first: commands run in the
        order they were written (a transaction's BEGIN or COMMIT included).
        """
        limit = seconds(timeout, "timeout") or self._session.params.command_timeout
        pipeline = self._pipeline
        if pipeline is not None and len(pipeline):
            pipeline.flush()
        with self._lock:
            self._check_open()
            if self._stream is not None:
                self._end_stream()
            op = self._session.queue(make)
            if self._startup is not None:
                try:
                    self._complete_startup()
                except errors.PipelineMismatch:
                    if not self._session.params.pipeline_connect_fallback:
                        raise
                    self._fall_back()
                    op = self._session.queue(make)
            return self._run(op, None if limit is None else time.monotonic() + limit, limit)

    def _fall_back(self) -> None:
        """Reconnect once without pipelining, after a wrong guess closed the connection."""
        stats = self._session.stats
        fresh = Connection._connect(replace(self._session.params, pipeline_connect=None))
        stats.add(fresh._session.stats)
        fresh._session.stats = stats
        self._sock, self._session, self._startup = fresh._sock, fresh._session, None
        self._peer, self._timed = fresh._peer, fresh._timed
        self._closed_reason = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<pgpipe.Connection {self._session!r} {state}>"

    # -- the I/O loop --------------------------------------------------------

    def _run(self, op: _Op, deadline: float | None = None, limit: float | None = None) -> _Op:
        """Run ``op`` to its end; past ``deadline`` (``limit`` seconds after the call
        began), or on KeyboardInterrupt, cancel it and bring the connection back in sync."""
        try:
            self._pump(op, deadline)
        except TimeoutError:
            if isinstance(op, Startup):
                self._abort("timeout waiting for the server")
                raise errors.OperationalError("timeout waiting for the server") from None
            why = f"the statement timed out after {limit:g} s"
            raise timeout_error(why, op, self._cancel_and_drain(op, why), self) from None
        except KeyboardInterrupt as exc:
            if self._sending or isinstance(op, Startup):
                # An unknown part of the command went out: nothing can put it right.
                self._abort(interrupted(exc))
            else:
                self._cancel_and_drain(op, "interrupted by KeyboardInterrupt")
            raise
        except OSError as exc:
            reason = f"connection lost: {exc.strerror or exc}"
            self._abort(reason)
            raise errors.OperationalError(reason) from None
        except BaseException as exc:
            self._abort(interrupted(exc))
            raise
        if self._session.is_closed:
            self._abort(str(op.error) if op.error else "the server closed the connection")
        return op

    def _pump(self, op: Operation, deadline: float | None) -> None:
        """Send what the core queued and feed ``op`` until it is done."""
        session = self._session
        core = session.core
        sock = self._sock
        while True:
            if op.in_rows:
                rows = core.next_rows()
                if rows:
                    op.feed_rows(rows)
                    continue
            event = core.next_event()
            if event is NEED_DATA:
                if self._flush(deadline):
                    continue
                self._settimeout(deadline)
                session.receive_data(sock.recv(_RECV_SIZE))
            elif op.feed(event):
                return

    def _settimeout(self, deadline: float | None) -> None:
        """Block in the next socket call until ``deadline`` (forever when None)."""
        if deadline is None:
            if self._timed:
                self._sock.settimeout(None)
                self._timed = False
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self._sock.settimeout(remaining)
        self._timed = True

    def _flush(self, deadline: float | None) -> bool:
        """Write what is queued; True when it read from the server meanwhile.

        A large write (a long pipeline, executemany's chunks as they are
        produced) goes out in pieces while whatever the server answers is
        read, so neither side's buffers fill up and deadlock; it returns as
        soon as something was read, for the caller to hand on, and is called
        again for the rest. A timeout leaves exactly
        the unsent part in ``_unsent``.
        """
        unsent = self._unsent
        session = self._session
        sock = self._sock
        while True:
            data = session.data_to_send()
            if data:
                unsent += data
            if not unsent:
                return False
            if len(unsent) <= _SMALL_WRITE and not session.producing:
                while unsent:
                    self._settimeout(deadline)
                    self._sending = True
                    del unsent[: sock.send(unsent)]
                    self._sending = False
                continue
            sock.setblocking(False)
            self._timed = True
            while unsent:
                wait = None
                if deadline is not None:
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        raise TimeoutError
                readable, writable, _ = select.select((sock,), (sock,), (), wait)
                if not readable and not writable:
                    raise TimeoutError
                if writable:
                    self._sending = True
                    with suppress(BlockingIOError):
                        del unsent[: sock.send(memoryview(unsent)[:_WRITE_PIECE])]
                    self._sending = False
                if readable:
                    try:
                        received = sock.recv(_RECV_SIZE)
                    except BlockingIOError:
                        continue
                    session.receive_data(received)
                    return True

    def _cancel_and_drain(self, op: Operation, why: str) -> bool:
        """Cancel the running statement and read to its end within cancel_timeout.

        True when the connection is back in sync; False when it had to be closed.
        """
        limit = self._session.params.cancel_timeout
        deadline = time.monotonic() + limit
        try:
            self._send_cancel(deadline)
            self._pump(op, deadline)
            if op.finish():
                self._pump(op, deadline)
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

    def _send_cancel(self, deadline: float) -> None:
        """One CancelRequest on a new connection to the same address; returns once the
        server closed it (the backend has been signalled)."""
        key = cancel_key(self._session.core.backend_key)
        exchange = CancelExchange(self._session.params, key, self._session.tls is not None)
        family, address = self._peer
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.connect(address)
            while not exchange.done:
                data = exchange.data_to_send()
                if data:
                    sock.sendall(data)
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                exchange.receive_data(sock.recv(_RECV_SIZE))

    def _abort(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        self._sock.close()

    def _check_open(self) -> None:
        if self._closed_reason is not None:
            raise errors.InterfaceError(f"the connection is closed ({self._closed_reason})")

    # -- public API ----------------------------------------------------------

    def query(self, sql: str, *params: object, timeout: float | None = None) -> Result:
        """Run one statement; parameter types are inferred from the Python values.

        One round trip, whether or not this SQL text was seen before. After
        ``timeout`` seconds (default: the connection's ``command_timeout``) the
        statement is cancelled and ``QueryTimeout`` raised.
        """
        return self._call(lambda s: s.query(sql, params), timeout).result()

    def query_with_param_types(
        self, sql: str, params: Sequence[tuple[object, int]], *, timeout: float | None = None
    ) -> Result:
        """Run one statement with ``(value, pgpipe.Type.X)`` pairs: one round trip."""
        return self._call(lambda s: s.query_with_param_types(sql, params), timeout).result()

    def execute(self, sql: str, *, timeout: float | None = None) -> list[Result]:
        """Run SQL text that may hold several statements (simple protocol, no parameters)."""
        return self._call(lambda s: s.execute(sql), timeout).result()

    def executemany(
        self,
        sql: str,
        rows: Iterable[Sequence[object]],
        *,
        param_types: Sequence[int] | None = None,
        timeout: float | None = None,
    ) -> Results:
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
        return self._call(lambda s: s.executemany(sql, batch, param_types), timeout).result()

    def prepare(self, sql: str, *, param_types: Sequence[int] | None = None) -> PreparedStatement:
        """Prepare a named statement (one round trip); its runs send no Parse.

        The server infers the parameter types unless ``param_types`` states
        them; values are then encoded for exactly those types. Free it with
        ``close()`` (a protocol Close message) or a ``with`` block.
        """
        prepared = self._call(lambda s: s.prepare(sql, param_types)).result()
        return PreparedStatement(self, prepared)

    def stream(
        self,
        sql: str,
        *params: object,
        batch_size: int = 1000,
        timeout: float | None = None,
    ) -> RowStream:
        """Iterate over a statement's rows as they arrive, ``batch_size`` at a time.

        Memory holds one batch, whatever the result's size: the rows come
        through a portal, Execute with a row limit, and the next batch is asked
        for before the current one is handed out. Stopping early (``close()``,
        leaving a ``with`` block, or simply running another command on the
        connection) closes the portal and leaves the connection in sync.
        ``timeout`` applies to the wait for each batch.

        >>> for (n,) in conn.stream("SELECT generate_series(1, $1)", 10**7):  # doctest: +SKIP
        ...     total += n
        """
        op = self._call(lambda s: s.stream(sql, params, batch_size), timeout)
        stream = RowStream(self, op, batch_size, timeout)
        with self._lock:
            self._stream_after(stream)
        return stream

    def _stream_next(self, stream: RowStream) -> list[tuple[Any, ...]]:
        """The next batch of a stream's rows; asks for the one after it at once."""
        limit = seconds(stream.timeout, "timeout") or self._session.params.command_timeout
        with self._lock:
            op = stream.op
            if self._stream is not op:
                raise errors.InterfaceError(
                    "the stream was ended by another command on this connection"
                )
            self._check_open()
            try:
                self._run(op, None if limit is None else time.monotonic() + limit, limit)
            finally:
                if op.done or self.closed:
                    self._stream = None
            self._stream_after(stream)
        return stream.rows

    def _stream_after(self, stream: RowStream) -> None:
        """Take the batch received; unless the stream ended, send for the next one."""
        op = stream.op
        stream.rows = op.rows()
        if op.done:
            self._stream = None
            op.check()
            return
        self._stream = op
        op.more(stream.batch_size)
        try:
            self._flush(None)
        except OSError as exc:
            reason = f"connection lost: {exc.strerror or exc}"
            self._abort(reason)
            raise errors.OperationalError(reason) from None

    def _end_stream(self) -> None:
        """Close an open stream's portal and read to its end (under the lock)."""
        op, self._stream = self._stream, None
        if op is not None and op.finish():
            self._run(op)

    def _close_stream(self, stream: RowStream) -> None:
        with self._lock:
            if self._stream is stream.op and not self.closed:
                self._end_stream()

    @contextmanager
    def pipeline(
        self, mode: str = "independent", *, timeout: float | None = None
    ) -> Iterator[ConnectionPipeline]:
        """Queue commands to send in one flight at the end of the block.

        ``mode`` is "independent" (a Sync per command: each its own implicit
        transaction) or "atomic" (one Sync: all or nothing; the commands after
        a failure raise ``PipelineAborted``). Each command returns a handle;
        ``handle.result()`` gives its result or raises its error once the
        pipeline has run. Nothing is sent if the block raises.

        >>> with conn.pipeline() as p:  # doctest: +SKIP
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
        pipeline = ConnectionPipeline(self, mode, timeout)
        self._pipeline = pipeline
        try:
            yield pipeline
        except BaseException:
            pipeline.discard("the pipeline's block raised")
            raise
        finally:
            self._pipeline = None
        pipeline.flush()

    @contextmanager
    def transaction(
        self,
        *,
        isolation: str | None = None,
        read_only: bool = False,
        deferrable: bool = False,
    ) -> Iterator[Connection]:
        """A transaction block: COMMIT when the block ends, ROLLBACK when it raises.

        Inside another transaction (a ``transaction()`` block or the caller's
        own BEGIN) it is a savepoint, released or rolled back to. ``isolation``
        is "read committed", "repeatable read" or "serializable"; the options
        apply to the outermost block only.

        >>> with conn.transaction():  # doctest: +SKIP
        ...     conn.query("INSERT INTO t VALUES ($1)", 1)
        """
        block = Block(isolation, read_only, deferrable)
        self.execute(block.enter(self.transaction_status, self._depth))
        self._depth += 1
        try:
            yield self
            # A pipeline's statements written inside the block run inside it.
            pipeline = self._pipeline
            if pipeline is not None and len(pipeline):
                pipeline.flush()
        except BaseException:
            self._depth -= 1
            if self._pipeline is not None:
                self._pipeline.discard("the transaction() block it was written in raised")
            statement, _ = block.exit(self.transaction_status, failed=True)
            if statement is not None and not self.closed:
                # The block's own exception is what the caller needs to see; a
                # rollback that fails leaves the connection closed and says why.
                with suppress(errors.Error):
                    self.execute(statement)
            raise
        self._depth -= 1
        self._check_open()
        statement, error = block.exit(self.transaction_status, failed=False)
        if statement is not None:
            self.execute(statement)
        if error is not None:
            raise error

    def cancel(self) -> None:
        """Ask the server to cancel the statement this connection is running.

        Callable from any thread; returns once the server has taken the request
        (or after ``cancel_timeout``). The call running the statement raises
        ``QueryCanceled`` and the connection stays usable. When nothing runs the
        server ignores the request; a statement that starts while the request
        is on its way may be the one cancelled, as with libpq.
        """
        if self.closed or self._session.core.backend_key is None:
            return
        try:
            self._send_cancel(time.monotonic() + self._session.params.cancel_timeout)
        except OSError as exc:
            raise errors.OperationalError(
                f"could not send the cancel request: {exc.strerror or exc}"
            ) from None

    def register_type(
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
        rows = (self.query(TYPE_LOOKUP, name)).rows
        info = TypeInfo.found(name, rows)
        self._session.register(info, decode, encode, decode_binary, encode_binary)
        return info

    def close(self) -> None:
        """Send Terminate and close the socket; closing twice is harmless."""
        if self._closed_reason is not None:
            return
        self._closed_reason = "closed by the client"
        try:
            self._session.core.send_terminate()
            self._sock.sendall(self._session.data_to_send())
        except (OSError, errors.Error):
            pass
        self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PreparedStatement(StatementHandle[Connection]):
    """A statement prepared on the server; see ``Connection.prepare``."""

    __slots__ = ()

    def query(self, *params: object, timeout: float | None = None) -> Result:
        """Run it: Bind, Describe, Execute and Sync in one packet, one round trip."""
        prepared = self._prepared
        return self._conn._call(lambda s: s.run_prepared(prepared, params), timeout).result()

    def close(self) -> None:
        """Free it on the server with a Close message (one round trip); idempotent."""
        prepared = self._prepared
        if not prepared.closed and not self._conn.closed:
            self._conn._call(lambda s: s.close_prepared(prepared)).check()
        prepared.closed = True

    def __enter__(self) -> PreparedStatement:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RowStream:
    """Rows of one statement as they arrive; see ``Connection.stream``."""

    __slots__ = ("_closed", "_pos", "batch_size", "conn", "op", "rows", "timeout")

    def __init__(
        self, conn: Connection, op: Stream, batch_size: int, timeout: float | None
    ) -> None:
        self.conn = conn
        self.op = op
        self.batch_size = batch_size
        self.timeout = timeout
        self.rows: list[tuple[Any, ...]] = []
        self._pos = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"<pgpipe.RowStream {'done' if self.op.done else 'open'}>"

    @property
    def columns(self) -> tuple[Column, ...]:
        """The result's columns (empty for a statement that returns no rows)."""
        return self.op.columns

    @property
    def rowcount(self) -> int:
        """How many rows were received so far."""
        return self.op.rowcount

    def __iter__(self) -> RowStream:
        return self

    def __next__(self) -> tuple[Any, ...]:
        while self._pos >= len(self.rows):
            if self.op.ended(self._closed):
                raise StopIteration
            self.conn._stream_next(self)
            self._pos = 0
        row = self.rows[self._pos]
        self._pos += 1
        return row

    def close(self) -> None:
        """Stop early: close the portal, read what was in flight, drop it."""
        self.rows, self._pos = [], 0
        self._closed = True
        self.conn._close_stream(self)

    def __enter__(self) -> RowStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ConnectionPipeline(Pipeline):
    """A pipeline on a blocking connection; see ``Connection.pipeline``."""

    __slots__ = ("_conn", "_timeout")

    def __init__(self, conn: Connection, mode: str, timeout: float | None) -> None:
        super().__init__(mode)
        self._conn = conn
        self._timeout = timeout

    def flush(self) -> None:
        """Send what is queued (one flight) and read every answer; the handles then hold
        their results. The pipeline can take more commands afterwards."""
        if len(self):
            self._conn._call(self.taken(), self._timeout)


def connect(dsn: str | None = None, **params: Any) -> Connection:
    """Open a blocking connection.

    ``dsn`` is a ``postgresql://`` URI or a libpq ``key=value`` string.
    Keyword arguments take libpq's parameter names (host, port, user,
    password, dbname, sslmode, ...; see docs/connecting.md) plus ``ssl`` (an
    ``ssl.SSLContext``), ``server_settings`` and the pipelined-connect
    options. They override the string, which overrides a connection service,
    which overrides the PG* environment variables.
    """
    environ = os.environ
    return Connection._connect(
        parse_dsn(dsn, params, environ, lambda name: servicefile.lookup(name, environ))
    )
