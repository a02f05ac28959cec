"""COPY's data formats, sans-IO: rows to COPY data and COPY data to rows.

Three formats, as PostgreSQL defines them (the COPY reference page):

- ``binary``: a header (signature, flags, extension), then per row a 16-bit
  field count and each field as a 32-bit length (-1: NULL) and the type's
  binary form, then a -1 field count as trailer;
- ``text``: a line per row, fields separated by a tab, ``\\N`` for NULL, and
  backslash escapes for backslash, tab, newline and carriage return;
- ``csv``: a line per row, fields separated by commas, quoted with ``"``
  when they hold a comma, quote, CR or LF (or are empty strings), NULL as an
  unquoted empty field.

The server sends one CopyData message per row (the first also carries the
binary header), so COPY TO data is read a message at a time.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final

from pgpipe import errors
from pgpipe._generated import builder
from pgpipe.types.oids import Type

BINARY_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00"
BINARY_HEADER: Final = BINARY_SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
BINARY_TRAILER: Final = b"\xff\xff"

_FIELD_COUNT: Final = struct.Struct("!h")
_LENGTH: Final = struct.Struct("!i")
_NULL: Final = _LENGTH.pack(-1)

FORMATS: Final = ("text", "csv", "binary")


def copy_format(sql: str) -> str:
    """The format a COPY statement names (text when it names none), read from its
    options: ``FORMAT binary`` / ``(FORMAT csv)``, or the old ``BINARY``/``CSV``."""
    match = re.search(r"\bformat\s+'?(\w+)'?", sql, re.IGNORECASE)
    if match:
        name = match.group(1).lower()
        return name if name in FORMATS else "text"
    for name in ("binary", "csv"):
        if re.search(rf"\b{name}\b", sql, re.IGNORECASE):
            return name
    return "text"


# -- rows to COPY data ---------------------------------------------------------------


Encoder = Callable[[Any], bytes]


def binary_row_writer(encoders: Sequence[Encoder]) -> Callable[[Sequence[object]], bytes]:
    """A function writing one row in the binary format with ``encoders`` (one per
    column, each taking a non-None value of its column)."""
    count = len(encoders)
    head = _FIELD_COUNT.pack(count)
    pack_length = _LENGTH.pack

    def write(row: Sequence[object]) -> bytes:
        if len(row) != count:
            raise errors.DataError(f"the row has {len(row)} values for {count} columns")
        parts = [head]
        append = parts.append
        for value, encode in zip(row, encoders, strict=True):
            if value is None:
                append(_NULL)
            else:
                data = encode(value)
                append(pack_length(len(data)))
                append(data)
        return b"".join(parts)

    return write


# Types written by the unrolled writer without their encoder: the struct code of
# their binary form, and how a value becomes what struct packs (None: as it is).
_EPOCH: Final = dt.datetime(2000, 1, 1)
_EPOCH_UTC: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_ONE_USEC: Final = dt.timedelta(microseconds=1)
_PACKED: Final[dict[int, tuple[str, str | None]]] = {
    Type.INT2: ("h", None),
    Type.INT4: ("i", None),
    Type.INT8: ("q", None),
    Type.OID: ("I", None),
    Type.FLOAT4: ("f", None),
    Type.FLOAT8: ("d", None),
    Type.TIMESTAMP: ("q", "({v} - EPOCH) // USEC"),
    Type.TIMESTAMPTZ: ("q", "({v} - EPOCH_UTC) // USEC"),
}
_TEXTUAL: Final = frozenset({Type.TEXT, Type.VARCHAR, Type.BPCHAR, Type.NAME})
_UNROLLED_MAX_COLUMNS: Final = 64


def fast_binary_row_writer(
    oids: Sequence[int], encoders: Sequence[Encoder]
) -> Callable[[Sequence[object]], bytes]:
    """``binary_row_writer`` with the column loop unrolled, for rows of plain values.

    Columns of fixed-width types are packed with one struct call per run of
    them, text columns encoded in place; any other column goes through its
    encoder. A row this cannot write as it is (a NULL, a value of another
    Python type) is written by ``binary_row_writer``, which also says what is
    wrong with it. Built from the columns' types alone, like the unrolled row
    decoder (pgpipe._statement): no value is written into the source.
    """
    slow = binary_row_writer(encoders)
    count = len(oids)
    if not 0 < count <= _UNROLLED_MAX_COLUMNS:
        return slow
    lines: list[str] = []
    pieces: list[str] = []
    fmt = "!h"
    args = [str(count)]
    structs: list[struct.Struct] = []

    def close_run() -> None:
        nonlocal fmt, args
        if len(fmt) > 1:
            structs.append(struct.Struct(fmt))
            pieces.append(f"S{len(structs) - 1}({', '.join(args)})")
        fmt, args = "!", []

    for i, oid in enumerate(oids):
        packed = _PACKED.get(oid)
        if packed is not None:
            code, transform = packed
            value = transform.format(v=f"v{i}") if transform else f"v{i}"
            fmt += "i" + code
            args += [str(struct.calcsize("!" + code)), value]
            continue
        if oid in _TEXTUAL:
            lines.append(f"b{i} = v{i}.encode()")
        else:
            lines.append(f"b{i} = E{i}(v{i})")
        fmt += "i"
        args.append(f"len(b{i})")
        close_run()
        pieces.append(f"b{i}")
    close_run()
    values = ", ".join(f"v{i}" for i in range(count))
    body = "".join(f"            {line}\n" for line in lines)
    source = (
        f"def build(slow, {', '.join(f'S{k}' for k in range(len(structs)))}, "
        f"{', '.join(f'E{i}' for i in range(count))}):\n"
        f"    def write(row):\n"
        f"        try:\n"
        f"            {values}, = row\n"
        f"{body}"
        f"            return {' + '.join(pieces)}\n"
        f"        except Exception:\n"
        f"            return slow(row)\n"
        f"    return write\n"
    )
    build: Callable[..., Callable[[Sequence[object]], bytes]] = builder(
        source, EPOCH=_EPOCH, EPOCH_UTC=_EPOCH_UTC, USEC=_ONE_USEC
    )
    return build(slow, *(s.pack for s in structs), *encoders)


_TEXT_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def text_row(fields: Sequence[str | None]) -> bytes:
    """One row in the text format, from each field's text (None: NULL)."""
    return (
        "\t".join("\\N" if f is None else f.translate(_TEXT_ESCAPES) for f in fields) + "\n"
    ).encode()


