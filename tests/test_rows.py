"""Result helpers (scalar, one, first) and row factories (pgpipe.rows).

Against the real PostgreSQL through both adapters (a connection's
``row_factory`` here; the adapters' ``row_factory=`` keywords in
tests/test_api.py); every command's own row factory through the Session API
itself, driven over a socket here (``RawSession``); and the factories
alone, on Column tuples.
"""

from __future__ import annotations

import dataclasses
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

import pgpipe
from pgpipe import errors
from pgpipe._operations import Operation
from pgpipe._run import RECEIVE, Run
from pgpipe._session import Session
from pgpipe.conninfo import parse_dsn
from pgpipe.result import Column, Result, Results
from pgpipe.rows import RowFactory, class_row, dict_row, namedtuple_row, tuple_row
from tests.clients import Adapter, Client

ROOT = Path(__file__).resolve().parent.parent
_Op = TypeVar("_Op", bound=Operation)

ID_NAME = (Column("id", 23), Column("name", 25))


@dataclasses.dataclass
class Item:
    id: int
    name: str


class Plain:
    """Not a dataclass: any class taking the column names as keywords."""

    def __init__(self, *, id: int, name: str) -> None:
        self.id = id
        self.name = name


@pytest.fixture
def conn(adapter: Adapter, dsn: str) -> Client:
    return adapter.connect(dsn)


@pytest.fixture
def dict_conn(conn: Client) -> Client:
    conn.conn.row_factory = dict_row
    return conn


class RawSession:
    """A Session driven over a plain socket by the test itself: the Session API
    with no adapter in between."""

    def __init__(self, dsn: str) -> None:
        params = parse_dsn(dsn, {}, {})
        self.sock = socket.create_connection((params.host, params.port), timeout=30)
        self.session = Session(params, secrets.token_urlsafe(24))
        self.run(self.session.startup()).check()

    def run(self, op: _Op) -> _Op:
        """Send what the session queued and feed ``op`` until it is done (through
        pgpipe._run.Run, the loop both adapters use, without their I/O)."""
        session = self.session
        run = Run(session, op)
        while run.step(0.0) == RECEIVE:
            data = session.data_to_send()
            while data:
                self.sock.sendall(data)
                data = session.data_to_send()
            session.receive_data(self.sock.recv(65536))
        return run.outcome()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(dsn: str) -> Iterator[RawSession]:
    session = RawSession(dsn)
    yield session
    session.close()


def assert_in_sync(conn: Client) -> None:
    conn.conn.row_factory = None
    assert conn.query("SELECT $1::text, 7", "next").rows == [("next", 7)]
    assert conn.transaction_status == "I"


# -- the factories alone ------------------------------------------------------------


def test_tuple_row_gives_the_values_themselves() -> None:
    values = (1, "a")
    assert tuple_row(ID_NAME)(values) is values


def test_dict_row() -> None:
    assert dict_row(ID_NAME)((1, "a")) == {"id": 1, "name": "a"}
    # Of two columns named alike, the later one's value stays (as in psycopg).
    assert dict_row((Column("a", 23), Column("a", 23)))((1, 2)) == {"a": 2}
    assert dict_row(())(()) == {}


def test_namedtuple_row() -> None:
    row = namedtuple_row(ID_NAME)((1, "a"))
    assert row == (1, "a") and row.id == 1 and row.name == "a"
    assert type(row) is type(namedtuple_row(ID_NAME)((2, "b")))  # one class per column list
    odd = (Column("?column?", 23), Column("class", 23), Column("ok", 23), Column("ok", 23))
    assert namedtuple_row(odd)((1, 2, 3, 4))._fields == ("_0", "_1", "ok", "_3")


def test_class_row() -> None:
    assert class_row(Item)(ID_NAME)((1, "a")) == Item(1, "a")
    plain = class_row(Plain)(ID_NAME)((2, "b"))
    assert (plain.id, plain.name) == (2, "b")
    with pytest.raises(TypeError, match="unexpected keyword argument 'extra'"):
        class_row(Item)((*ID_NAME, Column("extra", 23)))((1, "a", 3))


# -- scalar, one, first on Results made by hand --------------------------------------


def test_helpers_on_results() -> None:
    two = Result([(1, "a"), (2, "b")], ID_NAME, "SELECT 2")
    none: Result = Result([], ID_NAME, "SELECT 0")
    assert (two.scalar(), two.first()) == (1, (1, "a"))
    assert (none.scalar(), none.first()) == (None, None)
    assert Result([(None, "a")], ID_NAME, "SELECT 1").scalar() is None
    assert Result([(5, "a")], ID_NAME, "SELECT 1").one() == (5, "a")
    with pytest.raises(errors.NoRows, match=r"exactly one row; the statement \(SELECT 0\)"):
        none.one()
    with pytest.raises(errors.MultipleRows, match=r"\(SELECT 2\) returned 2"):
        two.one()
    # With a row factory, scalar() reads the first row's values as decoded.
    made = Result([{"a": 2}], (Column("a", 23), Column("a", 23)), "SELECT 1", (1, 2))
    assert made.scalar() == 1
    with pytest.raises(errors.ResultShapeError, match=r"needs a column.*RETURNING"):
        Result([], (), "INSERT 0 1").scalar()


