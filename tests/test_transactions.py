"""transaction() blocks against a real server, through both adapters (and PgBouncer)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest

import pgpipe
from pgpipe import errors
from pgpipe._transaction import Block, TransactionStatus, begin_statement
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client


@pytest.fixture
def client(adapter: Adapter, dsn: str) -> Client:
    return adapter.connect(dsn)


@pytest.fixture
def table(client: Client) -> Iterator[str]:
    """A fresh table (a real one, so that it outlives transactions behind a pooler)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    client.execute(f"CREATE TABLE {name} (n int PRIMARY KEY)")
    yield name
    if not client.closed:
        client.execute(f"DROP TABLE {name}")


def values(client: Client, table: str) -> list[int]:
    return [n for (n,) in client.query(f"SELECT n FROM {table} ORDER BY n").rows]


def test_commit_on_success(client: Client, table: str) -> None:
    assert client.transaction_status == TransactionStatus.IDLE == "I"
    with client.transaction():
        client.query(f"INSERT INTO {table} VALUES ($1)", 1)
        assert client.transaction_status is TransactionStatus.IN_TRANSACTION
    assert client.transaction_status == "I"
    assert values(client, table) == [1]


def test_rollback_on_exception(client: Client, table: str) -> None:
    with pytest.raises(ValueError, match="boom"), client.transaction():
        client.query(f"INSERT INTO {table} VALUES ($1)", 1)
        raise ValueError("boom")
    assert client.transaction_status == "I"
    assert values(client, table) == []


