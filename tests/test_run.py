"""The timeout, cancel, drain and close rule (pgpipe._run), without a server.

A fake clock and scripted server bytes drive ``Run`` the way both adapters
do: ask ``step(now)``, then receive bytes, send a CancelRequest, or stop.
"""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgpipe import errors
from pgpipe._operations import Operation
from pgpipe._run import CANCEL, DONE, RECEIVE, Run
from pgpipe._session import Session
from pgpipe.conninfo import parse_dsn
from tests import wire

CANCEL_TIMEOUT = 5.0


def connected() -> Session:
    """A session past its startup (trust), fed scripted bytes."""
    params = parse_dsn(
        "host=127.0.0.1 user=app dbname=app sslmode=disable",
        {"cancel_timeout": CANCEL_TIMEOUT},
        {},
        None,
    )
    session = Session(params, "nonce")
    run = Run(session, session.startup(), deadline=10.0)
    assert run.step(0.0) == RECEIVE
    session.data_to_send()
    session.receive_data(wire.startup_ok())
    assert run.step(0.1) == DONE
    run.outcome().check()
    return session


SELECT_ONE = wire.one_shot_reply([[b"1"]], [("n", 23, 0)])
CANCELED = wire.error("57014", "canceling statement due to user request") + wire.ready("I")


def query(session: Session, deadline: float | None = 2.0) -> Run[Operation]:
    op: Operation = session.queue(lambda s: s.query("SELECT 1", ()))
    return Run(session, op, deadline, None if deadline is None else deadline)


def test_a_statement_answered_in_time_is_its_result() -> None:
    session = connected()
    run = query(session)
    assert run.step(0.0) == RECEIVE
    assert session.data_to_send()  # Parse/Bind/Describe/Execute/Close/Sync
    session.receive_data(SELECT_ONE)
    assert run.step(1.9) == DONE
    assert run.close_reason is None
    assert run.outcome().result().rows == [(1,)]  # type: ignore[attr-defined]


def test_past_the_deadline_the_statement_is_cancelled_and_the_connection_kept() -> None:
    session = connected()
    run = query(session)
    assert run.step(0.0) == RECEIVE
    session.data_to_send()
    assert run.step(1.0) == RECEIVE  # still waiting: no answer, before the deadline
    assert run.step(2.0) == CANCEL  # the deadline: send a CancelRequest
    assert run.deadline == 2.0 + CANCEL_TIMEOUT  # the drain gets cancel_timeout
    assert run.step(2.5) == CANCEL  # until the adapter says it went out
    run.cancel_sent()
    assert run.step(2.6) == RECEIVE
    session.receive_data(wire.PARSE_COMPLETE + wire.BIND_COMPLETE + CANCELED)
    assert run.step(3.0) == DONE
    assert run.close_reason is None
    with pytest.raises(errors.QueryTimeout, match="timed out after 2 s and was cancelled") as info:
        run.outcome()
    assert not info.value.closed
    assert isinstance(info.value.__cause__, errors.QueryCanceled)
    assert not session.is_closed


def test_a_statement_that_ends_before_the_cancel_arrives_says_its_effects_stand() -> None:
    session = connected()
    run = query(session)
    run.step(0.0)
    assert run.step(2.0) == CANCEL
    run.cancel_sent()
    session.receive_data(SELECT_ONE)
    assert run.step(2.1) == DONE
    with pytest.raises(errors.QueryTimeout, match="its effects stand"):
        run.outcome()
    assert run.close_reason is None


