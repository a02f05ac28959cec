"""Binary format: PostgreSQL's typsend/typreceive representations, both ways.

``DECODERS`` and ``ENCODERS`` map a type OID to a function. Decoders take the
raw bytes of one non-NULL value; encoders take a Python value and return its
bytes, raising DataError for values that do not fit the type.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import reprlib
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, cast

from pgpipe._compiled import caused, i64
from pgpipe.errors import DataError
from pgpipe.types.oids import Type

_BOOL: Final = struct.Struct("!?")
_I16: Final = struct.Struct("!h")
_I32: Final = struct.Struct("!i")
_I64: Final = struct.Struct("!q")
_U32: Final = struct.Struct("!I")
_F32: Final = struct.Struct("!f")
_F64: Final = struct.Struct("!d")
_NUMERIC_HEAD: Final = struct.Struct("!hhHH")
_INTERVAL: Final = struct.Struct("!qii")
_TIMETZ: Final = struct.Struct("!qi")

_EPOCH_DATE: Final = dt.date(2000, 1, 1)
_EPOCH_ORDINAL: Final = _EPOCH_DATE.toordinal()
_EPOCH: Final = dt.datetime(2000, 1, 1)
_EPOCH_UTC: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_DATE_INFINITY: Final = 0x7FFFFFFF
_DATE_MINUS_INFINITY: Final = -0x80000000
_TS_INFINITY: Final = 0x7FFFFFFFFFFFFFFF
_TS_MINUS_INFINITY: Final = -0x8000000000000000
_USECS_PER_DAY: Final = 86_400_000_000

_NUMERIC_POS: Final = 0x0000
_NUMERIC_NEG: Final = 0x4000
_NUMERIC_NAN: Final = 0xC000
_NUMERIC_PINF: Final = 0xD000
_NUMERIC_NINF: Final = 0xF000
_NUMERIC_SPECIAL: Final = {
    _NUMERIC_NAN: Decimal("NaN"),
    _NUMERIC_PINF: Decimal("Infinity"),
    _NUMERIC_NINF: Decimal("-Infinity"),
}

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]


_SHOWN: Final = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 60


def shown(value: object) -> str:
    """A parameter value as an error message shows it: its repr, cut short (a value
    may be megabytes long, or private, and messages end up in logs)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"<an integer of {value.bit_length()} bits>"  # (repr may refuse it)
    try:
        return _SHOWN.repr(value)
    except Exception:  # a repr that fails must not hide the error being reported
        return f"<a {type(value).__name__}>"


PLAIN: Final = frozenset({type(None), bool, int, float, str, bytes})
"""The types ``plain`` returns unchanged."""
_MAX_ENUM_DEPTH: Final = 8


def plain(value: object) -> object:
    """``value`` as the built-in value it stands for, as parameters are sent.

    An ``Enum`` member stands for its value (as psycopg sends it); an instance
    of a subclass of int, float, str or bytes (``IntEnum``, ``StrEnum``...)
    for the same value of the built-in type, since a subclass may override
    the methods the encoders call. Anything else is returned as it is.
    """
    for _ in range(_MAX_ENUM_DEPTH):
        if type(value) in PLAIN:
            return value
        if not isinstance(value, enum.Enum):
            break
        value = value.value
    else:
        raise DataError(f"an Enum member's value is nested more than {_MAX_ENUM_DEPTH} deep")
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return bytes.__bytes__(value)
    return value


def why(exc: BaseException) -> str:
    """What an exception raised by a value's own code says, for a DataError's message."""
    try:
        said = str(exc)
    except Exception:  # its __str__ may fail too
        return type(exc).__name__
    if len(said) > 200:  # it may quote the value, which may be long or private
        said = said[:200] + "..."
    return f"{type(exc).__name__}: {said}"


def _range_error(what: str, value: object) -> DataError:
    return DataError(f"{what} out of range for PostgreSQL: {shown(value)}")


# -- decoders ------------------------------------------------------------------


def _bool(data: bytes) -> bool:
    if data == b"\x01":
        return True
    if data == b"\x00":
        return False
    raise DataError(f"invalid binary boolean {data!r}")


def _unpacker(fmt: struct.Struct) -> Decoder:
    unpack = fmt.unpack

    def decode(data: bytes) -> Any:
        return unpack(data)[0]

    return decode


