"""Backend messages: the body of each message type decoded into an event.

``DECODERS`` maps a message type byte to the function that decodes its body.
Authentication ('R') is decoded by ``authentication`` and handled by the
connection, which answers it. Every decoder checks lengths and rejects
trailing bytes; a short body or bad UTF-8 surfaces as struct.error,
IndexError or ValueError, which the connection turns into ProtocolError.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from pgpipe.errors import ProtocolError
from pgpipe.protocol import events as ev

_I32 = struct.Struct("!i")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_I32_I32 = struct.Struct("!ii")
_FIELD_TAIL = struct.Struct("!IhIhih")
_COPY_HEAD = struct.Struct("!bH")


class _Reader:
    """Reads fields of one message body in order."""

    __slots__ = ("body", "pos")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pos = 0

    def cstring(self) -> str:
        end = self.body.index(b"\x00", self.pos)
        text = self.body[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def unpack(self, fmt: struct.Struct) -> tuple[int, ...]:
        values: tuple[int, ...] = fmt.unpack_from(self.body, self.pos)
        self.pos += fmt.size
        return values

    def rest(self) -> bytes:
        data = self.body[self.pos :]
        self.pos = len(self.body)
        return data

    def done(self) -> None:
        if self.pos != len(self.body):
            raise ProtocolError(
                f"{len(self.body) - self.pos} unexpected bytes at the end of a message"
            )


def authentication(body: bytes) -> tuple[int, bytes]:
    """Authentication request: the int32 code and whatever data follows it."""
    if len(body) < 4:
        raise ProtocolError("an Authentication message is shorter than its code")
    (code,) = _I32.unpack_from(body, 0)
    return code, body[4:]


def _empty(event: ev.Event) -> Callable[[bytes], ev.Event]:
    def decoder(body: bytes) -> ev.Event:
        if body:
            raise ProtocolError(f"{type(event).__name__} must have an empty body")
        return event

    return decoder


def _parameter_status(body: bytes) -> ev.ParameterStatus:
    r = _Reader(body)
    event = ev.ParameterStatus(r.cstring(), r.cstring())
    r.done()
    return event


def _backend_key_data(body: bytes) -> ev.BackendKeyData:
    if not 8 <= len(body) <= 260:
        raise ProtocolError(f"BackendKeyData carries a 4 to 256-byte key, not {len(body) - 4}")
    (pid,) = _I32.unpack_from(body, 0)
    return ev.BackendKeyData(pid, body[4:])


def _negotiate_protocol_version(body: bytes) -> ev.NegotiateProtocolVersion:
    r = _Reader(body)
    minor, count = r.unpack(_I32_I32)
    if count < 0:
        raise ProtocolError("NegotiateProtocolVersion has a negative option count")
    options = tuple(r.cstring() for _ in range(count))
    r.done()
    return ev.NegotiateProtocolVersion(minor, options)


_READY: Final = {
    b"I": ev.ReadyForQuery("I"),
    b"T": ev.ReadyForQuery("T"),
    b"E": ev.ReadyForQuery("E"),
}


def _ready_for_query(body: bytes) -> ev.ReadyForQuery:
    event = _READY.get(body)
    if event is None:
        raise ProtocolError(f"ReadyForQuery has an invalid transaction status {body!r}")
    return event


def _parameter_description(body: bytes) -> ev.ParameterDescription:
    r = _Reader(body)
    (count,) = r.unpack(_U16)
    oids = r.unpack(struct.Struct(f"!{count}I"))
    r.done()
    return ev.ParameterDescription(oids)


_ROW_DESCRIPTIONS: dict[bytes, ev.RowDescription] = {}
_ROW_DESCRIPTIONS_KEPT: Final = 512


def row_description(body: bytes) -> ev.RowDescription:
    # A statement run again sends the same RowDescription: decode it once. The
    # events are immutable, so sharing them is safe.
    event = _ROW_DESCRIPTIONS.get(body)
    if event is None:
        event = _decode_row_description(body)
        if len(_ROW_DESCRIPTIONS) >= _ROW_DESCRIPTIONS_KEPT:
            _ROW_DESCRIPTIONS.clear()
        _ROW_DESCRIPTIONS[body] = event
    return event


def _decode_row_description(body: bytes) -> ev.RowDescription:
    r = _Reader(body)
    (count,) = r.unpack(_U16)
    fields = []
    for _ in range(count):
        name = r.cstring()
        table_oid, column, type_oid, size, modifier, fmt = r.unpack(_FIELD_TAIL)
        if fmt not in (0, 1):
            raise ProtocolError(f"RowDescription has an invalid format code {fmt}")
        fields.append(ev.FieldDescription(name, table_oid, column, type_oid, size, modifier, fmt))
    r.done()
    return ev.RowDescription(tuple(fields))


def _data_row(body: bytes) -> ev.DataRow:
    return ev.DataRow(data_row_values(body))


def data_row_values(body: bytes) -> tuple[bytes | None, ...]:
    """A DataRow's column values: bytes, or None for NULL; ProtocolError if it
    does not split into exactly its values."""
    try:
        (count,) = _U16.unpack_from(body, 0)
        pos = 2
        values: list[bytes | None] = []
        append = values.append
        unpack = _I32.unpack_from
        for _ in range(count):
            (size,) = unpack(body, pos)
            pos += 4
            if size >= 0:
                # A value running past the end is caught below: the slice stops at
                # the end of the body and pos does not.
                append(body[pos : pos + size])
                pos += size
            elif size == -1:
                append(None)
            else:
                raise ProtocolError(f"DataRow has an invalid value length {size}")
    except struct.error:
        raise ProtocolError("DataRow ends inside a value's length") from None
    if pos != len(body):
        raise ProtocolError("DataRow values do not fill the message exactly")
    return tuple(values)


_TAGS: Final[dict[bytes, str]] = {}
_TAGS_KEPT: Final = 256


def command_tag(body: bytes) -> str:
    """The tag a CommandComplete body holds."""
    tag = _TAGS.get(body)  # "SELECT 1", "INSERT 0 1": the same few, again and again
    if tag is None:
        if body[-1:] != b"\x00" or b"\x00" in body[:-1]:
            raise ProtocolError("CommandComplete must hold one NUL-terminated tag")
        tag = body[:-1].decode("utf-8")
        if len(_TAGS) < _TAGS_KEPT:
            _TAGS[body] = tag
    return tag


def _command_complete(body: bytes) -> ev.CommandComplete:
    return ev.CommandComplete(command_tag(body))


def _fields(body: bytes) -> dict[str, str]:
    """ErrorResponse/NoticeResponse fields; text is decoded leniently (it may predate UTF8)."""
    fields: dict[str, str] = {}
    pos = 0
    while True:
        code = body[pos : pos + 1]
        if code == b"\x00":
            break
        if not code:
            raise ProtocolError("error or notice fields are not terminated")
        end = body.index(b"\x00", pos + 1)
        fields[code.decode("ascii")] = body[pos + 1 : end].decode("utf-8", "replace")
        pos = end + 1
    if pos + 1 != len(body):
        raise ProtocolError("error or notice has trailing bytes")
    return fields


def _error_response(body: bytes) -> ev.ErrorResponse:
    return ev.ErrorResponse(_fields(body))


def _notice_response(body: bytes) -> ev.NoticeResponse:
    return ev.NoticeResponse(_fields(body))


def _notification_response(body: bytes) -> ev.NotificationResponse:
    r = _Reader(body)
    (pid,) = r.unpack(_I32)
    event = ev.NotificationResponse(pid, r.cstring(), r.cstring())
    r.done()
    return event


def _copy_formats(body: bytes) -> tuple[int, tuple[int, ...]]:
    r = _Reader(body)
    fmt, count = r.unpack(_COPY_HEAD)
    formats = r.unpack(struct.Struct(f"!{count}h"))
    r.done()
    return fmt, formats


def _copy_in_response(body: bytes) -> ev.CopyInResponse:
    return ev.CopyInResponse(*_copy_formats(body))


def _copy_out_response(body: bytes) -> ev.CopyOutResponse:
    return ev.CopyOutResponse(*_copy_formats(body))


def _copy_data(body: bytes) -> ev.CopyData:
    return ev.CopyData(body)


DECODERS: Final[dict[bytes, Callable[[bytes], ev.Event]]] = {
    b"S": _parameter_status,
    b"K": _backend_key_data,
    b"v": _negotiate_protocol_version,
    b"Z": _ready_for_query,
    b"1": _empty(ev.ParseComplete()),
    b"2": _empty(ev.BindComplete()),
    b"3": _empty(ev.CloseComplete()),
    b"n": _empty(ev.NoData()),
    b"I": _empty(ev.EmptyQueryResponse()),
    b"s": _empty(ev.PortalSuspended()),
    b"c": _empty(ev.CopyDone()),
    b"t": _parameter_description,
    b"T": row_description,
    b"D": _data_row,
    b"C": _command_complete,
    b"E": _error_response,
    b"N": _notice_response,
    b"A": _notification_response,
    b"G": _copy_in_response,
    b"H": _copy_out_response,
    b"d": _copy_data,
}
