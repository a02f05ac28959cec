"""Test helpers: build backend messages byte by byte, and parse frontend ones back.

Written independently of pgpipe.protocol so the tests check the core against
the protocol documentation, not against itself: the backend messages are the
bytes pgpipe.strategies writes from the message formats (``backend_bytes``);
``msg`` builds any other, malformed ones included.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from pgpipe import strategies as ps


def msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def auth(code: int, data: bytes = b"") -> bytes:
    return msg(b"R", struct.pack("!i", code) + data)


def auth_ok() -> bytes:
    return ps.backend_bytes(ps.AuthenticationOk())


def parameter_status(name: str, value: str) -> bytes:
    return ps.backend_bytes(ps.ParameterStatus(name, value))


def backend_key_data(pid: int, key: bytes) -> bytes:
    return ps.backend_bytes(ps.BackendKeyData(pid, key))


def ready(status: str = "I") -> bytes:
    return ps.backend_bytes(ps.ReadyForQuery(status))


PARSE_COMPLETE = ps.backend_bytes(ps.ParseComplete())
BIND_COMPLETE = ps.backend_bytes(ps.BindComplete())
CLOSE_COMPLETE = ps.backend_bytes(ps.CloseComplete())
NO_DATA = ps.backend_bytes(ps.NoData())
EMPTY_QUERY = ps.backend_bytes(ps.EmptyQueryResponse())
PORTAL_SUSPENDED = ps.backend_bytes(ps.PortalSuspended())


def row_description(columns: Iterable[tuple[str, int, int]]) -> bytes:
    """Columns as ``(name, type OID, format)``."""
    return ps.backend_bytes(
        ps.RowDescription(
            tuple(ps.FieldDescription(name, type_oid=oid, format=fmt) for name, oid, fmt in columns)
        )
    )


def data_row(values: Iterable[bytes | None]) -> bytes:
    return ps.backend_bytes(ps.DataRow(tuple(values)))


def command_complete(tag: str) -> bytes:
    return ps.backend_bytes(ps.CommandComplete(tag))


def error(code: str = "42601", message: str = "syntax error", severity: str = "ERROR") -> bytes:
    return ps.backend_bytes(
        ps.ErrorResponse((("S", severity), ("V", severity), ("C", code), ("M", message)))
    )


def notice(message: str = "hello") -> bytes:
    return ps.backend_bytes(
        ps.NoticeResponse((("S", "NOTICE"), ("V", "NOTICE"), ("C", "00000"), ("M", message)))
    )


def notification(pid: int, channel: str, payload: str) -> bytes:
    return ps.backend_bytes(ps.NotificationResponse(pid, channel, payload))


def startup_ok(pid: int = 42, key: bytes = b"\x00\x00\x00\x07") -> bytes:
    """What a trust server answers to a StartupMessage."""
    return (
        auth_ok()
        + parameter_status("client_encoding", "UTF8")
        + parameter_status("DateStyle", "ISO, MDY")
        + parameter_status("server_version", "15.0")
        + backend_key_data(pid, key)
        + ready("I")
    )


def one_shot_reply(
    rows: Iterable[Iterable[bytes | None]], columns: Iterable[tuple[str, int, int]]
) -> bytes:
    """The answer to Parse/Bind/Describe(portal)/Execute/Close/Sync for a SELECT."""
    rows = [list(r) for r in rows]
    return (
        PARSE_COMPLETE
        + BIND_COMPLETE
        + row_description(columns)
        + b"".join(data_row(r) for r in rows)
        + command_complete(f"SELECT {len(rows)}")
        + CLOSE_COMPLETE
        + ready("I")
    )


def split_frontend(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a stream of typed frontend messages into (type, body) pairs."""
    out = []
    pos = 0
    while pos < len(data):
        kind = data[pos : pos + 1]
        (length,) = struct.unpack_from("!i", data, pos + 1)
        out.append((kind, data[pos + 5 : pos + 1 + length]))
        pos += 1 + length
    if pos != len(data):
        raise ValueError("trailing bytes")
    return out


def parse_startup(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Return (protocol, parameters, rest of data) of a StartupMessage at the start of data."""
    length, protocol = struct.unpack_from("!ii", data, 0)
    parts = data[8 : length - 1].split(b"\x00")
    params = {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts) - 1, 2)}
    return protocol, params, data[length:]
