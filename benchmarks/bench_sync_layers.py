"""Where a pure-Python blocking query's time goes, layer by layer, in one process.

    python benchmarks/bench_sync_layers.py [--rounds 6] [--queries 4000] [--canned]

The blocking counterpart of bench_async_layers.py. Issue 19 asks pure
pgpipe's blocking small query (``SELECT $1::int + 1``, default settings: the
unnamed statement) for 1.0x asyncpg and 1.0x psycopg. This measures, in one
process and in turn every round, the steps from pgpipe's public call down to
prebuilt messages on its own socket:

- ``pgpipe``: ``conn.query(SQL, i)``, the public call;
- ``pgpipe, core calls``: the same through pgpipe's session and core as the
  adapter calls them (``Session.query``, the channel's ``exchange``,
  ``take_answer``, the Result), without the adapter's checks;
- ``least Python``: the query written for this one statement: its Parse and
  Bind from prebuilt parts around the packed int, ``send``, ``recv`` to
  ReadyForQuery, the answer's first and last bytes compared with the last
  answer's, the int unpacked;
- ``floor``: prebuilt messages, read to ReadyForQuery, nothing decoded;
- ``psycopg``: ``cur.execute(SQL, (i,))`` and ``fetchone()`` with psycopg's
  defaults (it prepares a statement from its fifth run: the server does not
  parse or plan it again);
- ``asyncpg``: ``await conn.fetchval(SQL, i)``, the loop of queries run by
  ``run_until_complete`` (a prepared statement too).

All pgpipe lines use the unnamed statement: the server parses and plans
every query for them. If the least Python is below a peer, no driver
written in Python can meet that bar on the unnamed statement. The process
frees one 1 MiB block first (asyncpg at its best; see bench_speed's
``--warm-heap``). The lower lines reach into pgpipe's private state: they
are measurements, not a way to use it.

``--canned`` measures the client's own work alone: the connection's socket
answers every query at once with one reply captured from the server (the
same value every time), so nothing waits and the caches stay warm. It prints
pgpipe's public call, its core calls and the least Python, and what lies
between them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench_async_layers import _BIND_HEAD, _BIND_TAIL, _INT4, _PARSE, _READY, SQL, one_packet

import pgpipe
from pgpipe.testing import TemporaryPostgres

_RECV = 1 << 16


def _answer(sock: socket.socket) -> bytes:
    """What the server sends, read to ReadyForQuery."""
    data = sock.recv(_RECV)
    while not data.endswith(_READY):
        data += sock.recv(_RECV)
    return data


def _per_second(body: Callable[[int], Any], queries: int) -> float:
    """``body(i)`` for each ``i`` below ``queries``, timed after a collection: queries a second."""
    gc.collect()
    started = time.perf_counter()
    for i in range(queries):
        body(i)
    return queries / (time.perf_counter() - started)


def contenders(conn: pgpipe.Connection) -> dict[str, Callable[[int], Any]]:
    # One connection (one server backend) for every pgpipe line: the lower
    # ones queue nothing in its core and leave its buffer empty, so it stays
    # in sync for the next.
    session = conn._session
    channel = conn._channel
    sock = channel._sock

    def by_public(i: int) -> Any:
        return conn.query(SQL, i).rows[0][0]

    def by_core_calls(i: int) -> Any:
        op = session.query(SQL, (i,))
        channel.exchange(session, None)
        if not op.take_answer(session.core):
            raise AssertionError("the answer did not come whole")
        return op.result().rows[0][0]

    core = session.core

    def by_least_python(i: int) -> Any:
        sock.send(b"".join((_PARSE, _BIND_HEAD, _INT4.pack(i), _BIND_TAIL)))
        data = _answer(sock)
        head, tail = core._shape_head, core._shape_tail
        one_int = len(head) + 15 + len(tail)  # a DataRow of one int4
        if len(data) != one_int or not data.startswith(head) or not data.endswith(tail):
            raise AssertionError("not the last answer's shape")
        return _INT4.unpack_from(data, len(head) + 11)[0]

    prebuilt = one_packet(41)

    def by_floor(i: int) -> Any:
        sock.send(prebuilt)
        _answer(sock)
        return i + 1

    return {
        "pgpipe": by_public,
        "pgpipe, core calls": by_core_calls,
        "least Python": by_least_python,
        "floor": by_floor,
    }


def measure(dsn: str, rounds: int, queries: int) -> dict[str, list[float]]:
    import asyncpg
    import psycopg

    conn = pgpipe.connect(dsn)
    for i in range(50):  # it knows the statement and the answer's shape
        conn.query(SQL, i)
    runs = contenders(conn)
    peer = psycopg.connect(dsn, autocommit=True)
    cursor = peer.cursor()

    def by_psycopg(i: int) -> Any:
        cursor.execute("SELECT %s::int + 1", (i,))
        row = cursor.fetchone()
        return row[0] if row else None

    runs["psycopg"] = by_psycopg
    loop = asyncio.new_event_loop()
    apg = loop.run_until_complete(asyncpg.connect(dsn))

    async def asyncpg_loop(n: int) -> None:
        for i in range(n):
            if await apg.fetchval(SQL, i) != i + 1:
                raise AssertionError("asyncpg: wrong result")

    for name, body in runs.items():
        for i in range(300):
            if body(i) != i + 1:
                raise AssertionError(f"{name}: wrong result")
    loop.run_until_complete(asyncpg_loop(300))
    results: dict[str, list[float]] = {name: [] for name in [*runs, "asyncpg"]}
    order = list(runs.items())
    for r in range(rounds):
        for name, body in order if r % 2 == 0 else order[::-1]:
            results[name].append(_per_second(body, queries))
        gc.collect()
        started = time.perf_counter()
        loop.run_until_complete(asyncpg_loop(queries))
        results["asyncpg"].append(queries / (time.perf_counter() - started))
    loop.run_until_complete(apg.close())
    loop.close()
    peer.close()
    conn.close()
    return results


class _Canned(socket.socket):
    """A connection's socket that takes every send and answers with one reply."""

    reply = b""

    def send(self, data: Any, flags: int = 0) -> int:
        return len(data)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self.reply


