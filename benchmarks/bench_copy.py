"""COPY: pgpipe against asyncpg and psycopg, and against pgpipe's own executemany.

    python benchmarks/bench_copy.py [--rows 1000000] [--rounds 3] [--memory-mib 1024]

- copy in: ``--rows`` rows of (int4, text, float8, timestamptz) into an
  unlogged table with binary COPY: pgpipe's ``copy_records_to_table`` (both
  adapters), asyncpg's ``copy_records_to_table``, psycopg's
  ``cursor.copy(...).write_row`` (binary, types set), and pgpipe's
  ``executemany`` of an INSERT (a tenth of the rows, scaled); rows/s.
- copy out: the same rows back with ``COPY ... TO STDOUT (FORMAT binary)``
  decoded to tuples (pgpipe ``read_row`` with types, asyncpg
  ``copy_from_query`` to a sink, raw), against pgpipe decoding the same rows
  from a SELECT; rows/s.
- memory: ``--memory-mib`` MiB of raw COPY data in and out in a child
  process, whose peak RSS growth is printed.

Every run is checked (row counts). Medians of ``--rounds``, round-robin.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from peers import installed

import pgpipe
from pgpipe import Type
from pgpipe.testing import TemporaryPostgres

TABLE = "bench_copy"
TYPES = [Type.INT4, Type.TEXT, Type.FLOAT8, Type.TIMESTAMPTZ]
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def records(n: int) -> list[tuple[int, str, float, dt.datetime]]:
    return [(i, f"row number {i}", i * 0.5, NOW + dt.timedelta(seconds=i)) for i in range(n)]


def reset(dsn: str) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.execute(f"TRUNCATE {TABLE}")


def count(dsn: str) -> int:
    with pgpipe.connect(dsn) as conn:
        return int(conn.query(f"SELECT count(*) FROM {TABLE}").scalar())


def timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


# -- copy in ----------------------------------------------------------------------------


def pgpipe_sync_in(dsn: str, rows: list[Any]) -> float:
    with pgpipe.connect(dsn) as conn:
        return timed(lambda: conn.copy_records_to_table(TABLE, rows))


def pgpipe_async_in(dsn: str, rows: list[Any]) -> float:
    async def main() -> float:
        conn = await pgpipe.connect_async(dsn)
        started = time.perf_counter()
        await conn.copy_records_to_table(TABLE, rows)
        elapsed = time.perf_counter() - started
        await conn.close()
        return elapsed

    return asyncio.run(main())


def asyncpg_in(dsn: str, rows: list[Any]) -> float:
    import asyncpg

    async def main() -> float:
        conn = await asyncpg.connect(dsn.replace("?sslmode=disable", ""), ssl=False)
        started = time.perf_counter()
        await conn.copy_records_to_table(TABLE, records=rows)
        elapsed = time.perf_counter() - started
        await conn.close()
        return elapsed

    return asyncio.run(main())


def psycopg_in(dsn: str, rows: list[Any]) -> float:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {TABLE} FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int4", "text", "float8", "timestamptz"])
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - started


def pgpipe_executemany(dsn: str, rows: list[Any]) -> float:
    part = rows[: len(rows) // 10]
    with pgpipe.connect(dsn) as conn:
        elapsed = timed(
            lambda: conn.executemany(f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4)", part)
        )
    return elapsed * 10  # scaled to all the rows


COPY_IN: list[tuple[str, str | None, Callable[[str, list[Any]], float]]] = [
    ("pgpipe sync copy_records_to_table", None, pgpipe_sync_in),
    ("pgpipe asyncio copy_records_to_table", None, pgpipe_async_in),
    ("asyncpg copy_records_to_table", "asyncpg", asyncpg_in),
    ("psycopg copy write_row (binary)", "psycopg", psycopg_in),
    ("pgpipe executemany (1/10, scaled)", None, pgpipe_executemany),
]


# -- copy out ----------------------------------------------------------------------------


def pgpipe_copy_out(dsn: str, n: int) -> float:
    with pgpipe.connect(dsn) as conn:

        def run() -> None:
            with conn.copy(f"COPY {TABLE} TO STDOUT (FORMAT binary)") as copy:
                copy.set_types(TYPES)
                got = sum(1 for _ in copy.rows())
            assert got == n, got

        return timed(run)


def pgpipe_select(dsn: str, n: int) -> float:
    with pgpipe.connect(dsn) as conn:
        conn.query(f"SELECT * FROM {TABLE} LIMIT 1")  # the statement's result format known

        def run() -> None:
            got = len(conn.query(f"SELECT * FROM {TABLE}").rows)
            assert got == n, got

        return timed(run)


def asyncpg_copy_out(dsn: str, n: int) -> float:
    import asyncpg

    async def main() -> float:
        conn = await asyncpg.connect(dsn.replace("?sslmode=disable", ""), ssl=False)
        size = 0

        async def sink(data: bytes) -> None:
            nonlocal size
            size += len(data)

        started = time.perf_counter()
        await conn.copy_from_query(f"SELECT * FROM {TABLE}", output=sink, format="binary")
        elapsed = time.perf_counter() - started
        await conn.close()
        assert size > n
        return elapsed

    return asyncio.run(main())


def psycopg_copy_out(dsn: str, n: int) -> float:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {TABLE} TO STDOUT (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int4", "text", "float8", "timestamptz"])
            got = sum(1 for _ in copy.rows())
        assert got == n, got
        return time.perf_counter() - started


COPY_OUT: list[tuple[str, str | None, Callable[[str, int], float]]] = [
    ("pgpipe copy read_row (binary, typed)", None, pgpipe_copy_out),
    ("pgpipe SELECT (binary results)", None, pgpipe_select),
    ("asyncpg copy_from_query (raw bytes)", "asyncpg", asyncpg_copy_out),
    ("psycopg copy rows (binary, typed)", "psycopg", psycopg_copy_out),
]


# -- memory -------------------------------------------------------------------------------

MEMORY_SCRIPT = """
import sys, pgpipe

