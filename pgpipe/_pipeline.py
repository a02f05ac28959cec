"""Pipelines, sans-IO: many commands in one flight, each answered in turn.

A ``Pipeline`` collects commands; running it queues all their messages on the
core at once and returns a ``Batch``, the one operation the adapters drive.
The batch hands each event to the command it answers, in order. Two modes:

- ``"independent"``: every command ends with its own Sync. Each runs in its
  own implicit transaction (or inside the caller's explicit one), and a
  failing command does not stop the others.
- ``"atomic"``: one Sync ends the whole batch. The commands share one
  implicit transaction: after the first error the server skips the rest
  (their handles raise ``PipelineAborted``) and nothing is committed.

Inside an explicit transaction (BEGIN ... COMMIT) both behave as PostgreSQL
defines: the first error fails the transaction, and later commands fail
with InFailedSqlTransaction (independent) or are skipped (atomic).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Generic, TypeVar

from pgpipe import errors
from pgpipe._session import Operation, Script, Session, UnnamedQuery
from pgpipe.protocol import events as ev
from pgpipe.result import Result

MODES: Final = ("independent", "atomic")

_T = TypeVar("_T")


class Pending(Generic[_T]):
    """The handle of one command in a pipeline: its result once the pipeline ran."""

    __slots__ = ("_error", "_get", "_op")

    def __init__(self, get: Callable[[Operation], _T]) -> None:
        self._op: Operation | None = None
        self._error: BaseException | None = None  # when the batch could not be queued
        self._get = get

    def __repr__(self) -> str:
        state = "failed" if self._error is not None else "pending" if self._op is None else "done"
        return f"<pgpipe.Pending {state}>"

    @property
    def done(self) -> bool:
        return self._op is not None or self._error is not None

    def result(self) -> _T:
        """The command's result, or the error it met (PipelineAborted when skipped)."""
        if self._error is not None:
            raise self._error
        if self._op is None:
            raise errors.InterfaceError(
                "the pipeline has not run yet: results are there after it is flushed "
                "(at the end of its with block, or by flush())"
            )
        return self._get(self._op)


class Batch(Operation):
    """Feeds each event to the command it answers; done at the last ReadyForQuery."""

    __slots__ = ("_atomic", "_index", "_ops")

    def __init__(self, session: Session, ops: list[Operation], atomic: bool) -> None:
        super().__init__(session)
        self._ops = ops
        self._atomic = atomic
        self._index = 0

    def feed(self, event: ev.Event) -> bool:
        ops = self._ops
        index = self._index
        if index == len(ops):
            # Atomic: every command has ended; the batch's Sync answers last.
            if isinstance(event, ev.ReadyForQuery):
                return True
            return self._common(event)
        op = ops[index]
        if not op.feed(event):
            self.in_rows = op.in_rows
            return False
        self.in_rows = False
        index += 1
        self._index = index
        if self.session.is_closed:
            self._abandon(
                index,
                errors.OperationalError("the connection closed before this statement was answered"),
            )
            return True
        if self._atomic:
            if op.error is not None:
                self._abandon(
                    index,
                    errors.PipelineAborted(
                        "skipped: an earlier statement in the atomic pipeline failed "
                        f"({op.error.__class__.__name__}: {op.error})"
                    ),
                )
            return False
        return index == len(ops)

    def feed_rows(self, rows: list[tuple[bytes | None, ...]]) -> None:
        self._ops[self._index].feed_rows(rows)

    def outcome(self) -> tuple[errors.Error | None, int]:
        found = [op.error for op in self._ops if op.error is not None]
        cancelled = [e for e in found if isinstance(e, errors.QueryCanceled)]
        return (cancelled or found or [None])[0], len(self._ops)

    def _abandon(self, start: int, error: errors.Error) -> None:
        for op in self._ops[start:]:
            op.error = error
        self._index = len(self._ops)


class Pipeline:
    """Commands queued to leave in one flight; see the module documentation."""

    __slots__ = ("_queued", "mode")

    def __init__(self, mode: str = "independent") -> None:
        if mode not in MODES:
            raise errors.InterfaceError(
                f"pipeline mode must be one of {', '.join(MODES)}, not {mode!r}"
            )
        self.mode = mode
        self._queued: list[tuple[Callable[[Session, bool], Operation], Pending[object]]] = []

    def __repr__(self) -> str:
        return f"<pgpipe.Pipeline {self.mode} queued={len(self._queued)}>"

    def __len__(self) -> int:
        return len(self._queued)

    def query(self, sql: str, *params: object) -> Pending[Result]:
        """Queue one statement (types inferred from the values, as ``conn.query``)."""
        return self._add(lambda s, sync: s.query(sql, params, sync), _result)

    def query_with_param_types(
        self, sql: str, params: Sequence[tuple[object, int]]
    ) -> Pending[Result]:
        """Queue one statement with ``(value, pgpipe.Type.X)`` pairs."""
        return self._add(lambda s, sync: s.query_with_param_types(sql, params, sync), _result)

    def execute(self, sql: str) -> Pending[list[Result]]:
        """Queue SQL text of several statements (independent pipelines only: a simple
        Query ends the implicit transaction, so it cannot be part of an atomic one)."""
        if self.mode == "atomic":
            raise errors.InterfaceError(
                "execute() cannot join an atomic pipeline (a simple Query has its own Sync); "
                "use query() for each statement"
            )
        return self._add(lambda s, sync: s.execute(sql), _results)

    def _add(
        self, make: Callable[[Session, bool], Operation], get: Callable[[Operation], _T]
    ) -> Pending[_T]:
        pending: Pending[_T] = Pending(get)
        self._queued.append((make, pending))  # type: ignore[arg-type]
        return pending

    def take(self, session: Session) -> Batch:
        """Queue every command's messages on the core; the batch that reads the answers."""
        queued, self._queued = self._queued, []
        if not queued:
            raise errors.InterfaceError("nothing is queued in the pipeline")
        atomic = self.mode == "atomic"
        ops: list[Operation] = []
        try:
            for make, pending in queued:
                op = make(session, not atomic)
                pending._op = op
                ops.append(op)
        except BaseException as exc:
            # Nothing is sent (the session puts back what was queued): the
            # failing statement's handle raises its error, the others say why.
            index = len(ops)
            skipped = errors.PipelineAborted(
                f"not sent: statement {index + 1} of the pipeline could not be queued "
                f"({exc.__class__.__name__}: {exc})"
            )
            for position, (_, pending) in enumerate(queued):
                pending._op = None
                pending._error = exc if position == index else skipped
            raise
        if atomic:
            session.core.send_sync()
        return Batch(session, ops, atomic)


def _result(op: Operation) -> Result:
    if not isinstance(op, UnnamedQuery):
        raise TypeError(op)
    return op.result()


def _results(op: Operation) -> list[Result]:
    if not isinstance(op, Script):
        raise TypeError(op)
    return op.result()
