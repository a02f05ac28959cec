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
from pgpipe import Interval, Type
from pgpipe.testing import TemporaryPostgres
from pgpipe.types import text
from tests.test_types import STRATEGIES


@pytest.fixture(scope="module")
def conn(pg_server: TemporaryPostgres) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe"), server_settings={"TimeZone": "UTC"}) as c:
        yield c


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
}


@pytest.mark.parametrize("oid", list(CASES), ids=[t.name for t in CASES])
def test_text_encoder_matches_the_server(conn: pgpipe.Connection, oid: Type) -> None:
    name = oid.name.lower()
    cast = f"{name.removesuffix('_array')}[]" if name.endswith("_array") else name

    @settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(CASES[oid])
    def check(value: Any) -> None:
        ((rendered,),) = conn.query_with_param_types(
            f"SELECT format('%s', $1::{cast})", [(value, oid)]
        ).rows
        if isinstance(value, list):
            from pgpipe.types import arrays

            ours = arrays.to_text(value, text.to_text)
        else:
            ours = text.to_text(value)
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
