"""Frontend messages: pure functions from values to the exact bytes PostgreSQL reads.

Every function validates what it encodes (C strings without NUL, counts that
fit their int16/int32 fields) and raises InterfaceError instead of producing
bytes the server would misread.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from pgpipe.errors import InterfaceError

_I16 = struct.Struct("!h")
_I32 = struct.Struct("!i")
_HEADER = struct.Struct("!ci")
_STARTUP_HEADER = struct.Struct("!ii")
_CANCEL = struct.Struct("!iii")

PROTOCOL_3_0: Final = 3 << 16
CANCEL_REQUEST_CODE: Final = (1234 << 16) | 5678

SYNC: Final = b"S\x00\x00\x00\x04"
FLUSH: Final = b"H\x00\x00\x00\x04"
TERMINATE: Final = b"X\x00\x00\x00\x04"
COPY_DONE: Final = b"c\x00\x00\x00\x04"

_INT16_MAX = 0x7FFF
_INT32_MAX = 0x7FFFFFFF


def _message(kind: bytes, body: bytes) -> bytes:
    return _HEADER.pack(kind, len(body) + 4) + body


def cstring(text: str, what: str) -> bytes:
    """Encode ``text`` as a NUL-terminated UTF-8 string; ``what`` names it in errors."""
    if not isinstance(text, str):
        raise InterfaceError(f"{what} must be a str, not {type(text).__name__}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InterfaceError(
            f"{what} is not valid Unicode: a lone surrogate {text[exc.start]!a} "
            f"at position {exc.start}"
        ) from None
    if b"\x00" in data:
        raise InterfaceError(f"{what} cannot contain NUL (0x00) characters")
    return data + b"\x00"


def _count(n: int, what: str) -> bytes:
    if n > _INT16_MAX:
        raise InterfaceError(f"too many {what}: {n} (the protocol allows {_INT16_MAX})")
    return _I16.pack(n)


def startup_message(parameters: Mapping[str, str], protocol: int = PROTOCOL_3_0) -> bytes:
    """StartupMessage: protocol version, then name/value pairs (``user`` is required)."""
    if "user" not in parameters:
        raise InterfaceError("a StartupMessage needs a user")
    body = b"".join(
        cstring(name, "a startup parameter name") + cstring(value, f"startup parameter {name!r}")
        for name, value in parameters.items()
    )
    body += b"\x00"
    return _STARTUP_HEADER.pack(len(body) + 8, protocol) + body


def cancel_request(process_id: int, secret_key: bytes) -> bytes:
    """CancelRequest: sent on a new connection; the key is 4 to 256 bytes long."""
    if not 4 <= len(secret_key) <= 256:
        raise InterfaceError(f"a cancel key has 4 to 256 bytes, not {len(secret_key)}")
    return _CANCEL.pack(12 + len(secret_key), CANCEL_REQUEST_CODE, process_id) + secret_key


def password_message(password: bytes) -> bytes:
    """PasswordMessage carrying a cleartext password or an md5 hash (NUL-terminated)."""
    if b"\x00" in password:
        raise InterfaceError("a password cannot contain NUL (0x00) characters")
    return _message(b"p", password + b"\x00")


def sasl_initial_response(mechanism: str, data: bytes) -> bytes:
    return _message(b"p", cstring(mechanism, "a SASL mechanism") + _I32.pack(len(data)) + data)


def sasl_response(data: bytes) -> bytes:
    return _message(b"p", data)


def query(sql: str) -> bytes:
    """Query: the simple protocol; the text may hold several statements."""
    return _message(b"Q", cstring(sql, "SQL text"))


def parse(name: str, sql: str, param_oids: Sequence[int]) -> bytes:
    """Parse: prepare ``sql`` as statement ``name`` ("" = unnamed) with these parameter types."""
    return _parse(name, sql, tuple(param_oids))


@functools.lru_cache(maxsize=512)
def _parse(name: str, sql: str, param_oids: tuple[int, ...]) -> bytes:
    # Memoized: the same statement text is parsed again and again.
    for oid in param_oids:
        if not 0 <= oid <= 0xFFFFFFFF:
            raise InterfaceError(f"a type OID is an unsigned 32-bit integer, not {oid}")
    oids = struct.pack(f"!{len(param_oids)}I", *param_oids)
    body = (
        cstring(name, "a statement name")
        + cstring(sql, "SQL text")
        + _count(len(param_oids), "parameters")
        + oids
    )
    return _message(b"P", body)


def _format_codes(formats: Sequence[int], what: str) -> bytes:
    for code in formats:
        if code not in (0, 1):
            raise InterfaceError(f"a format code is 0 (text) or 1 (binary), not {code}")
    return _count(len(formats), what) + struct.pack(f"!{len(formats)}h", *formats)


# The format-code lists almost every Bind uses: none (all text), all text, all binary.
_COMMON_FORMATS: Final = {
    (): b"\x00\x00",
    (0,): b"\x00\x01\x00\x00",
    (1,): b"\x00\x01\x00\x01",
}


# Int16 counts and Int32 lengths below 256, written once.
_SMALL_COUNTS: Final = tuple(_I16.pack(n) for n in range(256))
_SMALL_LENGTHS: Final = tuple(_I32.pack(n) for n in range(256))


def bind(
    portal: str,
    statement: str,
    param_formats: Sequence[int],
    params: Sequence[bytes | None],
    result_formats: Sequence[int],
) -> bytes:
    """Bind: ``param_formats`` and ``result_formats`` may hold 0, 1 or one code per value."""
    names = (cstring(portal, "a portal name") if portal else b"\x00") + (
        cstring(statement, "a statement name") if statement else b"\x00"
    )
    codes = _codes(param_formats, "parameter format codes")
    count = len(params)
    parts = [b"B", b"", names, codes]
    parts.append(_SMALL_COUNTS[count] if count < 256 else _count(count, "parameters"))
    size = 4 + len(names) + len(codes) + 2 + _values(parts, params)
    results = _codes(result_formats, "result format codes")
    size += len(results)
    parts[1] = _SMALL_LENGTHS[size] if size < 256 else _length(size)
    parts.append(results)
    return b"".join(parts)


UnnamedFrame = tuple[bytes, bytes, bool]
"""The one-packet query around its Bind's parameters, the same for every run of
one statement: Parse and the Bind's type byte; the Bind's result format codes;
whether Sync ends it (after Describe, Execute and Close)."""


def unnamed_frame(
    sql: str, param_oids: Sequence[int], result_formats: Sequence[int], sync: bool = True
) -> UnnamedFrame:
    """The frame of the one-packet query of ``sql`` (see ``UnnamedFrame``)."""
    results = _codes(result_formats, "result format codes")
    return _parse("", sql, tuple(param_oids)) + b"B", results, sync


def framed_query(
    frame: UnnamedFrame, param_formats: Sequence[int], params: Sequence[bytes | None]
) -> bytes:
    """The one-packet query in its frame: Parse and Bind of the unnamed statement
    and portal, Describe(portal), Execute, Close(statement) and (with the frame's
    ``sync``) Sync. Only the parameters are written here."""
    head, results, sync = frame
    # bind()'s body, written out (a call less per query): both names empty
    codes = _COMMON_FORMATS.get(tuple(param_formats)) or _format_codes(
        param_formats, "parameter format codes"
    )
    count = len(params)
    parts = [head, b"", b"\x00\x00", codes]
    parts.append(_SMALL_COUNTS[count] if count < 256 else _count(count, "parameters"))
    size = 4 + 2 + len(codes) + 2 + _values(parts, params) + len(results)
    parts[1] = _SMALL_LENGTHS[size] if size < 256 else _length(size)
    parts.append(results)
    parts.append(DESCRIBE_EXECUTE_CLOSE_SYNC if sync else DESCRIBE_EXECUTE_CLOSE)
    return b"".join(parts)


def _codes(formats: Sequence[int], what: str) -> bytes:
    """A list of format codes as a Bind writes it (``what`` names it in errors)."""
    return _COMMON_FORMATS.get(tuple(formats)) or _format_codes(formats, what)


def _values(parts: list[bytes], params: Sequence[bytes | None]) -> int:
    """Append each parameter value, an int32 length (-1 for NULL) and its bytes, to
    ``parts``; returns how many bytes they take."""
    append = parts.append
    size = 4 * len(params)
    for value in params:
        if value is None:
            append(_NULL_VALUE)
        else:
            length = len(value)
            if length < 256:
                append(_SMALL_LENGTHS[length])
            elif length > _INT32_MAX:
                raise InterfaceError("a parameter value is larger than the protocol allows")
            else:
                append(_I32.pack(length))
            append(value)
            size += length
    return size


def _length(size: int) -> bytes:
    """A message's length word, refused when over what the protocol allows."""
    if size > _INT32_MAX:
        raise InterfaceError("a message is larger than the protocol allows")
    return _I32.pack(size)