def test_nested_blocks_are_savepoints(client: Client, table: str) -> None:
    with client.transaction():
        client.query(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(errors.UniqueViolation), client.transaction():
            client.query(f"INSERT INTO {table} VALUES (2)")
            client.query(f"INSERT INTO {table} VALUES (1)")
        # The savepoint was rolled back to: the outer transaction goes on.
        assert client.transaction_status == "T"
        with client.transaction():
            client.query(f"INSERT INTO {table} VALUES (3)")
            with client.transaction():
                client.query(f"INSERT INTO {table} VALUES (4)")
    assert values(client, table) == [1, 3, 4]


def test_inner_exception_rolls_back_only_the_savepoint(client: Client, table: str) -> None:
    with client.transaction():
        client.query(f"INSERT INTO {table} VALUES (1)")
        try:
            with client.transaction():
                client.query(f"INSERT INTO {table} VALUES (2)")
                raise KeyError("inner")
        except KeyError:
            pass
    assert values(client, table) == [1]


def test_outer_rollback_undoes_released_savepoints(client: Client, table: str) -> None:
    with pytest.raises(RuntimeError), client.transaction():
        with client.transaction():
            client.query(f"INSERT INTO {table} VALUES (1)")
        raise RuntimeError
    assert values(client, table) == []


def test_isolation_and_access_modes(client: Client) -> None:
    with client.transaction(isolation="serializable", read_only=True, deferrable=True):
        settings = client.query(
            "SELECT current_setting('transaction_isolation'), "
            "current_setting('transaction_read_only'), "
            "current_setting('transaction_deferrable')"
        ).rows
        assert settings == [("serializable", "on", "on")]
    with client.transaction(isolation="REPEATABLE_READ"):
        assert client.query("SHOW transaction_isolation").rows == [("repeatable read",)]


def test_read_only_refuses_writes(client: Client, table: str) -> None:
    with pytest.raises(errors.ReadOnlySqlTransaction), client.transaction(read_only=True):
        client.query(f"INSERT INTO {table} VALUES (1)")
    assert client.transaction_status == "I"
    assert values(client, table) == []


def test_bad_options_are_refused_before_anything_is_sent(client: Client) -> None:
    before = client.stats.flights
    bad = client.transaction(isolation="snapshot; DROP TABLE x")
    with pytest.raises(pgpipe.InterfaceError, match="isolation must be one of"), bad:
        pass
    assert client.stats.flights == before
    with client.transaction():
        inner = client.transaction(read_only=True)
        with pytest.raises(pgpipe.InterfaceError, match="savepoint"), inner:
            pass
        assert client.query("SELECT 1").rows == [(1,)]
    assert client.transaction_status == "I"


def test_query_in_a_failed_transaction(client: Client) -> None:
    with pytest.raises(errors.InFailedSqlTransaction), client.transaction():
        with pytest.raises(errors.DivisionByZero):
            client.query("SELECT 1/0")
        assert client.transaction_status is TransactionStatus.FAILED
        with pytest.raises(errors.InFailedSqlTransaction, match="current transaction is aborted"):
            client.query("SELECT 1")
    # The block saw the failure and rolled back; the connection is fine.
    assert client.transaction_status == "I"
    assert client.query("SELECT 2").rows == [(2,)]


def test_caught_error_inside_the_block_is_not_committed(client: Client, table: str) -> None:
    failed = pytest.raises(errors.InFailedSqlTransaction, match="nothing was committed")
    with failed, client.transaction():
        client.query(f"INSERT INTO {table} VALUES (1)")
        with contextlib.suppress(errors.DivisionByZero):
            client.query("SELECT 1/0")
    assert client.transaction_status == "I"
    assert values(client, table) == []


def test_caught_error_inside_a_savepoint_rolls_back_to_it(client: Client, table: str) -> None:
    with client.transaction():
        client.query(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(errors.InFailedSqlTransaction), client.transaction():
            client.query(f"INSERT INTO {table} VALUES (2)")
            with pytest.raises(errors.DivisionByZero):
                client.query("SELECT 1/0")
        assert client.transaction_status == "T"
    assert values(client, table) == [1]


def test_ending_the_transaction_inside_the_block_is_an_error(client: Client, table: str) -> None:
    with pytest.raises(pgpipe.InterfaceError, match="ended inside"), client.transaction():
        client.query(f"INSERT INTO {table} VALUES (1)")
        client.execute("COMMIT")
    assert client.transaction_status == "I"


@pytest.mark.not_through(
    "pgpool",
    "pgpool-II 4.3 keeps a transaction whose COMMIT failed marked as failed, and answers "
    "every later simple-protocol statement itself with 25P02 until ROLLBACK (psql too): "
    "tests/test_pgpool.py, docs/poolers.md",
)
def test_commit_failure_raises_from_the_block(client: Client) -> None:
    name = f"d_{uuid.uuid4().hex[:12]}"
    client.execute(f"CREATE TABLE {name} (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
    try:
        with pytest.raises(errors.UniqueViolation), client.transaction():
            client.query(f"INSERT INTO {name} VALUES (1), (1)")
        assert client.transaction_status == "I"
        assert client.query(f"SELECT count(*) FROM {name}").rows == [(0,)]
    finally:
        client.execute(f"DROP TABLE {name}")


def test_block_inside_a_manual_begin_is_a_savepoint(client: Client, table: str) -> None:
    client.execute("BEGIN")
    with pytest.raises(ZeroDivisionError), client.transaction():
        client.query(f"INSERT INTO {table} VALUES (1)")
        raise ZeroDivisionError
    assert client.transaction_status == "T"
    client.query(f"INSERT INTO {table} VALUES (2)")
    client.execute("COMMIT")
    assert values(client, table) == [2]


def test_connection_lost_inside_the_block(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    # Direct to the server: behind a pooler, backend_pid is the pooler's.
    client = adapter.connect(pg_server.dsn(dbname="pgpipe"))
    other = adapter.connect(pg_server.dsn(dbname="pgpipe"))
    with pytest.raises(errors.AdminShutdown), client.transaction():
        pid = client.backend_pid
        other.query("SELECT pg_terminate_backend($1::int)", pid)
        client.query("SELECT pg_sleep(5)")
    assert client.closed
    assert "administrator command" in (client.closed_reason or "")


def test_block_statements() -> None:
    assert begin_statement(None, False, False) == "BEGIN"
    assert (
        begin_statement("read committed", True, False)
        == "BEGIN ISOLATION LEVEL READ COMMITTED, READ ONLY"
    )
    block = Block(None, False, False)
    assert block.enter("T", 2) == "SAVEPOINT pgpipe_savepoint_3"
    assert block.exit("T", failed=False) == ("RELEASE SAVEPOINT pgpipe_savepoint_3", None)
    statement, error = block.exit("T", failed=True)
    assert statement == (
        "ROLLBACK TO SAVEPOINT pgpipe_savepoint_3; RELEASE SAVEPOINT pgpipe_savepoint_3"
    )
    assert error is None
