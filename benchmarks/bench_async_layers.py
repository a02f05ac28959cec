"""Where a pure-Python asyncio query's time goes, layer by layer, in one process.

    python benchmarks/bench_async_layers.py [--rounds 6] [--queries 4000] [--one-core]

Issue 19 asks pure pgpipe's asyncio small query (``SELECT $1::int + 1``,
default settings: the unnamed statement) for 0.9x asyncpg. bench_speed's
floor (prebuilt messages through an asyncio Protocol) leaves that bar room;
this measures a second floor, one with the work no driver can skip, and the
steps between it and pgpipe. pgpipe's lines share one connection (one
server backend), asyncpg has its own; all run in turn in every round (the
table shows medians, the ratio to asyncpg of the medians):

- ``pgpipe``: ``await conn.query(SQL, i)``, the public call;
- ``pgpipe, core calls``: the same query through pgpipe's session and core
  as the adapter calls them, without the adapter's checks and coroutines
  (``Session.query``, the channel's ``exchange``, ``take_answer``, the
  Result): what the adapter adds;
- ``generic pieces``: only pgpipe's encoder, message writers, whole-answer
  check and row decoder, with no state kept, no operation, no Result: the
  per-query work of any general driver written this way;
- ``least Python``: the same query written for this one statement: its
  Parse and Bind from prebuilt parts around the packed int, the answer's
  first and last bytes compared with the last answer's, the int unpacked;
- ``floor``: prebuilt messages, the answer read to ReadyForQuery, nothing
  decoded;
- ``asyncpg``: ``await conn.fetchval(SQL, i)`` (a prepared statement: the
  server does not parse or plan it again).

All but asyncpg use the unnamed statement, so the server parses and plans
every query for them. The process first frees one 1 MiB block, so that
glibc serves asyncpg's 256 KiB reads from the heap (see bench_speed's
``--warm-heap``): asyncpg at its best. The generic pieces and the least-Python line reach
into pgpipe's private state: they are measurements, not a way to use it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pgpipe
from pgpipe.protocol import frontend
from pgpipe.protocol.buffer import rows_between
from pgpipe.testing import TemporaryPostgres
from pgpipe.types import encode_inferred

SQL = "SELECT $1::int + 1"
_INT4 = struct.Struct("!i")
_ANSWER_HEAD = b"1\x00\x00\x00\x042\x00\x00\x00\x04"  # ParseComplete, BindComplete
_ANSWER_TAIL = b"3\x00\x00\x00\x04Z\x00\x00\x00\x05"  # CloseComplete, ReadyForQuery
_READY = b"Z\x00\x00\x00\x05I"
# The one-packet query of SQL around its one int4 parameter (binary): what the
# least Python and the floor send.
_PARSE = frontend.parse("", SQL, [23])
_BIND = frontend.bind("", "", [1], [b"\x00" * 4], [1])
_BIND_HEAD, _BIND_TAIL = _BIND[:-8], _BIND[-4:] + frontend.DESCRIBE_EXECUTE_CLOSE_SYNC


def one_packet(i: int) -> bytes:
    """The one-packet query of SQL for ``i``."""
    return b"".join((_PARSE, _BIND_HEAD, _INT4.pack(i), _BIND_TAIL))


async def _answer(conn: pgpipe.AsyncConnection) -> bytes:
    """Send nothing; wait for the next bytes on ``conn``'s socket and take all buffered."""
    channel = conn._channel
    protocol = channel._protocol
    waiter = protocol._waiter = channel._loop.create_future()
    try:
        await waiter
    finally:
        protocol._waiter = None
    buffer = conn._session.core._buffer
    data = bytes(buffer._buf)
    return data


