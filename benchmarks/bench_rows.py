"""Large results: rows per second and peak memory, pgpipe vs asyncpg, psycopg, pg8000.

    python benchmarks/bench_rows.py [--rows 100000] [--rounds 5]

One connection per driver on loopback; the same SELECT over generate_series
returns (int4, text, bool, timestamptz, float8, numeric, uuid) per row. Each
run fetches every row and touches every value. pgpipe runs the statement once
first, so the measured runs read binary results (as they do from a
statement's second run on). psycopg's pure-Python build runs in a child
process (PSYCOPG_IMPL=python must be set before it is imported). Peak memory
is tracemalloc's peak during one fetch. Every driver's last row is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

from _rows import SQL, check

import pgpipe
from pgpipe.testing import TemporaryPostgres


def pgpipe_sync(dsn: str, sql: str, rows: int) -> Callable[[], None]:
    conn = pgpipe.connect(dsn)
    conn.query(sql)

    def run() -> None:
        check(conn.query(sql).rows, rows)

    return run


def pgpipe_async(dsn: str, sql: str, rows: int) -> Callable[[], None]:
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(pgpipe.connect_async(dsn))
    loop.run_until_complete(conn.query(sql))

    def run() -> None:
        check(loop.run_until_complete(conn.query(sql)).rows, rows)

    return run


def asyncpg_fetch(dsn: str, sql: str, rows: int) -> Callable[[], None]:
    import asyncpg

    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(dsn))

    def run() -> None:
        check(loop.run_until_complete(conn.fetch(sql)), rows)

    return run


def psycopg_fetch(dsn: str, sql: str, rows: int, binary: bool = False) -> Callable[[], None]:
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True)

    def run() -> None:
        with conn.cursor(binary=binary) as cur:
            cur.execute(sql)
            check(cur.fetchall(), rows)

    return run


def pg8000_fetch(dsn: str, sql: str, rows: int) -> Callable[[], None]:
    from urllib.parse import urlsplit

    import pg8000.native

    url = urlsplit(dsn)
    conn = pg8000.native.Connection(
        user=url.username or "postgres",
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        database=url.path.lstrip("/"),
    )

    def run() -> None:
        check(conn.run(sql), rows)

    return run


def psycopg_python(dsn: str, sql: str, rows: int) -> Callable[[], None]:
    """psycopg's pure-Python build, in a child process that times itself."""

    def run() -> None:
        env = dict(os.environ, PSYCOPG_IMPL="python")
        out = subprocess.run(
            [sys.executable, __file__, "--child", dsn, "--rows", str(rows)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
        CHILD_TIMES.append(float(out.split()[0]))

    return run


CHILD_TIMES: list[float] = []


def child(dsn: str, rows: int) -> None:
    import psycopg

    if psycopg.pq.__impl__ != "python":
        raise SystemExit("PSYCOPG_IMPL=python was not honoured")
    run = psycopg_fetch(dsn, SQL.format(rows=rows), rows, binary=True)
    run()
    started = time.perf_counter()
    run()
    print(time.perf_counter() - started)


DRIVERS: list[tuple[str, Callable[[str, str, int], Callable[[], None]], str | None]] = [
    ("pgpipe sync", pgpipe_sync, None),
    ("pgpipe asyncio", pgpipe_async, None),
    ("asyncpg fetch", asyncpg_fetch, "asyncpg"),
    ("psycopg (text)", psycopg_fetch, "psycopg"),
    ("psycopg (binary)", lambda d, s, r: psycopg_fetch(d, s, r, binary=True), "psycopg"),
    ("psycopg pure Python (binary)", psycopg_python, "psycopg"),
    ("pg8000 native", pg8000_fetch, "pg8000"),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", metavar="DSN", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.rows)
        return 0
    sql = SQL.format(rows=args.rows)
    figures: dict[str, list[float]] = {}
    with TemporaryPostgres() as pg:
        dsn = pg.dsn(dbname="pgpipe")
        runners = []
        for name, make, module in DRIVERS:
            if module is not None:
                try:
                    __import__(module)
                except ImportError:
                    print(f"{name}: not installed")
                    continue
            runners.append((name, make(dsn, sql, args.rows)))
        for _ in range(args.rounds):
            for name, run in runners:
                gc.collect()
                started = time.perf_counter()
                run()
                elapsed = time.perf_counter() - started
                if run.__qualname__.startswith("psycopg_python"):
                    elapsed = CHILD_TIMES.pop()
                figures.setdefault(name, []).append(args.rows / elapsed)
        peaks = {}
        for name, run in runners:
            if name.startswith("psycopg pure"):
                continue
            gc.collect()
            tracemalloc.start()
            run()
            peaks[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        version = pg.server_version
    print(f"command: python {' '.join(sys.argv)}")
    print(f"PostgreSQL {version}, {args.rows} rows x 7 columns, {args.rounds} rounds, loopback")
    medians = {name: statistics.median(values) for name, values in figures.items()}
    print(f"\n{'driver':<30}{'rows/s':>10}{'min-max':>20}{'peak MiB':>10}{'pgpipe is':>12}")
    for name, values in figures.items():
        ratio = medians["pgpipe sync"] / medians[name]
        peak = f"{peaks[name] / 2**20:.1f}" if name in peaks else "n/a"
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(f"{name:<30}{medians[name]:>10.0f}{spread:>20}{peak:>10}{ratio:>11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
