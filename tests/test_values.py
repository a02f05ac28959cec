"""Parameter values of every kind: only pgpipe errors come out of the codec layer;
Enum members, subclasses of the built-ins and pgpipe.Json are sent as the values
they stand for, checked against the server through both adapters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import ipaddress
import json
import math
import uuid
import zoneinfo
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import Interval, Json, Range, Type, errors
from pgpipe.types import encode_inferred, encode_typed
from tests.clients import Adapter, Client


class Color(enum.Enum):
    RED = 1
    GREEN = "green"
    BLUE = (1, 2)
    GREY = None
    PAIR = [1, 2]  # noqa: RUF012 (an Enum member, not a class attribute)


class Size(enum.IntEnum):
    SMALL = 1
    HUGE = 2**40


class Name(enum.StrEnum):
    ADA = "ada"
    NUL = "a\x00b"


class Perm(enum.IntFlag):
    READ = 4
    WRITE = 2


class Nested(enum.Enum):
    COLOR = Color.RED


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyStr(str):
    pass


class MyBytes(bytes):
    pass


class HostileInt(int):
    """An int whose own methods all raise: the encoders must not call them."""

    def __str__(self) -> str:
        raise RuntimeError("str")

    __repr__ = __format__ = __index__ = __int__ = __str__  # type: ignore[assignment]


class HostileStr(str):
    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        raise RuntimeError("encode")

    def __contains__(self, item: object) -> bool:
        raise RuntimeError("contains")


class HostileBytes(bytes):
    def __bytes__(self) -> bytes:
        raise RuntimeError("bytes")


class HostileFloat(float):
    def __repr__(self) -> str:
        raise RuntimeError("repr")

    __str__ = __format__ = __repr__  # type: ignore[assignment]


class Hostile:
    """An object whose every hook raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    __str__ = __repr__
    __format__ = __repr__  # type: ignore[assignment]

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("iter")


@dataclasses.dataclass
class Row:
    id: int
    name: str


def _raising_dumps(value: object) -> str:
    raise ValueError("no")


def _bytes_dumps(value: object) -> bytes:
    return b"\xff"


def _int_dumps(value: object) -> int:
    return 1


SPECIAL: list[Any] = [
    *Color,
    *Size,
    *Name,
    Perm.READ | Perm.WRITE,
    Nested.COLOR,
    MyInt(5),
    MyFloat(1.5),
    MyStr("x"),
    MyBytes(b"x"),
    HostileInt(5),
    HostileInt(2**40),
    HostileStr("x"),
    HostileBytes(b"x"),
    HostileFloat(1.5),
    Hostile(),
    Row(1, "a"),
    object(),
    Decimal("sNaN"),
    Decimal("-NaN"),
    Decimal("1E+999999"),
    Decimal("1E-999999"),
    2**63,
    -(2**63) - 1,
    10**5000,
    -(2**100_000),
    math.nan,
    math.inf,
    -math.inf,
    1e308 * 10,
    "\ud800",
    "a\udfffb",
    "\x00",
    bytearray(b"ab"),
    memoryview(b"abcd").cast("B", (2, 2)),
    Interval(months=2**40),
    Interval(months=1, days=2**31),
    dt.timedelta(days=999_999_999),
    dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-23))),
    dt.datetime(1, 1, 1, tzinfo=zoneinfo.ZoneInfo("Pacific/Kiritimati")),
    dt.time(12, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    Range(1, "a"),
    Range(Hostile(), 2),
    Json(Hostile()),
    Json({1, 2}),
    Json(1, dumps=_raising_dumps),
    Json(1, dumps=_bytes_dumps),
    Json(1, dumps=_int_dumps),
    ipaddress.ip_network("10.0.0.0/8"),
    uuid.UUID(int=0),
]

_circular: list[Any] = []
_circular.append(_circular)
SPECIAL.append(_circular)
_deep: list[Any] = []
for _ in range(5000):
    _deep = [_deep]
SPECIAL.append({"deep": _deep})


def special(index: int) -> Any:
    """``SPECIAL[index]``: hypothesis shows the strategies it runs, and some of these
    values cannot be shown."""
    return SPECIAL[index]


