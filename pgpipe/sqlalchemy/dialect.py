"""The ``postgresql+pgpipe`` dialects: PostgreSQL's SQL from SQLAlchemy's
``PGDialect``, the connection work from ``pgpipe.dbapi`` (blocking) or
``pgpipe.dbapi_async`` (asyncio, through ``pgpipe.sqlalchemy._adapt``)."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from sqlalchemy import pool
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.postgresql import CITEXT, JSON, JSONB, ranges
from sqlalchemy.dialects.postgresql.base import (
    INTERVAL,
    PGCompiler,
    PGDialect,
    PGExecutionContext,
    PGIdentifierPreparer,
)
from sqlalchemy.dialects.postgresql.json import JSONPathType
from sqlalchemy.dialects.postgresql.pg_catalog import INT2VECTOR, OIDVECTOR
from sqlalchemy.engine import processors
from sqlalchemy.engine.interfaces import IsolationLevel
from sqlalchemy.engine.url import URL
from sqlalchemy.util import counter, update_copy

from pgpipe import errors
from pgpipe.types.oids import Type
from pgpipe.types.ranges import Range as PgpipeRange

log = logging.getLogger(__name__)

_FLOATS = frozenset({Type.FLOAT4, Type.FLOAT8})
_EXACT = frozenset({Type.NUMERIC, Type.INT2, Type.INT4, Type.INT8, Type.OID})

_ISOLATION_LEVELS: tuple[IsolationLevel, ...] = (
    "SERIALIZABLE",
    "READ UNCOMMITTED",
    "READ COMMITTED",
    "REPEATABLE READ",
)
_server_side_cursor_id = counter()

# Errors that end the session whatever the connection object says: SQLSTATE
# class 08 and the server's shutdowns and session timeouts (57P01-57P05).
_DISCONNECTS = (
    errors.ConnectionException,
    errors.AdminShutdown,
    errors.CrashShutdown,
    errors.CannotConnectNow,
    errors.IdleSessionTimeout,
)


# Parameters: pgpipe sends a str untyped (the server infers its type), an int
# as integer/bigint/numeric by its size, a date as date... SQLAlchemy's
# statements put a typed expression around most parameters anyway; a cast is
# rendered (``%(x)s::VARCHAR``) for the types where the server could not infer
# one from an untyped text, or would infer another: ``SELECT %(x)s``, JSON
# operands, ``col -> %(key)s`` (text or integer), NULLs of a known type.
class _String(sqltypes.String):
    render_bind_cast = True


class _JSON(JSON):
    render_bind_cast = True

    def result_processor(self, dialect: Any, coltype: object) -> None:
        return None  # pgpipe has decoded it (SQLAlchemy 2.0 would decode it again)


class _JSONB(JSONB):
    render_bind_cast = True

    def result_processor(self, dialect: Any, coltype: object) -> None:
        return None


class _JSONIntIndex(sqltypes.JSON.JSONIntIndexType):
    __visit_name__ = "json_int_index"
    render_bind_cast = True


class _JSONStrIndex(sqltypes.JSON.JSONStrIndexType):
    __visit_name__ = "json_str_index"
    render_bind_cast = True


class _Interval(INTERVAL):
    render_bind_cast = True


class _Date(sqltypes.Date):
    render_bind_cast = True


class _DateTime(sqltypes.DateTime):
    render_bind_cast = True


class _Time(sqltypes.Time):
    render_bind_cast = True


class _Integer(sqltypes.Integer):
    render_bind_cast = True


class _SmallInteger(sqltypes.SmallInteger):
    render_bind_cast = True


class _BigInteger(sqltypes.BigInteger):
    render_bind_cast = True


class _Boolean(sqltypes.Boolean):
    render_bind_cast = True


def _char_value(value: str | None) -> str | None:
    return "" if value == "\x00" else value


class _CHAR(sqltypes.CHAR):
    render_bind_cast = True

    """pgpipe reads an empty ``"char"`` (the catalogs' one-byte type, OID 18: attgenerated,
    attidentity...) as "" in text but "\\x00" in binary; SQLAlchemy's reflection
    takes "" for "none". A NUL is never a character of a text value, so this
    only maps that case (and only for OID 18, not for char(n))."""

    def result_processor(
        self, dialect: Any, coltype: object
    ) -> Callable[[str | None], str | None] | None:
        return _char_value if coltype == Type.CHAR else None


def _range_bound(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _range_literal(value: ranges.Range[Any]) -> str:
    """A SQLAlchemy Range as PostgreSQL's range text ("[1,5)"), each bound quoted."""
    if value.empty:
        return "empty"
    lower, upper = _range_bound(value.lower), _range_bound(value.upper)
    return f"{value.bounds[0]}{lower},{upper}{value.bounds[1]}"


