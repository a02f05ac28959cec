"""What the blocking and asyncio adapters share: everything but the I/O.

A ``Session`` wraps the protocol core with the type codecs, the per-statement
result-format memory, and the notices and notifications the server sends.
Each command queues its bytes on the core and returns an *operation* that
consumes events until its own ReadyForQuery. The adapters only move bytes
and feed events to the operation; they share no other logic.

Rows are decoded after the operation's ReadyForQuery, so a value that fails
to decode raises with the connection already back in sync.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Generic, TypeVar

from pgpipe import errors
from pgpipe._scan import COUNTS, mismatch, parameter_count
from pgpipe._transaction import TransactionStatus
from pgpipe.conninfo import ConnectParams
from pgpipe.protocol import events as ev
from pgpipe.protocol import frontend
from pgpipe.protocol.connection import ProtocolConnection, State
from pgpipe.protocol.frontend import bind_values
from pgpipe.result import Column, Result, Results
from pgpipe.tls import TlsChannel
from pgpipe.types import (
    arrays,
    column_encoder,
    composite,
    encode_inferred,
    encode_typed,
    encode_widened,
    has_binary_decoder,
    result_decoder,
    session_decoders,
    session_dependent,
    text,
    to_text,
)
from pgpipe.types.binary import Decoder, check_text

_TEXT: Final = 0
_BINARY: Final = 1
_STATEMENTS_KEPT: Final = 512
_KEEP_NOTICES: Final = 100


class Operation:
    """Consumes the events that answer one command; ``feed`` returns True when done.

    While ``in_rows`` is set (after a RowDescription), the adapters hand runs of
    DataRow values to ``feed_rows`` in one call (``ProtocolConnection.next_rows``).
    """

    __slots__ = ("error", "in_rows", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.error: errors.Error | None = None
        self.in_rows = False

    def feed(self, event: ev.Event) -> bool:
        raise NotImplementedError

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        raise NotImplementedError

    def outcome(self) -> tuple[errors.Error | None, int]:
        """How it ended, for a timeout's message: the error that counts (a cancel
        first) and how many statements it ran, each with its own outcome."""
        return self.error, 1

    def _common(self, event: ev.Event) -> bool:
        """Handle what any state may receive; True when the operation is over."""
        if isinstance(event, ev.NoticeResponse):
            self.session.notices.append(event.fields)
        elif isinstance(event, ev.NotificationResponse):
            self.session.notifications.append(event)
        elif isinstance(event, ev.ParameterStatus):
            if event.name == "TimeZone":
                self.session.set_timezone(event.value)
            elif event.name == "DateStyle":
                self.session.set_datestyle(event.value)
        elif isinstance(event, ev.ErrorResponse):
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


_Conn = TypeVar("_Conn")
_Op = TypeVar("_Op", bound="Operation")
_DECODE_BATCH: Final = 1024
_MANY_CHUNK: Final = 250  # executemany rows encoded and queued at a time
_MANY_FIRST_CHUNK: Final = 50  # fewer in the first: the server starts sooner
_ABORT_MANY: Final = "pgpipe: executemany stopped, a value could not be encoded"
_DONE: Final = object()


class UnnamedQuery(Operation):
    """One statement through the one-packet Parse/Bind/Describe/Execute/Close/Sync.

    Rows are decoded in batches as they arrive, so a large result is not held
    twice. A value that fails to decode is remembered and raised once
    ReadyForQuery has arrived, so the connection stays in sync.
    """

    __slots__ = (
        "_copy",
        "_decode_error",
        "_key",
        "_pending",
        "_statement",
        "_synced",
        "rows",
        "status",
    )

    def __init__(
        self, session: Session, key: tuple[str, tuple[int, ...]], synced: bool = True
    ) -> None:
        super().__init__(session)
        self._key = key
        # Without its own Sync (in an atomic pipeline) it ends at CloseComplete,
        # or at an error, which skips what follows up to the pipeline's Sync.
        self._synced = synced
        self._copy = False
        self._statement: _Statement | None = None
        self._pending: list[tuple[bytes | None, ...]] = []
        self._decode_error: Exception | None = None
        self.rows: list[tuple[Any, ...]] = []
        self.status: str | None = None

    def feed(self, event: ev.Event) -> bool:
        if isinstance(event, ev.DataRow):
            pending = self._pending
            pending.append(event.values)
            if len(pending) >= _DECODE_BATCH:
                self._decode_pending()
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
            return True
        elif isinstance(event, ev.CopyInResponse | ev.CopyOutResponse):
            self._copy = True
        else:
            return self._common(event) or (not self._synced and isinstance(event, ev.ErrorResponse))
        return False

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        pending = self._pending
        pending += rows
        if len(pending) >= _DECODE_BATCH:
            self._decode_pending()

    def _decode_pending(self) -> None:
        pending, self._pending = self._pending, []
        if self._decode_error is not None:
            return
        if self._statement is None:
            self._decode_error = errors.ProtocolError("DataRow without a RowDescription")
            return
        try:
            self.rows += self._statement.decode_rows(pending)
        except Exception as exc:
            self._decode_error = exc

    def result(self) -> Result:
        self.check()
        if self._copy:
            raise errors.NotSupportedError("COPY is not supported by pgpipe yet")
        if self._pending:
            self._decode_pending()
        statement = self._statement or self.session.statement(self._key, ())
        error = self._decode_error
        if error is not None:
            if isinstance(error, errors.Error):
                raise error
            raise errors.DataError(f"could not decode a result value: {error}") from error
        return Result(self.rows, statement.columns, self.status)


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

    __slots__ = ("_idle", "_parsed", "_prepared", "_retry", "_with_parse")

    def __init__(
        self,
        session: Session,
        key: tuple[str, tuple[int, ...]],
        prepared: Prepared,
        retry: Callable[[], None],
        with_parse: bool,
    ) -> None:
        super().__init__(session, key)
        self._prepared = prepared
        self._retry: Callable[[], None] | None = retry
        self._with_parse = with_parse
        self._parsed = False  # its Parse answered ParseComplete
        self._idle = session.core.transaction_status == "I"

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
        retry = self._retry
        # Retried only when nothing else was sent after it: in a pipeline the
        # retry's answers would come after the later statements' answers.
        if (
            retry is not None
            and self._idle
            and event.status == "I"
            and not self.session.core.pending
        ):
            self._retry = None
            self.error = None
            self.rows, self._pending, self.status, self._statement = [], [], None, None
            self._decode_error = None
            self._with_parse, self._parsed = True, False
            retry()
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


class StatementHandle(Generic[_Conn]):
    """What both adapters' prepared statements share: the statement and its connection."""

    __slots__ = ("_conn", "_prepared")

    def __init__(self, conn: _Conn, prepared: Prepared) -> None:
        self._conn = conn
        self._prepared = prepared

    def __repr__(self) -> str:
        state = "closed" if self._prepared.closed else "open"
        return f"<pgpipe.{type(self).__name__} {self._prepared.name} {state}>"

    @property
    def name(self) -> str:
        return self._prepared.name

    @property
    def param_types(self) -> tuple[int, ...]:
        """The parameter type OIDs the server settled on."""
        return self._prepared.param_oids


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

    __slots__ = ("_copy", "_fields", "_rows", "results")

    def __init__(self, session: Session) -> None:
        super().__init__(session)
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

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        self._rows += rows

    def result(self) -> list[Result]:
        self.check()
        if self._copy:
            raise errors.NotSupportedError("COPY is not supported by pgpipe yet")
        return [self.session.build_result(*r) for r in self.results]


