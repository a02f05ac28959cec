"""What the server spends on each way of sending the small query: no driver.

A raw socket sends prebuilt messages for ``SELECT $1::int + 1`` and reads to
ReadyForQuery, in several forms: pgpipe's one-packet unnamed statement
(Parse, Bind, Describe, Execute, Close, Sync), the same without Close or
without Describe, and a named statement prepared once (Bind, Describe,
Execute, Sync, as a driver with a statement cache sends it; and without
Describe). The client does the same little work in every form, so the
differences are the server's. Prints the best of the rounds, per form.

A second method, where the server's binaries include it: libpq's pgbench (a
C client) runs the same query with ``-M extended`` (the unnamed statement:
Parse, Bind, Describe, Execute, Sync), ``-M prepared`` (a named statement)
and ``-M simple`` (a Query message holding the literal), as many queries per
round, best of the rounds.

    python benchmarks/bench_server_cost.py              # where the scheduler puts them
    python benchmarks/bench_server_cost.py --one-core   # client and server on one CPU
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
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


def _pgbench(server: TemporaryPostgres, queries: int, rounds: int) -> dict[str, float] | None:
    """Seconds per query, best of ``rounds``, per pgbench query mode; None
    without pgbench."""
    program = os.path.join(server.bin_dir, "pgbench")
    if not os.access(program, os.X_OK):
        program = shutil.which("pgbench") or ""
    if not program:
        return None
    url = urlsplit(server.dsn(dbname="postgres"))
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "query.sql")
        with open(script, "w", encoding="ascii") as f:
            f.write("\\set i random(1, 1000000)\nSELECT :i::int + 1;\n")
        for _ in range(rounds):
            for mode in ("extended", "prepared", "simple"):
                where = ["-h", url.hostname or "", "-p", str(url.port), "-U", url.username or ""]
                command = [program, "-n", "-M", mode, "-f", script, "-t", str(queries)]
                done = subprocess.run(
                    [*command, *where, "postgres"],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=dict(os.environ, PGPASSWORD=url.password or ""),
                )
                found = re.search(r"tps = ([0-9.]+)", done.stdout)
                if found is None:
                    raise SystemExit(f"pgbench printed no rate:\n{done.stdout}{done.stderr}")
                best[mode] = min(best.get(mode, float("inf")), 1 / float(found.group(1)))
    return best


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
        libpq = _pgbench(server, args.queries, args.rounds)
    where = "client and server on one CPU" if args.one_core else "where the scheduler puts them"
    print(f"# {args.queries} queries, best of {args.rounds} rounds, {where}")
    for name, seconds in best.items():
        print(f"{name:32} {seconds * 1e6:6.1f} us a query  {1 / seconds:8,.0f} q/s")
    raw = best["unnamed: P B D E S"] - best["named: B D E S"]
    print(f"unnamed less named (P B D E S less B D E S): {raw * 1e6:.1f} us a query")
    if libpq is None:
        print("second method: no pgbench beside the server's binaries or on PATH")
        return
    print("# second method: libpq's pgbench, the same query, as many, best of the rounds")
    for mode, seconds in libpq.items():
        print(f"pgbench -M {mode:23} {seconds * 1e6:6.1f} us a query  {1 / seconds:8,.0f} q/s")
    spread = libpq["extended"] - libpq["prepared"]
    print(f"unnamed less named (-M extended less -M prepared): {spread * 1e6:.1f} us a query")


if __name__ == "__main__":
    main()
