"""Integer parameters: int4, int8 or numeric by value, so PostgreSQL's functions take them.

Every check runs against the server through both adapters. A query's outcome
(its rows, or the SQLSTATE of its error) is compared with the same SQL where
``$1`` is a constant of a stated type: of the type the value should be sent
as, and of the type the function or operator takes at that place.
"""

from __future__ import annotations

import datetime as dt
import enum
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import pgpipe
from pgpipe import Type, errors
from tests.clients import Adapter, Client

# Each limit of int2, int4 and int8, one past it, and a few ordinary values.
BOUNDARIES: list[int] = sorted(
    {0, 1, -1, 2, 7, 10**30, -(10**30)}
    | {sign * 2**bits + step for bits in (15, 31, 63) for sign in (1, -1) for step in (-1, 0, 1)}
)

RANGES: dict[str, tuple[int, int]] = {
    "int2": (-(2**15), 2**15 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "int8": (-(2**63), 2**63 - 1),
}


def fits(value: int, type_name: str) -> bool:
    low, high = RANGES.get(type_name, (-(10**1000), 10**1000))  # numeric, float8: any
    return low <= value <= high


def sent_as(value: int) -> str:
    """The parameter type an int should go as: as PostgreSQL types the number in SQL."""
    return next((name for name in ("int4", "int8") if fits(value, name)), "numeric")


@pytest.fixture(scope="module", params=["sync", "async"])
def client(request: pytest.FixtureRequest, dsn: str) -> Iterator[Client]:
    adapter = Adapter(request.param)
    yield adapter.connect(dsn)
    adapter.close()


Outcome = tuple[str, Any]


def outcome(client: Client, sql: str, *params: object) -> Outcome:
    """The rows of a query, or the SQLSTATE it failed with (the connection stays usable)."""
    try:
        return ("rows", client.query(sql, *params).rows)
    except errors.DatabaseError as exc:
        return ("error", exc.code)


def with_constant(sql: str, value: int, type_name: str) -> str:
    return sql.replace("$1", f"CAST('{value}' AS {type_name})")


# (SQL taking one integer as $1, the type the function or operator takes there:
# the widest of its overloads when it has several).
CASES: list[tuple[str, str]] = [
    ("SELECT length(repeat('ab', $1))", "int4"),
    ("SELECT left('hello', $1)", "int4"),
    ("SELECT right('hello', $1)", "int4"),
    ("SELECT substr('hello', $1)", "int4"),
    ("SELECT substr('hello', 2, $1)", "int4"),
    ("SELECT substring('hello' FROM $1 FOR 2)", "int4"),
    ("SELECT length(lpad('x', $1, 'ab'))", "int4"),
    ("SELECT length(rpad('x', $1))", "int4"),
    ("SELECT chr($1)", "int4"),
    ("SELECT make_date($1, 2, 29)", "int4"),
    ("SELECT make_timestamp(2024, 1, 1, 0, $1, 0)", "int4"),
    ("SELECT make_interval(days => $1)", "int4"),
    ("SELECT make_interval(secs => $1)", "float8"),
    ("SELECT date '2024-01-31' + $1", "int4"),
    ("SELECT date '2024-01-31' - $1", "int4"),
    ("SELECT date '2024-01-31' + make_interval(months => $1)", "int4"),
    ("SELECT interval '1 day' * $1", "float8"),
    ("SELECT array_agg(g) FROM generate_series($1, $1) AS g", "numeric"),
    ("SELECT count(*) FROM generate_series(1, 10, $1)", "numeric"),
    ("SELECT cardinality(array_fill(7, ARRAY[$1]))", "int4"),
    ("SELECT array_length(ARRAY[1, 2, 3], $1)", "int4"),
    ("SELECT (ARRAY[10, 20, 30])[$1]", "int4"),
    ("SELECT '[10, 20, 30]'::jsonb -> $1", "int4"),
    ("SELECT to_char($1, 'S9999999999999999999999999999999')", "numeric"),
    ("SELECT to_hex($1)", "int4"),
    ("SELECT round(1.23456::numeric, $1)", "int4"),
    ("SELECT overlay('abcdef' PLACING 'X' FROM $1 FOR 2)", "int4"),
    ("SELECT split_part('a,b,c', ',', $1)", "int4"),
    ("SELECT power(2, $1)", "int8"),  # past int8: numeric, so power(numeric, numeric)
    ("SELECT mod(1000000, $1)", "numeric"),
    ("SELECT 1000000 % $1", "numeric"),
    ("SELECT gcd($1, 12)", "numeric"),
    ("SELECT $1 - 1", "int4"),
    ("SELECT 'n=' || $1", "numeric"),
    ("SELECT $1 BETWEEN 1 AND 10", "numeric"),
    ("SELECT $1 IN (1, 2, 32768)", "numeric"),
    ("SELECT width_bucket(5, 0, 10, $1)", "int4"),
    ("SELECT set_bit('\\x0000'::bytea, $1, 1)", "int8"),
    ("SELECT g FROM generate_series(1, 3) AS g LIMIT $1", "int8"),
    ("SELECT g FROM generate_series(1, 3) AS g ORDER BY g OFFSET $1", "int8"),
    ("SELECT to_timestamp($1)", "float8"),
]


@pytest.mark.parametrize(("sql", "takes"), CASES, ids=[sql for sql, _ in CASES])
def test_functions_take_int_parameters(client: Client, sql: str, takes: str) -> None:
    """With every boundary value: the same outcome as a constant of the type the value
    is sent as, and, where the value fits the type the function takes there, as a
    constant of that type (so the function is found and gives the same result)."""
    wrong = []
    for value in BOUNDARIES:
        got = outcome(client, sql, value)
        as_sent = outcome(client, with_constant(sql, value, sent_as(value)))
        if got != as_sent:
            wrong.append((value, got, f"{sent_as(value)} constant:", as_sent))
        if fits(value, takes):
            as_taken = outcome(client, with_constant(sql, value, takes))
            if got != as_taken:
                wrong.append((value, got, f"{takes} constant:", as_taken))
    assert not wrong
    assert client.query("SELECT 1").rows == [(1,)]


def test_the_examples_of_the_issue(client: Client) -> None:
    assert client.query("SELECT repeat('x', $1)", 3).rows == [("xxx",)]
    assert client.query("SELECT left('hello', $1), substr('hello', $2)", 2, 4).rows == [
        ("he", "lo")
    ]
    assert client.query("SELECT lpad('7', $1, '0'), chr($2)", 3, 65).rows == [("007", "A")]
    assert client.query("SELECT make_date($1, $2, $3)", 2024, 2, 29).rows == [
        (dt.date(2024, 2, 29),)
    ]
    today = client.query("SELECT current_date").rows[0][0]
    assert client.query("SELECT current_date + $1", 2).rows == [(today + dt.timedelta(2),)]
    assert client.query("SELECT generate_series($1, $2)", 1, 3).rows == [(1,), (2,), (3,)]


def test_parameter_types(client: Client) -> None:
    for value in BOUNDARIES:
        expected = {"int4": "integer", "int8": "bigint", "numeric": "numeric"}[sent_as(value)]
        assert client.query("SELECT pg_typeof($1)::text, $1", value).rows == [(expected, value)]


def test_arithmetic_between_parameters_is_that_of_int4(client: Client) -> None:
    # int4, not int2: $1 + $2 and $1 * $2 of small values do not overflow at 32767.
    assert client.query("SELECT $1 + $2, $1 * $2", 32767, 32767).rows == [(65534, 1073676289)]
    assert client.query("SELECT $1 * $2", 65536, 2).rows == [(131072,)]
    # As in SQL text (2147483647 + 1 fails too): int4 arithmetic overflows past int4.
    with pytest.raises(errors.NumericValueOutOfRange, match="integer out of range"):
        client.query("SELECT $1 + $2", 2**31 - 1, 1)
    assert client.query("SELECT $1::int8 + $2", 2**31 - 1, 1).rows == [(2**31,)]
    assert client.query("SELECT $1 + $2", 2**31, 1).rows == [(2**31 + 1,)]


# (column type, the values a column of that type holds)
COLUMNS: dict[str, list[int]] = {
    "int2": [-(2**15), -1, 0, 1, 7, 2**15 - 1],
    "int4": [-(2**31), -(2**15) - 1, 0, 7, 2**15, 2**31 - 1],
    "int8": [-(2**63), -(2**31) - 1, 0, 7, 2**31, 2**63 - 1],
    "numeric": [-(10**30), -(2**63) - 1, 0, 7, 2**63, 10**30],
}


@pytest.fixture(scope="module")
def columns(client: Client) -> Iterator[str]:
    """A table with a column of each integer type, holding boundary values of its type."""
    name = f"ints_{uuid.uuid4().hex[:12]}"
    client.execute(
        f"CREATE TABLE {name} (k serial PRIMARY KEY, c_int2 int2, c_int4 int4, c_int8 int8, "
        "c_numeric numeric)"
    )
    for column, values in COLUMNS.items():
        for value in values:
            client.query(f"INSERT INTO {name} (c_{column}) VALUES ($1)", value)
    for column in COLUMNS:
        client.execute(f"CREATE INDEX ON {name} (c_{column})")
    yield name
    client.execute(f"DROP TABLE {name}")


@pytest.mark.parametrize("column", list(COLUMNS))
def test_comparisons_with_integer_columns(client: Client, columns: str, column: str) -> None:
    """Any int compared with an int2/int4/int8/numeric column: PostgreSQL has a
    cross-type comparison for each pair, so a value out of the column's range is
    just unequal (or less, or greater), never an error."""
    held = COLUMNS[column]
    for value in BOUNDARIES:
        counts = client.query(
            f"SELECT count(*) FILTER (WHERE c_{column} = $1),"
            f" count(*) FILTER (WHERE c_{column} < $1),"
            f" count(*) FILTER (WHERE c_{column} >= $1),"
            f" count(*) FILTER (WHERE c_{column} = ANY($2)),"
            f" count(*) FILTER (WHERE c_{column} IN ($1, 0))"
            f" FROM {columns}",
            value,
            [value, 7],
        ).rows
        assert counts == [
            (
                held.count(value),
                sum(h < value for h in held),
                sum(h >= value for h in held),
                sum(h in (value, 7) for h in held),
                sum(h in (value, 0) for h in held),
            )
        ], value


@pytest.mark.parametrize(
    ("column", "value"),
    [("int2", 7), ("int2", 2**40), ("int4", 7), ("int4", 2**40), ("int8", 7), ("int8", 2**40)],
)
def test_comparisons_use_the_columns_index(
    client: Client, columns: str, column: str, value: int
) -> None:
    # int2, int4 and int8 are one btree operator family: an int4 or int8 parameter
    # is compared with the index of any of them, without a cast of the column.
    with client.transaction():
        client.execute("SET LOCAL enable_seqscan = off")
        plan = client.query(f"EXPLAIN SELECT k FROM {columns} WHERE c_{column} = $1", value)
    text = "\n".join(row[0] for row in plan.rows)
    assert "Index" in text and f"c_{column}_idx" in text, text


@pytest.mark.parametrize("column", list(COLUMNS))
def test_insert_into_integer_columns(client: Client, column: str) -> None:
    """A value the column holds is stored exactly; one it does not is PostgreSQL's
    own clear error (NumericValueOutOfRange, "smallint out of range"...)."""
    table = f"ins_{uuid.uuid4().hex[:12]}"
    client.execute(f"CREATE TABLE {table} (k int, v {column})")
    try:
        stored = []
        for k, value in enumerate(BOUNDARIES):
            if fits(value, column):
                client.query(f"INSERT INTO {table} VALUES ($1, $2)", k, value)
                stored.append((k, value))
            else:
                with pytest.raises(errors.NumericValueOutOfRange, match="out of range"):
                    client.query(f"INSERT INTO {table} VALUES ($1, $2)", k, value)
        assert client.query(f"SELECT k, v FROM {table} ORDER BY k").rows == stored
    finally:
        client.execute(f"DROP TABLE {table}")


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[int]]]:
    """Every Parse message sent: its SQL and parameter type OIDs, read off the sockets
    (what the server receives; both adapters' sockets send through socket.send, and
    the compiled build's modules cannot be patched from here)."""
    seen: list[tuple[str, list[int]]] = []
    pending: dict[int, bytearray] = {}
    send = socket.socket.send

    def recording(sock: socket.socket, data: Any, *flags: int) -> int:
        sent = send(sock, data, *flags)
        buffer = pending.setdefault(sock.fileno(), bytearray())
        buffer += memoryview(data).cast("B")[:sent]
        while len(buffer) >= 5:
            length = int.from_bytes(buffer[1:5], "big")
            if len(buffer) < 1 + length:
                break
            kind, body = buffer[0], bytes(buffer[5 : 1 + length])
            del buffer[: 1 + length]
            if kind == ord("P"):
                _name, sql, rest = body.split(b"\0", 2)
                count = int.from_bytes(rest[:2], "big")
                oids = [int.from_bytes(rest[2 + 4 * i : 6 + 4 * i], "big") for i in range(count)]
                seen.append((sql.decode(), oids))
        return sent

    monkeypatch.setattr(socket.socket, "send", recording)
    return seen