class Many(Operation):
    """executemany: one Parse and Describe per run of rows with the same parameter
    types, a Bind and an Execute per row, one Close and one Sync for all of them.

    One implicit transaction: the first error skips every later row and nothing
    is committed. Each row's answer is kept as its command tag, and its rows
    and statement only when it returned rows (few objects for the collector).
    """

    __slots__ = ("_rows", "_statement", "client_error", "returned", "tags")

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        # A value that could not be encoded after the first rows were sent.
        self.client_error: Exception | None = None
        self._statement: _Statement | None = None
        self._rows: list[tuple[bytes | None, ...]] = []
        self.tags: list[str] = []
        # Row index -> (statement, raw rows) for the rows that returned rows.
        self.returned: dict[int, tuple[_Statement, list[tuple[bytes | None, ...]]]] = {}

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
            self._statement = _Statement(event.fields, self.session)
            self.in_rows = True
        elif isinstance(event, ev.ReadyForQuery):
            return True
        elif isinstance(event, ev.CopyInResponse | ev.CopyOutResponse):
            pass  # the core refuses COPY FROM STDIN; COPY TO rows are dropped
        else:
            return self._common(event)
        return False

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        self._rows += rows

    def result(self) -> Results:
        if self.client_error is not None:
            raise self.client_error
        self.check()
        # Every row ran the same SQL: a row without rows still has its columns.
        # Rows that returned rows are decoded now (a value that cannot be is
        # raised from this call); the others' Results are made when looked at.
        columns = self._statement.columns if self._statement is not None else ()
        made = {
            index: statement.result(rows, self.tags[index])
            for index, (statement, rows) in self.returned.items()
        }
        return Results(self.tags, columns, made)


class Stream(Operation):
    """A result read in batches through a portal: Execute with a row limit and Flush.

    ``feed`` returns True when a batch is ready (PortalSuspended) or the stream
    has ended (ReadyForQuery, after the Close and Sync it queues itself when the
    portal completes or fails). ``finish`` ends it early; rows still in flight
    are then dropped.
    """

    __slots__ = (
        "_closing",
        "_key",
        "_statement",
        "_synced",
        "batch",
        "done",
        "ended_early",
        "rowcount",
        "status",
    )

    def __init__(self, session: Session, key: tuple[str, tuple[int, ...]]) -> None:
        super().__init__(session)
        self._key = key
        self._statement: _Statement | None = None
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

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        if not self._closing:
            self.batch += rows

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

    def rows(self) -> list[tuple[Any, ...]]:
        """The batch received, decoded; empties it."""
        raw, self.batch = self.batch, []
        if not raw:
            return []
        self.rowcount += len(raw)
        statement = self._statement
        if statement is None:
            raise errors.ProtocolError("DataRow without a RowDescription")
        try:
            return statement.decode_rows(raw)
        except errors.Error:
            raise
        except Exception as exc:
            raise errors.DataError(f"could not decode a result value: {exc}") from exc

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._statement.columns if self._statement is not None else ()


@dataclass(slots=True)
class Stats:
    """What a connection cost on the network since it was opened.

    ``flights`` counts the client's sends (each one write of everything queued),
    ``round_trips`` the times it then waited for and got an answer.
    """

    round_trips: int = 0
    flights: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    _answered: bool = field(default=True, repr=False)

    def sent(self, size: int) -> None:
        if self._answered:  # a write before any answer belongs to the same flight
            self.flights += 1
        self.bytes_sent += size
        self._answered = False

    def received(self, size: int) -> None:
        self.bytes_received += size
        if not self._answered:
            self.round_trips += 1
            self._answered = True

    def add(self, other: Stats) -> None:
        """Count what another connection (a reconnect) cost as well."""
        self.round_trips += other.round_trips
        self.flights += other.flights
        self.bytes_sent += other.bytes_sent
        self.bytes_received += other.bytes_received
        self._answered = other._answered


TYPE_LOOKUP: Final = """\
SELECT t.oid::int8, t.typarray::int8, t.typtype::text, t.typbasetype::int8, t.typname::text,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum),
       ARRAY(SELECT a.atttypid::int8 FROM pg_attribute a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum)
FROM pg_type t WHERE t.oid = $1::regtype"""
"""What ``register_type`` asks the catalog, once, about a type named by the caller."""


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """A type as the catalog describes it: what its codecs are built from."""

    oid: int
    array_oid: int
    kind: str  # pg_type.typtype: b base, c composite, d domain, e enum, r range...
    base_oid: int
    name: str
    attribute_names: tuple[str, ...]
    attribute_oids: tuple[int, ...]

    @classmethod
    def found(cls, name: object, rows: Sequence[Sequence[object]]) -> TypeInfo:
        """The type ``TYPE_LOOKUP`` found for ``name`` (ProgrammingError when none)."""
        if not rows:
            raise errors.UndefinedObject(f"type {name!r} does not exist")
        return cls.from_row(rows[0])

    @classmethod
    def from_row(cls, row: Sequence[object]) -> TypeInfo:
        oid, array_oid, kind, base_oid, name, names, oids = row
        return cls(
            int(str(oid)),
            int(str(array_oid)),
            str(kind),
            int(str(base_oid)),
            str(name),
            tuple(str(n) for n in names) if isinstance(names, list) else (),
            tuple(int(str(o)) for o in oids) if isinstance(oids, list) else (),
        )


