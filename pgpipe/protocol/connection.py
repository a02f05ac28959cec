"""The sans-IO connection: commands in, bytes out; bytes in, events out.

``ProtocolConnection`` owns one PostgreSQL session's protocol state. It does
no I/O and reads no clock or random source. The caller

- feeds what the server sent with ``receive_data`` (``b""`` means EOF),
- takes events one at a time from ``next_event`` until it returns NEED_DATA,
- sends ``data_to_send()`` whenever it is not empty.

Every frontend message that the server answers pushes what it must answer
onto a queue of expectations (``_Expect``); each backend message is checked
against the transition table of the oldest one. Commands may be
queued at any time before Terminate, including during startup: the queue is
what lets a first query ride along with the authentication messages.

NoticeResponse, NotificationResponse and ParameterStatus are accepted in
every state. Anything malformed or out of place raises ProtocolError; a
request the client cannot meet (an unsupported authentication method, a
password it was not given) raises OperationalError. After either the
connection is dead and every call raises ProtocolError saying why.
"""

from __future__ import annotations

import enum
import struct
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Final

from pgpipe._compiled import i64
from pgpipe.errors import Error, InterfaceError, ProtocolError
from pgpipe.protocol import backend, frontend
from pgpipe.protocol import events as ev
from pgpipe.protocol.auth import METHOD_NAMES, Authenticator
from pgpipe.protocol.buffer import (
    DEFAULT_MAX_MESSAGE_SIZE,
    INTERPRETED,
    LENGTH,
    ReceiveBuffer,
    frame_rows,
    word_at,
)

_STAY: Final = "stay"
_POP: Final = "pop"
_KEY: Final = "BackendKeyData"
_VERSION: Final = "NegotiateProtocolVersion"


class _Expect:
    """What the server owes for a frontend message still unanswered.

    ``transitions`` maps each message type the server may send while this is
    the oldest debt to what happens to it: it stays, it is popped, another
    expectation replaces it, or (during startup) the connection records it.
    A missing key is a protocol error, unless the message is one accepted
    anywhere (``_handle_other``).
    """

    __slots__ = ("name", "transitions")

    def __init__(self, name: str, transitions: Mapping[bytes, _Expect | str]) -> None:
        self.name = name
        self.transitions = dict(transitions)

    def __repr__(self) -> str:
        return f"<expect {self.name}>"


_STARTUP: Final = _Expect("StartupMessage", {b"K": _KEY, b"v": _VERSION, b"Z": _POP})
_PARSE: Final = _Expect("Parse", {b"1": _POP})
_BIND: Final = _Expect("Bind", {b"2": _POP})
_DESCRIBE_PORTAL: Final = _Expect("Describe(portal)", {b"T": _POP, b"n": _POP})
_DESCRIBE_STATEMENT: Final = _Expect("Describe(statement)", {b"t": _DESCRIBE_PORTAL})
_EXECUTE: Final = _Expect("Execute", {b"D": _STAY, b"C": _POP, b"I": _POP, b"s": _POP})
_COPY_OUT: Final = _Expect("COPY TO STDOUT", {b"d": _STAY, b"c": _POP})
_COPY_IN: Final = _Expect("COPY FROM STDIN", {})
_CLOSE: Final = _Expect("Close", {b"3": _POP})
_SYNC: Final = _Expect("Sync", {b"Z": _POP})
_QUERY: Final = _Expect("Query", {b"T": _STAY, b"D": _STAY, b"C": _STAY, b"I": _STAY, b"Z": _POP})

# Messages that start COPY: the copy expectation goes in front of the current one.
_COPY_STARTS: Final = {b"G": _COPY_IN, b"H": _COPY_OUT}
_COPY_HOSTS: Final = frozenset({_EXECUTE, _QUERY})

# Where an ErrorResponse stops discarding expectations: the server skips to Sync.
_ERROR_STOPS: Final = frozenset({_SYNC, _QUERY, _STARTUP})

# Expectations under which DataRow keeps them in place (see their transitions).
_ROW_HOSTS: Final = frozenset({_EXECUTE, _QUERY})
_data_row: Final = backend.DECODERS[b"D"]
_data_row_values: Final = backend.data_row_values
_command_tag: Final = backend.command_tag

