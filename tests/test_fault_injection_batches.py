"""Network faults in the middle of many statements at once.

As tests/test_fault_injection.py does for single queries, with a session of
a pipeline, an executemany batch (several chunks), a stream read in
batches, a prepared statement and a cached one, cut in each direction at
every step's boundaries and at seeded random offsets inside each step (as
many in each), clean close and reset alternating. Every case must end with exactly the right
results, or with ``pgpipe.OperationalError`` after which the connection is
closed, says why and refuses further queries. Any other exception, a wrong
result or a hang fails.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

import pytest

import pgpipe
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client
from tests.faultproxy import TO_CLIENT, TO_SERVER, Direction, Fault, FaultProxy
from tests.test_fault_injection import (
    LABELS,
    LOOP_LIMIT,
    WORKERS,
    check_closed,
    connect,
    in_workers,
    run_case,
)

STEPS: Final = ("connect", "pipeline", "executemany", "stream", "prepared", "cached", "done")
# Random offsets in each step's bytes, per direction and adapter, on top of
# every step's boundaries.
SAMPLES: Final = int(os.environ.get("PGPIPE_FAULT_BATCH_SAMPLES", "80"))
MANY_ROWS: Final = 600  # several executemany chunks
STREAM_ROWS: Final = 3000


def run_pipeline(client: Client) -> list[Any]:
    handles: list[pgpipe.Pending[pgpipe.Result]] = []
    if client.adapter == "sync":
        with client.conn.pipeline() as p:
            handles += [p.query("SELECT $1::int * 2", n) for n in range(20)]
    else:

        async def go() -> None:
            async with client.conn.pipeline() as p:
                handles.extend(p.query("SELECT $1::int * 2", n) for n in range(20))

        client._call(go())
    return [h.result().rows for h in handles]


def run_stream(client: Client) -> list[Any]:
    sql = "SELECT g, repeat('s', 20) FROM generate_series(1, $1::int) g"
    if client.adapter == "sync":
        with client.conn.stream(sql, STREAM_ROWS, batch_size=400) as rows:
            return list(rows)

    async def go() -> list[Any]:
        async with client.conn.stream(sql, STREAM_ROWS, batch_size=400) as rows:
            return [row async for row in rows]

    result: list[Any] = client._call(go())
    return result


def run_prepared(client: Client) -> list[Any]:
    statement = client._call(client.conn.prepare("SELECT $1::text || '!'"))
    rows = client._call(statement.query("hi")).rows
    client._call(statement.close())
    return list(rows)


EXPECTED: Final[dict[str, Any]] = {
    "pipeline": [[(n * 2,)] for n in range(20)],
    "executemany": [[(n, f"r{n}")] for n in range(MANY_ROWS)],
    "stream": [(g, "s" * 20) for g in range(1, STREAM_ROWS + 1)],
    "prepared": [("hi!",)],
    "cached": [[(5,)], [(7,)]],
}


def session(adapter: Adapter, port: int, marks: list[tuple[int, int]] | None = None) -> str:
    """Run the session; the step it ended at (an OperationalError's, or "done").

    ``marks`` (a clean run) gets the bytes (to client, to server) after each step.
    """
    step = "connect"
    try:
        client = connect(adapter, port, statement_cache_size=1)
    except pgpipe.OperationalError:
        return step

    def mark() -> None:
        if marks is not None:
            stats = client.stats
            marks.append((stats.bytes_received, stats.bytes_sent))

    mark()
    try:
        step = "pipeline"
        assert run_pipeline(client) == EXPECTED[step]
        mark()
        step = "executemany"
        rows = [(n, f"r{n}") for n in range(MANY_ROWS)]
        results = client._call(client.conn.executemany("SELECT $1::int, $2::text", rows))
        assert [r.rows for r in results] == EXPECTED[step]
        mark()
        step = "stream"
        assert run_stream(client) == EXPECTED[step]
        mark()
        step = "prepared"
        assert run_prepared(client) == EXPECTED[step]
        mark()
        step = "cached"
        cached = [client.query("SELECT $1::int + 2", n).rows for n in (3, 5)]
        assert cached == EXPECTED[step]
        mark()
    except pgpipe.OperationalError as exc:
        check_closed(client, exc)
        return step
    # A cut after the last answer may already be known (the asyncio adapter reads
    # the server's end while idle): then the connection is closed and says why.
    assert not client.closed or client.closed_reason
    client.close()
    mark()
    return "done"


@dataclass(frozen=True)
class Recording:
    marks: tuple[tuple[int, int], ...]  # after connect, each step, and close

    def total(self, direction: Direction) -> int:
        return self.marks[-1][0 if direction == TO_CLIENT else 1]

    def boundaries(self, direction: Direction) -> set[int]:
        side = 0 if direction == TO_CLIENT else 1
        return {m[side] + d for m in self.marks for d in (-1, 0, 1) if m[side] + d >= 0}


def record(adapter: Adapter, pg: TemporaryPostgres) -> Recording:
    marks: list[tuple[int, int]] = []
    with FaultProxy(pg.host, pg.port) as proxy:
        assert session(adapter, proxy.port, marks) == "done"
        traffic = proxy.first()
        assert traffic.finished.wait(5)
    recording = Recording(tuple(marks))
    assert (traffic.to_client, traffic.to_server) == (
        recording.total(TO_CLIENT),
        recording.total(TO_SERVER),
    )
    return recording


@pytest.mark.parametrize("direction", [TO_CLIENT, TO_SERVER], ids=["to_client", "to_server"])
def test_cuts_in_batches(
    adapter: Adapter, pg_server: TemporaryPostgres, direction: Direction
) -> None:
    recording = record(adapter, pg_server)
    total = recording.total(direction)
    rng = random.Random(f"{adapter.name} {direction}")
    side = 0 if direction == TO_CLIENT else 1
    edges = [0] + [m[side] for m in recording.marks]
    inside = {  # as many in each step's bytes, whatever its size
        rng.randrange(low, high)
        for low, high in itertools.pairwise(edges)
        if high > low
        for _ in range(SAMPLES)
    }
    offsets = sorted(o for o in recording.boundaries(direction) | inside if o <= total)
    flip = adapter.name == "async"
    faults = [
        Fault(direction, cut_at=offset, reset=(index % 2 == 1) != flip)
        for index, offset in enumerate(offsets)
    ]
    start = time.monotonic()
    cases = in_workers(
        adapter.name, faults, lambda own, fault: run_case(own, pg_server, fault, session), WORKERS
    )
    elapsed = time.monotonic() - start
    steps = Counter(case.stage for case in cases)
    problems = [f"{case.fault}: {case.problem}" for case in cases if case.problem is not None]
    print(
        f"\n[{adapter.name}] cut {len(cases)} {LABELS[direction]} offsets of {total} in "
        f"{elapsed:.1f} s: {dict(steps)}"
    )
    assert not problems, f"{len(problems)} of {len(cases)} cases failed:\n" + "\n".join(
        problems[:10]
    )
    # The cuts reached every step (the last ones, after Terminate, lose nothing).
    assert all(steps[step] > 0 for step in STEPS), steps
    assert elapsed < LOOP_LIMIT
