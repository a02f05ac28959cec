"""What one statement's results look like (columns, decoders, the result format to
ask for next time), the row decoder built for them with the column loop
unrolled, and the rows a row factory makes of the decoded values."""

from __future__ import annotations

import datetime as dt
import functools
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from pgpipe import errors
from pgpipe._compiled import caused, i64, is_compiled
from pgpipe._generated import builder
from pgpipe.protocol import events as ev
from pgpipe.protocol import frontend
from pgpipe.protocol.backend import data_row_values
from pgpipe.protocol.buffer import word_at
from pgpipe.result import Column, Result
from pgpipe.rows import RowFactory, RowMaker
from pgpipe.types import binary
from pgpipe.types import text as text_codecs
from pgpipe.types.binary import Decoder
from pgpipe.types.oids import Type

if TYPE_CHECKING:
    from pgpipe._session import Session

_TEXT: Final = 0
_BINARY: Final = 1


class Statement:
    """What one statement's results look like: columns, decoders, the format to ask for."""

    __slots__ = (
        "_decode_bodies",
        "_decode_rows",
        "_slow_rows",
        "columns",
        "decoders",
        "fields",
        "frame",
        "result_formats",
    )

    def __init__(
        self,
        fields: tuple[ev.FieldDescription, ...],
        session: Session,
        fixed_shape: bool = False,
    ) -> None:
        self.fields = fields
        self.columns = tuple(
            Column(f.name, f.type_oid, f.table_oid, f.column_number, f.type_size, f.type_modifier)
            for f in fields
        )
        self.decoders = [session.result_decoder(f.type_oid, f.format) for f in fields]
        self.result_formats = _result_formats(fields, session, fixed_shape)
        # The one-packet query around its parameters, with these result formats
        # (frontend.unnamed_frame): written at the statement's second run.
        self.frame: frontend.UnnamedFrame | None = None
        self._decode_rows = _unrolled_row_decoder(self.decoders)
        self._decode_bodies = BODY_DECODER(fields, self.decoders, self._slow_row)
        self._slow_rows = 0

    def decode_bodies(self, bodies: list[bytes]) -> list[tuple[Any, ...]]:
        """Decoded rows, read straight from DataRow bodies (one pass per row).

        ProtocolError when a body does not split exactly into its values: the
        caller closes the connection. A value that fails to decode raises what
        its decoder raised, as ``decode_rows`` does.
        """
        fast = self._decode_bodies
        if fast is None:
            return self.decode_rows([data_row_values(body) for body in bodies])
        self._slow_rows = 0
        rows = fast(bodies)
        if self._slow_rows * 8 > len(bodies):
            # NULLs where the layout assumed fixed-width values, row after row:
            # splitting first is cheaper than failing the fixed layout each time.
            self._decode_bodies = None
        return rows

    def _slow_row(self, body: bytes) -> tuple[Any, ...]:
        """One row off the fixed layout (a NULL in a fixed-width column, or a
        malformed body): split, then decoded as ``decode_rows`` does."""
        self._slow_rows += 1
        values = data_row_values(body)
        if len(values) != len(self.decoders):
            raise errors.ProtocolError(
                f"DataRow has {len(values)} values for {len(self.decoders)} columns"
            )
        return self.decode_rows([values])[0]

    def decode_rows(self, raw_rows: list[tuple[bytes | None, ...]]) -> list[tuple[Any, ...]]:
        """Decoded rows; a row with another number of values raises ValueError."""
        if self._decode_rows is not None:
            return self._decode_rows(raw_rows)
        decoders = self.decoders
        return [
            tuple([None if v is None else d(v) for d, v in zip(decoders, raw, strict=True)])
            for raw in raw_rows
        ]

    def maker(self, factory: RowFactory[Any]) -> RowMaker[Any]:
        """``factory``'s row maker for these columns; its failure a pgpipe error."""
        try:
            return factory(self.columns)
        except errors.Error:
            raise
        except Exception as exc:
            raise caused(
                errors.InterfaceError(
                    f"the row factory {_name(factory)} failed on the columns "
                    f"({_names(self.columns)}): {exc.__class__.__name__}: {exc}"
                ),
                exc,
            ) from exc

    def result(
        self,
        raw_rows: list[tuple[bytes | None, ...]],
        status: str | None,
        factory: RowFactory[Any] | None = None,
    ) -> Result[Any]:
        """The Result of these rows: tuples, or what ``factory`` makes of them."""
        try:
            rows = self.decode_rows(raw_rows)
        except errors.Error:
            raise
        except Exception as exc:
            raise caused(errors.DataError(f"could not decode a result value: {exc}"), exc) from exc
        if factory is None or not rows:
            return Result(rows, self.columns, status)
        made = made_rows(rows, self.maker(factory), self.columns)
        return Result(made, self.columns, status, rows[0])


