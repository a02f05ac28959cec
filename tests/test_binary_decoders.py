"""The binary numeric and timestamp decoders against plain reference arithmetic
(any layout, any 64-bit value, the same value or the same DataError), and
against the server's own text for values it computed."""

from __future__ import annotations

import datetime as dt
import decimal
import struct
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import errors
from pgpipe.types import binary
from pgpipe.types.oids import Type

NUMERIC = binary.DECODERS[Type.NUMERIC]
TIMESTAMP = binary.DECODERS[Type.TIMESTAMP]
TIMESTAMPTZ = binary.DECODERS[Type.TIMESTAMPTZ]
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def reference_numeric(
    ndigits: int, weight: int, sign: int, dscale: int, digits: list[int]
) -> Decimal:
    """numeric_recv's value by integer arithmetic: the digits in base 10000, scaled
    to exactly ``dscale`` figures after the point (figures past it dropped)."""
    if any(d > 9999 for d in digits):
        raise errors.DataError("digit")
    coefficient = 0
    for digit in digits:
        coefficient = coefficient * 10000 + digit
    shift = 4 * (weight - ndigits + 1) + dscale
    coefficient = coefficient * 10**shift if shift >= 0 else coefficient // 10**-shift
    value = _EXACT.scaleb(Decimal(coefficient), -dscale)
    return value.copy_negate() if sign == 0x4000 else value


def numeric_bytes(weight: int, sign: int, dscale: int, digits: list[int]) -> bytes:
    head = struct.pack("!hhHH", len(digits), weight, sign, dscale)
    return head + struct.pack(f"!{len(digits)}H", *digits)


def outcome(call: object) -> tuple[str, object]:
    try:
        return "ok", call()  # type: ignore[operator]
    except errors.DataError:
        return "error", errors.DataError


@settings(max_examples=600, deadline=None)
@given(
    digits=st.lists(
        st.one_of(st.integers(0, 9999), st.integers(0, 9999), st.integers(0, 65535)), max_size=40
    ),
    weight=st.integers(-45, 45),
    sign=st.sampled_from([0x0000, 0x4000]),
    dscale=st.integers(0, 200),
)
def test_numeric_is_the_reference_value(
    digits: list[int], weight: int, sign: int, dscale: int
) -> None:
    expected = outcome(lambda: reference_numeric(len(digits), weight, sign, dscale, digits))
    got = outcome(lambda: NUMERIC(numeric_bytes(weight, sign, dscale, digits)))
    # str: the same figures and the same exponent, not only an equal value.
    assert got[0] == expected[0]
    if got[0] == "ok":
        assert str(got[1]) == str(expected[1])


@pytest.mark.parametrize("ndigits", [999, 1000, 1001, 1500])
def test_numeric_with_digits_past_what_an_int_is_written_with(ndigits: int) -> None:
    # Past 1000 base-10000 digits the value is written out digit by digit: the
    # int would have more figures than str() writes by default.
    digits = [(i * 7919) % 10000 for i in range(ndigits)]
    digits[0] = digits[0] or 1
    for weight, dscale in ((ndigits - 1, 0), (ndigits // 2, 8), (-3, 4 * ndigits + 12)):
        data = numeric_bytes(weight, 0x4000, dscale, digits)
        assert str(NUMERIC(data)) == str(reference_numeric(ndigits, weight, 0x4000, dscale, digits))
    digits[-1] = 10000
    with pytest.raises(errors.DataError, match="digit"):
        NUMERIC(numeric_bytes(ndigits - 1, 0, 0, digits))


@pytest.mark.parametrize(
    "data",
    [
        numeric_bytes(0, 0x2000, 0, [1]),  # no such sign
        numeric_bytes(0, 0xE000, 0, []),  # no such special value
        numeric_bytes(0, 0, 0, [1])[:-1],  # a digit cut short
        numeric_bytes(0, 0, 0, [1]) + b"\x00",  # a byte too many
    ],
)
def test_malformed_numeric_is_a_data_error(data: bytes) -> None:
    with pytest.raises(errors.DataError, match="invalid binary numeric"):
        NUMERIC(data)


def reference_timestamp(usecs: int, tz: dt.tzinfo | None) -> dt.datetime:
    try:
        return dt.datetime(2000, 1, 1, tzinfo=tz) + dt.timedelta(microseconds=usecs)
    except OverflowError:
        raise errors.DataError("out of range") from None


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        # within datetime's years 1 to 9999, and near their ends
        st.integers(-63082281600 * 10**6, 252455615999 * 10**6 + 999999),
        st.sampled_from([2**63 - 1, -(2**63), -63082281600 * 10**6, 252455615999999999]),
    )
)
def test_timestamps_are_the_reference_value(usecs: int) -> None:
    data = struct.pack("!q", usecs)
    for decode, tz in ((TIMESTAMP, None), (TIMESTAMPTZ, dt.UTC)):
        expected = outcome(lambda tz=tz: reference_timestamp(usecs, tz))  # type: ignore[misc]
        got = outcome(lambda decode=decode: decode(data))  # type: ignore[misc]
        assert got == expected
        if got[0] == "ok":
            assert got[1].tzinfo is tz  # type: ignore[attr-defined]


