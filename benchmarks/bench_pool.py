"""Pools under load: pgpipe.Pool and pgpipe.AsyncPool against psycopg_pool and asyncpg's pool.

    python benchmarks/bench_pool.py [--clients 200] [--queries 100] [--max-size 10] [--rounds 3]

``--clients`` threads (blocking pools) or tasks (asyncio pools) each check a
connection out ``--queries`` times, run one short query on it
(``SELECT $1::int + 1``, its result checked) and give it back, on a pool of
``--max-size`` connections opened beforehand (min_size = max_size). Printed:
queries per second over the whole run, and the checkout wait (from asking
for a connection to having one) at the 50th and 99th percentiles, medians
over ``--rounds`` rounds run round-robin, with pgpipe's ratio to each peer.

- sync: ``pgpipe.Pool`` and ``psycopg_pool.ConnectionPool`` (psycopg 3).
- asyncio: ``pgpipe.AsyncPool``, ``asyncpg.create_pool`` and
  ``psycopg_pool.AsyncConnectionPool``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from peers import installed

import pgpipe
from pgpipe.testing import TemporaryPostgres

SQL = "SELECT $1::int + 1"


@dataclass
class Run:
    qps: float
    p50_ms: float
    p99_ms: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def summarize(elapsed: float, waits: list[float]) -> Run:
    return Run(len(waits) / elapsed, percentile(waits, 0.5) * 1e3, percentile(waits, 0.99) * 1e3)


def threaded(clients: int, queries: int, one: Callable[[int, list[float]], None]) -> Run:
    waits: list[list[float]] = [[] for _ in range(clients)]
    start_line = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        start_line.wait()
        for i in range(queries):
            one(i, waits[index])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return summarize(elapsed, [w for per in waits for w in per])


async def tasked(clients: int, queries: int, one: Callable[[int, list[float]], Any]) -> Run:
    waits: list[float] = []

    async def client() -> None:
        for i in range(queries):
            await one(i, waits)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return summarize(time.perf_counter() - started, waits)


def check(value: Any, i: int) -> None:
    if value != i + 1:
        raise AssertionError(f"wrong result {value!r} for {i}")


# -- sync ------------------------------------------------------------------------------


def pgpipe_sync(dsn: str, clients: int, queries: int, size: int) -> Run:
    with pgpipe.Pool(dsn, min_size=size, max_size=size, timeout=60) as pool:
        pool.wait(30)

        def one(i: int, waits: list[float]) -> None:
            asked = time.perf_counter()
            with pool.connection() as conn:
                waits.append(time.perf_counter() - asked)
                check(conn.query(SQL, i).rows[0][0], i)

        return threaded(clients, queries, one)


def psycopg_pool_sync(dsn: str, clients: int, queries: int, size: int) -> Run:
    import psycopg_pool

    with psycopg_pool.ConnectionPool(
        dsn, min_size=size, max_size=size, timeout=60, kwargs={"autocommit": True}, open=True
    ) as pool:
        pool.wait(30)
        sql = SQL.replace("$1", "%s")

        def one(i: int, waits: list[float]) -> None:
            asked = time.perf_counter()
            with pool.connection() as conn:
                waits.append(time.perf_counter() - asked)
                check(conn.execute(sql, (i,)).fetchone()[0], i)  # type: ignore[index]

        return threaded(clients, queries, one)


# -- asyncio ---------------------------------------------------------------------------


def pgpipe_async(dsn: str, clients: int, queries: int, size: int) -> Run:
    async def main() -> Run:
        async with pgpipe.AsyncPool(dsn, min_size=size, max_size=size, timeout=60) as pool:
            await pool.wait(30)

            async def one(i: int, waits: list[float]) -> None:
                asked = time.perf_counter()
                async with pool.connection() as conn:
                    waits.append(time.perf_counter() - asked)
                    check((await conn.query(SQL, i)).rows[0][0], i)

            return await tasked(clients, queries, one)

    return asyncio.run(main())


def asyncpg_pool(dsn: str, clients: int, queries: int, size: int) -> Run:
    import asyncpg

    async def main() -> Run:
        pool = await asyncpg.create_pool(
            dsn.replace("?sslmode=disable", ""), min_size=size, max_size=size, ssl=False
        )
        try:

            async def one(i: int, waits: list[float]) -> None:
                asked = time.perf_counter()
                async with pool.acquire() as conn:
                    waits.append(time.perf_counter() - asked)
                    check(await conn.fetchval(SQL, i), i)

            return await tasked(clients, queries, one)
        finally:
            await pool.close()

    return asyncio.run(main())


def psycopg_pool_async(dsn: str, clients: int, queries: int, size: int) -> Run:
    import psycopg_pool

    async def main() -> Run:
        async with psycopg_pool.AsyncConnectionPool(
            dsn, min_size=size, max_size=size, timeout=60, kwargs={"autocommit": True}, open=False
        ) as pool:
            await pool.wait(30)
            sql = SQL.replace("$1", "%s")

            async def one(i: int, waits: list[float]) -> None:
                asked = time.perf_counter()
                async with pool.connection() as conn:
                    waits.append(time.perf_counter() - asked)
                    cursor = await conn.execute(sql, (i,))
                    check((await cursor.fetchone())[0], i)  # type: ignore[index]

            return await tasked(clients, queries, one)

    return asyncio.run(main())


DRIVERS: list[tuple[str, str, str | None, Callable[[str, int, int, int], Run]]] = [
    ("sync", "pgpipe.Pool", None, pgpipe_sync),
    ("sync", "psycopg_pool", "psycopg_pool", psycopg_pool_sync),
    ("asyncio", "pgpipe.AsyncPool", None, pgpipe_async),
    ("asyncio", "asyncpg pool", "asyncpg", asyncpg_pool),
    ("asyncio", "psycopg_pool async", "psycopg_pool", psycopg_pool_async),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--max-size", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", help="a server to use instead of a throwaway one")
    args = parser.parse_args(argv)

    chosen = [d for d in DRIVERS if installed(d[2])]
    results: dict[tuple[str, str], list[Run]] = {(k, n): [] for k, n, _, _ in chosen}
    with ExitStack() as stack:
        if args.dsn is None:
            pg = stack.enter_context(TemporaryPostgres(settings={"max_connections": "100"}))
            dsn = pg.dsn(dbname="pgpipe")
        else:
            dsn = args.dsn
        with pgpipe.connect(dsn) as conn:
            server_version = conn.parameters.get("server_version", "?")
        for _ in range(args.rounds):
            for kind, name, _, run in chosen:
                results[(kind, name)].append(run(dsn, args.clients, args.queries, args.max_size))

    print(f"command: python {' '.join(['benchmarks/bench_pool.py', *argv])}")
    print(
        f"python {platform.python_version()}, PostgreSQL {server_version}, {os.cpu_count()} CPUs, "
        f"{args.clients} clients x {args.queries} checkouts, max_size {args.max_size}, "
        f"{args.rounds} rounds, loopback TCP"
    )
    print(f"\n{'kind':<9}{'pool':<20}{'queries/s':>11}{'min-max':>15}{'wait p50 ms':>13}"
          f"{'wait p99 ms':>13}")
    medians: dict[tuple[str, str], Run] = {}
    for (kind, name), runs in results.items():
        qps = [r.qps for r in runs]
        median = Run(
            statistics.median(qps),
            statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs),
        )
        medians[(kind, name)] = median
        spread = f"{min(qps):.0f}-{max(qps):.0f}"
        print(
            f"{kind:<9}{name:<20}{median.qps:>11.0f}{spread:>15}{median.p50_ms:>13.2f}"
            f"{median.p99_ms:>13.2f}"
        )
    print()
    for (kind, name), mine in medians.items():
        if not name.startswith("pgpipe"):
            continue
        for (other_kind, other), theirs in medians.items():
            if other_kind == kind and not other.startswith("pgpipe"):
                print(
                    f"{name} / {other}: throughput {mine.qps / theirs.qps:.2f}x, "
                    f"p99 wait {mine.p99_ms:.2f} vs {theirs.p99_ms:.2f} ms"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