def made_rows(
    rows: list[tuple[Any, ...]], make: RowMaker[Any], columns: tuple[Column, ...]
) -> list[Any]:
    """Each decoded row made by a row factory's maker; its failure a pgpipe error.

    A pass of its own after decoding, so the tuple path (no factory) stays as
    it was: one unrolled comprehension, nothing called per row but decoders.
    """
    try:
        return list(map(make, rows))
    except errors.Error:
        raise
    except Exception as exc:
        raise caused(
            errors.InterfaceError(
                f"the row factory failed to make a row of the columns ({_names(columns)}): "
                f"{exc.__class__.__name__}: {exc}"
            ),
            exc,
        ) from exc


def _name(function: object) -> str:
    name = getattr(function, "__qualname__", None)
    return name if isinstance(name, str) else type(function).__name__


def _names(columns: tuple[Column, ...]) -> str:
    return ", ".join(column.name for column in columns)


_UNROLLED_MAX_COLUMNS: Final = 64

# Read faster in text than in binary by pure Python (numeric: Decimal parses
# its text in C; from base-10000 digits it is built in Python), unless the
# session decodes them with a binary decoder of its own.
_TEXT_IS_FASTER: Final = frozenset({Type.NUMERIC})

# Statements whose SQL text alone fixes how many columns they return, when no
# "*" in it may stand for columns (nor "TABLE t", FETCH or EXECUTE, whose
# columns are elsewhere).
_FIXED_SHAPE_HEADS: Final = ("select", "with", "values", "insert", "update", "delete")
# The words after which a "*" stands for columns: SELECT *, SELECT DISTINCT *...
_STAR_WORDS: Final = frozenset({"select", "distinct", "all", "returning"})


def fixed_shape(sql: str) -> bool:
    """Whether ``sql`` returns the same number of columns whatever the schema
    does later: only then may Bind give one result format per column (the
    server refuses a Bind whose count of codes differs from the columns')."""
    return sql.lstrip()[:6].lower().startswith(_FIXED_SHAPE_HEADS) and not _star_expands(sql)


def _star_expands(sql: str) -> bool:
    """Whether a ``*`` in ``sql`` may stand for columns (``SELECT *``, ``t.*``,
    ``RETURNING *``) rather than multiply.

    Only a ``*`` right after a number, a parameter or a word other than
    SELECT, DISTINCT, ALL and RETURNING is taken for a product (``a * b``,
    ``2*3``, ``$1 * 2``); after anything else (``.``, ``,``, ``(``, ``)``, a
    quote) it may expand, and in text with a comment every ``*`` may. A
    wrong "may" only costs the per-column formats; a wrong "cannot" would
    break Bind, so every doubt falls on "may".
    """
    at = sql.find("*")
    if at < 0:
        return False
    if "--" in sql or "/*" in sql:
        return True
    while at >= 0:
        end = len(sql[:at].rstrip())
        start = end
        while start and (sql[start - 1].isalnum() or sql[start - 1] in "_$"):
            start -= 1
        if start == end or sql[start:end].lower() in _STAR_WORDS:
            return True
        at = sql.find("*", at + 1)
    return False


