"""Text format: PostgreSQL's output functions read back, and Python values written as text.

The decoders assume client_encoding UTF8, which pgpipe pins. Intervals are read
in every IntervalStyle (each is recognised by its shape); date, timestamp and
timestamptz in every DateStyle, given the session's day/month order and
TimeZone (``styled_decoders``; ``DECODERS`` has those of MDY and UTC).
``to_text`` writes a Python value the way PostgreSQL's input functions read it,
in any DateStyle and IntervalStyle, for parameters sent as text.
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
    uuid_from_int,
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


# The date part in every DateStyle: ISO 2024-01-17, SQL 01/17/2024 (17/01/2024 with
# DMY), German 17.01.2024, Postgres 01-17-2024 (17-01-2024 with DMY) for a date.
_DATE = re.compile(r"(\d{4,})-(\d\d)-(\d\d)|(\d\d)([-/.])(\d\d)\5(\d{4,})")
# A Postgres-style timestamp: "Wed Jan 17 12:34:56.789 2024", "Wed 17 Jan ..." with DMY.
_POSTGRES_STAMP = re.compile(
    r"[A-Z][a-z]{2} (?:([A-Z][a-z]{2}) (\d\d)|(\d\d) ([A-Z][a-z]{2})) "
    r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? (\d{4,})"
)
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_TIME = re.compile(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
_OFFSET = re.compile(r"([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?")
# What a zone abbreviation may be when the session's TimeZone is UTC or unknown.
_UTC_ABBREVIATIONS: Final = frozenset({"UTC", "GMT", "UCT", "Z"})
_UTC: Final = dt.UTC


def day_first(datestyle: str) -> bool:
    """Whether a DateStyle ("SQL, DMY") writes the day before the month in the
    styles where the order is a setting (SQL, Postgres); YMD writes month first."""
    return datestyle.partition(",")[2].strip().upper() == "DMY"


def _make_date(year: str, month: int, day: int, text: str, kind: str) -> dt.date:
    try:
        return dt.date(int(year), month, day)
    except ValueError:
        raise DataError(f"{kind} {text!r} cannot be represented by Python's datetime") from None


def _parse_date(text: str, day_first: bool, kind: str) -> tuple[dt.date, int]:
    """The date at the start of ``text`` in any DateStyle, and where it ends."""
    match = _DATE.match(text)
    if match is None:
        raise DataError(f"invalid {kind} {text!r}")
    if match[1] is not None:
        return _make_date(match[1], int(match[2]), int(match[3]), text, kind), match.end()
    first, second = int(match[4]), int(match[6])
    if day_first or match[5] == ".":  # German is always day first
        first, second = second, first
    return _make_date(match[7], first, second, text, kind), match.end()


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


def _split_timestamp(data: bytes, kind: str, day_first: bool) -> tuple[dt.datetime, str]:
    """The local date and time of a timestamp in any DateStyle, and what follows
    them: "" or, for timestamptz, "+05" (ISO) or " EST" / " +04" (the others)."""
    text = data.decode("ascii")
    _check_date_text(text, kind)
    if text[:1].isalpha():
        return _split_postgres_stamp(text, kind)
    date, end = _parse_date(text, day_first, kind)
    if text[end : end + 1] != " ":
        raise DataError(f"invalid {kind} {text!r}")
    time, rest = _parse_time(text[end + 1 :])
    return dt.datetime.combine(date, time), rest


def _split_postgres_stamp(text: str, kind: str) -> tuple[dt.datetime, str]:
    match = _POSTGRES_STAMP.match(text)
    month = None if match is None else _MONTHS.get(match[1] or match[4])
    if match is None or month is None:
        raise DataError(f"invalid {kind} {text!r}")
    date = _make_date(match[9], month, int(match[2] or match[3]), text, kind)
    micro = int((match[8] or "0").ljust(6, "0"))
    try:
        time = dt.time(int(match[5]), int(match[6]), int(match[7]), micro)
    except ValueError:
        raise DataError(f"invalid {kind} {text!r}") from None
    return dt.datetime.combine(date, time), text[match.end() :]


def _date_decoder(day_first: bool) -> Decoder:
    def decode_date(data: bytes) -> dt.date:
        text = data.decode("ascii")
        if len(text) == 10 and text[4] == "-":  # ISO, the default: the fast path
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass  # reported below with the general parser's message
        _check_date_text(text, "date")
        date, end = _parse_date(text, day_first, "date")
        if end != len(text):
            raise DataError(f"invalid date {text!r}")
        return date

    return decode_date


_DASH: Final = ord("-")
_SPACE: Final = ord(" ")
_FROM_ISO: Final = dt.datetime.fromisoformat


def _timestamp_decoder(day_first: bool) -> Decoder:
    def decode_timestamp(data: bytes) -> dt.datetime:
        if len(data) >= 19 and data[4] == _DASH and data[10] == _SPACE:
            # ISO, the default DateStyle: the fast path (anything odd falls through)
            try:
                fast = _FROM_ISO(data.decode("ascii"))
            except ValueError:
                pass
            else:
                if fast.tzinfo is None:
                    return fast
        value, rest = _split_timestamp(data, "timestamp", day_first)
        if rest:
            raise DataError(f"invalid timestamp {data!r}")
        return value

    return decode_timestamp


def _timestamptz_decoder(day_first: bool, zone: dt.tzinfo | None, zone_name: str) -> Decoder:
    """timestamptz text in any DateStyle, as an instant in UTC.

    ISO writes the UTC offset. The other styles write the session TimeZone's
    abbreviation ("EST"), or an offset for zones without one ("+04"):
    ``zone`` (the session's TimeZone ``zone_name``, None for UTC or one
    Python cannot load) gives the offset, and the abbreviation picks the
    side of a DST fold. An abbreviation the zone does not have then is
    refused rather than guessed.
    """

    def decode_timestamptz(data: bytes) -> dt.datetime:
        if len(data) >= 22 and data[4] == _DASH and data[10] == _SPACE:
            # ISO, the default DateStyle, writes the UTC offset: the fast path (BC
            # dates, years past 9999 and the like fall through to the parser below)
            try:
                fast = _FROM_ISO(data.decode("ascii"))
            except ValueError:
                pass
            else:
                zone_read = fast.tzinfo
                if zone_read is _UTC:  # +00: already in UTC (the commonest case)
                    return fast
                if zone_read is not None:
                    try:
                        return fast.astimezone(_UTC)
                    except OverflowError:
                        raise DataError(
                            f"timestamptz {data!r} is out of range in UTC"
                        ) from None
        local, rest = _split_timestamp(data, "timestamptz", day_first)
        if rest[:1] == " ":
            value = _in_abbreviated_zone(local, rest[1:], zone, zone_name, data)
        else:
            value = local.replace(tzinfo=_parse_offset(rest))
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise DataError(f"timestamptz {data!r} is out of range in UTC") from None

    return decode_timestamptz


def _in_abbreviated_zone(
    local: dt.datetime, abbreviation: str, zone: dt.tzinfo | None, zone_name: str, data: bytes
) -> dt.datetime:
    if abbreviation[:1] in ("+", "-"):
        return local.replace(tzinfo=_parse_offset(abbreviation))
    if zone is None:
        if abbreviation in _UTC_ABBREVIATIONS:
            return local.replace(tzinfo=dt.UTC)
    else:
        for fold in (0, 1):  # the earlier, then the later, of a repeated hour
            value = local.replace(tzinfo=zone, fold=fold)
            if value.tzname() == abbreviation:
                return value
    raise DataError(
        f"timestamptz {data.decode('ascii')!r}: {abbreviation} is not a name the session's "
        f"TimeZone {zone_name!r} has at that time, so its UTC offset is unknown (DateStyle "
        "ISO and binary results carry the offset itself)"
    )


def styled_decoders(
    day_first: bool, zone: dt.tzinfo | None, zone_name: str = "UTC"
) -> dict[int, Decoder]:
    """Text decoders of date, timestamp and timestamptz for a session's DateStyle order
    (``day_first``) and TimeZone (``zone_name``; ``zone`` is that zone, None for UTC
    or one Python cannot load): every style is read."""
    return {
        Type.DATE: _date_decoder(day_first),
        Type.TIMESTAMP: _timestamp_decoder(day_first),
        Type.TIMESTAMPTZ: _timestamptz_decoder(day_first, zone, zone_name),
    }


# IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.5".
_INTERVAL_PART = re.compile(r"([+-]?\d+) (year|mon|day)s?")
_INTERVAL_TIME = re.compile(r"([+-]?)(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?")
# IntervalStyle postgres_verbose: "@ 1 year 2 mons -3 days 4 hours 5 mins 6.5 secs ago".
_VERBOSE_PART = re.compile(r" (-?\d+)(?:\.(\d{1,6}))? (year|mon|day|hour|min|sec)s?")
# IntervalStyle iso_8601: "P1Y2M-3DT4H5M6.5S".
_ISO_INTERVAL = re.compile(
    r"P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?"
    r"(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?)(\d+)(?:\.(\d{1,6}))?S)?)?"
)
# IntervalStyle sql_standard fields: "1-2" (years-months), "3" (days), "4:05:06.5".
_SQL_YEAR_MONTH = re.compile(r"(\d+)-(\d+)")
_SQL_DAYS = re.compile(r"\d+")
_USECS: Final = {"year": 0, "mon": 0, "day": 0, "hour": 3_600_000_000, "min": 60_000_000}


def _fraction(digits: str | None) -> int:
    return int((digits or "0").ljust(6, "0"))


def _clock_usecs(match: re.Match[str]) -> int:
    """Microseconds of a [+-]H:MM:SS[.ffffff] match (groups 1 to 5)."""
    usecs = ((int(match[2]) * 60 + int(match[3])) * 60 + int(match[4])) * 1_000_000
    usecs += _fraction(match[5])
    return -usecs if match[1] == "-" else usecs


def _interval(data: bytes) -> dt.timedelta | Interval:
    """An interval in any IntervalStyle: each one is recognised by its shape, so a
    style changed without pgpipe being told (another client's SET behind a pooler
    that does not restore it, a SET in the same pipeline) is still read right."""
    text = data.decode("ascii")
    if text[:1] == "@":
        months, days, usecs = _verbose_interval(text)
    elif text[:1] == "P":
        months, days, usecs = _iso_interval(text)
    else:
        parts = _postgres_interval(text)
        months, days, usecs = parts if parts is not None else _sql_interval(text)
    return interval_value(months, days, usecs)


def _postgres_interval(text: str) -> tuple[int, int, int] | None:
    """IntervalStyle postgres; None if ``text`` is not in it (sql_standard then)."""
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
            return None
        usecs = _clock_usecs(match)
    return 12 * parts["year"] + parts["mon"], parts["day"], usecs


def _sql_interval(text: str) -> tuple[int, int, int]:
    """IntervalStyle sql_standard: "0", "-1-2", "-3 4:05:06", "+1-2 -3 +4:05:06.5".

    A sign before the first field alone covers every field (as the server's
    input reads it); otherwise each field has its own sign.
    """
    fields = text.split(" ")
    if not 1 <= len(fields) <= 3 or not all(fields):
        raise DataError(f"invalid interval {text!r}")
    signs = [field[0] if field[0] in "+-" else "" for field in fields]
    if signs[0] == "-" and not any(signs[1:]):
        signs = ["-"] * len(fields)
    months = days = usecs = 0
    for field, sign in zip(fields, signs, strict=True):
        body = field.lstrip("+-")
        negative = sign == "-"
        if (match := _INTERVAL_TIME.fullmatch(body)) is not None:
            value = _clock_usecs(match)
            usecs += -value if negative else value
        elif (match := _SQL_YEAR_MONTH.fullmatch(body)) is not None:
            value = 12 * int(match[1]) + int(match[2])
            months += -value if negative else value
        elif _SQL_DAYS.fullmatch(body) is not None:
            days += -int(body) if negative else int(body)
        else:
            raise DataError(f"invalid interval {text!r}")
    return months, days, usecs


def _verbose_interval(text: str) -> tuple[int, int, int]:
    """IntervalStyle postgres_verbose: "@ 1 year -3 days 4 hours 6.5 secs ago", "@ 0"."""
    body, ago = (text[:-4], True) if text.endswith(" ago") else (text, False)
    if body == "@ 0":
        return 0, 0, 0
    months = days = usecs = 0
    pos = 1
    while pos < len(body):
        match = _VERBOSE_PART.match(body, pos)
        if match is None or (match[2] is not None and match[3] != "sec"):
            raise DataError(f"invalid interval {text!r}")
        count, unit = int(match[1]), match[3]
        if unit == "year":
            months += 12 * count
        elif unit == "mon":
            months += count
        elif unit == "day":
            days += count
        elif unit == "sec":
            fraction = _fraction(match[2])
            usecs += count * 1_000_000 + (-fraction if match[1][0] == "-" else fraction)
        else:
            usecs += count * _USECS[unit]
        pos = match.end()
    if pos == 1:
        raise DataError(f"invalid interval {text!r}")
    return (-months, -days, -usecs) if ago else (months, days, usecs)


def _iso_interval(text: str) -> tuple[int, int, int]:
    """IntervalStyle iso_8601: "P1Y2M-3DT4H5M6.5S", "PT-0.5S", "PT0S"."""
    match = _ISO_INTERVAL.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise DataError(f"invalid interval {text!r}")
    years, months, days, hours, minutes = (int(match[i] or 0) for i in range(1, 6))
    usecs = int(match[7] or 0) * 1_000_000 + _fraction(match[8])
    if match[6] == "-":
        usecs = -usecs
    usecs += hours * 3_600_000_000 + minutes * 60_000_000
    return 12 * years + months, days, usecs


def _uuid(data: bytes) -> uuid.UUID:
    # PostgreSQL prints 8-4-4-4-12 hex digits; anything else goes through
    # uuid.UUID's own reading (and its error).
    digits = data.replace(b"-", b"")
    if len(digits) == 32 and len(data) == 36 and digits.isalnum():
        try:
            return uuid_from_int(int(digits, 16))
        except ValueError:
            pass
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
    **styled_decoders(day_first=False, zone=None),
    Type.TIME: _time,
    Type.TIMETZ: _timetz,
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