# ReadyForQuery's status byte, as an int (hashed without hashing a bytes object).
_READY_STATUSES: Final = {0x49: "I", 0x54: "T", 0x45: "E"}
# The type bytes _split_answer reads, as the ints indexing bytes gives.
_ROW_DESCRIPTION: Final = 0x54  # b"T"
_NO_DATA: Final = 0x6E  # b"n"
_COMMAND_COMPLETE: Final = 0x43  # b"C"
_EMPTY_QUERY: Final = 0x49  # b"I"

_ONE_SHOT: Final = (_PARSE, _BIND, _DESCRIBE_PORTAL, _EXECUTE, _CLOSE, _SYNC)
_ONE_SHOT_UNSYNCED: Final = _ONE_SHOT[:-1]
_BOUND: Final = (_BIND, _DESCRIBE_PORTAL, _EXECUTE, _SYNC)
# How the answers next_answer takes begin and end (ReadyForQuery but for its
# status byte): the one-packet query's (ParseComplete, BindComplete ...
# CloseComplete, ReadyForQuery) and a named statement's run (BindComplete ...
# ReadyForQuery).
_UNNAMED_HEAD: Final = b"1\x00\x00\x00\x042\x00\x00\x00\x04"
_UNNAMED_TAIL: Final = b"3\x00\x00\x00\x04Z\x00\x00\x00\x05"
_BOUND_HEAD: Final = b"2\x00\x00\x00\x04"
_BOUND_TAIL: Final = b"Z\x00\x00\x00\x05"
_BIND_EXECUTE: Final = (_BIND, _EXECUTE)

_ASYNC: Final = frozenset({b"N", b"A", b"S"})
_KNOWN_TYPES: Final = frozenset({b"R", *backend.DECODERS})

# Settings whose other values pgpipe cannot read at all: text that is not UTF-8,
# float timestamps. A server that reports another value has left the contract
# and the connection is closed. DateStyle, IntervalStyle and TimeZone are free:
# the session reads their ParameterStatus and decodes values in any of them.
PINNED_PARAMETERS: Final[Mapping[str, tuple[str, ...]]] = {
    "client_encoding": ("UTF8", "UNICODE"),
    "integer_datetimes": ("on",),
}

# What the StartupMessage says besides user and database: only what libpq may
# send too, which every pooler accepts in its default configuration (PgBouncer
# before 1.20 refuses IntervalStyle, and any name it does not track, unless
# told to ignore it).
STARTUP_DEFAULTS: Final[Mapping[str, str]] = {
    "client_encoding": "UTF8",
}


PIPELINE_MODES: Final = ("auto", "trust", "password", "scram")
"""Pipelined connect: "auto" sends the first query with the last authentication
message; "trust", "password" and "scram" guess the method and answer it before
being asked."""
_GUESSES: Final = frozenset({"trust", "password", "scram"})
_SPECULATIVE: Final = frozenset({"password", "scram"})
_NO_HOLD: Final = frozenset({"trust", "password"})


class State(enum.Enum):
    STARTUP = "startup"
    READY = "ready"
    BUSY = "busy"
    CLOSING = "closing"
    CLOSED = "closed"
    DEAD = "dead"


# The states as module constants: an Enum member read through its class costs a
# metaclass attribute lookup, several times a query.
_STARTUP_STATE: Final = State.STARTUP
_READY_STATE: Final = State.READY
_BUSY_STATE: Final = State.BUSY
_CLOSING_STATE: Final = State.CLOSING
_CLOSED_STATE: Final = State.CLOSED
_DEAD_STATE: Final = State.DEAD


_Answer = tuple[ev.RowDescription | None, list[bytes], str | None]


def _split_answer(data: bytes, head: i64, tail: i64) -> tuple[_Answer, i64, i64] | None:
    """A one-packet query's answer (``ReceiveBuffer.whole_answer``: its first
    ``head`` bytes and its last ``tail`` bytes are known messages) split: the
    RowDescription or None for NoData, the DataRow bodies, the tag (None for
    EmptyQueryResponse), with where the rows begin and where CommandComplete
    begins; None when what lies between is anything else, or does not frame
    exactly."""
    stop: i64 = len(data) - tail
    length: i64 = LENGTH.unpack_from(data, head + 1)[0] if INTERPRETED else word_at(data, head + 1)
    at: i64 = head + 1 + length
    if length < 4 or at > stop:
        return None
    fields: ev.RowDescription | None = None
    kind = data[head]
    if kind == _ROW_DESCRIPTION:
        fields = backend.row_description(data[head + 5 : at])
    elif kind != _NO_DATA or length != 4:
        return None
    rows = at
    bodies, at = frame_rows(data, at, stop)
    if (bodies and fields is None) or stop - at < 5:
        return None
    length = LENGTH.unpack_from(data, at + 1)[0] if INTERPRETED else word_at(data, at + 1)
    if at + 1 + length != stop or length < 4:
        return None
    kind = data[at]
    if kind == _COMMAND_COMPLETE:
        return (fields, bodies, backend.command_tag(data[at + 5 : stop])), rows, at
    if kind == _EMPTY_QUERY and length == 4:
        return (fields, bodies, None), rows, at
    return None


