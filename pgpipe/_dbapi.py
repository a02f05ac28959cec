"""What both DB-API modules share (``pgpipe.dbapi`` and ``pgpipe.dbapi_async``):
PEP 249's module globals, type objects and constructors, and how a result's
columns become ``cursor.description``. No I/O here."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Sequence
from typing import Final

from pgpipe import errors
from pgpipe._sql import quote_identifier
from pgpipe.result import Column
from pgpipe.types.oids import Type

apilevel: Final = "2.0"
threadsafety: Final = 2
"""Threads may share the module and connections (a connection runs one
statement at a time; another thread waits its turn), not cursors."""
paramstyle: Final = "pyformat"
"""``%s`` and ``%(name)s`` (``%%`` for a percent sign), as psycopg."""

Error = errors.Error
InterfaceError = errors.InterfaceError
DatabaseError = errors.DatabaseError
DataError = errors.DataError
OperationalError = errors.OperationalError
IntegrityError = errors.IntegrityError
InternalError = errors.InternalError
ProgrammingError = errors.ProgrammingError
NotSupportedError = errors.NotSupportedError


class Warning(Exception):  # PEP 249 names it so, over the builtin
    """PEP 249's Warning: pgpipe raises none (the server's warnings are notices,
    in ``connection.native.notices``)."""


class DBAPITypeObject:
    """A PEP 249 type object: equal to the type OID of every column of its kind
    (``cursor.description[i][1] == pgpipe.dbapi.NUMBER``)."""

    __slots__ = ("name", "oids")

    def __init__(self, name: str, *oids: int) -> None:
        self.name = name
        self.oids = frozenset(int(oid) for oid in oids)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return self.oids == other.oids
        return isinstance(other, int) and other in self.oids

    def __hash__(self) -> int:
        return hash(self.oids)

    def __repr__(self) -> str:
        return f"<DBAPITypeObject {self.name}>"


STRING: Final = DBAPITypeObject(
    "STRING", Type.TEXT, Type.VARCHAR, Type.BPCHAR, Type.NAME, Type.CHAR, Type.JSON, Type.JSONB
)
BINARY: Final = DBAPITypeObject("BINARY", Type.BYTEA)
NUMBER: Final = DBAPITypeObject(
    "NUMBER", Type.INT2, Type.INT4, Type.INT8, Type.FLOAT4, Type.FLOAT8, Type.NUMERIC, Type.OID
)
DATETIME: Final = DBAPITypeObject(
    "DATETIME",
    Type.DATE,
    Type.TIME,
    Type.TIMETZ,
    Type.TIMESTAMP,
    Type.TIMESTAMPTZ,
    Type.INTERVAL,
)
ROWID: Final = DBAPITypeObject("ROWID", Type.OID)

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> datetime.date:
    return datetime.date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:
    return datetime.time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:
    return datetime.datetime(*time.localtime(ticks)[:6])


Description = tuple[str, int, None, int | None, int | None, int | None, None]


def description(columns: Sequence[Column]) -> list[Description] | None:
    """PEP 249's 7-tuples of a result's columns: name, type_code (the type OID),
    display_size, internal_size, precision, scale, null_ok; None for a statement
    that returns no rows."""
    if not columns:
        return None
    return [_described(column) for column in columns]


def _described(column: Column) -> Description:
    size = column.type_size if column.type_size > 0 else None
    precision = scale = None
    modifier = column.type_modifier
    if column.type_oid == Type.NUMERIC and modifier >= 4:
        precision, scale = (modifier - 4) >> 16, (modifier - 4) & 0xFFFF
    elif column.type_oid in (Type.VARCHAR, Type.BPCHAR) and modifier >= 4:
        size = modifier - 4
    return (column.name, column.type_oid, None, size, precision, scale, None)


def rowcount(status_count: int | None, rows: int, has_columns: bool) -> int:
    """``cursor.rowcount``: the rows a statement returned or affected; -1 when unknown."""
    if has_columns:
        return rows
    return -1 if status_count is None else status_count


_FUNCTION_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")


def procedure_call(name: str, count: int) -> str:
    """``callproc``'s statement: the function's rows, its arguments as parameters.

    The name is written as given (so ``myfunc`` and ``MyFunc`` both find a
    function created as ``myfunc``, as in SQL); anything but a plain or
    schema-qualified name is refused, so it cannot carry other SQL.
    """
    if not isinstance(name, str) or _FUNCTION_NAME.fullmatch(name) is None:
        raise errors.ProgrammingError(
            f"callproc takes a function name (name or schema.name), not {name!r}: "
            "run anything else with execute()"
        )
    placeholders = ", ".join(f"${n}" for n in range(1, count + 1))
    return f"SELECT * FROM {name}({placeholders})"


def quoted_name(name: str) -> str:
    """A cursor's name as an SQL identifier."""
    return quote_identifier(name, "a cursor's name")