def executemany(client: Client, sql: str, rows: list[tuple[Any, ...]]) -> Any:
    return client._call(client.conn.executemany(sql, rows))


class Size(enum.IntEnum):
    BIG = 2**40
    SMALL = 3


@pytest.mark.parametrize(
    ("column", "values", "expected_parses"),
    [
        # A wider value starts a run; narrower ones after it join that run.
        ("numeric", [1, 2, 2**40, 3, None, 2**70, 4, -(2**31), 2**63], [[23], [20], [1700]]),
        ("int8", [2**40, 1, 2, -(2**31) - 1, 5], [[20]]),
        ("int8", [1] * 300 + [2**40] + [2] * 300 + [None, 2**32], [[23], [20]]),
        ("int8", [1, Size.BIG, Size.SMALL, 4], [[23], [20]]),
        # An empty list (sent untyped on its own) joins an array run.
        ("int4[]", [[1, 2], [], [2**40], [3], [], [None], None, [2**33, 2]], [[1007], [1016]]),
    ],
    ids=["numeric", "int8-first", "int8-long", "int-enum", "arrays"],
)
def test_executemany_of_mixed_sizes(
    client: Client,
    parses: list[tuple[str, list[int]]],
    column: str,
    values: list[Any],
    expected_parses: list[list[int]],
) -> None:
    table = f"many_{uuid.uuid4().hex[:12]}"
    column_type = "int8[]" if column == "int4[]" else column
    client.execute(f"CREATE TABLE {table} (k int, v {column_type})")
    try:
        sql = f"INSERT INTO {table} VALUES ($1, $2)"
        executemany(client, sql, list(enumerate(values)))
        assert [oids[1:] for text, oids in parses if text == sql] == expected_parses
        rows = client.query(f"SELECT k, v FROM {table} ORDER BY k").rows
        assert rows == list(enumerate(values))
    finally:
        client.execute(f"DROP TABLE {table}")


