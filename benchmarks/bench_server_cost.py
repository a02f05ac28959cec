"""What the server spends on each way of sending the small query: no driver.

A raw socket sends prebuilt messages for ``SELECT $1::int + 1`` and reads to
ReadyForQuery, in several forms: pgpipe's one-packet unnamed statement
(Parse, Bind, Describe, Execute, Close, Sync), the same without Close or
without Describe, and a named statement prepared once (Bind, Describe,
Execute, Sync, as a driver with a statement cache sends it; and without
Describe). The client does the same little work in every form, so the
differences are the server's. Prints the best of the rounds, per form.

    python benchmarks/bench_server_cost.py              # where the scheduler puts them
    python benchmarks/bench_server_cost.py --one-core   # client and server on one CPU
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from pgpipe.protocol import frontend
from pgpipe.testing import TemporaryPostgres

_SQL = "SELECT $1::int + 1"
_READY = b"Z\x00\x00\x00\x05"
_INT4 = struct.Struct("!i")
_PARSE = frontend.parse("", _SQL, [23])
_DESCRIBE = frontend.describe("P", "")
_EXECUTE = frontend.execute("")
_CLOSE = frontend.close("S", "")
_SYNC = frontend.SYNC


def _bind(value: int, statement: str = "") -> bytes:
    # Unnamed portal; one binary int4 parameter; one binary result column.
    return frontend.bind("", statement, [1], [_INT4.pack(value)], [1])


FORMS: dict[str, Callable[[int], bytes]] = {
    "unnamed: P B D E C S (pgpipe)": lambda i: (
        _PARSE + _bind(i) + _DESCRIBE + _EXECUTE + _CLOSE + _SYNC
    ),
    "unnamed: P B D E S": lambda i: _PARSE + _bind(i) + _DESCRIBE + _EXECUTE + _SYNC,
    "unnamed: P B E S": lambda i: _PARSE + _bind(i) + _EXECUTE + _SYNC,
    "named: B D E S": lambda i: _bind(i, "s1") + _DESCRIBE + _EXECUTE + _SYNC,
    "named: B E S": lambda i: _bind(i, "s1") + _EXECUTE + _SYNC,
}


def _until_ready(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    while data[-6:-1] != _READY:
        more = sock.recv(65536)
        if not more:
            raise SystemExit("the server closed the connection")
        data += more
    return data


def _value(answer: bytes) -> int:
    """The int4 in the answer's one DataRow; SystemExit on an ErrorResponse."""
    at, found = 0, None
    while at < len(answer):
        kind, length = struct.unpack_from("!cI", answer, at)
        if kind == b"E":
            raise SystemExit(f"the server answered with an error: {answer!r}")
        if kind == b"D":
            (found,) = _INT4.unpack_from(answer, at + 11)
        at += 1 + length
    if found is None:
        raise SystemExit(f"no row in {answer!r}")
    return int(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--one-core", action="store_true", help="pin the client and the server to one CPU"
    )
    args = parser.parse_args()
    if args.one_core:
        # Before the server starts: it inherits the affinity, every backend too.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with TemporaryPostgres() as server:
        url = urlsplit(server.dsn(dbname="postgres"))
        with socket.create_connection((url.hostname, url.port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(frontend.startup_message({"user": url.username or "postgres"}))
            _until_ready(sock)
            sock.sendall(frontend.parse("s1", _SQL, [23]) + _SYNC)
            _until_ready(sock)
            best = dict.fromkeys(FORMS, float("inf"))
            for _ in range(args.rounds):
                for name, make in FORMS.items():
                    messages = [make(i) for i in range(args.queries)]
                    started = time.perf_counter()
                    for i, message in enumerate(messages):
                        sock.sendall(message)
                        if _value(_until_ready(sock)) != i + 1:
                            raise SystemExit(f"wrong answer for {i}")
                    spent = (time.perf_counter() - started) / args.queries
                    best[name] = min(best[name], spent)
    where = "client and server on one CPU" if args.one_core else "where the scheduler puts them"
    print(f"# {args.queries} queries, best of {args.rounds} rounds, {where}")
    for name, seconds in best.items():
        print(f"{name:32} {seconds * 1e6:6.1f} us a query  {1 / seconds:8,.0f} q/s")


if __name__ == "__main__":
    main()
