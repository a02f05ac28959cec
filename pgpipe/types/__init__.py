"""Type OIDs and the codecs between PostgreSQL values and Python values.

Never imported by ``pgpipe.protocol``: the core hands raw column bytes up and
takes encoded parameters down. Four functions serve the session layer:

- ``result_decoder(oid, format)``: the function for one result column;
- ``has_binary_decoder(oid)``: whether binary results can be asked for;
- ``encode_typed(value, oid)``: a parameter whose type the caller named;
- ``encode_inferred(value)``: a parameter whose type follows from its Python type.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import struct
import uuid
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from pgpipe._compiled import caused
from pgpipe.errors import DataError, Error
from pgpipe.types import arrays, binary, geometry, network, ranges, text
from pgpipe.types.binary import PLAIN as _PLAIN
from pgpipe.types.binary import Decoder, Encoder, Interval, Json, plain, shown, why
from pgpipe.types.geometry import Box, Circle, Line, LineSegment, Path, Point, Polygon
from pgpipe.types.oids import Type
from pgpipe.types.ranges import Range

__all__ = [
    "Box",
    "Circle",
    "Interval",
    "Json",
    "Line",
    "LineSegment",
    "Path",
    "Point",
    "Polygon",
    "Range",
    "Type",
    "encode_inferred",
    "encode_typed",
    "has_binary_decoder",
    "result_decoder",
    "session_decoders",
    "session_dependent",
    "session_zone",
]

_TEXT: Final = 0
_BINARY: Final = 1
_INT4_MIN: Final = -(2**31)
_INT4_MAX: Final = 2**31 - 1
_INT8_MIN: Final = -(2**63)
_INT8_MAX: Final = 2**63 - 1
# The OIDs as plain ints: a member read through its Enum class costs a metaclass lookup.
_INT4: Final = int(Type.INT4)
_INT8: Final = int(Type.INT8)
_pack_int4: Final = struct.Struct("!i").pack
_pack_int8: Final = struct.Struct("!q").pack


def _raw(data: bytes) -> bytes:
    return data


def _delimiter(element: int) -> str:
    return ";" if element == Type.BOX else ","


def _merge(*tables: dict[int, Any]) -> dict[int, Any]:
    return {oid: codec for table in tables for oid, codec in table.items()}


# Every codec by OID: the scalar families; ranges and multiranges built on their
# subtypes; then an array codec for each built-in array type whose element has one.
_SCALAR_BINARY_DECODERS: Final[dict[int, Decoder]] = _merge(
    binary.DECODERS, network.BINARY_DECODERS, geometry.BINARY_DECODERS
)
_SCALAR_TEXT_DECODERS: Final[dict[int, Decoder]] = _merge(
    text.DECODERS, network.TEXT_DECODERS, geometry.TEXT_DECODERS
)
_SCALAR_BINARY_ENCODERS: Final[dict[int, Encoder]] = _merge(
    binary.ENCODERS, network.BINARY_ENCODERS, geometry.BINARY_ENCODERS
)
for _table, _new in zip(
    (_SCALAR_BINARY_DECODERS, _SCALAR_TEXT_DECODERS, _SCALAR_BINARY_ENCODERS),
    ranges.tables(_SCALAR_BINARY_DECODERS, _SCALAR_TEXT_DECODERS, _SCALAR_BINARY_ENCODERS),
    strict=True,
):
    _table.update(_new)

_BINARY_DECODERS: Final[dict[int, Decoder]] = {
    **_SCALAR_BINARY_DECODERS,
    **{
        array: arrays.binary_decoder(_SCALAR_BINARY_DECODERS[element])
        for array, element in arrays.ELEMENT.items()
        if element in _SCALAR_BINARY_DECODERS
    },
}
_TEXT_DECODERS: Final[dict[int, Decoder]] = {
    **_SCALAR_TEXT_DECODERS,
    **{
        array: arrays.text_decoder(
            _SCALAR_TEXT_DECODERS.get(element, text.decode_str), _delimiter(element)
        )
        for array, element in arrays.ELEMENT.items()
    },
}
_BINARY_ENCODERS: Final[dict[int, Encoder]] = {
    **_SCALAR_BINARY_ENCODERS,
    **{
        array: arrays.binary_encoder(element, _SCALAR_BINARY_ENCODERS[element])
        for array, element in arrays.ELEMENT.items()
        if element in _SCALAR_BINARY_ENCODERS
    },
}


_UTC_NAMES: Final = frozenset({"UTC", "ETC/UTC", "GMT", "ETC/GMT", "UCT", "ZULU", "UNIVERSAL", "Z"})


def session_zone(name: str) -> dt.tzinfo | None:
    """The zone a server's TimeZone setting names; None for UTC or an unknown name."""
    if name.upper() in _UTC_NAMES:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None  # e.g. a POSIX rule: values stay correct instants, in UTC


