"""Rows read straight from DataRow bodies (Statement.decode_bodies) against the
two-pass path (split, then decode): the same values, the same errors, and a
malformed body is always a ProtocolError that closes the connection."""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import errors
from pgpipe._generated import builder
from pgpipe._session import Session
from pgpipe._statement import (
    _K_TEXT_BOOL,
    _K_TEXT_FLOAT,
    _K_TEXT_INT,
    _K_TEXT_UUID,
    BODY_DECODER,
    ColumnReader,
    Statement,
    _body_decoder,
    _column_reader,
    _unrolled_row_decoder,
    fixed_shape,
)
from pgpipe.conninfo import parse_dsn
from pgpipe.protocol import events as ev
from pgpipe.protocol.backend import data_row_values
from pgpipe.testing import TemporaryPostgres
from pgpipe.types.oids import Type
from tests import wire
from tests.clients import Adapter
from tests.test_faults import FakeServer

# (type OID, format, the width the server writes a value at, or None for any width)
COLUMN_KINDS = [
    (Type.BOOL, 1, 1),
    (Type.INT2, 1, 2),
    (Type.INT4, 1, 4),
    (Type.INT8, 1, 8),
    (Type.OID, 1, 4),
    (Type.FLOAT4, 1, 4),
    (Type.FLOAT8, 1, 8),
    (Type.DATE, 1, 4),
    (Type.TIME, 1, 8),
    (Type.TIMETZ, 1, 12),
    (Type.TIMESTAMP, 1, 8),
    (Type.TIMESTAMPTZ, 1, 8),
    (Type.INTERVAL, 1, 16),
    (Type.UUID, 1, 16),
    (Type.TEXT, 1, None),
    (Type.BYTEA, 1, None),
    (Type.NUMERIC, 1, None),
    (Type.INT4, 0, None),
    (Type.INT8, 0, None),
    (Type.FLOAT8, 0, None),
    (Type.TEXT, 0, None),
    (Type.BOOL, 0, 1),  # "t" or "f"
    (Type.UUID, 0, 36),  # 8-4-4-4-12 hex digits
]


def sound(oid: int, fmt: int, width: int | None) -> bytes:
    """A value each kind decodes."""
    if fmt == 0 and oid == Type.UUID:
        return b"0123abcd-0000-4000-8000-00000000cdef"
    if width and fmt == 1:
        return b"\x00" * width
    if oid == Type.NUMERIC:
        return b"\x00" * 8  # no digits: zero
    if oid == Type.BOOL:
        return b"t"
    return b"123"


def new_session() -> Session:
    params = parse_dsn("host=127.0.0.1 user=u dbname=d sslmode=disable", {}, {}, None)
    return Session(params, "layout-nonce")


def statement(kinds: list[tuple[int, int, int | None]]) -> Statement:
    fields = tuple(
        ev.FieldDescription(f"c{i}", 0, 0, int(oid), -1, -1, fmt)
        for i, (oid, fmt, _) in enumerate(kinds)
    )
    return Statement(fields, new_session())


def body(values: list[bytes | None]) -> bytes:
    return struct.pack("!H", len(values)) + b"".join(
        struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v for v in values
    )


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as exc:  # the same type of failure is what is compared
        return "error", type(exc)


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[tuple[int, int, int | None]], list[bytes]]:
    kinds = draw(st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=9))

    def value(width: int | None) -> st.SearchStrategy[bytes | None]:
        sized = st.binary(min_size=width, max_size=width) if width else st.binary(max_size=12)
        # Mostly well formed, sometimes NULL, sometimes the wrong width.
        return st.one_of(sized, sized, sized, st.none(), st.binary(max_size=20))

    rows = draw(
        st.lists(st.tuples(*(value(width) for _, _, width in kinds)), min_size=1, max_size=6)
    )
    return kinds, [body(list(row)) for row in rows]


@settings(max_examples=400, deadline=None)
@given(layouts())
def test_bodies_decode_as_split_values_do(
    layout: tuple[list[tuple[int, int, int | None]], list[bytes]],
) -> None:
    kinds, bodies = layout
    expected = outcome(lambda: statement(kinds).decode_rows([data_row_values(b) for b in bodies]))
    # Compared as reprs: a float NaN is not equal to itself.
    assert repr(outcome(lambda: statement(kinds).decode_bodies(bodies))) == repr(expected)


