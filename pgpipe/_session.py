"""What the blocking and asyncio adapters share: everything but the I/O.

A ``Session`` wraps the protocol core with the type codecs, the per-statement
result-format memory, and the notices and notifications the server sends.
Each command queues its bytes on the core and returns an *operation* that
consumes events until its own ReadyForQuery. The adapters only move bytes
and feed events to the operation; they share no other logic.

The operations are in ``_operations``, the shape of a statement's results in
``_statement``, what the adapters share besides this in ``_adapter``.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

from pgpipe import errors
from pgpipe._catalog import TypeInfo
from pgpipe._compiled import caused, mypyc_attr
from pgpipe._operations import (
    Closing,
    CopyCommand,
    Describing,
    Many,
    Operation,
    Prepared,
    PreparedQuery,
    Script,
    Startup,
    Stream,
    UnnamedQuery,
)
from pgpipe._scan import COUNTS, check_count, mismatch, parameter_count, sql_text
from pgpipe._statement import Statement, fixed_shape
from pgpipe._stats import Stats
from pgpipe.conninfo import ConnectParams
from pgpipe.protocol import events as ev
from pgpipe.protocol import frontend
from pgpipe.protocol.connection import ProtocolConnection, State
from pgpipe.protocol.frontend import bind_values
from pgpipe.result import Result
from pgpipe.rows import RowFactory, tuple_row
from pgpipe.tls import Link
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
_ALL_TEXT: Final = (_TEXT,)
_STATEMENTS_KEPT: Final = 512
_KEEP_NOTICES: Final = 100
_Op = TypeVar("_Op", bound=Operation)
_MANY_CHUNK: Final = 250  # executemany rows encoded and queued at a time
_MANY_FIRST_CHUNK: Final = 50  # fewer in the first: the server starts sooner
_ABORT_MANY: Final = "pgpipe: executemany stopped, a value could not be encoded"
_DONE: Final = object()
# A tuple, not a set: an Enum member hashes in Python.
_ENDED_STATES: Final = (State.CLOSING, State.CLOSED, State.DEAD)


_NOTICE_LOG: Final = logging.getLogger("pgpipe.notices")
_NOTICE_LEVELS: Final = {
    "WARNING": logging.WARNING,
    "NOTICE": logging.INFO,
    "INFO": logging.INFO,
    "LOG": logging.DEBUG,
    "DEBUG": logging.DEBUG,
}


def log_notice(fields: Mapping[str, str]) -> None:
    """A notice to the ``pgpipe.notices`` logger, at the level of its severity
    (WARNING, INFO for NOTICE and INFO, DEBUG for LOG and DEBUG)."""
    severity = fields.get("V", fields.get("S", "NOTICE"))
    level = _NOTICE_LEVELS.get(severity, logging.INFO)
    if _NOTICE_LOG.isEnabledFor(level):
        _NOTICE_LOG.log(level, "%s: %s", severity, fields.get("M", ""))


_T = TypeVar("_T")


def _call_handler(handler: Callable[[_T], object], value: _T) -> None:
    """A user's handler: what it raises is logged, not let into the protocol's reading."""
    try:
        handler(value)
    except Exception:
        logging.getLogger("pgpipe").exception("a notice or notification handler failed")


def _as_text(encoded: tuple[int, bytes]) -> bytes:
    fmt, data = encoded
    if fmt != _TEXT:
        raise errors.DataError("this value has no text form to put inside an array or a row")
    return data


@mypyc_attr(allow_interpreted_subclasses=True)
class Session:
    """The protocol core plus codecs and per-connection memory; no I/O."""

    __slots__ = (
        "_cache",
        "_cache_size",
        "_decoders",
        "_encoders",
        "_late",
        "_names",
        "_prefix",
        "_producer",
        "_row_types",
        "_statements",
        "_styles",
        "_zoned",
        "auth_method",
        "core",
        "idle_error",
        "notice_handlers",
        "notices",
        "notification_handlers",
        "notifications",
        "params",
        "row_factory",
        "stats",
        "tls",
    )

    def __init__(
        self,
        params: ConnectParams,
        scram_nonce: str,
        tls: Link | None = None,
        stats: Stats | None = None,
    ) -> None:
        """``tls`` carries the bytes after its handshake (TLS, or WebSocket messages),
        or None for plaintext; ``stats``
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
        # What rows are made as when a command names no row factory (None: tuples).
        self.row_factory: RowFactory[Any] | None = None
        # Decoders of the types whose values depend on the session's TimeZone and
        # DateStyle (the ParameterStatus values in _styles): see set_timezone.
        self._styles = ("UTC", "ISO, MDY")
        self._zoned: dict[tuple[int, int], Decoder] = {}
        # The text decoders that follow those settings, by OID: the decoder of the
        # moment in a cell of its own (see _late_text_decoder).
        self._late: dict[int, tuple[list[Decoder], Decoder]] = {}
        # Codecs of the types registered on this connection, by (OID, format) and OID.
        self._decoders: dict[tuple[int, int], Decoder] = {}
        self._encoders: dict[int, Callable[[object], tuple[int, bytes]]] = {}
        # The named tuple class of each registered composite type -> its OID, so that
        # query() can send a row it read back as that type.
        self._row_types: dict[type, int] = {}
        self.notices: deque[Mapping[str, str]] = deque(maxlen=_KEEP_NOTICES)
        # Every notification until it is read (notifies()): none may be lost.
        self.notifications: deque[ev.NotificationResponse] = deque()
        self.notice_handlers: list[Callable[[Mapping[str, str]], object]] = []
        # What ended the session while no command ran: raised by the next call.
        self.idle_error: errors.Error | None = None
        self.notification_handlers: list[Callable[[ev.NotificationResponse], object]] = []
        # (SQL, parameter OIDs) -> what its results looked like last time. Unknown
        # statements ask for text results, which every type has; known ones for
        # binary when every column has a binary decoder. One format code covers all
        # columns, so a statement whose column count changes cannot make Bind fail.
        self._statements: dict[tuple[str, tuple[int, ...]], Statement] = {}
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
        return self.core.state in _ENDED_STATES

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
        adapters call this again while ``producing`` (when not, one call gave
        everything queued).
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

    def note(self, event: ev.Event) -> bool:
        """Keep what the server says outside any answer (a notice, a notification,
        a parameter's new value); False for any other event."""
        if isinstance(event, ev.NoticeResponse):
            self.notices.append(event.fields)
            log_notice(event.fields)
            for notice_handler in self.notice_handlers:
                _call_handler(notice_handler, event.fields)
        elif isinstance(event, ev.NotificationResponse):
            self.notifications.append(event)
            for notification_handler in self.notification_handlers:
                _call_handler(notification_handler, event)
        elif isinstance(event, ev.ParameterStatus):
            if event.name == "TimeZone":
                self.set_timezone(event.value)
            elif event.name == "DateStyle":
                self.set_datestyle(event.value)
        else:
            return False
        return True

    def take_idle(self) -> str | None:
        """Take what the server sent while no command ran (notices, notifications,
        parameter changes); the reason the session is over when what it sent ends
        it (a FATAL error, the connection closed), else None. Only between commands."""
        if self.is_closed:
            return "the connection is closed"
        core = self.core
        if core.owed:
            return None  # what arrived answers a command: its reader takes it
        try:
            while True:
                event = core.next_event()
                if event is ev.NEED_DATA:
                    return None
                if self.note(event):
                    continue
                if isinstance(event, ev.ErrorResponse):
                    error = errors.from_fields(event.fields)
                    self.idle_error = error
                    return f"the server ended the session while it was idle: {error}"
                elif isinstance(event, ev.ConnectionClosed):
                    reason = "the server closed the connection while it was idle"
                    self.idle_error = errors.OperationalError(reason)
                    return reason
        except errors.Error as exc:
            self.idle_error = exc
            return str(exc)

    # -- commands ----------------------------------------------------------

    def startup(self) -> Startup:
        return Startup(self)

    def _row_factory(self, row_factory: RowFactory[Any] | None) -> RowFactory[Any] | None:
        """The row factory of a command: its own, else the session's; None for tuples,
        which the decoder makes already (``tuple_row`` included)."""
        factory = self.row_factory if row_factory is None else row_factory
        if factory is None or factory is tuple_row:
            return None
        if not callable(factory):
            raise errors.InterfaceError(
                "row_factory is a function of the columns, such as pgpipe.rows.dict_row, "
                f"not a {type(factory).__name__}"
            )
        return factory

    def check_parameters(self, sql: object, given: int) -> None:
        """Refuse ``given`` values for ``sql`` unless they match its ``$n`` placeholders
        (ProgrammingError naming both numbers), before anything is encoded or queued.
        Also refuses SQL that is not a str."""
        check_count(sql, given, self.core.parameters.get("standard_conforming_strings") != "off")

    def query_with_param_types(
        self,
        sql: object,
        params: Sequence[tuple[object, int]],
        sync: bool = True,
        *,
        row_factory: RowFactory[Any] | None = None,
    ) -> UnnamedQuery:
        sql = sql_text(sql)
        factory = self._row_factory(row_factory)
        oids, formats, values = self._typed(sql, params)
        return self._unnamed(sql, oids, formats, values, sync, factory)

    def _typed(self, sql: str, params: Any) -> tuple[list[int], list[int], list[bytes | None]]:
        """Parameter OIDs, format codes and values, each of the type stated with it
        (``params``, the caller's, is checked here: Any, not what it should be)."""
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

    def query(
        self,
        sql: object,
        params: Sequence[object],
        sync: bool = True,
        *,
        row_factory: RowFactory[Any] | None = None,
    ) -> UnnamedQuery:
        if type(sql) is not str:
            sql = sql_text(sql)
        factory = (
            None
            if row_factory is None and self.row_factory is None
            else self._row_factory(row_factory)
        )
        # The common case inlined (a known text, standard_conforming_strings on).
        if (
            COUNTS.get(sql, -1) != len(params)
            or self.core.parameters.get("standard_conforming_strings") == "off"
        ):
            self.check_parameters(sql, len(params))
        try:
            oids, formats, values = _inferred(params)  # inlined self._inferred: the common path
        except errors.DataError as exc:
            oids, formats, values = self._inferred_rows(params, exc)
        # Unpacked, not *encoded: compiled, a star-args call is a generic Python call.
        return self._unnamed(sql, oids, formats, values, sync, factory)

    # A pipeline's commands are staged first (values encoded, messages checked:
    # what can fail) and queued afterwards, a part at a time as they are sent.

    def staged_query(
        self,
        sql: object,
        params: Sequence[object],
        *,
        row_factory: RowFactory[Any] | None = None,
    ) -> Callable[[bool], Operation]:
        sql = sql_text(sql)
        factory = self._row_factory(row_factory)
        self.check_parameters(sql, len(params))
        oids, formats, values = self._inferred(params)
        frontend.parse("", sql, oids)  # checks the text and the parameter count (memoized)
        return lambda sync: self._unnamed(sql, oids, formats, values, sync, factory)

    def staged_query_with_param_types(
        self,
        sql: object,
        params: Sequence[tuple[object, int]],
        *,
        row_factory: RowFactory[Any] | None = None,
    ) -> Callable[[bool], Operation]:
        sql = sql_text(sql)
        factory = self._row_factory(row_factory)
        oids, formats, values = self._typed(sql, params)
        frontend.parse("", sql, oids)
        return lambda sync: self._unnamed(sql, oids, formats, values, sync, factory)

    def staged_execute(
        self, sql: object, *, row_factory: RowFactory[Any] | None = None
    ) -> Callable[[bool], Operation]:
        sql = sql_text(sql)
        factory = self._row_factory(row_factory)
        frontend.cstring(sql, "SQL text")
        return lambda sync: self._script(sql, factory)

    def _result_formats(self, key: tuple[str, tuple[int, ...]]) -> tuple[int, ...]:
        """Text for a statement not seen before; else each column's (Bind's codes)."""
        statement = self._statements.get(key)
        return _ALL_TEXT if statement is None else statement.result_formats

    def _unnamed(
        self,
        sql: str,
        oids: list[int],
        formats: list[int],
        values: list[bytes | None],
        sync: bool = True,
        factory: RowFactory[Any] | None = None,
    ) -> UnnamedQuery:
        """``factory`` is the command's row factory, already chosen (``_row_factory``)."""
        key = (sql, tuple(oids))
        statement = self._statements.get(key)  # self._result_formats(key), written out
        if len(formats) > 1:
            formats = _one_code(formats)
        if sync and self._cache_size:
            result_formats = _ALL_TEXT if statement is None else statement.result_formats
            return self._cached(key, formats, values, result_formats, factory)
        # A statement run again (the commonest) goes out in the frame kept with it.
        frame = statement.frame if statement is not None and sync else None
        if frame is None:
            result_formats = _ALL_TEXT if statement is None else statement.result_formats
            frame = frontend.unnamed_frame(sql, key[1], result_formats, sync)
            if statement is not None and sync:
                statement.frame = frame
        self.core.send_framed_query(frame, formats, values)
        return UnnamedQuery(self, key, sync, factory)

    # -- named statements --------------------------------------------------------

    def _new_name(self) -> str:
        self._names += 1
        return f"{self._prefix}{self._names}"

    def _cached(
        self,
        key: tuple[str, tuple[int, ...]],
        formats: list[int],
        values: list[bytes | None],
        result_formats: tuple[int, ...],
        factory: RowFactory[Any] | None,
    ) -> PreparedQuery:
        """A query through the statement cache: Parse the first time, then Bind only."""
        cache = self._cache
        prepared = cache.get(key)
        core = self.core
        if prepared is not None:  # the common case, written out: Bind only
            cache.move_to_end(key)
            core.send_named_query(prepared.name, formats, values, result_formats)
            bound = (formats, values, result_formats)
            return PreparedQuery(self, key, prepared, bound, False, factory)
        frontend.parse("", key[0], key[1])  # what can fail, before the cache changes
        while len(cache) >= self._cache_size:
            _, old = cache.popitem(last=False)
            core.send_close("S", old.name)  # answered ahead of this query
        prepared = cache[key] = Prepared(self._new_name(), key[0], key[1])
        return self._run_named(
            key, prepared, formats, values, result_formats, (key[0], key[1]), factory
        )

    def _run_named(
        self,
        key: tuple[str, tuple[int, ...]],
        prepared: Prepared,
        formats: list[int],
        values: list[bytes | None],
        results: tuple[int, ...],
        parse: tuple[str, tuple[int, ...]] | None,
        factory: RowFactory[Any] | None,
    ) -> PreparedQuery:
        self.core.send_named_query(prepared.name, formats, values, results, parse=parse)
        return PreparedQuery(
            self, key, prepared, (formats, values, results), parse is not None, factory
        )

    def forget(self, key: tuple[str, tuple[int, ...]], prepared: Prepared) -> None:
        """Drop a cached statement that failed to prepare or vanished from the server."""
        if self._cache.get(key) is prepared:
            del self._cache[key]

    def prepare(self, sql: object, param_types: Sequence[int] | None) -> Describing:
        """Parse a named statement and Describe it (its parameter types), then Sync."""
        sql = sql_text(sql)
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

    def run_prepared(
        self,
        prepared: Prepared,
        params: Sequence[object],
        *,
        row_factory: RowFactory[Any] | None = None,
    ) -> PreparedQuery:
        """Bind, Describe, Execute and Sync a prepared statement: no Parse."""
        factory = self._row_factory(row_factory)
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
        return self._run_named(
            key, prepared, _one_code(formats), values, self._result_formats(key), None, factory
        )

    def close_prepared(self, prepared: Prepared) -> Closing:
        """Close (free) a prepared statement on the server, then Sync."""
        prepared.closed = True
        self.core.send_close("S", prepared.name)
        self.core.send_sync()
        return Closing(self)

    def execute(self, sql: object, *, row_factory: RowFactory[Any] | None = None) -> Script:
        sql = sql_text(sql)
        return self._script(sql, self._row_factory(row_factory))

    def _script(self, sql: str, factory: RowFactory[Any] | None) -> Script:
        self.core.send_query(sql)
        return Script(self, factory)

    def copy(self, sql: object) -> CopyCommand:
        """COPY ... FROM STDIN or TO STDOUT as a simple Query; COPY data is accepted."""
        sql = sql_text(sql)
        op = CopyCommand(self)
        self.core.send_query(sql)
        self.core.copy_in_allowed = True
        return op

    def stream(
        self,
        sql: object,
        params: Sequence[object],
        batch_size: object,
        *,
        param_types: Sequence[int] | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> Stream:
        """Parse, Bind, Describe and the first Execute of ``batch_size`` rows, then Flush."""
        sql = sql_text(sql)
        factory = self._row_factory(row_factory)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise errors.InterfaceError(
                f"batch_size must be a positive integer, not {batch_size!r}"
            )
        if param_types is not None:
            oids, formats, values = self._typed(sql, paired(params, param_types))
        else:
            self.check_parameters(sql, len(params))
            oids, formats, values = self._inferred(params)
        key = (sql, tuple(oids))
        core = self.core
        core.send_parse("", sql, oids)
        core.send_bind("", "", _one_code(formats), values, self._result_formats(key))
        core.send_describe("P", "")
        op = Stream(self, key, factory)
        op.more(batch_size)
        return op

    def executemany(
        self,
        sql: object,
        rows: Sequence[Sequence[object]],
        param_types: Sequence[int] | None = None,
        *,
        row_factory: RowFactory[Any] | None = None,
    ) -> Many:
        """Queue ``sql`` once per row of parameters, as ``Many`` describes.

        The rows are encoded and queued in chunks, the first (``_MANY_FIRST_CHUNK``
        rows) now and the others (``_MANY_CHUNK``) as the adapter sends
        (``data_to_send``), so the server starts on the first rows while later
        ones are encoded. A value in the first chunk that cannot be encoded raises here, before
        anything is queued; one in a later chunk makes the server fail the
        batch (nothing is committed) and is raised once it is over.
        """
        sql = sql_text(sql)
        op = Many(self, self._row_factory(row_factory))
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
                                sql, signature, run, text_results, signature != parsed
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
                        self._queue_run(sql, signature, run, text_results, signature != parsed)
                        parsed, queued = signature, True
                    signature, run = (oids, formats), []
                    columns = None
                if param_types is None and columns is None and None not in values:
                    columns = _column_writer(row, oids)
                run.append(bind_values(values))
                if len(run) == chunk:
                    assert signature is not None
                    self._queue_run(sql, signature, run, text_results, signature != parsed)
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
                self._queue_run(sql, signature, run, text_results, signature != parsed)
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
            self._decoders_changed()

    def _decoders_changed(self) -> None:
        """The decoders of some types changed (new settings, a type registered): the
        statements, which chose theirs, are forgotten, and the late text decoders
        read with the new ones."""
        self._statements.clear()
        for oid, (cell, _) in self._late.items():
            cell[0] = self._current_decoder(oid, _TEXT)

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
        DECODE_BATCH on the way), so they are read in the setting reported.
        The decoder of the moment sits in a cell that a new setting (or a type
        registered) replaces; every statement's columns share it."""
        late = self._late.get(oid)
        if late is None:
            cell = [self._current_decoder(oid, _TEXT)]

            def decode(data: bytes) -> object:
                return cell[0](data)

            late = self._late[oid] = (cell, decode)
        return late[1]

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
            error = errors.DataError(
                f"the encoder registered for type {oid} failed on a {type(value).__name__} "
                f"({exc.__class__.__name__}); nothing was sent"
            )
            raise caused(error, exc) from exc

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
        self._decoders_changed()

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
    ) -> Statement:
        """What this statement returns, remembered for its next run (and its result format)."""
        statement = self._statements.get(key)
        # The core hands out one RowDescription object per distinct description, so
        # an unchanged statement is recognised by identity.
        if statement is None or statement.fields is not fields:
            statement = Statement(fields, self, fixed_shape(key[0]))
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
        factory: RowFactory[Any] | None = None,
    ) -> Result[Any]:
        return Statement(fields, self).result(raw_rows, status, factory)


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


def paired(values: Sequence[object], param_types: Sequence[int]) -> list[tuple[object, int]]:
    """``values`` with the types ``param_types=`` states for them, one each, as the
    ``(value, pgpipe.Type.X)`` pairs of ``query_with_param_types``."""
    oids = _type_oids(param_types)
    if len(oids) != len(values):
        raise errors.ProgrammingError(
            f"{len(values)} parameter value{'s' if len(values) != 1 else ''} given with "
            f"{len(oids)} param_types: give one type per value"
        )
    return list(zip(values, oids, strict=True))


def _type_oids(param_types: object) -> list[int]:
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
    if len(formats) > 1 and formats.count(formats[0]) == len(formats):
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