def test_executemany_widens_where_no_fast_path_applies(
    client: Client, parses: list[tuple[str, list[int]]]
) -> None:
    # A date column has no per-column encoder: every row takes the general path.
    sql = "SELECT $1::text, $2"
    day = dt.date(2024, 1, 1)
    results = executemany(client, sql, [(2**40, day), (1, day), (None, day), (2, day)])
    assert [r.rows for r in results] == [
        [(str(2**40), day)],
        [("1", day)],
        [(None, day)],
        [("2", day)],
    ]
    assert [oids for text, oids in parses if text == sql] == [[20, 1082]]


def test_query_with_param_types_keeps_the_stated_type(client: Client) -> None:
    assert client.query_with_param_types(
        "SELECT pg_typeof($1)::text, pg_typeof($2)::text", [(3, Type.INT2), (3, Type.INT8)]
    ).rows == [("smallint", "bigint")]
    with pytest.raises(pgpipe.DataError, match="smallint out of range"):
        client.query_with_param_types("SELECT $1", [(2**15, Type.INT2)])


def test_lists_of_ints_are_arrays_of_the_narrowest_type_holding_all(client: Client) -> None:
    cases: list[tuple[list[Any], str]] = [
        ([1, 2], "integer[]"),
        ([1, None, 2**31], "bigint[]"),
        ([[1, 2], [2**63, 3]], "numeric[]"),
        ([1, Decimal("1.5")], "numeric[]"),
    ]
    for value, type_name in cases:
        assert client.query("SELECT pg_typeof($1)::text, $1", value).rows == [(type_name, value)]
    assert client.query("SELECT array_length($1, 1), $1[2] + 1", [5, 6]).rows == [(2, 7)]
