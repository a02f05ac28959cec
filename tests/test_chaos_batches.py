"""Chaos for many statements at once: pipelines, executemany, streams, prepared
and cached statements, timed out and cancelled at random points.

As tests/test_chaos.py does for single statements: each round runs one
command that may be interrupted (a timeout of a few milliseconds, a
``cancel()`` from another thread or task, a cancelled asyncio task) before,
while or after it is sent; what it returns must be exactly its own results
(a prefix of them for a stream that was stopped), and the next statement
must get exactly its own answer, or the connection must be closed saying
why. The connection keeps a statement cache, so cached statements are
evicted and prepared again all along. Bounded in rounds and in time; the
seed is printed so a failure replays (PGPIPE_CHAOS_SEED).
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.testing import TemporaryPostgres

ROUNDS = int(os.environ.get("PGPIPE_CHAOS_ROUNDS", "1500")) // 2
BUDGET = float(os.environ.get("PGPIPE_CHAOS_SECONDS", "40")) / 2
INTERRUPTED = (errors.QueryTimeout, errors.QueryCanceled)
KINDS = ("pipeline", "atomic", "executemany", "stream", "prepared", "cached")
STREAM_SQL = "SELECT g + $1::int8 FROM generate_series(1, $2::int) g"
CACHED_SQL = [f"SELECT $1::int8 + $2::int + {n}" for n in range(6)]  # more than the cache holds


@dataclass
class Plan:
    kind: str
    token: int
    count: int
    stop_after: int | None = None  # a stream stopped early
    batch_size: int = 1000

    def statement(self, index: int) -> tuple[str, tuple[int, int]]:
        """One pipeline or executemany statement; a few sleep so a cancel can land."""
        sql = "SELECT $1::int8 + $2::int"
        if index % 50 == 7:
            sql += " FROM pg_sleep(0.001)"
        return sql, (self.token, index)

    def expected_stream(self) -> list[tuple[int]]:
        return [(g + self.token,) for g in range(1, self.count + 1)]


def make_plan(rng: random.Random) -> Plan:
    kind = rng.choice(KINDS)
    token = rng.getrandbits(40)
    if kind in ("pipeline", "atomic"):
        return Plan(kind, token, rng.randrange(1, 300))
    if kind == "executemany":
        return Plan(kind, token, rng.randrange(1, 4000))
    if kind == "stream":
        count = rng.randrange(1, 30000)
        stop = rng.randrange(0, count + 1) if rng.random() < 0.3 else None
        return Plan(kind, token, count, stop, rng.randrange(1, 3000))
    if kind == "prepared":
        return Plan(kind, token, rng.randrange(1, 5000))
    return Plan(kind, token, rng.randrange(len(CACHED_SQL)))


class Tally:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.rounds = 0
        self.outcomes: Counter[str] = Counter()
        self.reconnects = 0

    def report(self, adapter: str, seed: int, seconds: float) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"chaos-batches[{adapter}] seed {seed}: {self.rounds} rounds in {seconds:.1f} s; "
            f"{parts}; {self.reconnects} reconnects; 0 desynchronised"
        )


def check_handles(plan: Plan, handles: list[pgpipe.Pending[pgpipe.Result]], tally: Tally) -> None:
    """A pipeline that completed: each statement its own result, or the cancel's error."""
    for index, handle in enumerate(handles):
        try:
            rows = handle.result().rows
        except errors.QueryCanceled:
            tally.outcomes["statement cancelled"] += 1
        except errors.PipelineAborted:
            assert plan.kind == "atomic"
        except errors.InvalidSqlStatementName as exc:
            # The cancel hit the Parse of this cached SQL's first run in the
            # pipeline: the later runs (Bind only) say so.
            assert "was never prepared" in str(exc), exc
            tally.outcomes["statement never prepared"] += 1
        else:
            assert rows == [(plan.token + index,)], "desynchronised: another statement's results"


def check_many(plan: Plan, results: pgpipe.Results) -> None:
    assert len(results) == plan.count
    for index, result in enumerate(results):
        assert result.rows == [(plan.token + index,)], "desynchronised: another row's results"


def check_stream(plan: Plan, rows: list[Any], complete: bool) -> None:
    expected = plan.expected_stream()
    if complete:
        assert rows == expected[: plan.stop_after], "desynchronised stream"
    else:
        assert rows == expected[: len(rows)], "desynchronised stream"


