"""A serverless handler: connect, query, close, on every request, in as few round trips as possible.

Run it locally against a throwaway database:

    python examples/serverless_handler.py

In a real deployment the DSN comes from the environment (``DATABASE_URL``) and
the platform calls ``handler(event, context)`` once per request.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pgpipe

# SCRAM with the first query pipelined behind the client's proof: 2 round trips
# to the first row instead of 4 (over TLS: 4 instead of 6). The query leaves
# before the server has proved its identity, which pgpipe allows when TLS has
# verified the server: give DATABASE_URL sslmode=verify-full (settings for
# Neon, Supabase and RDS in docs/connecting.md).
CONNECT_OPTIONS: dict[str, Any] = {
    "pipeline_connect": os.environ.get("PGPIPE_PIPELINE", "scram"),
    "pipeline_connect_fallback": True,  # a wrong guess reconnects once, ordinarily
    "connect_timeout": 5,
}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Look up one order by id; return it as a JSON HTTP response."""
    order_id = int(event["order_id"])
    with pgpipe.connect(os.environ["DATABASE_URL"], **CONNECT_OPTIONS) as conn:
        result = conn.query_with_param_types(
            "SELECT id, item, price FROM orders WHERE id = $1", [(order_id, pgpipe.Type.INT4)]
        )
        stats = conn.stats
    if not result.rows:
        return {"statusCode": 404, "body": json.dumps({"error": "no such order"})}
    order_id, item, price = result.rows[0]
    body = {"id": order_id, "item": item, "price": str(price), "round_trips": stats.round_trips}
    return {"statusCode": 200, "body": json.dumps(body)}


def main() -> None:
    from pgpipe.testing import AUTH_USERS, TemporaryPostgres

    with TemporaryPostgres() as pg:
        pg.psql(
            "CREATE TABLE orders (id int PRIMARY KEY, item text, price numeric);"
            "INSERT INTO orders VALUES (1, 'coffee', 3.50);"
            "GRANT SELECT ON orders TO pgpipe_scram;",
            dbname="pgpipe",
        )
        user, password = AUTH_USERS["scram"]
        # The throwaway server has no TLS: only on a network you trust (here,
        # loopback) may the query leave before the server has proved itself.
        CONNECT_OPTIONS["allow_unverified_pipelining"] = True
        os.environ["DATABASE_URL"] = pg.dsn(user=user, password=password, dbname="pgpipe")
        print(handler({"order_id": 1}, None))
        print(handler({"order_id": 2}, None))


if __name__ == "__main__":
    main()
