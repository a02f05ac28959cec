"""Issue 19's figures in one run: pgpipe (pure and compiled) against asyncpg and psycopg.

    python benchmarks/bench_speed.py [--rounds 5] [--queries 2000] [--rows 50000]

One throwaway PostgreSQL serves everything. Each round runs every contender
once, in turn, so machine noise falls on all alike; the table shows medians,
and each ratio to the bar's reference as the median of the rounds' own
ratios (contenders measured in one round share its conditions). Every
contender runs in a fresh child process of its own that imports only its
driver, as a script or a serverless handler does: pgpipe's pure package
from this checkout, its compiled one from build/compiled (made by
scripts/build_compiled.sh when missing or stale), asyncpg, psycopg, and the
floor.

Where a process stands with glibc's malloc changes asyncio's figures. A
plain ``asyncio.Protocol``'s transport allocates 256 KiB for every read; a
block that size gets an mmap of its own (then an mremap and a munmap: about
14 us a read here) unless the heap has a hole that big, or the process once
freed a larger mapped block, which raises glibc's threshold for good. A
fresh process that imports only its driver is usually in the first state;
a long-running one that has handled large data, in the second. Each child
reports which state it measured in (the table's last lines); ``--warm-heap``
has every child free one 1 MiB block first, the second state for all.
pgpipe's transport reads into a buffer it keeps, and pays neither way.

Figures, all on loopback TCP with default settings:

- small query: ``SELECT $1::int + 1``, queries per second, and the client's
  CPU microseconds per query (``time.process_time``: what the driver itself
  costs, the part the network and the server do not hide); pgpipe's "named
  statements" lines run it with ``statement_cache_size=100``, prepared once
  and then bound, so that the server does what it does for asyncpg and
  psycopg (pgpipe's default, the unnamed statement, has it parse and plan
  the text every time); a last line compares pgpipe's default with the peers
  as their documentation sets them behind a transaction pooler (psycopg's
  ``prepare_threshold=None``, asyncpg's ``statement_cache_size=0``), where
  the server keeps no statement for them either;
- rows: 7 columns x ``--rows`` rows (int4, text, bool, timestamptz, float8,
  numeric, uuid), rows per second; pgpipe's "first run" changes the SQL text
  each time, so every run is a statement's first (text results);
- connect CPU: client CPU milliseconds to connect (trust, no TLS), run
  ``SELECT 1`` and close.

Three ways to run it, because on a small VM waking a process on another core
can cost more than the query itself, and where the scheduler puts the client
and its server backend changes from round to round:

- by default, the scheduler places every process as it likes;
- ``--busy-cores``: every core kept busy by a lowest-priority spinner, so no
  core sleeps;
- ``--one-core``: the client (and its children) and the server (its
  postmaster, so every backend) pinned to one CPU, the first this process
  may use. Nothing waits for another core: a query's time is the client's
  CPU plus the server's plus the kernel's, one after the other, so what a
  driver saves shows up whole.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _rows import SQL as ROWS_SQL
from _rows import check as check_rows

ROOT = Path(__file__).resolve().parent.parent
SQL = "SELECT $1::int + 1"
CONNECTS = 40
READ = 256 * 1024  # what asyncio's socket transport allocates for each read

Figures = dict[str, float]


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def reads_mapped() -> float:
    """1.0 when glibc's malloc, in this process as it stands, gives a block the
    size of asyncio's read an mmap of its own (counted by ``mallinfo2``); 0.0
    when the heap serves it; -1.0 where that cannot be told (not glibc 2.33+).

    The block is shrunk before it is freed, as a read's is: freeing a mapped
    block whole would raise glibc's threshold and change what it measures."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2, malloc, realloc, free = libc.mallinfo2, libc.malloc, libc.realloc, libc.free
    except (OSError, AttributeError):
        return -1.0
    mallinfo2.restype = _MallInfo2
    malloc.restype = realloc.restype = ctypes.c_void_p
    malloc.argtypes, realloc.argtypes = [ctypes.c_size_t], [ctypes.c_void_p, ctypes.c_size_t]
    free.argtypes = [ctypes.c_void_p]
    before = mallinfo2().hblks
    block = malloc(READ)
    mapped = mallinfo2().hblks > before
    free(realloc(block, 16))
    return float(mapped)


