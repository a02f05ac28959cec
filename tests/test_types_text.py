"""pgpipe's text encoder writes every value exactly as the server renders it.

The oracle is the type's output function (``format('%s', $1)`` calls it), which
is what the server sends in text results; ``$1::text`` is a cast, which for
bool and inet differs from the output function.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Interval, Type, strategies, types
from pgpipe.strategies import values
from pgpipe.types import ranges, text
from tests.test_types import STRATEGIES


@pytest.fixture(scope="module")
def conn(dsn: str) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(dsn, server_settings={"TimeZone": "UTC"}) as c:
        yield c


# The server renders timestamptz in the session's TimeZone (UTC here), and the
# text encoder in the value's own offset: the kit's values are moved to UTC.
UTC_TIMESTAMPTZ = values(Type.TIMESTAMPTZ).map(lambda d: d.astimezone(dt.UTC))
MULTIRANGES = {Type.INT8MULTIRANGE}

CASES: dict[Type, st.SearchStrategy[Any]] = {
    **{oid: strategy for oid, strategy in STRATEGIES.items() if oid is not Type.JSONB},
    Type.TIMESTAMPTZ: UTC_TIMESTAMPTZ,
    Type.TSTZRANGE: strategies.ranges(UTC_TIMESTAMPTZ),
    **{
        oid: values(oid)
        for oid in (
            Type.FLOAT8,
            Type.TIMETZ,
            Type.INET,
            Type.INT8_ARRAY,
            Type.TEXT_ARRAY,
            Type.CIDR,
            Type.POINT,
            Type.LINE,
            Type.LSEG,
            Type.PATH,
            Type.POLYGON,
            Type.CIRCLE,
            Type.INT8RANGE,
            Type.INT8MULTIRANGE,
            Type.POINT_ARRAY,
            Type.INT8RANGE_ARRAY,
        )
    },
}


@pytest.mark.parametrize("oid", list(CASES), ids=[t.name for t in CASES])
def test_text_encoder_matches_the_server(conn: pgpipe.Connection, oid: Type) -> None:
    name = oid.name.lower()
    cast = f"{name.removesuffix('_array')}[]" if name.endswith("_array") else name
    if oid is Type.LINE:
        cast = "line"

    @settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(CASES[oid])
    def check(value: Any) -> None:
        ((rendered,),) = conn.query_with_param_types(
            f"SELECT format('%s', $1::{cast})", [(value, oid)]
        ).rows
        if oid in MULTIRANGES:
            ours = ranges.multirange_to_text(value, types.to_text)
        else:
            ours = types.to_text(value)
        assert ours.decode() == rendered

    check()


@pytest.mark.parametrize(
    "value",
    [
        Interval(14, -3, 14_706_500_000),
        Interval(-14, 0, 0),
        Interval(1, -1, 0),
        Interval(0, 0, -1),
        dt.timedelta(days=-1, seconds=3600),
        dt.timedelta(days=1),
        dt.timedelta(microseconds=1),
        ipaddress.ip_interface("10.1.2.3/16"),
        ipaddress.ip_network("2001:db8::/32"),
    ],
    ids=str,
)
def test_special_renderings(conn: pgpipe.Connection, value: Any) -> None:
    oid = (
        Type.INTERVAL
        if isinstance(value, Interval | dt.timedelta)
        else Type.CIDR
        if isinstance(value, ipaddress.IPv6Network)
        else Type.INET
    )
    ((rendered,),) = conn.query_with_param_types(
        f"SELECT format('%s', $1::{oid.name.lower()})", [(value, oid)]
    ).rows
    assert text.to_text(value).decode() == rendered


# The text decoders of the types whose text depends on DateStyle and IntervalStyle.
STYLED_TEXT = {
    "date": types.session_decoders("Europe/Berlin", "SQL, DMY")[Type.DATE, 0],
    "timestamp": types.session_decoders("Europe/Berlin", "Postgres, DMY")[Type.TIMESTAMP, 0],
    "timestamptz": types.session_decoders("America/New_York", "SQL, MDY")[Type.TIMESTAMPTZ, 0],
    "interval": text.DECODERS[Type.INTERVAL],
}
STYLE_ALPHABET = "0123456789 :-+./@PYMDTHSagoyearmonsdayhourminsecJanWedESTCET BC"


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(sorted(STYLED_TEXT)), st.text(STYLE_ALPHABET, max_size=40))
def test_date_and_interval_text_decoders_raise_only_data_error(kind: str, value: str) -> None:
    """Whatever the text, each style-reading decoder returns a value or raises DataError."""
    with contextlib.suppress(pgpipe.DataError):
        STYLED_TEXT[kind](value.encode("ascii"))


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (
            "interval",
            "@ 1 year 2 mons -3 days 4 hours 5 mins 6.5 secs ago",
            Interval(-14, 3, -14_706_500_000),
        ),
        ("interval", "+1-2 -3 +4:05:06.5", Interval(14, -3, 14_706_500_000)),
        ("interval", "-1 2:03:04", -dt.timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("interval", "P-1Y-2MT-0.5S", Interval(-14, 0, -500_000)),
        ("interval", "-1 mons +3 days", Interval(-1, 3, 0)),
        ("date", "04/03/2024", dt.date(2024, 3, 4)),
        ("date", "04.03.2024", dt.date(2024, 3, 4)),
        ("date", "04-03-2024", dt.date(2024, 3, 4)),
        ("date", "2024-03-04", dt.date(2024, 3, 4)),
        ("timestamp", "Mon 04 Mar 05:06:07.5 2024", dt.datetime(2024, 3, 4, 5, 6, 7, 500000)),
        ("timestamp", "Mon Mar 04 05:06:07 2024", dt.datetime(2024, 3, 4, 5, 6, 7)),
        ("timestamptz", "11/03/2024 01:30:00 EDT", dt.datetime(2024, 11, 3, 5, 30, tzinfo=dt.UTC)),
        ("timestamptz", "11/03/2024 01:30:00 EST", dt.datetime(2024, 11, 3, 6, 30, tzinfo=dt.UTC)),
        (
            "timestamptz",
            "11/03/2024 01:30:00 +0545",
            dt.datetime(2024, 11, 2, 19, 45, tzinfo=dt.UTC),
        ),
        ("timestamptz", "2024-11-03 01:30:00-04", dt.datetime(2024, 11, 3, 5, 30, tzinfo=dt.UTC)),
    ],
)
def test_styled_text_examples(kind: str, value: str, expected: object) -> None:
    decoded = STYLED_TEXT[kind](value.encode("ascii"))
    if isinstance(expected, dt.datetime) and expected.tzinfo is not None:
        # In a fold an aware datetime is never equal to one in another zone (PEP 495).
        assert isinstance(decoded, dt.datetime)
        decoded = decoded.astimezone(dt.UTC)
    assert decoded == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("timestamptz", "11/03/2024 01:30:00 CET", "CET is not a name the session's TimeZone"),
        ("date", "31/02/2024", "cannot be represented"),
        ("date", "infinity", "cannot be represented"),
        ("timestamp", "Mon Foo 04 05:06:07 2024", "invalid timestamp"),
        ("interval", "@ 1 fortnight", "invalid interval"),
        ("interval", "1-2-3", "invalid interval"),
    ],
)
def test_styled_text_refused(kind: str, value: str, message: str) -> None:
    with pytest.raises(pgpipe.DataError, match=message):
        STYLED_TEXT[kind](value.encode("ascii"))


@given(
    when=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    offset_minutes=st.integers(-15 * 60, 15 * 60),
    digits=st.integers(0, 6),
)
def test_iso_timestamptz_fast_path_agrees_with_the_parser(
    when: dt.datetime, offset_minutes: int, digits: int
) -> None:
    """ISO text (the default DateStyle) is read by datetime.fromisoformat; the
    general parser, reached through a non-ISO-looking prefix, must agree."""
    from pgpipe.types.text import _split_timestamp, _timestamp_decoder, _timestamptz_decoder

    when = when.replace(microsecond=when.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits))
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    fraction = f".{when.microsecond:06d}"[: digits + 1] if digits else ""
    offset = f"{sign}{hours:02d}" + (f":{minutes:02d}" if minutes else "")
    text = f"{when.year:04d}-{when:%m-%d %H:%M:%S}{fraction}"
    local, rest = _split_timestamp(f"{text}{offset}".encode(), "timestamptz", False)
    expected = local.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes))).astimezone(
        dt.UTC
    )
    assert _timestamptz_decoder(False, None, "UTC")(f"{text}{offset}".encode()) == expected
    assert _timestamp_decoder(False)(text.encode()) == local
    assert rest == offset


@pytest.mark.parametrize(
    "data",
    [b"2024-01-01 24:00:00+00", b"2024-01-01 00:00:00+00 BC", b"12024-01-01 00:00:00+00"],
)
def test_iso_text_the_fast_path_cannot_read_goes_to_the_parser(data: bytes) -> None:
    from pgpipe.types.text import _timestamptz_decoder

    decode = _timestamptz_decoder(False, None, "UTC")
    with pytest.raises(pgpipe.DataError):
        decode(data)


@given(st.binary(min_size=16, max_size=16), st.booleans())
def test_uuid_text_reads_as_uuid_does(raw: bytes, upper: bool) -> None:
    expected = uuid.UUID(bytes=raw)
    printed = str(expected).upper() if upper else str(expected)
    decoded = types.result_decoder(Type.UUID, 0)(printed.encode())
    assert decoded == expected and str(decoded) == str(expected)
    assert decoded.is_safe is expected.is_safe and type(decoded) is uuid.UUID


@pytest.mark.parametrize(
    "bad", [b"", b"xyz", b"g" * 32 + b"----", b"12345678-1234-1234-1234-12345678901"]
)
def test_uuid_text_refuses_what_uuid_refuses(bad: bytes) -> None:
    with pytest.raises(ValueError):
        types.result_decoder(Type.UUID, 0)(bad)
