"""One operation run to its end, and the rule for timeouts and interruptions.

Sans-IO: the adapters ask ``Run.step(now)`` what to do next (read from the
server, send a CancelRequest, or nothing more), do it, and report back what
happened: time passing (``now``), an exception from their I/O (``fail``), an
interruption (``interrupt``: Ctrl-C in the blocking adapter, task
cancellation in the asyncio one). Every decision about what a timeout or an
interruption does to the connection is taken here, with time as an input, so
both adapters follow one rule and tests can drive it with a fake clock:

- Past the deadline, a statement is cancelled: a CancelRequest goes out, then
  its answers are read to their end within ``cancel_timeout``. The caller gets
  ``QueryTimeout`` and the connection stays usable, unless the cancel could
  not be sent or the server did not end the statement in time: then it is
  closed, saying why.
- An interruption while the command is still being sent (an unknown part of
  it went out), or during the startup, closes the connection. Otherwise the
  statement is cancelled as for a timeout, and the interruption raised once
  the connection is back in sync. A second interruption meanwhile closes it.
- Any other failure closes the connection: a lost connection raises
  ``OperationalError``, anything else is raised as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Generic, TypeVar

from pgpipe import errors
from pgpipe._operations import Operation, Startup
from pgpipe.protocol.events import NEED_DATA

if TYPE_CHECKING:
    from pgpipe._session import Session

_Op = TypeVar("_Op", bound=Operation)

# What ``Run.step`` asks the adapter to do.
RECEIVE: Final = 1
"""Send what the session queued, then wait (until ``Run.deadline``) for bytes
from the server and give them to the session."""
CANCEL: Final = 2
"""Send a CancelRequest on a new connection (until ``Run.deadline``), then
call ``Run.cancel_sent``."""
DONE: Final = 3
"""Nothing more: close the connection if ``close_reason`` says so, then
``outcome()`` gives the operation or raises."""

# Phases of a run.
_RUNNING: Final = 0
_CANCELLING: Final = 1  # the CancelRequest is still to be sent
_DRAINING: Final = 2  # reading the cancelled statement's answers to their end
_ENDED: Final = 3


def interrupted(exc: BaseException) -> str:
    """Why an operation stopped half-way, for ``closed_reason``."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else f"interrupted by {type(exc).__name__}"


def _interruption(exc: BaseException) -> str:
    """Why a statement is being cancelled after an interruption."""
    if type(exc).__name__ == "CancelledError":  # asyncio's, without importing asyncio
        return "the task running the statement was cancelled"
    return f"interrupted by {type(exc).__name__}"


def lost(exc: OSError) -> str:
    """A socket error, as the reason a connection is closed."""
    return f"connection lost: {exc.strerror or exc}"