def _loop_sync(body: Callable[[int], Any], n: int) -> tuple[float, float]:
    """(queries per second, CPU microseconds per query)."""
    for i in range(200):
        if body(i) != i + 1:
            raise AssertionError("wrong result")
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        if body(i) != i + 1:
            raise AssertionError("wrong result")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, cpu / n * 1e6


# Whether glibc mapped each 256 KiB block when each asyncio loop began.
_MAPPED: list[float] = []


def _loop_async(body: Callable[[int], Any], n: int) -> tuple[float, float]:
    async def main() -> tuple[float, float]:
        for i in range(200):
            if await body(i) != i + 1:
                raise AssertionError("wrong result")
        gc.collect()
        _MAPPED.append(reads_mapped())
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(n):
            if await body(i) != i + 1:
                raise AssertionError("wrong result")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return n / wall, cpu / n * 1e6

    return asyncio.get_event_loop().run_until_complete(main())


def _rows_per_second(fetch: Callable[[str], Any], sql: str, rows: int) -> float:
    started = time.perf_counter()
    check_rows(fetch(sql), rows)
    return rows / (time.perf_counter() - started)


# -- each contender, in a child process of its own -----------------------------------


def pgpipe_figures(dsn: str, queries: int, rows: int) -> Figures:
    import pgpipe
    from pgpipe._compiled import is_compiled

    out: Figures = {"compiled": float(is_compiled())}
    sql = ROWS_SQL.format(rows=rows)
    with pgpipe.connect(dsn) as conn:
        out["query_sync"], out["query_sync_cpu"] = _loop_sync(
            lambda i: conn.query(SQL, i).rows[0][0], queries
        )
        conn.query(sql)
        out["rows_sync"] = _rows_per_second(lambda s: conn.query(s).rows, sql, rows)
        first = [
            _rows_per_second(lambda s: conn.query(s).rows, f"{sql} -- {time.time_ns()}", rows)
            for _ in range(2)
        ]
        out["rows_first_run"] = max(first)
    # Named statements (prepared at the first run, then bound): the server's work
    # is then the peers' (asyncpg prepares every text, psycopg from the fifth run).
    with pgpipe.connect(dsn, statement_cache_size=100) as conn:
        out["named_sync"], out["named_sync_cpu"] = _loop_sync(
            lambda i: conn.query(SQL, i).rows[0][0], queries
        )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    aconn = loop.run_until_complete(pgpipe.connect_async(dsn))

    async def one(i: int) -> Any:
        return (await aconn.query(SQL, i)).rows[0][0]

    out["query_async"], out["query_async_cpu"] = _loop_async(one, queries)
    named = loop.run_until_complete(pgpipe.connect_async(dsn, statement_cache_size=100))

    async def one_named(i: int) -> Any:
        return (await named.query(SQL, i)).rows[0][0]

    out["named_async"], out["named_async_cpu"] = _loop_async(one_named, queries)
    loop.run_until_complete(named.close())
    loop.run_until_complete(aconn.query(sql))
    out["rows_async"] = _rows_per_second(
        lambda s: loop.run_until_complete(aconn.query(s)).rows, sql, rows
    )
    loop.run_until_complete(aconn.close())
    cpu = time.process_time()
    for _ in range(CONNECTS):
        with pgpipe.connect(dsn) as c:
            c.query("SELECT 1")
    out["connect_cpu_ms"] = (time.process_time() - cpu) / CONNECTS * 1000
    loop.close()
    return out


