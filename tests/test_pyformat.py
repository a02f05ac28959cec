"""pyformat (``%s``, ``%(name)s``, ``%%``) converted to ``$n``: every rule alone, then
statements built from quoted lookalikes and real placeholders, checked as text, run
on the server through both adapters, and compared with psycopg's own conversion."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import _pyformat, errors
from pgpipe._pyformat import convert, split
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter

# -- positional ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("SELECT 1", (), "SELECT 1"),
        ("SELECT %s", (1,), "SELECT $1"),
        ("SELECT %s, %s", [1, 2], "SELECT $1, $2"),
        ("SELECT %b, %t, %s", (1, 2, 3), "SELECT $1, $2, $3"),
        ("SELECT %s%s", (1, 2), "SELECT $1$2"),
        ("SELECT a%s", (1,), "SELECT a$1"),
        ("SELECT 7 %% 3, %s", (1,), "SELECT 7 % 3, $1"),
        ("SELECT %%s, %s", (1,), "SELECT %s, $1"),
        ("SELECT %%%s", (1,), "SELECT %$1"),
        ("SELECT '%s', %s", (1,), "SELECT '%s', $1"),
        ("SELECT 'it''s %s', %s", (1,), "SELECT 'it''s %s', $1"),
        ("SELECT 'a%%', %s", (1,), "SELECT 'a%', $1"),
        ("SELECT 'a%', %s", (1,), "SELECT 'a%', $1"),
        ("SELECT 'a%d%(x)s', %s", (1,), "SELECT 'a%d%(x)s', $1"),
        ("SELECT x LIKE 'a%%' ESCAPE '%%', %s", (1,), "SELECT x LIKE 'a%' ESCAPE '%', $1"),
        ("SELECT E'\\'%s', %s", (1,), "SELECT E'\\'%s', $1"),
        ("SELECT e'%%\\\\', %s", (1,), "SELECT e'%\\\\', $1"),
        ("SELECT U&'%s\\0041', %s", (1,), "SELECT U&'%s\\0041', $1"),
        ('SELECT U&"%s", %s', (1,), 'SELECT U&"%s", $1'),
        ('SELECT 1 AS "a%%s", %s', (1,), 'SELECT 1 AS "a%s", $1'),
        ('SELECT 1 AS "a""%s", %s', (1,), 'SELECT 1 AS "a""%s", $1'),
        ("SELECT $$%s %% %d$$, %s", (1,), "SELECT $$%s % %d$$, $1"),
        ("SELECT $f$ $$ %s $f$, %s", (1,), "SELECT $f$ $$ %s $f$, $1"),
        ("SELECT 1 -- %s %d %\n, %s", (1,), "SELECT 1 -- %s %d %\n, $1"),
        ("SELECT 1 -- %s", (), "SELECT 1 -- %s"),
        ("SELECT /* %s /* %d */ %(x)s */ %s", (1,), "SELECT /* %s /* %d */ %(x)s */ $1"),
        ("SELECT $1 ", None, "SELECT $1 "),
        ("SELECT x$1, %s", (1,), "SELECT x$1, $1"),
        ("SELECT '$1', $$ $2 $$, %s", (1,), "SELECT '$1', $$ $2 $$, $1"),
        ("SELECT %s$a$ %s $a$", (1,), "SELECT $1$a$ %s $a$"),
        ("SELECT \u00e9%s, '\u00e9%s'", (1,), "SELECT \u00e9$1, '\u00e9%s'"),
    ],
)
def test_positional(sql: str, params: Sequence[object] | None, expected: str) -> None:
    assert convert(sql, params) == (expected, () if params is None else tuple(params))


def test_the_values_come_back_as_a_tuple_in_order() -> None:
    values = [object(), None, "x"]
    _sql, out = convert("SELECT %s, %s, %s", values)
    assert type(out) is tuple
    assert list(out) == values
    assert convert("SELECT %s, %s", range(5, 7)) == ("SELECT $1, $2", (5, 6))


@pytest.mark.parametrize(
    ("sql", "given_", "message"),
    [
        ("SELECT %s", (), "1 placeholder .* but 0 values were given"),
        ("SELECT %s, %s", (1,), "2 placeholders .* but 1 value was given"),
        ("SELECT 1", (1,), "0 placeholders .* but 1 value was given"),
        ("SELECT '%s'", (1,), "0 placeholders .* but 1 value was given"),
        ("SELECT %s -- %s", (1, 2), "1 placeholder .* but 2 values were given"),
    ],
)
def test_a_count_mismatch_names_both_numbers(sql: str, given_: tuple[int], message: str) -> None:
    with pytest.raises(errors.ProgrammingError, match=message):
        convert(sql, given_)


# -- named --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "params", "expected", "values"),
    [
        ("SELECT %(a)s", {"a": 1}, "SELECT $1", (1,)),
        ("SELECT %(a)s, %(b)s, %(a)s", {"b": 2, "a": 1}, "SELECT $1, $2, $1", (1, 2)),
        ("SELECT %(b)t, %(a)b", {"a": 1, "b": 2}, "SELECT $1, $2", (2, 1)),
        ("SELECT %(a)s", {"a": 1, "unused": 2}, "SELECT $1", (1,)),
        ("SELECT 1", {"unused": 2}, "SELECT 1", ()),
        ("SELECT 5 %% 2, %(x y)s", {"x y": 3}, "SELECT 5 % 2, $1", (3,)),
        ("SELECT %(a)s, '%(a)s %%', %(b)s", {"a": 1, "b": 2}, "SELECT $1, '%(a)s %', $2", (1, 2)),
        ("SELECT %(it's)s", {"it's": 1}, "SELECT $1", (1,)),
    ],
)
def test_named(sql: str, params: Mapping[str, object], expected: str, values: tuple[int]) -> None:
    assert convert(sql, params) == (expected, values)


def test_a_missing_key_is_named() -> None:
    with pytest.raises(errors.ProgrammingError, match=r"%\(b\)s.*no key 'b'"):
        convert("SELECT %(a)s, %(b)s", {"a": 1})


def test_any_mapping_and_any_sequence() -> None:
    assert convert("SELECT %(a)s", MappingProxyType({"a": 1})) == ("SELECT $1", (1,))
    assert convert("SELECT %s, %s", range(5, 7)) == ("SELECT $1, $2", (5, 6))
    assert convert("SELECT 1 %% 2", []) == ("SELECT 1 % 2", ())


def test_named_placeholders_with_a_sequence() -> None:
    with pytest.raises(errors.ProgrammingError, match=r"named placeholders \(%\(a\)s\).*mapping"):
        convert("SELECT %(a)s", (1,))


def test_positional_placeholders_with_a_mapping() -> None:
    with pytest.raises(errors.ProgrammingError, match=r"positional placeholders .* not a mapping"):
        convert("SELECT %s", {"a": 1})


@pytest.mark.parametrize("params", [(1, 2), {"a": 1}])
def test_mixing_the_two_kinds(params: Any) -> None:
    with pytest.raises(errors.ProgrammingError, match=r"mixes positional .* and named"):
        convert("SELECT %s, %(a)s", params)


# -- what is refused ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT %d", r"only '%s', '%b', '%t' .* got '%d' at character 8"),
        ("SELECT %", "ends with a lone '%'"),
        ("SELECT 1 %'x'", r"got \"%'\""),
        ("SELECT %(a)d", r"got '%\(a\)d'"),
        ("SELECT %(a)", r"incomplete placeholder '%\(a\)'"),
        ("SELECT %(a", r"incomplete placeholder '%\(a'"),
        ("SELECT %()s", r"incomplete placeholder '%\(\)s'"),
    ],
)
@pytest.mark.parametrize("params", [(), {}])
def test_a_percent_that_is_no_placeholder(sql: str, message: str, params: Any) -> None:
    with pytest.raises(errors.ProgrammingError, match=message):
        convert(sql, params)


@pytest.mark.parametrize("params", [(1,), {"a": 1}])
def test_a_dollar_placeholder_next_to_pyformat_values(params: Any) -> None:
    sql = "SELECT $1, %s" if isinstance(params, tuple) else "SELECT $1, %(a)s"
    with pytest.raises(errors.ProgrammingError, match=r"\$1 placeholder \(at character 8\)"):
        convert(sql, params)
    with pytest.raises(errors.ProgrammingError, match=r"\$2 placeholder"):
        convert("SELECT 1 -- x\n+$2", ())


@pytest.mark.parametrize(
    "sql", ["SELECT '%s", 'SELECT "%s', "SELECT $$ %s", "SELECT /* %s", "SELECT E'\\' %s"]
)
def test_unterminated_text(sql: str) -> None:
    with pytest.raises(errors.ProgrammingError, match="leaves quoted text or a comment open"):
        convert(sql, (1,))


def test_none_leaves_the_text_alone() -> None:
    for sql in ["SELECT %d %%", "SELECT '%s", "SELECT $1 %", "SELECT %(a)s"]:
        assert convert(sql, None) == (sql, ())


@pytest.mark.parametrize("sql", [None, b"SELECT %s", 42, ["SELECT %s"]])
def test_sql_that_is_not_text(sql: Any) -> None:
    with pytest.raises(errors.InterfaceError, match="must be a str"):
        convert(sql, (1,))


def test_a_str_subclass_is_text() -> None:
    class Text(str):
        pass

    sql, values = convert(Text("SELECT %s"), (1,))
    assert type(sql) is str
    assert (sql, values) == ("SELECT $1", (1,))


@pytest.mark.parametrize("params", ["ab", b"ab", bytearray(b"ab"), 42, {1, 2}])
def test_parameters_that_are_neither_sequence_nor_mapping(params: Any) -> None:
    with pytest.raises(errors.ProgrammingError, match=r"sequence .* or a mapping"):
        convert("SELECT %s, %s", params)


def test_standard_conforming_strings_off_makes_backslash_an_escape() -> None:
    sql = "SELECT 'a\\' AS q, %s AS r --'"
    # Off: one string constant to the end, no placeholder in it.
    assert convert(sql, (), standard_conforming_strings=False) == (sql, ())
    assert convert(sql, (1,)) == ("SELECT 'a\\' AS q, $1 AS r --'", (1,))


def test_conversions_are_remembered_and_bounded() -> None:
    _pyformat._CONVERTED.clear()
    convert("SELECT %s", (1,))
    convert("SELECT %s", [2])
    assert list(_pyformat._CONVERTED) == [("SELECT %s", False, True)]
    convert("SELECT %(a)s", {"a": 1})
    convert("SELECT %s", (1,), standard_conforming_strings=False)
    assert len(_pyformat._CONVERTED) == 3
    for n in range(3000):
        assert convert(f"SELECT %s + {n}", (n,)) == (f"SELECT $1 + {n}", (n,))
    assert 0 < len(_pyformat._CONVERTED) <= 1024
    # A refused text is refused every time (nothing wrong is remembered).
    for _ in range(2):
        with pytest.raises(errors.ProgrammingError):
            convert("SELECT %d", ())
    # The remembered count still checks each call's values.
    with pytest.raises(errors.ProgrammingError, match="1 placeholder"):
        convert("SELECT %s", (1, 2))


def test_split() -> None:
    assert split("SELECT %s, '%s', %(a)s %%") == (["SELECT ", ", '%s', ", " %"], [None, "a"])


# -- statements built from pieces ---------------------------------------------------

_BODY = st.text(alphabet="%%%sdbt()ax$'\"\\-/*\n 1", max_size=12)


@st.composite
def _quoted(draw: st.DrawFn) -> tuple[str, str]:
    """A string constant the server reads whole, full of placeholder lookalikes: the
    pyformat text, and the value the server gives for it (each %% a percent sign)."""
    written = draw(_BODY)
    value = written.replace("%%", "%")
    kind = draw(st.sampled_from(["string", "estring", "uescape", "dollar"]))
    if kind == "string":
        return "'" + written.replace("'", "''") + "'", value
    if kind == "estring":
        return "E'" + written.replace("\\", "\\\\").replace("'", "\\'") + "'", value
    if kind == "uescape":
        return "U&'" + written.replace("\\", "\\\\").replace("'", "''") + "'", value
    tag = draw(st.sampled_from(["", "x", "fn"]))
    delimiter = f"${tag}$"
    if (written + delimiter).find(delimiter) != len(written):
        return "'plain'", "plain"
    return f"{delimiter}{written}{delimiter}", value


@st.composite
def _comment(draw: st.DrawFn) -> str:
    body = draw(_BODY)
    if draw(st.booleans()):
        return "--" + body.replace("\n", " ") + "\n"
    if "/*" in body or "*/" in body or body.endswith(("/", "*")) or body.startswith("*"):
        return "/* x */"
    return f"/* a /* {body} */ b */"


class Case(NamedTuple):
    """A statement built from pieces, and what it should become."""

    sql: str  # with %s placeholders
    values: list[Any]
    expected: str  # the $n text
    row: list[Any]  # what the server returns
    columns: list[str]
    named_sql: str  # the same statement with %(name)s placeholders
    mapping: dict[str, Any]


@st.composite
def _statement(draw: st.DrawFn) -> Case:
    """SELECT of quoted lookalikes (with comments and quoted aliases), %% operators
    and real placeholders."""
    items = draw(
        st.lists(
            st.one_of(_quoted(), st.sampled_from(["%s", "%b", "%t"]), st.just("%%")), max_size=8
        )
    )
    written: list[str] = []
    converted: list[str] = []
    named: list[str] = []
    case = Case("", [], "", [], [], "", {})
    for n, item in enumerate(items, 1):
        value: object
        alias = f'"c{n}%%s"' if draw(st.booleans()) else f"c{n}"
        comment = draw(_comment()) if draw(st.booleans()) else ""
        if isinstance(item, tuple):
            text, value = item
            written.append(f"{text}::text {comment}AS {alias}")
            converted.append(f"{text.replace('%%', '%')}::text ")
            named.append(written[-1])
        elif item == "%%":
            written.append(f"7 %% 4 {comment}AS {alias}")
            converted.append("7 % 4 ")
            named.append(written[-1])
            value = 3
        else:
            value = draw(st.text(alphabet="%s()'$x", max_size=4))
            case.values.append(value)
            case.mapping[f"p{n}"] = value
            written.append(f"{item}::text {comment}AS {alias}")
            converted.append(f"${len(case.values)}::text ")
            named.append(f"%(p{n}){item[1]}::text {comment}AS {alias}")
        converted[-1] += comment.replace("%%", "%") + "AS " + alias.replace("%%", "%")
        case.row.append(value)
        case.columns.append(alias.strip('"').replace("%%", "%"))
    if not items:
        written = converted = named = ["1 AS c"]
        case.row.append(1)
        case.columns.append("c")
    return case._replace(
        sql="SELECT " + ", ".join(written),
        expected="SELECT " + ", ".join(converted),
        named_sql="SELECT " + ", ".join(named),
    )


@settings(max_examples=400)
@given(_statement())
def test_pieces_convert_as_expected(case: Case) -> None:
    assert convert(case.sql, case.values) == (case.expected, tuple(case.values))
    assert convert(case.named_sql, case.mapping) == (case.expected, tuple(case.values))


@pytest.fixture(scope="module")
def conn(pg_server: TemporaryPostgres) -> Iterator[pgpipe.Connection]:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as c:
        yield c


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_statement())
def test_pieces_run_on_the_server(conn: pgpipe.Connection, case: Case) -> None:
    pairs: list[tuple[str, Sequence[object] | Mapping[str, object]]] = [
        (case.sql, case.values),
        (case.named_sql, case.mapping),
    ]
    for pyformat, params in pairs:
        sql, values = convert(pyformat, params)
        result = conn.query(sql, *values)
        assert list(result.rows[0]) == case.row
        assert [column.name for column in result.columns] == case.columns


def test_psycopg_style_statements_on_both_adapters(adapter: Adapter, dsn: str) -> None:
    client = adapter.connect(dsn)
    sql, values = convert(
        "SELECT %s::text LIKE 'a%%' AS a, %s::text LIKE 'a%%' AS b, "
        "'100%%' AS pct, 7 %% %(x)s AS mod".replace("%(x)s", "%s"),
        ("abc", "bc", 4),
    )
    result = client.query(sql, *values)
    assert result.rows == [(True, False, "100%", 3)]
    sql, values = convert(
        "SELECT %(name)s::text AS a, %(name)s::text || '%%s' AS b, %(n)s::int AS c "
        "-- %(missing)s is a comment",
        {"name": "x", "n": 5, "other": 1},
    )
    assert client.query(sql, *values).rows == [("x", "x%s", 5)]


# -- psycopg's own conversion -------------------------------------------------------

_COMMON = ["%%", " ", ",", "+", "1", "x", "(", ")", " ", "1"]
# Added at the end: unknown conversions, and (with the other kind) mixed kinds or one
# value too few.
_REFUSED = ["%d", "%(a)d", "%)", "%s", "%(b)t"]
_CODE = st.sampled_from(["%s", "%b", "%t"]).flatmap(
    lambda placeholder: st.lists(st.sampled_from([placeholder] * 4 + _COMMON), max_size=12)
) | st.sampled_from(["%(a)s", "%(b)t"]).flatmap(
    lambda placeholder: st.lists(st.sampled_from([placeholder] * 4 + _COMMON), max_size=12)
)


@settings(max_examples=500)
@given(_CODE, st.sampled_from([0, 0, 0, 0, 1, -1]), st.lists(st.sampled_from(_REFUSED), max_size=1))
def test_the_conversion_psycopg_makes(pieces: list[str], off: int, refused: list[str]) -> None:
    """Text without quotes converts as psycopg converts it, or both refuse it
    (mostly given as many values as it has placeholders)."""
    sql = "".join(pieces + refused)
    positional = sum(piece in ("%s", "%b", "%t") for piece in pieces)
    params: Any = (
        {"a": "A", "b": "B", "c": "C"}
        if positional == 0 and off == 0
        else tuple(f"v{n}" for n in range(max(0, positional + off)))
    )
    psycopg_queries = pytest.importorskip("psycopg._queries")
    adapt = pytest.importorskip("psycopg.adapt")
    query = psycopg_queries.PostgresQuery(adapt.Transformer())
    try:
        query.convert(sql, params)
    except Exception as refusal:
        assert type(refusal).__name__ in ("ProgrammingError", "TypeError")
        with pytest.raises(errors.ProgrammingError):
            convert(sql, params)
        return
    # Text values: psycopg's dumped parameters are their UTF-8 bytes.
    assert convert(sql, params) == (
        query.query.decode(),
        tuple(bytes(value).decode() for value in query.params),
    )


def test_psycopg_runs_the_same_statements(
    pg_server: TemporaryPostgres, conn: pgpipe.Connection
) -> None:
    psycopg = pytest.importorskip("psycopg")
    statements: list[tuple[str, Any]] = [
        ("SELECT %s::int + %s::int, 7 %% 4, 'a%%b'", (1, 2)),
        ("SELECT %(a)s::text || %(a)s::text, %(b)s::int, '%%'", {"a": "x", "b": 3, "c": 4}),
        ("SELECT 'x' LIKE 'x%%', %t::text, %b::int", ("t", 5)),
        ('SELECT 1 AS "a%%b" -- comment %%', ()),
    ]
    with psycopg.connect(pg_server.dsn(dbname="pgpipe")) as other:
        for sql, params in statements:
            cursor = other.execute(sql, params)
            expected_rows = cursor.fetchall()
            expected_columns = [column.name for column in cursor.description]
            converted, values = convert(sql, params)
            result = conn.query(converted, *values)
            assert [tuple(row) for row in result.rows] == expected_rows, sql
            assert [column.name for column in result.columns] == expected_columns, sql