# -- blocking ------------------------------------------------------------------------


def run_sync(
    conn: pgpipe.Connection,
    statement: pgpipe.PreparedStatement,
    plan: Plan,
    timeout: float | None,
    tally: Tally,
) -> None:
    kind = plan.kind
    if kind in ("pipeline", "atomic"):
        handles: list[pgpipe.Pending[pgpipe.Result]] = []
        mode = "atomic" if kind == "atomic" else "independent"
        with conn.pipeline(mode, timeout=timeout) as p:
            for i in range(plan.count):
                sql, params = plan.statement(i)
                handles.append(p.query(sql, *params))
        check_handles(plan, handles, tally)
    elif kind == "executemany":
        sql = "SELECT $1::int8 + $2::int"
        rows = [(plan.token, i) for i in range(plan.count)]
        check_many(plan, conn.executemany(sql, rows, timeout=timeout))
    elif kind == "stream":
        got: list[Any] = []
        complete = False
        try:
            with conn.stream(
                STREAM_SQL, plan.token, plan.count, batch_size=plan.batch_size, timeout=timeout
            ) as stream:
                for row in stream:
                    if plan.stop_after is not None and len(got) == plan.stop_after:
                        break
                    got.append(row)
            complete = True
        finally:
            check_stream(plan, got, complete)
    elif kind == "prepared":
        rows = statement.query(plan.token, plan.count, timeout=timeout).rows
        assert rows == plan.expected_stream(), "desynchronised: another statement's results"
    else:
        result = conn.query(CACHED_SQL[plan.count], plan.token, 1, timeout=timeout)
        assert result.rows == [(plan.token + 1 + plan.count,)], "desynchronised"


def open_sync(dsn: str, opened: list[Any]) -> tuple[pgpipe.Connection, pgpipe.PreparedStatement]:
    conn = pgpipe.connect(dsn, cancel_timeout=5, statement_cache_size=4)
    opened.append(conn)
    return conn, conn.prepare(STREAM_SQL)


def test_chaos_batches_blocking(pg_server: TemporaryPostgres, seed: int) -> None:
    opened: list[pgpipe.Connection] = []
    try:
        tally = run_rounds_sync(pg_server.dsn(dbname="pgpipe"), random.Random(seed), opened)
    finally:
        for conn in opened:
            conn.close()
    print(tally.report("sync", seed, tally.seconds))
    assert tally.rounds >= min(ROUNDS, 100)
    for kind in KINDS:  # every kind completed, and interruptions happened
        assert tally.outcomes[f"{kind} completed"] > 0, (kind, tally.outcomes)
    assert sum(v for k, v in tally.outcomes.items() if k.endswith("QueryTimeout")) > 0


def run_rounds_sync(dsn: str, rng: random.Random, opened: list[pgpipe.Connection]) -> Tally:
    conn, statement = open_sync(dsn, opened)
    tally = Tally()
    started = time.monotonic()
    while tally.rounds < ROUNDS and time.monotonic() - started < BUDGET:
        tally.rounds += 1
        plan = make_plan(rng)
        how = rng.choice(["timeout", "timeout", "cancel", "none"])
        canceller = None
        if how == "cancel":
            canceller = threading.Timer(rng.uniform(0, 0.006), conn.cancel)
            canceller.start()
        timeout = rng.uniform(0, 0.006) if how == "timeout" else None
        try:
            run_sync(conn, statement, plan, timeout, tally)
        except INTERRUPTED as exc:
            tally.outcomes[f"{plan.kind} {type(exc).__name__}"] += 1
        else:
            tally.outcomes[f"{plan.kind} completed"] += 1
        finally:
            if canceller is not None:
                canceller.join(10)
        if conn.closed:
            assert conn.closed_reason
            conn, statement = open_sync(dsn, opened)
            tally.reconnects += 1
        token = rng.getrandbits(62)
        assert conn.query("SELECT $1::int8, 'check'", token).rows == [(token, "check")], (
            "desynchronised: another statement's results"
        )
        assert conn.transaction_status == "I"
    tally.seconds = time.monotonic() - started
    return tally


# -- asyncio -------------------------------------------------------------------------