def _result_formats(
    fields: tuple[ev.FieldDescription, ...], session: Session, per_column: bool
) -> tuple[int, ...]:
    """The result format codes to Bind the statement with next time.

    Per column when the statement's shape is fixed: binary where the session
    has a binary decoder (and binary is the faster read), text elsewhere.
    Otherwise one code for all, so a column added to a ``SELECT *`` cannot
    make Bind fail: binary when every column has a binary decoder, else text.
    """
    if not fields:
        return (_TEXT,)
    if not per_column:
        every = all(session.has_binary_decoder(f.type_oid) for f in fields)
        return (_BINARY if every else _TEXT,)
    codes = tuple(_column_format(f.type_oid, session) for f in fields)
    if all(code == codes[0] for code in codes):
        return codes[:1]
    return codes


def _column_format(oid: int, session: Session) -> int:
    if not session.has_binary_decoder(oid):
        return _TEXT
    if oid in _TEXT_IS_FASTER and session.result_decoder(oid, _BINARY) is binary.DECODERS.get(oid):
        return _TEXT
    return _BINARY


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
    return _unrolled_build(count)(*decoders)


@functools.lru_cache(maxsize=_UNROLLED_MAX_COLUMNS)
def _unrolled_build(
    count: int,
) -> Callable[..., Callable[[list[tuple[bytes | None, ...]]], list[tuple[Any, ...]]]]:
    """The unrolled row decoder's ``build`` for ``count`` columns, written once."""
    values = ", ".join(f"v{i}" for i in range(count))
    decoded = ", ".join(f"None if v{i} is None else d{i}(v{i})" for i in range(count))
    return builder(
        f"def build({', '.join(f'd{i}' for i in range(count))}):\n"
        f"    def decode_rows(raw_rows):\n"
        f"        return [({decoded},) for ({values},) in raw_rows]\n"
        f"    return decode_rows\n"
    )


# Binary columns of a fixed width, read with their length word by one struct
# call per run of them. Integers and floats come out of the struct as the
# value itself (when the session decodes them with the built-in decoder);
# the others as bytes of that width, for their decoder.
_FIXED_WIDTH: Final[dict[int, int]] = {
    Type.BOOL: 1,
    Type.INT2: 2,
    Type.INT4: 4,
    Type.INT8: 8,
    Type.OID: 4,
    Type.FLOAT4: 4,
    Type.FLOAT8: 8,
    Type.DATE: 4,
    Type.TIME: 8,
    Type.TIMETZ: 12,
    Type.TIMESTAMP: 8,
    Type.TIMESTAMPTZ: 8,
    Type.INTERVAL: 16,
    Type.UUID: 16,
}
# Text that the server always writes at one width (boolout's "t" or "f", uuid_out's
# 8-4-4-4-12 digits): read as a fixed-width column too (a statement's first run).
_TEXT_WIDTH: Final[dict[int, int]] = {Type.BOOL: 1, Type.UUID: 36}
_STRUCT_CODE: Final[dict[int, str]] = {
    Type.INT2: "h",
    Type.INT4: "i",
    Type.INT8: "q",
    Type.OID: "I",
    Type.FLOAT4: "f",
    Type.FLOAT8: "d",
}


# Decoders that only call a builtin on the value's bytes, called inline instead
# (no Python frame per value): the same call, the same errors.
_INLINE: Final[dict[Decoder, str]] = {
    text_codecs.DECODERS[Type.INT4]: "int({})",  # int2, int4, int8, oid
    text_codecs.DECODERS[Type.FLOAT8]: "float({})",  # float4, float8
    text_codecs.decode_str: "{}.decode()",
    binary.DECODERS[Type.TEXT]: "{}.decode()",
}


class _OffLayout(Exception):
    """A row that does not fit the statement's layout: it takes the slow path."""


