"""The ``pgpipe`` command: run SQL, print the rows and what reaching them cost.

    python -m pgpipe "SELECT now()"                      # a throwaway local PostgreSQL
    python -m pgpipe --latency 20 --compare              # ordinary vs pipelined at 20 ms
    python -m pgpipe --dsn postgresql://app@db/app "SELECT 1"
    pgpipe --version

Without ``--dsn`` it starts a throwaway PostgreSQL (``pgpipe.testing``) and
logs in as the user for ``--auth`` (trust, password, md5 or scram), with the
pipelined-connect mode that fits that method. ``--latency MS`` routes the
connection through a local proxy that delays each direction by MS
milliseconds, so one machine shows what round trips cost at a distance.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, Final, TextIO

import pgpipe
from pgpipe import servicefile
from pgpipe.conninfo import parse_dsn

# The pipelined-connect mode that saves the most for each authentication method.
BEST_MODE: Final = {"trust": "trust", "password": "password", "md5": "auto", "scram": "scram"}


def version() -> str:
    """The installed distribution's version; pgpipe.__version__ when run from a checkout."""
    try:
        return importlib.metadata.version("pgpipe")
    except importlib.metadata.PackageNotFoundError:
        return pgpipe.__version__


def format_table(result: pgpipe.Result) -> str:
    """Rows as an aligned table, psql style."""
    names = [c.name for c in result.columns]
    if not names:
        return result.status or ""
    cells = [["" if v is None else str(v) for v in row] for row in result.rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = [
        " " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)),
        "-" + "-+-".join("-" * w for w in widths) + "-",
    ]
    lines += [" " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    count = len(result.rows)
    lines.append(f"({count} row{'' if count == 1 else 's'})")
    return "\n".join(line.rstrip() for line in lines)


def run_once(
    params: dict[str, Any], sql: str, pipeline: str | None
) -> tuple[pgpipe.Result, dict[str, Any]]:
    """Connect, run ``sql``, close; return the result and what it cost."""
    started = time.perf_counter()
    conn = pgpipe.connect(**params, pipeline_connect=pipeline, allow_unverified_pipelining=True)
    connected = time.perf_counter()
    try:
        result = conn.query(sql)
        done = time.perf_counter()
        stats = conn.stats
        cost = {
            "connect_ms": (connected - started) * 1000,
            "query_ms": (done - connected) * 1000,
            "total_ms": (done - started) * 1000,
            "round_trips": stats.round_trips,
            "flights": stats.flights,
            "auth": conn.auth_method,
            "pipeline": pipeline or "off",
        }
    finally:
        conn.close()
    return result, cost


def cost_line(cost: dict[str, Any]) -> str:
    return (
        f"connect {cost['connect_ms']:.1f} ms, first query {cost['query_ms']:.1f} ms, "
        f"total {cost['total_ms']:.1f} ms | round trips {cost['round_trips']}, "
        f"flights {cost['flights']} | auth {cost['auth']}, pipeline_connect {cost['pipeline']}"
    )


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="pgpipe", description="Run SQL with pgpipe and show the round trips it took."
    )
    parser.add_argument("sql", nargs="?", default="SELECT current_user, now(), version()")
    parser.add_argument("--version", action="version", version=f"pgpipe {version()}")
    parser.add_argument("--dsn", help="server to use (default: a throwaway local PostgreSQL)")
    parser.add_argument(
        "--auth",
        choices=list(BEST_MODE),
        default="scram",
        help="with the throwaway server: which authentication method to log in with",
    )
    parser.add_argument(
        "--pipeline",
        choices=["off", "auto", "trust", "password", "scram"],
        help="pipelined connect mode (default: the best for --auth, or off with --dsn)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="add MS milliseconds each way through a local proxy",
    )
    parser.add_argument(
        "--compare", action="store_true", help="run ordinary and pipelined, and print both"
    )
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        if args.dsn is None:
            from pgpipe.testing import AUTH_USERS, TemporaryPostgres

            server = stack.enter_context(TemporaryPostgres())
            user, password = AUTH_USERS[args.auth]
            params: dict[str, Any] = {
                "host": server.host,
                "port": server.port,
                "user": user,
                "password": password,
                "dbname": "pgpipe",
                "sslmode": "disable",
            }
            default_mode = BEST_MODE[args.auth]
            print(
                f"throwaway PostgreSQL {server.server_version} at {server.host}:{server.port},"
                f" user {user} ({args.auth})",
                file=out,
            )
        else:
            params = {"dsn": args.dsn}
            default_mode = "auto"
        if args.latency > 0:
            environ = os.environ
            keywords = {k: v for k, v in params.items() if k != "dsn"}
            first = parse_dsn(
                args.dsn, keywords, environ, lambda name: servicefile.lookup(name, environ)
            ).hosts
            if len(first) != 1 or first[0].is_unix_socket:
                parser.error("--latency needs one TCP server, not a Unix socket or several hosts")
            from pgpipe.proxy import FlightCounter

            target = first[0].hostaddr or first[0].name
            proxy = stack.enter_context(
                FlightCounter(target, first[0].port, delay=args.latency / 1000)
            )
            # hostaddr, so that TLS still checks the certificate against the host name.
            params.update(hostaddr="127.0.0.1", port=proxy.port)
            print(f"through a proxy adding {args.latency:g} ms each way", file=out)
        chosen = args.pipeline or (default_mode if args.dsn is None or args.compare else "off")
        mode = None if chosen == "off" else chosen
        try:
            if args.compare:
                result, ordinary = run_once(params, args.sql, None)
                _, pipelined = run_once(params, args.sql, mode or default_mode)
                print(format_table(result), file=out)
                print("ordinary : " + cost_line(ordinary), file=out)
                print("pipelined: " + cost_line(pipelined), file=out)
                saved = ordinary["total_ms"] - pipelined["total_ms"]
                trips = ordinary["round_trips"] - pipelined["round_trips"]
                print(f"pipelined connect saved {trips} round trips, {saved:.1f} ms", file=out)
            else:
                result, cost = run_once(params, args.sql, mode)
                print(format_table(result), file=out)
                print(cost_line(cost), file=out)
        except pgpipe.Error as exc:
            print(f"pgpipe: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return 0
