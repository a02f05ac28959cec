"""Large results: rows per second decoding one wide query, pgpipe vs asyncpg, psycopg, pg8000.

    python benchmarks/bench_rows.py [--rows 100000] [--rounds 5]

One connection per driver on loopback; the same SELECT over generate_series
returns int4, int8, float8, text, numeric, timestamptz, bool and a NULL per
row. pgpipe runs the statement once first, so the measured runs read binary
results (as they do from a statement's second run on). Every driver's last
row is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pgpipe
from pgpipe.testing import TemporaryPostgres

SQL = (
    "SELECT g, g::int8 * 1000, g / 3.0::float8, 'row ' || g, (g / 7.0)::numeric(12,4),"
    " timestamptz '2024-01-01 00:00+00' + g * interval '1 second', g % 2 = 0, NULL::int"
    " FROM generate_series(1, {rows}) g"
)


def check(last: Any, rows: int) -> None:
    if last[0] != rows or last[3] != f"row {rows}":
        raise AssertionError(f"wrong last row {last!r}")


def pgpipe_sync(dsn: str, sql: str, rows: int) -> Callable[[], None]:
    conn = pgpipe.connect(dsn)
    conn.query(sql)

    def run() -> None:
        check(conn.query(sql).rows[-1], rows)

    return run


def pgpipe_async(dsn: str, sql: str, rows: int) -> Callable[[], None]:
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(pgpipe.connect_async(dsn))
    loop.run_until_complete(conn.query(sql))

    def run() -> None:
        check(loop.run_until_complete(conn.query(sql)).rows[-1], rows)

    return run


def asyncpg_fetch(dsn: str, sql: str, rows: int) -> Callable[[], None]:
    import asyncpg

    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(dsn))

    def run() -> None:
        check(loop.run_until_complete(conn.fetch(sql))[-1], rows)

    return run


def psycopg_fetch(dsn: str, sql: str, rows: int, binary: bool = False) -> Callable[[], None]:
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True)

    def run() -> None:
        with conn.cursor(binary=binary) as cur:
            cur.execute(sql)
            check(cur.fetchall()[-1], rows)

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
        check(conn.run(sql)[-1], rows)

    return run


DRIVERS: list[tuple[str, Callable[[str, str, int], Callable[[], None]], str | None]] = [
    ("pgpipe sync", pgpipe_sync, None),
    ("pgpipe asyncio", pgpipe_async, None),
    ("asyncpg fetch", asyncpg_fetch, "asyncpg"),
    ("psycopg (text)", psycopg_fetch, "psycopg"),
    ("psycopg (binary)", lambda d, s, r: psycopg_fetch(d, s, r, binary=True), "psycopg"),
    ("pg8000 native", pg8000_fetch, "pg8000"),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
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
                figures.setdefault(name, []).append(args.rows / (time.perf_counter() - started))
        version = pg.server_version
    print(f"command: python {' '.join(sys.argv)}")
    print(f"PostgreSQL {version}, {args.rows} rows x 8 columns, {args.rounds} rounds, loopback")
    base = statistics.median(figures["asyncpg fetch"]) if "asyncpg fetch" in figures else None
    print(f"\n{'driver':<20}{'median rows/s':>15}{'min-max':>22}{'vs asyncpg':>12}")
    for name, values in figures.items():
        median = statistics.median(values)
        ratio = f"{median / base:.2f}" if base else "n/a"
        print(f"{name:<20}{median:>15.0f}{f'{min(values):.0f}-{max(values):.0f}':>22}{ratio:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
