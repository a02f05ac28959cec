"""Chaos: thousands of statements, timed out and cancelled at random points.

Each round runs one statement that may be interrupted (a timeout of a few
milliseconds or less, a cancel() from another thread, a cancelled asyncio
task) before it is sent, while it is sent (a parameter of megabytes) or while
its result arrives (thousands of rows, or thousands of rows of COPY data).
Then the next statement on the same connection must return exactly its own
results, or the connection must be closed and say why; a desynchronised
connection fails the test at once.
Bounded in statements and in time; the seed is printed so a failure replays.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.testing import TemporaryPostgres

ROUNDS = int(os.environ.get("PGPIPE_CHAOS_ROUNDS", "1500"))
BUDGET = float(os.environ.get("PGPIPE_CHAOS_SECONDS", "40"))
INTERRUPTED = (errors.QueryTimeout, errors.QueryCanceled)


@dataclass
class Tally:
    rounds: int = 0
    statements: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0

    def report(self, adapter: str, seed: int, seconds: float) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"chaos[{adapter}] seed {seed}: {self.rounds} rounds, {self.statements} statements "
            f"in {seconds:.1f} s; {parts}; {self.reconnects} reconnects; 0 desynchronised"
        )


def scenario(rng: random.Random, token: int) -> tuple[str, tuple[Any, ...], Any]:
    """A statement, its parameters and its exact expected rows."""
    kind = rng.randrange(5)
    if kind == 4:  # COPY TO: thousands of rows of COPY data
        count = rng.randrange(1, 20000)
        return (
            f"COPY (SELECT g, {token}::int8 FROM generate_series(1, {count}) g) TO STDOUT",
            (),
            [(str(g), str(token)) for g in range(1, count + 1)],
        )
    if kind == 0:  # mid-result: thousands of rows
        count = rng.randrange(1, 20000)
        return (
            "SELECT g, $1::int8 FROM generate_series(1, $2::int) g",
            (token, count),
            [(g, token) for g in range(1, count + 1)],
        )
    if kind == 1:  # mid-send: a parameter of up to 2 MB
        size = rng.randrange(1, 2 << 20)
        return ("SELECT length($1::text), $2::int8", ("x" * size, token), [(size, token)])
    if kind == 2:  # running on the server
        return ("SELECT pg_sleep(0.002), $1::int8", (token,), [(None, token)])
    return ("SELECT $1::int8, 'small'", (token,), [(token, "small")])


def run(conn: pgpipe.Connection, sql: str, params: tuple[Any, ...], timeout: float | None) -> Any:
    if sql.startswith("COPY"):
        with conn.copy(sql, timeout=timeout) as copy:
            return list(copy.rows())
    return conn.query(sql, *params, timeout=timeout).rows


async def run_async(
    conn: pgpipe.AsyncConnection, sql: str, params: tuple[Any, ...], timeout: float | None
) -> Any:
    if sql.startswith("COPY"):
        async with conn.copy(sql, timeout=timeout) as copy:
            return [row async for row in copy.rows()]
    return (await conn.query(sql, *params, timeout=timeout)).rows


def check_next(conn: pgpipe.Connection, tally: Tally) -> None:
    token = random.getrandbits(62)
    rows = conn.query("SELECT $1::int8, 'check'", token).rows
    tally.statements += 1
    assert rows == [(token, "check")], "desynchronised: another statement's results"
    assert conn.transaction_status == "I"


@pytest.fixture
def seed() -> int:
    value = int(os.environ.get("PGPIPE_CHAOS_SEED", str(random.randrange(1 << 32))))
    print(f"PGPIPE_CHAOS_SEED={value}")
    return value


def test_chaos_blocking(pg_server: TemporaryPostgres, seed: int) -> None:
    rng = random.Random(seed)
    dsn = pg_server.dsn(dbname="pgpipe")
    conn = pgpipe.connect(dsn, cancel_timeout=5)
    tally = Tally()
    started = time.monotonic()
    while tally.rounds < ROUNDS and time.monotonic() - started < BUDGET:
        tally.rounds += 1
        token = rng.getrandbits(62)
        sql, params, expected = scenario(rng, token)
        how = rng.choice(["timeout", "timeout", "cancel", "none"])
        canceller = None
        if how == "cancel":
            canceller = threading.Timer(rng.uniform(0, 0.004), conn.cancel)
            canceller.start()
        timeout = rng.uniform(0, 0.004) if how == "timeout" else None
        try:
            rows = run(conn, sql, params, timeout)
        except INTERRUPTED as exc:
            tally.outcomes[type(exc).__name__] += 1
            if isinstance(exc, errors.QueryTimeout) and exc.closed:
                tally.outcomes["closed"] += 1
        else:
            assert rows == expected, "desynchronised: another statement's results"
            tally.outcomes["completed"] += 1
        finally:
            tally.statements += 1
            if canceller is not None:
                canceller.join(10)
        if conn.closed:
            assert conn.closed_reason
            conn = pgpipe.connect(dsn, cancel_timeout=5)
            tally.reconnects += 1
        check_next(conn, tally)
    conn.close()
    print(tally.report("sync", seed, time.monotonic() - started))
    assert tally.rounds >= min(ROUNDS, 200)
    # Both ends of the race were reached: interrupted statements and completed ones.
    assert tally.outcomes["QueryTimeout"] > 0
    assert tally.outcomes["completed"] > 0


async def chaos_async(dsn: str, seed: int) -> Tally:
    rng = random.Random(seed)
    conn = await pgpipe.connect_async(dsn, cancel_timeout=5)
    tally = Tally()
    started = time.monotonic()
    while tally.rounds < ROUNDS and time.monotonic() - started < BUDGET:
        tally.rounds += 1
        token = rng.getrandbits(62)
        sql, params, expected = scenario(rng, token)
        how = rng.choice(["timeout", "task-cancel", "cancel", "none"])
        task = asyncio.create_task(
            run_async(conn, sql, params, rng.uniform(0, 0.004) if how == "timeout" else None)
        )
        if how in ("task-cancel", "cancel"):
            await asyncio.sleep(rng.uniform(0, 0.004))
            if how == "task-cancel":
                task.cancel()
            else:
                await conn.cancel()
        try:
            rows = await task
        except asyncio.CancelledError:
            tally.outcomes["CancelledError"] += 1
        except INTERRUPTED as exc:
            tally.outcomes[type(exc).__name__] += 1
        else:
            assert rows == expected, "desynchronised: another statement's results"
            tally.outcomes["completed"] += 1
        tally.statements += 1
        if conn.closed:
            assert conn.closed_reason
            tally.outcomes["closed"] += 1
            conn = await pgpipe.connect_async(dsn, cancel_timeout=5)
            tally.reconnects += 1
        token = rng.getrandbits(62)
        check = await conn.query("SELECT $1::int8, 'check'", token)
        tally.statements += 1
        assert check.rows == [(token, "check")], "desynchronised: another statement's results"
        assert conn.transaction_status == "I"
    await conn.close()
    print(tally.report("async", seed, time.monotonic() - started))
    return tally


def test_chaos_asyncio(pg_server: TemporaryPostgres, seed: int) -> None:
    tally = asyncio.run(chaos_async(pg_server.dsn(dbname="pgpipe"), seed))
    assert tally.rounds >= min(ROUNDS, 200)
    assert tally.outcomes["CancelledError"] > 0
    assert tally.outcomes["QueryTimeout"] > 0
    assert tally.outcomes["completed"] > 0
