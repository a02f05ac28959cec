"""Arrays: nested lists both ways, text and binary, against the server."""

from __future__ import annotations

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
from pgpipe.strategies import same_value, values
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


# The kit's arrays (pgpipe.strategies): 1 to 3 dimensions, NULLs, and [].
ARRAYS = (
    Type.INT4_ARRAY,
    Type.INT8_ARRAY,
    Type.TEXT_ARRAY,
    Type.FLOAT8_ARRAY,
    Type.NUMERIC_ARRAY,
    Type.BOOL_ARRAY,
    Type.DATE_ARRAY,
    Type.BYTEA_ARRAY,
    Type.UUID_ARRAY,
    Type.TIMESTAMPTZ_ARRAY,
)


@pytest.mark.parametrize("oid", ARRAYS, ids=[t.name for t in ARRAYS])
def test_array_round_trip(conn: pgpipe.Connection, oid: Type) -> None:
    @settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(values(oid))
    def check(value: list[Any]) -> None:
        sql = f"SELECT $1::{oid.name.removesuffix('_ARRAY').lower()}[]"
        # NaN elements (float8, numeric) are equal only as same_value sees them.
        for result in both_formats(conn, sql, [(value, oid)]):
            assert same_value(oid, value, result), (value, result)

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