@settings(max_examples=400, deadline=None)
@given(layouts(), st.sampled_from(["generated", "compiled form"]))
def test_both_body_decoders_read_as_split_values_do(
    layout: tuple[list[tuple[int, int, int | None]], list[bytes]], which: str
) -> None:
    # Each build uses one of them (BODY_DECODER): both are checked in both builds.
    kinds, bodies = layout
    expected = outcome(lambda: statement(kinds).decode_rows([data_row_values(b) for b in bodies]))
    made = statement(kinds)
    build = _body_decoder if which == "generated" else _column_reader
    decode = build(made.fields, made.decoders, made._slow_row)
    assert decode is not None
    assert repr(outcome(lambda: decode(bodies))) == repr(expected)


def test_a_layout_is_compiled_once_and_its_decoders_stay_its_statements() -> None:
    # Two statements of one layout (two connections' sessions) share the
    # compiled source; each decodes with its own decoders, passed in.
    kinds: list[tuple[int, int, int | None]] = [(Type.UUID, 1, 16), (Type.NUMERIC, 1, None)]
    plain, custom = statement(kinds), statement(kinds)
    marked = [lambda data: ("mine", data) for _ in kinds]
    decoders = {
        "generated": (
            _body_decoder(plain.fields, plain.decoders, plain._slow_row),
            _body_decoder(custom.fields, marked, custom._slow_row),
        ),
        "unrolled": (_unrolled_row_decoder(plain.decoders), _unrolled_row_decoder(marked)),
    }
    zero = b"\x00" * 8
    for which, (first, second) in decoders.items():
        assert first is not None and second is not None
        assert first is not second and first.__code__ is second.__code__, which
        rows: Any = [body([bytes(15) + b"\x07", zero])]
        if which == "unrolled":
            rows = [data_row_values(row) for row in rows]
        assert first(rows) == [(uuid.UUID(int=7), Decimal(0))]
        assert second(rows) == [(("mine", bytes(15) + b"\x07"), ("mine", zero))]
    # Another layout, other code; the same source with other globals, another build.
    other = statement([(Type.INT4, 1, 4)])
    assert other._decode_rows is not None and plain._decode_rows is not None
    assert other._decode_rows.__code__ is not plain._decode_rows.__code__
    source = "def build():\n    return lambda: X\n"
    assert builder(source, X=1) is builder(source, X=1)
    assert builder(source, X=1)()() == 1 and builder(source, X=2)()() == 2


def test_the_compiled_form_reads_integers_and_floats_at_their_edges() -> None:
    kinds: list[tuple[int, int, int | None]] = [
        (Type.INT2, 1, 2),
        (Type.INT4, 1, 4),
        (Type.INT8, 1, 8),
        (Type.OID, 1, 4),
        (Type.FLOAT4, 1, 4),
        (Type.FLOAT8, 1, 8),
        (Type.BOOL, 1, 1),
    ]
    rows = [
        (-(2**15), -(2**31), -(2**63), 2**32 - 1, -1.5, -(2.0**-1074), False),
        (2**15 - 1, 2**31 - 1, 2**63 - 1, 0, 3.25, 1e308, True),
        (-1, -1, -1, 2**31, 0.0, -0.0, None),
        (-(2**15) + 1, -(2**31) + 255, -(2**63) + 2**56, 1, None, float("inf"), True),
    ]
    packed = [
        body(
            [
                None if v is None else struct.pack(code, v)
                for v, code in zip(row, ["!h", "!i", "!q", "!I", "!f", "!d", "!?"], strict=True)
            ]
        )
        for row in rows
    ]
    made = statement(kinds)
    read = _column_reader(made.fields, made.decoders, made._slow_row)
    assert read is not None
    assert read(packed) == rows
    assert [type(v) for v in read(packed)[0]] == [int, int, int, int, float, float, bool]


