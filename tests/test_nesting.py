"""pipeline(), transaction() (and their savepoints), executemany and stream nested
in every order, with exceptions at every point: a statement is part of the
transaction it was written in, or it is not sent at all.

The rule: commands run in the order they were written. A pipeline's statements
are sent when its block ends, or earlier, just before any other command on the
connection (a query, executemany, stream, or a transaction's BEGIN, SAVEPOINT,
COMMIT, RELEASE or ROLLBACK); when a block raises, the statements written in it
that are not sent yet are dropped (their handles raise PipelineAborted).
A model of that rule predicts the table's contents after random programs.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import errors
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client


class Boom(Exception):
    """The user's exception, raised inside a block."""


# A program is a list of steps: ("c",) conn.query INSERT, ("m",) executemany of two
# rows, ("p",) an INSERT queued in the open pipeline, ("raise",), or a block
# ("P" pipeline | "T" transaction, caught: whether a try/except Boom surrounds it,
# pipeline mode, steps).
Step = tuple[Any, ...]

_LEAVES = st.sampled_from([("c",), ("m",), ("p",), ("p",), ("raise",)])


def _blocks(children: st.SearchStrategy[Step]) -> st.SearchStrategy[Step]:
    return st.tuples(
        st.sampled_from(["P", "T"]),
        st.booleans(),
        st.sampled_from(["independent", "atomic"]),
        st.lists(children, max_size=4),
    )


PROGRAMS = st.lists(st.recursive(_LEAVES, _blocks, max_leaves=12), min_size=1, max_size=4)


@dataclass
class Model:
    """What the server holds, by the rule in the module documentation."""

    committed: set[int] = field(default_factory=set)
    frames: list[list[int]] = field(default_factory=list)  # open transactions/savepoints
    buffer: list[int] | None = None  # the open pipeline's unsent statements

    def _apply(self, ids: list[int]) -> None:
        if self.frames:
            self.frames[-1].extend(ids)
        else:
            self.committed.update(ids)

    def _flush(self) -> None:
        if self.buffer:
            self._apply(self.buffer)
            self.buffer.clear()

    def command(self, ids: list[int]) -> None:
        self._flush()
        self._apply(ids)

    def run(self, steps: list[Step], ids: Iterator[int]) -> None:
        for step in steps:
            kind = step[0]
            if kind in ("c", "m"):
                self.command([next(ids) for _ in range(1 if kind == "c" else 2)])
            elif kind == "p":
                if self.buffer is not None:
                    self.buffer.append(next(ids))
            elif kind == "raise":
                raise Boom
            else:
                try:
                    self._block(step, ids)
                except Boom:
                    if not step[1]:
                        raise

    def _block(self, step: Step, ids: Iterator[int]) -> None:
        kind, _, _, steps = step
        if kind == "P":
            if self.buffer is not None:  # pipelines do not nest: the program skips it
                self.run(steps, ids)
                return
            self.buffer = []
            try:
                self.run(steps, ids)
            except BaseException:
                self.buffer = None
                raise
            self._flush()
            self.buffer = None
            return
        self._flush()  # BEGIN or SAVEPOINT
        self.frames.append([])
        try:
            self.run(steps, ids)
            self._flush()
        except BaseException:
            if self.buffer is not None:
                self.buffer.clear()
            self.frames.pop()
            raise
        self._apply(self.frames.pop())


class Runner:
    """Runs a program through either adapter (tests/clients.py)."""

    def __init__(self, client: Client, table: str) -> None:
        self.client, self.table = client, table
        self.pipeline: Any = None

    def run(self, steps: list[Step], ids: Iterator[int]) -> None:
        insert = f"INSERT INTO {self.table} VALUES ($1)"
        for step in steps:
            kind = step[0]
            if kind == "c":
                self.client.query(insert, next(ids))
            elif kind == "m":
                self.client.executemany(insert, [(next(ids),), (next(ids),)])
            elif kind == "p":
                if self.pipeline is not None:
                    self.pipeline.query(insert, next(ids))
            elif kind == "raise":
                raise Boom
            else:
                try:
                    self._block(step, ids)
                except Boom:
                    if not step[1]:
                        raise

    def _block(self, step: Step, ids: Iterator[int]) -> None:
        kind, _, mode, steps = step
        if kind == "T":
            with self.client.transaction():
                self.run(steps, ids)
        elif self.pipeline is not None:
            self.run(steps, ids)
        else:
            try:
                with self.client.pipeline(mode) as self.pipeline:
                    self.run(steps, ids)
            finally:
                self.pipeline = None


def _expected(program: list[Step]) -> set[int]:
    model = Model()
    with contextlib.suppress(Boom):
        model.run(program, itertools.count(1))
    return model.committed


@pytest.fixture(scope="module")
def table(pg_server: TemporaryPostgres) -> Iterator[str]:
    name = f"nest_{uuid.uuid4().hex[:10]}"
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY)")
        yield name
        conn.execute(f"DROP TABLE {name}")


