"""The DB-API 2.0 compliance suite (dbapi20.py, from the dbapi-compliance
package) against ``pgpipe.dbapi``, and against ``pgpipe.dbapi_async`` driven
through a small blocking facade; its one test that drivers must write
themselves (``test_nextset``) is written here."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterator
from typing import Any

import dbapi20
import pytest

import pgpipe.dbapi
import pgpipe.dbapi_async
from pgpipe.testing import TemporaryPostgres


@pytest.fixture(autouse=True, scope="class")
def _server(request: pytest.FixtureRequest, pg_server: TemporaryPostgres) -> None:
    request.cls.connect_args = (pg_server.dsn(dbname="pgpipe"),)


class _Suite(dbapi20.DatabaseAPI20Test):  # type: ignore[misc]
    __test__ = False  # the suite runs through its subclasses
    opened: list[Any]

    def _connect(self) -> Any:
        # Some of the suite's tests leave their connection open: close them after.
        connection = super()._connect()
        self.opened.append(connection)
        return connection

    def setUp(self) -> None:
        self.opened = []

    def tearDown(self) -> None:
        super().tearDown()
        for connection in self.opened:
            connection.close()

    def test_nextset(self) -> None:
        # PostgreSQL functions cannot return two result sets, so the suite's
        # callproc-based version cannot apply; a multi-statement execute does.
        con = self._connect()
        try:
            cur = con.cursor()
            self.executeDDL1(cur)
            for sql in self._populate():
                cur.execute(sql)
            cur.execute(
                f"select count(*) from {self.table_prefix}booze; "
                f"select name from {self.table_prefix}booze"
            )
            assert cur.fetchone()[0] == len(self.samples)
            assert cur.nextset()
            assert len(cur.fetchall()) == len(self.samples)
            assert cur.nextset() is None
        finally:
            con.close()

    def test_non_idempotent_close(self) -> None:
        # Deliberately not as the suite has it (docs/dbapi.md): closing twice is
        # harmless, as in psycopg, sqlite3 and Python's own files (a ``with``
        # block closes what its body may have closed). Every other use of a
        # closed connection raises, as PEP 249 asks.
        con = self._connect()
        cur = con.cursor()
        con.close()
        con.close()
        self.assertRaises(self.driver.InterfaceError, con.cursor)
        self.assertRaises(self.driver.InterfaceError, con.commit)
        self.assertRaises(self.driver.InterfaceError, cur.execute, "select 1")

    def test_setoutputsize(self) -> None:
        # The suite leaves this one to drivers too: accepted and ignored here.
        con = self._connect()
        try:
            cur = con.cursor()
            cur.setoutputsize(1000)
            cur.setoutputsize(2000, 0)
            cur.execute("select 1")
            assert cur.fetchall() == [(1,)]
        finally:
            con.close()


class TestBlocking(_Suite):
    __test__ = True
    driver = pgpipe.dbapi


# -- the asyncio form, through a blocking facade ---------------------------------------


class _Loop:
    runner: asyncio.Runner | None = None

    @classmethod
    def run(cls, coroutine: Any) -> Any:
        if cls.runner is None:
            cls.runner = asyncio.Runner()
        return cls.runner.run(coroutine)


class _Cursor:
    def __init__(self, cursor: pgpipe.dbapi_async.AsyncCursor) -> None:
        self._cursor = cursor

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._cursor, name)
        if asyncio.iscoroutinefunction(value):
            return lambda *args, **kwargs: _Loop.run(value(*args, **kwargs))
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_cursor":
            object.__setattr__(self, name, value)
        else:
            setattr(self._cursor, name, value)

    def __iter__(self) -> Iterator[Any]:
        while True:
            row = _Loop.run(self._cursor.fetchone())
            if row is None:
                return
            yield row


class _Connection:
    def __init__(self, connection: pgpipe.dbapi_async.AsyncConnection) -> None:
        self._connection = connection

    def cursor(self, *args: Any, **kwargs: Any) -> _Cursor:
        return _Cursor(self._connection.cursor(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._connection, name)
        if asyncio.iscoroutinefunction(value):
            return lambda *args, **kwargs: _Loop.run(value(*args, **kwargs))
        return value


def _facade() -> types.ModuleType:
    module = types.ModuleType("pgpipe_dbapi_async_facade")
    for name in dir(pgpipe.dbapi_async):
        if not name.startswith("_"):
            setattr(module, name, getattr(pgpipe.dbapi_async, name))
    module.connect = lambda *args, **kwargs: _Connection(  # type: ignore[attr-defined]
        _Loop.run(pgpipe.dbapi_async.connect(*args, **kwargs))
    )
    return module


class TestAsyncio(_Suite):
    __test__ = True
    driver = _facade()