def test_a_server_that_does_not_end_the_cancelled_statement_costs_the_connection() -> None:
    session = connected()
    run = query(session)
    run.step(0.0)
    assert run.step(2.0) == CANCEL
    run.cancel_sent()
    assert run.step(2.0 + CANCEL_TIMEOUT - 0.01) == RECEIVE
    assert run.step(2.0 + CANCEL_TIMEOUT) == DONE
    assert run.close_reason is not None
    assert "did not end the cancelled statement within cancel_timeout (5 s)" in run.close_reason
    with pytest.raises(errors.QueryTimeout, match="the connection is closed") as info:
        run.outcome()
    assert info.value.closed


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "Connection refused"),
        (TimeoutError(), "did not end the cancelled statement"),
        (errors.OperationalError("TLS handshake failed"), "TLS handshake failed"),
    ],
)
def test_a_cancel_request_that_fails_closes_the_connection(
    failure: BaseException, reason: str
) -> None:
    session = connected()
    run = query(session)
    run.step(0.0)
    assert run.step(2.0) == CANCEL
    run.fail(failure)
    assert run.step(2.1) == DONE
    assert run.close_reason is not None and reason in run.close_reason
    with pytest.raises(errors.QueryTimeout) as info:
        run.outcome()
    assert info.value.closed


def test_an_interrupt_cancels_the_statement_then_is_raised_with_the_connection_in_sync() -> None:
    session = connected()
    run = query(session, deadline=None)
    run.step(0.0)
    session.data_to_send()
    interrupt = KeyboardInterrupt()
    run.interrupt(interrupt, sending=False, now=7.0)
    assert run.deadline == 7.0 + CANCEL_TIMEOUT
    assert run.step(7.0) == CANCEL
    run.cancel_sent()
    session.receive_data(wire.PARSE_COMPLETE + wire.BIND_COMPLETE + CANCELED)
    assert run.step(7.1) == DONE
    assert run.close_reason is None
    with pytest.raises(KeyboardInterrupt) as info:
        run.outcome()
    assert info.value is interrupt


def test_an_interrupt_while_sending_closes_the_connection() -> None:
    session = connected()
    run = query(session, deadline=None)
    run.step(0.0)
    run.interrupt(KeyboardInterrupt(), sending=True, now=1.0)
    assert run.step(1.0) == DONE
    assert run.close_reason == "interrupted by KeyboardInterrupt"
    with pytest.raises(KeyboardInterrupt):
        run.outcome()


def test_a_second_interrupt_while_draining_closes_the_connection() -> None:
    session = connected()
    run = query(session, deadline=None)
    run.step(0.0)
    run.interrupt(KeyboardInterrupt(), sending=False, now=1.0)
    assert run.step(1.0) == CANCEL
    run.cancel_sent()
    assert run.step(1.1) == RECEIVE
    second = KeyboardInterrupt()
    run.interrupt(second, sending=False, now=1.2)
    assert run.step(1.2) == DONE
    assert run.close_reason == (
        "interrupted by KeyboardInterrupt; then interrupted by KeyboardInterrupt"
    )
    with pytest.raises(KeyboardInterrupt) as info:
        run.outcome()
    assert info.value is second


def test_a_startup_past_its_deadline_closes_without_a_cancel() -> None:
    params = parse_dsn("host=127.0.0.1 user=app dbname=app sslmode=disable", {}, {}, None)
    session = Session(params, "nonce")
    run = Run(session, session.startup(), deadline=3.0)
    assert run.step(0.0) == RECEIVE
    assert run.step(3.0) == DONE  # never CANCEL: there is no statement to cancel yet
    assert run.close_reason == "timeout during startup"
    with pytest.raises(errors.OperationalError, match=r"timeout connecting to 127\.0\.0\.1"):
        run.outcome()


