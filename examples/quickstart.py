"""pgpipe's main job, end to end: a throwaway PostgreSQL, then queries through both adapters.

Run it with ``python examples/quickstart.py`` once pgpipe and PostgreSQL's
server binaries are installed (``bash scripts/setup.sh`` installs both on
Debian). ``bash scripts/demo.sh`` shows the other half of pgpipe's job:
pipelined connect through 20 ms of latency, with the ``pgpipe`` command.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pgpipe
from pgpipe.testing import AUTH_USERS, TemporaryPostgres


def blocking(dsn: str) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, item text,"
            " price numeric, placed timestamptz);"
            " GRANT SELECT ON orders TO pgpipe_scram"
        )
        placed = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
        inserted = conn.query_with_param_types(
            "INSERT INTO orders VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            [
                (1, pgpipe.Type.INT4),
                ("coffee", pgpipe.Type.TEXT),
                (Decimal("3.50"), pgpipe.Type.NUMERIC),
                (placed, pgpipe.Type.TIMESTAMPTZ),
            ],
        )
        print("sync   :", inserted.status)
        # Parameter types inferred from the Python values; one round trip either way.
        result = conn.query(
            "SELECT id, item, price, placed FROM orders WHERE price < $1", Decimal(10)
        )
        print("sync   :", [c.name for c in result.columns], result.rows)
        try:
            conn.query("INSERT INTO orders VALUES ($1, $2)", 1, "tea")
        except pgpipe.errors.UniqueViolation as exc:
            print(
                "sync   : UniqueViolation:",
                exc.message_primary,
                "| constraint:",
                exc.constraint_name,
            )
        print("sync   :", conn.query("SELECT count(*) FROM orders").rows)


async def in_asyncio(dsn: str) -> None:
    async with await pgpipe.connect_async(dsn) as conn:
        result = await conn.query("SELECT item, price * $1 FROM orders", 3)
        print("asyncio:", result.rows)
        version = await conn.query("SELECT current_setting('server_version'), current_user")
        print("asyncio:", version.rows)


def main() -> None:
    with TemporaryPostgres() as pg:
        print(f"started PostgreSQL {pg.server_version} on {pg.host}:{pg.port}")
        blocking(pg.dsn(dbname="pgpipe"))
        user, password = AUTH_USERS["scram"]
        asyncio.run(in_asyncio(pg.dsn(user=user, password=password, dbname="pgpipe")))


if __name__ == "__main__":
    main()