TEXT = st.lists(
    st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
).map("".join)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**64),
    st.integers(max_value=-(2**31) + 2, min_value=-(2**64)),
    st.integers(min_value=-(10**400), max_value=10**400),  # past float's range too
    st.floats(),
    TEXT,
    st.binary(),
    st.decimals(),
    st.dates(),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.times(),
    st.timedeltas(),
    st.uuids(),
    st.sampled_from(range(len(SPECIAL))).map(special),
    st.builds(Row, st.integers(), TEXT),
    st.builds(MyInt, st.integers()),
    st.builds(MyStr, TEXT),
    st.builds(MyBytes, st.binary()),
    st.builds(HostileInt, st.integers()),
    st.builds(Interval, st.integers(), st.integers(), st.integers()),
)

VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.lists(inner, min_size=2, max_size=2), max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(TEXT | st.integers(), inner, max_size=3),
        st.frozensets(st.integers() | TEXT, max_size=3),
        st.builds(Json, inner),
        st.builds(Range, inner, inner),
    ),
    max_leaves=8,
)

OIDS = sorted({int(member) for member in Type})


def check_inferred(value: object) -> None:
    try:
        oid, fmt, data = encode_inferred(value)
    except errors.Error:
        return
    assert type(oid) is int or isinstance(oid, Type)
    assert fmt in (0, 1)
    assert data is None or type(data) is bytes


def check_typed(value: object) -> None:
    for oid in OIDS:
        try:
            fmt, data = encode_typed(value, oid)
        except errors.Error:
            continue
        assert fmt in (0, 1), oid
        assert data is None or type(data) is bytes, oid


