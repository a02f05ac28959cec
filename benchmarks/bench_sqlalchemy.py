"""SQLAlchemy through pgpipe's dialect against psycopg's (sync) and asyncpg's (async).

    python benchmarks/bench_sqlalchemy.py [--selects 3000] [--objects 10000] [--rounds 5]

Two workloads, each with one engine per dialect (pool_size 1, so every
statement runs on one warm connection), every result checked:

- select: SQLAlchemy Core, ``select(item).where(item.c.id == :id)`` for
  ``--selects`` primary keys of a 1,000-row table, one round trip each;
  queries per second.
- orm insert: an ORM session adds ``--objects`` new ``Item`` objects (id from
  an identity column, so the ORM needs the new keys back: SQLAlchemy's
  "insertmanyvalues" batches of INSERT .. RETURNING) and commits; rows per
  second. The table is truncated between runs.

Dialects run round-robin (noise on this 2-core machine hits all alike); the
median and the min-max of ``--rounds`` are printed, with pgpipe's ratio to
the faster peer of its kind (the issue's bar is 0.95x).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from peers import installed
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import pgpipe
from pgpipe.testing import TemporaryPostgres

TABLE_ROWS = 1000


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "bench_sa_item"
    id: Mapped[int] = mapped_column(sa.Identity(), primary_key=True)
    name: Mapped[str]
    value: Mapped[float]


class Lookup(Base):
    __tablename__ = "bench_sa_lookup"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str]
    value: Mapped[float]


LOOKUP = Lookup.__table__


@dataclass(frozen=True)
class Dialect:
    name: str
    kind: str  # "sync" or "async"
    scheme: str
    module: str
    query: tuple[tuple[str, str], ...] = ()


# What the peers do by default: psycopg prepares a statement on its fifth run,
# asyncpg's dialect keeps 100 prepared statements. pgpipe's default is unnamed
# statements (safe behind a transaction-mode pooler); this is its opt-in.
NAMED = (("statement_cache_size", "100"),)

DIALECTS = [
    Dialect("pgpipe", "sync", "postgresql+pgpipe", "pgpipe"),
    Dialect("pgpipe named", "sync", "postgresql+pgpipe", "pgpipe", NAMED),
    Dialect("psycopg", "sync", "postgresql+psycopg", "psycopg"),
    Dialect("pgpipe", "async", "postgresql+pgpipe_async", "pgpipe"),
    Dialect("pgpipe named", "async", "postgresql+pgpipe_async", "pgpipe", NAMED),
    Dialect("asyncpg", "async", "postgresql+asyncpg", "asyncpg"),
    Dialect("psycopg", "async", "postgresql+psycopg_async", "psycopg"),
]


def url(dialect: Dialect, base: sa.URL) -> sa.URL:
    query = dict(base.query)
    query.update(dialect.query)
    if dialect.module == "asyncpg":
        query.pop("sslmode", None)  # asyncpg's dialect takes ssl=
        query["ssl"] = "disable"
    return base.set(drivername=dialect.scheme, query=query)


def setup(base: sa.URL) -> None:
    engine = sa.create_engine(base.set(drivername="postgresql+pgpipe"))
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        Base.metadata.create_all(conn)
        conn.execute(
            sa.insert(LOOKUP),
            [{"id": i, "name": f"name {i}", "value": i / 4} for i in range(TABLE_ROWS)],
        )
    engine.dispose()


def keys(n: int) -> list[int]:
    rng = random.Random(n)
    return [rng.randrange(TABLE_ROWS) for _ in range(n)]


def check_row(row: Any, key: int) -> None:
    if row is None or row.id != key or row.name != f"name {key}" or row.value != key / 4:
        raise AssertionError(f"wrong row for id {key}: {row!r}")


def objects(n: int) -> list[Item]:
    return [Item(name=f"object {i}", value=i / 2) for i in range(n)]


def check_inserted(items: list[Item], counted: int) -> None:
    if counted != len(items) or any(item.id is None for item in items):
        raise AssertionError(f"{counted} rows inserted for {len(items)} objects")


STATEMENT = sa.select(LOOKUP).where(LOOKUP.c.id == sa.bindparam("id"))
TRUNCATE = sa.text(f"TRUNCATE {Item.__tablename__}")
COUNT = sa.text(f"SELECT count(*) FROM {Item.__tablename__}")


def sync_select(engine: sa.Engine, n: int) -> float:
    ids = keys(n)
    with engine.connect() as conn:
        check_row(conn.execute(STATEMENT, {"id": ids[0]}).one(), ids[0])  # warm
        start = time.perf_counter()
        for key in ids:
            row = conn.execute(STATEMENT, {"id": key}).one()
        elapsed = time.perf_counter() - start
        check_row(row, ids[-1])
    return n / elapsed


def sync_insert(engine: sa.Engine, n: int) -> float:
    with engine.begin() as conn:
        conn.execute(TRUNCATE)
    items = objects(n)
    start = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(items)
        session.commit()
    elapsed = time.perf_counter() - start
    with engine.connect() as conn:
        check_inserted(items, conn.execute(COUNT).scalar_one())
    return n / elapsed


async def async_select(engine: AsyncEngine, n: int) -> float:
    ids = keys(n)
    async with engine.connect() as conn:
        check_row((await conn.execute(STATEMENT, {"id": ids[0]})).one(), ids[0])
        start = time.perf_counter()
        for key in ids:
            row = (await conn.execute(STATEMENT, {"id": key})).one()
        elapsed = time.perf_counter() - start
        check_row(row, ids[-1])
    return n / elapsed


async def async_insert(engine: AsyncEngine, n: int) -> float:
    async with engine.begin() as conn:
        await conn.execute(TRUNCATE)
    items = objects(n)
    start = time.perf_counter()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add_all(items)
        await session.commit()
    elapsed = time.perf_counter() - start
    async with engine.connect() as conn:
        check_inserted(items, (await conn.execute(COUNT)).scalar_one())
    return n / elapsed


class Runner:
    """One dialect's engine, kept open across rounds (its loop too, when async)."""

    def __init__(self, dialect: Dialect, base: sa.URL) -> None:
        self.dialect = dialect
        target = url(dialect, base)
        options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0}
        if dialect.kind == "sync":
            self.engine: Any = sa.create_engine(target, **options)
            self.loop: asyncio.AbstractEventLoop | None = None
        else:
            self.loop = asyncio.new_event_loop()
            self.engine = create_async_engine(target, **options)

    def run(self, workload: str, n: int) -> float:
        if self.loop is None:
            job: Callable[[Any, int], Any] = sync_select if workload == "select" else sync_insert
            return float(job(self.engine, n))
        coro = async_select if workload == "select" else async_insert
        return self.loop.run_until_complete(coro(self.engine, n))

    def close(self) -> None:
        if self.loop is None:
            self.engine.dispose()
        else:
            self.loop.run_until_complete(self.engine.dispose())
            self.loop.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--selects", type=int, default=3000)
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dsn", help="postgresql:// URL of a server, instead of a throwaway one")
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        if args.dsn is None:
            pg = stack.enter_context(TemporaryPostgres())
            dsn = pg.dsn(dbname="pgpipe")
        else:
            dsn = args.dsn
        with pgpipe.connect(dsn) as conn:
            server_version = conn.parameters.get("server_version", "?")
        base = sa.make_url(dsn.replace("postgres://", "postgresql://", 1))
        setup(base)
        chosen = [d for d in DIALECTS if installed(d.module)]
        missing = [d for d in DIALECTS if not installed(d.module)]
        runners = [Runner(d, base) for d in chosen]
        for runner in runners:
            stack.callback(runner.close)
        workloads = {"select": args.selects, "orm insert": args.objects}
        figures: dict[tuple[str, str, str], list[float]] = {}
        for _ in range(args.rounds):
            for workload, n in workloads.items():
                for runner in runners:
                    key = (workload, runner.dialect.kind, runner.dialect.name)
                    figures.setdefault(key, []).append(runner.run(workload.split()[-1], n))

    print(f"command: python {' '.join(['benchmarks/bench_sqlalchemy.py', *argv])}")
    print(
        f"python {platform.python_version()}, SQLAlchemy {sa.__version__}, "
        f"PostgreSQL {server_version}, {os.cpu_count()} CPUs, {args.rounds} rounds, loopback TCP"
    )
    print(
        f"select: {args.selects} Core selects by primary key (q/s); "
        f"orm insert: {args.objects} objects (rows/s)"
    )
    header = f"{'workload':<12}{'kind':<7}{'dialect':<14}{'median':>10}{'min-max':>18}"
    print(f"\n{header}{'pgpipe / best peer':>21}")
    for (workload, kind, name), values in figures.items():
        median = statistics.median(values)
        ratio = ""
        if name.startswith("pgpipe"):
            peers = [
                statistics.median(v)
                for (w, k, n), v in figures.items()
                if w == workload and k == kind and not n.startswith("pgpipe")
            ]
            ratio = f"{median / max(peers):.2f}x" if peers else "n/a"
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(f"{workload:<12}{kind:<7}{name:<14}{median:>10.0f}{spread:>18}{ratio:>21}")
    for d in missing:
        print(f"{'':<12}{d.kind:<7}{d.name:<14}{'not installed':>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
