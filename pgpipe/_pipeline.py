"""Pipelines, sans-IO: many commands in one flight, each answered in turn.

A ``Pipeline`` collects commands; running it stages them all (their values
encoded), queues their messages on the core, the first ones at once and the
rest as they are sent, and returns a ``Batch``, the one operation the
adapters drive.
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

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Generic, TypeVar

from pgpipe import errors
from pgpipe._compiled import mypyc_attr
from pgpipe._operations import Operation, Script, UnnamedQuery
from pgpipe._scan import check_count
from pgpipe._session import Session, paired
from pgpipe.protocol import events as ev
from pgpipe.result import Result
from pgpipe.rows import RowFactory

MODES: Final = ("independent", "atomic")
_FIRST_PART: Final = 256  # commands queued before the first write (one flight up to here)
_PART: Final = 256  # commands queued at a time after it

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
    """Feeds each event to the command it answers; done at the last ReadyForQuery.

    The commands were staged (their values encoded) before anything is
    queued; they are queued ``_FIRST_PART`` at first, then ``_PART`` at a time
    as the adapter sends, so the server starts on the first ones while the
    rest are built. An atomic batch whose statement failed queues no more
    of them (the server would skip them), only its Sync.
    """

    __slots__ = ("_atomic", "_index", "_ops", "_pending", "_skipped", "_staged", "_total")

    def __init__(
        self,
        session: Session,
        staged: list[Callable[[bool], Operation]],
        pending: list[Pending[object]],
        atomic: bool,
    ) -> None:
        super().__init__(session)
        self._staged = staged
        self._pending = pending
        self._total = len(staged)
        self._ops: list[Operation] = []
        self._atomic = atomic
        self._index = 0
        self._skipped: errors.Error | None = None  # why the rest of an atomic batch is
        session.produce(self._queue_parts())

    def _queue_parts(self) -> Iterator[None]:
        ops, pending, sync = self._ops, self._pending, not self._atomic
        part = _FIRST_PART
        for index, queue_one in enumerate(self._staged):
            if self._skipped is not None:
                pending[index]._error = self._skipped
                continue
            op = queue_one(sync)
            pending[index]._op = op
            ops.append(op)
            if len(ops) == part and index + 1 < self._total:
                part += _PART
                yield
        self._staged = []
        if self._atomic:
            self.session.core.send_sync()

    def feed(self, event: ev.Event) -> bool:
        ops = self._ops
        index = self._index
        if index == self._total:
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
        return index == self._total

    def feed_rows(self, bodies: list[bytes]) -> None:
        self._ops[self._index].feed_rows(bodies)

    def outcome(self) -> tuple[errors.Error | None, int]:
        found = [op.error for op in self._ops if op.error is not None]
        cancelled = [e for e in found if isinstance(e, errors.QueryCanceled)]
        return (cancelled or found or [None])[0], self._total

    def _abandon(self, start: int, error: errors.Error) -> None:
        """The commands from ``start`` on will not be answered: ``error`` for each
        (those not queued yet are not queued at all)."""
        for op in self._ops[start:]:
            op.error = error
        self._skipped = error
        self._index = self._total


@mypyc_attr(allow_interpreted_subclasses=True)
class Pipeline:
    """Commands queued to leave in one flight; see the module documentation."""

    __slots__ = ("_queued", "mode")

    def __init__(self, mode: object = "independent") -> None:
        if not isinstance(mode, str) or mode not in MODES:
            raise errors.InterfaceError(
                f"pipeline mode must be one of {', '.join(MODES)}, not {mode!r}"
            )
        self.mode: str = mode
        # Each command: what stages it on a session (see Session.staged_query), its handle.
        self._queued: list[
            tuple[Callable[[Session], Callable[[bool], Operation]], Pending[object]]
        ] = []

    def __repr__(self) -> str:
        return f"<pgpipe.Pipeline {self.mode} queued={len(self._queued)}>"

    def __len__(self) -> int:
        return len(self._queued)

    def query(
        self,
        sql: object,
        *params: object,
        param_types: Sequence[int] | None = None,
        row_factory: RowFactory[Any] | None = None,
    ) -> Pending[Result[Any]]:
        """Queue one statement (types inferred from the values, or stated by
        ``param_types``, as ``conn.query``)."""
        if param_types is not None:
            return self.query_with_param_types(
                sql, paired(params, param_types), row_factory=row_factory
            )
        check_count(sql, len(params))
        return self._add(lambda s: s.staged_query(sql, params, row_factory=row_factory), _result)

    def query_with_param_types(
        self,
        sql: object,
        params: Sequence[tuple[object, int]],
        *,
        row_factory: RowFactory[Any] | None = None,
    ) -> Pending[Result[Any]]:
        """Queue one statement with ``(value, pgpipe.Type.X)`` pairs."""
        if isinstance(params, Sequence) and not isinstance(params, str | bytes):
            check_count(sql, len(params))
        return self._add(
            lambda s: s.staged_query_with_param_types(sql, params, row_factory=row_factory),
            _result,
        )

    def execute(
        self, sql: object, *, row_factory: RowFactory[Any] | None = None
    ) -> Pending[list[Result[Any]]]:
        """Queue SQL text of several statements (independent pipelines only: a simple
        Query ends the implicit transaction, so it cannot be part of an atomic one)."""
        if self.mode == "atomic":
            raise errors.InterfaceError(
                "execute() cannot join an atomic pipeline (a simple Query has its own Sync); "
                "use query() for each statement"
            )
        return self._add(lambda s: s.staged_execute(sql, row_factory=row_factory), _results)

    def _add(
        self,
        stage: Callable[[Session], Callable[[bool], Operation]],
        get: Callable[[Operation], _T],
    ) -> Pending[_T]:
        pending: Pending[_T] = Pending(get)
        self._queued.append((stage, pending))  # type: ignore[arg-type]
        return pending

    def discard(self, why: str) -> None:
        """Drop the queued commands unsent: each handle raises PipelineAborted(why)."""
        queued, self._queued = self._queued, []
        error = errors.PipelineAborted(f"not sent: {why}")
        for _, pending in queued:
            pending._op, pending._error = None, error

    def _taken(self) -> Callable[[Session], Batch]:
        """Take the queued commands out: a function that queues them on a session and
        returns the batch reading their answers. It may be called again, on a new
        session (a pipelined connect that fell back to an ordinary one)."""
        queued, self._queued = self._queued, []
        if not queued:
            raise errors.InterfaceError("nothing is queued in the pipeline")
        return lambda session: self._queue_on(session, queued)

    def _queue_on(
        self,
        session: Session,
        queued: list[tuple[Callable[[Session], Callable[[bool], Operation]], Pending[object]]],
    ) -> Batch:
        """Stage every command, then queue the first of them; the batch that queues
        the rest as they are sent and reads the answers."""
        handles = [pending for _, pending in queued]
        for pending in handles:
            pending._op, pending._error = None, None
        staged: list[Callable[[bool], Operation]] = []
        try:
            for stage, _ in queued:
                staged.append(stage(session))
            return Batch(session, staged, handles, self.mode == "atomic")
        except BaseException as exc:
            # Nothing stays queued (the session takes back what was): a statement
            # that could not be staged raises its error, every other one says why
            # it was not sent.
            index = len(staged)
            what = f"statement {index + 1} of the pipeline" if index < len(handles) else "it"
            skipped = errors.PipelineAborted(
                f"not sent: {what} could not be queued ({exc.__class__.__name__}: {exc})"
            )
            for position, pending in enumerate(handles):
                pending._op, pending._error = None, exc if position == index else skipped
            raise


def _result(op: Operation) -> Result:
    if not isinstance(op, UnnamedQuery):
        raise TypeError(op)
    return op.result()


def _results(op: Operation) -> list[Result]:
    if not isinstance(op, Script):
        raise TypeError(op)
    return op.result()