def asyncpg_figures(dsn: str, queries: int, rows: int) -> Figures:
    import asyncpg

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    conn = loop.run_until_complete(asyncpg.connect(dsn))
    out: Figures = {}
    out["query_async"], out["query_async_cpu"] = _loop_async(
        lambda i: conn.fetchval(SQL, i), queries
    )
    sql = ROWS_SQL.format(rows=rows)
    loop.run_until_complete(conn.fetch(sql))
    out["rows_async"] = _rows_per_second(
        lambda s: loop.run_until_complete(conn.fetch(s)), sql, rows
    )
    loop.run_until_complete(conn.close())
    # As asyncpg's documentation advises behind a transaction pooler: no statement
    # kept (each query is prepared unnamed, then bound: two round trips).
    pooled = loop.run_until_complete(asyncpg.connect(dsn, statement_cache_size=0))
    out["unkept_async"], _ = _loop_async(lambda i: pooled.fetchval(SQL, i), queries)
    loop.run_until_complete(pooled.close())
    cpu = time.process_time()
    for _ in range(CONNECTS):
        c = loop.run_until_complete(asyncpg.connect(dsn))
        loop.run_until_complete(c.fetchval("SELECT 1"))
        loop.run_until_complete(c.close())
    out["connect_cpu_ms"] = (time.process_time() - cpu) / CONNECTS * 1000
    loop.close()
    return out


def psycopg_figures(dsn: str, queries: int, rows: int) -> Figures:
    import psycopg

    out: Figures = {}
    sql = ROWS_SQL.format(rows=rows).replace("$1", "%s")
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:

        def body(i: int) -> Any:
            cur.execute("SELECT %s::int + 1", (i,))
            row = cur.fetchone()
            return row[0] if row else None

        out["query_sync"], out["query_sync_cpu"] = _loop_sync(body, queries)
        with conn.cursor(binary=True) as bcur:

            def fetch(s: str) -> Any:
                bcur.execute(s)
                return bcur.fetchall()

            fetch(sql)
            out["rows_sync"] = _rows_per_second(fetch, sql, rows)
    # As psycopg's documentation advises behind a transaction pooler: never
    # prepared (Parse, Bind, Execute and Sync of the unnamed statement each time).
    with (
        psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as unkept_conn,
        unkept_conn.cursor() as unkept_cur,
    ):

        def unkept(i: int) -> Any:
            unkept_cur.execute("SELECT %s::int + 1", (i,))
            row = unkept_cur.fetchone()
            return row[0] if row else None

        out["unkept_sync"], _ = _loop_sync(unkept, queries)
    return out


def raw_figures(dsn: str, queries: int, rows: int) -> Figures:
    """The floor: a raw socket sending prebuilt messages, reading to ReadyForQuery.
    No driver at all: what the network and the server cost per query."""
    import socket
    import struct
    from urllib.parse import urlsplit

    from pgpipe.protocol import frontend

    url = urlsplit(dsn)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 5432))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def until_ready(buffer: bytearray) -> None:
        while not buffer.endswith(READY):
            data = sock.recv(65536)
            if not data:
                raise AssertionError("the server closed")
            buffer += data

    startup = frontend.startup_message(
        {"user": url.username or "postgres", "database": url.path.lstrip("/") or "postgres"}
    )
    sock.sendall(startup)
    until_ready(bytearray())
    value = struct.pack("!i", 41)
    unnamed = (
        frontend.parse("", SQL, [23])
        + frontend.bind("", "", [1], [value], [1])
        + frontend.describe("P", "")
        + frontend.execute("")
        + frontend.close("S", "")
        + frontend.SYNC
    )
    sock.sendall(frontend.parse("s1", SQL, [23]) + frontend.SYNC)
    until_ready(bytearray())
    named = frontend.bind("", "s1", [1], [value], [1]) + frontend.execute("") + frontend.SYNC
    out: Figures = {}
    for name, message in (("unnamed", unnamed), ("named", named)):
        for _ in range(200):
            sock.sendall(message)
            until_ready(bytearray())
        started = time.perf_counter()
        for _ in range(queries):
            sock.sendall(message)
            until_ready(bytearray())
        out[name] = queries / (time.perf_counter() - started)
    address = (url.hostname or "127.0.0.1", url.port or 5432)
    prepare = frontend.parse("s1", SQL, [23]) + frontend.SYNC
    out.update(_raw_asyncio(address, queries, (startup, prepare), unnamed, named))
    # The rows, as the server writes them in text (a statement's first run) and
    # in binary (its later runs), read to ReadyForQuery and not decoded.
    sql = ROWS_SQL.format(rows=rows)
    for name, fmt in (("rows_text", 0), ("rows_binary", 1)):
        started = time.perf_counter()
        sock.sendall(
            frontend.parse("", sql, [])
            + frontend.bind("", "", [], [], [fmt])
            + frontend.execute("")
            + frontend.SYNC
        )
        until_ready(bytearray())
        out[name] = rows / (time.perf_counter() - started)
    sock.close()
    return out


