"""Client CPU per query, counted in instructions by valgrind (callgrind), not timed.

Instruction counts repeat run after run whatever else the machine does, so
they show a change of a percent where wall-clock figures on a shared 2-core
machine move by tens of percents. Runs ``SELECT $1::int + 1`` through
``query()`` N and 11N times on one connection, per adapter, and prints the
difference divided by 10N: the instructions the client spends per query
(the server is another process, not counted).

    python benchmarks/bench_instructions.py                      # this checkout
    python benchmarks/bench_instructions.py --tree /tmp/old      # another checkout of pgpipe

``--rows R`` counts instructions per row the same way, for bench_speed's
7-column rows (binary results: the statement's second run). ``--peers``
counts psycopg's and asyncpg's default settings the same way (the same
statement; psycopg through ``execute``, and a binary cursor for rows;
asyncpg through ``fetchval`` and ``fetch``). ``--floor`` counts the least a
pure-Python client does for the same query, written here without a driver:
the six messages (the Parse prebuilt) in one send, reads until
ReadyForQuery, the headers walked and the value decoded, with no checks and
no state; once on a blocking socket and once on asyncio's default loop (a
protocol and a future, as pgpipe and asyncpg wait). ``--named`` also counts pgpipe with
``statement_cache_size=100``: named statements, prepared at the first run
and then bound, as asyncpg does (the server's work then matches the
peers'). ``--cache`` also counts
cache misses per query with cachegrind's simulated caches (first level as
on this machine, last level only 64 KiB, standing in for what survives the
server's turn on a shared core): how many cache lines a query touches cold.

Needs valgrind (Debian: apt-get install valgrind).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _rows import SQL

_CLIENT = """
import asyncio, sys, pgpipe
dsn, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
CACHE = 100 if mode.endswith("named") else 0  # named statements, or the unnamed default
ROWS = ROWS_SQL
if mode == "rows sync":
    c = pgpipe.connect(dsn)
    c.query(ROWS, 10)  # the statement's first run (text); binary from the second
    assert len(c.query(ROWS, n).rows) == n
    c.close()
elif mode == "rows asyncio":
    async def main():
        c = await pgpipe.connect_async(dsn)
        await c.query(ROWS, 10)
        assert len((await c.query(ROWS, n)).rows) == n
        await c.close()
    asyncio.run(main())
elif mode == "rows psycopg":
    import psycopg
    c = psycopg.connect(dsn)
    cur = c.cursor(binary=True)
    cur.execute(ROWS.replace("%", "%%").replace("$1", "%s"), (n,))
    assert len(cur.fetchall()) == n
    c.close()
elif mode == "rows asyncpg":
    import asyncpg
    async def main():
        c = await asyncpg.connect(dsn)
        assert len(await c.fetch(ROWS, n)) == n
        await c.close()
    asyncio.run(main())