@pytest.fixture(scope="module", params=["sync", "async"])
def module_client(request: pytest.FixtureRequest, pg_server: TemporaryPostgres) -> Iterator[Client]:
    """One connection of each adapter for all of hypothesis's programs."""
    adapter = Adapter(request.param)
    try:
        yield adapter.connect(pg_server.dsn(dbname="pgpipe"))
    finally:
        adapter.close()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(PROGRAMS)
def test_every_nesting(module_client: Client, table: str, program: list[Step]) -> None:
    module_client.execute(f"TRUNCATE {table}")
    with contextlib.suppress(Boom):
        Runner(module_client, table).run(program, itertools.count(1))
    assert module_client.transaction_status == "I"
    rows = module_client.query(f"SELECT id FROM {table}").rows
    assert {r[0] for r in rows} == _expected(program), program


# -- the cases a user meets first, spelled out ---------------------------------------


@pytest.fixture
def conn(adapter: Adapter, pg_server: TemporaryPostgres, table: str) -> Client:
    """A connection of each adapter in turn (tests/clients.py), on the emptied table."""
    client = adapter.connect(pg_server.dsn(dbname="pgpipe"))
    client.execute(f"TRUNCATE {table}")
    return client


def _ids(conn: Client, table: str) -> list[int]:
    return [r[0] for r in conn.query(f"SELECT id FROM {table} ORDER BY id").rows]


def test_a_rolled_back_block_inside_a_pipeline_commits_nothing(conn: Client, table: str) -> None:
    with conn.pipeline() as p:
        try:
            with conn.transaction():
                handle = p.query(f"INSERT INTO {table} VALUES ($1)", 1)
                raise Boom
        except Boom:
            pass
    with pytest.raises(errors.PipelineAborted, match=r"transaction\(\) block it was written in"):
        handle.result()
    assert _ids(conn, table) == []


def test_pipeline_statements_run_inside_the_transaction_they_were_written_in(
    conn: Client, table: str
) -> None:
    with conn.pipeline() as p:
        with conn.transaction():
            inside = p.query("SELECT txid_current()")
            p.query(f"INSERT INTO {table} VALUES ($1)", 1)
            same = conn.query("SELECT txid_current()").rows  # sends the pipeline's first
        after = p.query("SELECT txid_current()")
    assert inside.result().rows == same
    assert after.result().rows != same
    assert _ids(conn, table) == [1]


def test_commands_run_in_the_order_written(conn: Client, table: str) -> None:
    with conn.pipeline() as p:
        p.query(f"INSERT INTO {table} VALUES ($1)", 1)
        assert conn.query(f"SELECT count(*) FROM {table}").rows == [(1,)]


def test_a_failed_pipeline_statement_fails_the_transaction_block(conn: Client, table: str) -> None:
    with (
        pytest.raises(errors.InFailedSqlTransaction, match="pipeline's handle"),
        conn.pipeline() as p,
        conn.transaction(),
    ):
        p.query(f"INSERT INTO {table} VALUES ($1)", 1)
        bad = p.query("SELECT 1 / $1::int", 0)
    with pytest.raises(errors.DivisionByZero):
        bad.result()
    assert conn.transaction_status == "I"
    assert _ids(conn, table) == []


def test_pipelines_do_not_nest(conn: Client, table: str) -> None:
    with conn.pipeline() as p:
        first = p.query(f"INSERT INTO {table} VALUES ($1)", 1)
        with pytest.raises(errors.InterfaceError, match="do not nest"), conn.pipeline():
            pass
    assert first.result().rowcount == 1
    assert _ids(conn, table) == [1]


def test_a_savepoint_inside_a_pipeline_rolls_back_only_its_statements(
    conn: Client, table: str
) -> None:
    with conn.transaction(), conn.pipeline("atomic") as p:
        p.query(f"INSERT INTO {table} VALUES ($1)", 1)
        try:
            with conn.transaction():
                p.query(f"INSERT INTO {table} VALUES ($1)", 2)
                conn.executemany(f"INSERT INTO {table} VALUES ($1)", [(3,), (4,)])
                p.query(f"INSERT INTO {table} VALUES ($1)", 5)
                raise Boom
        except Boom:
            pass
        p.query(f"INSERT INTO {table} VALUES ($1)", 6)
    assert _ids(conn, table) == [1, 6]


def test_a_stream_inside_a_transaction_inside_a_pipeline(conn: Client, table: str) -> None:
    with conn.pipeline() as p, conn.transaction():
        p.query(f"INSERT INTO {table} SELECT generate_series(1, $1)", 5)
        total = sum(n for (n,) in conn.stream(f"SELECT id FROM {table}", batch_size=2))
    assert total == 15
    assert _ids(conn, table) == [1, 2, 3, 4, 5]


def test_a_pipeline_block_that_raises_sends_nothing_and_says_so(conn: Client, table: str) -> None:
    sent = conn.stats.flights
    with pytest.raises(Boom), conn.pipeline() as p:
        handle = p.query(f"INSERT INTO {table} VALUES ($1)", 1)
        raise Boom
    assert conn.stats.flights == sent
    with pytest.raises(errors.PipelineAborted, match="pipeline's block raised"):
        handle.result()
    assert _ids(conn, table) == []