def _body_decoder(
    fields: tuple[ev.FieldDescription, ...],
    decoders: Sequence[Decoder],
    slow: Callable[[bytes], tuple[Any, ...]],
) -> Callable[[list[bytes]], list[tuple[Any, ...]]] | None:
    """A function decoding DataRow bodies of exactly these columns in one pass.

    Built, like ``_unrolled_row_decoder``, from the columns' layout alone
    (widths and struct codes; decoders and structs are passed in, never
    written into the source). Each run of fixed-width binary columns, with
    the length word of the variable-width column after it, is read by one
    ``struct.unpack_from``; a variable-width value is sliced at its length.
    A row that leaves the layout (a NULL in a fixed-width column, a length
    that does not add up, a body too short) goes to ``slow``, which splits
    it and raises ProtocolError if it is malformed. Values are decoded only
    after the whole body is known to split exactly. None past 64 columns.
    """
    count = len(fields)
    if not 0 < count <= _UNROLLED_MAX_COLUMNS:
        return None
    layout = tuple(
        _column_layout(field.type_oid, field.format, decoder)
        for field, decoder in zip(fields, decoders, strict=True)
    )
    build, unpackers = _body_build(layout)
    return build(slow, _OffLayout, struct.error, *unpackers, *decoders)


def _column_layout(oid: int, fmt: int, decoder: Decoder) -> tuple[int, str | None]:
    """What the one-pass reader's source says about one column: its width (0 when
    variable) and how its value is read. Fixed width (binary, or text the
    server writes at one width, ``_TEXT_WIDTH``): the struct code that gives
    the value itself (the built-in binary decoder's type), else None (the
    bytes for its decoder). Variable width: the builtin call written inline
    for its decoder (``_INLINE``), else None (its decoder)."""
    width = (_FIXED_WIDTH if fmt == _BINARY else _TEXT_WIDTH).get(oid, 0)
    if not width:
        return 0, _INLINE.get(decoder)
    code = _STRUCT_CODE.get(oid) if fmt == _BINARY else None
    return width, code if code is not None and decoder is binary.DECODERS.get(oid) else None


@functools.lru_cache(maxsize=256)
def _body_build(
    layout: tuple[tuple[int, str | None], ...],
) -> tuple[Callable[..., Callable[[list[bytes]], list[tuple[Any, ...]]]], tuple[Any, ...]]:
    """The one-pass reader's ``build`` for a layout (see ``_column_layout``),
    written once, with the structs' ``unpack_from`` it takes after ``slow``,
    ``_OffLayout`` and ``struct_error``, before the columns' decoders."""
    count = len(layout)
    lines: list[str] = []
    unpackers: list[Any] = []
    checks: list[str] = []
    fmt = "!H"  # the column count, at offset 0
    names = ["c"]
    checks.append(f"c != {count}")
    base = ""  # the name of the runtime offset, once a variable-width value passed
    const = 0  # bytes after it (or from 0) that are known
    values: list[str] = []

    def where() -> str:
        return f"{base} + {const}" if base and const else base or str(const)

    def flush(length_of: int | None) -> None:
        nonlocal fmt, names, checks, const
        if length_of is not None:
            fmt += "i"
            names.append(f"n{length_of}")
        if len(names) == 0:
            return
        struct_name = f"S{len(unpackers)}"
        unpackers.append(struct.Struct(fmt).unpack_from)
        target = ", ".join(names) + ("," if len(names) == 1 else "")
        lines.append(f"{target} = {struct_name}(body, {where()})")
        if checks:
            lines.append(f"if {' or '.join(checks)}:")
            lines.append("    raise _OffLayout")
        const += struct.calcsize(fmt)
        fmt, names, checks = "!", [], []

    for i, (width, how) in enumerate(layout):
        if width:
            fmt += "i" + (how if how is not None else f"{width}s")
            names += [f"l{i}", f"v{i}"]
            checks.append(f"l{i} != {width}")
            values.append(f"v{i}" if how is not None else f"d{i}(v{i})")
            continue
        flush(i)
        # A variable-width value: its length was read by the struct just flushed.
        lines += [
            f"if n{i} >= 0:",
            f"    q = {where()}",
            f"    p = q + n{i}",
            f"    v{i} = body[q:p]",
            f"elif n{i} == -1:",
            f"    v{i} = None",
            f"    p = {where()}",
            "else:",
            "    raise _OffLayout",
        ]
        base, const = "p", 0
        call = (how if how is not None else f"d{i}({{}})").format(f"v{i}")
        values.append(f"None if v{i} is None else {call}")
    flush(None)
    lines.append(f"if {where()} != len(body):")
    lines.append("    raise _OffLayout")
    body_lines = "".join(f"            {line}\n" for line in lines)
    parameters = ["slow", "_OffLayout", "struct_error"]
    parameters += [f"S{k}" for k in range(len(unpackers))]
    parameters += [f"d{i}" for i in range(count)]
    source = (
        f"def build({', '.join(parameters)}):\n"
        "    def decode_bodies(bodies):\n"
        "        rows = []\n"
        "        append = rows.append\n"
        "        for body in bodies:\n"
        "          try:\n"
        f"{body_lines}"
        "          except (_OffLayout, struct_error):\n"
        "            append(slow(body))\n"
        "            continue\n"
        f"          append(({', '.join(values)},))\n"
        "        return rows\n"
        "    return decode_bodies\n"
    )
    return builder(source), tuple(unpackers)


