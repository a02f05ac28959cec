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
