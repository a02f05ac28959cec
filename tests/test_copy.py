"""COPY FROM STDIN and COPY TO STDOUT on both adapters, against a real PostgreSQL:
the three formats, rows and raw data, copy_records_to_table, and faults inside
a COPY (a bad value, a server error, an exception in the block, a timeout, a
cancelled task, a network cut) after which the connection is in sync or
closed saying why. Directly and through PgBouncer in transaction mode.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import io
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import pgpipe
from pgpipe import Type, errors
from pgpipe.testing import TemporaryPostgres
from tests.faultproxy import FaultProxy

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 12, 30, 15, 123456, tzinfo=UTC)
ROWS = [
    (1, "plain", 1.5, NOW),
    (2, "tab\there, newline\nthere, back\\slash", -0.25, NOW),
    (3, 'quote " comma , semi ;', 1e300, None),
    (4, "", 0.0, NOW),
    (5, None, None, None),
    (6, "ünïcödé ✓", float("inf"), NOW),
]


@pytest.fixture
def table(dsn: str) -> Iterator[str]:
    name = f"copy_{uuid.uuid4().hex[:8]}"
    with pgpipe.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE {name} (a int4, b text, c float8, d timestamptz)")
    yield name
    with pgpipe.connect(dsn) as conn:
        conn.execute(f"DROP TABLE {name}")


def content(dsn: str, table: str) -> list[tuple[Any, ...]]:
    with pgpipe.connect(dsn) as conn:
        return list(conn.query(f"SELECT a, b, c, d FROM {table} ORDER BY a").rows)


# -- blocking ----------------------------------------------------------------------------


def test_copy_records_to_table(dsn: str, table: str) -> None:
    with pgpipe.connect(dsn) as conn:
        assert conn.copy_records_to_table(table, ROWS) == f"COPY {len(ROWS)}"
        assert conn.copy_records_to_table(table, iter([(7, "x")]), columns=["a", "b"]) == "COPY 1"
    assert content(dsn, table) == [*ROWS, (7, "x", None, None)]


@pytest.mark.parametrize("fmt", ["text", "csv", "binary"])
def test_write_rows_and_read_them_back(dsn: str, table: str, fmt: str) -> None:
    types = [Type.INT4, Type.TEXT, Type.FLOAT8, Type.TIMESTAMPTZ]
    with pgpipe.connect(dsn) as conn:
        with conn.copy(f"COPY {table} FROM STDIN (FORMAT {fmt})") as copy:
            if fmt == "binary":
                copy.set_types(types)
            for row in ROWS:
                copy.write_row(row)
        assert copy.rowcount == len(ROWS)
        assert content(dsn, table) == ROWS
        with conn.copy(f"COPY (SELECT * FROM {table} ORDER BY a) TO STDOUT (FORMAT {fmt})") as copy:
            copy.set_types(types)
            assert list(copy.rows()) == ROWS
        assert conn.query("SELECT 1").rows == [(1,)]


def test_text_rows_without_types_are_strings(dsn: str, table: str) -> None:
    with pgpipe.connect(dsn) as conn:
        conn.copy_records_to_table(table, ROWS[:2])
        with conn.copy(f"COPY (SELECT a, b FROM {table} ORDER BY a) TO STDOUT") as copy:
            assert copy.read_row() == ("1", "plain")
            assert copy.read_row() == ("2", ROWS[1][1])
            assert copy.read_row() is None


def test_raw_data_from_and_to_files(dsn: str, table: str) -> None:
    source = io.BytesIO(b"".join(f"{i}\tline {i}\n".encode() for i in range(10_000)))
    with pgpipe.connect(dsn) as conn:
        with conn.copy(f"COPY {table} (a, b) FROM STDIN") as copy:
            while data := source.read(8192):
                copy.write(data)
        assert copy.status == "COPY 10000"
        sink = io.BytesIO()
        with conn.copy(f"COPY (SELECT a, b FROM {table} ORDER BY a) TO STDOUT") as copy:
            for data in copy:
                sink.write(data)
        assert sink.getvalue() == source.getvalue()


def test_a_bad_value_names_its_row_and_nothing_is_committed(dsn: str, table: str) -> None:
    rows = [(i, "ok", 0.0, NOW) for i in range(5000)]
    rows[3000] = (3000, "ok", "not a float", NOW)
    with pgpipe.connect(dsn) as conn:
        with pytest.raises(errors.DataError, match="COPY row 3001"):
            conn.copy_records_to_table(table, rows)
        assert conn.transaction_status == pgpipe.TransactionStatus.IDLE
        assert conn.query("SELECT 1").rows == [(1,)]
    assert content(dsn, table) == []


def test_a_server_error_mid_copy(dsn: str, table: str) -> None:
    with pgpipe.connect(dsn) as conn:
        with (
            pytest.raises(errors.InvalidTextRepresentation, match="line 4001"),
            conn.copy(f"COPY {table} (a, b) FROM STDIN") as copy,
        ):
            for i in range(20_000):
                copy.write(f"{'x' if i == 4000 else i}\tr\n")
        assert conn.query("SELECT 2").rows == [(2,)]
    assert content(dsn, table) == []


def test_an_exception_in_the_block_aborts_the_copy(dsn: str, table: str) -> None:
    with pgpipe.connect(dsn) as conn:
        with (
            pytest.raises(RuntimeError, match="changed my mind"),
            conn.copy(f"COPY {table} (a) FROM STDIN") as copy,
        ):
            copy.write_row((1,))
            raise RuntimeError("changed my mind")
        assert conn.query("SELECT 3").rows == [(3,)]
    assert content(dsn, table) == []


def test_leaving_a_copy_out_early_drops_the_rest(dsn: str) -> None:
    with pgpipe.connect(dsn) as conn:
        with conn.copy("COPY (SELECT generate_series(1, 100000)) TO STDOUT") as copy:
            assert copy.read() == b"1\n"
        assert conn.query("SELECT 4").rows == [(4,)]


def test_other_commands_wait_for_the_copy(dsn: str, table: str) -> None:
    with pgpipe.connect(dsn) as conn:
        with conn.copy(f"COPY {table} (a) FROM STDIN") as copy:
            copy.write_row((1,))
            with pytest.raises(errors.InterfaceError, match="COPY is in progress"):
                conn.query("SELECT 1")
            copy.write_row((2,))
        assert [r[0] for r in content(dsn, table)] == [1, 2]


def test_not_a_copy_statement(dsn: str) -> None:
    with pgpipe.connect(dsn) as conn:
        with (
            pytest.raises(errors.ProgrammingError, match="copy\\(\\) runs COPY"),
            conn.copy("SELECT 1"),
        ):
            pass
        with pytest.raises(errors.UndefinedTable), conn.copy("COPY no_such_table FROM STDIN"):
            pass
        assert conn.query("SELECT 5").rows == [(5,)]


def test_copy_through_query_is_still_refused(dsn: str, table: str) -> None:
    with pgpipe.connect(dsn) as conn:
        with pytest.raises(errors.QueryCanceled, match="use copy"):
            conn.execute(f"COPY {table} FROM STDIN")
        assert conn.query("SELECT 6").rows == [(6,)]


def test_a_timeout_inside_copy_out(dsn: str) -> None:
    with pgpipe.connect(dsn) as conn:
        with (
            pytest.raises(pgpipe.QueryTimeout),
            conn.copy("COPY (SELECT pg_sleep(5)) TO STDOUT", timeout=0.3) as copy,
        ):
            list(copy)
        assert conn.query("SELECT 7").rows == [(7,)]


def test_a_network_cut_mid_copy(pg_server: TemporaryPostgres, table: str) -> None:
    with FaultProxy(pg_server.host, pg_server.port) as proxy:
        dsn = f"postgresql://postgres@127.0.0.1:{proxy.port}/pgpipe?sslmode=disable"
        with pgpipe.connect(dsn) as conn:
            with (
                pytest.raises(errors.OperationalError),
                conn.copy(f"COPY {table} (a) FROM STDIN") as copy,
            ):
                for i in range(1_000_000):
                    copy.write_row((i,))
                    if i == 1000:
                        proxy.sever()
            assert conn.closed
            assert conn.closed_reason


def test_dbapi_cursor_copy(dsn: str, table: str) -> None:
    import pgpipe.dbapi

    with pgpipe.dbapi.connect(dsn) as conn:
        cur = conn.cursor()
        with cur.copy(f"COPY {table} (a, b) FROM STDIN") as copy:
            copy.write_row((1, "in a transaction"))
        assert cur.rowcount == 1
        conn.rollback()
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (0,)


def test_memory_stays_bounded(dsn: str, table: str) -> None:
    """256 MiB through COPY in a child process: its peak RSS grows by under 32 MiB."""
    script = textwrap.dedent(
        f"""
        import pgpipe

        def peak_kib():  # this process's own high-water mark (ru_maxrss keeps the parent's)
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

        conn = pgpipe.connect({dsn!r})
        conn.query("SELECT 1")
        before = peak_kib()
        line = b"1\\t" + b"x" * 1000 + b"\\n"
        chunk = line * 64
        with conn.copy("COPY {table} (a, b) FROM STDIN") as copy:
            for _ in range(256 * 1024 * 1024 // len(chunk)):
                copy.write(chunk)
        with conn.copy("COPY {table} TO STDOUT") as copy:
            size = sum(len(data) for data in copy)
        after = peak_kib()
        print(size, (after - before) // 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    size, grown_mib = map(int, out.stdout.split())
    assert size >= 256 * 1024 * 1024 * 0.9
    assert grown_mib < 32, f"peak RSS grew by {grown_mib} MiB"


# -- asyncio -------------------------------------------------------------------------------


def test_async_copy_in_and_out(dsn: str, table: str) -> None:
    async def records() -> Any:
        for row in ROWS:
            yield row

    async def main() -> None:
        async with await pgpipe.connect_async(dsn) as conn:
            assert await conn.copy_records_to_table(table, records()) == f"COPY {len(ROWS)}"
            async with conn.copy(f"COPY {table} TO STDOUT (FORMAT csv)") as copy:
                copy.set_types([Type.INT4, Type.TEXT, Type.FLOAT8, Type.TIMESTAMPTZ])
                assert sorted([row async for row in copy.rows()], key=lambda r: r[0]) == ROWS
            async with conn.copy(f"COPY {table} (a) FROM STDIN") as copy:
                await copy.write("100\n101\n")
            assert copy.status == "COPY 2"

    asyncio.run(main())


def test_async_task_cancelled_mid_copy(dsn: str, table: str) -> None:
    async def main() -> None:
        async with await pgpipe.connect_async(dsn) as conn:

            async def copy_forever() -> None:
                async with conn.copy(f"COPY {table} (a, b) FROM STDIN") as copy:
                    i = 0
                    while True:
                        await copy.write_row((i, "x" * 100))
                        i += 1

            task = asyncio.create_task(copy_forever())
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            if not conn.closed:
                assert (await conn.query("SELECT 8")).rows == [(8,)]
        assert content(dsn, table) == []

    asyncio.run(main())


@pytest.mark.session_state("a temporary table")
def test_copy_types_round_trip_binary(dsn: str) -> None:
    values = (
        True,
        2**40,
        decimal.Decimal("12.345"),
        b"\x00\xff",
        dt.date(2024, 2, 29),
        uuid.UUID(int=7),
        {"k": [1, 2]},
        [1, 2, 3],
    )
    types = [
        Type.BOOL,
        Type.INT8,
        Type.NUMERIC,
        Type.BYTEA,
        Type.DATE,
        Type.UUID,
        Type.JSONB,
        Type.INT4_ARRAY,
    ]
    with pgpipe.connect(dsn) as conn:
        conn.execute(
            "CREATE TEMP TABLE many (a bool, b int8, c numeric, d bytea, e date, f uuid, "
            "g jsonb, h int4[])"
        )
        with conn.copy("COPY many FROM STDIN (FORMAT binary)") as copy:
            copy.set_types(types)
            copy.write_row(values)
        assert conn.query("SELECT * FROM many").rows == [values]
        with conn.copy("COPY many TO STDOUT (FORMAT binary)") as copy:
            copy.set_types(types)
            assert list(copy.rows()) == [values]


def test_ctrl_c_mid_copy(dsn: str, table: str) -> None:
    import os
    import signal
    import threading

    with pgpipe.connect(dsn) as conn:
        interrupter = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        interrupter.start()
        with (
            pytest.raises(KeyboardInterrupt),
            conn.copy(f"COPY {table} (a, b) FROM STDIN") as copy,
        ):
            i = 0
            while True:
                copy.write_row((i, "y" * 100))
                i += 1
        interrupter.join()
        if not conn.closed:
            assert conn.query("SELECT 9").rows == [(9,)]
    assert content(dsn, table) == []


def test_cancel_mid_copy_out(dsn: str) -> None:
    import threading

    with pgpipe.connect(dsn) as conn:
        canceller = threading.Timer(0.3, conn.cancel)
        canceller.start()
        with (
            pytest.raises(pgpipe.QueryCanceled),
            conn.copy(
                "COPY (SELECT g, pg_sleep(0.001) FROM generate_series(1, 100000) g) TO STDOUT"
            ) as copy,
        ):
            for _ in copy:
                pass
        canceller.join()
        assert conn.query("SELECT 10").rows == [(10,)]