# -- the same, in a form mypyc compiles ------------------------------------------
#
# exec'd code runs interpreted even in the compiled build. There, each body is
# read by a compiled loop instead: length words and integers read byte by byte
# (native arithmetic once compiled), values sliced and decoded. The kinds of
# column it reads without calling a decoder:
_K_DECODE: Final = 0  # the column's decoder on the value's bytes
_K_STR: Final = 1  # UTF-8 text: bytes.decode(), as the decoder does
_K_INT: Final = 2  # int2, int4, int8 in binary: signed, big-endian
_K_OID: Final = 3  # oid in binary: unsigned
_K_FLOAT8: Final = 4
_K_FLOAT4: Final = 5
_K_BOOL: Final = 6
_K_TIMESTAMP: Final = 7  # timestamp and timestamptz in binary: microseconds since 2000
_K_UUID: Final = 8
_K_TEXT_INT: Final = 9  # int2, int4, int8 in text: an optional "-" and digits
_K_TEXT_UUID: Final = 10  # uuid in text: 8-4-4-4-12 lower-case hex digits
_K_TEXT_BOOL: Final = 11  # bool in text: "t" or "f"
_K_TEXT_FLOAT: Final = 12  # float4, float8 in text: what float() reads, as the decoder does
_NATIVE_KINDS: Final[dict[int, int]] = {
    Type.INT2: _K_INT,
    Type.INT4: _K_INT,
    Type.INT8: _K_INT,
    Type.OID: _K_OID,
    Type.FLOAT8: _K_FLOAT8,
    Type.FLOAT4: _K_FLOAT4,
    Type.BOOL: _K_BOOL,
    Type.TIMESTAMP: _K_TIMESTAMP,
    Type.TIMESTAMPTZ: _K_TIMESTAMP,
    Type.UUID: _K_UUID,
}
# Text values read in place, when the column's decoder is the standard one: the
# forms PostgreSQL prints (anything else goes to the decoder, as before).
_TEXT_KINDS: Final[dict[int, int]] = {
    Type.INT2: _K_TEXT_INT,
    Type.INT4: _K_TEXT_INT,
    Type.INT8: _K_TEXT_INT,
    Type.UUID: _K_TEXT_UUID,
    Type.BOOL: _K_TEXT_BOOL,
    Type.FLOAT4: _K_TEXT_FLOAT,
    Type.FLOAT8: _K_TEXT_FLOAT,
}
_STR_DECODERS: Final = (text_codecs.decode_str, binary.DECODERS[Type.TEXT])
_F64_AT: Final = struct.Struct("!d").unpack_from
_int_from_bytes: Final = int.from_bytes
_F32_AT: Final = struct.Struct("!f").unpack_from
_NULL: Final = 0xFFFFFFFF
_T: Final = ord("t")
_F: Final = ord("f")
_NOT_READ: Final = -(1 << 62)  # _decimal's "not a decimal it reads"