elif mode.startswith("floor"):
    # The least a pure-Python client does per query: the same six messages (the
    # Parse prebuilt), one send, reads until ReadyForQuery, the headers walked,
    # the one value decoded; no checks, no state, no error handling.
    import socket, struct
    from urllib.parse import urlsplit
    from pgpipe.protocol import frontend
    url = urlsplit(dsn)
    head = frontend.parse("", "SELECT $1::int + 1", [23])
    tail = frontend.DESCRIBE_EXECUTE_CLOSE_SYNC
    header, int4 = struct.Struct("!cI"), struct.Struct("!i")
    bind = struct.Struct("!cIxxhhhIihh")

    def message(i):
        return head + bind.pack(b"B", 24, 1, 1, 1, 4, i, 1, 1) + tail

    def value(data):
        at, size, out = 0, len(data), None
        while at < size:
            kind, length = header.unpack_from(data, at)
            if kind == b"D":
                out = int4.unpack_from(data, at + 11)[0]
            at += 1 + length
        return out

    startup = frontend.startup_message({"user": url.username, "database": url.path[1:]})
    if mode == "floor sync":
        sock = socket.create_connection((url.hostname, url.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        def until_ready():
            data = sock.recv(65536)
            while data[-6:-1] != b"Z\\x00\\x00\\x00\\x05":
                data += sock.recv(65536)
            return data
        sock.sendall(startup)
        until_ready()
        for i in range(n):
            sock.sendall(message(i))
            assert value(until_ready()) == i + 1
        sock.close()
    else:
        class Protocol(asyncio.Protocol):
            def connection_made(self, transport):
                self.data, self.waiter = b"", None
            def data_received(self, data):
                self.data += data
                if data[-6:-1] == b"Z\\x00\\x00\\x00\\x05":
                    self.waiter.set_result(None)
            async def until_ready(self):
                self.waiter = asyncio.get_running_loop().create_future()
                await self.waiter
                data, self.data = self.data, b""
                return data
        async def main():
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.create_connection(Protocol, url.hostname, url.port)
            transport.write(startup)
            await protocol.until_ready()
            for i in range(n):
                transport.write(message(i))
                assert value(await protocol.until_ready()) == i + 1
            transport.close()
        asyncio.run(main())
elif mode in ("sync", "sync named"):
    c = pgpipe.connect(dsn, statement_cache_size=CACHE)
    for i in range(n):
        c.query("SELECT $1::int + 1", i)
    c.close()
elif mode in ("asyncio", "asyncio named"):
    async def main():
        c = await pgpipe.connect_async(dsn, statement_cache_size=CACHE)
        for i in range(n):
            await c.query("SELECT $1::int + 1", i)
        await c.close()
    asyncio.run(main())
elif mode == "psycopg":
    import psycopg
    c = psycopg.connect(dsn)
    for i in range(n):
        c.execute("SELECT %s::int + 1", (i,)).fetchone()
    c.close()
else:
    import asyncpg
    async def main():
        c = await asyncpg.connect(dsn)
        for i in range(n):
            await c.fetchval("SELECT $1::int + 1", i)
        await c.close()
    asyncio.run(main())
"""


# --cache: cachegrind's simulated caches. The first level as on this machine
# (32 KiB each for code and data); the last level only 64 KiB, standing in for
# the little of the client's working set that survives the server's turn on a
# shared core: its misses are about the lines a query touches that are cold.
_CACHES = ["--cache-sim=yes", "--I1=32768,8,64", "--D1=32768,8,64", "--LL=65536,4,64"]


def _instructions(tree: Path, dsn: str, mode: str, n: int, client: str) -> int:
    return _count(tree, dsn, mode, n, client, cache=False)["Ir"]


def _count(tree: Path, dsn: str, mode: str, n: int, client: str, *, cache: bool) -> dict[str, int]:
    """valgrind's totals for one run of the client: instructions (Ir), and with
    ``cache`` the cache misses (I1mr, D1mr, ILmr, DLmr and the rest)."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")
    tool = "cachegrind" if cache else "callgrind"
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                "valgrind",
                f"--tool={tool}",
                *(_CACHES if cache else ()),
                f"--{tool}-out-file={tmp}/out",
                sys.executable,
                client,
                dsn,
                mode,
                str(n),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        if cache:
            text = Path(tmp, "out").read_text()
            events = re.search(r"^events: (.*)$", text, re.M)
            summary = re.search(r"^summary: (.*)$", text, re.M)
            if events is None or summary is None:
                raise SystemExit(f"cachegrind wrote no summary:\n{done.stderr}")
            names, values = events.group(1).split(), summary.group(1).split()
            return dict(zip(names, map(int, values), strict=True))
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no count:\n{done.stderr}")
    return {"Ir": int(found.group(1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--queries", type=int, default=100, help="N (the runs are N and 11N)")
    parser.add_argument("--dsn", help="use this server instead of a throwaway one")
    parser.add_argument(
        "--rows", type=int, default=0, help="also count per row, with R and 11R rows (0: no)"
    )
    parser.add_argument(
        "--peers", action="store_true", help="count psycopg and asyncpg too (default settings)"
    )
    parser.add_argument(
        "--named",
        action="store_true",
        help="count pgpipe with statement_cache_size=100 too (named statements, as the peers run)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="count the least a pure-Python client does per query too (no driver)",
    )
    parser.add_argument(
        "--cache",
        action="store_true",
        help="count cache misses per query too (cachegrind's simulated caches; slower)",
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        client = os.path.join(tmp, "client.py")
        Path(client).write_text(_CLIENT.replace("ROWS_SQL", repr(SQL.format(rows="$1"))))
        if args.dsn:
            _report(args, args.dsn, client)
            return
        from pgpipe.testing import TemporaryPostgres

        with TemporaryPostgres() as server:
            _report(args, server.dsn(dbname="postgres"), client)


def _report(args: argparse.Namespace, dsn: str, client: str) -> None:
    n = args.queries
    print(f"pgpipe from {args.tree}, {n} and {11 * n} queries, instructions per query:")
    peers = ("psycopg", "asyncpg") if args.peers else ()
    floor = ("floor sync", "floor asyncio") if args.floor else ()
    named = ("sync named", "asyncio named") if args.named else ()
    for mode in ("sync", "asyncio", *named, *peers, *floor):
        few = _instructions(args.tree, dsn, mode, n, client)
        many = _instructions(args.tree, dsn, mode, 11 * n, client)
        print(f"  {mode:13} {(many - few) // (10 * n):>9,}")
    if args.cache:
        print(
            "cache misses per query (simulated: first level 32 KiB code + 32 KiB data,"
            " last level 64 KiB):"
        )
        print(f"  {'':13} {'code L1':>9} {'data L1':>9} {'code LL':>9} {'data LL':>9}")
        for mode in ("sync", "asyncio", *peers, *floor):
            few_c = _count(args.tree, dsn, mode, n, client, cache=True)
            many_c = _count(args.tree, dsn, mode, 11 * n, client, cache=True)
            per = {k: (many_c[k] - few_c[k]) // (10 * n) for k in many_c}
            misses = (
                per["I1mr"],
                per["D1mr"] + per["D1mw"],
                per["ILmr"],
                per["DLmr"] + per["DLmw"],
            )
            print(f"  {mode:13}" + "".join(f" {m:>9,}" for m in misses))
    if not args.rows:
        return
    rows = args.rows
    print(f"rows of 7 columns (bench_speed's), {rows} and {11 * rows} in one query, per row:")
    for mode in ("sync", "asyncio", *peers):
        few = _instructions(args.tree, dsn, f"rows {mode}", rows, client)
        many = _instructions(args.tree, dsn, f"rows {mode}", 11 * rows, client)
        print(f"  {mode:8} {(many - few) // (10 * rows):>9,}")


if __name__ == "__main__":
    main()