def _as_text(encoded: tuple[int, bytes]) -> bytes:
    fmt, data = encoded
    if fmt != _TEXT:
        raise errors.DataError("this value has no text form to put inside an array or a row")
    return data


class Session:
    """The protocol core plus codecs and per-connection memory; no I/O."""

    __slots__ = (
        "_cache",
        "_cache_size",
        "_decoders",
        "_encoders",
        "_names",
        "_prefix",
        "_producer",
        "_row_types",
        "_statements",
        "_styles",
        "_zoned",
        "auth_method",
        "core",
        "notices",
        "notifications",
        "params",
        "stats",
        "tls",
    )

    def __init__(
        self,
        params: ConnectParams,
        scram_nonce: str,
        tls: TlsChannel | None = None,
        stats: Stats | None = None,
    ) -> None:
        """``tls`` is the channel after its handshake, or None for plaintext; ``stats``
        carries on counting what the TLS negotiation cost."""
        settings = dict(params.server_settings)
        if params.application_name is not None:
            settings["application_name"] = params.application_name
        if params.options is not None:
            settings["options"] = params.options
        self.params = params
        self.tls = tls
        self.core = ProtocolConnection(
            user=params.user,
            password=params.password,
            database=params.dbname,
            settings=settings,
            scram_nonce=scram_nonce,
            pipeline=params.pipeline_connect,
            # A server that proved its name through TLS may be told things early.
            allow_unverified_pipelining=params.allow_unverified_pipelining
            or (tls is not None and tls.verified),
            channel_binding=tls.channel_binding() if tls is not None else None,
            channel_binding_policy=params.channel_binding,
            require_auth=params.require_auth,
            max_message_size=params.max_message_size,
        )
        self.stats = stats if stats is not None else Stats()
        self.auth_method: str | None = None
        # Decoders of the types whose values depend on the session's TimeZone and
        # DateStyle (the ParameterStatus values in _styles): see set_timezone.
        self._styles = ("UTC", "ISO, MDY")
        self._zoned: dict[tuple[int, int], Decoder] = {}
        # Codecs of the types registered on this connection, by (OID, format) and OID.
        self._decoders: dict[tuple[int, int], Decoder] = {}
        self._encoders: dict[int, Callable[[object], tuple[int, bytes]]] = {}
        # The named tuple class of each registered composite type -> its OID, so that
        # query() can send a row it read back as that type.
        self._row_types: dict[type, int] = {}
        self.notices: deque[Mapping[str, str]] = deque(maxlen=_KEEP_NOTICES)
        self.notifications: deque[ev.NotificationResponse] = deque(maxlen=_KEEP_NOTICES)
        # (SQL, parameter OIDs) -> what its results looked like last time. Unknown
        # statements ask for text results, which every type has; known ones for
        # binary when every column has a binary decoder. One format code covers all
        # columns, so a statement whose column count changes cannot make Bind fail.
        self._statements: dict[tuple[str, tuple[int, ...]], _Statement] = {}
        # Named statements: a prefix of its own per connection, so that behind a
        # pooler no other client's statement can answer to one of these names.
        self._producer: Iterator[None] | None = None
        self._prefix = f"pgpipe_{secrets.token_hex(4)}_"
        self._names = 0
        self._cache_size = params.statement_cache_size
        self._cache: OrderedDict[tuple[str, tuple[int, ...]], Prepared] = OrderedDict()

    def __repr__(self) -> str:
        p = self.params
        return f"<Session {p.user}@{p.host}:{p.port}/{p.dbname} {self.core.state.value}>"

    @property
    def producing(self) -> bool:
        """Whether a command is still queuing its messages (see ``data_to_send``)."""
        return self._producer is not None

    @property
    def is_closed(self) -> bool:
        return self.core.state in (State.CLOSING, State.CLOSED, State.DEAD)

    # -- the wire: what the adapters send and receive, through TLS when it is on --

    def queue(self, make: Callable[[Session], _Op]) -> _Op:
        """Queue one command by ``make``: whole, or on an exception not at all.

        A command that fails while being queued leaves nothing behind: the
        messages queued so far and the answers they expected are taken back,
        so the next command cannot be handed this one's answers. (Commands
        check what can fail before they change other state: a pipeline
        stages all its statements first, the statement cache checks a new
        statement before it evicts an old one.)
        """
        core = self.core
        mark = core.mark()
        producer = self._producer
        try:
            return make(self)
        except BaseException:
            core.rewind(mark)
            self._producer = producer
            raise

    def data_to_send(self) -> bytes:
        """Bytes for the socket: the core's messages, encrypted with TLS.

        When nothing is queued and a command is still producing its messages
        (executemany's later chunks), its next part is queued first: the
        adapters call this until it gives nothing.
        """
        data = self.core.data_to_send()
        if not data and self._producer is not None:
            if next(self._producer, _DONE) is _DONE:
                self._producer = None
            data = self.core.data_to_send()
        tls = self.tls
        if tls is not None:
            data = tls.encrypt(data)
        if data:
            self.stats.sent(len(data))
        return data

    def receive_data(self, data: bytes) -> None:
        """Bytes from the socket (b"" at EOF) into the core, decrypted when TLS is on."""
        self.stats.received(len(data))
        tls = self.tls
        if tls is None:
            self.core.receive_data(data)
            return
        plain, ended = tls.decrypt(data)
        if plain:
            self.core.receive_data(plain)
        if ended:
            self.core.receive_data(b"")

    # -- commands ----------------------------------------------------------

    def startup(self) -> Startup:
        return Startup(self)

    def check_parameters(self, sql: str, given: int) -> None:
        """Refuse ``given`` values for ``sql`` unless they match its ``$n`` placeholders
        (ProgrammingError naming both numbers), before anything is encoded or queued.
        Also refuses SQL that is not a str."""
        expected = parameter_count(
            sql, self.core.parameters.get("standard_conforming_strings") != "off"
        )
        if expected is not None and expected != given:
            raise errors.ProgrammingError(mismatch(expected, given))

    def query_with_param_types(
        self, sql: str, params: Sequence[tuple[object, int]], sync: bool = True
    ) -> UnnamedQuery:
        return self._unnamed(sql, *self._typed(sql, params), sync)

    def _typed(
        self, sql: str, params: Sequence[tuple[object, int]]
    ) -> tuple[list[int], list[int], list[bytes | None]]:
        """Parameter OIDs, format codes and values, each of the type stated with it."""
        oids: list[int] = []
        formats: list[int] = []
        values: list[bytes | None] = []
        if isinstance(params, str | bytes | Mapping) or not isinstance(params, Sequence):
            raise errors.InterfaceError(
                "query_with_param_types takes a sequence of (value, pgpipe.Type.X) pairs, "
                f"not {type(params).__name__}"
            )
        self.check_parameters(sql, len(params))
        for index, pair in enumerate(params):
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                size = f" of {len(pair)}" if isinstance(pair, tuple | list) else ""
                raise errors.InterfaceError(
                    "query_with_param_types takes (value, pgpipe.Type.X) pairs; parameter "
                    f"{index + 1} is a {type(pair).__name__}{size}"
                )
            if not _is_oid(pair[1]):
                raise errors.InterfaceError(
                    f"parameter {index + 1}'s type is a {type(pair[1]).__name__}, "
                    "not a type OID (pgpipe.Type.X)"
                )
            value, oid = pair
            fmt, data = self.encode_typed(value, oid)
            oids.append(int(oid))
            formats.append(fmt)
            values.append(data)
        return oids, formats, values

    def _inferred(
        self, params: Sequence[object]
    ) -> tuple[list[int], list[int], list[bytes | None]]:
        """Parameters typed from their Python values, a registered composite's rows
        (the named tuples pgpipe returned) as that composite."""
        try:
            return _inferred(params)
        except errors.DataError as exc:
            return self._inferred_rows(params, exc)

    def _inferred_rows(
        self, params: Sequence[object], error: errors.DataError
    ) -> tuple[list[int], list[int], list[bytes | None]]:
        """``_inferred`` after a value could not be typed (``error``): raised again
        unless a value is a registered composite's row."""
        rows = self._row_types
        if not rows or not any(type(value) in rows for value in params):
            raise error
        oids: list[int] = []
        formats: list[int] = []
        values: list[bytes | None] = []
        for value in params:
            oid = rows.get(type(value))
            if oid is None:
                oid, fmt, data = encode_inferred(value)
            else:
                fmt, data = self.encode_typed(value, oid)
            oids.append(oid)
            formats.append(fmt)
            values.append(data)
        return oids, formats, values

    def query(self, sql: str, params: Sequence[object], sync: bool = True) -> UnnamedQuery:
        # The common case inlined (a known text, standard_conforming_strings on).
        if (
            COUNTS.get(sql if type(sql) is str else "\x00") != len(params)
            or self.core.parameters.get("standard_conforming_strings") == "off"
        ):
            self.check_parameters(sql, len(params))
        try:
            encoded = _inferred(params)  # inlined self._inferred: the common path
        except errors.DataError as exc:
            encoded = self._inferred_rows(params, exc)
        return self._unnamed(sql, *encoded, sync)

    # A pipeline's commands are staged first (values encoded, messages checked:
    # what can fail) and queued afterwards, a part at a time as they are sent.

    def staged_query(self, sql: str, params: Sequence[object]) -> Callable[[bool], Operation]:
        self.check_parameters(sql, len(params))
        oids, formats, values = self._inferred(params)
        frontend.parse("", sql, oids)  # checks the text and the parameter count (memoized)
        return lambda sync: self._unnamed(sql, oids, formats, values, sync)

    def staged_query_with_param_types(
        self, sql: str, params: Sequence[tuple[object, int]]
    ) -> Callable[[bool], Operation]:
        oids, formats, values = self._typed(sql, params)
        frontend.parse("", sql, oids)
        return lambda sync: self._unnamed(sql, oids, formats, values, sync)

    def staged_execute(self, sql: str) -> Callable[[bool], Operation]:
        frontend.cstring(sql, "SQL text")
        return lambda sync: self.execute(sql)

    def _result_format(self, key: tuple[str, tuple[int, ...]]) -> int:
        """Text for a statement not seen before; else what its columns allow."""
        statement = self._statements.get(key)
        return _TEXT if statement is None else statement.result_format

    def _unnamed(
        self,
        sql: str,
        oids: list[int],
        formats: list[int],
        values: list[bytes | None],
        sync: bool = True,
    ) -> UnnamedQuery:
        key = (sql, tuple(oids))
        result_format = self._result_format(key)
        formats = _one_code(formats)
        if sync and self._cache_size:
            return self._cached(key, formats, values, result_format)
        self.core.send_unnamed_query(sql, oids, formats, values, (result_format,), sync=sync)
        return UnnamedQuery(self, key, sync)

    # -- named statements --------------------------------------------------------

    def _new_name(self) -> str:
        self._names += 1
        return f"{self._prefix}{self._names}"

    def _cached(
        self,
        key: tuple[str, tuple[int, ...]],
        formats: list[int],
        values: list[bytes | None],
        result_format: int,
    ) -> PreparedQuery:
        """A query through the statement cache: Parse the first time, then Bind only."""
        cache = self._cache
        prepared = cache.get(key)
        core = self.core
        if prepared is not None:
            cache.move_to_end(key)
            parse = None
        else:
            frontend.parse("", key[0], key[1])  # what can fail, before the cache changes
            while len(cache) >= self._cache_size:
                _, old = cache.popitem(last=False)
                core.send_close("S", old.name)  # answered ahead of this query
            prepared = cache[key] = Prepared(self._new_name(), key[0], key[1])
            parse = (key[0], key[1])
        return self._run_named(key, prepared, formats, values, result_format, parse)

    def _run_named(
        self,
        key: tuple[str, tuple[int, ...]],
        prepared: Prepared,
        formats: list[int],
        values: list[bytes | None],
        result_format: int,
        parse: tuple[str, tuple[int, ...]] | None,
    ) -> PreparedQuery:
        core = self.core
        results = (result_format,)
        core.send_named_query(prepared.name, formats, values, results, parse=parse)

        def retry() -> None:
            core.send_named_query(
                prepared.name,
                formats,
                values,
                results,
                parse=(prepared.sql, prepared.param_oids),
                close_first=True,
            )

        return PreparedQuery(self, key, prepared, retry, parse is not None)

    def forget(self, key: tuple[str, tuple[int, ...]], prepared: Prepared) -> None:
        """Drop a cached statement that failed to prepare or vanished from the server."""
        if self._cache.get(key) is prepared:
            del self._cache[key]

    def prepare(self, sql: str, param_types: Sequence[int] | None) -> Describing:
        """Parse a named statement and Describe it (its parameter types), then Sync."""
        oids = _type_oids(param_types or ())
        if param_types is None:
            parameter_count(sql)  # the server counts them; this checks that it is SQL text
        else:
            self.check_parameters(sql, len(oids))
        prepared = Prepared(self._new_name(), sql, tuple(oids))
        core = self.core
        core.send_parse(prepared.name, sql, oids)
        core.send_describe("S", prepared.name)
        core.send_sync()
        return Describing(self, prepared)

    def run_prepared(self, prepared: Prepared, params: Sequence[object]) -> PreparedQuery:
        """Bind, Describe, Execute and Sync a prepared statement: no Parse."""
        if prepared.closed:
            raise errors.InterfaceError(f"prepared statement {prepared.name!r} was closed")
        oids = prepared.param_oids
        if len(params) != len(oids):
            raise errors.ProgrammingError(mismatch(len(oids), len(params)))
        formats: list[int] = []
        values: list[bytes | None] = []
        for value, oid in zip(params, oids, strict=True):
            fmt, data = self.encode_typed(value, oid)
            formats.append(fmt)
            values.append(data)
        key = (prepared.sql, oids)
        result_format = self._result_format(key)
        return self._run_named(key, prepared, _one_code(formats), values, result_format, None)

    def close_prepared(self, prepared: Prepared) -> Closing:
        """Close (free) a prepared statement on the server, then Sync."""
        prepared.closed = True
        self.core.send_close("S", prepared.name)
        self.core.send_sync()
        return Closing(self)

    def execute(self, sql: str) -> Script:
        self.core.send_query(sql)
        return Script(self)

    def stream(self, sql: str, params: Sequence[object], batch_size: int) -> Stream:
        """Parse, Bind, Describe and the first Execute of ``batch_size`` rows, then Flush."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise errors.InterfaceError(
                f"batch_size must be a positive integer, not {batch_size!r}"
            )
        self.check_parameters(sql, len(params))
        oids, formats, values = self._inferred(params)
        key = (sql, tuple(oids))
        core = self.core
        core.send_parse("", sql, oids)
        core.send_bind("", "", _one_code(formats), values, (self._result_format(key),))
        core.send_describe("P", "")
        op = Stream(self, key)
        op.more(batch_size)
        return op

    def executemany(
        self,
        sql: str,
        rows: Sequence[Sequence[object]],
        param_types: Sequence[int] | None = None,
    ) -> Many:
        """Queue ``sql`` once per row of parameters, as ``Many`` describes.

        The rows are encoded and queued in chunks, the first (``_MANY_FIRST_CHUNK``
        rows) now and the others (``_MANY_CHUNK``) as the adapter sends
        (``data_to_send``), so the server starts on the first rows while later
        ones are encoded. A value in the first chunk that cannot be encoded raises here, before
        anything is queued; one in a later chunk makes the server fail the
        batch (nothing is committed) and is raised once it is over.
        """
        op = Many(self)
        if param_types is not None:
            param_types = _type_oids(param_types)
            self.check_parameters(sql, len(param_types))
        _check_row_lengths(self, sql, rows)
        self.produce(self._many_chunks(op, sql, rows, param_types))
        return op

    def produce(self, producer: Iterator[None]) -> None:
        """Run ``producer`` to its first ``yield`` now (it queues the first part of a
        command), and on, a part at a time, as ``data_to_send`` is called."""
        if next(producer, _DONE) is not _DONE:
            self._producer = producer

    def _many_chunks(
        self,
        op: Many,
        sql: str,
        rows: Iterable[Sequence[object]],
        param_types: Sequence[int] | None,
    ) -> Iterator[None]:
        core = self.core
        text_results = (_TEXT,)
        # Rows are grouped in runs that share parameter types and formats (a NULL
        # fits any); each run is one Parse and Describe, then its Binds/Executes.
        signature: tuple[list[int], list[int]] | None = None
        parsed: tuple[list[int], list[int]] | None = None
        # The Bind values of each row of the run, written as the rows come.
        run: list[bytes] = []
        encode_typed = self.encode_typed
        # Writes a row of this run's column types at once (inferred types only).
        columns: frontend.BindValuesWriter | None = None
        queued = False
        boundary = False
        chunk = _MANY_FIRST_CHUNK
        try:
            for row in rows:
                if type(row) is not tuple and type(row) is not list:
                    _check_row(row)
                if boundary:  # a chunk is queued and more rows follow: let it go first
                    boundary = False
                    yield
                    if op.error is not None:
                        break  # the server failed a row and skips the rest: stop sending
                if columns is not None:
                    # The common case: every value of the type its column had.
                    fast = columns(row)
                    if fast is not None:
                        run.append(fast)
                        if len(run) == chunk:
                            assert signature is not None
                            self._queue_run(
                                sql, signature, run, text_results, signature is not parsed
                            )
                            parsed, queued, run, boundary = signature, True, [], True
                            chunk = _MANY_CHUNK
                        continue
                oids: list[int] = []
                formats: list[int] = []
                values: list[bytes | None] = []
                if param_types is None:
                    for value in row:
                        oid, fmt, data = encode_inferred(value)
                        oids.append(oid)
                        formats.append(fmt)
                        values.append(data)
                else:
                    if len(row) != len(param_types):
                        raise errors.InterfaceError(
                            f"a row has {len(row)} values for {len(param_types)} parameter types"
                        )
                    for value, oid in zip(row, param_types, strict=True):
                        fmt, data = encode_typed(value, oid)
                        oids.append(int(oid))
                        formats.append(fmt)
                        values.append(data)
                if signature is None or not _fits(row, oids, formats, values, signature):
                    if signature is not None and run:
                        self._queue_run(sql, signature, run, text_results, signature is not parsed)
                        parsed, queued = signature, True
                    signature, run = (oids, formats), []
                    columns = None
                if param_types is None and columns is None and None not in values:
                    columns = _column_writer(row, oids)
                run.append(bind_values(values))
                if len(run) == chunk:
                    assert signature is not None
                    self._queue_run(sql, signature, run, text_results, signature is not parsed)
                    parsed, queued, run, boundary = signature, True, [], True
                    chunk = _MANY_CHUNK
        except Exception as exc:
            if not queued:
                raise
            # Part of the batch may have run: fail its implicit transaction (a
            # Parse the server cannot read: a syntax error, saying why in its
            # log) so that nothing is committed.
            op.client_error = exc
            core.send_parse("", _ABORT_MANY, [])
        else:
            if signature is not None and run:
                self._queue_run(sql, signature, run, text_results, signature is not parsed)
        core.send_close("S", "")
        core.send_sync()

    def _queue_run(
        self,
        sql: str,
        signature: tuple[list[int], list[int]],
        run: list[bytes],
        result_formats: tuple[int, ...],
        parse: bool,
    ) -> None:
        oids, formats = signature
        core = self.core
        if parse:
            core.send_parse("", sql, oids)
            core.send_describe("S", "")
        core.send_bind_execute_values(_one_code(formats), len(oids), run, result_formats)

    # -- results -----------------------------------------------------------

    def set_timezone(self, name: str) -> None:
        """Follow the server's TimeZone: timestamptz values are given in it, and the
        non-ISO DateStyles name it by abbreviation."""
        self._restyle((name, self._styles[1]))

    def set_datestyle(self, value: str) -> None:
        """Follow the server's DateStyle ("SQL, DMY"): text dates are read in it."""
        self._restyle((self._styles[0], value))

    def _restyle(self, styles: tuple[str, str]) -> None:
        self._styles = styles
        zoned = session_decoders(*styles)
        if zoned is not self._zoned:
            self._zoned = zoned
            self._statements.clear()  # their decoders read the previous settings

    def result_decoder(self, oid: int, fmt: int) -> Decoder:
        if fmt == _TEXT and session_dependent(oid):
            return self._late_text_decoder(oid)
        return self._current_decoder(oid, fmt)

    def _current_decoder(self, oid: int, fmt: int) -> Decoder:
        key = (oid, fmt)
        return self._zoned.get(key) or self._decoders.get(key) or result_decoder(oid, fmt)

    def _late_text_decoder(self, oid: int) -> Decoder:
        """A text decoder of a date/time type that reads with the settings of the
        moment it decodes, not of the moment it was chosen. The server reports a
        changed DateStyle or TimeZone only before ReadyForQuery, after the rows
        printed under it (the first statement after a reloaded postgresql.conf);
        rows are decoded when the statement is over (or in batches of
        _DECODE_BATCH on the way), so they are read in the setting reported."""
        current = self._current_decoder

        def decode(data: bytes) -> object:
            return current(oid, _TEXT)(data)

        return decode

    def has_binary_decoder(self, oid: int) -> bool:
        if (oid, _BINARY) in self._decoders:
            return True
        if (oid, _TEXT) in self._decoders:  # registered here with a text codec only
            return False
        return has_binary_decoder(oid)

    def encode_typed(self, value: object, oid: int) -> tuple[int, bytes | None]:
        encoder = self._encoders.get(oid)
        if encoder is None or value is None or isinstance(value, str):
            return encode_typed(value, oid)
        try:
            return encoder(value)
        except errors.Error:
            raise
        except Exception as exc:
            # The caller's own code failed: a pgpipe error, with its exception as the cause.
            raise errors.DataError(
                f"the encoder registered for type {oid} failed on a {type(value).__name__} "
                f"({exc.__class__.__name__}); nothing was sent"
            ) from exc

    def register(
        self,
        info: TypeInfo,
        decode: Callable[[str], object] | None,
        encode: Callable[[object], str] | None,
        decode_binary: Decoder | None = None,
        encode_binary: Callable[[object], bytes] | None = None,
    ) -> None:
        """Codecs for a type found in the catalog (see ``TypeInfo``) and for its array.

        A domain's values arrive with its base type's OID (the server reports
        domain columns as their base type), so a decoder registered for the
        domain would never be called: refused. Its encoder serves parameters
        sent as the domain, its base type's decoders its arrays.
        """
        if info.kind == "d" and (decode is not None or decode_binary is not None):
            raise errors.InterfaceError(
                f"{info.name} is a domain: the server sends its values with its base type's "
                f"OID ({info.base_oid}), so a decoder registered for it would never be called; "
                "register the base type, or convert the values after reading them"
            )
        text_decoder, binary_decoder, encoder = self._codecs_for(info, decode, encode)
        if decode_binary is not None:
            if decode is None:
                raise errors.InterfaceError(
                    "decode_binary needs decode too: a statement's first run reads text, "
                    "and both must give the same values"
                )
            binary_decoder = decode_binary
        if encode_binary is not None:
            user_binary = encode_binary
            encoder = lambda value: (_BINARY, user_binary(value))  # noqa: E731
        decoders = self._decoders
        if text_decoder is not None:
            decoders[info.oid, _TEXT] = text_decoder
            if info.array_oid:
                decoders[info.array_oid, _TEXT] = arrays.text_decoder(text_decoder)
        if binary_decoder is not None:
            decoders[info.oid, _BINARY] = binary_decoder
            if info.array_oid:
                decoders[info.array_oid, _BINARY] = arrays.binary_decoder(binary_decoder)
        if encoder is not None:
            element = encoder
            self._encoders[info.oid] = element
            if info.array_oid and encode_binary is not None:
                binary_array = arrays.binary_encoder(info.oid, encode_binary)
                self._encoders[info.array_oid] = lambda value: (_BINARY, binary_array(value))
            elif info.array_oid:

                def encode_array(value: object) -> tuple[int, bytes]:
                    if not isinstance(value, list):
                        raise errors.DataError(f"an array is sent from a list, not {value!r}")
                    return _TEXT, arrays.to_text(value, lambda item: _as_text(element(item)))

                self._encoders[info.array_oid] = encode_array
        self._statements.clear()

    def _codecs_for(
        self,
        info: TypeInfo,
        decode: Callable[[str], object] | None,
        encode: Callable[[object], str] | None,
    ) -> tuple[Decoder | None, Decoder | None, Callable[[object], tuple[int, bytes]] | None]:
        def writer(user_encode: Callable[[object], str]) -> Callable[[object], bytes]:
            return lambda value: check_text(user_encode(value))

        if info.kind == "d":
            base = info.base_oid
            binary = self._field_decoder(base, _BINARY) if self.has_binary_decoder(base) else None
            write = self._text_writer(base) if encode is None else writer(encode)
            return self._field_decoder(base, _TEXT), binary, lambda value: (_TEXT, write(value))
        if decode is not None or encode is not None:
            user_decode = decode

            def text_decode(data: bytes) -> object:
                text = data.decode("utf-8")
                return text if user_decode is None else user_decode(text)

            if encode is None:
                return text_decode, None, None
            write_user = writer(encode)
            return text_decode, None, lambda value: (_TEXT, write_user(value))
        if info.kind == "c":
            make = composite.row_type(info.name, info.attribute_names)
            self._row_types[make] = info.oid
            oids = info.attribute_oids
            text_fields = [self._field_decoder(oid, _TEXT) for oid in oids]
            binary = None
            if all(self.has_binary_decoder(oid) for oid in oids):
                binary = composite.binary_decoder(
                    make, lambda oid: self._field_decoder(oid, _BINARY)
                )
            writers = [self._text_writer(oid) for oid in oids]
            return (
                composite.text_decoder(make, text_fields),
                binary,
                lambda value: (_TEXT, composite.to_text(value, writers)),
            )
        if info.kind == "e":  # labels, the same in both formats
            return text.decode_str, text.decode_str, None
        if info.name == "hstore":
            return (
                composite.hstore_decode,
                None,
                lambda value: (_TEXT, composite.hstore_encode(value)),
            )
        return None, None, None

    def _field_decoder(self, oid: int, fmt: int) -> Decoder:
        """The decoder of a domain's base type or a composite's field: looked up at
        each value for a type whose decoder follows TimeZone and DateStyle, since
        the registered type outlives the settings it was registered under."""
        if fmt == _TEXT or not session_dependent(oid):
            return self.result_decoder(oid, fmt)  # text ones are looked up late already
        return lambda data: self._current_decoder(oid, fmt)(data)

    def _text_writer(self, oid: int) -> Callable[[object], bytes]:
        """Writes a value of type ``oid`` as text (for a field of a row literal)."""

        def write(value: object) -> bytes:
            encoder = self._encoders.get(oid)
            if encoder is not None:
                return _as_text(encoder(value))
            return to_text(value)

        return write

    def statement(
        self, key: tuple[str, tuple[int, ...]], fields: tuple[ev.FieldDescription, ...]
    ) -> _Statement:
        """What this statement returns, remembered for its next run (and its result format)."""
        statement = self._statements.get(key)
        # The core hands out one RowDescription object per distinct description, so
        # an unchanged statement is recognised by identity.
        if statement is None or statement.fields is not fields:
            statement = _Statement(fields, self)
            statements = self._statements
            if key not in statements and len(statements) >= _STATEMENTS_KEPT:
                del statements[next(iter(statements))]
            statements[key] = statement
        return statement

    def build_result(
        self,
        fields: tuple[ev.FieldDescription, ...],
        raw_rows: list[tuple[bytes | None, ...]],
        status: str | None,
    ) -> Result:
        return _Statement(fields, self).result(raw_rows, status)


