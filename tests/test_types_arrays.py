"""Arrays: nested lists both ways, text and binary, against the server."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Type
from pgpipe.errors import DataError
from pgpipe.types import encode_inferred, encode_typed, result_decoder


@pytest.fixture(scope="module")
def conn(dsn: str) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(dsn) as c:
        yield c


def both_formats(conn: pgpipe.Connection, sql: str, params: list[tuple[Any, int]]) -> list[Any]:
    """The first value through a never-seen SQL text (text results) and a learned one (binary)."""
    learned = f"{sql} /* learned */"
    conn.query_with_param_types(learned, params)
    fresh = conn.query_with_param_types(f"{sql} /* {uuid.uuid4()} */", params).rows[0][0]
    again = conn.query_with_param_types(learned, params).rows[0][0]
    return [fresh, again]


STRINGS = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))


def grids(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """Rectangular nested lists of 1 to 3 dimensions, NULLs included."""
    items = st.one_of(st.none(), elements)
    return st.integers(1, 3).flatmap(
        lambda ndim: st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim).flatmap(
            lambda dims: st.lists(items, min_size=_product(dims), max_size=_product(dims)).map(
                lambda flat: _nest(flat, dims)
            )
        )
    )


def _product(dims: list[int]) -> int:
    total = 1
    for d in dims:
        total *= d
    return total


def _nest(flat: list[Any], dims: list[int]) -> list[Any]:
    for size in reversed(dims[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


ARRAYS: dict[Type, st.SearchStrategy[Any]] = {
    Type.INT4_ARRAY: st.integers(-(2**31), 2**31 - 1),
    Type.INT8_ARRAY: st.integers(-(2**63), 2**63 - 1),
    Type.TEXT_ARRAY: STRINGS,
    Type.FLOAT8_ARRAY: st.floats(allow_nan=False),
    Type.NUMERIC_ARRAY: st.decimals(allow_nan=False, allow_infinity=False, places=3),
    Type.BOOL_ARRAY: st.booleans(),
    Type.DATE_ARRAY: st.dates(),
    # Built from ints: st.binary() inside lists trips -bb in hypothesis's own cache.
    Type.BYTEA_ARRAY: st.lists(st.integers(0, 255), max_size=20).map(bytes),
    Type.UUID_ARRAY: st.uuids(),
    Type.TIMESTAMPTZ_ARRAY: st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.just(dt.UTC),
    ),
}


@pytest.mark.parametrize("oid", list(ARRAYS), ids=[t.name for t in ARRAYS])
def test_array_round_trip(conn: pgpipe.Connection, oid: Type) -> None:
    @settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(grids(ARRAYS[oid]))
    def check(value: list[Any]) -> None:
        sql = f"SELECT $1::{oid.name.removesuffix('_ARRAY').lower()}[]"
        assert both_formats(conn, sql, [(value, oid)]) == [value, value]

    check()


def test_empty_nulls_and_dimensions(conn: pgpipe.Connection) -> None:
    for value in ([], [None], [[1, None], [None, 4]], [[[1]], [[2]]]):
        assert both_formats(conn, "SELECT $1::int[]", [(value, Type.INT4_ARRAY)]) == [value, value]


def test_lower_bounds_are_not_kept(conn: pgpipe.Connection) -> None:
    assert conn.query("SELECT '[0:2]={1,2,3}'::int[]").rows == [([1, 2, 3],)]
    (result,) = conn.execute("SELECT '[-5:-4]={a,b}'::text[]")
    assert result.rows == [(["a", "b"],)]


def test_text_elements_that_need_quoting(conn: pgpipe.Connection) -> None:
    value = ['a"b', "NULL", None, "", "back\\slash", "{braces}", "com,ma", " spaced ", "ünï"]
    assert both_formats(conn, "SELECT $1::text[]", [(value, Type.TEXT_ARRAY)]) == [value, value]


def test_elements_without_binary_codecs_come_back_as_str(conn: pgpipe.Connection) -> None:
    values = ["a b", None]
    (fresh, again) = both_formats(conn, "SELECT $1::tsvector[]", [(values, Type.TSVECTOR_ARRAY)])
    assert fresh == again == ["'a' 'b'", None]


def test_lists_in_query_are_arrays(conn: pgpipe.Connection) -> None:
    assert conn.query("SELECT $1", [1, 2, None]).rows == [([1, 2, None],)]
    assert conn.query("SELECT $1", [[1.5], [2.5]]).rows == [([[1.5], [2.5]],)]
    assert conn.query("SELECT $1", [Decimal("1.5"), 2]).rows == [([Decimal("1.5"), Decimal(2)],)]
    # Untyped: the server takes the type from the context.
    assert conn.query("SELECT 2 = ANY($1)", ["1", "2"]).rows == [(True,)]
    assert conn.query("SELECT 3 = ANY($1)", []).rows == [(False,)]
    assert conn.query("SELECT $1::int[]", [None, None]).rows == [([None, None],)]
    assert conn.query("SELECT cardinality($1::text[])", ["a", "b c", 'q"']).rows == [(3,)]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ([[1], [2, 3]], "rectangular"),
        ([1, [2]], "rectangular"),
        ([1, "a"], "one type"),
        ([1, 1.5], "one type"),
        ([[[[[[[1]]]]]]], "at most 6"),
    ],
)
def test_bad_lists(value: list[Any], match: str) -> None:
    with pytest.raises(DataError, match=match):
        encode_inferred(value)


def test_typed_list_errors() -> None:
    with pytest.raises(DataError, match="integer out of range"):
        encode_typed([1, 2**40], Type.INT4_ARRAY)
    with pytest.raises(DataError, match="from a list"):
        encode_typed((1, 2), Type.INT4_ARRAY)


@given(st.binary(max_size=60))
def test_random_bytes_raise_only_value_errors(data: bytes) -> None:
    import struct

    for fmt in (0, 1):
        try:
            result_decoder(Type.INT4_ARRAY, fmt)(data)
            result_decoder(Type.TEXT_ARRAY, fmt)(data)
        except (DataError, ValueError, struct.error):
            pass