def _in_zone(decode: Decoder, zone: dt.tzinfo) -> Decoder:
    def decode_in_zone(data: bytes) -> dt.datetime:
        value: dt.datetime = decode(data)
        try:
            return value.astimezone(zone)
        except OverflowError:
            raise DataError(f"timestamptz {shown(value)} cannot be shown in {zone}") from None

    return decode_in_zone


def _family(oid: int, element: Decoder, fmt: int) -> dict[tuple[int, int], Decoder]:
    """``(oid, format) -> decoder`` for a scalar type, its range and multirange (if
    it has them) and the arrays of all three, built on ``element``."""
    binary_format = fmt == _BINARY
    make_array: Callable[[Decoder], Decoder] = (
        arrays.binary_decoder if binary_format else arrays.text_decoder
    )
    members = {oid: element}
    range_oid = ranges.RANGE_OF.get(oid)
    if range_oid is not None:
        range_ = (ranges.binary_decoder if binary_format else ranges.text_decoder)(element)
        members[range_oid] = range_
        make_multi = (
            ranges.multirange_binary_decoder if binary_format else ranges.multirange_text_decoder
        )
        for multi, of in ranges.MULTIRANGE.items():
            if of == range_oid:
                members[multi] = make_multi(range_)
    out: dict[tuple[int, int], Decoder] = {}
    for member, decode in members.items():
        out[member, fmt] = decode
        out[arrays.ARRAY_OF[member], fmt] = make_array(decode)
    return out


def _abbreviation_zone(timezone: str) -> dt.tzinfo | None:
    """The zone whose abbreviations ("EST") the non-ISO DateStyles print; None
    for UTC or a name Python cannot load (the server then prints UTC or offsets)."""
    if timezone.upper() in _UTC_NAMES:
        return None
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


@functools.lru_cache(maxsize=32)
def session_decoders(timezone: str, datestyle: str) -> dict[tuple[int, int], Decoder]:
    """``(oid, format) -> decoder`` for the types whose values depend on a session's
    TimeZone and DateStyle (as ParameterStatus reports them): date, timestamp and
    timestamptz with their ranges, multiranges and arrays, in text; timestamptz's
    family in binary too, given in the session's zone. Empty when the defaults
    (UTC, month before day: ``DECODERS``) apply. Cached: the settings change rarely.

    Intervals need nothing here: their text is read in any IntervalStyle.
    """
    zone = session_zone(timezone)
    day_first = text.day_first(datestyle)
    if timezone.upper() in _UTC_NAMES and not day_first:
        return {}
    scalars = text.styled_decoders(day_first, _abbreviation_zone(timezone), timezone)
    out: dict[tuple[int, int], Decoder] = {}
    for oid, decode in scalars.items():
        if oid == Type.TIMESTAMPTZ and zone is not None:
            decode = _in_zone(decode, zone)
        out.update(_family(oid, decode, _TEXT))
    if zone is not None:
        zoned = _in_zone(_SCALAR_BINARY_DECODERS[Type.TIMESTAMPTZ], zone)
        out.update(_family(Type.TIMESTAMPTZ, zoned, _BINARY))
    return out


def session_dependent(oid: int) -> bool:
    """Whether a column of type ``oid`` may be decoded differently from one session
    (or one moment of it) to the next: see ``session_decoders``."""
    return oid in _SESSION_DEPENDENT


# Every OID session_decoders may give a decoder of its own.
_SESSION_DEPENDENT: Final = frozenset(
    oid
    for scalar in (Type.DATE, Type.TIMESTAMP, Type.TIMESTAMPTZ)
    for oid, _ in _family(scalar, text.decode_str, _TEXT)
)