def _text(data: bytes) -> str:
    return data.decode("utf-8")


def _char(data: bytes) -> str:
    # "char" is one byte, whatever the encoding.
    return data.decode("latin-1")


_DIGITS_PREMADE: Final = 32
_DIGIT_STRUCTS: Final = [struct.Struct(f"!{n}H") for n in range(_DIGITS_PREMADE)]
# Up to this many base-10000 digits make an int of fewer figures than str()
# writes (sys.int_info.default_max_str_digits: 4300); past it, text directly.
_DIGITS_AS_INT: Final = 1000


def _numeric(data: bytes) -> Decimal:
    ndigits: int
    weight: int
    sign: int
    dscale: int
    ndigits, weight, sign, dscale = _NUMERIC_HEAD.unpack_from(data, 0)
    if sign & 0x8000:  # NaN, Infinity, -Infinity
        special = _NUMERIC_SPECIAL.get(sign)
        if special is None:
            raise DataError("invalid binary numeric sign")
        return special
    if sign not in (_NUMERIC_POS, _NUMERIC_NEG) or len(data) != 8 + 2 * ndigits:
        raise DataError("invalid binary numeric")
    if ndigits <= _DIGITS_AS_INT:
        # One int (its figures within str()'s limit), written out for Decimal to
        # parse: in C, and exactly (a constructor ignores the context).
        if ndigits < _DIGITS_PREMADE:
            digits = _DIGIT_STRUCTS[ndigits].unpack_from(data, 8)
        else:
            digits = struct.unpack_from(f"!{ndigits}H", data, 8)
        coefficient = 0
        digit: int
        for digit in digits:  # base 10000, most significant first
            if digit > 9999:
                raise DataError("invalid binary numeric digit")
            coefficient = coefficient * 10000 + digit
        text = str(coefficient)
    else:
        text = "%04d" * ndigits % struct.unpack_from(f"!{ndigits}H", data, 8)
        if len(text) != 4 * ndigits:  # a digit past 9999 wrote more figures
            raise DataError("invalid binary numeric digit")
    # Exactly dscale figures after the point, so 1.50 keeps its zero: the
    # figures past it (PostgreSQL leaves them zero) dropped, missing ones added.
    shift = 4 * (weight - ndigits + 1) + dscale
    if shift < 0:
        text = text[:shift]
    elif shift > 0:
        text += "0" * shift
    return Decimal(f"{'-' if sign == _NUMERIC_NEG else ''}{text or '0'}E-{dscale}")


def _bytea(data: bytes) -> bytes:
    return data


