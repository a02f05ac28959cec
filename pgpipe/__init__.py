"""pgpipe: a pure-Python PostgreSQL driver that reaches the first result in the
fewest round trips the protocol allows.

>>> import pgpipe
>>> with pgpipe.connect("postgresql://app@localhost/app") as conn:  # doctest: +SKIP
...     conn.query_with_param_types("SELECT $1 + 1", [(41, pgpipe.Type.INT4)]).rows
[(42,)]
"""

from pgpipe._catalog import TypeInfo
from pgpipe._info import ConnectionInfo
from pgpipe._pipeline import Pending, Pipeline
from pgpipe._transaction import TransactionStatus
from pgpipe.aio import AsyncConnection, connect_async
from pgpipe.errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PipelineAborted,
    PoolClosed,
    PoolError,
    PoolTimeout,
    ProgrammingError,
    ProtocolError,
    QueryCanceled,
    QueryTimeout,
    TooManyRequests,
)
from pgpipe.pool import Pool
from pgpipe.pool_async import AsyncPool
from pgpipe.protocol.events import NotificationResponse as Notification
from pgpipe.result import Column, Result, Results
from pgpipe.sync import Connection, connect
from pgpipe.types import (
    Box,
    Circle,
    Interval,
    Json,
    Line,
    LineSegment,
    Path,
    Point,
    Polygon,
    Range,
    Type,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncConnection",
    "AsyncPool",
    "Box",
    "Circle",
    "Column",
    "Connection",
    "ConnectionInfo",
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "Interval",
    "Json",
    "Line",
    "LineSegment",
    "NotSupportedError",
    "Notification",
    "OperationalError",
    "Path",
    "Pending",
    "Pipeline",
    "PipelineAborted",
    "Point",
    "Polygon",
    "Pool",
    "PoolClosed",
    "PoolError",
    "PoolTimeout",
    "ProgrammingError",
    "ProtocolError",
    "QueryCanceled",
    "QueryTimeout",
    "Range",
    "Result",
    "Results",
    "TooManyRequests",
    "TransactionStatus",
    "Type",
    "TypeInfo",
    "connect",
    "connect_async",
]