def test_result_is_generic_at_run_time_too() -> None:
    made = Result[dict[str, Any]]([{"id": 1}], ID_NAME[:1], "SELECT 1")
    assert type(made) is Result and made.one() == {"id": 1}
    assert Results[Any](["SELECT 1"], ID_NAME[:1], {0: made})[0] is made


def test_the_shape_errors_are_programming_errors() -> None:
    assert issubclass(errors.NoRows, errors.ResultShapeError)
    assert issubclass(errors.MultipleRows, errors.ResultShapeError)
    assert issubclass(errors.ResultShapeError, errors.ProgrammingError)
    assert errors.NoRows("x").code is None  # raised by the client, no SQLSTATE


def test_results_scalars() -> None:
    returned = {1: Result([(7,)], (Column("id", 23),), "INSERT 0 1")}
    results: Results = Results(["INSERT 0 0", "INSERT 0 1"], (Column("id", 23),), returned)
    assert results.scalars() == [None, 7]
    assert Results([], (), {}).scalars() == []
    with pytest.raises(errors.ResultShapeError, match=r"\(INSERT 0 1\) returned none"):
        Results(["INSERT 0 1"], (), {}).scalars()


# -- scalar, one, first against the server -------------------------------------------


def test_scalar(conn: Client) -> None:
    assert conn.query("SELECT 41 + 1, 'x'").scalar() == 42
    assert conn.query("SELECT 1 FROM generate_series(1, 0)").scalar() is None  # no row
    assert conn.query("SELECT NULL::int4, 'x'").scalar() is None  # a NULL
    assert conn.query("SELECT g FROM generate_series(3, 5) g").scalar() == 3
    with pytest.raises(errors.ResultShapeError, match=r"scalar\(\) needs a column.*RETURNING"):
        conn.query("SET application_name = 'rows'").scalar()
    assert_in_sync(conn)


def test_one(conn: Client) -> None:
    assert conn.query("SELECT 1, 'a'").one() == (1, "a")
    with pytest.raises(errors.NoRows, match=r"one\(\) expected exactly one row.*\(SELECT 0\)"):
        conn.query("SELECT 1 FROM generate_series(1, 0)").one()
    with pytest.raises(errors.MultipleRows, match=r"\(SELECT 2\) returned 2"):
        conn.query("SELECT generate_series(1, 2)").one()
    with pytest.raises(errors.ProgrammingError):
        conn.query("SELECT generate_series(1, 2)").one()
    assert_in_sync(conn)


def test_first(conn: Client) -> None:
    assert conn.query("SELECT generate_series(4, 6)").first() == (4,)
    assert conn.query("SELECT 1 FROM generate_series(1, 0)").first() is None
    (result,) = conn.execute("SELECT 'x' WHERE false")
    assert result.first() is None and result.scalar() is None


def test_executemany_scalars(conn: Client) -> None:
    conn.execute("CREATE TEMP TABLE ids (id serial, v int)")
    results = conn.executemany(
        "INSERT INTO ids (v) SELECT $1::int WHERE $1::int > 0 RETURNING id", [(5,), (0,), (6,)]
    )
    assert results.scalars() == [1, None, 2]
    plain = conn.executemany("INSERT INTO ids (v) VALUES ($1)", [(1,), (2,)])
    with pytest.raises(errors.ResultShapeError, match="RETURNING"):
        plain.scalars()


# -- a connection's row factory (set on its session) --------------------------------


def test_dict_rows_from_every_command(dict_conn: Client) -> None:
    conn = dict_conn
    assert conn.query("SELECT 1 AS id, $1::text AS name", "a").rows == [{"id": 1, "name": "a"}]
    typed = conn.query_with_param_types("SELECT $1 AS n", [(5, pgpipe.Type.INT4)])
    assert typed.one() == {"n": 5} and typed.scalar() == 5
    (first, second) = conn.execute("SELECT 1 AS a; SELECT 'b' AS b, 2 AS c")
    assert first.rows == [{"a": 1}] and second.rows == [{"b": "b", "c": 2}]
    many = conn.executemany("SELECT $1::int AS v, 'x' AS w", [(1,), (2,)])
    assert [r.one() for r in many] == [{"v": 1, "w": "x"}, {"v": 2, "w": "x"}]
    assert many.scalars() == [1, 2]
    assert_in_sync(conn)


