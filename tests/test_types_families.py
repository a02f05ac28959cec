"""Network, geometric, range and other scalar types against the server, text and binary."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Box, Circle, Line, LineSegment, Path, Point, Polygon, Range, Type
from pgpipe.errors import DataError
from pgpipe.strategies import values
from pgpipe.types import encode_inferred, has_binary_decoder, result_decoder


@pytest.fixture(scope="module")
def conn(dsn: str) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(dsn) as c:
        yield c


def both(
    conn: pgpipe.Connection, sql: str, params: list[tuple[Any, int]] | None = None
) -> list[Any]:
    """The value through a never-seen SQL text (text results), then a learned one (binary)."""
    params = params or []
    learned = f"{sql} /* learned */"
    conn.query_with_param_types(learned, params)
    fresh = conn.query_with_param_types(f"{sql} /* {uuid.uuid4()} */", params).rows[0][0]
    again = conn.query_with_param_types(learned, params).rows[0][0]
    return [fresh, again]


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("'10.0.0.1'::inet", ipaddress.ip_address("10.0.0.1")),
        ("'10.0.0.1/8'::inet", ipaddress.ip_interface("10.0.0.1/8")),
        ("'::1'::inet", ipaddress.ip_address("::1")),
        ("'2001:db8::1/64'::inet", ipaddress.ip_interface("2001:db8::1/64")),
        ("'10.0.0.0/8'::cidr", ipaddress.ip_network("10.0.0.0/8")),
        ("'2001:db8::/32'::cidr", ipaddress.ip_network("2001:db8::/32")),
        ("'08:00:2b:01:02:03'::macaddr", "08:00:2b:01:02:03"),
        ("'08:00:2b:01:02:03:04:05'::macaddr8", "08:00:2b:01:02:03:04:05"),
        ("'16/B374D848'::pg_lsn", "16/B374D848"),
        ("B'10101'::bit(5)", "10101"),
        ("B'1'::varbit", "1"),
        ("B''::varbit", ""),
        ("'-1234.5'::money", Decimal("-1234.50")),
        ("'0.01'::money", Decimal("0.01")),
        ("'<a>x</a>'::xml", "<a>x</a>"),
        ("'pg_class'::regclass", "pg_class"),
        ("'a b'::tsvector", "'a' 'b'"),
        ("point(1.5, -2)", Point(1.5, -2.0)),
        ("'{1,2,3}'::line", Line(1.0, 2.0, 3.0)),
        ("'[(1,2),(3,4)]'::lseg", LineSegment(Point(1, 2), Point(3, 4))),
        ("'(1,2),(3,4)'::box", Box(Point(3, 4), Point(1, 2))),
        ("'((0,0),(1,1))'::path", Path((Point(0, 0), Point(1, 1)), True)),
        ("'[(0,0),(1,1),(2,0)]'::path", Path((Point(0, 0), Point(1, 1), Point(2, 0)), False)),
        ("'((0,0),(1,1),(1,0))'::polygon", Polygon((Point(0, 0), Point(1, 1), Point(1, 0)))),
        ("'<(1,2),3>'::circle", Circle(Point(1, 2), 3.0)),
        ("'[1,5]'::int4range", Range(1, 6)),
        ("'(,5]'::int8range", Range(None, 6)),
        ("'empty'::numrange", Range(empty=True)),
        ("'(1.5,)'::numrange", Range(Decimal("1.5"), None, "()")),
        ("'[2024-01-01,2024-02-01)'::daterange", Range(dt.date(2024, 1, 1), dt.date(2024, 2, 1))),
        (
            '\'["2024-01-01 10:00","2024-01-01 11:00"]\'::tsrange',
            Range(dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 11), "[]"),
        ),
        (
            "'[2024-01-01 00:00+00,)'::tstzrange",
            Range(dt.datetime(2024, 1, 1, tzinfo=dt.UTC), None),
        ),
        ("'{[1,3),[5,7)}'::int4multirange", [Range(1, 3), Range(5, 7)]),
        ("'{}'::datemultirange", []),
        ("ARRAY['10.0.0.1'::inet, NULL]", [ipaddress.ip_address("10.0.0.1"), None]),
        ("ARRAY[point(1,2)]", [Point(1, 2)]),
        ("ARRAY['[1,2)'::int4range, 'empty']", [Range(1, 2), Range(empty=True)]),
        (
            "'{(1,1),(0,0);(3,3),(2,2)}'::box[]",
            [Box(Point(1, 1), Point(0, 0)), Box(Point(3, 3), Point(2, 2))],
        ),
    ],
)
def test_server_values_in_both_formats(
    conn: pgpipe.Connection, literal: str, expected: Any
) -> None:
    assert both(conn, f"SELECT {literal}") == [expected, expected]


@pytest.mark.parametrize(
    ("value", "oid"),
    [
        (ipaddress.ip_address("192.168.1.1"), Type.INET),
        (ipaddress.ip_interface("192.168.1.1/24"), Type.INET),
        (ipaddress.ip_network("2001:db8::/48"), Type.CIDR),
        (Point(0.5, -1), Type.POINT),
        (Line(1, -1, 0), Type.LINE),
        (LineSegment(Point(0, 0), Point(1, 1)), Type.LSEG),
        (Box(Point(2, 2), Point(1, 1)), Type.BOX),
        (Path((Point(0, 0), Point(3, 4)), False), Type.PATH),
        (Polygon((Point(0, 0), Point(0, 1), Point(1, 0))), Type.POLYGON),
        (Circle(Point(0, 0), 2.5), Type.CIRCLE),
        (Range(-5, 10), Type.INT4RANGE),
        (Range(None, 2**40), Type.INT8RANGE),
        (Range(Decimal("0.5"), Decimal("1.25"), "[]"), Type.NUMRANGE),
        (Range(dt.date(2020, 1, 1), None), Type.DATERANGE),
        (Range(empty=True), Type.TSTZRANGE),
        ([Range(1, 2), Range(5, 9)], Type.INT4MULTIRANGE),
        ([ipaddress.ip_address("::1")], Type.INET_ARRAY),
        ([Range(1, 2), None], Type.INT4RANGE_ARRAY),
    ],
)
def test_parameters_round_trip(conn: pgpipe.Connection, value: Any, oid: Type) -> None:
    name = oid.name.lower().removesuffix("_array")
    cast = f"{name}[]" if oid.name.endswith("_ARRAY") else name
    assert both(conn, f"SELECT $1::{cast}", [(value, oid)]) == [value, value]


def test_inferred_parameters(conn: pgpipe.Connection) -> None:
    for value in (
        ipaddress.ip_address("10.1.2.3"),
        ipaddress.ip_network("10.0.0.0/8"),
        Point(1, 2),
        Range(1, 10),
        Range(dt.date(2024, 1, 1), dt.date(2024, 1, 5)),
    ):
        assert conn.query("SELECT $1", value).rows == [(value,)]
    assert conn.query("SELECT 5::int8 <@ $1", Range(1, 10)).rows == [(True,)]
    assert conn.query("SELECT isempty($1::int4range)", Range(empty=True)).rows == [(True,)]
    with pytest.raises(DataError, match="range type"):
        encode_inferred(Range("a", "b"))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lower=st.none() | st.integers(-(2**31), 2**31 - 2),
    size=st.integers(1, 1000),
    upper_open=st.booleans(),
)
def test_int4range_property(
    conn: pgpipe.Connection, lower: int | None, size: int, upper_open: bool
) -> None:
    upper = None if upper_open else (size if lower is None else min(lower + size, 2**31 - 1))
    value = Range(lower, upper)
    assert both(conn, "SELECT $1::int4range", [(value, Type.INT4RANGE)]) == [value, value]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=2, max_size=12
    ).filter(lambda v: len(v) % 2 == 0)
)
def test_polygon_property(conn: pgpipe.Connection, coords: list[float]) -> None:
    value = Polygon(tuple(Point(coords[i], coords[i + 1]) for i in range(0, len(coords), 2)))
    assert both(conn, "SELECT $1::polygon", [(value, Type.POLYGON)]) == [value, value]


def test_geometry_special_floats(conn: pgpipe.Connection) -> None:
    fresh, again = both(conn, "SELECT point('Infinity', 'NaN')")
    for p in (fresh, again):
        assert p.x == math.inf and math.isnan(p.y)


def test_codec_coverage() -> None:
    for oid in (
        Type.INET,
        Type.CIDR,
        Type.POINT,
        Type.INT4RANGE,
        Type.TSTZMULTIRANGE,
        Type.INT4RANGE_ARRAY,
        Type.POLYGON_ARRAY,
        Type.MONEY,
        Type.BIT,
    ):
        assert has_binary_decoder(oid), oid
    # regclass answers a name in text and an OID in binary: text only, so it is always a name.
    assert not has_binary_decoder(Type.REGCLASS)
    assert result_decoder(Type.REGCLASS, 0)(b"pg_class") == "pg_class"


@given(st.binary(max_size=50))
def test_random_bytes_raise_only_value_errors(data: bytes) -> None:
    import struct

    for oid in (
        Type.INET,
        Type.POINT,
        Type.PATH,
        Type.POLYGON,
        Type.INT4RANGE,
        Type.INT4MULTIRANGE,
        Type.BIT,
        Type.PG_LSN,
        Type.MONEY,
    ):
        for fmt in (0, 1):
            with contextlib.suppress(
                DataError, ValueError, struct.error, IndexError, ArithmeticError
            ):
                result_decoder(oid, fmt)(data)


# -- hypothesis round trips for every family, text then binary ---------------------

# The kit's values (pgpipe.strategies) for every family.
FAMILIES: dict[Type, st.SearchStrategy[Any]] = {
    oid: values(oid)
    for oid in (
        Type.INET,
        Type.CIDR,
        Type.POINT,
        Type.LINE,
        Type.LSEG,
        Type.BOX,
        Type.PATH,
        Type.POLYGON,
        Type.CIRCLE,
        Type.INT8RANGE,
        Type.NUMRANGE,
        Type.DATERANGE,
        Type.TSRANGE,
        Type.TSTZRANGE,
        Type.INT8MULTIRANGE,
        Type.MACADDR,
        Type.PG_LSN,
        Type.VARBIT,
        Type.MONEY,
        Type.POINT_ARRAY,
        Type.INT8RANGE_ARRAY,
    )
}


@pytest.mark.parametrize("oid", list(FAMILIES), ids=[t.name for t in FAMILIES])
def test_family_round_trips(conn: pgpipe.Connection, oid: Type) -> None:
    name = oid.name.lower()
    cast = f"{name.removesuffix('_array')}[]" if name.endswith("_array") else name

    @settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(FAMILIES[oid])
    def check(value: Any) -> None:
        assert both(conn, f"SELECT $1::{cast}", [(value, oid)]) == [value, value]

    check()
