"""Text format: PostgreSQL's output functions read back, and Python values written as text.

The decoders assume the settings pgpipe pins in every session: client_encoding
UTF8, DateStyle ISO, IntervalStyle postgres. ``to_text`` writes a Python value
the way PostgreSQL's input functions read it, for parameters sent as text.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
import uuid
from decimal import Decimal
from typing import Any, Final

from pgpipe.errors import DataError
from pgpipe.types.binary import (
    JSON,
    PLAIN,
    Decoder,
    Interval,
    Json,
    check_text,
    interval_value,
    json_text,
    plain,
)
from pgpipe.types.oids import Type


def _str(data: bytes) -> str:
    return data.decode("utf-8")


def _bool(data: bytes) -> bool:
    if data == b"t":
        return True
    if data == b"f":
        return False
    raise DataError(f"invalid boolean {data!r}")


def _int(data: bytes) -> int:
    return int(data)


def _float(data: bytes) -> float:
    return float(data)


def _numeric(data: bytes) -> Decimal:
    return Decimal(data.decode("ascii"))


def _bytea(data: bytes) -> bytes:
    if data[:2] == b"\\x":
        return bytes.fromhex(data[2:].decode("ascii"))
    # The legacy "escape" format: \\ for a backslash, \ooo octal for other bytes.
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte != 0x5C:
            out.append(byte)
            i += 1
        elif data[i + 1 : i + 2] == b"\\":
            out.append(0x5C)
            i += 2
        else:
            octal = data[i + 1 : i + 4]
            if len(octal) != 3 or not all(0x30 <= c <= 0x37 for c in octal):
                raise DataError("invalid bytea escape")
            out.append(int(octal, 8))
            i += 4
    return bytes(out)


def _check_date_text(text: str, kind: str) -> None:
    if text in ("infinity", "-infinity"):
        raise DataError(f"{kind} {text!r} cannot be represented by Python's datetime")
    if text.endswith(" BC"):
        raise DataError(f"{kind} {text!r} (BC) cannot be represented by Python's datetime")


def _date(data: bytes) -> dt.date:
    text = data.decode("ascii")
    _check_date_text(text, "date")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DataError(f"date {text!r} cannot be represented by datetime.date") from None


_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
_OFFSET = re.compile(r"([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?")


def _parse_time(text: str) -> tuple[dt.time, str]:
    match = _TIME.match(text)
    if match is None:
        raise DataError(f"invalid time {text!r}")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3])
    micro = int((match[4] or "0").ljust(6, "0"))
    if hour == 24:
        raise DataError("time 24:00:00 cannot be represented by datetime.time")
    return dt.time(hour, minute, second, micro), text[match.end() :]


def _parse_offset(text: str) -> dt.timezone:
    match = _OFFSET.fullmatch(text)
    if match is None:
        raise DataError(f"invalid time zone offset {text!r}")
    seconds = int(match[2]) * 3600 + int(match[3] or 0) * 60 + int(match[4] or 0)
    return dt.timezone(dt.timedelta(seconds=-seconds if match[1] == "-" else seconds))


def _time(data: bytes) -> dt.time:
    value, rest = _parse_time(data.decode("ascii"))
    if rest:
        raise DataError(f"invalid time {data!r}")
    return value


def _timetz(data: bytes) -> dt.time:
    value, rest = _parse_time(data.decode("ascii"))
    return value.replace(tzinfo=_parse_offset(rest))


def _split_timestamp(data: bytes, kind: str) -> tuple[dt.date, dt.time, str]:
    text = data.decode("ascii")
    _check_date_text(text, kind)
    day, _, rest = text.partition(" ")
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise DataError(f"{kind} {text!r} cannot be represented by datetime.datetime") from None
    time, rest = _parse_time(rest)
    return date, time, rest


def _timestamp(data: bytes) -> dt.datetime:
    date, time, rest = _split_timestamp(data, "timestamp")
    if rest:
        raise DataError(f"invalid timestamp {data!r}")
    return dt.datetime.combine(date, time)


def _timestamptz(data: bytes) -> dt.datetime:
    date, time, rest = _split_timestamp(data, "timestamptz")
    local = dt.datetime.combine(date, time, _parse_offset(rest))
    try:
        return local.astimezone(dt.UTC)
    except OverflowError:
        raise DataError(f"timestamptz {data!r} is out of range in UTC") from None


_INTERVAL_PART = re.compile(r"(-?\d+) (year|mon|day)s?")
_INTERVAL_TIME = re.compile(r"([+-]?)(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?")


def _interval(data: bytes) -> dt.timedelta | Interval:
    """IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.5"."""
    text = data.decode("ascii")
    parts = {"year": 0, "mon": 0, "day": 0}
    rest = text
    while rest:
        match = _INTERVAL_PART.match(rest)
        if match is None:
            break
        parts[match[2]] += int(match[1])
        rest = rest[match.end() :].lstrip(" ")
    usecs = 0
    if rest:
        match = _INTERVAL_TIME.fullmatch(rest)
        if match is None:
            raise DataError(f"invalid interval {text!r}")
        usecs = ((int(match[2]) * 60 + int(match[3])) * 60 + int(match[4])) * 1_000_000
        usecs += int((match[5] or "0").ljust(6, "0"))
        if match[1] == "-":
            usecs = -usecs
    return interval_value(12 * parts["year"] + parts["mon"], parts["day"], usecs)