def to_text(value: object) -> bytes:
    """Any value pgpipe knows, written as PostgreSQL writes it in text."""
    if isinstance(value, list):
        return arrays.to_text(value, to_text)
    if isinstance(value, ranges.Range):
        return ranges.to_text(value, to_text)
    return geometry.to_text(value) or text.to_text(value)


def set_json(
    loads: Callable[[bytes | str], Any] | None = None, dumps: Callable[[Any], str] | None = None
) -> None:
    """Use other JSON functions (orjson, a custom encoder...) for json and jsonb, everywhere.

    ``loads`` takes bytes or str; ``dumps`` returns str.
    """
    if loads is not None:
        binary.JSON.loads = loads
    if dumps is not None:
        binary.JSON.dumps = dumps


def register_codec(
    oid: int,
    *,
    decode_text: Decoder | None = None,
    decode_binary: Decoder | None = None,
    encode_binary: Encoder | None = None,
    array_oid: int | None = None,
) -> None:
    """Add or replace the codecs of a type known by OID, for every connection opened later.

    A type with ``decode_text`` but no ``decode_binary`` is read in text.
    ``array_oid`` gives its array type the matching array codecs.
    """
    for table, codec in (
        (_TEXT_DECODERS, decode_text),
        (_BINARY_DECODERS, decode_binary),
        (_BINARY_ENCODERS, encode_binary),
    ):
        if codec is not None:
            table[oid] = codec
    if decode_text is not None and decode_binary is None:
        _BINARY_DECODERS.pop(oid, None)
    if array_oid is not None:
        _TEXT_DECODERS[array_oid] = arrays.text_decoder(_TEXT_DECODERS.get(oid, text.decode_str))
        if oid in _BINARY_DECODERS:
            _BINARY_DECODERS[array_oid] = arrays.binary_decoder(_BINARY_DECODERS[oid])
        else:
            _BINARY_DECODERS.pop(array_oid, None)
        if oid in _BINARY_ENCODERS:
            _BINARY_ENCODERS[array_oid] = arrays.binary_encoder(oid, _BINARY_ENCODERS[oid])


def result_decoder(oid: int, fmt: int) -> Decoder:
    """The decoder for a column of type ``oid`` in format ``fmt`` (0 text, 1 binary).

    Types without a text decoder come back as ``str``; without a binary one, as
    the raw ``bytes`` (pgpipe only asks for binary when a decoder exists).
    """
    if fmt == _BINARY:
        return _BINARY_DECODERS.get(oid, _raw)
    return _TEXT_DECODERS.get(oid, text.decode_str)


def binary_encoder(oid: int) -> Encoder | None:
    """Type ``oid``'s binary encoder (a non-None value to its binary form), if any."""
    return _BINARY_ENCODERS.get(oid)


def has_binary_decoder(oid: int) -> bool:
    return oid in _BINARY_DECODERS


def encode_typed(value: object, oid: int) -> tuple[int, bytes | None]:
    """``(format, bytes)`` for a parameter of type ``oid``; None is NULL.

    A ``str`` is always sent as text, so any type's literal syntax works
    (``("2024-01-01", Type.DATE)``); other values use the binary encoder of
    the type, or text for types without one. An ``Enum`` member is sent as
    its value. A value that cannot be sent raises DataError, whatever its own
    code raised.
    """
    try:
        if type(value) not in _PLAIN:
            value = plain(value)
        if value is None:
            return _BINARY, None
        if isinstance(value, str):
            return _TEXT, binary.check_text(value)
        encoder = _BINARY_ENCODERS.get(oid)
        if encoder is not None:
            return _BINARY, encoder(value)
        return _TEXT, to_text(value)
    except Error:
        raise
    except Exception as exc:  # a value's own code (__str__, __eq__, dumps...) may raise anything
        raise caused(_unsendable(value, exc), exc) from exc


def _unsendable(value: object, exc: Exception) -> DataError:
    return DataError(f"cannot send {type(value).__name__} {shown(value)}: {why(exc)}")