def _bind_range(value: ranges.Range[Any] | None) -> str | None:
    return None if value is None else _range_literal(value)


def _bind_multirange(value: list[ranges.Range[Any]] | None) -> str | None:
    if value is None:
        return None
    return "{" + ",".join(_range_literal(item) for item in value) + "}"


def _sqlalchemy_range(value: PgpipeRange) -> ranges.Range[Any]:
    if value.empty:
        return ranges.Range(empty=True)
    bounds: Any = value.bounds
    return ranges.Range(value.lower, value.upper, bounds=bounds)


def _result_range(value: PgpipeRange | None) -> ranges.Range[Any] | None:
    return None if value is None else _sqlalchemy_range(value)


def _result_multirange(value: list[PgpipeRange] | None) -> ranges.MultiRange[Any] | None:
    if value is None:
        return None
    return ranges.MultiRange(_sqlalchemy_range(item) for item in value)


class _Range(ranges.AbstractSingleRangeImpl[Any]):
    """SQLAlchemy's Range to and from pgpipe: sent as range text, so the cast to
    the column's range type applies (pgpipe types a Range of ints as int8range,
    which has no cast to int4range); read from pgpipe's Range."""

    render_bind_cast = True

    def bind_processor(self, dialect: Any) -> Callable[[Any], str | None]:
        return _bind_range

    def result_processor(self, dialect: Any, coltype: object) -> Callable[[Any], Any]:
        return _result_range


class _MultiRange(ranges.AbstractMultiRangeImpl[Any]):
    render_bind_cast = True

    def bind_processor(self, dialect: Any) -> Callable[[Any], str | None]:
        return _bind_multirange

    def result_processor(self, dialect: Any, coltype: object) -> Callable[[Any], Any]:
        return _result_multirange


def _space_separated(value: str | None) -> list[int] | None:
    return None if value is None else [int(item) for item in value.split()]


class _INT2VECTOR(INT2VECTOR):
    """pgpipe returns int2vector as its text ("1 2"); the catalog queries want ints."""

    def result_processor(
        self, dialect: Any, coltype: object
    ) -> Callable[[str | None], list[int] | None]:
        return _space_separated


class _OIDVECTOR(OIDVECTOR):
    """pgpipe returns oidvector as its text ("23 25")."""

    def result_processor(
        self, dialect: Any, coltype: object
    ) -> Callable[[str | None], list[int] | None]:
        return _space_separated


def _numeric_result(asdecimal: bool, scale: int, coltype: object) -> Callable[[Any], Any] | None:
    """pgpipe returns numeric as Decimal and real/double precision as float:
    convert only where the SQLAlchemy type asks for the other."""
    if asdecimal:
        if coltype in _FLOATS:
            return processors.to_decimal_processor_factory(decimal.Decimal, scale)
        return None
    if coltype in _EXACT:
        to_float: Callable[[Any], Any] = processors.to_float
        return to_float
    return None


def _scale(numeric: _Numeric | _Float) -> int:
    """The digits a float is rounded to on its way to Decimal."""
    scale: int | None = numeric._effective_decimal_return_scale
    return scale if scale is not None else int(numeric._default_decimal_return_scale)


class _Numeric(sqltypes.Numeric):  # type: ignore[type-arg]
    def bind_processor(self, dialect: Any) -> None:
        return None  # Decimal, float and int go as they are

    def result_processor(self, dialect: Any, coltype: object) -> Callable[[Any], Any] | None:
        return _numeric_result(self.asdecimal, _scale(self), coltype)


class _Float(sqltypes.Float):  # type: ignore[type-arg]
    def bind_processor(self, dialect: Any) -> None:
        return None

    def result_processor(self, dialect: Any, coltype: object) -> Callable[[Any], Any] | None:
        return _numeric_result(self.asdecimal, _scale(self), coltype)


class PGExecutionContext_pgpipe(PGExecutionContext):
    def create_server_side_cursor(self) -> Any:
        # A name unique in the session: pgpipe DECLAREs it on the server.
        name = f"sqla_{id(self):x}_{_server_side_cursor_id():x}"
        return self._dbapi_connection.cursor(name)


class PGCompiler_pgpipe(PGCompiler):
    pass


class PGIdentifierPreparer_pgpipe(PGIdentifierPreparer):
    pass


