"""Small parameterized query, one connection, pgpipe vs asyncpg, psycopg and pg8000 in one run.

    python benchmarks/bench_query.py [--iterations 5000] [--rounds 5] [--dsn URI] [--json PATH]

Each driver runs ``SELECT $1::int + 1`` (psycopg and pg8000 in their own
placeholder syntax) on one TCP loopback connection, checks every result, and
reports queries per second: the median of ``--rounds`` measurements, taken
round-robin so machine noise hits every driver alike, and the ratio to
asyncpg's median. Without ``--dsn`` a throwaway PostgreSQL is started.
Peer drivers are optional: a missing one is reported, not fatal.

asyncpg (by default) and psycopg (from the 5th execution) run the statement
as a named prepared statement, so the server skips parsing and planning it;
pgpipe runs every query through the unnamed statement (one round trip, safe
behind transaction-mode poolers), which costs the server about 20 us per
query on this machine. The rows "statement_cache_size=0" and
"prepare_threshold=None" show the peers without that server-side saving.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import Any

import pgpipe
from pgpipe.testing import TemporaryPostgres

SQL = "SELECT $1::int + 1"
WARMUP = 300

Runner = Callable[[str, int], float]


def _timed(loop_body: Callable[[int], Any], n: int) -> float:
    for i in range(WARMUP):
        if loop_body(i) != i + 1:
            raise AssertionError("wrong result during warm-up")
    gc.collect()
    start = time.perf_counter()
    for i in range(n):
        if loop_body(i) != i + 1:
            raise AssertionError(f"wrong result at iteration {i}")
    return n / (time.perf_counter() - start)


async def _timed_async(loop_body: Callable[[int], Awaitable[Any]], n: int) -> float:
    for i in range(WARMUP):
        if await loop_body(i) != i + 1:
            raise AssertionError("wrong result during warm-up")
    gc.collect()
    start = time.perf_counter()
    for i in range(n):
        if await loop_body(i) != i + 1:
            raise AssertionError(f"wrong result at iteration {i}")
    return n / (time.perf_counter() - start)


def pgpipe_sync_typed(dsn: str, n: int) -> float:
    with pgpipe.connect(dsn) as conn:
        int4 = pgpipe.Type.INT4
        return _timed(lambda i: conn.query_with_param_types(SQL, [(i, int4)]).rows[0][0], n)


def pgpipe_sync_inferred(dsn: str, n: int) -> float:
    with pgpipe.connect(dsn) as conn:
        return _timed(lambda i: conn.query(SQL, i).rows[0][0], n)


def _in_loop(main: Callable[[], Awaitable[float]], use_uvloop: bool = False) -> float:
    if use_uvloop:
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


def pgpipe_async_typed(dsn: str, n: int) -> float:
    async def main() -> float:
        async with await pgpipe.connect_async(dsn) as conn:
            int4 = pgpipe.Type.INT4

            async def body(i: int) -> Any:
                return (await conn.query_with_param_types(SQL, [(i, int4)])).rows[0][0]

            return await _timed_async(body, n)

    return _in_loop(main)


def pgpipe_async_inferred(dsn: str, n: int) -> float:
    async def main() -> float:
        async with await pgpipe.connect_async(dsn) as conn:

            async def body(i: int) -> Any:
                return (await conn.query(SQL, i)).rows[0][0]

            return await _timed_async(body, n)

    return _in_loop(main)


def asyncpg_fetchval(dsn: str, n: int, **options: Any) -> float:
    import asyncpg

    async def main() -> float:
        conn = await asyncpg.connect(dsn, **options)
        try:
            return await _timed_async(lambda i: conn.fetchval(SQL, i), n)
        finally:
            await conn.close()

    return _in_loop(main)


def asyncpg_uncached(dsn: str, n: int) -> float:
    return asyncpg_fetchval(dsn, n, statement_cache_size=0)


def psycopg_sync(dsn: str, n: int, **options: Any) -> float:
    import psycopg

    with psycopg.connect(dsn, autocommit=True, **options) as conn, conn.cursor() as cur:

        def body(i: int) -> Any:
            cur.execute("SELECT %s::int + 1", (i,))
            row = cur.fetchone()
            return row[0] if row else None

        return _timed(body, n)


def psycopg_unprepared(dsn: str, n: int) -> float:
    return psycopg_sync(dsn, n, prepare_threshold=None)


def psycopg_async(dsn: str, n: int) -> float:
    import psycopg

    async def main() -> float:
        conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        async with conn, conn.cursor() as cur:

            async def body(i: int) -> Any:
                await cur.execute("SELECT %s::int + 1", (i,))
                row = await cur.fetchone()
                return row[0] if row else None

            return await _timed_async(body, n)

    return _in_loop(main)


def pg8000_native(dsn: str, n: int) -> float:
    from urllib.parse import unquote, urlsplit

    import pg8000.native

    url = urlsplit(dsn)
    conn = pg8000.native.Connection(
        user=unquote(url.username or "postgres"),
        password=unquote(url.password) if url.password else None,
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        database=url.path.lstrip("/") or None,
    )
    try:
        return _timed(lambda i: conn.run("SELECT :v::int + 1", v=i)[0][0], n)
    finally:
        conn.close()


DRIVERS: list[tuple[str, str, Runner]] = [
    ("pgpipe sync", "query_with_param_types", pgpipe_sync_typed),
    ("pgpipe sync", "query (inferred)", pgpipe_sync_inferred),
    ("pgpipe asyncio", "query_with_param_types", pgpipe_async_typed),
    ("pgpipe asyncio", "query (inferred)", pgpipe_async_inferred),
    ("asyncpg", "fetchval", asyncpg_fetchval),
    ("asyncpg", "statement_cache_size=0", asyncpg_uncached),
    ("psycopg sync", "execute+fetchone", psycopg_sync),
    ("psycopg sync", "prepare_threshold=None", psycopg_unprepared),
    ("psycopg asyncio", "execute+fetchone", psycopg_async),
    ("pg8000", "native run", pg8000_native),
]


def available(runner: Runner) -> str | None:
    """None if the driver can be imported, else why not."""
    module = {
        asyncpg_fetchval: "asyncpg",
        asyncpg_uncached: "asyncpg",
        psycopg_sync: "psycopg",
        psycopg_unprepared: "psycopg",
        psycopg_async: "psycopg",
        pg8000_native: "pg8000",
    }.get(runner)
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError:
        return "not installed"
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dsn", help="use this server instead of a throwaway one")
    parser.add_argument("--json", help="write the raw figures to this file")
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        dsn = args.dsn
        server_version = "?"
        if dsn is None:
            pg = stack.enter_context(TemporaryPostgres())
            dsn = pg.dsn(dbname="pgpipe")
            server_version = pg.server_version
        with pgpipe.connect(dsn) as conn:
            server_version = conn.parameters.get("server_version", server_version)

        drivers = [(name, mode, run) for name, mode, run in DRIVERS if available(run) is None]
        missing = [(name, mode, available(run)) for name, mode, run in DRIVERS if available(run)]
        figures: dict[str, list[float]] = {f"{name} | {mode}": [] for name, mode, _ in drivers}
        for _ in range(args.rounds):
            for name, mode, run in drivers:
                figures[f"{name} | {mode}"].append(run(dsn, args.iterations))

    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"python {platform.python_version()}, PostgreSQL {server_version}, "
        f"{os.cpu_count()} CPUs, {args.iterations} queries x {args.rounds} rounds, loopback TCP"
    )
    medians = {key: statistics.median(values) for key, values in figures.items()}
    base = medians.get("asyncpg | fetchval")
    print(f"\n{'driver':<18}{'mode':<26}{'median q/s':>12}{'min-max':>18}{'vs asyncpg':>12}")
    for key, values in figures.items():
        name, mode = key.split(" | ")
        ratio = f"{medians[key] / base:.2f}" if base else "n/a"
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(f"{name:<18}{mode:<26}{medians[key]:>12.0f}{spread:>18}{ratio:>12}")
    for name, mode, why in missing:
        print(f"{name:<18}{mode:<26}{why:>12}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"medians": medians, "figures": figures}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