# Python type -> parameter type for query(); str and None are sent untyped, int
# as the narrowest of int4, int8 and numeric that holds it (``_int_oid``).
_INFERRED: Final[dict[type, int]] = {
    ipaddress.IPv4Address: Type.INET,
    ipaddress.IPv6Address: Type.INET,
    ipaddress.IPv4Interface: Type.INET,
    ipaddress.IPv6Interface: Type.INET,
    ipaddress.IPv4Network: Type.CIDR,
    ipaddress.IPv6Network: Type.CIDR,
    bool: Type.BOOL,
    float: Type.FLOAT8,
    Decimal: Type.NUMERIC,
    bytes: Type.BYTEA,
    bytearray: Type.BYTEA,
    memoryview: Type.BYTEA,
    dt.date: Type.DATE,
    dt.timedelta: Type.INTERVAL,
    Interval: Type.INTERVAL,
    uuid.UUID: Type.UUID,
    dict: Type.JSONB,
    Json: Type.JSONB,
    **geometry.INFERRED,
}

# The int types by width.
_INT_WIDTH: Final[dict[int, int]] = {Type.INT4: 0, Type.INT8: 1, Type.NUMERIC: 2}
_WIDER: Final[dict[int, frozenset[int]]] = {
    Type.INT4: frozenset({Type.INT8, Type.NUMERIC}),
    Type.INT8: frozenset({Type.NUMERIC}),
    Type.INT4_ARRAY: frozenset({Type.INT8_ARRAY, Type.NUMERIC_ARRAY}),
    Type.INT8_ARRAY: frozenset({Type.NUMERIC_ARRAY}),
}


def _int_oid(value: int) -> int:
    """int4 when it holds ``value``, else int8, else numeric: how PostgreSQL types the
    same number written in SQL. Not int2, though it fits more often: int2 $1 + int2
    $2 is computed in int2 and overflows past 32767, and generate_series(int2,
    int2) is ambiguous; int4 converts implicitly to int8, numeric and float8."""
    if _INT4_MIN <= value <= _INT4_MAX:
        return Type.INT4
    if _INT8_MIN <= value <= _INT8_MAX:
        return Type.INT8
    return Type.NUMERIC


def _infer_oid(value: object) -> int:
    oid = _INFERRED.get(type(value))
    if oid is not None:
        return oid
    value = plain(value)
    oid = _INFERRED.get(type(value))
    if oid is not None:
        return oid
    if isinstance(value, int):
        return _int_oid(value)
    if isinstance(value, dt.datetime):
        return Type.TIMESTAMP if value.utcoffset() is None else Type.TIMESTAMPTZ
    if isinstance(value, dt.time):
        return Type.TIME if value.utcoffset() is None else Type.TIMETZ
    for base, base_oid in _INFERRED.items():
        if isinstance(value, base):
            return base_oid
    raise DataError(
        f"cannot adapt type {type(value).__name__}; pass it with query_with_param_types or as str"
    )


def encode_inferred(value: object) -> tuple[int, int, bytes | None]:
    """``(oid, format, bytes)`` for a parameter of ``query()``.

    ``None`` and ``str`` go untyped (OID 0) as text, so the server infers the
    type from the statement, as it would for a quoted literal. An int goes as
    int4, int8 or numeric, the narrowest that holds it. A list is an array of
    its items' type (of ints: the narrowest that holds them all); a list of
    str, or one with no item but None, goes untyped too. An ``Enum`` member is
    sent as its value, an instance of a subclass of int, float, str or bytes as
    one of the built-in type. A value that cannot be sent raises DataError.
    """
    cls = type(value)
    # The commonest cases first: executemany encodes every value of every row here.
    if cls is int:
        if _INT4_MIN <= value <= _INT4_MAX:  # type: ignore[operator]
            return _INT4, _BINARY, _pack_int4(value)
        if _INT8_MIN <= value <= _INT8_MAX:  # type: ignore[operator]
            return _INT8, _BINARY, _pack_int8(value)
    elif cls is str:
        return 0, _TEXT, binary.check_text(value)  # type: ignore[arg-type]
    elif value is None:
        return 0, _TEXT, None
    try:
        return _encode_other(value)
    except Error:
        raise
    except Exception as exc:  # a value's own code (__str__, __eq__, dumps...) may raise anything
        raise caused(_unsendable(value, exc), exc) from exc


