"""Operations: each command's reader of the server's answers, sans-IO.

A command queued on a ``Session`` returns an operation; the adapters hand it
every event (``feed``, runs of DataRow bodies through ``feed_rows``) until it says it
is done, at its own ReadyForQuery (or CloseComplete inside an atomic
pipeline). Rows are decoded in batches as they arrive, and made by the command's row
factory if it has one (None: tuples, as decoded); an error (from the server,
or a value that fails to decode or a row factory that fails) is kept and
raised once the connection is back in sync.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pgpipe import errors
from pgpipe._compiled import caused
from pgpipe._statement import Statement, made_rows
from pgpipe.protocol import events as ev
from pgpipe.protocol.backend import data_row_values
from pgpipe.result import Column, Result, Results
from pgpipe.rows import RowFactory, RowMaker

if TYPE_CHECKING:
    from pgpipe._session import Session
    from pgpipe.protocol.connection import ProtocolConnection

DECODE_BATCH: Final = 1024  # rows decoded at a time as they arrive
COPY_BATCH: Final = 1024  # COPY TO rows handed to the reader at a time
_COPY_ELSEWHERE: Final = "COPY runs through copy() (a block that sends or reads its data)"


class Operation:
    """Consumes the events that answer one command; ``feed`` returns True when done.

    While ``in_rows`` is set (after a RowDescription), the adapters hand runs of
    DataRow bodies to ``feed_rows`` in one call (``ProtocolConnection.next_row_bodies``),
    unsplit: a body that does not split into its values raises ProtocolError
    out of ``feed_rows`` (or ``feed``), and the connection is closed.
    """

    __slots__ = ("error", "in_rows", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.error: errors.Error | None = None
        self.in_rows = False

    def feed(self, event: ev.Event) -> bool:
        raise NotImplementedError

    def feed_rows(self, bodies: list[bytes]) -> None:
        raise NotImplementedError

    def take_answer(self, core: ProtocolConnection) -> bool:
        """Take the whole answer at once when the core has it all (see
        ``ProtocolConnection.next_answer``); True when done so. Most operations
        read event by event: False."""
        return False

    def outcome(self) -> tuple[errors.Error | None, int]:
        """How it ended, for a timeout's message: the error that counts (a cancel
        first) and how many statements it ran, each with its own outcome."""
        return self.error, 1

    def _common(self, event: ev.Event) -> bool:
        """Handle what any state may receive; True when the operation is over."""
        if self.session.note(event):
            return False
        if isinstance(event, ev.ErrorResponse):
            self.error = errors.from_fields(event.fields)
            return event.is_fatal
        elif isinstance(event, ev.ConnectionClosed):
            if self.error is None:
                self.error = errors.OperationalError(
                    "the server closed the connection unexpectedly"
                )
            return True
        return False

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> bool:
        """Queue what ends this operation early (a stream's Close and Sync); True if
        the caller must then read on until it is done."""
        return False


_AUTH_METHODS: Final = {"ok": "trust", "password": "password", "md5": "md5", "sasl": "scram"}


class Startup(Operation):
    """StartupMessage to the first ReadyForQuery, answering authentication on the way."""

    __slots__ = ()

    def feed(self, event: ev.Event) -> bool:
        if isinstance(event, ev.ReadyForQuery):
            return True
        if isinstance(event, ev.AuthenticationRequest):
            if self.session.auth_method is None:
                self.session.auth_method = _AUTH_METHODS.get(event.method, event.method)
            return False
        if isinstance(event, ev.ConnectionClosed) and self.error is None:
            self.error = errors.OperationalError("the server closed the connection during startup")
            return True
        return self._common(event)


class UnnamedQuery(Operation):
    """One statement through the one-packet Parse/Bind/Describe/Execute/Close/Sync.

    Rows are decoded in batches as they arrive, so a large result is not held
    twice. A value that fails to decode is remembered and raised once
    ReadyForQuery has arrived, so the connection stays in sync.
    """

    __slots__ = (
        "_copy",
        "_decode_error",
        "_factory",
        "_first_values",
        "_key",
        "_make",
        "_pending",
        "_statement",
        "_synced",
        "rows",
        "status",
    )

    def __init__(
        self,
        session: Session,
        key: tuple[str, tuple[int, ...]],
        synced: bool = True,
        factory: RowFactory[Any] | None = None,
    ) -> None:
        # Operation.__init__ written out: one is made per query, a call less.
        self.session = session
        self.error: errors.Error | None = None
        self.in_rows = False
        self._key = key
        self._factory = factory
        self._make: RowMaker[Any] | None = None  # the factory's, once the columns are known
        self._first_values: tuple[Any, ...] | None = None  # for Result.scalar, with a factory
        # Without its own Sync (in an atomic pipeline) it ends at CloseComplete,
        # or at an error, which skips what follows up to the pipeline's Sync.
        self._synced = synced
        self._copy = False
        self._statement: Statement | None = None
        self._pending: list[bytes] = []  # DataRow bodies not yet decoded
        self._decode_error: Exception | None = None
        self.rows: list[tuple[Any, ...]] = []
        self.status: str | None = None

    def feed(self, event: ev.Event) -> bool:
        if isinstance(event, ev.DataRow):
            # A row outside a run the adapter takes at once (rare): decoded now.
            self._decode_pending()
            self._decode(None, [event.values])
        elif type(event) in _QUIET:
            if not self._synced and type(event) is ev.CloseComplete:
                return True
        elif isinstance(event, ev.RowDescription):
            self._statement = self.session.statement(self._key, event.fields)
            self.in_rows = True
        elif isinstance(event, ev.CommandComplete):
            self.status = event.tag
            self.in_rows = False
        elif isinstance(event, ev.ReadyForQuery):
            self.in_rows = False
            # The last rows, while the run can still close the connection over a
            # malformed one (and after any ParameterStatus, for late decoders).
            self._decode_pending()
            return True
        elif isinstance(event, ev.CopyInResponse | ev.CopyOutResponse):
            self._copy = True
        else:
            return self._common(event) or (not self._synced and isinstance(event, ev.ErrorResponse))
        return False

    def feed_rows(self, bodies: list[bytes]) -> None:
        pending = self._pending
        pending += bodies
        if len(pending) >= DECODE_BATCH:
            self._decode_pending()

    def take_answer(self, core: ProtocolConnection) -> bool:
        # The common answer, read in one call instead of an event per message.
        if not self._synced:
            return False
        answer = core.next_answer()
        if answer is None:
            return False
        fields, bodies, self.status = answer
        if fields is not None:
            statement = self._statement = self.session.statement(self._key, fields.fields)
            if bodies:
                # _decode, written out: nothing was decoded before
                try:
                    rows = statement.decode_bodies(bodies)
                    factory = self._factory
                    self.rows = rows if factory is None else self._made(rows, statement, factory)
                except errors.ProtocolError:
                    raise
                except Exception as exc:
                    self._decode_error = exc
        return True

    def _decode_pending(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            self._decode(pending, None)

    def _decode(
        self, bodies: list[bytes] | None, values: list[tuple[bytes | None, ...]] | None
    ) -> None:
        """Decode rows (bodies or split values) into ``rows``; a value that fails
        is kept for ``result``, a malformed body raises ProtocolError."""
        if self._decode_error is not None:
            return
        statement = self._statement
        if statement is None:
            self._decode_error = errors.ProtocolError("DataRow without a RowDescription")
            return
        try:
            if bodies is not None:
                rows = statement.decode_bodies(bodies)
            else:
                rows = statement.decode_rows(values or [])
            factory = self._factory
            if factory is not None:
                rows = self._made(rows, statement, factory)
            self.rows += rows
        except errors.ProtocolError:
            raise
        except Exception as exc:
            self._decode_error = exc

    def _made(
        self, rows: list[tuple[Any, ...]], statement: Statement, factory: RowFactory[Any]
    ) -> list[Any]:
        """A batch of rows made by the row factory (its maker made at the first batch)."""
        make = self._make
        if make is None:
            make = self._make = statement.maker(factory)
            self._first_values = rows[0]
        return made_rows(rows, make, statement.columns)

    def result(self) -> Result[Any]:
        if self.error is not None:  # self.check(), written out
            raise self.error
        if self._copy:
            raise errors.NotSupportedError(_COPY_ELSEWHERE)
        if self._pending:  # not decoded in the run (an atomic pipeline's command)
            try:
                self._decode_pending()
            except errors.ProtocolError as exc:
                raise self.session.core.fail(str(exc)) from None
        statement = self._statement or self.session.statement(self._key, ())
        error = self._decode_error
        if error is not None:
            if isinstance(error, errors.Error):
                raise error
            raise errors.DataError(f"could not decode a result value: {error}") from error
        return Result(self.rows, statement.columns, self.status, self._first_values)


@dataclass(slots=True)
class Prepared:
    """A named statement on the server: its name, SQL and parameter types."""

    name: str
    sql: str
    param_oids: tuple[int, ...]
    closed: bool = False
    # Why its Parse failed, when it did (for the runs sent after it in a pipeline).
    failed: errors.Error | None = None


class PreparedQuery(UnnamedQuery):
    """A run of a named statement (Bind, Describe, Execute, Sync; Parse too the first time).

    When the server says the statement does not exist (SQLSTATE 26000: a
    transaction-mode pooler gave this session another server connection) and
    no transaction was open, it prepares it again and retries once, in one
    packet: Close (harmless if absent), Parse, Bind, Describe, Execute, Sync.
    Inside a transaction the error stands, since the failed Bind aborted it;
    so it does when other commands were sent after this one (a pipeline),
    whose answers come first. The cache forgets the statement either way.
    """

    __slots__ = ("_bound", "_idle", "_parsed", "_prepared", "_with_parse")

    def __init__(
        self,
        session: Session,
        key: tuple[str, tuple[int, ...]],
        prepared: Prepared,
        bound: tuple[Sequence[int], Sequence[bytes | None], Sequence[int]],
        with_parse: bool,
        factory: RowFactory[Any] | None = None,
    ) -> None:
        UnnamedQuery.__init__(self, session, key, True, factory)
        self._prepared = prepared
        # Its Bind's parameter formats, values and result formats, for the retry
        # (None once retried).
        self._bound: tuple[Sequence[int], Sequence[bytes | None], Sequence[int]] | None = bound
        self._with_parse = with_parse
        self._parsed = False  # its Parse answered ParseComplete
        self._idle = session.core.transaction_status == "I"

    def take_answer(self, core: ProtocolConnection) -> bool:
        # A run without Parse is answered as the unnamed query is, less
        # ParseComplete and CloseComplete (an error, retried or not, goes by feed).
        if self._with_parse:
            return False
        return UnnamedQuery.take_answer(self, core)

    def feed(self, event: ev.Event) -> bool:
        if type(event) is ev.ParseComplete:
            self._parsed = True
        if not isinstance(event, ev.ReadyForQuery) or not isinstance(
            self.error, errors.InvalidSqlStatementName
        ):
            done = super().feed(event)
            if done and self.error is not None and self._with_parse and not self._parsed:
                # Not prepared: forgotten, to be prepared again next time. (A
                # statement that was prepared and then failed to run stays.)
                self._prepared.failed = self.error
                self.session.forget(self._key, self._prepared)
            return done
        bound = self._bound
        core = self.session.core
        # Retried only when nothing else was sent after it: in a pipeline the
        # retry's answers would come after the later statements' answers.
        if bound is not None and self._idle and event.status == "I" and not core.pending:
            self._bound = None
            self.error = None
            self.rows, self._pending, self.status, self._statement = [], [], None, None
            self._decode_error, self._make, self._first_values = None, None, None
            self._with_parse, self._parsed = True, False
            prepared = self._prepared
            # Close first (harmless if absent), so the Parse cannot collide.
            core.send_named_query(
                prepared.name,
                *bound,
                parse=(prepared.sql, prepared.param_oids),
                close_first=True,
            )
            return False
        name = self._prepared.name
        failed = self._prepared.failed
        if failed is not None:
            why = (
                f"prepared statement {name!r} was never prepared: its Parse, sent earlier in "
                f"this pipeline, failed ({failed.__class__.__name__}: {failed})"
            )
        else:
            why = (
                f"prepared statement {name!r} does not exist on the server connection in use "
                "(a transaction-mode pooler may have moved this session); pgpipe prepares it "
                "again by itself only outside a transaction and not in the middle of a pipeline"
            )
        self.error = errors.InvalidSqlStatementName(why, self.error.fields)
        self.session.forget(self._key, self._prepared)
        return super().feed(event)


class Describing(Operation):
    """Parse and Describe(statement) of a named statement, then Sync."""

    __slots__ = ("param_oids", "prepared")

    def __init__(self, session: Session, prepared: Prepared) -> None:
        super().__init__(session)
        self.prepared = prepared
        self.param_oids: tuple[int, ...] = ()

    def feed(self, event: ev.Event) -> bool:
        if isinstance(event, ev.ParameterDescription):
            self.param_oids = event.type_oids
        elif isinstance(event, ev.ReadyForQuery):
            return True
        elif type(event) in _QUIET or isinstance(event, ev.RowDescription):
            pass
        else:
            return self._common(event)
        return False

    def result(self) -> Prepared:
        self.check()
        self.prepared.param_oids = self.param_oids
        return self.prepared


class Closing(Operation):
    """Close of a named statement, then Sync."""

    __slots__ = ()

    def feed(self, event: ev.Event) -> bool:
        if isinstance(event, ev.ReadyForQuery):
            return True
        if type(event) in _QUIET:
            return False
        return self._common(event)


# Events that need no action from an operation beyond the core's own checks.
_QUIET: Final = frozenset(
    {
        ev.ParseComplete,
        ev.BindComplete,
        ev.CloseComplete,
        ev.NoData,
        ev.EmptyQueryResponse,
        ev.PortalSuspended,
        ev.CopyData,
        ev.CopyDone,
    }
)


class Script(Operation):
    """A simple Query: any number of statements, one Result each."""

    __slots__ = ("_copy", "_factory", "_fields", "_rows", "results")

    def __init__(self, session: Session, factory: RowFactory[Any] | None = None) -> None:
        super().__init__(session)
        self._factory = factory
        self._copy = False
        self._fields: tuple[ev.FieldDescription, ...] = ()
        self._rows: list[tuple[bytes | None, ...]] = []
        self.results: list[tuple[tuple[ev.FieldDescription, ...], list[Any], str | None]] = []

    def feed(self, event: ev.Event) -> bool:
        if isinstance(event, ev.DataRow):
            self._rows.append(event.values)
        elif isinstance(event, ev.RowDescription):
            self._fields = event.fields
            self.in_rows = True
        elif isinstance(event, ev.CommandComplete | ev.EmptyQueryResponse):
            tag = event.tag if isinstance(event, ev.CommandComplete) else None
            self.results.append((self._fields, self._rows, tag))
            self._fields, self._rows = (), []
            self.in_rows = False
        elif isinstance(event, ev.ReadyForQuery):
            self.in_rows = False
            return True
        elif isinstance(event, ev.CopyInResponse | ev.CopyOutResponse):
            self._copy = True
        elif type(event) not in _QUIET:
            return self._common(event)
        return False

    def feed_rows(self, bodies: list[bytes]) -> None:
        self._rows += map(data_row_values, bodies)

    def result(self) -> list[Result[Any]]:
        self.check()
        if self._copy:
            raise errors.NotSupportedError(_COPY_ELSEWHERE)
        build, factory = self.session.build_result, self._factory
        return [build(*r, factory) for r in self.results]


class Many(Operation):
    """executemany: one Parse and Describe per run of rows with the same parameter
    types, a Bind and an Execute per row, one Close and one Sync for all of them.

    One implicit transaction: the first error skips every later row and nothing
    is committed. Each row's answer is kept as its command tag, and its rows
    and statement only when it returned rows (few objects for the collector).
    """

    __slots__ = ("_factory", "_rows", "_statement", "client_error", "returned", "tags")

    def __init__(self, session: Session, factory: RowFactory[Any] | None = None) -> None:
        super().__init__(session)
        self._factory = factory
        # A value that could not be encoded after the first rows were sent.
        self.client_error: Exception | None = None
        self._statement: Statement | None = None
        self._rows: list[tuple[bytes | None, ...]] = []
        self.tags: list[str] = []
        # Row index -> (statement, raw rows) for the rows that returned rows.
        self.returned: dict[int, tuple[Statement, list[tuple[bytes | None, ...]]]] = {}

    def feed(self, event: ev.Event) -> bool:
        kind = type(event)
        if kind is ev.BindComplete:
            pass
        elif isinstance(event, ev.CommandComplete):
            tags = self.tags
            if self._rows and self._statement is not None:
                self.returned[len(tags)] = (self._statement, self._rows)
                self._rows = []
            tags.append(event.tag)
            # The rows that follow, answered alike, are taken from the core at once.
            tags += self.session.core.next_command_tags()
        elif kind in _QUIET or kind is ev.ParameterDescription:
            pass
        elif isinstance(event, ev.DataRow):
            self._rows.append(event.values)
        elif isinstance(event, ev.RowDescription):
            self._statement = Statement(event.fields, self.session)
            self.in_rows = True
        elif isinstance(event, ev.ReadyForQuery):
            return True
        elif isinstance(event, ev.CopyInResponse | ev.CopyOutResponse):
            pass  # the core refuses COPY FROM STDIN; COPY TO rows are dropped
        else:
            return self._common(event)
        return False

    def feed_rows(self, bodies: list[bytes]) -> None:
        self._rows += map(data_row_values, bodies)

    def result(self) -> Results[Any]:
        if self.client_error is not None:
            raise self.client_error
        self.check()
        # Every row ran the same SQL: a row without rows still has its columns.
        # Rows that returned rows are decoded now (a value that cannot be is
        # raised from this call); the others' Results are made when looked at.
        columns = self._statement.columns if self._statement is not None else ()
        made = {
            index: statement.result(rows, self.tags[index], self._factory)
            for index, (statement, rows) in self.returned.items()
        }
        return Results(self.tags, columns, made)


class CopyCommand(Operation):
    """COPY ... FROM STDIN or TO STDOUT, through a simple Query.

    ``feed`` returns True when the COPY has started (the server's CopyInResponse
    or CopyOutResponse: the caller sends or reads data), when a batch of COPY TO
    data is in, and at ReadyForQuery. ``finish`` drops what COPY TO data is still
    to come (read to the end, not kept).
    """

    __slots__ = (
        "_discard",
        "_named",
        "chunks",
        "column_formats",
        "direction",
        "done",
        "format",
        "not_copy",
        "status",
    )

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.direction = ""  # "in" or "out" once the server said
        self.format = 0  # the server's overall format: 0 text (or CSV), 1 binary
        self.column_formats: tuple[int, ...] = ()
        self.chunks: list[bytes] = []  # COPY TO data not yet read, a row each
        self.done = False
        self.not_copy = False  # the statement was not a COPY FROM STDIN / TO STDOUT
        self.status: str | None = None
        self._discard = False
        self._named = False

    def feed(self, event: ev.Event) -> bool:
        if isinstance(event, ev.CopyData):
            if not self._discard:
                self.chunks.append(event.data)
                return len(self.chunks) >= COPY_BATCH
        elif isinstance(event, ev.CopyInResponse | ev.CopyOutResponse):
            self.direction = "in" if isinstance(event, ev.CopyInResponse) else "out"
            self.format, self.column_formats = event.format, event.column_formats
            return True
        elif isinstance(event, ev.CopyDone):
            pass
        elif isinstance(event, ev.CommandComplete):
            self.status = event.tag
        elif isinstance(event, ev.ReadyForQuery):
            self.done = True
            self.session.core.copy_in_allowed = False
            return True
        elif isinstance(event, ev.RowDescription | ev.DataRow | ev.EmptyQueryResponse):
            self.not_copy = True
        elif self._common(event):
            self.done = True
            return True
        return False

    def finish(self) -> bool:
        self._discard = True
        self.chunks.clear()
        return not self.done

    def check(self) -> None:
        """Raise the server's error, its message naming the row when the server
        said which ("COPY t, line 3, column a: ...")."""
        error = self.error
        if isinstance(error, errors.DatabaseError) and error.where and not self._named:
            where = error.where.splitlines()[0]
            self.error = type(error)(f"{error.message} ({where})", fields=error.fields)
            self._named = True
        super().check()


class Stream(Operation):
    """A result read in batches through a portal: Execute with a row limit and Flush.

    ``feed`` returns True when a batch is ready (PortalSuspended) or the stream
    has ended (ReadyForQuery, after the Close and Sync it queues itself when the
    portal completes or fails). ``finish`` ends it early; rows still in flight
    are then dropped.
    """

    __slots__ = (
        "_closing",
        "_factory",
        "_key",
        "_make",
        "_statement",
        "_synced",
        "batch",
        "done",
        "ended_early",
        "rowcount",
        "status",
    )

    def __init__(
        self,
        session: Session,
        key: tuple[str, tuple[int, ...]],
        factory: RowFactory[Any] | None = None,
    ) -> None:
        super().__init__(session)
        self._key = key
        self._factory = factory
        self._make: RowMaker[Any] | None = None
        self._statement: Statement | None = None
        self._synced = False
        self._closing = False
        self.batch: list[tuple[bytes | None, ...]] = []
        self.done = False
        self.ended_early = False  # by finish(), before its last row
        self.rowcount = 0
        self.status: str | None = None

    def feed(self, event: ev.Event) -> bool:
        if isinstance(event, ev.DataRow):
            if not self._closing:
                self.batch.append(event.values)
        elif isinstance(event, ev.PortalSuspended):
            self.in_rows = False
            return not self._closing
        elif isinstance(event, ev.CommandComplete | ev.EmptyQueryResponse):
            if isinstance(event, ev.CommandComplete):
                self.status = event.tag
            self.in_rows = False
            self._end(close_portal=False)
        elif isinstance(event, ev.RowDescription):
            self._statement = self.session.statement(self._key, event.fields)
            self.in_rows = True
        elif type(event) in _QUIET:
            pass
        elif isinstance(event, ev.ReadyForQuery):
            self.in_rows = False
            self.done = True
            return True
        elif isinstance(event, ev.CopyInResponse | ev.CopyOutResponse):
            pass
        else:
            if self._common(event):
                self.done = True
                return True
            if isinstance(event, ev.ErrorResponse):
                # The server skips everything up to a Sync: send one.
                self._closing = True
                self.in_rows = False
                self._sync()
        return False

    def feed_rows(self, bodies: list[bytes]) -> None:
        if not self._closing:
            self.batch += map(data_row_values, bodies)

    def _sync(self) -> None:
        if not self._synced:
            self._synced = True
            self.session.core.send_sync()

    def _end(self, close_portal: bool) -> None:
        core = self.session.core
        if not self._synced:
            if close_portal:
                core.send_close("P", "")
            core.send_close("S", "")
            self._sync()

    def more(self, batch_size: int) -> None:
        """Ask for the next batch (sent with the next flight, before this one is used)."""
        core = self.session.core
        core.send_execute("", batch_size)
        core.send_flush()
        self.in_rows = True

    def ended(self, closed_by_caller: bool) -> bool:
        """Whether every row was received; an error if another command ended it early."""
        if not self.done:
            return False
        if self.ended_early and not closed_by_caller:
            raise errors.InterfaceError(
                "the stream was ended by another command on this connection"
            )
        return True

    def finish(self) -> bool:
        if self.done:
            return False
        self.ended_early = not self._closing
        self._closing = True
        self._end(close_portal=True)
        return True

    def rows(self) -> list[Any]:
        """The batch received, decoded (and made by the row factory); empties it."""
        raw, self.batch = self.batch, []
        if not raw:
            return []
        self.rowcount += len(raw)
        statement = self._statement
        if statement is None:
            raise errors.ProtocolError("DataRow without a RowDescription")
        try:
            rows = statement.decode_rows(raw)
        except errors.Error:
            raise
        except Exception as exc:
            raise caused(errors.DataError(f"could not decode a result value: {exc}"), exc) from exc
        factory = self._factory
        if factory is None:
            return rows
        if self._make is None:
            self._make = statement.maker(factory)
        return made_rows(rows, self._make, statement.columns)

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._statement.columns if self._statement is not None else ()