def _decimal(body: bytes, start: i64, end: i64) -> i64:
    """The integer written in ``body[start:end]`` as an optional "-" and 1 to 18
    digits (so it cannot overflow); _NOT_READ for anything else."""
    negative = start < end and body[start] == 0x2D  # "-"
    if negative:
        start += 1
    if not 0 < end - start <= 18:
        return _NOT_READ
    value: i64 = 0
    for at in range(start, end):
        digit = i64(body[at]) - 0x30
        if not 0 <= digit <= 9:
            return _NOT_READ
        value = value * 10 + digit
    return -value if negative else value


def _hex(body: bytes, start: i64, count: i64) -> i64:
    """The ``count`` (at most 15) lower-case hex digits at ``start`` as a number;
    -1 for anything else."""
    value: i64 = 0
    for at in range(start, start + count):
        c = i64(body[at])
        if 0x30 <= c <= 0x39:
            value = value * 16 + (c - 0x30)
        elif 0x61 <= c <= 0x66:
            value = value * 16 + (c - 0x57)
        else:
            return -1
    return value


def _text_uuid(body: bytes, pos: i64) -> int:
    """The number of the 36-byte text UUID at ``pos`` (8-4-4-4-12 lower-case hex
    digits, as PostgreSQL prints it); -1 for anything else."""
    if (
        body[pos + 8] != 0x2D
        or body[pos + 13] != 0x2D
        or body[pos + 18] != 0x2D
        or body[pos + 23] != 0x2D
    ):
        return -1
    a = _hex(body, pos, 8)
    b = _hex(body, pos + 9, 4)
    c = _hex(body, pos + 14, 4)
    d = _hex(body, pos + 19, 4)
    e = _hex(body, pos + 24, 12)
    if a < 0 or b < 0 or c < 0 or d < 0 or e < 0:
        return -1
    # Combined as Python ints (128 bits): an i64 operand would make it i64 arithmetic.
    high: int = a << 16 | b  # 48 bits
    middle: int = c << 16 | d  # 32 bits
    low: int = e  # 48 bits
    return high << 80 | middle << 48 | low