def test_dict_rows_on_a_statement_second_run(dict_conn: Client) -> None:
    # The first run reads text results, the second binary: made alike.
    sql = "SELECT g AS n, g::text AS t, now() > '2000-01-01' AS later FROM generate_series(1, 3) g"
    first = dict_conn.query(sql)
    second = dict_conn.query(sql)
    assert first.rows == second.rows == [{"n": n, "t": str(n), "later": True} for n in (1, 2, 3)]


def test_dict_rows_across_decode_batches(dict_conn: Client) -> None:
    # More rows than one decoding batch (1024): each batch made, the first row kept.
    result = dict_conn.query("SELECT g AS n, g * 2 AS m FROM generate_series(1, 2500) g")
    assert result.rows == [{"n": g, "m": g * 2} for g in range(1, 2501)]
    assert result.scalar() == 1 and result.first() == {"n": 1, "m": 2}


def test_scalar_reads_the_first_column_of_a_made_row(dict_conn: Client) -> None:
    # dict_row keeps the later of two columns named alike; scalar() the first column.
    result = dict_conn.query("SELECT 1 AS a, 2 AS a")
    assert result.rows == [{"a": 2}] and result.scalar() == 1
    assert dict_conn.query("SELECT NULL::int AS a, 2 AS b").scalar() is None
    with pytest.raises(errors.NoRows):
        dict_conn.query("SELECT 1 AS a WHERE false").one()
    assert dict_conn.query("SELECT 1 AS a WHERE false").first() is None


def test_dict_rows_from_a_prepared_statement(dict_conn: Client) -> None:
    with dict_conn.prepare("SELECT $1::int AS n, 'p' AS p") as prepared:
        assert prepared.query(3).rows == [{"n": 3, "p": "p"}]
        assert prepared.query(4, row_factory=tuple_row).rows == [(4, "p")]


def test_dict_rows_from_a_stream(dict_conn: Client) -> None:
    sql = "SELECT g AS n FROM generate_series(1, 25) g"
    with dict_conn.stream(sql, batch_size=10) as rows:
        assert list(rows) == [{"n": n} for n in range(1, 26)]
    # Its own row factory, batch after batch (made once, at the first).
    with dict_conn.stream(sql, batch_size=10, row_factory=namedtuple_row) as rows:
        assert [row.n for row in rows] == list(range(1, 26))
    with dict_conn.stream(sql, batch_size=10, row_factory=tuple_row) as rows:
        assert list(rows) == [(n,) for n in range(1, 26)]
    assert_in_sync(dict_conn)


def test_dict_rows_from_a_pipeline(dict_conn: Client) -> None:
    # A pipeline's statements take the connection's row factory as it is when
    # the pipeline is sent, at the end of its block.
    with dict_conn.pipeline() as p:
        dict_conn.conn.row_factory = None
        a = p.query("SELECT 1 AS a")
        b = p.execute("SELECT 2 AS b")
        dict_conn.conn.row_factory = dict_row
    assert a.result().rows == [{"a": 1}]
    assert [r.rows for r in b.result()] == [[{"b": 2}]]


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (tuple_row, (1, "a")),
        (namedtuple_row, (1, "a")),
        (class_row(Item), Item(1, "a")),
    ],
    ids=["tuple_row", "namedtuple_row", "class_row"],
)
def test_each_factory_on_a_connection(
    conn: Client, factory: RowFactory[Any], expected: Any
) -> None:
    conn.conn.row_factory = factory
    result = conn.query("SELECT 1 AS id, 'a' AS name")
    assert result.one() == expected and result.scalar() == 1
    if factory is namedtuple_row:
        assert result.one().name == "a"


def test_a_failing_row_factory_is_an_interface_error(conn: Client) -> None:
    conn.conn.row_factory = class_row(Item)
    with pytest.raises(
        errors.InterfaceError, match=r"make a row of the columns \(id, other\).*TypeError"
    ) as info:
        conn.query("SELECT 1 AS id, 2 AS other")
    assert isinstance(info.value.__cause__, TypeError)

    def refuses(columns: tuple[Column, ...]) -> Any:
        raise ValueError("no such shape")

    conn.conn.row_factory = refuses
    with pytest.raises(errors.InterfaceError, match=r"factory .*refuses failed on the columns"):
        conn.query("SELECT 1 AS id")
    # No row, no maker: the factory is not called.
    assert conn.query("SELECT 1 AS id WHERE false").rows == []
    conn.conn.row_factory = "dict"
    with pytest.raises(errors.InterfaceError, match="row_factory is a function of the columns"):
        conn.query("SELECT 1")
    assert_in_sync(conn)


