"""pgpipe behind pgpool-II: what works, what does not, and how it shows.

The integration modules of ``tests.targets.PGPOOL_MODULES`` already run
through the session's pgpool-II. These tests are about pgpool-II itself:
its session pooling, and the two behaviours that keep tests of those
modules from passing through it (``not_through("pgpool", ...)``).
docs/poolers.md describes the results.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import pgpipe
from pgpipe import errors
from pgpipe.testing import TemporaryPgpool, TemporaryPostgres


@pytest.fixture(scope="module")
def solo(pg_server: TemporaryPostgres) -> Iterator[TemporaryPgpool]:
    """One pgpool-II process: every client is served by it, one after the other.

    No reserved process (clients wait for it instead of being refused): a
    client connecting just after another left could otherwise be refused
    while the process is still resetting the server session.
    """
    settings = {"reserved_connections": "0"}
    with TemporaryPgpool(pg_server, num_init_children=1, max_pool=1, settings=settings) as pooler:
        yield pooler


def server_pid(conn: pgpipe.Connection) -> int:
    (pid,) = conn.query("SELECT pg_backend_pid()").rows[0]
    assert isinstance(pid, int)
    return pid


def test_lifecycle(pg_server: TemporaryPostgres) -> None:
    pooler = TemporaryPgpool(pg_server, num_init_children=2, max_pool=1)
    assert repr(pooler) == "<TemporaryPgpool stopped>"
    with pooler:
        assert pooler.version >= (4, 0, 0)
        config = Path(pooler.config_path).read_text(encoding="utf-8")
        assert "backend_clustering_mode = 'streaming_replication'" in config
        with pytest.raises(RuntimeError, match="already started"):
            pooler.start()
        with pgpipe.connect(pooler.dsn(dbname="pgpipe")) as conn:
            assert conn.query("SELECT current_user").rows == [("postgres",)]
        directory = pooler.directory
    assert repr(pooler) == "<TemporaryPgpool stopped>"
    with pytest.raises(RuntimeError, match="not started"):
        _ = pooler.port
    pooler.stop()  # idempotent
    assert not Path(directory).exists()


def test_a_missing_program_says_how_to_install_it(pg_server: TemporaryPostgres) -> None:
    with pytest.raises(RuntimeError, match="not an executable pgpool program"):
        TemporaryPgpool(pg_server, program="/nonexistent/pgpool").start()


def test_a_client_keeps_its_server_session(pgpool: TemporaryPgpool) -> None:
    # A session pooler: SET and temporary tables last across transactions,
    # unlike behind a transaction pooler.
    with pgpipe.connect(pgpool.dsn(dbname="pgpipe")) as conn:
        pid = server_pid(conn)
        conn.execute("SET application_name = 'kept'; CREATE TEMP TABLE mine (n int)")
        for n in range(5):
            with conn.transaction():
                conn.query("INSERT INTO mine VALUES ($1)", n)
            assert server_pid(conn) == pid
        assert conn.query("SHOW application_name").rows == [("kept",)]
        assert conn.query("SELECT count(*) FROM mine").rows == [(5,)]


def test_the_next_client_gets_the_session_reset(solo: TemporaryPgpool) -> None:
    dsn = solo.dsn(dbname="pgpipe")
    with pgpipe.connect(dsn) as first:
        first.execute("SET search_path = pg_catalog; CREATE TEMP TABLE left_behind (n int)")
        pids = {server_pid(first)}
    seen_reused = False
    for _ in range(4):
        with pgpipe.connect(dsn) as later:
            pid = server_pid(later)
            seen_reused = seen_reused or pid in pids
            pids.add(pid)
            # reset_query_list (ABORT; DISCARD ALL) ran before it was lent again.
            assert later.query("SHOW search_path").rows == [('"$user", public',)]
            with pytest.raises(errors.UndefinedTable):
                later.query("SELECT * FROM left_behind")
    assert seen_reused, "pgpool-II opened a new server connection for every client"


def test_a_failed_commit_leaves_pgpool_refusing_statements(pgpool: TemporaryPgpool) -> None:
    table = f"d_{uuid.uuid4().hex[:12]}"
    with pgpipe.connect(pgpool.dsn(dbname="pgpipe")) as conn:
        conn.execute(f"CREATE TABLE {table} (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        try:
            with pytest.raises(errors.UniqueViolation), conn.transaction():
                conn.query(f"INSERT INTO {table} VALUES (1), (1)")
            # The server ended the transaction, and said so.
            assert conn.transaction_status == "I"
            assert conn.query(f"SELECT count(*) FROM {table}").rows == [(0,)]
            # pgpool-II still thinks it failed: it answers a simple-protocol
            # statement itself, without passing it on.
            with pytest.raises(errors.InFailedSqlTransaction) as info:
                conn.execute("SELECT 1")
            assert info.value.detail == "statement: SELECT 1"
            assert conn.transaction_status == "E"
            conn.execute("ROLLBACK")  # the way out
            assert conn.execute("SELECT 1")[-1].rows == [(1,)]
        finally:
            conn.execute(f"DROP TABLE {table}")


class Unencodable:
    pass


def test_a_bad_value_in_a_later_executemany_chunk_commits_nothing(
    pgpool: TemporaryPgpool,
) -> None:
    table = f"m_{uuid.uuid4().hex[:12]}"
    dsn = pgpool.dsn(dbname="pgpipe")
    with pgpipe.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE {table} (n int, s text)")
    try:
        rows: list[tuple[object, str]] = [(n, "x") for n in range(2500)]
        rows[2200] = (Unencodable(), "x")  # after the first chunks went out
        with pgpipe.connect(dsn) as conn:
            with pytest.raises(pgpipe.DataError, match="cannot adapt"):
                conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", rows)
            # The batch was failed with a Parse the server cannot read: pgpool-II
            # passes it on like any other, and the session goes on.
            assert not conn.closed
            assert conn.query(f"SELECT count(*) FROM {table}").rows == [(0,)]
    finally:
        with pgpipe.connect(dsn) as conn:
            conn.execute(f"DROP TABLE {table}")