class ProtocolConnection:
    """One PostgreSQL session's protocol state; see the module docstring."""

    __slots__ = (
        "_auth",
        "_buffer",
        "_dead_reason",
        "_eof",
        "_expect",
        "_held",
        "_holding",
        "_inbox",
        "_inbox_pos",
        "_outgoing",
        "_pipeline",
        "_shape_fields",
        "_shape_head",
        "_shape_owed",
        "_shape_status",
        "_shape_tag",
        "_shape_tail",
        "_skipping",
        "_state",
        "_unverified",
        "backend_key",
        "copy_in_allowed",
        "parameters",
        "protocol_minor",
        "transaction_status",
    )

    def __init__(
        self,
        *,
        user: str,
        password: str | None = None,
        database: str | None = None,
        settings: Mapping[str, str] | None = None,
        scram_nonce: str | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        pipeline: str | None = None,
        allow_unverified_pipelining: bool = False,
        channel_binding: bytes | None = None,
        channel_binding_policy: str = "prefer",
        require_auth: frozenset[str] | None = None,
    ) -> None:
        """Queue the StartupMessage. ``settings`` are server settings sent with it
        (``application_name``, ``options``, any GUC), sent as given; pinned ones
        (``PINNED_PARAMETERS``) may not be changed.

        ``pipeline`` chooses what may be sent before the server answers
        (``PIPELINE_MODES``); commands queued earlier than that are held back.
        The speculative modes need ``allow_unverified_pipelining``, which the
        caller also sets when TLS verified the server's certificate and name.

        ``channel_binding`` (tls-server-end-point data, None without TLS),
        ``channel_binding_policy`` and ``require_auth`` go to the Authenticator.
        """
        if pipeline is not None and pipeline not in PIPELINE_MODES:
            raise InterfaceError(
                f"pipeline_connect must be one of {', '.join(PIPELINE_MODES)}, not {pipeline!r}"
            )
        if pipeline in _SPECULATIVE and not allow_unverified_pipelining:
            raise InterfaceError(
                f"pipeline_connect={pipeline!r} sends "
                + (
                    "the password before the server asks for it"
                    if pipeline == "password"
                    else "the first query before the server has proved it knows the password"
                )
                + "; that needs TLS with verified certificates (sslmode=verify-full) or "
                "allow_unverified_pipelining=True, which is unsafe on untrusted networks"
            )
        if pipeline in _SPECULATIVE and password is None:
            raise InterfaceError(
                f"pipeline_connect={pipeline!r} sends "
                + ("the password" if pipeline == "password" else "a SCRAM-SHA-256 exchange")
                + " before the server asks, but no password was given (no password "
                "parameter, PGPASSWORD or password file entry): give one, or use "
                "pipeline_connect='auto', which follows whatever the server asks for"
            )
        startup = {"user": user}
        if database is not None:
            startup["database"] = database
        startup.update(STARTUP_DEFAULTS)
        for name, value in (settings or {}).items():
            allowed = PINNED_PARAMETERS.get(name)
            if allowed is not None and value not in allowed:
                raise InterfaceError(f"pgpipe requires {name} to be one of {', '.join(allowed)}")
            if name in ("user", "database"):
                raise InterfaceError(f"{name} is not a setting; pass it as its own argument")
            startup[name] = value
        guess = pipeline if pipeline in _GUESSES else None
        self._auth = Authenticator(
            user,
            password,
            scram_nonce,
            guess,
            channel_binding=channel_binding,
            channel_binding_policy=channel_binding_policy,
            require_auth=require_auth,
        )
        self._outgoing = bytearray(frontend.startup_message(startup))
        self._outgoing += self._auth.speculative_reply()
        self._pipeline = pipeline
        self._unverified = allow_unverified_pipelining
        # Commands queued before the authentication exchange lets them go.
        self._held = bytearray()
        self._holding = pipeline not in _NO_HOLD
        self._buffer = ReceiveBuffer(_KNOWN_TYPES, max_message_size)
        self._inbox: list[tuple[bytes, bytes]] = []
        self._inbox_pos = 0
        # The last one-packet answer's shape: its bytes up to its rows and from its
        # CommandComplete on, with what they say (see next_answer). None yet.
        self._shape_head = b""
        self._shape_tail = b""
        self._shape_fields: ev.RowDescription | None = None
        self._shape_tag: str | None = None
        self._shape_status = ""  # its ReadyForQuery's (the last byte of _shape_tail)
        self._shape_owed = 0  # how many answers it was: 6 unnamed, 4 a named statement's
        self._expect: deque[_Expect] = deque([_STARTUP])
        # After an error, the server discards messages up to the next Sync; True
        # while that Sync has not been queued yet (executemany still sending,
        # a stream's Flush): what is queued until then will not be answered.
        self._skipping = False
        # Whether a CopyInResponse is answered by the session's data (a copy()
        # command) rather than refused with CopyFail (any other command).
        self.copy_in_allowed = False
        self._state = _STARTUP_STATE
        self._eof = False
        self._dead_reason = ""
        self.parameters: dict[str, str] = {}
        self.backend_key: ev.BackendKeyData | None = None
        self.protocol_minor = 0
        self.transaction_status = "I"

    def __repr__(self) -> str:
        return f"<ProtocolConnection state={self._state.value} pending={len(self._expect)}>"

    @property
    def sasl_mechanism(self) -> str | None:
        """The SASL mechanism authentication used (SCRAM-SHA-256 or SCRAM-SHA-256-PLUS)."""
        return self._auth.mechanism

    # -- state -----------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def pending(self) -> int:
        """How many frontend messages still await their answer."""
        return len(self._expect)

    def _die(self, reason: str) -> ProtocolError:
        self._state = _DEAD_STATE
        self._dead_reason = reason
        self._outgoing.clear()
        self._held.clear()
        self._inbox = []
        self._inbox_pos = 0
        return ProtocolError(reason)

    def fail(self, reason: str) -> ProtocolError:
        """The caller found what the server sent malformed (a DataRow that does
        not split into its values): the connection is dead; the error to raise."""
        return self._die(reason)

    def _check_usable(self) -> None:
        if self._state is _DEAD_STATE:
            raise ProtocolError(f"the connection is unusable: {self._dead_reason}")

    # -- commands ----------------------------------------------------------

    def _command(self, data: bytes, expect: tuple[_Expect, ...]) -> None:
        """Queue ``data``, whose messages are answered as ``expect`` says, in order."""
        state = self._state
        if state is not _READY_STATE and state is not _BUSY_STATE and state is not _STARTUP_STATE:
            self._check_usable()
            raise InterfaceError("the connection is closed")
        if self._holding:
            self._held += data
        else:
            self._outgoing += data
        if self._skipping:
            expect = self._unanswered(expect)
        self._expect.extend(expect)
        if self._state is _READY_STATE and self._expect:
            self._state = _BUSY_STATE

    def _unanswered(self, expect: tuple[_Expect, ...]) -> tuple[_Expect, ...]:
        """The answers still to come for messages sent while the server skips to Sync:
        none before the Sync; the Sync's ReadyForQuery, and all after it."""
        for index, item in enumerate(expect):
            if item is _SYNC:
                self._skipping = False
                return expect[index:]
        return ()

    def mark(self) -> tuple[int, int, int, State, bool]:
        """Where the queued messages end now; ``rewind`` drops what is queued after it."""
        return (
            len(self._outgoing),
            len(self._held),
            len(self._expect),
            self._state,
            self._skipping,
        )

    def rewind(self, mark: tuple[int, int, int, State, bool]) -> None:
        """Drop the messages queued since ``mark``, with the answers they expected.

        For a command that failed while it was being queued: nothing may
        have been sent or received since ``mark`` was taken.
        """
        outgoing, held, expect, state, skipping = mark
        if len(self._outgoing) < outgoing or len(self._held) < held:
            raise InterfaceError("rewind: bytes were sent since the mark")
        del self._outgoing[outgoing:]
        del self._held[held:]
        while len(self._expect) > expect:
            self._expect.pop()
        self._state = state
        self._skipping = skipping

    def send_query(self, sql: str) -> None:
        """Query (simple protocol): answered by zero or more result sets, then ReadyForQuery."""
        self._command(frontend.query(sql), (_QUERY,))

    def send_parse(self, name: str, sql: str, param_oids: Sequence[int] = ()) -> None:
        self._command(frontend.parse(name, sql, param_oids), (_PARSE,))

    def send_bind(
        self,
        portal: str,
        statement: str,
        param_formats: Sequence[int],
        params: Sequence[bytes | None],
        result_formats: Sequence[int],
    ) -> None:
        self._command(
            frontend.bind(portal, statement, param_formats, params, result_formats), (_BIND,)
        )

    def send_describe(self, kind: str, name: str) -> None:
        expect = _DESCRIBE_STATEMENT if kind == "S" else _DESCRIBE_PORTAL
        self._command(frontend.describe(kind, name), (expect,))

    def send_execute(self, portal: str, max_rows: int = 0) -> None:
        self._command(frontend.execute(portal, max_rows), (_EXECUTE,))

    def send_close(self, kind: str, name: str) -> None:
        self._command(frontend.close(kind, name), (_CLOSE,))

    @property
    def owed(self) -> bool:
        """Whether the server still owes answers to commands sent (messages that
        arrive now are theirs, not unsolicited ones)."""
        return bool(self._expect)

    @property
    def copying_in(self) -> bool:
        """Whether the server waits for COPY data (a CopyInResponse was received and
        neither CopyDone nor CopyFail sent since, nor the COPY ended by an error)."""
        return bool(self._expect) and self._expect[0] is _COPY_IN

    def send_copy_data(self, data: bytes | bytearray | memoryview) -> None:
        """COPY data (any size, rows need not align with messages); dropped when the
        server no longer waits for it (an error ended the COPY: it would ignore it)."""
        self._check_usable()
        if self.copying_in and len(data):
            self._outgoing += frontend.copy_data_header(len(data))
            self._outgoing += data

    def send_copy_done(self) -> None:
        """The end of the COPY data; the server answers CommandComplete (or an error)."""
        self._check_usable()
        if self.copying_in:
            self._outgoing += frontend.COPY_DONE
            self._expect.popleft()

    def send_copy_fail(self, reason: str) -> None:
        """Abort the COPY: the server answers with an error naming ``reason``."""
        self._check_usable()
        if self.copying_in:
            self._outgoing += frontend.copy_fail(reason)
            self._expect.popleft()

    def send_sync(self) -> None:
        self._command(frontend.SYNC, (_SYNC,))

    def send_flush(self) -> None:
        self._command(frontend.FLUSH, ())

    def send_unnamed_query(
        self,
        sql: str,
        param_oids: Sequence[int],
        param_formats: Sequence[int],
        params: Sequence[bytes | None],
        result_formats: Sequence[int],
        *,
        sync: bool = True,
    ) -> None:
        """The one-packet query: Parse, Bind, Describe(portal), Execute, Close, Sync.

        Answered by ParseComplete, BindComplete, RowDescription or NoData,
        DataRow*, CommandComplete (or EmptyQueryResponse), CloseComplete,
        ReadyForQuery; or by an ErrorResponse and ReadyForQuery. Without
        ``sync`` the Sync is left out: the statement joins the implicit
        transaction that the next Sync ends (an atomic pipeline).
        """
        frame = frontend.unnamed_frame(sql, param_oids, result_formats, sync)
        self.send_framed_query(frame, param_formats, params)

    def send_framed_query(
        self,
        frame: frontend.UnnamedFrame,
        param_formats: Sequence[int],
        params: Sequence[bytes | None],
    ) -> None:
        """``send_unnamed_query`` in its statement's frame, written before
        (``frontend.unnamed_frame``): answered alike."""
        data = frontend.framed_query(frame, param_formats, params)
        self._command(data, _ONE_SHOT if frame[2] else _ONE_SHOT_UNSYNCED)

    def send_bind_execute_values(
        self,
        param_formats: Sequence[int],
        count: int,
        rows: Sequence[bytes],
        result_formats: Sequence[int],
    ) -> None:
        """Bind the unnamed statement and Execute it once per row (no Sync); each row's
        ``count`` parameter values written by ``frontend.bind_values``."""
        data = frontend.bind_execute_values(param_formats, count, rows, result_formats)
        self._command(data, _BIND_EXECUTE * len(rows))

    def send_named_query(
        self,
        name: str,
        param_formats: Sequence[int],
        params: Sequence[bytes | None],
        result_formats: Sequence[int],
        *,
        parse: tuple[str, Sequence[int]] | None = None,
        close_first: bool = False,
    ) -> None:
        """Run the prepared statement ``name``: Bind, Describe(portal), Execute, Sync.

        ``parse`` (SQL and parameter types) prepares it first in the same packet;
        ``close_first`` closes the name before that (not an error when it does
        not exist), so the Parse cannot collide with an older statement.
        """
        if parse is None and not close_first:  # the common run: one constant tail
            data = frontend.bind("", name, param_formats, params, result_formats)
            self._command(data + frontend.DESCRIBE_EXECUTE_SYNC, _BOUND)
            return
        data = b""
        expect: list[_Expect] = []
        if close_first:
            data += frontend.close("S", name)
            expect.append(_CLOSE)
        if parse is not None:
            data += frontend.parse(name, parse[0], parse[1])
            expect.append(_PARSE)
        data += (
            frontend.bind("", name, param_formats, params, result_formats)
            + frontend.DESCRIBE_EXECUTE_SYNC
        )
        expect += _BOUND
        self._command(data, tuple(expect))

    def send_terminate(self) -> None:
        """Terminate: the server closes the connection; nothing may be sent after it."""
        self._check_usable()
        if self._state in (_CLOSING_STATE, _CLOSED_STATE):
            return
        self._outgoing += frontend.TERMINATE
        self._state = _CLOSING_STATE

    def data_to_send(self) -> bytes:
        """Everything queued for the server since the last call (b"" if nothing)."""
        if not self._outgoing:
            return b""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    # -- input -------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; ``b""`` means the server closed the connection."""
        if self._state is _DEAD_STATE:
            self._check_usable()
        if self._eof:
            if data:
                raise InterfaceError("data received after EOF")
            return
        if data:
            self._buffer.feed(data)
        else:
            self._eof = True

    def has_input(self) -> bool:
        """Whether ``next_event`` may give anything but NEED_DATA: a message received
        and not yet read, the end of the connection, or why it died. False
        (then every ``next_*`` gives nothing) is what a caller sees before the
        answer to what it just queued has begun to arrive."""
        return (
            self._inbox_pos != len(self._inbox)
            or len(self._buffer) >= 5
            or self._eof
            or self._state is _DEAD_STATE
        )

    def next_event(self) -> ev.Event | ev.NeedData:
        """The next event, or NEED_DATA when the buffered bytes hold no complete message."""
        if self._state is _DEAD_STATE:
            self._check_usable()
        inbox = self._inbox
        if self._inbox_pos == len(inbox):
            try:
                inbox = self._inbox = self._buffer.messages()
            except ProtocolError as exc:
                raise self._die(str(exc)) from None
            self._inbox_pos = 0
            if not inbox:
                if not self._eof:
                    return ev.NEED_DATA
                expected = self._state is _CLOSING_STATE
                self._state = _CLOSED_STATE
                self._expect.clear()
                return ev.ConnectionClosed(expected)
        kind, body = inbox[self._inbox_pos]
        self._inbox_pos += 1
        try:
            # The hot path of a large result: a DataRow while rows are expected.
            if kind == b"D" and self._expect and self._expect[0] in _ROW_HOSTS:
                return _data_row(body)
            return self._handle(kind, body)
        except ProtocolError as exc:
            raise self._die(str(exc)) from None
        except (struct.error, IndexError, ValueError) as exc:
            raise self._die(f"malformed backend message {kind!r}: {exc}") from None
        except Error as exc:
            # The server asked for something this client cannot give (an
            # authentication method, a password): no way forward either.
            self._die(str(exc))
            raise

    def next_rows(self) -> list[tuple[bytes | None, ...]]:
        """The values of the DataRows at the head of what was received, all at once.

        Only while rows are what the server owes, and only from messages already
        framed: an empty list means "ask ``next_event``". A run of DataRows changes
        no state, so taking it at once runs nothing ahead of the caller.
        """
        bodies = self.next_row_bodies()
        try:
            return [_data_row_values(body) for body in bodies]
        except ProtocolError as exc:
            raise self._die(str(exc)) from None

    def next_row_bodies(self) -> list[bytes]:
        """``next_rows`` with each DataRow's body as it came, not split into values.

        For a caller that reads the values straight out of the body (a
        statement's row decoder): one pass over each row instead of two. Such
        a caller must treat a body that does not split exactly into its values
        as the protocol violation it is, and close the connection.
        """
        if self._state is _DEAD_STATE:
            self._check_usable()
        expect = self._expect
        if not expect or expect[0] not in _ROW_HOSTS:
            return []
        inbox = self._inbox
        pos = self._inbox_pos
        end = len(inbox)
        if pos == end:
            # Nothing framed is left: the rows come straight from the buffer.
            return self._buffer.data_rows()
        bodies: list[bytes] = []
        append = bodies.append
        while pos < end:
            kind, body = inbox[pos]
            if kind != b"D":
                break
            append(body)
            pos += 1
        self._inbox_pos = pos
        return bodies

    def next_answer(self) -> _Answer | None:
        """The whole answer to a lone one-packet query, taken at once, when it is all
        that was received; None otherwise (then ask ``next_event``).

        While the only thing owed is the answer to ``send_unnamed_query`` with
        its Sync, or to ``send_named_query`` without Parse, and the bytes
        received and not yet read are exactly that answer: ParseComplete (for
        the unnamed query), BindComplete, RowDescription or NoData, DataRows,
        CommandComplete or EmptyQueryResponse, CloseComplete (for the unnamed
        query) and ReadyForQuery. They are consumed as ``next_event`` would,
        and what they carry is returned, the RowDescription (None for NoData),
        the DataRow bodies as they came (see ``next_row_bodies``) and the
        command tag (None for an empty query). Anything else among them (an
        error, a notice, a malformed message) leaves everything as it was.
        """
        expect = self._expect
        size = len(expect)
        if self._inbox_pos != len(self._inbox):
            return None
        if size == 6 and expect[0] is _PARSE and expect[4] is _CLOSE and expect[5] is _SYNC:
            head, tail = _UNNAMED_HEAD, _UNNAMED_TAIL
        elif (
            size == 4
            and expect[0] is _BIND
            and expect[1] is _DESCRIBE_PORTAL
            and expect[3] is _SYNC
        ):
            head, tail = _BOUND_HEAD, _BOUND_TAIL
        else:
            return None
        answer: _Answer | None = None
        if size == self._shape_owed:
            # The last answer's shape again (its statement, run again): the same
            # bytes around its rows, so only the rows need framing, and they
            # must fill exactly what lies between.
            bodies = self._buffer.rows_framed(self._shape_head, self._shape_tail)
            if bodies is not None and (self._shape_fields is not None or not bodies):
                answer = (self._shape_fields, bodies, self._shape_tag)
                status = self._shape_status
        if answer is None:
            data = self._buffer.whole_answer(head, tail)
            if data is None:
                return None
            if self._state is _DEAD_STATE:
                self._check_usable()
            status = _READY_STATUSES.get(data[-1], "")
            if not status:
                return None  # next_event says what is wrong with it
            try:
                split = _split_answer(data, len(head), len(tail) + 1)
            except ProtocolError as exc:
                raise self._die(str(exc)) from None
            except (struct.error, IndexError, ValueError) as exc:
                raise self._die(f"malformed backend message: {exc}") from None
            if split is None:
                return None
            answer, rows, tag_at = split
            self._shape_head = data[:rows]
            self._shape_tail = data[tag_at:]
            self._shape_fields = answer[0]
            self._shape_tag = answer[2]
            self._shape_status = status
            self._shape_owed = size
        elif self._state is _DEAD_STATE:
            self._check_usable()
        self._buffer.clear()
        expect.clear()
        self.transaction_status = status
        if self._state is _BUSY_STATE:
            self._state = _READY_STATE
        return answer

    def next_command_tags(self) -> list[str]:
        """The tags of a run of BindComplete + CommandComplete pairs, taken at once.

        What executemany's rows are answered with. Only from messages already
        framed, and only while a Bind and its Execute are what the server owes;
        anything else (rows, an error) stops the run for ``next_event``.
        """
        if self._state is _DEAD_STATE:
            self._check_usable()
        expect = self._expect
        inbox = self._inbox
        pos = self._inbox_pos
        end = len(inbox) - 1
        tags: list[str] = []
        append = tags.append
        popleft = expect.popleft
        last_body = b""
        tag = ""
        try:
            while pos < end and len(expect) > 1 and expect[0] is _BIND and expect[1] is _EXECUTE:
                bind = inbox[pos]
                kind, body = inbox[pos + 1]
                if bind[0] != b"2" or bind[1] or kind != b"C":
                    break
                if body is not last_body:  # repeated answers share one body object
                    tag = _command_tag(body)
                    last_body = body
                append(tag)
                popleft()
                popleft()
                pos += 2
        except ProtocolError as exc:
            raise self._die(str(exc)) from None
        except (IndexError, ValueError) as exc:
            raise self._die(f"malformed backend message b'C': {exc}") from None
        self._inbox_pos = pos
        return tags

    def _handle(self, kind: bytes, body: bytes) -> ev.Event:
        expect = self._expect
        if expect:
            head = expect[0]
            action = head.transitions.get(kind)
            if action is not None:
                event = backend.DECODERS[kind](body)
                if action is _STAY:
                    return event
                if action is _POP:
                    expect.popleft()
                    if kind == b"Z" and isinstance(event, ev.ReadyForQuery):
                        self._ready(head, event)
                elif isinstance(action, _Expect):
                    expect[0] = action
                elif kind == b"K" and isinstance(event, ev.BackendKeyData):
                    self.backend_key = event
                elif kind == b"v" and isinstance(event, ev.NegotiateProtocolVersion):
                    self.protocol_minor = event.minor
                return event
        return self._handle_other(kind, body)

    def _handle_other(self, kind: bytes, body: bytes) -> ev.Event:
        """Messages outside the head's table: authentication, async ones, errors, COPY."""
        if kind == b"R":
            return self._authentication(body)
        decoder = backend.DECODERS.get(kind)
        if decoder is None:
            raise ProtocolError(f"unknown backend message type {kind!r}")
        event = decoder(body)
        if kind in _ASYNC:
            if kind == b"S" and isinstance(event, ev.ParameterStatus):
                self._parameter_status(event)
            return event
        if kind == b"E":
            return self._error(event)
        if not self._expect:
            raise ProtocolError(f"unexpected message {kind!r} while no command is pending")
        head = self._expect[0]
        copy = _COPY_STARTS.get(kind)
        if copy is None or head not in _COPY_HOSTS:
            raise ProtocolError(f"unexpected message {kind!r} in answer to {head.name}")
        self._expect.appendleft(copy)
        if copy is _COPY_IN and not self.copy_in_allowed:
            # Only copy() sends COPY data: refuse it so the session stays in sync.
            self._outgoing += frontend.copy_fail(
                "COPY FROM STDIN is not supported by pgpipe here: use copy()"
            )
        return event

    def _authentication(self, body: bytes) -> ev.Event:
        if not self._expect or self._expect[0] is not _STARTUP:
            raise ProtocolError("an Authentication message outside startup")
        code, data = backend.authentication(body)
        method = METHOD_NAMES.get(code, str(code))
        reply = self._auth.respond(code, data)
        if reply:
            self._outgoing += reply
        if self._holding:
            last = self._auth.last_reply
            if self._auth.done or (
                self._pipeline in ("auto", "scram")
                and last is not None
                and (last != "scram" or self._unverified)
            ):
                self._release()
        return ev.AuthenticationRequest(method)

    def _release(self) -> None:
        """Let held commands follow the authentication messages."""
        self._outgoing += self._held
        self._held.clear()
        self._holding = False

    def _ready(self, head: _Expect, event: ev.ReadyForQuery) -> None:
        if head is _STARTUP:
            if not self._auth.done:
                raise ProtocolError("ReadyForQuery before authentication completed")
            if self._holding:
                self._release()
        self.transaction_status = event.status
        if not self._expect and self._state is not _CLOSING_STATE:
            self._state = _READY_STATE
        elif self._state is _STARTUP_STATE:
            self._state = _BUSY_STATE

    def _error(self, event: ev.Event) -> ev.Event:
        if not isinstance(event, ev.ErrorResponse):
            raise ProtocolError("malformed ErrorResponse")
        if event.is_fatal:
            self._state = _CLOSING_STATE
            self._expect.clear()
            return event
        if not self._expect:
            raise ProtocolError("ErrorResponse while no command is pending")
        while self._expect and self._expect[0] not in _ERROR_STOPS:
            self._expect.popleft()
        if not self._expect:
            self._skipping = True  # the Sync that ends it is still to be queued
        return event

    def _parameter_status(self, event: ev.ParameterStatus) -> None:
        allowed = PINNED_PARAMETERS.get(event.name)
        if allowed is not None and event.value not in allowed:
            raise ProtocolError(
                f"the server changed {event.name} to {event.value!r}; pgpipe reads values "
                f"only in {allowed[0]} and cannot go on (do not SET {event.name})"
            )
        self.parameters[event.name] = event.value