def contenders(
    conn: pgpipe.AsyncConnection, peer: Any
) -> dict[str, Callable[[int], Awaitable[Any]]]:
    # One connection (one server backend) for every pgpipe line: the lower
    # ones queue nothing in its core and leave its buffer empty, so it stays
    # in sync for the next.
    public = core_calls = generic = least = floor = conn

    async def by_public(i: int) -> Any:
        return (await public.query(SQL, i)).rows[0][0]

    async def by_core_calls(i: int) -> Any:
        session = core_calls._session
        op = session.query(SQL, (i,))
        await core_calls._channel.exchange(session, None)
        if not op.take_answer(session.core):
            raise AssertionError("the answer did not come whole")
        return op.result().rows[0][0]

    g_session = generic._session
    g_core = g_session.core
    g_transport = generic._channel._transport

    async def by_generic_pieces(i: int) -> Any:
        oid, fmt, value = encode_inferred(i)
        key = (SQL, (oid,))
        statement = g_session._statements[key]
        g_transport.write(
            frontend.parse("", SQL, [oid])
            + frontend.bind("", "", [fmt], [value], statement.result_formats)
            + frontend.DESCRIBE_EXECUTE_CLOSE_SYNC
        )
        await _answer(generic)
        buffer = g_core._buffer
        data = buffer.whole_answer(_ANSWER_HEAD, _ANSWER_TAIL)
        head, tail = g_core._shape_head, g_core._shape_tail
        if data is None or not data.startswith(head) or not data.endswith(tail):
            raise AssertionError("not the last answer's shape")
        bodies = rows_between(data, len(head), len(data) - len(tail))
        if bodies is None:
            raise AssertionError("not one row")
        rows = statement.decode_bodies(bodies)
        buffer.clear()
        return rows[0][0]

    l_core = least._session.core
    l_transport = least._channel._transport

    async def by_least_python(i: int) -> Any:
        l_transport.write(b"".join((_PARSE, _BIND_HEAD, _INT4.pack(i), _BIND_TAIL)))
        data = await _answer(least)
        l_core._buffer.clear()
        head, tail = l_core._shape_head, l_core._shape_tail
        one_int = len(head) + 15 + len(tail)  # a DataRow of one int4
        if len(data) != one_int or not data.startswith(head) or not data.endswith(tail):
            raise AssertionError("not the last answer's shape")
        return _INT4.unpack_from(data, len(head) + 11)[0]

    f_transport = floor._channel._transport
    prebuilt = one_packet(41)

    async def by_floor(i: int) -> Any:
        f_transport.write(prebuilt)
        data = await _answer(floor)
        floor._session.core._buffer.clear()
        if not data.endswith(_READY):
            raise AssertionError("not read to ReadyForQuery")
        return i + 1

    async def by_asyncpg(i: int) -> Any:
        return await peer.fetchval(SQL, i)

    return {
        "pgpipe": by_public,
        "pgpipe, core calls": by_core_calls,
        "generic pieces": by_generic_pieces,
        "least Python": by_least_python,
        "floor": by_floor,
        "asyncpg": by_asyncpg,
    }


async def measure(dsn: str, rounds: int, queries: int) -> dict[str, list[float]]:
    import asyncpg

    conn = await pgpipe.connect_async(dsn)
    for i in range(50):  # it knows the statement and the answer's shape
        await conn.query(SQL, i)
    peer = await asyncpg.connect(dsn)
    runs = contenders(conn, peer)
    for name, body in runs.items():
        for i in range(300):
            if await body(i) != i + 1:
                raise AssertionError(f"{name}: wrong result")
    results: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs.items())
    for r in range(rounds):
        for name, body in order if r % 2 == 0 else order[::-1]:
            gc.collect()
            started = time.perf_counter()
            for i in range(queries):
                await body(i)
            results[name].append(queries / (time.perf_counter() - started))
    await peer.close()
    await conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument(
        "--one-core", action="store_true", help="pin the client and the server to one CPU"
    )
    args = parser.parse_args()
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    block = bytearray(1 << 20)  # freed whole: glibc's mmap threshold rises past 256 KiB
    del block
    with TemporaryPostgres() as server:
        results = asyncio.run(measure(server.dsn(dbname="postgres"), args.rounds, args.queries))
    medians = {name: statistics.median(qs) for name, qs in results.items()}
    reference = medians["asyncpg"]
    print(f"{'':20} {'q/s':>8} {'us/query':>9} {'x asyncpg':>10}")
    for name, qps in medians.items():
        print(f"{name:20} {qps:8.0f} {1e6 / qps:9.1f} {qps / reference:10.2f}")
    bar = 1e6 / (0.9 * reference)
    print(
        f"the 0.9x bar: {bar:.1f} us a query, "
        f"{bar - 1e6 / medians['least Python']:.1f} us above the least Python, "
        f"{bar - 1e6 / medians['generic pieces']:.1f} us above the generic pieces; "
        f"pgpipe takes {1e6 / medians['pgpipe'] - bar:.1f} us more than the bar"
    )


if __name__ == "__main__":
    main()
