"""Pipelines and executemany against a real server: results, isolation modes, round trips."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import errors
from pgpipe._pipeline import _FIRST_PART as FIRST_PART
from pgpipe._session import _MANY_CHUNK as MANY_CHUNK
from pgpipe._session import _MANY_FIRST_CHUNK as MANY_FIRST_CHUNK
from pgpipe.proxy import FlightCounter
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client
from tests.targets import Target, pooled


@pytest.fixture
def proxy(pg_server: TemporaryPostgres) -> Iterator[FlightCounter]:
    with FlightCounter(pg_server.host, pg_server.port) as counter:
        yield counter


@pytest.fixture
def client(adapter: Adapter, dsn: str) -> Client:
    return adapter.connect(dsn)


@pytest.fixture
def counted(adapter: Adapter, proxy: FlightCounter) -> Client:
    client = adapter.connect(
        host="127.0.0.1", port=proxy.port, user="postgres", dbname="pgpipe", sslmode="disable"
    )
    client.query("SELECT 1")
    proxy.reset()
    return client


@pytest.fixture
def table(client: Client) -> Iterator[str]:
    name = f"p_{uuid.uuid4().hex[:12]}"
    client.execute(f"CREATE TABLE {name} (n int PRIMARY KEY, label text)")
    yield name
    if not client.closed:
        client.execute(f"DROP TABLE {name}")


def run(client: Client, mode: str, build: object, timeout: float | None = None) -> None:
    """Run a pipeline through either adapter: ``build(p)`` queues the commands."""
    with client.pipeline(mode, timeout=timeout) as p:
        build(p)  # type: ignore[operator]


def count(client: Client, table: str) -> int:
    (n,) = client.query(f"SELECT count(*) FROM {table}").rows[0]
    return int(n)


def test_independent_pipeline_results_in_order(client: Client) -> None:
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        handles.append(p.query("SELECT $1::int + 1", 41))
        handles.append(p.query_with_param_types("SELECT $1", [("x", pgpipe.Type.TEXT)]))
        handles.append(p.execute("SELECT 1; SELECT 2"))
        handles.append(p.query("SELECT g FROM generate_series(1, 3000) g"))
        assert not handles[0].done

    run(client, "independent", build)
    first, second, script, many = (h.result() for h in handles)
    assert first.rows == [(42,)]  # type: ignore[attr-defined]
    assert second.rows == [("x",)]  # type: ignore[attr-defined]
    assert [r.rows for r in script] == [[(1,)], [(2,)]]  # type: ignore[attr-defined]
    assert many.rows == [(g,) for g in range(1, 3001)]  # type: ignore[attr-defined]


def test_independent_failure_does_not_touch_the_others(client: Client, table: str) -> None:
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        handles.append(p.query(f"INSERT INTO {table} VALUES (1, 'a')"))
        handles.append(p.query(f"INSERT INTO {table} VALUES (1, 'again')"))
        handles.append(p.query(f"INSERT INTO {table} VALUES (2, 'b')"))

    run(client, "independent", build)
    assert handles[0].result().command == "INSERT"  # type: ignore[attr-defined]
    with pytest.raises(errors.UniqueViolation):
        handles[1].result()
    assert handles[2].result().rowcount == 1  # type: ignore[attr-defined]
    assert count(client, table) == 2
    assert client.transaction_status == "I"


def test_atomic_pipeline_is_all_or_nothing(client: Client, table: str) -> None:
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        for n in (1, 2, 2, 3):
            handles.append(p.query(f"INSERT INTO {table} VALUES ($1, 'x')", n))

    run(client, "atomic", build)
    with pytest.raises(errors.UniqueViolation):
        handles[2].result()
    with pytest.raises(errors.PipelineAborted, match=r"skipped.*UniqueViolation"):
        handles[3].result()
    assert count(client, table) == 0  # the first two were rolled back with the rest
    assert client.transaction_status == "I"

    handles.clear()

    def build_ok(p: pgpipe.Pipeline) -> None:
        handles.extend(p.query(f"INSERT INTO {table} VALUES ($1, 'x')", n) for n in (1, 2, 3))

    run(client, "atomic", build_ok)
    assert [h.result().rowcount for h in handles] == [1, 1, 1]  # type: ignore[attr-defined]
    assert count(client, table) == 3


@pytest.mark.parametrize("mode", ["independent", "atomic"])
def test_a_value_that_cannot_be_encoded_sends_nothing(
    client: Client, table: str, mode: str
) -> None:
    # The second statement fails while the pipeline is queued: nothing is
    # sent, and the next command gets its own answer, not the first statement's.
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        handles.append(p.query(f"INSERT INTO {table} VALUES (1, 'a') RETURNING n"))
        handles.append(p.query(f"INSERT INTO {table} VALUES ($1, 'b')", Unencodable()))
        handles.append(p.query(f"INSERT INTO {table} VALUES (3, 'c')"))

    flights = client.stats.flights
    with pytest.raises(pgpipe.DataError, match="cannot adapt"):
        run(client, mode, build)
    assert client.stats.flights == flights
    assert client.query("SELECT 'mine'").rows == [("mine",)]
    assert count(client, table) == 0
    assert [repr(h) for h in handles] == ["<pgpipe.Pending failed>"] * 3
    with pytest.raises(pgpipe.DataError, match="cannot adapt"):
        handles[1].result()
    for handle in (handles[0], handles[2]):
        with pytest.raises(errors.PipelineAborted, match="not sent: statement 2"):
            handle.result()
    assert client.transaction_status == "I"


def test_a_failed_queueing_leaves_the_statement_cache_as_it_was(adapter: Adapter, dsn: str) -> None:
    # The cache holds one statement: queueing a second one evicts the first
    # (its Close is queued) before the failure. Both must be put back: the
    # first still prepared on the server, the second not thought prepared.
    client = adapter.connect(dsn, statement_cache_size=1)
    assert client.query("SELECT 1::int").rows == [(1,)]

    def build(p: pgpipe.Pipeline) -> None:
        p.query("SELECT 2::int")
        p.query("SELECT $1", Unencodable())

    with pytest.raises(pgpipe.DataError):
        run(client, "independent", build)
    with client.transaction():  # no re-prepare possible in here
        assert client.query("SELECT 2::int").rows == [(2,)]
    with client.transaction():
        assert client.query("SELECT 1::int").rows == [(1,)]
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


@pytest.mark.session_state("DEALLOCATE ALL must reach the session holding the statements")
@pytest.mark.not_through(
    "pgpool",
    "pgpool-II 4.3 tracks named statements itself and answers a Bind after DEALLOCATE "
    "ALL with its own error (XX000 'unable to bind'), not 26000",
)
def test_vanished_cached_statements_in_a_pipeline_keep_every_answer_its_own(
    adapter: Adapter, dsn: str
) -> None:
    # As if a pooler had moved the session: the cached statements are gone.
    # A retry in the middle of a pipeline would be answered after the later
    # statements, so there the error stands; the last one can be retried.
    client = adapter.connect(dsn, statement_cache_size=4)
    assert client.query("SELECT $1::int + 1", 1).rows == [(2,)]
    assert client.query("SELECT $1::int * 10", 1).rows == [(10,)]
    client.execute("DEALLOCATE ALL")
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        handles.append(p.query("SELECT $1::int + 1", 5))
        handles.append(p.query("SELECT 'x'"))
        handles.append(p.query("SELECT $1::int * 10", 7))
        handles.append(p.query("SELECT $1::int + 1", 8))

    run(client, "independent", build)
    for index in (0, 2):
        with pytest.raises(errors.InvalidSqlStatementName, match="middle of a pipeline"):
            handles[index].result()
    assert handles[1].result().rows == [("x",)]  # type: ignore[attr-defined]
    assert handles[3].result().rows == [(9,)]  # type: ignore[attr-defined]
    # Forgotten, so prepared again (in the same packet) from now on.
    assert client.query("SELECT $1::int * 10", 3).rows == [(30,)]
    with client.transaction():
        assert client.query("SELECT $1::int + 1", 4).rows == [(5,)]
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


@pytest.mark.parametrize("mode", ["independent", "atomic"])
def test_pipeline_timeout_cancels_one_statement_and_says_so(
    client: Client, table: str, mode: str
) -> None:
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        handles.append(p.query(f"INSERT INTO {table} VALUES (1, 'a') RETURNING n"))
        handles.append(p.query("SELECT pg_sleep(10)"))
        handles.append(p.query(f"INSERT INTO {table} VALUES (3, 'c') RETURNING n"))

    # A cancel names no statement: it stops whichever runs when it arrives. The
    # timeout leaves the first INSERT two seconds, and the sleep runs far longer
    # than that. (A 0.2 s timeout, and once a 1 s one, were overtaken on a loaded
    # CI machine through PgBouncer, whose server connection may still have to be
    # opened: a query first has it opened and back in the pool.)
    assert client.query("SELECT 1").rows == [(1,)]
    with pytest.raises(errors.QueryTimeout, match=r"pipeline timed out.*a statement was cancelled"):
        run(client, mode, build, timeout=2.0)
    with pytest.raises(errors.QueryCanceled):
        handles[1].result()
    if mode == "independent":  # the others ran, each in its own transaction
        assert [handles[i].result().rows for i in (0, 2)] == [[(1,)], [(3,)]]  # type: ignore[attr-defined]
        assert count(client, table) == 2
    else:  # one transaction: rolled back, the last one skipped
        assert handles[0].result().rows == [(1,)]  # type: ignore[attr-defined]
        with pytest.raises(errors.PipelineAborted):
            handles[2].result()
        assert count(client, table) == 0
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


@pytest.mark.parametrize("mode", ["independent", "atomic"])
def test_long_pipeline_queued_in_parts(client: Client, table: str, mode: str) -> None:
    # More statements than the first part: the rest are queued as they are
    # sent. One fails early; an atomic pipeline queues no more after it.
    total, bad = FIRST_PART * 3 + 7, 5
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        for n in range(total):
            value = 0 if n == bad else n + 1
            handles.append(
                p.query(f"INSERT INTO {table} VALUES ($1, 'x') RETURNING 1000 / $1", value)
            )

    run(client, mode, build)
    with pytest.raises(errors.DivisionByZero):
        handles[bad].result()
    if mode == "independent":
        rows = [h.result().rows for i, h in enumerate(handles) if i != bad]  # type: ignore[attr-defined]
        assert rows == [[(1000 // (n + 1),)] for n in range(total) if n != bad]
        assert count(client, table) == total - 1
    else:
        for handle in handles[bad + 1 :]:
            with pytest.raises(errors.PipelineAborted):
                handle.result()
        assert count(client, table) == 0
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


def test_long_pipeline_with_a_value_that_cannot_be_encoded_late(client: Client) -> None:
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        handles.extend(p.query("SELECT $1::int", n) for n in range(FIRST_PART * 2))
        handles.append(p.query("SELECT $1", Unencodable()))

    flights = client.stats.flights
    with pytest.raises(pgpipe.DataError):
        run(client, "independent", build)
    assert client.stats.flights == flights  # values are encoded before anything is sent
    with pytest.raises(errors.PipelineAborted, match="not sent"):
        handles[0].result()
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


def test_atomic_pipeline_refuses_execute(client: Client) -> None:
    def build(p: pgpipe.Pipeline) -> None:
        with pytest.raises(pgpipe.InterfaceError, match="atomic"):
            p.execute("SELECT 1")
        p.query("SELECT 1")

    run(client, "atomic", build)


def test_pipelines_inside_an_explicit_transaction(client: Client, table: str) -> None:
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        handles.append(p.query(f"INSERT INTO {table} VALUES (1, 'a')"))
        handles.append(p.query("SELECT 1/0"))
        handles.append(p.query(f"INSERT INTO {table} VALUES (2, 'b')"))

    failed = pytest.raises(errors.InFailedSqlTransaction, match="nothing was committed")
    with failed, client.transaction():
        run(client, "independent", build)
        assert client.transaction_status == "E"
        with pytest.raises(errors.DivisionByZero):
            handles[1].result()
        # Independent mode inside a transaction: PostgreSQL fails what follows.
        with pytest.raises(errors.InFailedSqlTransaction):
            handles[2].result()
    assert count(client, table) == 0


def test_handles_before_the_pipeline_ran(client: Client) -> None:
    pending: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        pending.append(p.query("SELECT 1"))
        with pytest.raises(pgpipe.InterfaceError, match="not run yet"):
            pending[0].result()

    run(client, "independent", build)
    assert pending[0].result().rows == [(1,)]  # type: ignore[attr-defined]


def test_nothing_is_sent_when_the_block_raises(pg_server: TemporaryPostgres) -> None:
    conn = pgpipe.connect(pg_server.dsn(dbname="pgpipe"))
    before = conn.stats.flights
    with pytest.raises(RuntimeError), conn.pipeline() as p:
        handle = p.query("SELECT 1")
        raise RuntimeError
    assert conn.stats.flights == before
    with pytest.raises(pgpipe.errors.PipelineAborted, match="not sent: the pipeline's block"):
        handle.result()
    assert conn.query("SELECT 2").rows == [(2,)]
    with pytest.raises(pgpipe.InterfaceError, match="pipeline mode"):
        conn.pipeline("sometimes").__enter__()
    conn.close()


def test_flush_inside_the_block(pg_server: TemporaryPostgres) -> None:
    conn = pgpipe.connect(pg_server.dsn(dbname="pgpipe"))
    with conn.pipeline() as p:
        first = p.query("SELECT 1")
        p.flush()
        assert first.result().rows == [(1,)]
        second = p.query("SELECT 2")
    assert second.result().rows == [(2,)]
    conn.close()


@pytest.mark.parametrize("n", [1, 5, 200])
def test_a_pipeline_is_one_round_trip(counted: Client, proxy: FlightCounter, n: int) -> None:
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        handles.extend(p.query("SELECT $1::int, repeat('x', 50)", i) for i in range(n))

    run(counted, "independent", build)
    assert [h.result().rows[0][0] for h in handles] == list(range(n))  # type: ignore[attr-defined]
    assert (proxy.client_flights, proxy.round_trips) == (1, 1)
    proxy.reset()
    run(counted, "atomic", build)
    assert (proxy.client_flights, proxy.round_trips) == (1, 1)


def test_large_pipeline_does_not_deadlock(client: Client, table: str, target: Target) -> None:
    # Through PgBouncer every statement is a transaction of its own: fewer, for time.
    total = 20_000 if pooled(target) else 100_000
    handles: list[pgpipe.Pending[object]] = []

    def build(p: pgpipe.Pipeline) -> None:
        for n in range(total):
            handles.append(p.query(f"INSERT INTO {table} VALUES ($1, repeat('y', 20))", n))

    run(client, "independent", build)
    for handle in handles:
        handle.result()  # raises the first failure, if any
    assert not client.closed, client.closed_reason
    assert count(client, table) == total


# -- executemany ---------------------------------------------------------------------


def test_executemany_inserts_every_row(client: Client, table: str) -> None:
    rows = [(n, f"label {n}") for n in range(500)]
    results = client.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows)
    assert len(results) == 500
    assert {r.rowcount for r in results} == {1}
    assert client.query(f"SELECT n, label FROM {table} ORDER BY n").rows == rows


def test_executemany_returns_rows_and_handles_nulls(client: Client, table: str) -> None:
    rows = [(1, None), (2, "two"), (3, None)]
    results = client.executemany(
        f"INSERT INTO {table} VALUES ($1, $2) RETURNING n * 10, label", rows
    )
    assert [r.rows for r in results] == [[(10, None)], [(20, "two")], [(30, None)]]


def test_executemany_with_stated_types(client: Client) -> None:
    results = client.executemany(
        "SELECT $1 + 1",
        [(1,), (2,)],
        param_types=[pgpipe.Type.INT8],
    )
    assert [r.rows for r in results] == [[(2,)], [(3,)]]
    with pytest.raises(pgpipe.ProgrammingError, match=r"takes 1 parameter.*2 values"):
        client.executemany("SELECT $1", [(1, 2)], param_types=[23])
    assert client.query("SELECT 1").rows == [(1,)]


def test_executemany_with_changing_types(client: Client) -> None:
    # An int then a text then a float in the same column: a Parse for each run.
    results = client.executemany("SELECT $1::text", [(1,), (2,), ("x",), (2.5,), (None,)])
    assert [r.rows for r in results] == [[("1",)], [("2",)], [("x",)], [("2.5",)], [(None,)]]


def test_executemany_is_atomic(client: Client, table: str) -> None:
    with pytest.raises(errors.UniqueViolation):
        client.executemany(f"INSERT INTO {table} VALUES ($1, 'x')", [(1,), (2,), (1,)])
    assert count(client, table) == 0
    assert client.executemany("SELECT 1", []) == []


def test_executemany_results_are_a_sequence(client: Client, table: str) -> None:
    rows = [(n, f"label {n}") for n in range(600)]
    results = client.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows)
    assert isinstance(results, pgpipe.Results)
    assert (len(results), results.rowcount) == (600, 600)
    assert results[0].status == results[-1].status == "INSERT 0 1"
    assert results[-1] is results[599] is list(results)[599]
    assert [r.status for r in results[10:13]] == ["INSERT 0 1"] * 3
    assert results[::200] == [results[0], results[200], results[400]]
    with pytest.raises(IndexError):
        results[600]
    with pytest.raises(IndexError):
        results[-601]
    with pytest.raises(TypeError):
        results["1"]  # type: ignore[call-overload]
    assert "600 statements" in repr(results)


def test_executemany_results_of_rowless_runs_keep_their_columns(client: Client) -> None:
    # Rows 1 and 3 return nothing: their Results still name the columns.
    results = client.executemany(
        "SELECT $1::int AS n WHERE $1::int % 2 = 0", [(0,), (1,), (2,), (3,)]
    )
    assert [r.rows for r in results] == [[(0,)], [], [(2,)], []]
    assert [c.name for c in results[1].columns] == ["n"]
    assert results.rowcount == 2
    update = client.executemany("SET application_name = 'x'", [()])
    assert (update[0].status, update.rowcount) == ("SET", None)


def test_executemany_value_that_cannot_be_decoded_is_raised_by_the_call(client: Client) -> None:
    def refuse(text: str) -> object:
        raise ValueError("refused")

    client.register_type("jsonb", decode=refuse)
    with pytest.raises(pgpipe.DataError, match="refused"):
        client.executemany("SELECT $1::text::jsonb", [("1",), ("2",)])
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


@pytest.mark.parametrize("n", [1, 100, MANY_CHUNK])
def test_executemany_is_one_round_trip(counted: Client, proxy: FlightCounter, n: int) -> None:
    results = counted.executemany("SELECT $1::int", [(i,) for i in range(n)])
    assert [r.rows[0][0] for r in results] == list(range(n))
    assert (proxy.client_flights, proxy.round_trips) == (1, 1)


def test_executemany_error_while_rows_are_still_being_sent(client: Client, table: str) -> None:
    # Row 10 fails at once, while most of the 20,000 rows are still to be
    # encoded and sent: the server skips everything up to the Sync, and what
    # was sent after the error must not be waited for.
    rows = [(n, f"x{n}") for n in range(20_000)]
    sql = f"INSERT INTO {table} SELECT $1::int, $2::text WHERE 1 / ($1::int - 10) IS NOT NULL"
    with pytest.raises(errors.DivisionByZero):
        client.executemany(sql, rows)
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]
    assert count(client, table) == 0
    assert client.transaction_status == "I"
    # And again inside a transaction: the block fails as a whole.
    with pytest.raises(errors.DivisionByZero), client.transaction():
        client.executemany(sql, rows)
    assert client.query("SELECT 'still in sync'").rows == [("still in sync",)]


@pytest.mark.parametrize(
    "bad",
    [{"n": 1, "label": "x"}, "ab", b"ab", 7, None],
    ids=["dict", "str", "bytes", "int", "none"],
)
@pytest.mark.parametrize("at", [0, 700])
def test_executemany_rows_must_be_sequences(
    client: Client, table: str, bad: object, at: int
) -> None:
    # A str, bytes or dict would otherwise give its characters, bytes or keys as values.
    rows: list[object] = [(n, "x") for n in range(1000)]
    rows[at] = bad
    with pytest.raises(pgpipe.InterfaceError, match="must be a sequence of values"):
        client.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows)
    assert count(client, table) == 0  # a late one fails the batch: nothing is committed
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


@pytest.mark.parametrize("rows", [5, "ab", {"a": (1,)}, None], ids=["int", "str", "dict", "none"])
def test_executemany_takes_an_iterable_of_rows(client: Client, rows: object) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="iterable of rows"):
        client.executemany("SELECT $1", rows)
    generated = client.executemany("SELECT $1::int", ((n,) for n in range(3)))
    assert [r.rows for r in generated] == [[(0,)], [(1,)], [(2,)]]


class Unencodable:
    """A parameter value no encoder takes."""


@pytest.mark.parametrize("bad", [MANY_FIRST_CHUNK, 2200])
def test_executemany_bad_value_in_a_later_chunk_commits_nothing(
    client: Client, table: str, bad: int
) -> None:
    rows: list[tuple[object, str]] = [(n, "x") for n in range(2500)]
    rows[bad] = (Unencodable(), "x")  # after the first chunk (or several) went out
    with pytest.raises(pgpipe.DataError, match="cannot adapt"):
        client.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows)
    assert count(client, table) == 0
    assert client.transaction_status == "I"
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


def test_executemany_bad_value_in_the_first_chunk_sends_nothing(client: Client) -> None:
    before = client.stats.flights
    with pytest.raises(pgpipe.DataError, match="cannot adapt"):
        client.executemany("SELECT $1", [(1,), (Unencodable(),)])
    assert client.stats.flights == before
    assert client.query("SELECT 'in sync'").rows == [("in sync",)]


def test_executemany_of_100000_rows(client: Client, table: str) -> None:
    rows = [(n, f"row {n}") for n in range(100_000)]
    results = client.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows)
    assert len(results) == 100_000
    assert count(client, table) == 100_000


def test_executemany_with_ints_past_int8(client: Client) -> None:
    rows = [(1,), (2**70,), (3,), (None,), (-(2**64),)]
    results = client.executemany("SELECT $1::numeric::text", rows)
    assert [r.rows[0][0] for r in results] == ["1", str(2**70), "3", None, str(-(2**64))]


VALUES = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.integers(-5, 5),
    # Lone surrogates are refused (DataError) before anything is sent: tested elsewhere.
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=5,
    ),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)


@settings(max_examples=40)
@given(st.lists(st.tuples(VALUES, VALUES), min_size=1, max_size=30))
def test_executemany_matches_one_query_per_row(
    pg_server: TemporaryPostgres, rows: list[tuple[object, object]]
) -> None:
    sql = "SELECT $1::text, $2::text"
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        many = [r.rows for r in conn.executemany(sql, rows)]
        one_by_one = [conn.query(sql, *row).rows for row in rows]
    assert many == one_by_one
