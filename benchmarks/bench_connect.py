"""Connect + first query through a latency proxy: round trips and wall time, per auth method.

    python benchmarks/bench_connect.py [--latency 20] [--rounds 3] [--tls] [--json PATH]

Every driver opens a fresh connection through the same local proxy, which
adds ``--latency`` milliseconds in each direction, runs ``SELECT 1`` and
closes. The proxy counts the round trips after the TCP handshake (times the
client waited for an answer); wall time is from before connecting to the
first result. The server is a throwaway PostgreSQL with one user per
authentication method. Without ``--tls`` the server has no TLS, so the main
rows tell every driver not to ask for it (``sslmode=disable``); the
"(default)" rows show what the default ``prefer`` costs: one more round trip
for an SSLRequest the server declines. With ``--tls`` the server has a
certificate (made with trustme) and every driver uses ``sslmode=require``
(asyncpg ``ssl='require'``, pg8000 an unverified SSLContext).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from peers import installed

import pgpipe
from pgpipe.cli import BEST_MODE
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS, ServerCertificate, TemporaryPostgres

METHODS = ["trust", "password", "md5", "scram"]
Login = dict[str, Any]
Runner = Callable[[Login, str], None]


def pgpipe_sync(mode: str | None) -> Runner:
    def run(login: Login, method: str) -> None:
        pipeline = None if mode is None else (BEST_MODE[method] if mode == "best" else mode)
        conn = pgpipe.connect(**login, pipeline_connect=pipeline, allow_unverified_pipelining=True)
        try:
            if conn.query("SELECT 1").rows != [(1,)]:
                raise AssertionError("wrong result")
        finally:
            conn.close()

    return run


def pgpipe_async(mode: str | None) -> Runner:
    def run(login: Login, method: str) -> None:
        pipeline = None if mode is None else (BEST_MODE[method] if mode == "best" else mode)

        async def main() -> None:
            conn = await pgpipe.connect_async(
                **login, pipeline_connect=pipeline, allow_unverified_pipelining=True
            )
            try:
                if (await conn.query("SELECT 1")).rows != [(1,)]:
                    raise AssertionError("wrong result")
            finally:
                await conn.close()

        asyncio.run(main())

    return run


def asyncpg_run(login: Login, method: str, ssl: Any = False) -> None:
    import asyncpg

    async def main() -> None:
        conn = await asyncpg.connect(
            host=login["host"],
            port=login["port"],
            user=login["user"],
            password=login["password"],
            database=login["dbname"],
            ssl="require" if login["sslmode"] == "require" else ssl,
        )
        try:
            if await conn.fetchval("SELECT 1") != 1:
                raise AssertionError("wrong result")
        finally:
            await conn.close()

    asyncio.run(main())


def psycopg_run(login: Login, method: str, sslmode: str = "disable") -> None:
    import psycopg

    with psycopg.connect(
        host=login["host"],
        port=login["port"],
        user=login["user"],
        password=login["password"],
        dbname=login["dbname"],
        sslmode="require" if login["sslmode"] == "require" else sslmode,
        autocommit=True,
    ) as conn:
        row = conn.execute("SELECT 1").fetchone()
        if row is None or row[0] != 1:
            raise AssertionError("wrong result")


def _unverified() -> Any:
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def pg8000_run(login: Login, method: str) -> None:
    import pg8000.native

    conn = pg8000.native.Connection(
        user=login["user"],
        password=login["password"],
        host=login["host"],
        port=login["port"],
        database=login["dbname"],
        ssl_context=_unverified() if login["sslmode"] == "require" else None,
    )
    try:
        if conn.run("SELECT 1") != [[1]]:
            raise AssertionError("wrong result")
    finally:
        conn.close()


DRIVERS: list[tuple[str, Runner, str | None]] = [
    ("pgpipe sync, ordinary", pgpipe_sync(None), None),
    ("pgpipe sync, pipelined (auto)", pgpipe_sync("auto"), None),
    ("pgpipe sync, pipelined (guess)", pgpipe_sync("best"), None),
    ("pgpipe asyncio, pipelined (guess)", pgpipe_async("best"), None),
    ("asyncpg", asyncpg_run, "asyncpg"),
    ("asyncpg, ssl='prefer' (default)", lambda lg, m: asyncpg_run(lg, m, "prefer"), "asyncpg"),
    ("psycopg", psycopg_run, "psycopg"),
    ("psycopg, sslmode=prefer (default)", lambda lg, m: psycopg_run(lg, m, "prefer"), "psycopg"),
    ("pg8000", pg8000_run, "pg8000"),
]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=20.0, help="ms added each way")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the raw figures to this file")
    parser.add_argument("--tls", action="store_true", help="every driver with sslmode=require")
    args = parser.parse_args(argv)

    drivers = [
        (name, run)
        for name, run, module in DRIVERS
        if installed(module) and not (args.tls and "(default)" in name)
    ]
    certificate = None
    if args.tls:
        import trustme

        ca = trustme.CA()
        leaf = ca.issue_cert("localhost", "127.0.0.1")
        chain = b"".join(pem.bytes() for pem in leaf.cert_chain_pems)
        certificate = ServerCertificate(chain, leaf.private_key_pem.bytes())
    trips: dict[tuple[str, str], list[int]] = {}
    times: dict[tuple[str, str], list[float]] = {}
    with (
        TemporaryPostgres(tls=certificate) as pg,
        FlightCounter(pg.host, pg.port, delay=args.latency / 1000) as proxy,
    ):
        for method in METHODS:
            user, password = AUTH_USERS[method]
            login = {
                "host": "127.0.0.1",
                "port": proxy.port,
                "user": user,
                "password": password,
                "dbname": "pgpipe",
                "sslmode": "require" if args.tls else "disable",
            }
            for _ in range(args.rounds):
                for name, run in drivers:
                    # Let the previous connection's goodbye (a TLS close_notify) pass first.
                    time.sleep(2 * args.latency / 1000 + 0.02)
                    proxy.reset()
                    started = time.perf_counter()
                    run(login, method)
                    elapsed = (time.perf_counter() - started) * 1000
                    trips.setdefault((name, method), []).append(proxy.round_trips)
                    times.setdefault((name, method), []).append(elapsed)
        version = pg.server_version

    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"python {platform.python_version()}, PostgreSQL {version}, proxy adding "
        f"{args.latency:g} ms each way, {args.rounds} connections per cell (median)"
        + (", TLS (sslmode=require)" if args.tls else ", no TLS")
    )
    print("\nround trips after TCP to the first result / wall time (ms) / time vs asyncpg\n")
    header = f"{'driver':<36}" + "".join(f"{m:>22}" for m in METHODS)
    print(header)
    for name, _ in drivers:
        cells = []
        for method in METHODS:
            rt = statistics.median(trips[(name, method)])
            ms = statistics.median(times[(name, method)])
            base = times.get(("asyncpg", method))
            ratio = f"{ms / statistics.median(base):.2f}x" if base else "n/a"
            cells.append(f"{rt:>4g} / {ms:6.1f} / {ratio:>6}")
        print(f"{name:<36}" + "".join(f"{c:>22}" for c in cells))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    f"{n} | {m}": {"round_trips": trips[(n, m)], "ms": times[(n, m)]}
                    for n, m in trips
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
