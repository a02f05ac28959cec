"""How much of a blocking small query is the wait for its answer, in one process.

    python benchmarks/bench_wait.py [--rounds 8] [--queries 2000] [--threads 4]

A blocking client sleeps in ``recv`` until the answer arrives, and the
kernel (on a VM, the hypervisor too) wakes it. This measures what that
costs, by waiting the other way: a socket whose ``recv`` asks again and
again without sleeping (``MSG_DONTWAIT``) until the answer is there or
300 us have passed. For the prebuilt-message floor and for pgpipe's
``conn.query(SQL, i)`` (pure or compiled, whichever is imported), in turn
every round, it prints wall time and the process's CPU time per query
(medians), first in one thread, then in ``--threads`` threads at once, each
with its own connection (total queries a second).

An experiment, not a setting of pgpipe: the spinning socket is a subclass
put under the connection here. Linux only (``MSG_DONTWAIT``).
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from bench_async_layers import SQL, one_packet
from bench_sync_layers import _answer, close_in_sync

import pgpipe
from pgpipe.testing import TemporaryPostgres

_SPIN = 300e-6  # the longest a spinning recv asks before it sleeps


class _Spinning(socket.socket):
    """A socket whose ``recv`` spins before it sleeps (see the module's docstring)."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        until = time.perf_counter() + _SPIN
        receive = super().recv
        while True:
            try:
                return receive(bufsize, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if time.perf_counter() > until:
                    return receive(bufsize)


def _table(
    title: str, measure: str, first: dict[str, list[float]], cpu: dict[str, list[float]]
) -> None:
    """Each line's median ``measure`` and CPU time a query."""
    print(f"# {title}")
    print(f"{'':18} {measure:>8} {'CPU us':>7}")
    for name, values in first.items():
        print(f"{name:18} {statistics.median(values):8.1f} {statistics.median(cpu[name]):7.1f}")


def _one_thread(dsn: str, rounds: int, queries: int) -> None:
    conn = pgpipe.connect(dsn)
    for i in range(50):
        conn.query(SQL, i)
    channel = conn._channel
    sleeping = channel._sock
    spinning = _Spinning(fileno=os.dup(sleeping.fileno()))
    prebuilt = one_packet(41)

    def floor(sock: socket.socket) -> Callable[[int], Any]:
        def body(i: int) -> Any:
            sock.send(prebuilt)
            return _answer(sock)

        return body

    def query(i: int) -> Any:
        return conn.query(SQL, i).rows[0][0]

    lines = {
        "floor, sleeping": (sleeping, floor(sleeping)),
        "floor, spinning": (sleeping, floor(spinning)),
        "pgpipe, sleeping": (sleeping, query),
        "pgpipe, spinning": (spinning, query),
    }
    wall: dict[str, list[float]] = {name: [] for name in lines}
    cpu: dict[str, list[float]] = {name: [] for name in lines}
    try:
        for _ in range(rounds):
            for name, (sock, body) in lines.items():
                channel._sock = sock
                gc.collect()
                cpu_started, started = time.process_time(), time.perf_counter()
                for i in range(queries):
                    body(i)
                wall[name].append((time.perf_counter() - started) / queries * 1e6)
                cpu[name].append((time.process_time() - cpu_started) / queries * 1e6)
    finally:
        channel._sock = sleeping
        spinning.close()
    close_in_sync([conn])
    _table(f"one thread: median of {rounds} rounds of {queries} queries", "wall us", wall, cpu)


def _threads(dsn: str, rounds: int, queries: int, count: int) -> None:
    conns = [pgpipe.connect(dsn) for _ in range(count)]
    sleeping = [conn._channel._sock for conn in conns]
    spinning = [_Spinning(fileno=os.dup(sock.fileno())) for sock in sleeping]

    def run(conn: pgpipe.Connection) -> None:
        for i in range(queries):
            conn.query(SQL, i)

    rates: dict[str, list[float]] = {"pgpipe, sleeping": [], "pgpipe, spinning": []}
    cpu: dict[str, list[float]] = {name: [] for name in rates}
    try:
        for _ in range(rounds):
            for name, socks in zip(rates, (sleeping, spinning), strict=True):
                for conn, sock in zip(conns, socks, strict=True):
                    conn._channel._sock = sock
                workers = [threading.Thread(target=run, args=(conn,)) for conn in conns]
                cpu_started, started = time.process_time(), time.perf_counter()
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                total = count * queries
                rates[name].append(total / (time.perf_counter() - started))
                cpu[name].append((time.process_time() - cpu_started) / total * 1e6)
    finally:
        for conn, sock in zip(conns, sleeping, strict=True):
            conn._channel._sock = sock
        for sock in spinning:
            sock.close()
    close_in_sync(conns)
    _table(f"{count} threads, a connection each: median of {rounds} rounds", "q/s", rates, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with TemporaryPostgres() as server:
        dsn = server.dsn(dbname="postgres")
        _one_thread(dsn, args.rounds, args.queries)
        _threads(dsn, max(3, args.rounds // 2), args.queries // 2, args.threads)


if __name__ == "__main__":
    main()
