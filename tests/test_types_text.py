"""pgpipe's text encoder writes every value exactly as the server renders it.

The oracle is the type's output function (``format('%s', $1)`` calls it), which
is what the server sends in text results; ``$1::text`` is a cast, which for
bool and inet differs from the output function.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Circle, Interval, Line, LineSegment, Path, Point, Polygon, Range, Type, types
from pgpipe.types import ranges, text
from tests.test_types import STRATEGIES


@pytest.fixture(scope="module")
def conn(dsn: str) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(dsn, server_settings={"TimeZone": "UTC"}) as c:
        yield c


# Finite, and no negative zero: the geometric functions print -0 as 0.
FINITE = st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f + 0.0)
RANGES = (
    st.builds(
        lambda low, size: Range(low, None if size is None else low + size),
        st.integers(-(2**62), 2**62),
        st.none() | st.integers(1, 2**40),
    )
    | st.just(Range(empty=True))
    | st.builds(lambda up: Range(None, up), st.integers(-100, 100))
)
MULTIRANGES = {Type.INT8MULTIRANGE}

CASES: dict[Type, st.SearchStrategy[Any]] = {
    **{oid: strategy for oid, strategy in STRATEGIES.items() if oid is not Type.JSONB},
    Type.FLOAT8: st.floats(),
    Type.TIMETZ: st.times(
        timezones=st.sampled_from(
            [
                dt.UTC,
                dt.timezone(dt.timedelta(hours=5, minutes=30)),
                dt.timezone(dt.timedelta(hours=-3)),
            ]
        )
    ),
    Type.INET: st.ip_addresses(),
    Type.INT8_ARRAY: st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=5),
    Type.TEXT_ARRAY: st.lists(st.none() | STRATEGIES[Type.TEXT], max_size=5),
    Type.CIDR: st.ip_addresses().map(lambda a: ipaddress.ip_network(a)),
    Type.POINT: st.builds(Point, FINITE, FINITE),
    # PostgreSQL treats |A| below 1e-6 as zero, and A = B = 0 is no line.
    Type.LINE: st.builds(Line, FINITE.filter(lambda a: abs(a) > 1e-3), FINITE, FINITE),
    Type.LSEG: st.builds(
        LineSegment, st.builds(Point, FINITE, FINITE), st.builds(Point, FINITE, FINITE)
    ),
    Type.PATH: st.builds(
        Path,
        st.lists(st.builds(Point, FINITE, FINITE), min_size=1, max_size=4).map(tuple),
        st.booleans(),
    ),
    Type.POLYGON: st.builds(
        Polygon, st.lists(st.builds(Point, FINITE, FINITE), min_size=1, max_size=4).map(tuple)
    ),
    Type.CIRCLE: st.builds(Circle, st.builds(Point, FINITE, FINITE), FINITE.map(abs)),
    Type.INT8RANGE: RANGES,
    Type.TSTZRANGE: st.builds(
        Range,
        st.none() | STRATEGIES[Type.TIMESTAMPTZ],
        st.none() | STRATEGIES[Type.TIMESTAMPTZ],
        st.sampled_from(["[)", "[]", "()", "(]"]),
    ).filter(lambda r: r.lower is None or r.upper is None or r.lower < r.upper),
    Type.INT8MULTIRANGE: st.just([Range(1, 3), Range(5, 7)]) | st.just([]),
    Type.POINT_ARRAY: st.lists(st.none() | st.builds(Point, FINITE, FINITE), max_size=3),
    Type.INT8RANGE_ARRAY: st.lists(st.none() | RANGES, max_size=3),
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