def test_a_lost_connection_closes_it_and_says_why() -> None:
    session = connected()
    run = query(session)
    run.step(0.0)
    run.fail(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"))
    assert run.step(0.1) == DONE
    assert run.close_reason == "connection lost: Connection reset by peer"
    with pytest.raises(errors.OperationalError, match="connection lost"):
        run.outcome()


def test_the_server_closing_mid_statement_closes_the_connection() -> None:
    session = connected()
    run = query(session)
    run.step(0.0)
    session.receive_data(wire.PARSE_COMPLETE)
    session.receive_data(b"")
    assert run.step(0.5) == DONE
    assert run.close_reason is not None
    assert run.outcome().error is not None


def test_a_cancelled_stream_closes_its_portal_before_it_is_in_sync() -> None:
    session = connected()
    op = session.queue(lambda s: s.stream("SELECT generate_series(1, 10)", (), 2))
    run = Run(session, op, 1.0, 1.0)
    assert run.step(0.0) == RECEIVE
    session.data_to_send()
    session.receive_data(
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.row_description([("n", 23, 0)])
        + wire.data_row([b"1"])
        + wire.data_row([b"2"])
        + wire.PORTAL_SUSPENDED
    )
    assert run.step(0.5) == DONE  # the first batch
    run = Run(session, op, 1.5, 1.0)
    op.more(2)
    assert run.step(1.0) == RECEIVE
    session.data_to_send()
    assert run.step(1.5) == CANCEL
    run.cancel_sent()
    # The server had finished the batch before the cancel arrived: the portal is
    # still open, so the run closes it (Close, Sync) and reads to ReadyForQuery.
    session.receive_data(wire.data_row([b"3"]) + wire.data_row([b"4"]) + wire.PORTAL_SUSPENDED)
    assert run.step(1.6) == RECEIVE
    sent = [kind for kind, _ in wire.split_frontend(session.data_to_send())]
    assert sent == [b"C", b"C", b"S"]  # Close the portal, Close the statement, Sync
    session.receive_data(wire.CLOSE_COMPLETE + wire.CLOSE_COMPLETE + wire.ready("I"))
    assert run.step(1.7) == DONE
    assert run.close_reason is None
    with pytest.raises(errors.QueryTimeout):
        run.outcome()


TICK = 0.25


@settings(max_examples=200, deadline=None)
@given(
    answer_at=st.integers(0, 80),
    cancel_answer_at=st.one_of(st.none(), st.integers(0, 40)),
    timeout=st.integers(1, 40),
    chunk=st.integers(1, 64),
)
def test_every_run_ends_as_the_clock_says(
    answer_at: int, cancel_answer_at: int | None, timeout: int, chunk: int
) -> None:
    """A server that answers at tick ``answer_at`` (or, once cancelled, with an
    error ``cancel_answer_at`` ticks after the cancel; never when None), in
    pieces of ``chunk`` bytes: the run ends with the rows when they came before
    the timeout, with QueryTimeout otherwise, the connection closed only when
    the cancel went unanswered for cancel_timeout; never a hang."""
    session = connected()
    run = query(session, deadline=timeout * TICK)
    tick = 0
    pending = b""
    cancelled_at: int | None = None
    for _ in range(10_000):
        step = run.step(tick * TICK)
        if step == DONE:
            break
        if step == CANCEL:
            cancelled_at = tick
            run.cancel_sent()
            continue
        session.data_to_send()
        if not pending:
            if cancelled_at is None and tick >= answer_at:
                pending = SELECT_ONE
            elif (
                cancelled_at is not None
                and cancel_answer_at is not None
                and tick >= cancelled_at + cancel_answer_at
            ):
                pending = wire.PARSE_COMPLETE + wire.BIND_COMPLETE + CANCELED
        if pending:
            session.receive_data(pending[:chunk])
            pending = pending[chunk:]
        else:
            tick += 1
    else:
        raise AssertionError("the run did not end")
    if answer_at < timeout:
        assert run.close_reason is None
        assert run.outcome().result().rows == [(1,)]  # type: ignore[attr-defined]
        return
    with pytest.raises(errors.QueryTimeout) as info:
        run.outcome()
    unanswered = cancel_answer_at is None or cancel_answer_at * TICK >= CANCEL_TIMEOUT
    assert info.value.closed is unanswered
    assert (run.close_reason is not None) is unanswered
