"""Codecs: byte-exact against the server's own send functions, and round trips, with hypothesis."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import struct
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Type
from pgpipe.errors import DataError
from pgpipe.strategies import values
from pgpipe.types import (
    binary,
    encode_inferred,
    encode_typed,
    has_binary_decoder,
    result_decoder,
    text,
)

# (SQL literal, Python value, type): the server's typsend(literal) must equal our
# binary encoding of the value, and both decoders must give the value back.
VECTORS: list[tuple[str, object, Type]] = [
    ("true", True, Type.BOOL),
    ("false", False, Type.BOOL),
    ("'-32768'", -32768, Type.INT2),
    ("2147483647", 2147483647, Type.INT4),
    ("'-2147483648'", -2147483648, Type.INT4),
    ("'-9223372036854775808'", -(2**63), Type.INT8),
    ("4294967295", 4294967295, Type.OID),
    ("1.5", 1.5, Type.FLOAT4),
    ("'NaN'", math.nan, Type.FLOAT8),
    ("'-Infinity'", -math.inf, Type.FLOAT8),
    ("1e308", 1e308, Type.FLOAT8),
    ("0.1", 0.1, Type.FLOAT8),
    ("'1.50'", Decimal("1.50"), Type.NUMERIC),
    ("'-0.000001'", Decimal("-0.000001"), Type.NUMERIC),
    ("'NaN'", Decimal("NaN"), Type.NUMERIC),
    ("'Infinity'", Decimal("Infinity"), Type.NUMERIC),
    ("'-Infinity'", Decimal("-Infinity"), Type.NUMERIC),
    ("'1" + "0" * 999 + "'", Decimal("1" + "0" * 999), Type.NUMERIC),
    ("'0." + "0" * 999 + "1'", Decimal("0." + "0" * 999 + "1"), Type.NUMERIC),
    ("'héllo ☃'", "héllo ☃", Type.TEXT),
    ("''", "", Type.TEXT),
    ("'x'", "x", Type.CHAR),
    ("'\\x00ff10'", b"\x00\xff\x10", Type.BYTEA),
    ("'2024-02-29'", dt.date(2024, 2, 29), Type.DATE),
    ("'0001-01-01'", dt.date(1, 1, 1), Type.DATE),
    ("'9999-12-31'", dt.date(9999, 12, 31), Type.DATE),
    ("'23:59:59.999999'", dt.time(23, 59, 59, 999999), Type.TIME),
    (
        "'12:00:00+05:30'",
        dt.time(12, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        Type.TIMETZ,
    ),
    ("'2024-02-29 12:34:56.789'", dt.datetime(2024, 2, 29, 12, 34, 56, 789000), Type.TIMESTAMP),
    ("'0001-01-01 00:00:00'", dt.datetime(1, 1, 1), Type.TIMESTAMP),
    ("'2024-03-31 01:30:00+00'", dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.UTC), Type.TIMESTAMPTZ),
    (
        "'3 days 04:05:06.000007'",
        dt.timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=7),
        Type.INTERVAL,
    ),
    ("'-1 days +00:00:01'", dt.timedelta(days=-1, seconds=1), Type.INTERVAL),
    (
        "'12345678-1234-5678-1234-567812345678'",
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        Type.UUID,
    ),
    ("'{\"a\": [1, null]}'", {"a": [1, None]}, Type.JSONB),
    ("'[1, 2]'", [1, 2], Type.JSON),
]


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, Decimal) and a.is_nan():
        return isinstance(b, Decimal) and b.is_nan()
    return a == b and type(a) is type(b)


@pytest.fixture(scope="module")
def conn(dsn: str) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(dsn) as c:
        c.query("SET TimeZone = 'Asia/Kolkata'")
        yield c


SEND = {
    Type.BOOL: "boolsend",
    Type.INT2: "int2send",
    Type.INT4: "int4send",
    Type.INT8: "int8send",
    Type.OID: "oidsend",
    Type.FLOAT4: "float4send",
    Type.FLOAT8: "float8send",
    Type.NUMERIC: "numeric_send",
    Type.TEXT: "textsend",
    Type.CHAR: "charsend",
    Type.BYTEA: "byteasend",
    Type.DATE: "date_send",
    Type.TIME: "time_send",
    Type.TIMETZ: "timetz_send",
    Type.TIMESTAMP: "timestamp_send",
    Type.TIMESTAMPTZ: "timestamptz_send",
    Type.INTERVAL: "interval_send",
    Type.UUID: "uuid_send",
    Type.JSONB: "jsonb_send",
    Type.JSON: "json_send",
}


@pytest.mark.parametrize(("literal", "value", "oid"), VECTORS, ids=[v[0][:30] for v in VECTORS])
def test_binary_bytes_match_the_server(
    conn: pgpipe.Connection, literal: str, value: object, oid: Type
) -> None:
    type_name = '"char"' if oid is Type.CHAR else oid.name.lower()
    ((server_binary,),) = conn.query(f"SELECT {SEND[oid]}({literal}::{type_name})").rows
    # jsonb_send normalises key order and spacing; numeric_send gives infinities a
    # display scale that numeric_recv ignores.
    if oid is not Type.JSONB and not (isinstance(value, Decimal) and value.is_infinite()):
        assert binary.ENCODERS[oid](value) == server_binary
    assert same(binary.DECODERS[oid](server_binary), value)
    # The simple protocol always answers in text: the text decoder's turn.
    (result,) = conn.execute(f"SELECT {literal}::{type_name}")
    assert same(result.rows[0][0], value)


def test_timestamptz_text_in_another_zone_is_utc(conn: pgpipe.Connection) -> None:
    ((rendered,),) = conn.query("SELECT '2024-01-01 00:00:00+00'::timestamptz::text").rows
    assert rendered == "2024-01-01 05:30:00+05:30"
    value = result_decoder(Type.TIMESTAMPTZ, 0)(rendered.encode())
    assert value == dt.datetime(2024, 1, 1, tzinfo=dt.UTC) and value.tzinfo is dt.UTC
    lmt = result_decoder(Type.TIMESTAMPTZ, 0)(b"1900-01-01 00:00:00+05:53:28")
    assert lmt == dt.datetime(1899, 12, 31, 18, 6, 32, tzinfo=dt.UTC)


# -- round trips through the server, text and binary -----------------------------

# The kit's values (pgpipe.strategies), for the types whose codecs live in binary.py.
STRATEGIES: dict[Type, st.SearchStrategy[Any]] = {
    oid: values(oid)
    for oid in (
        Type.BOOL,
        Type.INT2,
        Type.INT4,
        Type.INT8,
        Type.FLOAT8,
        Type.NUMERIC,
        Type.TEXT,
        Type.BYTEA,
        Type.DATE,
        Type.TIME,
        Type.TIMESTAMP,
        Type.TIMESTAMPTZ,
        Type.INTERVAL,
        Type.UUID,
        Type.JSONB,
    )
}


@pytest.mark.parametrize("oid", list(STRATEGIES), ids=[t.name for t in STRATEGIES])
def test_round_trip_through_the_server(conn: pgpipe.Connection, oid: Type) -> None:
    sql_text = f"SELECT $1::{oid.name.lower()} /* text */"
    sql_binary = f"SELECT $1::{oid.name.lower()} /* binary */"
    conn.query_with_param_types(sql_binary, [(None, oid)])  # learn: binary from now on

    @settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(STRATEGIES[oid])
    def check(value: Any) -> None:
        # A fresh SQL text each time is read in text; the learned one in binary.
        fresh = f"{sql_text} /* {uuid.uuid4()} */"
        assert same(conn.query_with_param_types(fresh, [(value, oid)]).rows[0][0], value)
        assert same(conn.query_with_param_types(sql_binary, [(value, oid)]).rows[0][0], value)

    check()


# -- pure codec properties ---------------------------------------------------------


@pytest.mark.parametrize("oid", list(STRATEGIES), ids=[t.name for t in STRATEGIES])
def test_binary_encode_decode_round_trip(oid: Type) -> None:
    @settings(max_examples=200)
    @given(STRATEGIES[oid])
    def check(value: Any) -> None:
        assert same(binary.DECODERS[oid](binary.ENCODERS[oid](value)), value)

    check()


DECODERS: list[tuple[int, int, Callable[[bytes], Any]]] = [
    (oid, 1, f) for oid, f in binary.DECODERS.items()
] + [(oid, 0, f) for oid, f in text.DECODERS.items()]


@pytest.mark.parametrize(
    ("oid", "fmt", "decoder"), DECODERS, ids=[f"{o}-{f}" for o, f, _ in DECODERS]
)
def test_random_bytes_raise_only_value_errors(
    oid: int, fmt: int, decoder: Callable[[bytes], Any]
) -> None:
    # The session layer turns these into DataError; anything else would be a bug.
    @settings(max_examples=100)
    @given(st.binary(max_size=40))
    def check(data: bytes) -> None:
        with contextlib.suppress(DataError, ValueError, ArithmeticError, struct.error):
            decoder(data)

    check()


@pytest.mark.parametrize(
    ("value", "oid", "match"),
    [
        (2**31, Type.INT4, "integer out of range"),
        (-(2**15) - 1, Type.INT2, "smallint out of range"),
        (2**63, Type.INT8, "bigint out of range"),
        (-1, Type.OID, "oid out of range"),
        (1.5, Type.INT4, "cannot send float"),
        (True, Type.INT4, "cannot send bool"),
        (1e300, Type.FLOAT4, "real out of range"),
        (Decimal("sNaN"), Type.NUMERIC, "signalling"),
        (Decimal("1E+200000"), Type.NUMERIC, "out of range"),
        ("a\x00b", Type.TEXT, "NUL"),
        (dt.datetime(2020, 1, 1), Type.TIMESTAMPTZ, "aware"),
        (dt.datetime(2020, 1, 1, tzinfo=dt.UTC), Type.TIMESTAMP, "timestamptz"),
        (dt.datetime(2020, 1, 1), Type.DATE, "cannot send datetime"),
        ("ab", Type.CHAR, "one byte"),
        ({1, 2}, Type.JSONB, "JSON"),
    ],
)
def test_bad_values_raise_data_error(value: object, oid: Type, match: str) -> None:
    with pytest.raises(DataError, match=match):
        if isinstance(value, str) and oid is not Type.CHAR:
            encode_typed(value, oid)
        else:
            binary.ENCODERS[oid](value)


class ReprFails:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    ("value", "oid"),
    [
        (b"y" * 1_000_000, Type.INT8),
        ("z" * 1_000_000, Type.DATE),
        (10**5000, Type.INT4),  # past Python's int-to-str limit
        (ReprFails(), Type.INT4),
        (ReprFails(), Type.NUMERIC),
    ],
    ids=["megabyte-bytes", "megabyte-str", "huge-int", "repr-fails", "repr-fails-numeric"],
)
def test_bad_value_messages_are_short_data_errors(value: object, oid: Type) -> None:
    # A value may be megabytes long (or private): the message shows it cut short.
    with pytest.raises(DataError) as info:
        if isinstance(value, str):
            binary.ENCODERS[oid](value)
        else:
            encode_typed(value, oid)
    assert len(str(info.value)) < 200, str(info.value)[:300]


def test_numeric_past_the_int_to_str_limit(conn: pgpipe.Connection) -> None:
    # More than 4,300 digits: Python refuses int(str) for those; PostgreSQL does not.
    for value in (10**5000 + 1, -(10**6000), Decimal("-1." + "9" * 5000)):
        sent = conn.query_with_param_types("SELECT $1::numeric", [(value, Type.NUMERIC)])
        assert sent.rows == [(Decimal(value),)]
        assert conn.query("SELECT $1::numeric = $1::numeric", value).rows == [(True,)]


def test_str_parameters_go_as_text_literals() -> None:
    assert encode_typed("2024-01-01", Type.DATE) == (0, b"2024-01-01")
    assert encode_typed(None, Type.DATE) == (1, None)
    assert encode_inferred("x") == (0, 0, b"x")
    assert encode_inferred(None) == (0, 0, None)


@pytest.mark.parametrize(
    ("value", "oid"),
    [
        (True, Type.BOOL),
        (1, Type.INT4),
        (-(2**31), Type.INT4),
        (2**31, Type.INT8),
        (2**63, Type.NUMERIC),
        (-(2**63), Type.INT8),
        (1.0, Type.FLOAT8),
        (Decimal(1), Type.NUMERIC),
        (b"x", Type.BYTEA),
        (bytearray(b"x"), Type.BYTEA),
        (dt.date(2000, 1, 1), Type.DATE),
        (dt.datetime(2000, 1, 1), Type.TIMESTAMP),
        (dt.datetime(2000, 1, 1, tzinfo=dt.UTC), Type.TIMESTAMPTZ),
        (dt.time(), Type.TIME),
        (dt.time(tzinfo=dt.UTC), Type.TIMETZ),
        (dt.timedelta(), Type.INTERVAL),
        (uuid.uuid4(), Type.UUID),
        ({}, Type.JSONB),
        ([1, None], Type.INT4_ARRAY),
        ([1, None, 2**31], Type.INT8_ARRAY),
        ([[1.5]], Type.FLOAT8_ARRAY),
        ([1, 2**64], Type.NUMERIC_ARRAY),
        ([{}], Type.JSONB_ARRAY),
    ],
)
def test_inferred_types(value: object, oid: Type) -> None:
    assert encode_inferred(value)[:2] == (oid, 1)


def test_uninferable_type() -> None:
    with pytest.raises(DataError, match="cannot adapt type object"):
        encode_inferred(object())


def test_out_of_range_dates_are_errors_not_wrong_dates() -> None:
    for data in (b"infinity", b"-infinity", b"0044-03-15 BC", b"10000-01-01"):
        with pytest.raises(DataError):
            result_decoder(Type.DATE, 0)(data)
    for value in (0x7FFFFFFF, -0x80000000, 3_000_000):
        with pytest.raises(DataError):
            binary.DECODERS[Type.DATE](value.to_bytes(4, "big", signed=True))
    for value in (2**63 - 1, -(2**63)):
        with pytest.raises(DataError, match="infinity"):
            binary.DECODERS[Type.TIMESTAMP](value.to_bytes(8, "big", signed=True))
    with pytest.raises(DataError, match="24:00"):
        result_decoder(Type.TIME, 0)(b"24:00:00")


def test_interval_text_forms() -> None:
    decode = result_decoder(Type.INTERVAL, 0)
    assert decode(b"1 year 2 mons 3 days -04:05:06.5") == pgpipe.Interval(
        14, 3, -(4 * 3600 + 5 * 60 + 6) * 1_000_000 - 500_000
    )
    assert decode(b"3 days 04:00:00") == dt.timedelta(days=3, hours=4)
    assert decode(b"00:00:00") == dt.timedelta()
    assert decode(b"-1 days") == dt.timedelta(days=-1)


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("'1 year 2 mons -3 days +04:05:06.5'", pgpipe.Interval(14, -3, 14_706_500_000)),
        ("'-1 mons'", pgpipe.Interval(-1, 0, 0)),
        ("'1 mon -1 days'", pgpipe.Interval(1, -1, 0)),
        ("'36 hours'", dt.timedelta(hours=36)),
    ],
)
def test_intervals_with_months_are_lossless(
    conn: pgpipe.Connection, literal: str, expected: object
) -> None:
    sql = f"SELECT {literal}::interval"
    assert conn.execute(sql)[0].rows == [(expected,)]  # text
    conn.query(sql)
    assert conn.query(sql).rows == [(expected,)]  # binary
    assert conn.query("SELECT $1 = $2::interval", expected, literal.strip("'")).rows == [(True,)]


def test_unknown_types() -> None:
    tsvector = Type.TSVECTOR
    assert result_decoder(tsvector, 0)(b"'a' 'b'") == "'a' 'b'"
    assert result_decoder(tsvector, 1)(b"\x00\x01") == b"\x00\x01"
    assert not has_binary_decoder(tsvector)
    assert has_binary_decoder(Type.INT4)
    assert encode_typed(uuid.UUID(int=1), tsvector)[0] == 0


def test_timestamptz_follows_the_session_time_zone(dsn: str) -> None:
    # Through PgBouncer too: it keeps TimeZone per client and sets it on each
    # server connection it lends, so SET TimeZone survives transaction pooling.
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")
    instant = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with pgpipe.connect(dsn, server_settings={"TimeZone": "Asia/Kolkata"}) as c:
        sql = "SELECT $1::timestamptz, ARRAY[$1::timestamptz], tstzrange($1, NULL)"
        for _ in range(2):  # text, then binary
            value, array, range_ = c.query_with_param_types(
                sql, [(instant, Type.TIMESTAMPTZ)]
            ).rows[0]
            assert value == instant and value.tzinfo == kolkata
            assert value.hour == 5 and value.minute == 30
            assert array[0].tzinfo == kolkata and range_.lower.tzinfo == kolkata
        c.query("SET TimeZone = 'America/New_York'")
        (value,) = c.query_with_param_types(sql, [(instant, Type.TIMESTAMPTZ)]).rows[0][:1]
        assert value == instant and value.tzinfo == zoneinfo.ZoneInfo("America/New_York")
        assert value.hour == 19  # 31 December, EST
        c.query("SET TimeZone = 'UTC'")
        (value,) = c.query_with_param_types(sql, [(instant, Type.TIMESTAMPTZ)]).rows[0][:1]
        assert value.tzinfo is dt.UTC


@pytest.mark.parametrize(
    "instant",
    [
        dt.datetime(2024, 3, 10, 6, 59, 59, tzinfo=dt.UTC),  # 01:59:59 EST, before the gap
        dt.datetime(2024, 3, 10, 7, 0, 0, tzinfo=dt.UTC),  # 03:00:00 EDT, after it
        dt.datetime(2024, 11, 3, 5, 30, tzinfo=dt.UTC),  # 01:30 EDT, first of the repeated hour
        dt.datetime(2024, 11, 3, 6, 30, tzinfo=dt.UTC),  # 01:30 EST, second
    ],
    ids=str,
)
def test_dst_transitions(dsn: str, instant: dt.datetime) -> None:
    new_york = zoneinfo.ZoneInfo("America/New_York")
    with pgpipe.connect(dsn, server_settings={"TimeZone": "America/New_York"}) as c:
        sql = "SELECT $1::timestamptz, $1::timestamptz::text"
        for _ in range(2):  # text, then binary
            value, rendered = c.query_with_param_types(sql, [(instant, Type.TIMESTAMPTZ)]).rows[0]
            # Compared as instants: PEP 495 makes a time in a repeated hour unequal to
            # any datetime of another zone.
            assert value.astimezone(dt.UTC) == instant and value.tzinfo == new_york
            assert value.utcoffset() == instant.astimezone(new_york).utcoffset()
            assert value.fold == instant.astimezone(new_york).fold
            assert rendered.endswith(("-04", "-05"))


def test_invalid_utf8_from_the_server_is_a_data_error_and_the_connection_survives() -> None:
    import socket
    import threading

    from tests import wire

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    reply = (
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.row_description([("t", 25, 0)])
        + wire.data_row([b"\xff\xfe"])
        + wire.command_complete("SELECT 1")
        + wire.CLOSE_COMPLETE
        + wire.ready()
    )

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(wire.startup_ok())
            for answer in (reply, wire.one_shot_reply([[b"ok"]], [("t", 25, 0)])):
                conn.recv(65536)
                conn.sendall(answer)
            conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pgpipe.connect(
            host="127.0.0.1", port=port, user="u", dbname="d", sslmode="disable"
        ) as c:
            with pytest.raises(DataError, match="could not decode"):
                c.query("SELECT t")
            assert c.query("SELECT t").rows == [("ok",)]
    finally:
        listener.close()
        thread.join(10)


def test_citext_is_str(conn: pgpipe.Connection) -> None:
    conn.query("CREATE EXTENSION IF NOT EXISTS citext")
    assert conn.query("SELECT 'AbC'::citext = 'abc'::citext, 'AbC'::citext").rows == [(True, "AbC")]


def test_wide_rows_beyond_the_unrolled_decoder(conn: pgpipe.Connection) -> None:
    sql = "SELECT " + ", ".join(f"{i}::int4, NULL::text" for i in range(50))  # 100 columns
    for _ in range(2):
        (row,) = conn.query(sql).rows
        assert row[::2] == tuple(range(50)) and set(row[1::2]) == {None}


def test_data_row_with_the_wrong_number_of_values() -> None:
    from pgpipe._session import Session
    from pgpipe.conninfo import parse_dsn
    from pgpipe.protocol import NEED_DATA
    from tests import wire

    session = Session(parse_dsn("postgresql://u@h/d", {}, {}), "nonce")
    session.core.data_to_send()
    session.core.receive_data(wire.startup_ok())
    while session.core.next_event() is not NEED_DATA:
        pass
    op = session.query("SELECT a", [])
    session.core.data_to_send()
    session.core.receive_data(
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.row_description([("a", 23, 0)])
        + wire.data_row([b"1", b"2"])
        + wire.command_complete("SELECT 1")
        + wire.CLOSE_COMPLETE
        + wire.ready()
    )
    while (event := session.core.next_event()) is not NEED_DATA:
        if op.feed(event):
            break
    with pytest.raises(DataError, match="could not decode"):
        op.result()
    assert session.core.state.value == "ready"
