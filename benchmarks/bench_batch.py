"""Many statements at once: executemany and pipelines, pgpipe vs asyncpg, psycopg and pg8000.

    python benchmarks/bench_batch.py [--rows 10000] [--selects 1000] [--rounds 5] [--delay 0.02]

Two workloads, each on one connection, every result checked:

- insert: ``--rows`` single-row INSERTs (an int and a short text) through
  executemany. pgpipe: one flight (Parse once, Bind/Execute per row, one
  Sync). asyncpg: ``executemany`` (pipelined too). psycopg: ``executemany``
  (pipeline mode). pg8000: ``executemany`` (a round trip per row).
- select: ``--selects`` independent ``SELECT $1::int + 1``. pgpipe: one
  pipeline (a Sync per query). psycopg: pipeline mode. asyncpg and pg8000
  have no pipeline: ``fetchval`` / ``run`` in a loop.

Each runs on loopback, through a relay with no delay, and through the same
relay adding ``--delay`` seconds each way (one round trip = 2 x delay); the
relay is a process of its own (latency.py). Loop-based drivers behind the
relay would take minutes, so there they run ``--sample`` items and the time
is scaled up (marked "~"). Printed: medians in milliseconds, pgpipe's ratio
to the best peer, and the latency's cost in round trips: the median over
rounds of (delayed relay time - relay time, measured one after the other) /
round trip, which leaves out the relay's own work (it shares the CPUs with
the driver and the server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from latency import LatencyProxy
from peers import installed

import pgpipe
from pgpipe.testing import TemporaryPostgres

TABLE = "bench_batch"
INSERT = f"INSERT INTO {TABLE} VALUES ($1, $2)"
SELECT = "SELECT $1::int + 1"


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    dbname: str = "pgpipe"
    user: str = "postgres"

    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}?sslmode=disable"


def rows(n: int) -> list[tuple[int, str]]:
    return [(i, f"name {i}") for i in range(n)]


def reset(target: Target) -> None:
    with pgpipe.connect(target.dsn()) as conn:
        conn.execute(f"TRUNCATE {TABLE}")


def check_inserted(target: Target, n: int) -> None:
    with pgpipe.connect(target.dsn()) as conn:
        (count,) = conn.query(f"SELECT count(*) FROM {TABLE}").rows[0]
    if count != n:
        raise AssertionError(f"{count} rows inserted, not {n}")


def check_selected(values: list[Any], n: int) -> None:
    if values != [i + 1 for i in range(n)]:
        raise AssertionError("wrong SELECT results")


# -- insert: executemany ---------------------------------------------------------------


def pgpipe_sync_insert(target: Target, n: int) -> float:
    data = rows(n)
    with pgpipe.connect(target.dsn()) as conn:
        start = time.perf_counter()
        conn.executemany(INSERT, data)
        return time.perf_counter() - start


def pgpipe_async_insert(target: Target, n: int) -> float:
    async def main() -> float:
        data = rows(n)
        conn = await pgpipe.connect_async(target.dsn())
        start = time.perf_counter()
        await conn.executemany(INSERT, data)
        elapsed = time.perf_counter() - start
        await conn.close()
        return elapsed

    return asyncio.run(main())


def asyncpg_insert(target: Target, n: int) -> float:
    import asyncpg

    async def main() -> float:
        data = rows(n)
        conn = await asyncpg.connect(target.dsn())
        start = time.perf_counter()
        await conn.executemany(INSERT, data)
        elapsed = time.perf_counter() - start
        await conn.close()
        return elapsed

    return asyncio.run(main())


def psycopg_insert(target: Target, n: int) -> float:
    import psycopg

    data = rows(n)
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        start = time.perf_counter()
        conn.cursor().executemany(f"INSERT INTO {TABLE} VALUES (%s, %s)", data)
        return time.perf_counter() - start


def _pg8000(target: Target) -> Any:
    import pg8000.dbapi

    conn = pg8000.dbapi.connect(
        user=target.user, host=target.host, port=target.port, database=target.dbname
    )
    conn.autocommit = True
    return conn


def pg8000_insert(target: Target, n: int) -> float:
    data = rows(n)
    conn = _pg8000(target)
    try:
        start = time.perf_counter()
        conn.cursor().executemany(f"INSERT INTO {TABLE} VALUES (%s, %s)", data)
        return time.perf_counter() - start
    finally:
        conn.close()


# -- select: pipelines, or loops where there is none -------------------------------------


def pgpipe_sync_select(target: Target, n: int) -> float:
    with pgpipe.connect(target.dsn()) as conn:
        start = time.perf_counter()
        with conn.pipeline() as p:
            handles = [p.query(SELECT, i) for i in range(n)]
        values = [h.result().rows[0][0] for h in handles]
        elapsed = time.perf_counter() - start
    check_selected(values, n)
    return elapsed


def pgpipe_async_select(target: Target, n: int) -> float:
    async def main() -> float:
        conn = await pgpipe.connect_async(target.dsn())
        start = time.perf_counter()
        async with conn.pipeline() as p:
            handles = [p.query(SELECT, i) for i in range(n)]
        values = [h.result().rows[0][0] for h in handles]
        elapsed = time.perf_counter() - start
        await conn.close()
        check_selected(values, n)
        return elapsed

    return asyncio.run(main())


def asyncpg_select(target: Target, n: int) -> float:
    import asyncpg

    async def main() -> float:
        conn = await asyncpg.connect(target.dsn())
        start = time.perf_counter()
        values = [await conn.fetchval(SELECT, i) for i in range(n)]
        elapsed = time.perf_counter() - start
        await conn.close()
        check_selected(values, n)
        return elapsed

    return asyncio.run(main())


def psycopg_select(target: Target, n: int) -> float:
    import psycopg

    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        start = time.perf_counter()
        with conn.pipeline():
            cursors = [conn.execute("SELECT %s::int + 1", (i,)) for i in range(n)]
        values = [cur.fetchone()[0] for cur in cursors]  # type: ignore[index]
        elapsed = time.perf_counter() - start
    check_selected(values, n)
    return elapsed


def pg8000_select(target: Target, n: int) -> float:
    import pg8000.native

    conn = pg8000.native.Connection(
        user=target.user, host=target.host, port=target.port, database=target.dbname
    )
    try:
        start = time.perf_counter()
        values = [conn.run("SELECT :v::int + 1", v=i)[0][0] for i in range(n)]
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    check_selected(values, n)
    return elapsed


Runner = Callable[[Target, int], float]


@dataclass(frozen=True)
class Driver:
    name: str
    how: str
    run: Runner
    module: str | None = None
    looped: bool = False  # a round trip per item: sampled behind the proxy


WORKLOADS: dict[str, list[Driver]] = {
    "insert": [
        Driver("pgpipe sync", "executemany", pgpipe_sync_insert),
        Driver("pgpipe asyncio", "executemany", pgpipe_async_insert),
        Driver("asyncpg", "executemany", asyncpg_insert, "asyncpg"),
        Driver("psycopg", "executemany", psycopg_insert, "psycopg"),
        Driver("pg8000", "executemany", pg8000_insert, "pg8000", looped=True),
    ],
    "select": [
        Driver("pgpipe sync", "pipeline", pgpipe_sync_select),
        Driver("pgpipe asyncio", "pipeline", pgpipe_async_select),
        Driver("asyncpg", "fetchval loop", asyncpg_select, "asyncpg", looped=True),
        Driver("psycopg", "pipeline", psycopg_select, "psycopg"),
        Driver("pg8000", "run loop", pg8000_select, "pg8000", looped=True),
    ],
}


def measure(driver: Driver, workload: str, target: Target, n: int) -> float:
    if workload == "insert":
        reset(target)
    elapsed = driver.run(target, n)
    if workload == "insert":
        check_inserted(target, n)
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--selects", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds added each way")
    parser.add_argument("--sample", type=int, default=50, help="items per looped run via proxy")
    args = parser.parse_args(argv)
    rtt = 2 * args.delay
    sizes = {"insert": args.rows, "select": args.selects}

    with ExitStack() as stack:
        pg = stack.enter_context(TemporaryPostgres())
        direct = Target(pg.host, pg.port)
        server_version = pg.server_version
        with pgpipe.connect(direct.dsn()) as conn:
            conn.execute(f"CREATE TABLE {TABLE} (id int, name text)")

        results: dict[tuple[str, str], dict[str, list[float]]] = {}
        for workload, drivers in WORKLOADS.items():
            n = sizes[workload]
            present = [d for d in drivers if installed(d.module)]
            for driver in present:
                results[(workload, driver.name)] = {"lo": [], "relay": [], "px": []}
            # One phase at a time, every driver in turn within a round: a
            # proxied run left the next loopback runs of every driver noisy on
            # this 2-CPU machine (30 ms runs taking 35-50 ms), even after a pause.
            for _ in range(args.rounds):
                for driver in present:
                    results[(workload, driver.name)]["lo"].append(
                        measure(driver, workload, direct, n)
                    )
            # Through a relay without delay and one with it, in turn: the relay's
            # own work (it shares the 2 CPUs) is in both, the latency only in the
            # second, so the difference of each pair is what the latency cost.
            with (
                LatencyProxy(pg.host, pg.port, delay=0.0) as relay,
                LatencyProxy(pg.host, pg.port, delay=args.delay) as delaying,
            ):
                for _ in range(args.rounds):
                    for driver in present:
                        for phase, proxy in (("relay", relay), ("px", delaying)):
                            proxied = Target("127.0.0.1", proxy.port)
                            if driver.looped:
                                sample = min(args.sample, n)
                                elapsed = measure(driver, workload, proxied, sample) * n / sample
                            else:
                                elapsed = measure(driver, workload, proxied, n)
                            results[(workload, driver.name)][phase].append(elapsed)

    print(f"command: python {' '.join(['benchmarks/bench_batch.py', *argv])}")
    print(
        f"python {platform.python_version()}, PostgreSQL {server_version}, "
        f"{os.cpu_count()} CPUs, {args.rounds} rounds, proxy adds {args.delay * 1000:g} ms "
        f"each way (1 round trip = {rtt * 1000:g} ms)"
    )
    for workload, drivers in WORKLOADS.items():
        print(f"\n{workload}: {sizes[workload]} statements")
        print(
            f"{'driver':<16}{'how':<15}{'loopback ms':>12}{'vs best peer':>13}"
            f"{'relay ms':>10}{'proxy ms':>11}{'vs best peer':>13}{'latency cost':>14}"
        )
        medians = {
            d.name: {k: statistics.median(v) for k, v in results[(workload, d.name)].items()}
            for d in drivers
            if (workload, d.name) in results
        }
        peers = [m for name, m in medians.items() if not name.startswith("pgpipe")]
        best_lo = min((m["lo"] for m in peers), default=None)
        best_px = min((m["px"] for m in peers), default=None)
        for d in drivers:
            if d.name not in medians:
                print(f"{d.name:<16}{d.how:<15}{'not installed':>12}")
                continue
            m = medians[d.name]
            lo_ratio = f"{m['lo'] / best_lo:.2f}" if best_lo else "n/a"
            px_ratio = f"{m['px'] / best_px:.2f}" if best_px else "n/a"
            runs = results[(workload, d.name)]
            cost = statistics.median(a - b for a, b in zip(runs["px"], runs["relay"], strict=True))
            cost /= rtt
            mark = "~" if d.looped else ""
            print(
                f"{d.name:<16}{d.how:<15}{m['lo'] * 1000:>12.1f}{lo_ratio:>13}"
                f"{mark + format(m['relay'] * 1000, '.1f'):>10}"
                f"{mark + format(m['px'] * 1000, '.1f'):>11}{px_ratio:>13}{cost:>11.2f} RT"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