async def run_async(
    conn: pgpipe.AsyncConnection,
    statement: Any,
    plan: Plan,
    timeout: float | None,
    tally: Tally,
) -> None:
    kind = plan.kind
    if kind in ("pipeline", "atomic"):
        handles: list[pgpipe.Pending[pgpipe.Result]] = []
        mode = "atomic" if kind == "atomic" else "independent"
        async with conn.pipeline(mode, timeout=timeout) as p:
            for i in range(plan.count):
                sql, params = plan.statement(i)
                handles.append(p.query(sql, *params))
        check_handles(plan, handles, tally)
    elif kind == "executemany":
        sql = "SELECT $1::int8 + $2::int"
        rows = [(plan.token, i) for i in range(plan.count)]
        check_many(plan, await conn.executemany(sql, rows, timeout=timeout))
    elif kind == "stream":
        got: list[Any] = []
        complete = False
        try:
            async with conn.stream(
                STREAM_SQL, plan.token, plan.count, batch_size=plan.batch_size, timeout=timeout
            ) as stream:
                async for row in stream:
                    if plan.stop_after is not None and len(got) == plan.stop_after:
                        break
                    got.append(row)
            complete = True
        finally:
            check_stream(plan, got, complete)
    elif kind == "prepared":
        rows = (await statement.query(plan.token, plan.count, timeout=timeout)).rows
        assert rows == plan.expected_stream(), "desynchronised: another statement's results"
    else:
        result = await conn.query(CACHED_SQL[plan.count], plan.token, 1, timeout=timeout)
        assert result.rows == [(plan.token + 1 + plan.count,)], "desynchronised"


async def open_async(dsn: str, opened: list[Any]) -> tuple[pgpipe.AsyncConnection, Any]:
    conn = await pgpipe.connect_async(dsn, cancel_timeout=5, statement_cache_size=4)
    opened.append(conn)
    return conn, await conn.prepare(STREAM_SQL)


async def chaos_async(dsn: str, seed: int) -> Tally:
    opened: list[pgpipe.AsyncConnection] = []
    try:
        tally = await run_rounds_async(dsn, random.Random(seed), opened)
    finally:
        for conn in opened:
            await conn.close()
    print(tally.report("async", seed, tally.seconds))
    return tally


async def run_rounds_async(
    dsn: str, rng: random.Random, opened: list[pgpipe.AsyncConnection]
) -> Tally:
    conn, statement = await open_async(dsn, opened)
    tally = Tally()
    started = time.monotonic()
    while tally.rounds < ROUNDS and time.monotonic() - started < BUDGET:
        tally.rounds += 1
        plan = make_plan(rng)
        how = rng.choice(["timeout", "task-cancel", "cancel", "none"])
        timeout = rng.uniform(0, 0.006) if how == "timeout" else None
        task = asyncio.create_task(run_async(conn, statement, plan, timeout, tally))
        if how in ("task-cancel", "cancel"):
            await asyncio.sleep(rng.uniform(0, 0.006))
            if how == "task-cancel":
                task.cancel()
            else:
                await conn.cancel()
        try:
            await task
        except asyncio.CancelledError:
            tally.outcomes[f"{plan.kind} CancelledError"] += 1
        except INTERRUPTED as exc:
            tally.outcomes[f"{plan.kind} {type(exc).__name__}"] += 1
        else:
            tally.outcomes[f"{plan.kind} completed"] += 1
        if conn.closed:
            assert conn.closed_reason
            conn, statement = await open_async(dsn, opened)
            tally.reconnects += 1
        token = rng.getrandbits(62)
        check = await conn.query("SELECT $1::int8, 'check'", token)
        assert check.rows == [(token, "check")], "desynchronised: another statement's results"
        assert conn.transaction_status == "I"
    tally.seconds = time.monotonic() - started
    return tally


def test_chaos_batches_asyncio(pg_server: TemporaryPostgres, seed: int) -> None:
    tally = asyncio.run(chaos_async(pg_server.dsn(dbname="pgpipe"), seed))
    assert tally.rounds >= min(ROUNDS, 100)
    for kind in KINDS:
        assert tally.outcomes[f"{kind} completed"] > 0, (kind, tally.outcomes)
    assert sum(v for k, v in tally.outcomes.items() if k.endswith("CancelledError")) > 0


@pytest.fixture
def seed() -> int:
    value = int(os.environ.get("PGPIPE_CHAOS_SEED", str(random.randrange(1 << 32))))
    print(f"PGPIPE_CHAOS_SEED={value}")
    return value
