"""A hook called after each command, for logging and tracing.

Set ``conn.query_hook`` (or pass ``query_hook=`` to ``connect``) to a function
taking a ``QueryEvent``: it is called once per command the connection runs
(a query, a script, an executemany, a prepared statement's run, a stream's
start, a pipeline's flight), after the answer arrived or the command failed.
With no hook set, nothing is measured or built: the cost is one attribute
test per command.

The event holds the SQL text and how many parameters it had, never their
values: parameters may be secrets. ``log_queries()`` is a ready hook that
writes each event to the ``logging`` module.

>>> events = []
>>> conn.query_hook = events.append  # doctest: +SKIP
>>> conn.query("SELECT $1::int", 1)  # doctest: +SKIP
>>> events[0].sql, events[0].param_count, events[0].rowcount  # doctest: +SKIP
('SELECT $1::int', 1, 1)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pgpipe._operations import Operation
from pgpipe.result import _tag_count

_LOG: Final = logging.getLogger("pgpipe.queries")


@dataclass(frozen=True, slots=True)
class QueryEvent:
    """One command, as the query hook sees it."""

    sql: str
    """The SQL text (for a pipeline, its statements' texts joined by ``;``)."""
    param_count: int
    """How many parameter values were sent with it (for executemany: per row)."""
    duration: float
    """Seconds from the call to its end (waiting for the connection included)."""
    rowcount: int | None
    """Rows returned or affected, from the command tag; None when unknown."""
    error: BaseException | None
    """What the call raised (the server's error, a timeout, ...), or None."""


QueryHook = Callable[[QueryEvent], None]


def event(
    sql: str, param_count: int, duration: float, op: Operation | None, error: BaseException | None
) -> QueryEvent:
    """The event for a command that ran as ``op`` (None when it never started)."""
    rowcount = None
    if op is not None:
        if error is None:
            error = op.error
        rowcount = _tag_count(getattr(op, "status", None))
    return QueryEvent(sql, param_count, duration, rowcount, error)


def log_queries(
    logger: logging.Logger | None = None, level: int = logging.DEBUG
) -> QueryHook:
    """A query hook writing each command to ``logger`` (default: "pgpipe.queries").

    Successful commands at ``level``, failed ones at WARNING, with the
    duration, the row count and the SQL text (never parameter values).
    """
    target = logger if logger is not None else _LOG

    def hook(event: QueryEvent) -> None:
        milliseconds = event.duration * 1000
        if event.error is not None:
            target.warning(
                "query failed after %.3f ms (%s params): %s: %s",
                milliseconds,
                event.param_count,
                event.sql,
                event.error,
            )
        elif target.isEnabledFor(level):
            target.log(
                level,
                "query took %.3f ms (%s params, %s rows): %s",
                milliseconds,
                event.param_count,
                event.rowcount,
                event.sql,
            )

    return hook
