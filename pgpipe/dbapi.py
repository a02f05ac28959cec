# Generated from pgpipe/dbapi_async.py by tools/async_to_sync.py: edit that file instead.
"""PEP 249 (DB-API 2.0): pgpipe as the module pandas, SQLAlchemy and other
database code expect, with psycopg's ``pyformat`` parameters.

Generated from ``pgpipe.dbapi_async``, its asyncio form, which is the one
source of both (see tools/async_to_sync.py). Both sit on pgpipe's native
connection (``connection.native``), which stays available.

>>> conn = pgpipe.dbapi.connect("postgresql://app@db/app")  # doctest: +SKIP
>>> cur = conn.cursor()  # doctest: +SKIP
>>> cur.execute("SELECT %s + 1 AS n", (41,))  # doctest: +SKIP
>>> cur.fetchone()  # doctest: +SKIP
(42,)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from pgpipe import errors, sync
from pgpipe._dbapi import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    DatabaseError,
    DataError,
    Date,
    DateFromTicks,
    DBAPITypeObject,
    Description,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    Warning,
    apilevel,
    description,
    paramstyle,
    procedure_call,
    quoted_name,
    rowcount,
    threadsafety,
)
from pgpipe._pipeline import Pending
from pgpipe._pyformat import convert
from pgpipe._transaction import TransactionStatus, begin_statement
from pgpipe.result import Result
from pgpipe.rows import RowFactory

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DBAPITypeObject",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "ServerCursor",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]

Parameters = Sequence[object] | Mapping[str, object] | None


def connect(
    dsn: str | None = None,
    *,
    autocommit: bool = False,
    isolation_level: str | None = None,
    read_only: bool = False,
    deferrable: bool = False,
    row_factory: RowFactory[Any] | None = None,
    **params: Any,
) -> Connection:
    """Open a DB-API connection: arguments as for ``pgpipe.connect``, plus the
    transaction settings (see ``Connection``)."""
    native: sync.Connection[Any] = sync.connect(
        dsn, row_factory=row_factory, **params
    )
    conn = Connection(native)
    conn.autocommit = autocommit
    conn.isolation_level = isolation_level
    conn.read_only = read_only
    conn.deferrable = deferrable
    return conn


class Connection:
    """A PEP 249 connection over a pgpipe connection (``native``).

    Unless ``autocommit`` is set, the first statement after a ``commit()`` or
    ``rollback()`` begins a transaction, with ``isolation_level``
    ("read committed", "repeatable read", "serializable"), ``read_only`` and
    ``deferrable`` as they are then: the BEGIN goes in the same flight as
    the statement (one round trip). ``with`` commits when its block ends,
    rolls back when it raises, and closes the connection, as psycopg's does.
    """

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(self, native: sync.Connection[Any]) -> None:
        self.native = native
        """The pgpipe connection underneath: its whole API, for what PEP 249 lacks."""
        self._autocommit = False
        self.isolation_level: str | None = None
        self.read_only = False
        self.deferrable = False

    def __repr__(self) -> str:
        return f"<pgpipe.dbapi.{type(self).__name__} over {self.native!r}>"

    @property
    def autocommit(self) -> bool:
        """Whether each statement commits by itself (no implicit BEGIN)."""
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise errors.InterfaceError(f"autocommit is True or False, not {value!r}")
        if value and self.native.transaction_status != TransactionStatus.IDLE:
            raise errors.ProgrammingError(
                "autocommit cannot be set inside a transaction: commit() or rollback() first"
            )
        self._autocommit = value

    @property
    def closed(self) -> bool:
        return self.native.closed

    def cursor(
        self, name: str | None = None, *, row_factory: RowFactory[Any] | None = None
    ) -> Cursor:
        """A cursor; with ``name``, a server-side cursor (DECLARE ... CURSOR), whose
        rows are fetched ``itersize`` at a time."""
        self._check_open()
        if name is not None:
            return ServerCursor(self, name, row_factory)
        return Cursor(self, row_factory)

    def commit(self) -> None:
        """Commit the transaction in progress (nothing when there is none)."""
        self._check_open()
        if self.native.transaction_status != TransactionStatus.IDLE:
            self.native.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the transaction in progress (nothing when there is none)."""
        self._check_open()
        if self.native.transaction_status != TransactionStatus.IDLE:
            self.native.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection; a transaction in progress is rolled back by the server."""
        self.native.close()

    def _check_open(self) -> None:
        if self.native.closed:
            raise errors.InterfaceError(
                f"the connection is closed ({self.native.closed_reason})"
            )

    def _begin(self) -> str | None:
        """The BEGIN the next statement needs first, if any."""
        if self._autocommit or self.native.transaction_status != TransactionStatus.IDLE:
            return None
        return begin_statement(self.isolation_level, self.read_only, self.deferrable)

    def _run(
        self, sql: str, values: Sequence[object] | None, row_factory: RowFactory[Any] | None
    ) -> list[Result[Any]]:
        """Run ``sql`` (a script when ``values`` is None), after a BEGIN when one is due,
        in the same flight."""
        begin = self._begin()
        native = self.native
        if begin is None:
            if values is None:
                return native.execute(sql, row_factory=row_factory)
            return [native.query(sql, *values, row_factory=row_factory)]
        script: Pending[list[Result[Any]]] | None = None
        one: Pending[Result[Any]] | None = None
        with native.pipeline() as pipeline:
            pipeline.execute(begin)
            if values is None:
                script = pipeline.execute(sql, row_factory=row_factory)
            else:
                one = pipeline.query(sql, *values, row_factory=row_factory)
        if one is not None:
            return [one.result()]
        return script.result() if script is not None else []

    def _standard_strings(self) -> bool:
        return self.native.parameters.get("standard_conforming_strings") != "off"

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.closed:
                if exc is None:
                    self.commit()
                else:
                    self.rollback()
        finally:
            self.close()


class Cursor:
    """A PEP 249 cursor: its statement's rows are read whole, then fetched from memory."""

    arraysize = 1
    """How many rows ``fetchmany()`` returns when not told."""

    def __init__(
        self, connection: Connection, row_factory: RowFactory[Any] | None = None
    ) -> None:
        self.connection = connection
        self.row_factory = row_factory
        self._results: list[Result[Any]] = []
        self._index = 0
        self._rows: list[Any] = []
        self._pos = 0
        self._description: list[Description] | None = None
        self._rowcount = -1
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<pgpipe.dbapi.{type(self).__name__} {state}>"

    @property
    def description(self) -> list[Description] | None:
        """The columns of the current result (7-tuples), None when it has none."""
        return self._description

    @property
    def rowcount(self) -> int:
        """Rows the last statement returned or affected; -1 when unknown."""
        return self._rowcount

    @property
    def rownumber(self) -> int | None:
        """The index of the next row to fetch in the current result."""
        return self._pos if self._description is not None else None

    @property
    def lastrowid(self) -> None:
        """Always None: PostgreSQL tables have no row ids to report (use RETURNING)."""
        return None

    @property
    def closed(self) -> bool:
        return self._closed

    def _check(self) -> Connection:
        if self._closed:
            raise errors.InterfaceError("the cursor is closed")
        self.connection._check_open()
        return self.connection

    def _show(self, results: list[Result[Any]]) -> None:
        self._results, self._index = results, 0
        self._select(0)

    def _select(self, index: int) -> None:
        result = self._results[index] if index < len(self._results) else None
        if result is None:
            self._rows, self._pos, self._description, self._rowcount = [], 0, None, -1
            return
        self._rows, self._pos = result.rows, 0
        self._description = description(result.columns)
        self._rowcount = rowcount(result.rowcount, len(result.rows), bool(result.columns))

    def execute(self, operation: str, parameters: Parameters = None) -> Cursor:
        """Run one statement with ``%s`` or ``%(name)s`` parameters (one round trip,
        the BEGIN of an implicit transaction included); without parameters the
        text may hold several statements (``nextset()`` moves between them)."""
        connection = self._check()
        self._show([])
        if parameters is None:
            results = connection._run(operation, None, self.row_factory)
        else:
            sql, values = convert(operation, parameters, connection._standard_strings())
            results = connection._run(sql, values, self.row_factory)
        self._show(results)
        return self

    def executemany(
        self, operation: str, seq_of_parameters: Iterable[Parameters]
    ) -> None:
        """Run one statement once per set of parameters: one flight (after the BEGIN
        of an implicit transaction). ``rowcount`` is the total."""
        connection = self._check()
        self._show([])
        standard = connection._standard_strings()
        sql = None
        rows: list[tuple[object, ...]] = []
        for parameters in seq_of_parameters:
            converted, values = convert(operation, parameters, standard)
            if sql is not None and converted != sql:
                raise errors.ProgrammingError(
                    "executemany: every set of parameters must fill the same placeholders"
                )
            sql = converted
            rows.append(values)
        if sql is None:
            self._rowcount = 0
            return
        begin = connection._begin()
        if begin is not None:
            connection.native.execute(begin)
        results = connection.native.executemany(sql, rows, row_factory=self.row_factory)
        self._show([])
        self._rowcount = results.rowcount if results.rowcount is not None else -1

    @contextmanager
    def copy(self, sql: str) -> Iterator[sync.Copy]:
        """``COPY ... FROM STDIN`` / ``TO STDOUT`` as the connection's ``copy()``
        block (see docs/copy.md), inside the implicit transaction: a later
        ``rollback()`` undoes it. ``rowcount`` is the rows copied."""
        connection = self._check()
        self._show([])
        begin = connection._begin()
        if begin is not None:
            connection.native.execute(begin)
        with connection.native.copy(sql) as copy:
            yield copy
        self._rowcount = copy.rowcount

    def callproc(
        self, procname: str, parameters: Sequence[object] = ()
    ) -> Sequence[object]:
        """Call a function with ``parameters``; its rows are the result. Returns the
        parameters unchanged (PostgreSQL functions have no OUT-by-reference
        arguments to write back)."""
        connection = self._check()
        values = tuple(parameters)
        sql = procedure_call(procname, len(values))
        self._show(connection._run(sql, values, self.row_factory))
        return parameters

    def nextset(self) -> bool | None:
        """Move to the next statement's result of a multi-statement ``execute``;
        None when there is none."""
        self._check()
        if self._index + 1 >= len(self._results):
            return None
        self._index += 1
        self._select(self._index)
        return True

    def fetchone(self) -> Any:
        """The next row, or None when there are no more."""
        rows = self._fetch(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        """The next ``size`` rows (default ``arraysize``), fewer at the end."""
        return self._fetch(self.arraysize if size is None else size)

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        return self._fetch(None)

    def _fetch(self, size: int | None) -> list[Any]:
        self._check()
        if self._description is None:
            raise errors.ProgrammingError("the last statement returned no rows to fetch")
        start = self._pos
        end = len(self._rows) if size is None else min(start + max(size, 0), len(self._rows))
        self._pos = end
        return self._rows[start:end]

    def _remaining(self) -> list[Any]:
        """Every row not yet fetched, taken at once without awaiting (a plain
        cursor's rows are all in memory): for adapters that must not switch."""
        rows = self._rows[self._pos :]
        self._pos = len(self._rows)
        return rows

    def setinputsizes(self, sizes: object) -> None:
        """Accepted and ignored: pgpipe types parameters from their values."""

    def setoutputsize(self, size: object, column: object = None) -> None:
        """Accepted and ignored: values come whole."""

    def close(self) -> None:
        """Close the cursor: it can fetch no more (closing twice is harmless)."""
        self._closed = True
        self._rows, self._results = [], []

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> Any:
        rows = self._fetch(1)
        if not rows:
            raise StopIteration
        return rows[0]

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ServerCursor(Cursor):
    """A named, server-side cursor (``connection.cursor("name")``): the statement
    is DECLAREd on the server and its rows FETCHed ``itersize`` at a time, so a
    result of any size takes bounded memory. Outside autocommit it lives in
    the transaction; with autocommit it is declared WITH HOLD."""

    itersize = 2000
    """How many rows each FETCH asks for while iterating."""

    def __init__(
        self, connection: Connection, name: str, row_factory: RowFactory[Any] | None
    ) -> None:
        super().__init__(connection, row_factory)
        self.name = name
        self._quoted = quoted_name(name)
        self._declared = False
        self._exhausted = False
        self._fetched = 0

    def execute(self, operation: str, parameters: Parameters = None) -> Cursor:
        """DECLARE the cursor for ``operation``, and learn its columns (one round trip)."""
        connection = self._check()
        self._close_declared()
        sql, values = (
            (operation, ())
            if parameters is None
            else convert(operation, parameters, connection._standard_strings())
        )
        hold = " WITH HOLD" if connection.autocommit else ""
        declare = f"DECLARE {self._quoted} NO SCROLL CURSOR{hold} FOR {sql}"
        begin = connection._begin()
        native = connection.native
        with native.pipeline() as pipeline:
            if begin is not None:
                pipeline.execute(begin)
            declared = pipeline.query(declare, *values)
            probe = pipeline.query(f"FETCH FORWARD 0 FROM {self._quoted}")
        declared.result()
        self._declared, self._exhausted, self._fetched = True, False, 0
        columns = probe.result().columns
        self._rows, self._pos = [], 0
        self._description = description(columns)
        self._rowcount = -1 if self._description is not None else 0
        return self

    def executemany(
        self, operation: str, seq_of_parameters: Iterable[Parameters]
    ) -> None:
        raise errors.NotSupportedError("executemany on a server-side cursor: use cursor()")

    def _fetch(self, size: int | None) -> list[Any]:
        self._check()
        if not self._declared:
            raise errors.ProgrammingError("execute() the server-side cursor first")
        want = None if size is None else max(size, 0)
        out: list[Any] = []
        while want is None or len(out) < want:
            if self._pos >= len(self._rows):
                if self._exhausted:
                    break
                count = self.itersize if want is None else max(want - len(out), self.itersize)
                self._fetch_more(count)
                continue
            take = len(self._rows) - self._pos
            if want is not None:
                take = min(take, want - len(out))
            out.extend(self._rows[self._pos : self._pos + take])
            self._pos += take
        return out

    def _fetch_more(self, count: int) -> None:
        native = self.connection.native
        result = native.query(
            f"FETCH FORWARD {int(count)} FROM {self._quoted}", row_factory=self.row_factory
        )
        self._rows, self._pos = result.rows, 0
        self._fetched += len(result.rows)
        self._rowcount = self._fetched
        if len(result.rows) < count:
            self._exhausted = True

    def _close_declared(self) -> None:
        if not self._declared:
            return
        self._declared = False
        native = self.connection.native
        if not native.closed and native.transaction_status != TransactionStatus.FAILED:
            native.execute(f"CLOSE {self._quoted}")

    def close(self) -> None:
        """CLOSE the cursor on the server (when its transaction still stands)."""
        if not self._closed:
            self._close_declared()
        super().close()