def canned(dsn: str, rounds: int, queries: int) -> dict[str, list[float]]:
    conn = pgpipe.connect(dsn)
    for i in range(50):
        conn.query(SQL, i)
    channel = conn._channel
    real = channel._sock
    real.send(one_packet(41))  # the reply to SELECT 41 + 1, read straight from the socket
    fake = _Canned(fileno=os.dup(real.fileno()))
    fake.reply = _answer(real)
    channel._sock = fake
    try:
        runs = contenders(conn)
        del runs["floor"]
        for name, body in runs.items():
            if body(0) != 42:
                raise AssertionError(f"{name}: not the canned reply's value")
        results: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, body in runs.items():
                results[name].append(_per_second(body, queries))
    finally:
        channel._sock = real
        fake.close()
    close_in_sync([conn])
    return results


def close_in_sync(conns: list[pgpipe.Connection]) -> None:
    """Close each connection after a query that shows it is still in sync."""
    for conn in conns:
        if conn.query(SQL, 1).rows != [(2,)]:
            raise AssertionError("a connection is out of sync")
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument(
        "--canned", action="store_true", help="the client's work alone: a canned reply"
    )
    args = parser.parse_args()
    if args.canned:
        with TemporaryPostgres() as server:
            found = canned(server.dsn(dbname="postgres"), args.rounds, args.queries)
        us = {name: 1e6 / max(qs) for name, qs in found.items()}
        print(f"# a canned reply, best of {args.rounds} rounds of {args.queries}")
        for name, value in us.items():
            print(f"{name:20} {value:6.2f} us a query")
        print(
            f"the adapter: {us['pgpipe'] - us['pgpipe, core calls']:.2f} us; "
            f"the core calls above the least Python: "
            f"{us['pgpipe, core calls'] - us['least Python']:.2f} us"
        )
        return
    block = bytearray(1 << 20)  # freed whole: glibc's mmap threshold rises past 256 KiB
    del block
    with TemporaryPostgres() as server:
        results = measure(server.dsn(dbname="postgres"), args.rounds, args.queries)
    medians = {name: statistics.median(qs) for name, qs in results.items()}
    apg, psy = medians["asyncpg"], medians["psycopg"]
    print(f"{'':20} {'q/s':>8} {'us/query':>9} {'x asyncpg':>10} {'x psycopg':>10}")
    for name, qps in medians.items():
        print(f"{name:20} {qps:8.0f} {1e6 / qps:9.1f} {qps / apg:10.2f} {qps / psy:10.2f}")
    bar = 1e6 / max(apg, psy)
    print(
        f"the 1.0x bars: {1e6 / apg:.1f} us a query (asyncpg), {1e6 / psy:.1f} us (psycopg); "
        f"the least Python takes {1e6 / medians['least Python']:.1f}, "
        f"pgpipe {1e6 / medians['pgpipe']:.1f} ({1e6 / medians['pgpipe'] - bar:.1f} us more "
        "than the stricter bar)"
    )


if __name__ == "__main__":
    main()
