"""Test helpers: build backend messages byte by byte, and parse frontend ones back.

Written independently of pgpipe.protocol so the tests check the core against
the protocol documentation, not against itself.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping


def msg(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def auth(code: int, data: bytes = b"") -> bytes:
    return msg(b"R", struct.pack("!i", code) + data)


def auth_ok() -> bytes:
    return auth(0)


def parameter_status(name: str, value: str) -> bytes:
    return msg(b"S", cstr(name) + cstr(value))


def backend_key_data(pid: int, key: bytes) -> bytes:
    return msg(b"K", struct.pack("!i", pid) + key)


def ready(status: str = "I") -> bytes:
    return msg(b"Z", status.encode())


PARSE_COMPLETE = msg(b"1")
BIND_COMPLETE = msg(b"2")
CLOSE_COMPLETE = msg(b"3")
NO_DATA = msg(b"n")
EMPTY_QUERY = msg(b"I")
PORTAL_SUSPENDED = msg(b"s")


def row_description(columns: Iterable[tuple[str, int, int]]) -> bytes:
    cols = list(columns)
    body = struct.pack("!h", len(cols))
    for name, oid, fmt in cols:
        body += cstr(name) + struct.pack("!IhIhih", 0, 0, oid, -1, -1, fmt)
    return msg(b"T", body)


def data_row(values: Iterable[bytes | None]) -> bytes:
    vals = list(values)
    body = struct.pack("!h", len(vals))
    for v in vals:
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
    return msg(b"D", body)


def command_complete(tag: str) -> bytes:
    return msg(b"C", cstr(tag))


def fields(items: Mapping[str, str]) -> bytes:
    return b"".join(k.encode() + cstr(v) for k, v in items.items()) + b"\x00"


def error(code: str = "42601", message: str = "syntax error", severity: str = "ERROR") -> bytes:
    return msg(b"E", fields({"S": severity, "V": severity, "C": code, "M": message}))


def notice(message: str = "hello") -> bytes:
    return msg(b"N", fields({"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": message}))


def notification(pid: int, channel: str, payload: str) -> bytes:
    return msg(b"A", struct.pack("!i", pid) + cstr(channel) + cstr(payload))


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