def _column_writer(row: Sequence[object], oids: list[int]) -> frontend.BindValuesWriter | None:
    """For the rows after ``row`` in its run: a function writing the Bind values of a
    row whose values have exactly the types of ``row``'s (or are NULL), else None."""
    columns = []
    for value, oid in zip(row, oids, strict=True):
        encoder = column_encoder(value, oid)
        if encoder is None:
            return None
        columns.append((type(value), encoder))
    return frontend.bind_values_writer(columns)


def _is_oid(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_oids(param_types: Sequence[int]) -> list[int]:
    """``param_types`` as OIDs (``pgpipe.Type.X`` or plain ints), checked."""
    if isinstance(param_types, str | bytes | Mapping) or not isinstance(param_types, Sequence):
        raise errors.InterfaceError(
            "param_types is a sequence of pgpipe.Type.X (type OIDs), "
            f"not {type(param_types).__name__}"
        )
    for oid in param_types:
        if not _is_oid(oid):
            raise errors.InterfaceError(
                f"param_types holds type OIDs (pgpipe.Type.X), not {type(oid).__name__}"
            )
    return [int(oid) for oid in param_types]


def many_rows(rows: Iterable[Sequence[object]]) -> list[Sequence[object]]:
    """executemany's rows as a list: any iterable of rows, but not a str, bytes or mapping."""
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        raise errors.InterfaceError(
            "executemany takes an iterable of rows (each a sequence of values), "
            f"not {type(rows).__name__}"
        )
    return list(rows)


def _check_row_lengths(session: Session, sql: str, rows: Sequence[Sequence[object]]) -> None:
    """Every row of executemany holds as many values as ``sql`` has placeholders."""
    try:
        lengths = set(map(len, rows))
    except TypeError:
        for row in rows:
            _check_row(row)  # raises for the row that has no length
        raise errors.InterfaceError("each row of parameters must be a sequence of values") from None
    if not lengths:
        session.check_parameters(sql, 0)
    for length in sorted(lengths):
        try:
            session.check_parameters(sql, length)
        except errors.ProgrammingError as exc:
            index = next(i for i, row in enumerate(rows) if len(row) == length)
            raise errors.ProgrammingError(f"row {index + 1}: {exc}") from None


def _check_row(row: object) -> None:
    """A row of executemany's parameters is a sequence of values: not a str or bytes
    (their characters or bytes would become the values), nor a mapping (its keys)."""
    if isinstance(row, str | bytes | bytearray | memoryview | Mapping) or not isinstance(
        row, Sequence
    ):
        raise errors.InterfaceError(
            "each row of parameters must be a sequence of values (a tuple or a list), "
            f"not {type(row).__name__}"
        )


def _inferred(params: Sequence[object]) -> tuple[list[int], list[int], list[bytes | None]]:
    """Parameter OIDs, format codes and values, each type inferred from its Python value."""
    oids: list[int] = []
    formats: list[int] = []
    values: list[bytes | None] = []
    for value in params:
        oid, fmt, data = encode_inferred(value)
        oids.append(oid)
        formats.append(fmt)
        values.append(data)
    return oids, formats, values


def _one_code(formats: list[int]) -> list[int]:
    """One format code for all parameters when they share it (Bind allows that)."""
    if formats and formats.count(formats[0]) == len(formats):
        return formats[:1]
    return formats


def _fits(
    row: Sequence[object],
    oids: list[int],
    formats: list[int],
    values: list[bytes | None],
    signature: tuple[list[int], list[int]],
) -> bool:
    """Whether a row's parameters fit the run parsed for ``signature``: a NULL fits
    any column; an integer narrower than its column's (int4 in an int8 run), or
    an empty list in an array column, fits once written as the column's type,
    which it then is in ``oids``, ``formats`` and ``values``.

    Widening keeps a batch of mixed sizes at one Parse per wider type seen.
    """
    known_oids, known_formats = signature
    if oids == known_oids and formats == known_formats:
        return True
    if len(oids) != len(known_oids):
        return False
    for i, (oid, fmt, value, known, known_fmt) in enumerate(
        zip(oids, formats, values, known_oids, known_formats, strict=True)
    ):
        if value is None or (oid == known and fmt == known_fmt):
            continue
        wider = encode_widened(row[i], oid, known)
        if wider is None or wider[0] != known_fmt:
            return False
        oids[i], formats[i], values[i] = known, known_fmt, wider[1]
    return True


class _Statement:
    """What one statement's results look like: columns, decoders, the format to ask for."""

    __slots__ = ("_decode_rows", "columns", "decoders", "fields", "result_format")

    def __init__(self, fields: tuple[ev.FieldDescription, ...], session: Session) -> None:
        self.fields = fields
        self.columns = tuple(
            Column(f.name, f.type_oid, f.table_oid, f.column_number, f.type_size, f.type_modifier)
            for f in fields
        )
        self.decoders = [session.result_decoder(f.type_oid, f.format) for f in fields]
        binary = all(session.has_binary_decoder(f.type_oid) for f in fields)
        self.result_format = _BINARY if binary else _TEXT
        self._decode_rows = _unrolled_row_decoder(self.decoders)

    def decode_rows(self, raw_rows: list[tuple[bytes | None, ...]]) -> list[tuple[Any, ...]]:
        """Decoded rows; a row with another number of values raises ValueError."""
        if self._decode_rows is not None:
            return self._decode_rows(raw_rows)
        decoders = self.decoders
        return [
            tuple([None if v is None else d(v) for d, v in zip(decoders, raw, strict=True)])
            for raw in raw_rows
        ]

    def result(self, raw_rows: list[tuple[bytes | None, ...]], status: str | None) -> Result:
        try:
            rows = self.decode_rows(raw_rows)
        except errors.Error:
            raise
        except Exception as exc:
            raise errors.DataError(f"could not decode a result value: {exc}") from exc
        return Result(rows, self.columns, status)


_UNROLLED_MAX_COLUMNS: Final = 64


def _unrolled_row_decoder(
    decoders: Sequence[Decoder],
) -> Callable[[list[tuple[bytes | None, ...]]], list[tuple[Any, ...]]] | None:
    """A function decoding rows of exactly these columns with the column loop unrolled.

    Built from the column count alone (the decoders are passed in, never
    written into the source), like the code dataclasses generate. It spares
    a zip, an inner list and a loop per row. None past 64 columns.
    """
    count = len(decoders)
    if not 0 < count <= _UNROLLED_MAX_COLUMNS:
        return None
    values = ", ".join(f"v{i}" for i in range(count))
    decoded = ", ".join(f"None if v{i} is None else d{i}(v{i})" for i in range(count))
    source = (
        f"def build({', '.join(f'd{i}' for i in range(count))}):\n"
        f"    def decode_rows(raw_rows):\n"
        f"        return [({decoded},) for ({values},) in raw_rows]\n"
        f"    return decode_rows\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    build: Callable[..., Callable[[list[tuple[bytes | None, ...]]], list[tuple[Any, ...]]]]
    build = namespace["build"]
    return build(*decoders)


SEND_AT_CONNECT: Final = frozenset({"auto", "scram"})
"""Pipelined modes whose first flight leaves at connect time: the rest waits for
the server's first answer anyway, so sending early saves latency."""


def scram_nonce() -> str:
    """A fresh SCRAM client nonce (24 random bytes, base64url)."""
    return secrets.token_urlsafe(24)


def interrupted(exc: BaseException) -> str:
    """Why an operation stopped half-way, for ``closed_reason``."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else f"interrupted by {type(exc).__name__}"


def timeout_error(why: str, op: Operation, in_sync: bool, state: ConnectionState) -> errors.Error:
    """What a timed-out or cancelled call raises, once the cancel was handled."""
    error, statements = op.outcome()
    if not in_sync:
        message = f"{why}; the connection is closed ({state.closed_reason})"
    elif statements > 1:  # a pipeline: each handle has its statement's outcome
        if why.startswith("the statement "):
            why = "the pipeline " + why.removeprefix("the statement ")
        if isinstance(error, errors.QueryCanceled):
            happened = "a statement was cancelled"
        elif error is None:
            happened = "every statement completed before the cancel reached the server"
        else:
            happened = f"a statement failed meanwhile ({error})"
        message = (
            f"{why}; {happened}: each handle says how its statement ended, "
            "and the connection is ready for the next one"
        )
    elif isinstance(error, errors.QueryCanceled):
        message = f"{why} and was cancelled; the connection is ready for the next one"
    elif error is None:
        message = (
            f"{why}; it completed before the cancel reached the server (its effects stand), "
            "and the connection is ready for the next one"
        )
    else:
        message = f"{why}; it failed meanwhile: {error}"
    fields = error.fields if isinstance(error, errors.DatabaseError) else None
    timeout = errors.QueryTimeout(message, closed=not in_sync, fields=fields)
    timeout.__cause__ = error
    return timeout


class ConnectionState:
    """The read-only state both adapters' connections expose."""

    __slots__ = ("_closed_reason", "_session")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._closed_reason: str | None = None

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    @property
    def closed_reason(self) -> str | None:
        """Why the connection is closed, or None while it is open."""
        return self._closed_reason

    @property
    def transaction_status(self) -> TransactionStatus:
        """IDLE ("I"), IN_TRANSACTION ("T") or FAILED ("E"), from the last ReadyForQuery."""
        return TransactionStatus(self._session.core.transaction_status)

    @property
    def parameters(self) -> dict[str, str]:
        """Server settings reported by ParameterStatus (server_version, TimeZone...)."""
        return dict(self._session.core.parameters)

    @property
    def stats(self) -> Stats:
        """Round trips, flights and bytes so far (a snapshot)."""
        return replace(self._session.stats)

    @property
    def auth_method(self) -> str | None:
        """How the server authenticated this connection: trust, password, md5 or scram."""
        return self._session.auth_method

    @property
    def tls_version(self) -> str | None:
        """The TLS version in use ("TLSv1.3"), or None on a plaintext connection."""
        tls = self._session.tls
        return tls.version if tls is not None else None

    @property
    def channel_binding(self) -> bool:
        """Whether SCRAM authentication was bound to the TLS connection (-PLUS)."""
        return self._session.core.sasl_mechanism == "SCRAM-SHA-256-PLUS"

    @property
    def host(self) -> str:
        """The host this connection reached (of several given, the one that answered)."""
        return self._session.params.address()

    @property
    def backend_pid(self) -> int | None:
        key = self._session.core.backend_key
        return key.process_id if key is not None else None

    @property
    def notices(self) -> list[Mapping[str, str]]:
        """The most recent NoticeResponse fields (up to 100), oldest first."""
        return list(self._session.notices)