def test_infinite_timestamps_say_so() -> None:
    for usecs, word in ((2**63 - 1, "'infinity'"), (-(2**63), "'-infinity'")):
        with pytest.raises(errors.DataError, match=word):
            TIMESTAMPTZ(struct.pack("!q", usecs))


def test_many_days_in_one_result() -> None:
    # Each day's date part is kept, up to a bound: past it the values stay right.
    day = 86_400 * 10**6
    values = [d * day + (d % 86_400) * 10**6 + d for d in range(-6000, 6000, 1)]
    for usecs in values + values[:10]:
        assert TIMESTAMPTZ(struct.pack("!q", usecs)) == reference_timestamp(usecs, dt.UTC)
    assert len(binary._day_states) <= binary._DAY_STATES_KEPT


@pytest.fixture(scope="module")
def conn(dsn: str) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(dsn) as c:
        c.query("SET TimeZone = 'UTC'")
        yield c


def binary_rows(conn: pgpipe.Connection, sql: str) -> list[tuple[object, ...]]:
    """The rows of ``sql``'s second run: results in binary (a ``SELECT *`` has one
    result format for all its columns, binary when every one has a binary decoder)."""
    conn.query(sql)
    rows = conn.query(sql).rows
    formats = {statement.result_formats for statement in conn._session._statements.values()}
    assert (1,) in formats
    return rows


def test_numeric_the_server_computed(conn: pgpipe.Connection) -> None:
    rows = binary_rows(
        conn,
        "SELECT * FROM (SELECT round((g - 200) * 1.37 ^ (g % 97) / 7.0, g % 23)::numeric AS n,"
        " '0' AS t FROM generate_series(1, 400) g) s",
    )
    texts = conn.query(
        "SELECT round((g - 200) * 1.37 ^ (g % 97) / 7.0, g % 23)::text"
        " FROM generate_series(1, 400) g"
    ).rows
    assert len(rows) == len(texts) == 400
    for (value, _), (text,) in zip(rows, texts, strict=True):
        assert isinstance(value, Decimal)
        assert value.as_tuple() == Decimal(text).as_tuple()  # type: ignore[arg-type]


def test_timestamps_the_server_computed(conn: pgpipe.Connection) -> None:
    sql = (
        "SELECT * FROM (SELECT t::timestamp AS a, t AS b, ''::text AS c FROM generate_series("
        "timestamptz '0001-01-01 00:00:00.000001+00', '9999-12-31 23:59:59.999999+00',"
        " interval '1234 days 5 hours 6 minutes 7.891011 seconds') t) s"
    )
    rows = binary_rows(conn, sql)
    texts = conn.query(
        "SELECT to_char(t, 'YYYY-MM-DD HH24:MI:SS.US') FROM generate_series("
        "timestamptz '0001-01-01 00:00:00.000001+00', '9999-12-31 23:59:59.999999+00',"
        " interval '1234 days 5 hours 6 minutes 7.891011 seconds') t"
    ).rows
    assert len(rows) == len(texts) > 2900
    for (naive, aware, _), (text,) in zip(rows, texts, strict=True):
        expected = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")  # type: ignore[arg-type]
        assert naive == expected
        assert aware == expected.replace(tzinfo=dt.UTC)
        assert aware.tzinfo is dt.UTC