READY = b"Z\x00\x00\x00\x05I"  # ReadyForQuery, idle


class FloorWaiting:
    """The floor's reading through asyncio: bytes kept until they end with
    ReadyForQuery, one future per wait, as an asyncio driver must at the least.
    Mixed into a protocol that calls ``got`` with what arrived."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.waiter: asyncio.Future[None] | None = None

    def got(self, data: bytes | memoryview) -> None:
        self.data += data
        if self.waiter is not None and self.data.endswith(READY):
            self.waiter.set_result(None)

    async def until_ready(self) -> None:
        while not self.data.endswith(READY):
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
            self.waiter = None
        self.data.clear()


class FloorReader(FloorWaiting, asyncio.BufferedProtocol):
    """The floor's protocol: the transport reads into a buffer it keeps, as pgpipe's does."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = memoryview(bytearray(65536))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.got(self.buffer[:nbytes])


def _raw_asyncio(
    address: tuple[str, int], queries: int, setup: tuple[bytes, ...], unnamed: bytes, named: bytes
) -> Figures:
    """The floor through asyncio: a protocol that reads to ReadyForQuery (into a
    buffer it keeps, as pgpipe's does) and wakes one future per query, as an
    asyncio driver must at the least; and the unnamed statement's once more
    through the loop's socket calls."""
    import socket

    async def main() -> Figures:
        loop = asyncio.get_running_loop()
        transport, reader = await loop.create_connection(FloorReader, *address)
        for message in setup:
            transport.write(message)
            await reader.until_ready()
        out: Figures = {}
        for name, message in (("unnamed_async", unnamed), ("named_async", named)):
            for _ in range(200):
                transport.write(message)
                await reader.until_ready()
            started = time.perf_counter()
            for _ in range(queries):
                transport.write(message)
                await reader.until_ready()
            out[name] = queries / (time.perf_counter() - started)
        transport.close()
        return out

    async def by_socket() -> Figures:
        # A second form of the floor: no transport and no protocol, the loop's
        # own socket calls (sock_sendall, sock_recv: a reader added per wait).
        loop = asyncio.get_running_loop()
        sock = socket.create_connection(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)

        async def until_ready() -> None:
            data = await loop.sock_recv(sock, 65536)
            while not data.endswith(READY):
                more = await loop.sock_recv(sock, 65536)
                if not more:
                    raise AssertionError("the server closed")
                data += more

        for message in setup:
            await loop.sock_sendall(sock, message)
            await until_ready()
        for _ in range(200):
            await loop.sock_sendall(sock, unnamed)
            await until_ready()
        started = time.perf_counter()
        for _ in range(queries):
            await loop.sock_sendall(sock, unnamed)
            await until_ready()
        elapsed = time.perf_counter() - started
        sock.close()
        return {"unnamed_async_sock": queries / elapsed}

    loop = asyncio.new_event_loop()
    try:
        out = loop.run_until_complete(main())
        out.update(loop.run_until_complete(by_socket()))
        return out
    finally:
        loop.close()