def _csv_field(field: str | None) -> str:
    if field is None:
        return ""
    if field == "" or any(c in field for c in ',"\r\n') or field.strip() != field:
        return '"' + field.replace('"', '""') + '"'
    return field


def csv_row(fields: Sequence[str | None]) -> bytes:
    """One row in the CSV format, from each field's text (None: NULL)."""
    return (",".join(_csv_field(f) for f in fields) + "\n").encode()


# -- COPY data to rows ------------------------------------------------------------------


class BinaryReader:
    """Rows of the binary format, one CopyData message at a time."""

    __slots__ = ("_started",)

    def __init__(self) -> None:
        self._started = False

    def row(self, data: bytes) -> tuple[bytes | None, ...] | None:
        """The row in ``data``; None for the trailer."""
        view = memoryview(data)
        pos = 0
        try:
            if not self._started:
                if bytes(view[: len(BINARY_SIGNATURE)]) != BINARY_SIGNATURE:
                    raise errors.DataError("binary COPY data without its signature")
                (extension,) = _LENGTH.unpack_from(view, len(BINARY_SIGNATURE) + 4)
                pos = len(BINARY_SIGNATURE) + 8 + extension
                self._started = True
            (count,) = _FIELD_COUNT.unpack_from(view, pos)
            if count == -1:
                return None
            pos += 2
            fields: list[bytes | None] = []
            for _ in range(count):
                (length,) = _LENGTH.unpack_from(view, pos)
                pos += 4
                if length < 0:
                    fields.append(None)
                else:
                    if pos + length > len(view):
                        raise errors.DataError("binary COPY data shorter than its field")
                    fields.append(bytes(view[pos : pos + length]))
                    pos += length
        except struct.error:
            raise errors.DataError("binary COPY data cut short") from None
        return tuple(fields)


_TEXT_UNESCAPE: Final = re.compile(r"\\(N|[0-7]{1,3}|x[0-9a-fA-F]{1,2}|.)")
_SIMPLE_ESCAPES: Final = {
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if len(code) > 1 and code[0] == "x":
        return chr(int(code[1:], 16))
    if "0" <= code[0] <= "7":
        return chr(int(code, 8))
    return _SIMPLE_ESCAPES.get(code, code)


def _line(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise errors.DataError(f"COPY data that is not UTF-8: {exc}") from None


def text_fields(data: bytes) -> tuple[str | None, ...]:
    """The fields of one row in the text format (None: NULL)."""
    line = _line(data)
    if line.endswith("\n"):
        line = line[:-1]
    fields: list[str | None] = []
    for raw in line.split("\t"):
        if raw == "\\N":
            fields.append(None)
        elif "\\" in raw:
            fields.append(_TEXT_UNESCAPE.sub(_unescape, raw))
        else:
            fields.append(raw)
    return tuple(fields)


def csv_fields(data: bytes) -> tuple[str | None, ...]:
    """The fields of one row in the CSV format (an unquoted empty field: NULL)."""
    line = _line(data)
    fields: list[str | None] = []
    for value, quoted in _csv_split(line):
        fields.append(value if value or quoted else None)
    return tuple(fields)


def _csv_split(line: str) -> list[tuple[str, bool]]:
    """CSV fields with whether each was quoted (csv.reader cannot tell "" from nothing)."""
    if line.endswith("\r\n"):
        line = line[:-2]
    elif line.endswith("\n"):
        line = line[:-1]
    out: list[tuple[str, bool]] = []
    pos = 0
    size = len(line)
    while True:
        if pos < size and line[pos] == '"':
            end = pos + 1
            parts: list[str] = []
            while True:
                close = line.find('"', end)
                if close < 0:
                    raise errors.DataError("CSV COPY data with an unterminated quote")
                parts.append(line[end:close])
                if close + 1 < size and line[close + 1] == '"':
                    parts.append('"')
                    end = close + 2
                    continue
                pos = close + 1
                break
            out.append(("".join(parts), True))
        else:
            comma = line.find(",", pos)
            end = size if comma < 0 else comma
            out.append((line[pos:end], False))
            pos = end
        if pos >= size:
            return out
        if line[pos] != ",":
            raise errors.DataError("CSV COPY data with text after a closing quote")
        pos += 1
        if pos == size:
            out.append(("", False))
            return out