def _server_version(number: int) -> tuple[int, ...]:
    """libpq's server version number (150004, 90624) as SQLAlchemy's tuple."""
    if number >= 100000:
        return (number // 10000, number % 10000)
    return (number // 10000, number // 100 % 100, number % 100)


def _integer(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise errors.InterfaceError(f"{key} in the URL must be an integer, not {text!r}") from None


def _seconds(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise errors.InterfaceError(f"{key} in the URL must be a number, not {text!r}") from None


def _flag(key: str, text: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise errors.InterfaceError(f"{key} in the URL must be true or false, not {text!r}")


# pgpipe's own options (keyword arguments, not libpq's text) that a URL can
# carry: its query string gives text, pgpipe.connect wants these types.
_OPTION_TYPES: dict[str, Callable[[str, str], object]] = {
    "statement_cache_size": _integer,
    "max_message_size": _integer,
    "command_timeout": _seconds,
    "cancel_timeout": _seconds,
    "pipeline_connect_fallback": _flag,
    "allow_unverified_pipelining": _flag,
}


def _host_and_port(item: str) -> tuple[str, str]:
    """``host:port``, ``[v6 address]:port`` or a bare host (an IPv6 address too)."""
    if item.startswith("["):
        name, _, rest = item[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else ""
    if item.count(":") == 1:
        name, _, port = item.partition(":")
        return name, port
    return item, ""


def connect_arguments(url: URL) -> dict[str, Any]:
    """pgpipe.connect's keyword arguments from a SQLAlchemy URL: the parts of the
    URL under libpq's names, and every query-string key as it is (sslmode,
    application_name, connect_timeout, statement_cache_size, target_session_attrs...).

    Several hosts: ``?host=a:5432&host=b:5433`` (SQLAlchemy's multihost form,
    as for psycopg), or libpq's own ``?host=a,b&port=5432,5433``.
    """
    params: dict[str, Any] = {}
    for key, value in url.query.items():
        text = ",".join(value) if isinstance(value, tuple) else value
        params[key] = _OPTION_TYPES[key](key, text) if key in _OPTION_TYPES else text
    hosts = url.query.get("host")
    if isinstance(hosts, tuple) or (isinstance(hosts, str) and ":" in hosts and "/" not in hosts):
        listed = hosts if isinstance(hosts, tuple) else tuple(hosts.split(","))
        names, ports = [], []
        for item in listed:
            name, port = _host_and_port(item)
            names.append(name)
            ports.append(port)
        params["host"] = ",".join(names)
        if any(ports):
            params["port"] = ",".join(ports)
    if url.host:
        params.setdefault("host", url.host)
    if url.port is not None:
        params.setdefault("port", url.port)
    if url.username is not None:
        params["user"] = url.username
    if url.password is not None:
        params["password"] = str(url.password)
    if url.database:
        params["dbname"] = url.database
    return params


class PGDialect_pgpipe(PGDialect):
    """``postgresql+pgpipe://``, blocking, over ``pgpipe.dbapi``."""

    driver = "pgpipe"
    supports_statement_cache = True
    supports_server_side_cursors = True
    default_paramstyle = "pyformat"
    supports_sane_multi_rowcount = True  # executemany's rowcount is the total
    # pgpipe decodes json/jsonb itself (pgpipe.types.set_json chooses how); it
    # takes SQLAlchemy's serialized text as an untyped parameter, cast to the
    # column's type.
    supports_native_json_serialization = False
    supports_native_json_deserialization = True
    dialect_injects_custom_json_deserializer = True
    supports_native_decimal = True
    # An INSERT of many rows with RETURNING becomes multi-VALUES batches
    # (insertmanyvalues, PGDialect's default); without RETURNING, executemany
    # is pgpipe's, one flight for all rows, so it stays executemany.
    use_insertmanyvalues = True
    use_insertmanyvalues_wo_returning = False

    execution_ctx_cls = PGExecutionContext_pgpipe
    statement_compiler = PGCompiler_pgpipe
    preparer = PGIdentifierPreparer_pgpipe

    colspecs = update_copy(
        PGDialect.colspecs,
        {
            sqltypes.String: _String,
            # citext is a String too, but a VARCHAR cast would compare case-sensitively.
            CITEXT: CITEXT,
            sqltypes.JSON: _JSON,
            JSON: _JSON,
            JSONB: _JSONB,
            sqltypes.JSON.JSONIntIndexType: _JSONIntIndex,
            sqltypes.JSON.JSONStrIndexType: _JSONStrIndex,
            # No cast: PostgreSQL's JSONPathType sends "{a,b}", which #> and #>>
            # take as text[] (a jsonpath cast would find no operator).
            sqltypes.JSON.JSONPathType: JSONPathType,
            sqltypes.Interval: _Interval,
            INTERVAL: _Interval,
            sqltypes.Date: _Date,
            sqltypes.DateTime: _DateTime,
            sqltypes.Time: _Time,
            sqltypes.Integer: _Integer,
            sqltypes.SmallInteger: _SmallInteger,
            sqltypes.BigInteger: _BigInteger,
            sqltypes.Boolean: _Boolean,
            sqltypes.Numeric: _Numeric,
            sqltypes.Float: _Float,
            sqltypes.CHAR: _CHAR,
            ranges.AbstractSingleRange: _Range,
            ranges.AbstractMultiRange: _MultiRange,
            INT2VECTOR: _INT2VECTOR,
            OIDVECTOR: _OIDVECTOR,
        },
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        if self._json_deserializer is not None:
            log.warning(
                "pgpipe decodes JSON itself: json_deserializer= is not used "
                "(pgpipe.types.set_json chooses the function)"
            )

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        import pgpipe.dbapi

        return pgpipe.dbapi

    @classmethod
    def get_async_dialect_cls(cls, url: URL) -> type[PGDialect]:
        return PGDialectAsync_pgpipe

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        return [], connect_arguments(url)

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:
        dbapi_connection = connection.connection.dbapi_connection
        return _server_version(dbapi_connection.native.info.server_version)

    def get_isolation_level_values(self, dbapi_connection: Any) -> Sequence[IsolationLevel]:
        return ("AUTOCOMMIT", *_ISOLATION_LEVELS)

    def set_isolation_level(self, dbapi_connection: Any, level: IsolationLevel) -> None:
        # Both take effect at the next transaction's BEGIN (pgpipe.dbapi sends it).
        if level == "AUTOCOMMIT":
            dbapi_connection.autocommit = True
            dbapi_connection.isolation_level = None
        else:
            dbapi_connection.autocommit = False
            dbapi_connection.isolation_level = level.lower()

    def get_isolation_level(self, dbapi_connection: Any) -> IsolationLevel:
        if dbapi_connection.autocommit:
            return "AUTOCOMMIT"
        idle = dbapi_connection.native.transaction_status == "I"
        level: IsolationLevel = super().get_isolation_level(dbapi_connection)  # type: ignore[no-untyped-call]
        if idle:
            # SHOW began a transaction (the next BEGIN is where settings apply):
            # end it so the connection is as it was.
            dbapi_connection.rollback()
        return level

    def detect_autocommit_setting(self, dbapi_conn: Any) -> bool:
        return bool(dbapi_conn.autocommit)

    def set_readonly(self, connection: Any, value: bool) -> None:
        connection.read_only = value

    def get_readonly(self, connection: Any) -> bool:
        return bool(connection.read_only)

    def set_deferrable(self, connection: Any, value: bool) -> None:
        connection.deferrable = value

    def get_deferrable(self, connection: Any) -> bool:
        return bool(connection.deferrable)

    def do_ping(self, dbapi_connection: Any) -> bool:
        # Straight on the native connection: a cursor would begin a transaction.
        dbapi_connection.native.execute("SELECT 1")
        return True

    def is_disconnect(self, e: Exception, connection: Any, cursor: Any) -> bool:
        if not isinstance(e, errors.Error):
            return False
        if isinstance(e, _DISCONNECTS):
            return True
        if connection is not None and getattr(connection, "closed", False):
            return True
        # A connection that closed under its cursor says so, whichever object
        # SQLAlchemy passes in.
        return isinstance(e, errors.InterfaceError | errors.OperationalError) and (
            "connection is closed" in str(e) or "closed the connection" in str(e)
        )


class PGDialectAsync_pgpipe(PGDialect_pgpipe):
    """``postgresql+pgpipe://`` under ``create_async_engine``, over ``pgpipe.dbapi_async``."""

    is_async = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> Any:
        from pgpipe.sqlalchemy._adapt import AsyncDBAPI

        return AsyncDBAPI()

    @classmethod
    def get_async_dialect_cls(cls, url: URL) -> type[PGDialect]:
        return cls

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # SQLAlchemy 2.1 chooses it from is_async; 2.0 asks the dialect.
        return pool.AsyncAdaptedQueuePool

    def do_ping(self, dbapi_connection: Any) -> bool:
        dbapi_connection.ping()
        return True

    def do_terminate(self, dbapi_connection: Any) -> None:
        dbapi_connection.terminate()

    def get_driver_connection(self, connection: Any) -> Any:
        return connection.driver_connection