def _encode_other(value: object) -> tuple[int, int, bytes | None]:
    if type(value) not in _PLAIN:
        value = plain(value)
        if value is None or isinstance(value, str):
            return 0, _TEXT, None if value is None else binary.check_text(value)
    if isinstance(value, list):
        return _infer_array(value)
    if isinstance(value, ranges.Range):
        return _infer_range(value)
    oid = _infer_oid(value)
    return oid, _BINARY, _BINARY_ENCODERS[oid](value)


def column_encoder(value: object, oid: int) -> Callable[[Any], bytes] | None:
    """For a run of values of exactly ``type(value)``, sent as ``oid`` (what
    ``encode_inferred`` chose for ``value``, or a wider int type): the same
    encoding minus the dispatch, when the format never varies with the value
    (str, int, float, bool, bytes). The int4 and int8 encoders raise
    struct.error past their type's range, where the run must end."""
    cls = type(value)
    if cls is str:
        return binary.check_text if oid == 0 else None
    if cls is int:
        return _INT_COLUMN_ENCODERS.get(oid)
    if cls in _FIXED_COLUMN_TYPES and _INFERRED[cls] == oid:
        return _BINARY_ENCODERS[oid]
    return None


def encode_widened(value: object, oid: int, wider: int) -> tuple[int, bytes | None] | None:
    """``value``, which ``encode_inferred`` sent as ``oid``, as ``(format, bytes)`` of
    ``wider`` when that type holds every value of ``oid`` (int4 as int8...) or
    ``value`` is a list with no item but None (sent untyped) and ``wider`` an
    array type; else None. So executemany keeps such a row in a run parsed for
    ``wider``."""
    if wider in _WIDER.get(oid, ()) or (
        oid == 0
        and wider in arrays.ELEMENT
        and isinstance(value, list)
        and all(item is None for item in arrays.shape(value)[1])
    ):
        return encode_typed(value, wider)
    return None


_FIXED_COLUMN_TYPES: Final = frozenset({float, bool, bytes})
_INT_COLUMN_ENCODERS: Final[dict[int, Callable[[Any], bytes]]] = {
    Type.INT4: _pack_int4,
    Type.INT8: _pack_int8,
    Type.NUMERIC: _BINARY_ENCODERS[Type.NUMERIC],
}


def _widest(oids: set[int]) -> set[int]:
    """Several int types (ints of several sizes, or ints and Decimals) as the widest,
    which holds them all; other sets of types as they are."""
    if len(oids) > 1 and oids <= _INT_WIDTH.keys():
        return {max(oids, key=_INT_WIDTH.__getitem__)}
    return oids


def _infer_range(value: ranges.Range) -> tuple[int, int, bytes | None]:
    bounds = [b for b in (value.lower, value.upper) if b is not None]
    if not bounds:  # empty or unbounded both ways: let the server take the type
        return 0, _TEXT, to_text(value)
    oids = {0 if isinstance(b, str) else _infer_oid(b) for b in bounds}
    # A range of ints stays int8range whatever its bounds' size: no cast converts
    # between range types, so a narrower one would not fit an int8range column.
    oids = _widest({Type.INT8 if oid == Type.INT4 else oid for oid in oids})
    range_oid = ranges.RANGE_OF.get(oids.pop()) if len(oids) == 1 else None
    if range_oid is None:
        raise DataError(
            f"cannot infer a range type for {shown(value)}; name it with query_with_param_types"
        )
    return range_oid, _BINARY, _BINARY_ENCODERS[range_oid](value)


def _infer_array(value: list[Any]) -> tuple[int, int, bytes | None]:
    _, flat = arrays.shape(value)
    items = [item if type(item) in _PLAIN else plain(item) for item in flat]
    items = [item for item in items if item is not None]
    strings = sum(isinstance(item, str) for item in items)
    if strings == len(items):
        return 0, _TEXT, to_text(value)
    oids = {_infer_oid(item) for item in items if not isinstance(item, str)}
    if strings:
        oids.add(0)
    oids = _widest(oids)
    if len(oids) != 1:
        names = ", ".join(sorted({type(item).__name__ for item in items}))
        raise DataError(f"the items of a list sent as an array must share one type, not {names}")
    array = arrays.ARRAY_OF[oids.pop()]
    return array, _BINARY, _BINARY_ENCODERS[array](value)