TEXT_NUMBERS = [
    b"0",
    b"-0",
    b"7",
    b"-32768",
    b"32767",
    b"-2147483648",
    b"2147483647",
    b"-9223372036854775808",
    b"9223372036854775807",
    b"999999999999999999",  # 18 digits: read in place
    b"-999999999999999999",
    b"1000000000000000000",  # 19: left to the decoder
    b"0000000000000000000042",
    b"+5",
    b" 5",
    b"5 ",
    b"1_000",
    b"-",
    b"",
    b"12a",
    b"--1",
]
TEXT_UUIDS = [
    b"00000000-0000-0000-0000-000000000000",
    b"ffffffff-ffff-ffff-ffff-ffffffffffff",
    b"827ccb0e-ea8a-706c-4c34-a16891f84e7b",
    b"80000000-0000-0000-0000-000000000001",
    b"827CCB0E-EA8A-706C-4C34-A16891F84E7B",  # upper case: left to the decoder
    b"827ccb0eea8a706c4c34a16891f84e7b",
    b"827ccb0e-ea8a-706c-4c34-a16891f84e7",
    b"827ccb0e-ea8a-706c-4c34-a16891f84e7g",
    b"827ccb0e+ea8a-706c-4c34-a16891f84e7b",
    b"{827ccb0e-ea8a-706c-4c34-a16891f84e7b}",
]


@pytest.mark.parametrize("which", ["generated", "compiled form"])
def test_text_integers_and_uuids_read_as_their_decoders_do(which: str) -> None:
    kinds: list[tuple[int, int, int | None]] = [
        (Type.INT2, 0, None),
        (Type.INT4, 0, None),
        (Type.INT8, 0, None),
        (Type.UUID, 0, None),
    ]
    made = statement(kinds)
    build = _body_decoder if which == "generated" else _column_reader
    read = build(made.fields, made.decoders, made._slow_row)
    assert read is not None
    if isinstance(read, ColumnReader):  # read in place, not by the decoders
        assert list(read.kinds) == [_K_TEXT_INT] * 3 + [_K_TEXT_UUID]
    count = max(len(TEXT_NUMBERS), len(TEXT_UUIDS))
    for i in range(count):
        values: list[bytes | None] = [
            TEXT_NUMBERS[i % len(TEXT_NUMBERS)],
            TEXT_NUMBERS[(i + 3) % len(TEXT_NUMBERS)],
            TEXT_NUMBERS[(i + 7) % len(TEXT_NUMBERS)],
            TEXT_UUIDS[i % len(TEXT_UUIDS)],
        ]
        packed = [body(values)]
        expected = outcome(lambda p=packed: made.decode_rows([data_row_values(b) for b in p]))
        got = outcome(lambda p=packed: read(p))
        assert got == expected, values
        if got[0] == "ok":
            row = got[1][0]
            assert all(type(v) is int for v in row[:3]) and row[3].int >= 0


@settings(max_examples=300, deadline=None)
@given(
    st.integers(-(2**63), 2**63 - 1).map(lambda n: str(n).encode())
    | st.text("0123456789-+ _", max_size=22).map(str.encode),
    st.uuids().map(lambda u: str(u).encode()) | st.binary(min_size=36, max_size=36),
)
def test_any_text_integer_or_uuid_reads_as_its_decoder_does(
    number: bytes, text_uuid: bytes
) -> None:
    kinds: list[tuple[int, int, int | None]] = [(Type.INT8, 0, None), (Type.UUID, 0, None)]
    made = statement(kinds)
    read = _column_reader(made.fields, made.decoders, made._slow_row)
    assert read is not None
    packed = [body([number, text_uuid])]
    expected = outcome(lambda: made.decode_rows([data_row_values(b) for b in packed]))
    assert outcome(lambda: read(packed)) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"t", b"f", b"", b"true", b"T", b"1", b"\x00"]),
    st.floats(width=32).map(lambda f: repr(f).encode())
    | st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b" 1.5", b"1e400", b"x", b""]),
    st.floats().map(lambda f: repr(f).encode()) | st.binary(max_size=8),
)
def test_any_text_bool_or_float_reads_as_its_decoder_does(
    flag: bytes, single: bytes, double: bytes
) -> None:
    kinds: list[tuple[int, int, int | None]] = [
        (Type.BOOL, 0, 1),
        (Type.FLOAT4, 0, None),
        (Type.FLOAT8, 0, None),
    ]
    made = statement(kinds)
    read = _column_reader(made.fields, made.decoders, made._slow_row)
    assert isinstance(read, ColumnReader)
    assert list(read.kinds) == [_K_TEXT_BOOL, _K_TEXT_FLOAT, _K_TEXT_FLOAT]
    packed = [body([flag, single, double])]
    expected = outcome(lambda: made.decode_rows([data_row_values(b) for b in packed]))
    # Compared as reprs: a float NaN is not equal to itself.
    assert repr(outcome(lambda: read(packed))) == repr(expected)
    assert repr(outcome(lambda: made.decode_bodies(packed))) == repr(expected)