class ColumnReader:
    """Reads DataRow bodies of one column layout into decoded rows, compiled
    (see ``_body_decoder`` for what is read and what goes to ``slow``).

    Each body is walked once: every length word is checked against what is
    left of the body, and fixed-width binary values against their width, as
    the value is decoded. A body that leaves the layout goes to ``slow``
    (which raises ProtocolError if it is malformed). A value whose decoder
    fails raises only once the body is known to split exactly; otherwise it
    goes to ``slow`` too, so a malformed body is always the error reported.
    A NULL is None in any column.
    """

    def __init__(
        self,
        kinds: bytes,
        widths: bytes,
        decoders: list[Decoder],
        zones: list[dt.tzinfo | None],
        slow: Callable[[bytes], tuple[Any, ...]],
    ) -> None:
        self.kinds = kinds
        self.widths = widths
        self.decoders = decoders
        self.zones = zones  # each binary timestamp's zone, as its decoder gives it
        self.slow = slow

    def __call__(self, bodies: list[bytes]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for body in bodies:
            try:
                row = self._read(body)
            except Exception:
                if _splits_into(body, len(self.kinds)):
                    raise
                row = None
            rows.append(self.slow(body) if row is None else row)
        return rows

    def _read(self, body: bytes) -> tuple[Any, ...] | None:
        """The row in ``body``; None if it leaves the layout."""
        size: i64 = len(body)
        kinds = self.kinds
        widths = self.widths
        count: i64 = len(kinds)
        if size < 2 or (i64(body[0]) << 8 | i64(body[1])) != count:
            return None
        values: list[Any] = []
        pos: i64 = 2
        for i in range(count):
            if pos + 4 > size:
                return None
            n = word_at(body, pos)
            pos += 4
            if n == _NULL:
                values.append(None)
                continue
            width: i64 = widths[i]
            if n > size - pos or (width and n != width):
                return None
            kind = kinds[i]
            if kind in (_K_INT, _K_TIMESTAMP):
                # Signed, big-endian, 2, 4 or 8 bytes (its width was checked).
                value: i64 = i64(body[pos])
                if value >= 0x80:
                    value -= 0x100
                for at in range(pos + 1, pos + n):
                    value = value * 256 + i64(body[at])
                if kind == _K_INT:
                    values.append(value)
                else:
                    values.append(binary.timestamp_from(value, self.zones[i]))
            elif kind == _K_UUID:
                values.append(binary.uuid_from_int(_int_from_bytes(body[pos : pos + 16], "big")))
            elif kind == _K_STR:
                values.append(body[pos : pos + n].decode())
            elif kind == _K_TEXT_INT and (number := _decimal(body, pos, pos + n)) != _NOT_READ:
                values.append(number)
            elif kind == _K_TEXT_UUID and n == 36 and (digits := _text_uuid(body, pos)) >= 0:
                values.append(binary.uuid_from_int(digits))
            elif kind == _K_TEXT_FLOAT:
                values.append(float(body[pos : pos + n]))
            elif kind == _K_TEXT_BOOL and n == 1 and (body[pos] == _T or body[pos] == _F):
                values.append(body[pos] == _T)
            elif kind == _K_OID:
                values.append(word_at(body, pos))
            elif kind == _K_FLOAT8:
                values.append(_F64_AT(body, pos)[0])
            elif kind == _K_BOOL and body[pos] < 2:
                values.append(body[pos] == 1)
            elif kind == _K_FLOAT4:
                values.append(_F32_AT(body, pos)[0])
            else:
                values.append(self.decoders[i](body[pos : pos + n]))
            pos += n
        if pos != size:
            return None
        return tuple(values)


def _splits_into(body: bytes, count: int) -> bool:
    """Whether ``body`` splits exactly into ``count`` values."""
    try:
        return len(data_row_values(body)) == count
    except errors.ProtocolError:
        return False


def _column_reader(
    fields: tuple[ev.FieldDescription, ...],
    decoders: Sequence[Decoder],
    slow: Callable[[bytes], tuple[Any, ...]],
) -> Callable[[list[bytes]], list[tuple[Any, ...]]] | None:
    """``_body_decoder``'s compiled counterpart: a ColumnReader for these columns."""
    kinds = bytearray()
    widths = bytearray()
    zones: list[dt.tzinfo | None] = []
    for field, decoder in zip(fields, decoders, strict=True):
        binary_value = field.format == _BINARY
        width = _FIXED_WIDTH.get(field.type_oid, 0) if binary_value else 0
        kind = _K_DECODE
        if binary_value and decoder is binary.DECODERS.get(field.type_oid):
            kind = _NATIVE_KINDS.get(field.type_oid, _K_DECODE)
        elif not binary_value and decoder is text_codecs.DECODERS.get(field.type_oid):
            kind = _TEXT_KINDS.get(field.type_oid, _K_DECODE)
        if decoder in _STR_DECODERS:
            kind = _K_STR
        kinds.append(kind)
        widths.append(width)
        zones.append(dt.UTC if field.type_oid == Type.TIMESTAMPTZ else None)
    return ColumnReader(bytes(kinds), bytes(widths), list(decoders), zones, slow)


# The body decoder each Statement builds: the compiled loop where this module
# is compiled, the generated one (fastest when interpreted) elsewhere.
BODY_DECODER: Final = _column_reader if is_compiled() else _body_decoder