def _date(data: bytes) -> dt.date:
    (days,) = _I32.unpack(data)
    if days in (_DATE_INFINITY, _DATE_MINUS_INFINITY):
        word = "infinity" if days > 0 else "-infinity"
        raise DataError(f"date {word!r} cannot be represented by datetime.date")
    try:
        return dt.date.fromordinal(days + _EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        raise DataError("date out of range for datetime.date (years 1 to 9999)") from None


def _time(data: bytes) -> dt.time:
    return _time_from_usecs(_I64.unpack(data)[0])


def _time_from_usecs(usecs: int) -> dt.time:
    if not 0 <= usecs < _USECS_PER_DAY:
        raise DataError("time 24:00:00 cannot be represented by datetime.time")
    seconds, micro = divmod(usecs, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return dt.time(hour, minute, second, micro)


def _timetz(data: bytes) -> dt.time:
    usecs, west = _TIMETZ.unpack(data)
    return _time_from_usecs(usecs).replace(tzinfo=dt.timezone(dt.timedelta(seconds=-west)))


def _infinite_timestamp(usecs: int) -> DataError:
    word = "infinity" if usecs > 0 else "-infinity"
    return DataError(f"timestamp {word!r} cannot be represented by datetime.datetime")


# A datetime is made from its pickled state, 10 bytes: year (2), month, day, hour,
# minute, second, microsecond (3). That is the constructor pickle calls, in C and
# in pure-Python datetime alike, and it skips the argument parsing and the
# normalising of ``epoch + timedelta(microseconds=n)``, which cost 4 times more.
_DATE_STATE: Final = struct.Struct("!HBB")
_TIME_STATE: Final = struct.Struct("!BBBBH")
_from_state: Final = cast("Callable[[bytes, dt.tzinfo | None], dt.datetime]", dt.datetime)
_DAY_STATES_KEPT: Final = 4096
_day_states: Final[dict[int, bytes]] = {}


def _day_state(days: int, usecs: int) -> bytes:
    """The date part of the state of a timestamp ``days`` after 2000-01-01 (kept:
    the rows of a result mostly share few days). ``usecs``: the whole value,
    for the error's message."""
    try:
        date = dt.date.fromordinal(days + _EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        if usecs in (_TS_INFINITY, _TS_MINUS_INFINITY):
            raise _infinite_timestamp(usecs) from None
        raise DataError("timestamp out of range for datetime.datetime (years 1 to 9999)") from None
    state = _DATE_STATE.pack(date.year, date.month, date.day)
    if len(_day_states) >= _DAY_STATES_KEPT:
        _day_states.clear()
    _day_states[days] = state
    return state


def timestamp_from(whole: i64, tz: dt.tzinfo | None) -> dt.datetime:
    """The timestamp ``whole`` microseconds after 2000-01-01 00:00, with ``tz``
    (what a binary timestamp holds); DataError past datetime's range."""
    days = whole // _USECS_PER_DAY
    usecs = whole % _USECS_PER_DAY
    state = _day_states.get(days)
    if state is None:
        state = _day_state(days, whole)
    secs = usecs // 1_000_000
    usecs %= 1_000_000
    mins = secs // 60
    return _from_state(
        state + _TIME_STATE.pack(mins // 60, mins % 60, secs % 60, usecs >> 16, usecs & 0xFFFF),
        tz,
    )


def _timestamp_decoder(tz: dt.tzinfo | None) -> Decoder:
    unpack = _I64.unpack

    def decode(data: bytes) -> dt.datetime:
        return timestamp_from(unpack(data)[0], tz)

    return decode


_timestamp = _timestamp_decoder(None)
_timestamptz = _timestamp_decoder(dt.UTC)


@dataclass(frozen=True, slots=True)
class Interval:
    """An interval with months, which ``timedelta`` cannot hold without loss.

    PostgreSQL keeps months, days and microseconds apart (a month is not a
    fixed number of days); intervals without months decode to ``timedelta``.
    """

    months: int = 0
    days: int = 0
    microseconds: int = 0


def interval_value(months: int, days: int, usecs: int) -> dt.timedelta | Interval:
    """``timedelta`` when there are no months, else ``Interval``."""
    if months:
        return Interval(months, days, usecs)
    try:
        return dt.timedelta(days=days, microseconds=usecs)
    except OverflowError:
        raise DataError("interval out of range for datetime.timedelta") from None


def _interval(data: bytes) -> dt.timedelta | Interval:
    usecs, days, months = _INTERVAL.unpack(data)
    return interval_value(months, days, usecs)


def _uuid_checked(value: int) -> uuid.UUID:
    return uuid.UUID(int=value)


def _uuid_fast(value: int) -> uuid.UUID:
    # uuid.UUID's own __init__ spends most of its time validating arguments;
    # setting its two slots directly (through their descriptors, past UUID's
    # __setattr__, which refuses) gives the same object.
    made = _new_object(_UUID)
    _set_int(made, value)
    _set_is_safe(made, _UUID_UNKNOWN)
    return made


_new_object: Final = object.__new__
_int_from_bytes: Final = int.from_bytes
_UUID: Final = uuid.UUID
_UUID_UNKNOWN: Final = uuid.SafeUUID.unknown  # an enum member: slow to look up each time


def _slot_setter(name: str) -> Callable[[uuid.UUID, object], None]:
    """What sets UUID's slot ``name`` (its descriptor's __set__); where UUID has
    no such slot, a function raising AttributeError (then UUID(int=) is used)."""
    slot = vars(_UUID).get(name)
    setter = getattr(slot, "__set__", None)
    if setter is None:

        def missing(made: uuid.UUID, value: object) -> None:
            raise AttributeError(name)

        return missing
    return cast("Callable[[uuid.UUID, object], None]", setter)


_set_int: Final = _slot_setter("int")
_set_is_safe: Final = _slot_setter("is_safe")


def _pick_uuid_maker() -> Callable[[int], uuid.UUID]:
    sample = int.from_bytes(bytes(range(16)), "big")
    try:
        fast = _uuid_fast(sample)
        if fast == uuid.UUID(int=sample) and str(fast) == str(uuid.UUID(int=sample)):
            return _uuid_fast
    except (AttributeError, TypeError):
        pass
    return _uuid_checked


uuid_from_int: Final = _pick_uuid_maker()
"""The UUID of a 128-bit integer (in range: the callers read it from 16 bytes
or 32 hex digits), made without ``uuid.UUID.__init__``'s checks where that
gives the same object."""


def _uuid(data: bytes) -> uuid.UUID:
    if len(data) != 16:
        raise DataError("a binary uuid has 16 bytes")
    return uuid_from_int(_int_from_bytes(data, "big"))


class JsonFunctions:
    """The functions json and jsonb values go through; ``set_json`` replaces them."""

    __slots__ = ("dumps", "loads")

    def __init__(self) -> None:
        self.loads: Callable[[bytes | str], Any] = json.loads
        self.dumps: Callable[[Any], str] = json.dumps


JSON: Final = JsonFunctions()


@dataclass(frozen=True, slots=True)
class Json:
    """A value sent as JSON: ``conn.query("SELECT $1", Json([1, None]))``.

    Any value ``dumps`` can write (a list, a str, a number, None for JSON
    ``null``...), where a bare Python value would be sent as its own type.
    ``query()`` sends it as jsonb, as it does a dict; name ``Type.JSON`` with
    ``query_with_param_types`` for json. ``dumps`` (returning str, or UTF-8
    bytes as orjson's does) replaces the one ``set_json`` chose, for this
    value only.
    """

    value: Any
    dumps: Callable[[Any], str | bytes] | None = None


def _json(data: bytes) -> Any:
    return JSON.loads(data)


def _jsonb(data: bytes) -> Any:
    if data[:1] != b"\x01":
        raise DataError("unsupported jsonb binary version")
    return JSON.loads(data[1:])


_TEXT_LIKE: Final = (Type.TEXT, Type.VARCHAR, Type.BPCHAR, Type.NAME, Type.XML, Type.UNKNOWN)

DECODERS: Final[dict[int, Decoder]] = {
    Type.BOOL: _bool,
    Type.INT2: _unpacker(_I16),
    Type.INT4: _unpacker(_I32),
    Type.INT8: _unpacker(_I64),
    Type.OID: _unpacker(_U32),
    Type.FLOAT4: _unpacker(_F32),
    Type.FLOAT8: _unpacker(_F64),
    Type.NUMERIC: _numeric,
    Type.CHAR: _char,
    Type.BYTEA: _bytea,
    Type.DATE: _date,
    Type.TIME: _time,
    Type.TIMETZ: _timetz,
    Type.TIMESTAMP: _timestamp,
    Type.TIMESTAMPTZ: _timestamptz,
    Type.INTERVAL: _interval,
    Type.UUID: _uuid,
    Type.JSON: _json,
    Type.JSONB: _jsonb,
    Type.VOID: lambda data: None,
    **{oid: _text for oid in _TEXT_LIKE},
}


# -- encoders ------------------------------------------------------------------


def _need(value: object, kinds: Any, type_name: str) -> None:
    if not isinstance(value, kinds):
        raise DataError(f"cannot send {type(value).__name__} {shown(value)} as {type_name}")


def _bool_enc(value: Any) -> bytes:
    _need(value, bool, "boolean")
    return b"\x01" if value else b"\x00"


def _int_encoder(fmt: struct.Struct, low: int, high: int, type_name: str) -> Encoder:
    pack = fmt.pack

    def encode(value: Any) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise DataError(f"cannot send {type(value).__name__} {shown(value)} as {type_name}")
        if not low <= value <= high:
            raise DataError(f"{type_name} out of range: {shown(value)}")
        return pack(value)

    return encode


def _float_encoder(fmt: struct.Struct, type_name: str) -> Encoder:
    pack = fmt.pack

    def encode(value: Any) -> bytes:
        if not isinstance(value, float | int) or isinstance(value, bool):
            raise DataError(f"cannot send {type(value).__name__} {shown(value)} as {type_name}")
        try:
            return pack(value)
        except (OverflowError, struct.error):
            raise DataError(f"{type_name} out of range: {shown(value)}") from None

    return encode


_NUMERIC_MAX_WEIGHT: Final = 32767
_NUMERIC_MAX_DSCALE: Final = 0x3FFF


def _numeric_enc(value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise DataError(f"cannot send {type(value).__name__} {shown(value)} as numeric")
    if isinstance(value, float):  # float.__repr__: not a subclass's own
        value = Decimal(float.__repr__(value)) if math.isfinite(value) else Decimal(str(value))
    elif isinstance(value, int):
        value = Decimal(value)
    if value.is_nan():
        if value.is_snan():
            raise DataError("numeric cannot hold a signalling NaN")
        return _NUMERIC_HEAD.pack(0, 0, _NUMERIC_NAN, 0)
    if value.is_infinite():
        return _NUMERIC_HEAD.pack(0, 0, _NUMERIC_NINF if value < 0 else _NUMERIC_PINF, 0)
    if value.adjusted() >= 4 * (_NUMERIC_MAX_WEIGHT + 1):  # before writing its digits out
        raise _range_error("numeric", value)
    sign, digit_tuple, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise DataError(f"cannot send {shown(value)} as numeric")
    dscale = max(0, -exponent)
    if dscale > _NUMERIC_MAX_DSCALE:
        raise _range_error("numeric scale", value)
    shift = exponent % 4
    exponent -= shift
    groups = _base_10000(digit_tuple, shift)  # the least significant first
    low_weight = exponent // 4
    while groups and groups[0] == 0:
        groups.pop(0)
        low_weight += 1
    if not groups:
        return _NUMERIC_HEAD.pack(0, 0, _NUMERIC_POS, dscale)
    groups.reverse()
    weight = low_weight + len(groups) - 1
    if not -_NUMERIC_MAX_WEIGHT - 1 <= weight <= _NUMERIC_MAX_WEIGHT:
        raise _range_error("numeric", value)
    return _NUMERIC_HEAD.pack(
        len(groups), weight, _NUMERIC_NEG if sign else _NUMERIC_POS, dscale
    ) + struct.pack(f"!{len(groups)}h", *groups)


def _base_10000(digits: tuple[int, ...], shift: int) -> list[int]:
    """The decimal ``digits`` followed by ``shift`` zeros, in base-10000 groups, the
    least significant first, without leading zero groups."""
    if len(digits) <= 4000:  # through int: fast, and within int/str conversion limits
        coefficient = int("".join(map(str, digits)) or "0") * 10**shift
        groups: list[int] = []
        while coefficient:
            coefficient, group = divmod(coefficient, 10000)
            groups.append(group)
        return groups
    padded = "".join(map(str, digits)) + "0" * shift
    groups = [int(padded[max(end - 4, 0) : end]) for end in range(len(padded), 0, -4)]
    while groups and groups[-1] == 0:
        groups.pop()
    return groups


def check_text(value: str) -> bytes:
    """UTF-8 bytes of a text value; PostgreSQL text cannot hold NUL, nor UTF-8 a
    lone surrogate (U+D800 to U+DFFF, e.g. from ``os.fsdecode`` of bad bytes)."""
    if "\x00" in value:
        raise DataError("PostgreSQL text cannot contain NUL (0x00) characters")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataError(
            f"text holds a lone surrogate U+{ord(value[exc.start]):04X} at index {exc.start}, "
            "which UTF-8 (and so PostgreSQL) cannot encode"
        ) from None


def _text_enc(value: Any) -> bytes:
    _need(value, str, "text")
    return check_text(str.__str__(value))  # (an array item may be of a subclass of str)


def _char_enc(value: Any) -> bytes:
    _need(value, str, '"char"')
    data = check_text(str.__str__(value))
    if len(data) > 1:
        raise DataError(f'"char" holds one byte, not {shown(value)}')
    return data


def _bytea_enc(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    _need(value, bytes | bytearray | memoryview, "bytea")
    return bytes(memoryview(value))  # not bytes(value): a subclass's __bytes__ is not the data


def _date_enc(value: Any) -> bytes:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise DataError(f"cannot send {type(value).__name__} {shown(value)} as date")
    return _I32.pack(value.toordinal() - _EPOCH_ORDINAL)


def _time_usecs(value: dt.time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def _time_enc(value: Any) -> bytes:
    _need(value, dt.time, "time")
    if value.utcoffset() is not None:
        raise DataError("an aware datetime.time goes to timetz, not time")
    return _I64.pack(_time_usecs(value))


def _timetz_enc(value: Any) -> bytes:
    _need(value, dt.time, "timetz")
    offset = value.utcoffset()
    if offset is None:
        raise DataError("timetz needs an aware datetime.time (with tzinfo)")
    return _TIMETZ.pack(_time_usecs(value), -int(offset.total_seconds()))


def _usecs(delta: dt.timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _timestamp_enc(value: Any) -> bytes:
    _need(value, dt.datetime, "timestamp")
    if value.utcoffset() is not None:
        raise DataError("an aware datetime goes to timestamptz, not timestamp")
    return _I64.pack(_usecs(value - _EPOCH))


def _timestamptz_enc(value: Any) -> bytes:
    _need(value, dt.datetime, "timestamptz")
    if value.utcoffset() is None:
        raise DataError("timestamptz needs an aware datetime (with tzinfo)")
    return _I64.pack(_usecs(value - _EPOCH_UTC))


def _interval_enc(value: Any) -> bytes:
    if isinstance(value, Interval):
        try:
            return _INTERVAL.pack(value.microseconds, value.days, value.months)
        except struct.error:
            raise _range_error("interval", value) from None
    _need(value, dt.timedelta, "interval")
    usecs = value.seconds * 1_000_000 + value.microseconds
    if not -(2**31) <= value.days < 2**31:
        raise _range_error("interval", value)
    return _INTERVAL.pack(usecs, value.days, 0)


def _uuid_enc(value: Any) -> bytes:
    _need(value, uuid.UUID, "uuid")
    return bytes(value.bytes)


def json_text(value: Any) -> bytes:
    """A value as JSON text (``Json`` with its own ``dumps``), as UTF-8."""
    dumps: Callable[[Any], str | bytes] = JSON.dumps
    if isinstance(value, Json):
        dumps = value.dumps or dumps
        value = value.value
    try:
        text = dumps(value)
        if isinstance(text, bytes):  # as orjson.dumps gives
            text = text.decode("utf-8")
    except Exception as exc:  # json.dumps raises TypeError, ValueError, RecursionError...
        raise caused(
            DataError(f"cannot send {type(value).__name__} as JSON: {why(exc)}"), exc
        ) from exc
    if not isinstance(text, str):
        raise DataError(f"a JSON dumps function returns str, not {type(text).__name__}")
    return check_text(text)


def _jsonb_enc(value: Any) -> bytes:
    return b"\x01" + json_text(value)


ENCODERS: Final[dict[int, Encoder]] = {
    Type.BOOL: _bool_enc,
    Type.INT2: _int_encoder(_I16, -(2**15), 2**15 - 1, "smallint"),
    Type.INT4: _int_encoder(_I32, -(2**31), 2**31 - 1, "integer"),
    Type.INT8: _int_encoder(_I64, -(2**63), 2**63 - 1, "bigint"),
    Type.OID: _int_encoder(_U32, 0, 2**32 - 1, "oid"),
    Type.FLOAT4: _float_encoder(_F32, "real"),
    Type.FLOAT8: _float_encoder(_F64, "double precision"),
    Type.NUMERIC: _numeric_enc,
    Type.CHAR: _char_enc,
    Type.BYTEA: _bytea_enc,
    Type.DATE: _date_enc,
    Type.TIME: _time_enc,
    Type.TIMETZ: _timetz_enc,
    Type.TIMESTAMP: _timestamp_enc,
    Type.TIMESTAMPTZ: _timestamptz_enc,
    Type.INTERVAL: _interval_enc,
    Type.UUID: _uuid_enc,
    Type.JSON: json_text,
    Type.JSONB: _jsonb_enc,
    **{oid: _text_enc for oid in _TEXT_LIKE if oid != Type.UNKNOWN},
}