def test_the_compiled_form_reads_timestamps_and_uuids_as_their_decoders_do() -> None:
    kinds: list[tuple[int, int, int | None]] = [
        (Type.TIMESTAMP, 1, 8),
        (Type.TIMESTAMPTZ, 1, 8),
        (Type.UUID, 1, 16),
    ]
    first = (dt.datetime(1, 1, 1) - dt.datetime(2000, 1, 1)) // dt.timedelta(microseconds=1)
    last = (dt.datetime(9999, 12, 31, 23, 59, 59, 999999) - dt.datetime(2000, 1, 1)) // (
        dt.timedelta(microseconds=1)
    )
    wholes = [first, last, 0, -1, 1, 86_400_000_000 - 1, -86_400_000_000, 774_057_600_123_456]
    uuids = [b"\x00" * 16, b"\xff" * 16, bytes(range(16)), b"\x80" + b"\x00" * 15]
    packed = [
        body([struct.pack("!q", whole), struct.pack("!q", whole // 3), uuids[i % 4]])
        for i, whole in enumerate(wholes)
    ]
    made = statement(kinds)
    read = _column_reader(made.fields, made.decoders, made._slow_row)
    assert read is not None
    got = read(packed)
    assert got == made.decode_rows([data_row_values(b) for b in packed])
    epoch = dt.datetime(2000, 1, 1)
    for row, whole in zip(got, wholes, strict=True):
        assert row[0] == epoch + dt.timedelta(microseconds=whole)
        assert row[0].tzinfo is None and row[1].tzinfo is dt.UTC
    assert [row[2].int for row in got[:4]] == [int.from_bytes(u, "big") for u in uuids]
    for beyond in (first - 1, last + 1, 2**63 - 1, -(2**63)):
        with pytest.raises(errors.DataError):
            read([body([struct.pack("!q", beyond), struct.pack("!q", 0), uuids[0]])])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(COLUMN_KINDS), min_size=1, max_size=6),
    st.data(),
)
def test_a_malformed_body_is_a_protocol_error(
    kinds: list[tuple[int, int, int | None]], data: st.DataObject
) -> None:
    good = body([sound(oid, fmt, width) for oid, fmt, width in kinds])
    cut = data.draw(st.integers(0, len(good) - 1))
    bad = data.draw(
        st.sampled_from(
            [
                good[:cut],  # truncated anywhere
                good + b"\x00",  # a trailing byte
                struct.pack("!H", len(kinds) + 1) + good[2:],  # one value short
                struct.pack("!H", len(kinds) - 1) + good[2:],  # one value too many
                good[:2] + struct.pack("!i", -2) + good[6:],  # a negative length not -1
            ]
        )
    )
    with pytest.raises(errors.ProtocolError):
        data_row_values(bad)
    with pytest.raises(errors.ProtocolError):
        statement(kinds).decode_bodies([good, bad])


@pytest.mark.parametrize("which", ["generated", "compiled form"])
def test_a_malformed_body_is_reported_before_a_value_that_fails(which: str) -> None:
    # The compiled form decodes as it walks: a value that fails before the
    # body is known to be malformed must not hide the protocol error.
    kinds: list[tuple[int, int, int | None]] = [(Type.INT4, 0, None), (Type.TEXT, 0, None)]
    made = statement(kinds)
    build = _body_decoder if which == "generated" else _column_reader
    decode = build(made.fields, made.decoders, made._slow_row)
    assert decode is not None
    failing = body([b"not a number", b"text"])
    with pytest.raises(errors.ProtocolError):
        decode([failing[:-2]])  # the second value cut short
    with pytest.raises(errors.ProtocolError):
        decode([failing + b"\x00"])  # a byte past the last value
    with pytest.raises(ValueError):  # the body is sound: the value's own error
        decode([failing])
    assert decode([body([b"-12", b"text"])]) == [(-12, "text")]


def test_nulls_in_fixed_columns_change_to_the_split_path() -> None:
    kinds = [(Type.INT4, 1, 4), (Type.TEXT, 1, None)]
    stmt = statement(kinds)
    rows = [body([struct.pack("!i", i), b"x"]) for i in range(100)]
    assert stmt.decode_bodies(rows)[99] == (99, "x")
    assert stmt._decode_bodies is not None  # every row fit the layout
    nulls = [body([None, b"y"]) for _ in range(50)] + rows[:50]
    assert stmt.decode_bodies(nulls)[:2] == [(None, "y"), (None, "y")]
    if BODY_DECODER is _column_reader:
        assert stmt._decode_bodies is not None  # the compiled form reads NULLs in place
    else:
        assert stmt._decode_bodies is None  # too many rows off the layout: split first
    assert stmt.decode_bodies(rows)[-1] == (99, "x")


def test_text_the_server_writes_at_one_width_is_read_in_the_fixed_layout() -> None:
    # boolout and uuid_out always write 1 and 36 characters: a statement's
    # first run (text) reads them as fixed-width values; a NULL or another
    # width leaves the layout for the split path, with the same values.
    kinds: list[tuple[int, int, int | None]] = [
        (Type.TEXT, 0, None),
        (Type.BOOL, 0, 1),
        (Type.UUID, 0, 36),
    ]
    text_uuid = b"0123abcd-0000-4000-8000-00000000cdef"
    good = [body([b"a", b"t", text_uuid]), body([b"b", b"f", text_uuid])]
    odd = [body([b"c", None, None]), body([b"d", b"true", text_uuid])]
    made = statement(kinds)
    assert made.decode_bodies(good) == [
        ("a", True, uuid.UUID(text_uuid.decode())),
        ("b", False, uuid.UUID(text_uuid.decode())),
    ]
    slow = made._slow_rows
    assert made.decode_bodies(good + odd[:1])[-1] == ("c", None, None)
    if BODY_DECODER is _body_decoder:
        assert made._slow_rows == slow + 1  # the NULLs left the fixed layout
    with pytest.raises(errors.DataError):
        statement(kinds).decode_bodies(odd[1:])  # "true" is not what boolout writes


def test_a_custom_binary_decoder_is_used_in_the_fixed_layout(pg_server: TemporaryPostgres) -> None:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        conn.register_type(
            "int4",
            decode=lambda text: ("int4", int(text)),
            decode_binary=lambda data: ("int4", int.from_bytes(data, "big")),
        )
        sql = "SELECT g, 'r' || g, g::int8 FROM generate_series(1, 3) g"
        for _ in range(2):  # text results, then binary ones
            assert conn.query(sql).rows[-1] == (("int4", 3), "r3", 3)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_real_rows_with_nulls_everywhere(pg_server: TemporaryPostgres) -> None:
    sql = (
        "SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE g END,"
        " CASE WHEN g % 5 = 0 THEN NULL ELSE 'v' || g END,"
        " CASE WHEN g % 7 = 0 THEN NULL ELSE g / 2.0::float8 END,"
        " CASE WHEN g % 11 = 0 THEN NULL ELSE md5(g::text)::uuid END,"
        " CASE WHEN g % 4 = 0 THEN NULL ELSE g % 2 = 0 END"
        " FROM generate_series(1, 3000) g"
    )
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        for _ in range(2):  # text results the first time, binary after
            rows = conn.query(sql).rows
            assert len(rows) == 3000
            for g, (a, b, c, d, e) in enumerate(rows, 1):
                assert a == (None if g % 3 == 0 else g)
                assert b == (None if g % 5 == 0 else f"v{g}")
                assert c == (None if g % 7 == 0 else g / 2)
                assert d == (None if g % 11 == 0 else uuid.UUID(md5(str(g))))
                assert e == (None if g % 4 == 0 else g % 2 == 0)


@pytest.mark.parametrize(
    "row",
    [
        b"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x09ab",  # text runs past the end
        body([b"\x00\x00\x00\x01", b"ab"]) + b"!",  # a trailing byte
        body([b"\x00\x00\x00\x01"]),  # one value short
        b"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x01\xff\xff\xff\xfe",  # length -2
        b"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00",  # ends inside a length
    ],
)
def test_a_malformed_row_closes_the_connection(adapter: Adapter, row: bytes) -> None:
    # A whole, otherwise sound answer: only the DataRow is wrong. The rows before
    # it are well formed, so the fast layout is in use when it arrives.
    good = body([b"\x00\x00\x00\x07", b"ok"])
    script = (
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.row_description([("a", Type.INT4, 1), ("b", Type.TEXT, 1)])
        + wire.msg(b"D", good) * 3
        + wire.msg(b"D", row)
        + wire.command_complete("SELECT 4")
        + wire.msg(b"3")
        + wire.ready()
    )
    server = FakeServer(script)
    try:
        client = adapter.connect(
            host="127.0.0.1", port=server.port, user="u", dbname="d", sslmode="disable"
        )
        with pytest.raises(pgpipe.ProtocolError, match="DataRow"):
            client.query("SELECT 1")
        assert client.closed  # type: ignore[attr-defined]
    finally:
        server.close()


def test_each_column_gets_its_own_result_format(pg_server: TemporaryPostgres) -> None:
    # Binary where it reads faster; numeric in text (Decimal parses text in C);
    # a type without a binary decoder no longer turns the whole row to text.
    sql = "SELECT 1.50::numeric, 2::int4, 'x'::text, 'a b'::tsvector, NULL::numeric"
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        first = conn.query(sql).rows
        assert conn.query(sql).rows == first
        (statement,) = [s for (text, _), s in conn._session._statements.items() if text == sql]
        assert [f.format for f in statement.fields] == [0, 1, 1, 0, 0]
        assert statement.result_formats == (0, 1, 1, 0, 0)
        assert first == [(first[0][0], 2, "x", first[0][3], None)]
        assert str(first[0][0]) == "1.50"


def test_a_product_keeps_the_formats_per_column(pg_server: TemporaryPostgres) -> None:
    # "*" multiplying: the shape is still fixed, numeric still read in text.
    sql = "SELECT 1.25::numeric * $1, 2 * $1, g*2 FROM generate_series(1, 2) g"
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        for _ in range(2):
            assert conn.query(sql, 3).rows == [(Decimal("3.75"), 6, 2), (Decimal("3.75"), 6, 4)]
        (statement,) = [s for (text, _), s in conn._session._statements.items() if text == sql]
        assert statement.result_formats == (0, 1, 1)


@pytest.mark.parametrize(
    ("sql", "fixed"),
    [
        ("SELECT 1, 2", True),
        ("  with x AS (SELECT 1) SELECT * FROM x", False),
        ("SELECT * FROM t", False),
        ("SELECT t.* FROM t", False),
        ("INSERT INTO t VALUES (1) RETURNING *", False),
        ("INSERT INTO t VALUES (1) RETURNING a", True),
        ("SELECT 2 * 3", True),  # products
        ("SELECT 2*3", True),
        ("SELECT a * b, $1 * 2, t.x*$2 FROM t", True),
        ("UPDATE t SET a = a * 2 RETURNING a", True),
        ("UPDATE t SET a = a * 2 RETURNING *", False),
        ("SELECT DISTINCT * FROM t", False),
        ("SELECT DISTINCT ON (a) * FROM t", False),
        ("select all\n*\nfrom t", False),
        ("SELECT (t).* FROM t", False),
        ("SELECT t. * FROM t", False),
        ('SELECT "t".* FROM t', False),
        ("SELECT 1, * FROM t", False),
        ("SELECT count(*) FROM t", False),  # fixed, but taken for "may expand": a "("
        ("SELECT 'a' * 2", False),  # after a quote: may expand
        ("SELECT a /* b */ * 2", False),  # a comment: any "*" may expand
        ("SELECT a -- b\n * 2", False),
        ("SELECT -- b\n * FROM t", False),
        ("TABLE t", False),
        ("FETCH 10 FROM c", False),
        ("EXECUTE p", False),
        ("-- a comment\nSELECT 1", False),
    ],
)
def test_which_statements_have_a_fixed_shape(sql: str, fixed: bool) -> None:
    assert fixed_shape(sql) is fixed


def test_a_column_added_under_select_star_does_not_break_bind(pg_server: TemporaryPostgres) -> None:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        conn.execute("CREATE TEMP TABLE shape (a int4, b numeric, c text)")
        conn.execute("INSERT INTO shape VALUES (1, 1.5, 'x')")
        for sql in ("SELECT * FROM shape", "TABLE shape", "SELECT a, b, c FROM shape"):
            assert conn.query(sql).rows == [(1, Decimal("1.5"), "x")]
            assert conn.query(sql).rows == [(1, Decimal("1.5"), "x")]  # binary now
        conn.execute("ALTER TABLE shape ADD COLUMN d int4 DEFAULT 7")
        for sql in ("SELECT * FROM shape", "TABLE shape"):
            assert conn.query(sql).rows == [(1, Decimal("1.5"), "x", 7)]
        assert conn.query("SELECT a, b, c FROM shape").rows == [(1, Decimal("1.5"), "x")]