def peak_kib():  # this process's own high-water mark (ru_maxrss keeps the parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

dsn, mib = sys.argv[1], int(sys.argv[2])
conn = pgpipe.connect(dsn)
conn.execute("CREATE TEMP TABLE big (a int, b text)")
before = peak_kib()
chunk = (b"1\\t" + b"x" * 1000 + b"\\n") * 64
with conn.copy("COPY big FROM STDIN") as copy:
    for _ in range(mib * 1024 * 1024 // len(chunk)):
        copy.write(chunk)
with conn.copy("COPY big TO STDOUT") as copy:
    size = sum(len(data) for data in copy)
after = peak_kib()
print(size, before // 1024, after // 1024)
"""


def memory(dsn: str, mib: int) -> tuple[int, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEMORY_SCRIPT), dsn, str(mib)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    size, before, after = map(int, out.stdout.split())
    return size, before, after


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-mib", type=int, default=1024)
    parser.add_argument("--dsn", help="a server to use instead of a throwaway one")
    args = parser.parse_args(argv)

    rows = records(args.rows)
    copy_in = [(name, run) for name, module, run in COPY_IN if installed(module)]
    copy_out = [(name, run) for name, module, run in COPY_OUT if installed(module)]
    figures: dict[str, list[float]] = {}
    with ExitStack() as stack:
        if args.dsn is None:
            pg = stack.enter_context(TemporaryPostgres())
            dsn = pg.dsn(dbname="pgpipe")
        else:
            dsn = args.dsn
        with pgpipe.connect(dsn) as conn:
            server_version = conn.parameters.get("server_version", "?")
            conn.execute(
                f"DROP TABLE IF EXISTS {TABLE}; CREATE UNLOGGED TABLE {TABLE} "
                "(a int4, b text, c float8, d timestamptz)"
            )
        for _ in range(args.rounds):
            for name, run_in in copy_in:
                reset(dsn)
                elapsed = run_in(dsn, rows)
                expected = args.rows // 10 if "executemany" in name else args.rows
                assert count(dsn) == expected, (name, count(dsn))
                figures.setdefault(f"in | {name}", []).append(args.rows / elapsed)
        reset(dsn)
        pgpipe_sync_in(dsn, rows)
        for _ in range(args.rounds):
            for name, run_out in copy_out:
                figures.setdefault(f"out | {name}", []).append(
                    args.rows / run_out(dsn, args.rows)
                )
        mem = memory(dsn, args.memory_mib) if args.memory_mib else None

    print(f"command: python {' '.join(['benchmarks/bench_copy.py', *argv])}")
    print(
        f"python {platform.python_version()}, PostgreSQL {server_version}, {os.cpu_count()} "
        f"CPUs, {args.rows} rows of (int4, text, float8, timestamptz), {args.rounds} rounds"
    )
    medians = {key: statistics.median(values) for key, values in figures.items()}
    print(f"\n{'':<5}{'what':<40}{'rows/s':>12}{'min-max':>22}")
    for key, values in figures.items():
        kind, name = key.split(" | ")
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(f"{kind:<5}{name:<40}{medians[key]:>12.0f}{spread:>22}")
    print()

    def ratio(a: str, b: str) -> None:
        if a in medians and b in medians:
            print(f"{a.split(' | ')[1]} / {b.split(' | ')[1]}: {medians[a] / medians[b]:.2f}x")

    ratio("in | pgpipe sync copy_records_to_table", "in | asyncpg copy_records_to_table")
    ratio("in | pgpipe asyncio copy_records_to_table", "in | asyncpg copy_records_to_table")
    ratio("in | pgpipe sync copy_records_to_table", "in | pgpipe executemany (1/10, scaled)")
    ratio("out | pgpipe copy read_row (binary, typed)", "out | pgpipe SELECT (binary results)")
    if mem is not None:
        size, before, after = mem
        print(
            f"memory: {size / 2**20:.0f} MiB copied in and out; peak RSS {before} MiB before, "
            f"{after} MiB after (+{after - before} MiB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