_NULL_VALUE: Final = b"\xff\xff\xff\xff"


def bind_values(values: Sequence[bytes | None]) -> bytes:
    """The parameter values of a Bind: each an int32 length and its bytes, -1 for NULL."""
    parts: list[bytes] = []
    _values(parts, values)
    return b"".join(parts)


class _Misfit(Exception):
    """A value that is not of its column's type."""


def _misfit() -> bytes:
    raise _Misfit


BindValuesWriter = Callable[[Sequence[Any]], "bytes | None"]


def bind_values_writer(columns: Sequence[tuple[type, Callable[[Any], bytes]]]) -> BindValuesWriter:
    """A function giving ``bind_values`` of a row whose values it encodes itself:
    each by its column's encoder when of its column's type, NULL when None.

    It gives None for a row that does not fit (another length, a value of
    another type, an encoder raising struct.error or ValueError). Built from
    the column count alone with the column loop unrolled, as dataclasses
    generate code; only the names v0, e0, c0... appear in the source.
    """
    flat = [item for column in columns for item in column]
    writer: BindValuesWriter = _values_writer_builder(len(columns))(
        *flat, _I32.pack, _NULL_VALUE, _misfit, (_Misfit, struct.error, ValueError)
    )
    return writer


@functools.lru_cache(maxsize=64)
def _values_writer_builder(count: int) -> Callable[..., BindValuesWriter]:
    """``bind_values_writer``'s code for ``count`` columns, compiled once per count."""
    names = "".join(f"v{i}, " for i in range(count))
    lines = [
        f"            b{i} = e{i}(v{i}) if type(v{i}) is c{i} else "
        f"None if v{i} is None else misfit()\n"
        for i in range(count)
    ]
    joined = (
        " + ".join(f"(null if b{i} is None else pack(len(b{i})) + b{i})" for i in range(count))
        or 'b""'
    )
    params = "".join(f"c{i}, e{i}, " for i in range(count))
    source = (
        f"def build({params}pack, null, misfit, errors):\n"
        f"    def write(row):\n"
        f"        try:\n"
        f"            ({names}) = row\n" + "".join(lines) + f"            return {joined}\n"
        f"        except errors:\n"
        f"            return None\n"
        f"    return write\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    build: Callable[..., BindValuesWriter] = namespace["build"]
    return build


def bind_execute_values(
    param_formats: Sequence[int],
    count: int,
    rows: Sequence[bytes],
    result_formats: Sequence[int],
) -> bytes:
    """Bind (unnamed portal and statement) and Execute once per row, each row's
    ``count`` parameter values already written by ``bind_values``."""
    formats = _COMMON_FORMATS.get(tuple(param_formats)) or _format_codes(
        param_formats, "parameter format codes"
    )
    results = _COMMON_FORMATS.get(tuple(result_formats)) or _format_codes(
        result_formats, "result format codes"
    )
    head = b"\x00\x00" + formats + _count(count, "parameters")
    fixed = 4 + len(head) + len(results)
    tail = results + _EXECUTE_UNNAMED
    pack = _I32.pack
    out = bytearray()
    for values in rows:
        size = fixed + len(values)
        if size > _INT32_MAX:
            raise InterfaceError("a parameter value is larger than the protocol allows")
        out += b"B" + pack(size) + head + values + tail
    return bytes(out)


def describe(kind: str, name: str) -> bytes:
    """Describe a statement (``kind`` "S") or a portal ("P")."""
    if kind not in ("S", "P"):
        raise InterfaceError(f"Describe takes 'S' or 'P', not {kind!r}")
    return _message(b"D", kind.encode("ascii") + cstring(name, "a statement or portal name"))


def execute(portal: str, max_rows: int = 0) -> bytes:
    """Execute: ``max_rows`` 0 means all rows."""
    if not 0 <= max_rows <= _INT32_MAX:
        raise InterfaceError(f"max_rows must be between 0 and {_INT32_MAX}, not {max_rows}")
    return _message(b"E", cstring(portal, "a portal name") + _I32.pack(max_rows))


def close(kind: str, name: str) -> bytes:
    """Close a statement (``kind`` "S") or a portal ("P")."""
    if kind not in ("S", "P"):
        raise InterfaceError(f"Close takes 'S' or 'P', not {kind!r}")
    return _message(b"C", kind.encode("ascii") + cstring(name, "a statement or portal name"))


def copy_fail(reason: str) -> bytes:
    return _message(b"f", cstring(reason, "a CopyFail reason"))


def copy_data_header(size: int) -> bytes:
    """The header of a CopyData message of ``size`` bytes of data (sent before
    them, so large data is not copied to be framed)."""
    return _HEADER.pack(b"d", size + 4)


_EXECUTE_UNNAMED: Final = execute("", 0)
DESCRIBE_EXECUTE_SYNC: Final = describe("P", "") + execute("", 0) + SYNC
DESCRIBE_EXECUTE_CLOSE: Final = describe("P", "") + execute("", 0) + close("S", "")
DESCRIBE_EXECUTE_CLOSE_SYNC: Final = DESCRIBE_EXECUTE_CLOSE + SYNC
"""The constant tail of a one-packet query on the unnamed statement and portal."""
