"""Run SQLAlchemy's dialect compliance suite against postgresql+pgpipe, blocking
and asyncio, on a throwaway PostgreSQL (pgpipe.testing.TemporaryPostgres).

    python tests/sqlalchemy_suite/run.py [--sync-only | --async-only] [pytest args]

Each form is its own pytest process (SQLAlchemy's plugin configures a process
for one set of database URLs), in this folder's setup.cfg. Exits non-zero when
either has a failure. docs/sqlalchemy.md lists the results.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pgpipe
from pgpipe.testing import TemporaryPostgres

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATABASE = "sqla_suite"
# The suite creates objects in these schemas besides the default one.
SCHEMAS = ("test_schema", "test_schema_2")


def prepare(server: TemporaryPostgres) -> None:
    with pgpipe.connect(server.dsn(dbname="postgres")) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    with pgpipe.connect(server.dsn(dbname=DATABASE)) as conn:
        for schema in SCHEMAS:
            conn.execute(f"CREATE SCHEMA {schema}")


def url(server: TemporaryPostgres, driver: str) -> str:
    return f"postgresql+{driver}://{server.superuser}@127.0.0.1:{server.port}/{DATABASE}"


def run(dburi: str, extra: list[str]) -> int:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(HERE / "setup.cfg"),
        "--rootdir",
        str(HERE),
        "--dburi",
        dburi,
        str(HERE / "suite_dialect.py"),
        *extra,
    ]
    print("sqlalchemy_suite:", dburi, flush=True)
    # The checkout first: requirement_cls names tests.sqlalchemy_suite.requirements.
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str]) -> int:
    drivers = ["pgpipe", "pgpipe_async"]
    if "--sync-only" in argv:
        drivers = ["pgpipe"]
    elif "--async-only" in argv:
        drivers = ["pgpipe_async"]
    extra = [a for a in argv if a not in ("--sync-only", "--async-only")]
    with TemporaryPostgres() as server:
        prepare(server)
        codes = [run(url(server, driver), extra) for driver in drivers]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
