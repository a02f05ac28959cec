"""What asyncio's read allocation costs a query, in fresh processes.

    python benchmarks/bench_reads.py [--rounds 6] [--queries 4000] [--warm-heap]

asyncio's socket transport reads with ``recv(256 KiB)`` for a plain
``asyncio.Protocol``: a new 256 KiB bytes object for every read. glibc's
malloc gives a block that size an mmap of its own unless its heap has a free
hole that large or the process once freed a larger mapped block (which
raises its threshold for good); the read then shrinks it with mremap, and
freeing it is a munmap. A ``BufferedProtocol`` has the transport
``recv_into`` a buffer it keeps, and allocates nothing per read.

Each line runs in a fresh child process of its own, every round, as a
script or a serverless handler does (the floor's import pgpipe's message
writers, and nothing of its connection):

- ``floor, Protocol`` and ``floor, BufferedProtocol``: ``SELECT $1::int + 1``
  as prebuilt messages, read to ReadyForQuery, one future per query
  (bench_speed's floor): the same code but for how it receives bytes;
- ``pgpipe``: ``await conn.query(SQL, i)`` (a BufferedProtocol);
- ``asyncpg``: ``await conn.fetchval(SQL, i)`` (a plain Protocol).

Each child also says whether glibc mapped a 256 KiB block when it began
timing (``bench_speed.reads_mapped``). ``--warm-heap`` has each child free
one 1 MiB block first: then no line should pay for its reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import subprocess
import sys
import time
from typing import Any

from bench_speed import FloorReader, FloorWaiting, reads_mapped

SQL = "SELECT $1::int + 1"
LINES = ("floor, Protocol", "floor, BufferedProtocol", "pgpipe", "asyncpg")


class PlainReader(FloorWaiting, asyncio.Protocol):
    """bench_speed's floor, but a plain Protocol: the transport allocates each read."""

    def data_received(self, data: bytes) -> None:
        self.got(data)


async def _timed(body: Any, queries: int) -> dict[str, float]:
    for i in range(300):
        if await body(i) != i + 1:
            raise AssertionError("wrong result")
    mapped = reads_mapped()
    started = time.perf_counter()
    for i in range(queries):
        if await body(i) != i + 1:
            raise AssertionError("wrong result")
    return {"qps": queries / (time.perf_counter() - started), "mapped": mapped}


async def child(line: str, dsn: str, queries: int) -> dict[str, float]:
    from urllib.parse import urlsplit

    if line == "pgpipe":
        import pgpipe

        conn = await pgpipe.connect_async(dsn)
        try:
            return await _timed(lambda i: _first(conn.query(SQL, i)), queries)
        finally:
            await conn.close()
    if line == "asyncpg":
        import asyncpg

        peer = await asyncpg.connect(dsn)
        try:
            return await _timed(lambda i: peer.fetchval(SQL, i), queries)
        finally:
            await peer.close()
    # The floor: prebuilt messages, the answer read to ReadyForQuery, nothing decoded.
    from pgpipe.protocol import frontend

    url = urlsplit(dsn)
    kind = PlainReader if line == "floor, Protocol" else FloorReader
    transport, reader = await asyncio.get_running_loop().create_connection(
        kind, url.hostname or "127.0.0.1", url.port or 5432
    )
    transport.write(
        frontend.startup_message(
            {"user": url.username or "postgres", "database": url.path.lstrip("/") or "postgres"}
        )
    )
    await reader.until_ready()
    prebuilt = (
        frontend.parse("", SQL, [23])
        + frontend.bind("", "", [1], [struct.pack("!i", 41)], [])
        + frontend.DESCRIBE_EXECUTE_CLOSE_SYNC
    )

    async def one(i: int) -> int:
        transport.write(prebuilt)
        await reader.until_ready()
        return i + 1

    try:
        return await _timed(one, queries)
    finally:
        transport.close()


async def _first(result: Any) -> Any:
    return (await result).rows[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument(
        "--warm-heap", action="store_true", help="every child frees one 1 MiB block first"
    )
    parser.add_argument("--child", choices=LINES, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.warm_heap:
            block = bytearray(1 << 20)
            del block
        print(json.dumps(asyncio.run(child(args.child, args.dsn, args.queries))))
        return

    from pgpipe.testing import TemporaryPostgres

    runs: dict[str, list[dict[str, float]]] = {line: [] for line in LINES}
    with TemporaryPostgres() as server:
        dsn = server.dsn(dbname="postgres")
        for r in range(args.rounds):
            for line in LINES if r % 2 == 0 else LINES[::-1]:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", line, "--dsn", dsn]
                    + ["--queries", str(args.queries)]
                    + (["--warm-heap"] if args.warm_heap else []),
                    capture_output=True,
                    text=True,
                    timeout=600,
                    env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                )
                if out.returncode != 0:
                    raise SystemExit(f"{line} failed:\n{out.stderr[-3000:]}")
                runs[line].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"# median of {args.rounds} rounds, {args.queries} queries each, a fresh process "
        "per line and round" + ("; every child freed a 1 MiB block first" if args.warm_heap else "")
    )
    print(f"{'':26} {'q/s':>8} {'us/query':>9}  256 KiB block mapped")
    medians = {}
    for line, figures in runs.items():
        qps = medians[line] = statistics.median(f["qps"] for f in figures)
        mapped = sum(f["mapped"] == 1.0 for f in figures)
        print(f"{line:26} {qps:8.0f} {1e6 / qps:9.1f}  in {mapped} of {len(figures)} children")
    plain, buffered = medians["floor, Protocol"], medians["floor, BufferedProtocol"]
    print(
        f"a plain Protocol's reads cost the floor {1e6 / plain - 1e6 / buffered:.1f} us a query; "
        f"pgpipe / asyncpg {medians['pgpipe'] / medians['asyncpg']:.2f}x"
    )


if __name__ == "__main__":
    main()