def test_a_failing_row_factory_in_executemany_and_a_stream(conn: Client) -> None:
    conn.conn.row_factory = class_row(Item)
    with pytest.raises(errors.InterfaceError, match=r"columns \(id, other\)"):
        conn.executemany("SELECT $1::int AS id, 2 AS other", [(1,), (2,)])
    sql = "SELECT g AS id, 2 AS other FROM generate_series(1, 30) g"
    with (
        pytest.raises(errors.InterfaceError, match=r"columns \(id, other\)"),
        conn.stream(sql, batch_size=10) as rows,
    ):
        list(rows)
    assert_in_sync(conn)


# -- a command's own row factory, through the Session API ---------------------------


def test_per_call_factory_on_every_session_command(raw: RawSession) -> None:
    s = raw.session
    query = raw.run(s.query("SELECT $1::int AS n", [1], row_factory=dict_row)).result()
    assert query.rows == [{"n": 1}]
    typed = raw.run(
        s.query_with_param_types("SELECT $1 AS n", [(2, pgpipe.Type.INT4)], row_factory=dict_row)
    ).result()
    assert typed.rows == [{"n": 2}]
    (script,) = raw.run(s.execute("SELECT 3 AS n", row_factory=namedtuple_row)).result()
    assert script.one().n == 3
    many = raw.run(s.executemany("SELECT $1::int AS n", [(4,), (5,)], row_factory=dict_row))
    assert [r.rows for r in many.result()] == [[{"n": 4}], [{"n": 5}]]
    prepared = raw.run(s.prepare("SELECT $1::int AS n", None)).result()
    run = raw.run(s.run_prepared(prepared, [6], row_factory=class_row(dict)))
    assert run.result().rows == [{"n": 6}]
    stream = s.stream("SELECT generate_series(7, 9) AS n", [], 10, row_factory=dict_row)
    raw.run(stream)
    assert stream.rows() == [{"n": 7}, {"n": 8}, {"n": 9}]
    assert stream.done
    staged = raw.run(s.staged_query("SELECT $1::int AS n", [10], row_factory=dict_row)(True))
    assert staged.result().rows == [{"n": 10}]  # type: ignore[attr-defined]
    # No row factory named: tuples, the session's default.
    assert raw.run(s.query("SELECT 11", [])).result().rows == [(11,)]


def test_per_call_factory_overrides_the_session_default(raw: RawSession) -> None:
    s = raw.session
    s.row_factory = dict_row
    assert raw.run(s.query("SELECT 1 AS n", [])).result().rows == [{"n": 1}]
    assert raw.run(s.query("SELECT 1 AS n", [], row_factory=tuple_row)).result().rows == [(1,)]
    made = raw.run(s.query("SELECT 1 AS n", [], row_factory=namedtuple_row)).result()
    assert made.one().n == 1
    # The default is read when a command is queued, not when its answer comes.
    op = s.query("SELECT 2 AS n", [])
    s.row_factory = None
    assert raw.run(op).result().rows == [{"n": 2}]
    assert raw.run(s.query("SELECT 2 AS n", [])).result().rows == [(2,)]


def test_factory_of_a_statement_prepared_again(raw: RawSession) -> None:
    # A cached statement that vanished from the server is prepared again and its
    # rows are read afresh: made by the factory once, not twice.
    s = raw.session
    sql = "SELECT $1::int AS n"
    raw.run(s.query(sql, [1])).result()
    raw.run(s.execute("DEALLOCATE ALL")).result()
    assert raw.run(s.query(sql, [2], row_factory=dict_row)).result().rows == [{"n": 2}]


# -- typing ---------------------------------------------------------------------------


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    """mypy --strict on these lines alone: pgpipe's own errors are its own check's.

    Each run has a cache of its own: two mypy processes writing one cache at
    once (these tests on two workers) can leave it unreadable, and mypy then
    crashes instead of checking."""
    with tempfile.TemporaryDirectory() as cache:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--strict",
                "--follow-imports=silent",
                f"--cache-dir={cache}",
                *args,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )


def test_mypy_knows_the_row_types() -> None:
    done = mypy(str(ROOT / "tests" / "typing_rows.py"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_refuses_a_dict_row_taken_for_a_tuple() -> None:
    source = (
        "from typing import Any\n"
        "from pgpipe.result import Column, Result\n"
        "from pgpipe.rows import dict_row\n"
        "make = dict_row((Column('a', 23),))\n"
        "result = Result([make((1,))], (), 'SELECT 1')\n"
        "row: tuple[Any, ...] = result.one()\n"
    )
    done = mypy("-c", source)
    assert done.returncode == 1
    assert 'expression has type "dict[str, Any]", variable has type "tuple[Any, ...]"' in (
        done.stdout
    )