class Run(Generic[_Op]):
    """Runs ``op`` on ``session``: what to read, when to cancel, when to give up.

    ``deadline`` is when the statement times out (None: never), ``limit`` the
    timeout it came from (for messages), on the adapter's clock.
    """

    # No __slots__: the state a run rarely leaves has class defaults, so making one
    # (once per command) sets four attributes.
    close_reason: str | None = None
    """Set when the connection must be closed (the adapter does it)."""
    _phase: int = _RUNNING
    _why = ""  # why the statement is being cancelled
    _timed_out = False
    _finished = False  # op.finish() was called while draining
    _pending: BaseException | None = None  # raised by outcome()
    clean = True
    """Whether the run ended as it began: nothing to raise, nothing to close (the
    adapter then skips ``outcome()``)."""

    def __init__(
        self, session: Session, op: _Op, deadline: float | None = None, limit: float | None = None
    ) -> None:
        self.session = session
        self.op = op
        self.deadline = deadline
        self.limit = limit

    def step(self, now: float) -> int:
        """What to do next: RECEIVE, CANCEL or DONE."""
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            self._expire(now)
        phase = self._phase
        if phase == _ENDED:
            return DONE
        if phase == _CANCELLING:
            return CANCEL
        op = self.op
        core = self.session.core
        if not core.has_input():
            return RECEIVE  # as every step before the answer begins to arrive
        if phase == _RUNNING and op.take_answer(core):
            self.end()
            return DONE
        while True:
            if op.in_rows:
                bodies = core.next_row_bodies()
                if bodies:
                    op.feed_rows(bodies)
                    continue
            event = core.next_event()
            if event is NEED_DATA:
                return RECEIVE
            if op.feed(event):
                if phase == _DRAINING and not self._finished:
                    # A stream's portal is closed and read to its end too.
                    self._finished = True
                    if op.finish():
                        continue
                break
        self.end()
        return DONE

    def end(self) -> None:
        """The operation has its whole answer (the adapter took it, ``take_answer``):
        DONE, closing the connection if the session was closed meanwhile."""
        self._phase = _ENDED
        if not self.session.is_closed:
            return
        then = str(self.op.error) if self.op.error else "the server closed the connection"
        self._close(f"{self._why}; then {then}" if self._why else then)

    def _close(self, reason: str) -> None:
        self.clean = False
        self._phase = _ENDED
        if self.close_reason is None:
            self.close_reason = reason

    def _expire(self, now: float) -> None:
        phase = self._phase
        if phase == _RUNNING:
            if isinstance(self.op, Startup):
                self._close("timeout during startup")
                address = self.session.params.address()
                self._pending = errors.OperationalError(f"timeout connecting to {address}")
                return
            limit = self.limit if self.limit is not None else 0.0
            self._timed_out = True
            self._cancel(f"the statement timed out after {limit:g} s", now)
        elif phase in (_CANCELLING, _DRAINING):
            limit = self.session.params.cancel_timeout
            self._close(
                f"{self._why}; the server did not end the cancelled statement within "
                f"cancel_timeout ({limit:g} s)"
            )

    def _cancel(self, why: str, now: float) -> None:
        self.clean = False
        self._why = why
        self._phase = _CANCELLING
        self.deadline = now + self.session.params.cancel_timeout

    def cancel_sent(self) -> None:
        """The server took the CancelRequest: read the statement's answers to their end."""
        if self._phase == _CANCELLING:
            self._phase = _DRAINING

    def interrupt(self, exc: BaseException, sending: bool, now: float) -> None:
        """The caller was interrupted; ``sending`` when a send was under way."""
        if self._phase == _RUNNING and not sending and not isinstance(self.op, Startup):
            self._pending = exc
            self._cancel(_interruption(exc), now)
            return
        self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        """The adapter's I/O (or the core) raised ``exc``: the connection is closed."""
        phase = self._phase
        if phase in (_CANCELLING, _DRAINING):
            why = self._why
            if isinstance(exc, TimeoutError):
                self._expire(0.0)
            elif isinstance(exc, OSError | errors.Error):
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self._close(f"{why}; cancelling it failed: {reason}")
            else:
                self._close(f"{why}; then {interrupted(exc)}")
                self._pending = exc
            return
        if isinstance(exc, OSError):
            reason = lost(exc)
            self._close(reason)
            self._pending = errors.OperationalError(reason)
            return
        self._close(interrupted(exc))
        self._pending = exc

    def outcome(self) -> _Op:
        """The operation, once DONE; raises what the caller must see instead."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            if isinstance(pending, errors.OperationalError) and pending.__traceback__ is None:
                raise pending from None
            raise pending
        if self._timed_out:
            raise timeout_error(self._why, self.op, self.close_reason)
        return self.op


def timeout_error(why: str, op: Operation, closed_reason: str | None) -> errors.Error:
    """What a timed-out call raises, once the cancel was handled."""
    error, statements = op.outcome()
    in_sync = closed_reason is None
    if not in_sync:
        message = f"{why}; the connection is closed ({closed_reason})"
    elif statements > 1:  # a pipeline: each handle has its statement's outcome
        if why.startswith("the statement "):
            why = "the pipeline " + why.removeprefix("the statement ")
        if isinstance(error, errors.QueryCanceled):
            happened = "a statement was cancelled"
        elif error is None:
            happened = "every statement completed before the cancel reached the server"
        else:
            happened = f"a statement failed meanwhile ({error})"
        message = (
            f"{why}; {happened}: each handle says how its statement ended, "
            "and the connection is ready for the next one"
        )
    elif isinstance(error, errors.QueryCanceled):
        message = f"{why} and was cancelled; the connection is ready for the next one"
    elif error is None:
        message = (
            f"{why}; it completed before the cancel reached the server (its effects stand), "
            "and the connection is ready for the next one"
        )
    else:
        message = f"{why}; it failed meanwhile: {error}"
    fields = error.fields if isinstance(error, errors.DatabaseError) else None
    timeout = errors.QueryTimeout(message, closed=not in_sync, fields=fields)
    timeout.__cause__ = error
    return timeout