def _uuid(data: bytes) -> uuid.UUID:
    return uuid.UUID(data.decode("ascii"))


def _json(data: bytes) -> Any:
    return JSON.loads(data)


DECODERS: Final[dict[int, Decoder]] = {
    Type.BOOL: _bool,
    Type.INT2: _int,
    Type.INT4: _int,
    Type.INT8: _int,
    Type.OID: _int,
    Type.FLOAT4: _float,
    Type.FLOAT8: _float,
    Type.NUMERIC: _numeric,
    Type.BYTEA: _bytea,
    Type.DATE: _date,
    Type.TIME: _time,
    Type.TIMETZ: _timetz,
    Type.TIMESTAMP: _timestamp,
    Type.TIMESTAMPTZ: _timestamptz,
    Type.INTERVAL: _interval,
    Type.UUID: _uuid,
    Type.JSON: _json,
    Type.JSONB: _json,
    Type.VOID: lambda data: None,
}
"""Text decoders by OID; every other type is returned as ``str`` (``decode_str``)."""

decode_str: Final = _str


def _time_text(value: dt.time | dt.datetime) -> str:
    """HH:MM:SS with the fraction PostgreSQL prints: trailing zeros dropped."""
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text


def _offset_text(offset: dt.timedelta) -> str:
    """A UTC offset as PostgreSQL prints it: +05, +05:30, -03:30:12."""
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}"
    if minutes or secs:
        text += f":{minutes:02d}"
    if secs:
        text += f":{secs:02d}"
    return text


def _datetime_text(value: dt.datetime) -> str:
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {_time_text(value)}"
    offset = value.utcoffset()
    return text if offset is None else text + _offset_text(offset)


def _interval_part(value: int, unit: str, negative_before: bool) -> str:
    sign = "+" if negative_before and value > 0 else ""
    return f"{sign}{value} {unit}{'' if value == 1 else 's'}"


def _interval_text(value: dt.timedelta | Interval) -> str:
    """IntervalStyle postgres, as the server prints it: "1 year 2 mons -3 days +04:05:06.5"."""
    if isinstance(value, Interval):
        months, days, usecs = value.months, value.days, value.microseconds
    else:
        months, days, usecs = 0, value.days, value.seconds * 1_000_000 + value.microseconds
    years = int(months / 12)  # truncated toward zero, as C does
    parts: list[str] = []
    negative_before = False
    for count, unit in ((years, "year"), (months - 12 * years, "mon"), (days, "day")):
        if count:
            parts.append(_interval_part(count, unit, negative_before))
            negative_before = count < 0
    if usecs or not parts:
        sign = "-" if usecs < 0 else ("+" if negative_before else "")
        seconds, micro = divmod(abs(usecs), 1_000_000)
        minutes, second = divmod(seconds, 60)
        hours, minute = divmod(minutes, 60)
        clock = f"{sign}{hours:02d}:{minute:02d}:{second:02d}"
        if micro:
            clock += f".{micro:06d}".rstrip("0")
        parts.append(clock)
    return " ".join(parts)