@pytest.mark.parametrize("value", SPECIAL, ids=lambda v: type(v).__name__)
def test_special_values_raise_only_pgpipe_errors(value: object) -> None:
    check_inferred(value)
    check_typed(value)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_any_value_raises_only_pgpipe_errors(value: object) -> None:
    check_inferred(value)
    check_typed(value)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("a\ud800b", r"lone surrogate U\+D800 at index 1"),
        (["ok", "\udc80"], "lone surrogate U\\+DC80"),
        (Row(1, "a"), "cannot adapt type Row"),
        (Hostile(), "cannot adapt type Hostile"),
        ({1, 2}, "cannot adapt type set"),
        (Json({1, 2}), "cannot send set as JSON: TypeError"),
        (Json(1, dumps=_raising_dumps), "cannot send int as JSON: ValueError: no"),
        (_circular, "at most 6 dimensions"),
        (Decimal("1E+999999"), "numeric out of range"),
        (Color.BLUE, "cannot adapt type tuple"),
        ([1, "a"], "must share one type"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_what_the_errors_say(value: object, match: str) -> None:
    with pytest.raises(pgpipe.DataError, match=match) as caught:
        encode_inferred(value)
    assert "RuntimeError" not in str(caught.value) or isinstance(value, Hostile)


class BrokenZone(dt.tzinfo):
    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        raise RuntimeError("no offset today")


def test_a_value_whose_own_code_raises_is_a_data_error_with_its_cause() -> None:
    stamp = dt.datetime(2024, 1, 1, tzinfo=BrokenZone())
    for encode in (encode_inferred, lambda value: encode_typed(value, Type.TIMESTAMPTZ)):
        with pytest.raises(pgpipe.DataError, match="RuntimeError: no offset today") as caught:
            encode(stamp)
        assert "cannot send datetime" in str(caught.value)
        assert isinstance(caught.value.__cause__, RuntimeError)
    with pytest.raises(pgpipe.DataError, match="cannot send list") as caught:
        encode_typed(_circular, Type.JSONB)
    assert isinstance(caught.value.__cause__, ValueError)


# -- against the server ---------------------------------------------------------


@pytest.fixture(scope="module", params=["sync", "async"])
def client(request: pytest.FixtureRequest, dsn: str) -> Iterator[Client]:
    adapter = Adapter(request.param)
    yield adapter.connect(dsn)
    adapter.close()


def test_enum_members_are_sent_as_their_values(client: Client) -> None:
    row = client.query(
        "SELECT $1 + 1, $2 || '!', $3 * 2, $4, $5 + 0, $6::text, pg_typeof($3)::text",
        Color.RED,
        Color.GREEN,
        Size.HUGE,
        Name.ADA,
        Perm.READ | Perm.WRITE,
        Color.GREY,
    ).rows
    assert row == [(2, "green!", 2**41, "ada", 6, None, "bigint")]
    assert client.query("SELECT $1, $2", Nested.COLOR, Color.PAIR).rows == [(1, [1, 2])]
    assert client.query("SELECT $1", [Color.RED, Size.SMALL, None]).rows == [([1, 1, None],)]
    assert client.query("SELECT $1 = 'ada'", Name.ADA).rows == [(True,)]


def test_enum_members_with_stated_types(client: Client) -> None:
    rows = client.query_with_param_types(
        "SELECT $1, $2, $3, $4",
        [
            (Color.RED, Type.INT2),
            (Color.GREEN, Type.TEXT),
            ([Color.RED, Size.HUGE], Type.INT8_ARRAY),
            (Size.SMALL, Type.NUMERIC),
        ],
    ).rows
    assert rows == [(1, "green", [1, 2**40], Decimal(1))]


def test_subclasses_are_sent_as_their_built_in_type(client: Client) -> None:
    rows = client.query(
        "SELECT $1, pg_typeof($1)::text, $2, $3, $4, $5, $6 + 1",
        MyInt(7),
        MyFloat(1.5),
        MyStr("x"),
        MyBytes(b"\x00y"),
        HostileStr("h\u00e9"),
        HostileInt(41),
    ).rows
    assert rows == [(7, "integer", 1.5, "x", b"\x00y", "h\u00e9", 42)]
    assert all(type(value) in (int, float, str, bytes) for value in rows[0])


def test_executemany_sends_enum_members_and_subclasses(client: Client) -> None:
    results = client._call(
        client.conn.executemany(
            "SELECT $1::text, $2",
            [(1, "a"), (Size.SMALL, Name.ADA), (HostileInt(3), HostileStr("c")), (Color.RED, "d")],
        )
    )
    assert [r.rows for r in results] == [
        [("1", "a")],
        [("1", "ada")],
        [("3", "c")],
        [("1", "d")],
    ]


def test_json_sends_any_value(client: Client) -> None:
    for value in [[1, None, "x"], "text", 3, 2.5, None, True, {"a": [1, {"b": None}]}, []]:
        rows = client.query("SELECT $1, pg_typeof($1)::text, $1::text", Json(value)).rows
        assert rows == [(value, "jsonb", json.dumps(value))], value
    assert client.query("SELECT jsonb_array_length($1)", Json([1, 2, 3])).rows == [(3,)]
    assert client.query("SELECT $1 -> 1", Json([1, [2]])).rows == [([2],)]
    assert client.query("SELECT $1", [Json(1), Json([2])]).rows == [([1, [2]],)]


def test_json_with_its_own_dumps_and_stated_types(client: Client) -> None:
    def dumps(value: object) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    # json keeps the text as sent (jsonb would sort and space it its own way).
    rows = client.query_with_param_types(
        "SELECT $1::text, $2::text",
        [(Json({"b": 1, "a": 2}, dumps=dumps), Type.JSON), (Json([1, 2]), Type.JSONB)],
    ).rows
    assert rows == [('{"a":2,"b":1}', "[1, 2]")]
    table = f"j_{uuid.uuid4().hex[:12]}"
    client.execute(f"CREATE TABLE {table} (j json, b jsonb)")
    try:
        client.query(f"INSERT INTO {table} VALUES ($1, $2)", Json([1]), Json("s"))
        client._call(
            client.conn.executemany(
                f"INSERT INTO {table} VALUES ($1, $2)", [(Json(None), Json(2)), ({"k": 1}, None)]
            )
        )
        assert client.query(f"SELECT j::text, b FROM {table}").rows == [
            ("[1]", "s"),
            ("null", 2),
            ('{"k": 1}', None),
        ]
    finally:
        client.execute(f"DROP TABLE {table}")


def test_an_unsendable_value_leaves_the_connection_usable(client: Client) -> None:
    for value in ["\ud800", Hostile(), Row(1, "a"), Json(Hostile()), [1, [2]]]:
        with pytest.raises(pgpipe.DataError):
            client.query("SELECT $1", value)
        assert client.query("SELECT $1 + 1", 1).rows == [(2,)]
