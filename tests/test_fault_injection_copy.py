"""Network faults inside COPY: a cut at one byte offset after another of a session
that copies rows in and reads them out, through ``FaultProxy``, on both adapters.

A clean run records how many bytes cross each way. Then the connection is cut
(FIN and RST in turn) after offsets spread over the whole session, in each
direction. Every case must end within a few seconds, either with every result
right, or with ``OperationalError`` after which the connection is closed and
says why. And the table holds all of the COPY's rows or none: COPY is atomic.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Final

import pytest

import pgpipe
from pgpipe.testing import TemporaryPostgres
from tests.faultproxy import TO_CLIENT, TO_SERVER, Direction, Fault, FaultProxy

ROWS: Final = [(i, f"row {i} " + "x" * 50) for i in range(300)]
CASES_PER_DIRECTION: Final = 150
CASE_LIMIT: Final = 10.0


@pytest.fixture
def table(pg_server: TemporaryPostgres) -> Iterator[str]:
    name = f"copy_fault_{uuid.uuid4().hex[:8]}"
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        conn.execute(f"CREATE TABLE {name} (a int4, b text)")
    yield name
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe")) as conn:
        conn.execute(f"DROP TABLE {name}")


def sync_session(port: int, table: str) -> str:
    """The scripted session; "done" or the exception's class name."""
    dsn = f"postgresql://postgres@127.0.0.1:{port}/pgpipe?sslmode=disable"
    conn = None
    try:
        conn = pgpipe.connect(dsn, connect_timeout=3, command_timeout=5, cancel_timeout=1)
        conn.copy_records_to_table(table, ROWS)
        with conn.copy(f"COPY (SELECT a, b FROM {table} ORDER BY a) TO STDOUT") as copy:
            got = [(int(a), b) for a, b in copy.rows()]
        assert got == ROWS, "wrong rows"
        conn.close()
        return "done"
    except pgpipe.OperationalError:
        if conn is not None:
            assert conn.closed and conn.closed_reason, "an OperationalError left it open"
        return "OperationalError"


def async_session(port: int, table: str) -> str:
    async def main() -> str:
        dsn = f"postgresql://postgres@127.0.0.1:{port}/pgpipe?sslmode=disable"
        conn = None
        try:
            conn = await pgpipe.connect_async(
                dsn, connect_timeout=3, command_timeout=5, cancel_timeout=1
            )
            await conn.copy_records_to_table(table, ROWS)
            query = f"COPY (SELECT a, b FROM {table} ORDER BY a) TO STDOUT"
            async with conn.copy(query) as copy:
                got = [(int(a), b) async for a, b in copy.rows()]
            assert got == ROWS, "wrong rows"
            await conn.close()
            return "done"
        except pgpipe.OperationalError:
            if conn is not None:
                assert conn.closed and conn.closed_reason, "an OperationalError left it open"
            return "OperationalError"

    return asyncio.run(main())


SESSIONS: Final[dict[str, Callable[[int, str], str]]] = {
    "sync": sync_session,
    "async": async_session,
}


def rows_in(pg: TemporaryPostgres, table: str) -> int:
    with pgpipe.connect(pg.dsn(dbname="pgpipe")) as conn:
        count = int(conn.query(f"SELECT count(*) FROM {table}").scalar())
        conn.execute(f"TRUNCATE {table}")
    return count


def run_case(
    pg: TemporaryPostgres, table: str, session: Callable[[int, str], str], fault: Fault | None
) -> str:
    with FaultProxy(pg.host, pg.port, fault) as proxy:
        outcome: list[str] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                outcome.append(session(proxy.port, table))
            except BaseException as exc:
                failure.append(exc)

        worker = threading.Thread(target=target, daemon=True)
        worker.start()
        worker.join(CASE_LIMIT)
        if worker.is_alive():
            proxy.close()
            worker.join(CASE_LIMIT)
            raise AssertionError(f"a hang with {fault}")
        if failure:
            raise AssertionError(f"{fault}: {failure[0]!r}") from failure[0]
    return outcome[0]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("direction", [TO_CLIENT, TO_SERVER], ids=["to_client", "to_server"])
def test_cut_during_copy(
    pg_server: TemporaryPostgres, table: str, kind: str, direction: Direction
) -> None:
    session = SESSIONS[kind]
    assert run_case(pg_server, table, session, None) == "done"
    assert rows_in(pg_server, table) == len(ROWS)
    with FaultProxy(pg_server.host, pg_server.port) as proxy:
        assert session(proxy.port, table) == "done"
        traffic = proxy.first()
        total = traffic.to_client if direction == TO_CLIENT else traffic.to_server
    rows_in(pg_server, table)
    step = max(1, total // CASES_PER_DIRECTION)
    outcomes: dict[str, int] = {}
    for n, offset in enumerate(range(0, total + step, step)):
        fault = Fault(direction, cut_at=offset, reset=bool(n % 2))
        outcome = run_case(pg_server, table, session, fault)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        # All of the COPY or nothing of it.
        assert rows_in(pg_server, table) in (0, len(ROWS)), f"a partial COPY with {fault}"
    assert set(outcomes) <= {"done", "OperationalError"}, outcomes
    assert outcomes.get("OperationalError", 0) >= CASES_PER_DIRECTION // 2, outcomes