def float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    # The shortest digits that read back exactly (as repr finds them), laid out as
    # PostgreSQL does: fixed notation for decimal exponents -4 to 14, else d.ddde+XX.
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits, magnitude = _shortest_digits(abs(value))
    minus = "-" if value < 0 else ""
    if -4 <= magnitude < 15:
        return minus + format(Decimal(f"{digits}E{magnitude - len(digits) + 1}"), "f")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{minus}{mantissa}e{'-' if magnitude < 0 else '+'}{abs(magnitude):02d}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """The fewest significant digits that lie strictly inside ``value``'s rounding interval.

    PostgreSQL's float output (Ryu) does not accept a decimal exactly halfway to
    a neighbouring double, where Python's repr may: the two differ only there.
    Returns the digits and the decimal exponent of the first one.
    """
    exact = Decimal(value)
    low = (Decimal(math.nextafter(value, 0.0)) + exact) / 2
    above = math.nextafter(value, math.inf)
    # Past the largest double the next one would be as far as the one below.
    high = (Decimal(above) + exact) / 2 if above != math.inf else exact + (exact - low)
    for count in range(1, 18):
        nearest = Decimal(f"{value:.{count - 1}e}")
        unit = Decimal(1).scaleb(nearest.adjusted() - count + 1)
        # The correctly rounded candidate may fall just outside an uneven interval
        # (at a power of two) where its neighbour one unit away does not.
        inside = [c for c in (nearest, nearest + unit, nearest - unit) if low < c < high]
        if inside:
            best = min(inside, key=lambda c: abs(c - exact))
            sign_digits_exponent = best.normalize().as_tuple()
            digits = "".join(map(str, sign_digits_exponent.digits))
            return digits, best.adjusted()
    mantissa, _, exponent = f"{value:.16e}".partition("e")
    return mantissa.replace(".", "").rstrip("0"), int(exponent)


def _decimal_text(value: Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    return format(abs(value) if value.is_zero() else value, "f")


IP_TYPES: Final = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)


def _ip_text(value: Any) -> str:
    """inet/cidr as PostgreSQL writes them: IPv4-mapped IPv6 addresses in dotted form."""
    if isinstance(value, ipaddress.IPv6Network):
        address, suffix = value.network_address, f"/{value.prefixlen}"
    elif isinstance(value, ipaddress.IPv6Interface):
        address, suffix = value.ip, f"/{value.network.prefixlen}"
    elif isinstance(value, ipaddress.IPv6Address):
        address, suffix = value, ""
    else:
        return str(value)
    mapped = address.ipv4_mapped
    return (str(address) if mapped is None else f"::ffff:{mapped}") + suffix


_INT_STR_BITS: Final = 10_000


def to_text(value: Any) -> bytes:
    """A Python value written as PostgreSQL writes it in text.

    Used for text-format parameters, array and row literals; the tests check it
    against the server's own rendering (``$1::text``). An ``Enum`` member is
    written as its value.
    """
    if type(value) not in PLAIN:
        value = plain(value)
    if isinstance(value, str):
        return check_text(value)
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int):
        if value.bit_length() > _INT_STR_BITS:  # past what str() converts by default
            return _decimal_text(Decimal(value)).encode("ascii")
        return str(value).encode("ascii")
    if isinstance(value, Decimal):
        return _decimal_text(value).encode("ascii")
    if isinstance(value, float):
        return float_text(value).encode("ascii")
    if isinstance(value, bytes | bytearray | memoryview):
        return b"\\x" + bytes(value).hex().encode("ascii")
    if isinstance(value, dt.datetime):
        return _datetime_text(value).encode("ascii")
    if isinstance(value, dt.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}".encode("ascii")
    if isinstance(value, dt.time):
        offset = value.utcoffset()
        text = _time_text(value) + ("" if offset is None else _offset_text(offset))
        return text.encode("ascii")
    if isinstance(value, dt.timedelta | Interval):
        return _interval_text(value).encode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value).encode("ascii")
    if isinstance(value, IP_TYPES):
        return _ip_text(value).encode("ascii")
    if isinstance(value, dict | list | Json):
        return json_text(value)
    raise DataError(
        f"cannot adapt type {type(value).__name__}; pass it as str or with a known type"
    )