CONTENDERS: dict[str, Callable[[str, int, int], Figures]] = {
    "pgpipe": pgpipe_figures,
    "raw socket": raw_figures,
    "asyncpg": asyncpg_figures,
    "psycopg": psycopg_figures,
}


def run_child(contender: str, where: Path, dsn: str, args: argparse.Namespace) -> Figures:
    """One contender's figures, measured in a fresh process working in ``where``."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_speed.py"),
            "--child",
            contender,
            "--dsn",
            dsn,
            "--queries",
            str(args.queries),
            "--rows",
            str(args.rows),
            *(["--warm-heap"] if args.warm_heap else []),
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=900,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if result.returncode != 0:
        raise SystemExit(f"{contender}'s child in {where} failed:\n{result.stderr[-3000:]}")
    figures: Figures = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def compiled_tree() -> Path:
    out = (
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "build_compiled.sh")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return ROOT / out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument(
        "--busy-cores",
        action="store_true",
        help="keep every core busy with a lowest-priority spinner while measuring: "
        "a second method, for VMs where waking an idle core dominates a round trip",
    )
    parser.add_argument(
        "--one-core",
        action="store_true",
        help="pin this process, its children and the server to one CPU: a third method, "
        "where a query costs the client's and the server's CPU in turn",
    )
    parser.add_argument(
        "--warm-heap",
        action="store_true",
        help="every child frees one 1 MiB block before measuring, as a long-running "
        "process has: glibc then serves asyncio's 256 KiB reads from the heap",
    )
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.busy_cores and args.one_core:
        parser.error("--busy-cores and --one-core are two different methods: choose one")
    if args.child:
        if args.warm_heap:
            block = bytearray(1 << 20)
            del block
        # Imported from the working directory: the build the parent chose.
        sys.path.insert(0, os.getcwd())
        figures = CONTENDERS[args.child](args.dsn, args.queries, args.rows)
        if _MAPPED:
            figures["reads_mapped"] = _MAPPED[0]
        print(json.dumps(figures))
        return

    builds = {"pure": ROOT, "compiled": compiled_tree()}
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    peers = [name for name in CONTENDERS if name != "pgpipe"]
    runs: dict[str, list[Figures]] = {name: [] for name in [*builds, *peers]}
    spinners = [
        subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while True: pass"])
        for _ in range((os.cpu_count() or 1) if args.busy_cores else 0)
    ]
    try:
        measure_all(builds, runs, args)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    if not runs["compiled"][0].get("compiled"):
        raise SystemExit("build/compiled did not import compiled modules")
    median = {
        name: {key: statistics.median(f[key] for f in figures) for key in figures[0]}
        for name, figures in runs.items()
    }
    report(median, runs, args)


def measure_all(
    builds: dict[str, Path], runs: dict[str, list[Figures]], args: argparse.Namespace
) -> None:
    from pgpipe.testing import TemporaryPostgres

    with TemporaryPostgres() as pg:
        dsn = pg.dsn()
        if args.one_core:
            # Backends are forked by the postmaster, and inherit where it may run.
            with open(os.path.join(pg.data_dir, "postmaster.pid"), encoding="ascii") as f:
                os.sched_setaffinity(int(f.readline()), os.sched_getaffinity(0))
        for _ in range(args.rounds):
            for name, where in builds.items():
                runs[name].append(run_child("pgpipe", where, dsn, args))
            for name in [n for n in runs if n not in builds]:
                runs[name].append(run_child(name, ROOT, dsn, args))


def report(m: dict[str, Figures], runs: dict[str, list[Figures]], args: argparse.Namespace) -> None:
    import platform

    print(
        f"# python {platform.python_version()}, {os.cpu_count()} CPUs, loopback TCP, "
        f"median of {args.rounds} rounds; {args.queries} queries, {args.rows} rows x 7 columns"
        + ("; every core kept busy by a lowest-priority spinner" if args.busy_cores else "")
        + ("; client and server pinned to one CPU" if args.one_core else "")
        + ("; every child freed a 1 MiB block first (--warm-heap)" if args.warm_heap else "")
    )
    a, p = m["asyncpg"], m["psycopg"]

    def paired(build: str, key: str, other: str, other_key: str) -> float:
        """The median of each round's ratio: contenders measured in the same round
        share its conditions, which drift from round to round."""
        pairs = zip(runs[build], runs[other], strict=True)
        return statistics.median(mine[key] / theirs[other_key] for mine, theirs in pairs)

    lines: list[tuple[str, str, float, float, str]] = []
    for build in ("pure", "compiled"):
        g = m[build]
        q_bar = 1.0 if build == "pure" else 1.1
        aq_bar = 0.9 if build == "pure" else 1.1
        lines += [
            (
                build,
                "small query, sync (q/s)",
                g["query_sync"],
                paired(build, "query_sync", "asyncpg", "query_async"),
                f"vs asyncpg, bar {q_bar}x; vs psycopg "
                f"{paired(build, 'query_sync', 'psycopg', 'query_sync'):.2f}x",
            ),
            (
                build,
                "small query, asyncio (q/s)",
                g["query_async"],
                paired(build, "query_async", "asyncpg", "query_async"),
                f"vs asyncpg, bar {aq_bar}x",
            ),
            (
                build,
                "  named statements, sync (q/s)",
                g["named_sync"],
                paired(build, "named_sync", "asyncpg", "query_async"),
                "vs asyncpg; vs psycopg "
                f"{paired(build, 'named_sync', 'psycopg', 'query_sync'):.2f}x "
                "(statement_cache_size=100: the peers' server work)",
            ),
            (
                build,
                "  named statements, asyncio (q/s)",
                g["named_async"],
                paired(build, "named_async", "asyncpg", "query_async"),
                "vs asyncpg (statement_cache_size=100)",
            ),
            (
                build,
                "  client CPU per query, sync (us)",
                g["query_sync_cpu"],
                paired(build, "query_sync_cpu", "psycopg", "query_sync_cpu"),
                "vs psycopg's (lower is better)",
            ),
            (
                build,
                "  client CPU per query, asyncio (us)",
                g["query_async_cpu"],
                paired(build, "query_async_cpu", "asyncpg", "query_async_cpu"),
                "vs asyncpg's (lower is better)",
            ),
            (
                build,
                "rows, binary, sync (rows/s)",
                g["rows_sync"],
                paired(build, "rows_sync", "psycopg", "rows_sync"),
                "vs psycopg C binary, bar 0.8x"
                if build == "pure"
                else "vs psycopg; vs asyncpg "
                f"{paired(build, 'rows_sync', 'asyncpg', 'rows_async'):.2f}x, bar 1.0x",
            ),
            (
                build,
                "rows, asyncio (rows/s)",
                g["rows_async"],
                paired(build, "rows_async", "asyncpg", "rows_async"),
                "vs asyncpg" + (", bar 1.0x" if build == "compiled" else ""),
            ),
            (
                build,
                "rows, a statement's first run (rows/s)",
                g["rows_first_run"],
                paired(build, "rows_first_run", build, "rows_sync"),
                "vs its later runs, bar 0.85x",
            ),
            (
                build,
                "connect + SELECT 1, client CPU (ms)",
                g["connect_cpu_ms"],
                paired(build, "connect_cpu_ms", "asyncpg", "connect_cpu_ms"),
                "vs asyncpg's, bar <= 1.0x",
            ),
        ]
    print(f"{'build':9} {'figure':42} {'value':>10} {'ratio':>7}  against")
    for build, name, value, ratio, against in lines:
        print(f"{build:9} {name:42} {value:>10.1f} {ratio:>7.2f}  {against}")
    print(
        "peers: asyncpg {:.0f} q/s ({:.1f} us CPU), {:.0f} rows/s, connect {:.2f} ms CPU; "
        "psycopg {:.0f} q/s ({:.1f} us CPU), binary rows {:.0f} rows/s".format(
            a["query_async"],
            a["query_async_cpu"],
            a["rows_async"],
            a["connect_cpu_ms"],
            p["query_sync"],
            p["query_sync_cpu"],
            p["rows_sync"],
        )
    )
    r = m["raw socket"]
    print(
        f"floor (raw socket, prebuilt messages, no driver): unnamed statement "
        f"{r['unnamed']:.0f} q/s, named statement {r['named']:.0f} q/s; the server's "
        f"parse and plan: {(1 / r['unnamed'] - 1 / r['named']) * 1e6:.1f} us per query; "
        f"rows written in text {r['rows_text']:.0f} rows/s, in binary {r['rows_binary']:.0f} "
        f"rows/s ({r['rows_text'] / r['rows_binary']:.2f}x)"
    )
    # A small query's time, less the floor's on the same path: what the driver adds
    # (pgpipe's default is the unnamed statement; asyncpg and psycopg prepare).
    print(
        f"floor through asyncio (a BufferedProtocol, one future per query): unnamed statement "
        f"{r['unnamed_async']:.0f} q/s, named statement {r['named_async']:.0f} q/s; "
        f"a second form (loop.sock_recv, no transport): unnamed statement "
        f"{r['unnamed_async_sock']:.0f} q/s"
    )
    # A small query's time less the floor's on the same path and adapter: what the
    # driver adds (pgpipe's default is the unnamed statement; asyncpg and psycopg
    # prepare), and what each bar leaves pgpipe to add.
    floor = {key: 1e6 / r[key] for key in ("unnamed", "named", "unnamed_async", "named_async")}
    asyncpg_us = 1e6 / a["query_async"]

    def above(q: float, path: str) -> str:
        return f"{1e6 / q - floor[path]:.0f}"

    def left(bar: float, path: str) -> str:
        return f"{asyncpg_us / bar - floor[path]:.0f}"

    g, c = m["pure"], m["compiled"]
    print(
        "time a small query takes above the floor (us): "
        f"pure sync {above(g['query_sync'], 'unnamed')} (bar 1.0x leaves {left(1.0, 'unnamed')}), "
        f"asyncio {above(g['query_async'], 'unnamed_async')} "
        f"(bar 0.9x leaves {left(0.9, 'unnamed_async')}); "
        f"compiled sync {above(c['query_sync'], 'unnamed')} "
        f"(bar 1.1x leaves {left(1.1, 'unnamed')}), "
        f"asyncio {above(c['query_async'], 'unnamed_async')} "
        f"(bar 1.1x leaves {left(1.1, 'unnamed_async')}); "
        f"asyncpg {above(a['query_async'], 'named_async')}, "
        f"psycopg {above(p['query_sync'], 'named')} (above the named floor)"
    )
    # Like for like: the peers as their documentation sets them behind a
    # transaction pooler, where no statement is kept on the server either.
    print(
        "with no statement kept on the server (the peers' settings for a transaction pooler: "
        f"psycopg prepare_threshold=None {p['unkept_sync']:.0f} q/s, asyncpg "
        f"statement_cache_size=0 {a['unkept_async']:.0f} q/s): "
        + "; ".join(
            f"{build} sync {paired(build, 'query_sync', 'psycopg', 'unkept_sync'):.2f}x psycopg "
            f"and {paired(build, 'query_sync', 'asyncpg', 'unkept_async'):.2f}x asyncpg, "
            f"asyncio {paired(build, 'query_async', 'asyncpg', 'unkept_async'):.2f}x asyncpg"
            for build in ("pure", "compiled")
        )
    )
    mapped = ", ".join(
        f"{name} {sum(f['reads_mapped'] == 1.0 for f in figures)}/{len(figures)}"
        for name, figures in runs.items()
        if "reads_mapped" in figures[0]
    )
    print(
        f"children where glibc mapped a {READ // 1024} KiB block when the asyncio small query "
        "began (a plain asyncio.Protocol then pays an mmap, an mremap and a munmap a read; "
        f"pgpipe and the floor read into a kept buffer): {mapped}"
    )


if __name__ == "__main__":
    main()
