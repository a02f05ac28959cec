"""ProtocolConnection.next_answer: a one-packet query's whole answer taken at once.

The sans-IO tests check it against ``next_event`` on the same bytes: the
same outcome however the bytes are cut, damaged or interleaved with what
servers may slip in; the real-server tests check the adapters' results and
the connection's state after the answers it does not take.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import strategies as ps
from pgpipe.errors import ProtocolError
from pgpipe.protocol import NEED_DATA, ProtocolConnection, State, frontend
from pgpipe.protocol import events as ev
from pgpipe.protocol.backend import data_row_values
from pgpipe.testing import TemporaryPostgres
from tests import wire
from tests.test_protocol_core import drain, started

COLUMNS = [("a", 23, 0), ("b", 25, 0)]


def queued(named: bool = False) -> ProtocolConnection:
    """A core owing the answer to the one-packet query, or (``named``) to a run
    of a prepared statement: Bind, Describe, Execute, Sync."""
    core = started()
    send(core, named)
    return core


def send(core: ProtocolConnection, named: bool) -> None:
    if named:
        core.send_named_query("s1", [], [], [0])
    else:
        core.send_unnamed_query("SELECT a, b FROM t", [], [], [], [0])
    core.data_to_send()


def answer_bytes(messages: tuple[ps.BackendMessage, ...], named: bool) -> bytes:
    """A transcript's bytes; for a named statement's run, without the ParseComplete
    and CloseComplete it does not ask for."""
    if named:
        messages = tuple(
            m for m in messages if not isinstance(m, ps.ParseComplete | ps.CloseComplete)
        )
    return b"".join(ps.backend_bytes(m) for m in messages)


def test_a_select_is_taken_whole() -> None:
    core = queued()
    assert core.next_answer() is None  # nothing received yet
    core.receive_data(wire.one_shot_reply([[b"1", None], [b"2", b"x"]], COLUMNS))
    answer = core.next_answer()
    assert answer is not None
    fields, bodies, tag = answer
    assert fields is not None and [f.name for f in fields.fields] == ["a", "b"]
    assert [data_row_values(b) for b in bodies] == [(b"1", None), (b"2", b"x")]
    assert tag == "SELECT 2"
    assert core.state is State.READY and core.pending == 0
    assert core.transaction_status == "I"
    assert core.next_event() is NEED_DATA
    assert core.next_answer() is None  # nothing owed any more


@pytest.mark.parametrize(
    ("ending", "tag"),
    [(wire.command_complete("INSERT 0 3"), "INSERT 0 3"), (wire.EMPTY_QUERY, None)],
)
def test_no_data_answers(ending: bytes, tag: str | None) -> None:
    core = queued()
    core.receive_data(
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.NO_DATA
        + ending
        + wire.CLOSE_COMPLETE
        + wire.ready("T")
    )
    assert core.next_answer() == (None, [], tag)
    assert core.transaction_status == "T" and core.state is State.READY


def test_an_answer_still_arriving_is_taken_once_complete() -> None:
    core = queued()
    reply = wire.one_shot_reply([[b"1", None]], COLUMNS)
    for cut in range(1, len(reply)):
        core = queued()
        core.receive_data(reply[:cut])
        assert core.next_answer() is None
        core.receive_data(reply[cut:])
        answer = core.next_answer()
        assert answer is not None and answer[2] == "SELECT 1"
        assert core.state is State.READY and core.next_event() is NEED_DATA


def test_once_next_event_has_read_part_of_it_the_rest_is_events() -> None:
    core = queued()
    reply = wire.one_shot_reply([[b"1", None]], COLUMNS)
    core.receive_data(reply[:-1])
    assert core.next_answer() is None
    assert core.next_event() == ev.ParseComplete()
    core.receive_data(reply[-1:])
    assert core.next_answer() is None
    names = ["ParseComplete"] + [type(e).__name__ for e in drain(core)]
    assert names == [
        "ParseComplete",
        "BindComplete",
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "CloseComplete",
        "ReadyForQuery",
    ]
    assert core.state is State.READY


@pytest.mark.parametrize(
    "extra",
    [wire.notice(), wire.parameter_status("application_name", "x")],
    ids=["notice", "parameter status"],
)
def test_anything_else_among_the_messages_leaves_them_for_next_event(extra: bytes) -> None:
    core = queued()
    core.receive_data(
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + extra
        + wire.NO_DATA
        + wire.command_complete("SET")
        + wire.CLOSE_COMPLETE
        + wire.ready()
    )
    assert core.next_answer() is None
    events = drain(core)
    assert events[0] == ev.ParseComplete() and events[-1] == ev.ReadyForQuery("I")
    assert core.state is State.READY


def test_an_error_is_left_for_next_event() -> None:
    core = queued()
    core.receive_data(wire.PARSE_COMPLETE + wire.BIND_COMPLETE + wire.error() + wire.ready())
    assert core.next_answer() is None
    assert isinstance(drain(core)[2], ev.ErrorResponse)
    assert core.state is State.READY


def test_a_message_over_max_message_size_is_refused_as_by_next_event() -> None:
    core = started(max_message_size=100)
    core.send_unnamed_query("SELECT a", [], [], [], [0])
    core.receive_data(wire.one_shot_reply([[b"x" * 200]], [("a", 25, 0)]))
    assert core.next_answer() is None
    with pytest.raises(ProtocolError, match="over the limit of 100"):
        drain(core)


def test_two_queries_owed_are_not_taken_at_once() -> None:
    core = queued()
    core.send_unnamed_query("SELECT 2", [], [], [], [0])
    reply = wire.one_shot_reply([[b"1", None]], COLUMNS)
    core.receive_data(reply + reply)
    assert core.next_answer() is None
    assert sum(isinstance(e, ev.ReadyForQuery) for e in drain(core)) == 2


def test_a_bad_status_is_refused_by_next_event() -> None:
    core = queued()
    reply = wire.one_shot_reply([], COLUMNS)
    core.receive_data(reply[:-1] + b"X")
    assert core.next_answer() is None
    with pytest.raises(ProtocolError, match="transaction status"):
        drain(core)
    assert core.state is State.DEAD


def test_a_malformed_row_description_kills_the_connection() -> None:
    core = queued()
    core.receive_data(
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.msg(b"T", b"\x00\x01abc")
        + wire.command_complete("SELECT 0")
        + wire.CLOSE_COMPLETE
        + wire.ready()
    )
    with pytest.raises(ProtocolError):
        core.next_answer()
    assert core.state is State.DEAD
    with pytest.raises(ProtocolError, match="unusable"):
        core.next_answer()


# -- the same outcome as next_event ------------------------------------------------

Outcome = tuple[list[Any], str, State, str]


def fold(events: list[Any], named: bool = False) -> list[Any]:
    """Each run of events that is a whole one-packet answer (``named``: a whole
    answer to a named statement's run), as next_answer gives it."""
    out: list[Any] = []
    i = 0
    while i < len(events):
        answer = _answer_at(events, i, named)
        if answer is None:
            out.append(events[i])
            i += 1
        else:
            item, i = answer
            out.append(item)
    return out


def _answer_at(events: list[Any], i: int, named: bool) -> tuple[Any, int] | None:
    head = [ev.BindComplete()] if named else [ev.ParseComplete(), ev.BindComplete()]
    closing = [] if named else [ev.CloseComplete()]
    if events[i : i + len(head)] != head or len(events) < i + len(head) + 3 + len(closing):
        return None
    j = i + len(head)
    described = events[j]
    fields = described if isinstance(described, ev.RowDescription) else None
    if fields is None and described != ev.NoData():
        return None
    j += 1
    rows = []
    while fields is not None and j < len(events) and isinstance(events[j], ev.DataRow):
        rows.append(events[j].values)
        j += 1
    if j == len(events):
        return None
    ending = events[j]
    if isinstance(ending, ev.CommandComplete):
        tag: str | None = ending.tag
    elif ending == ev.EmptyQueryResponse():
        tag = None
    else:
        return None
    j += 1
    if events[j : j + len(closing)] != closing or len(events) < j + len(closing) + 1:
        return None
    j += len(closing)
    ready = events[j]
    if not isinstance(ready, ev.ReadyForQuery):
        return None
    return ("answer", fields, rows, tag, ready.status), j + 1


def replay(pieces: list[bytes], fast: bool, before: bytes = b"", named: bool = False) -> Outcome:
    """What a core makes of the answer to one query: the events (answers folded),
    and how it ends: "ok" or the error's type, its state, its transaction status.

    ``before``: the whole answer to the same query, run first on the same core
    (taken by next_answer when ``fast``, so the core knows its shape).
    ``named``: the query is a named statement's run (see ``queued``)."""
    core = queued(named)
    if before:
        core.receive_data(before)
        if fast:
            assert core.next_answer() is not None
        else:
            drain(core)
        send(core, named)
    seen: list[Any] = []
    try:
        for piece in pieces:
            core.receive_data(piece)  # b"" (a damaged answer cut to nothing): the end
            while True:
                if fast:
                    answer = core.next_answer()
                    if answer is not None:
                        fields, bodies, tag = answer
                        try:
                            rows = [data_row_values(b) for b in bodies]
                        except ProtocolError as exc:
                            raise core.fail(str(exc)) from None
                        seen.append(("answer", fields, rows, tag, core.transaction_status))
                        continue
                event = core.next_event()
                if event is NEED_DATA:
                    break
                seen.append(event)
                if isinstance(event, ev.ConnectionClosed):
                    break
        end = "ok"
    except ProtocolError:
        end = "ProtocolError"
    # A dead connection's last transaction status means nothing.
    status = core.transaction_status if end == "ok" else "-"
    return fold(seen, named), end, core.state, status


NAMED = pytest.mark.parametrize("named", [False, True], ids=["unnamed", "named"])


@NAMED
@settings(max_examples=300)
@given(ps.transcripts(), st.data())
def test_the_outcome_is_next_events_however_the_answer_is_cut(
    named: bool, transcript: tuple[tuple[ps.BackendMessage, ...], bytes], data: st.DataObject
) -> None:
    raw = answer_bytes(transcript[0], named)
    for pieces in ([raw], data.draw(ps.chunked(raw, max_pieces=6))):
        assert replay(pieces, True, named=named) == replay(pieces, False, named=named)


@NAMED
@given(ps.transcripts(asynchronous=False))
def test_a_whole_answer_in_one_piece_is_taken_at_once(
    named: bool, transcript: tuple[tuple[ps.BackendMessage, ...], bytes]
) -> None:
    messages, _ = transcript
    if any(isinstance(m, ps.ErrorResponse) for m in messages):
        return
    core = queued(named)
    core.receive_data(answer_bytes(messages, named))
    assert core.next_answer() is not None
    assert core.state is State.READY and core.next_event() is NEED_DATA


@NAMED
@settings(max_examples=300)
@given(ps.transcripts(asynchronous=False), st.data())
def test_damaged_answers_end_as_they_do_for_next_event(
    named: bool, transcript: tuple[tuple[ps.BackendMessage, ...], bytes], data: st.DataObject
) -> None:
    raw = data.draw(ps.mutated(answer_bytes(transcript[0], named)))
    fast, slow = replay([raw], True, named=named), replay([raw], False, named=named)
    assert fast[1:] == slow[1:]
    if fast[1] == "ok":
        assert fast[0] == slow[0]


@NAMED
@settings(max_examples=300)
@given(ps.transcripts(asynchronous=False), st.data())
def test_an_answer_of_a_known_shape_ends_as_it_does_for_next_event(
    named: bool, transcript: tuple[tuple[ps.BackendMessage, ...], bytes], data: st.DataObject
) -> None:
    # The core remembers the last answer's shape (the bytes around its rows); the
    # next answer, the same or damaged, reads as next_event reads it.
    messages, _ = transcript
    if any(isinstance(m, ps.ErrorResponse) for m in messages):
        return
    first = answer_bytes(messages, named)
    second = data.draw(st.one_of(st.just(first), ps.mutated(first)))
    fast = replay([second], True, before=first, named=named)
    slow = replay([second], False, before=first, named=named)
    assert fast[1:] == slow[1:]
    if fast[1] == "ok":
        assert fast[0] == slow[0]


def _shaped(rows: list[list[bytes | None]], status: str = "I", tag: str = "") -> bytes:
    return (
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.row_description(COLUMNS)
        + b"".join(wire.data_row(r) for r in rows)
        + wire.command_complete(tag or f"SELECT {len(rows)}")
        + wire.CLOSE_COMPLETE
        + wire.ready(status)
    )


def test_the_same_statement_again_is_read_by_its_shape() -> None:
    core = queued()
    tail = wire.command_complete("SELECT 1") + wire.CLOSE_COMPLETE + wire.ready("I")
    answers = [
        ([[b"1", b"x"]], "I", "SELECT 1"),
        ([[b"2", tail]], "I", "SELECT 1"),  # a value holding the tail's bytes
        ([[b"3", None]], "T", "SELECT 1"),  # a transaction began: another tail
        ([], "T", "SELECT 1"),  # no rows, the count unchanged: framed to nothing
        ([[b"4", b""], [b"5", b"y"]], "T", "SELECT 1"),
    ]
    for i, (rows, status, tag) in enumerate(answers):
        if i:
            core.send_unnamed_query("SELECT a, b FROM t", [], [], [], [0])
            core.data_to_send()
        core.receive_data(_shaped(rows, status, tag))
        answer = core.next_answer()
        assert answer is not None
        fields, bodies, got_tag = answer
        assert fields is not None and [f.name for f in fields.fields] == ["a", "b"]
        assert [list(data_row_values(b)) for b in bodies] == rows
        assert got_tag == tag and core.transaction_status == status
        assert core.state is State.READY and core.next_event() is NEED_DATA


def test_rows_that_overrun_a_known_shape_are_left_for_next_event() -> None:
    core = queued()
    core.receive_data(_shaped([[b"1", b"x"]]))
    assert core.next_answer() is not None
    core.send_unnamed_query("SELECT a, b FROM t", [], [], [], [0])
    core.data_to_send()
    # A DataRow whose length runs into the CommandComplete: the tail still ends
    # the bytes, but the rows do not frame up to it.
    good = _shaped([[b"2", b"y"]])
    row_at = len(wire.PARSE_COMPLETE + wire.BIND_COMPLETE + wire.row_description(COLUMNS))
    length = int.from_bytes(good[row_at + 1 : row_at + 5], "big")
    bad = good[: row_at + 1] + (length + 3).to_bytes(4, "big") + good[row_at + 5 :]
    core.receive_data(bad)
    assert core.next_answer() is None
    with pytest.raises(ProtocolError):
        drain(core)
    assert core.state is State.DEAD


def test_a_known_shape_over_max_message_size_is_refused_as_by_next_event() -> None:
    core = started(max_message_size=300)
    send(core, False)
    core.receive_data(_shaped([[b"1", b"x"]]))
    assert core.next_answer() is not None
    send(core, False)
    # The head and tail of the last answer around a row larger than the limit.
    core.receive_data(_shaped([[b"2", b"y" * 400]]))
    assert core.next_answer() is None
    with pytest.raises(ProtocolError, match="over the limit of 300"):
        drain(core)
    assert core.state is State.DEAD


def test_a_known_shape_after_bytes_already_read_is_left_for_next_event() -> None:
    core = queued()
    core.receive_data(_shaped([[b"1", b"x"]]))
    assert core.next_answer() is not None
    send(core, False)
    reply = _shaped([[b"2", b"y"]])
    # next_event reads the ParseComplete first: what is left is not a whole answer.
    core.receive_data(reply)
    assert isinstance(core.next_event(), ev.ParseComplete)
    assert core.next_answer() is None
    events = drain(core)
    assert [type(e) for e in events][-1] is ev.ReadyForQuery
    assert core.state is State.READY


def test_unnamed_and_named_answers_in_turn_are_each_read_whole() -> None:
    # Each remembers its own head and tail; neither is read by the other's shape.
    core = started()
    for i in range(6):
        named = i % 3 == 1
        send(core, named)
        rows = [[str(i).encode(), b"x" * i]]
        reply = _shaped(rows)
        if named:
            reply = reply[len(wire.PARSE_COMPLETE) :]
            reply = reply.replace(wire.CLOSE_COMPLETE + wire.ready("I"), wire.ready("I"))
        core.receive_data(reply)
        answer = core.next_answer()
        assert answer is not None
        assert [list(data_row_values(b)) for b in answer[1]] == rows
        assert core.state is State.READY and core.next_event() is NEED_DATA


@pytest.mark.parametrize("extra", ["parse", "close"])
def test_a_named_run_answered_as_an_unnamed_query_is_refused(extra: str) -> None:
    # ParseComplete or CloseComplete where a named statement's run asked for
    # neither: not taken whole, and next_event says the server broke protocol.
    core = queued(named=True)
    reply = _shaped([[b"1", b"x"]])
    if extra == "close":
        reply = reply[len(wire.PARSE_COMPLETE) :]
    core.receive_data(reply)
    assert core.next_answer() is None
    with pytest.raises(ProtocolError):
        drain(core)
    assert core.state is State.DEAD


# -- real servers ------------------------------------------------------------------------


def test_answers_it_does_not_take_leave_the_connection_in_sync(
    pg_server: TemporaryPostgres,
) -> None:
    with pgpipe.connect(pg_server.dsn()) as conn:
        heard: list[str] = []
        conn.add_notice_handler(lambda fields: heard.append(fields.get("M", "")))
        notice = "DO $$ BEGIN RAISE NOTICE 'hi'; END $$"
        assert conn.query(notice).status == "DO" and heard == ["hi"]
        assert conn.query("SELECT $1::int + 1", 1).scalar() == 2
        with pytest.raises(pgpipe.errors.DivisionByZero):
            conn.query("SELECT 1 / $1::int", 0)
        assert conn.query("SET application_name = 'answer'").status == "SET"
        rows = conn.query("SELECT g, 'x' || g FROM generate_series(1, $1::int) g", 50_000).rows
        assert len(rows) == 50_000 and rows[-1] == (50_000, "x50000")
        assert conn.query("").status is None
        assert conn.query("SELECT 3").scalar() == 3


def test_asyncio_answers(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        conn = await pgpipe.connect_async(pg_server.dsn())
        try:
            for i in range(20):
                assert (await conn.query("SELECT $1::int * 2, 'a'", i)).rows == [(2 * i, "a")]
            with pytest.raises(pgpipe.errors.UndefinedTable):
                await conn.query("SELECT * FROM no_such_table")
            assert (await conn.query("BEGIN")).status == "BEGIN"
            assert conn.transaction_status == "T"
            with pytest.raises(pgpipe.errors.DivisionByZero):
                await conn.query("SELECT 1 / $1::int", 0)
            assert conn.transaction_status == "E"
            await conn.query("ROLLBACK")
            assert conn.transaction_status == "I"
            assert (await conn.query("SELECT 1")).scalar() == 1
        finally:
            await conn.close()

    asyncio.run(main())


def test_named_statement_runs_are_read_whole_and_stay_in_sync(
    pg_server: TemporaryPostgres,
) -> None:
    # statement_cache_size: Parse at the first run, Bind only after; those runs'
    # answers (BindComplete ... ReadyForQuery) are read whole, errors as events.
    with pgpipe.connect(pg_server.dsn(), statement_cache_size=4) as conn:
        for i in range(12):
            assert conn.query("SELECT $1::int + 1, 'r'", i).rows == [(i + 1, "r")]
            assert conn.query("SELECT g FROM generate_series(1, $1::int) g", i).rows == [
                (g,) for g in range(1, i + 1)
            ]
        with pytest.raises(pgpipe.errors.DivisionByZero):
            conn.query("SELECT 1 / $1::int", 0)
        assert conn.query("SELECT 1 / $1::int", 1).scalar() == 1
        conn.query("BEGIN")
        assert conn.query("SELECT $1::int + 1, 'r'", 5).rows == [(6, "r")]
        assert conn.transaction_status == "T"
        conn.query("ROLLBACK")
        assert conn.query("SELECT $1::int + 1, 'r'", 7).rows == [(8, "r")]
        assert conn.transaction_status == "I"


def test_named_statement_runs_through_asyncio(pg_server: TemporaryPostgres) -> None:
    async def main() -> None:
        conn = await pgpipe.connect_async(pg_server.dsn(), statement_cache_size=4)
        try:
            for i in range(12):
                assert (await conn.query("SELECT $1::int * 2, 'a'", i)).rows == [(2 * i, "a")]
            with pytest.raises(pgpipe.errors.DivisionByZero):
                await conn.query("SELECT 1 / $1::int", 0)
            assert (await conn.query("SELECT $1::int * 2, 'a'", 50)).scalar() == 100
        finally:
            await conn.close()

    asyncio.run(main())


def test_a_statement_run_again_goes_out_in_its_frame(pg_server: TemporaryPostgres) -> None:
    # From its second run a statement's Parse and result format codes are kept
    # (Statement.frame): what goes out is still Parse, Bind and the rest, byte for
    # byte.
    sql = "SELECT $1::int + 1, $2::text, now() > $3"
    with pgpipe.connect(pg_server.dsn()) as conn:
        start = "2000-01-01"
        assert conn.query(sql, 1, "a", start).rows == [(2, "a", True)]
        sock = conn._channel._sock
        sent: list[bytes] = []

        class Spy(socket.socket):
            # A socket (the compiled build's channel holds only sockets) on the
            # same connection, that keeps what it sends.
            def send(self, data: Any, flags: int = 0) -> int:
                sent.append(bytes(data))
                return super().send(data, flags)

        spy = Spy(fileno=os.dup(sock.fileno()))
        conn._channel._sock = spy
        try:
            for i in range(3):
                assert conn.query(sql, i, None, start).rows == [(i + 1, None, True)]
        finally:
            conn._channel._sock = sock
            spy.close()
        statement = conn._session._statements[(sql, (23, 0, 0))]
        assert statement.frame is not None and statement.result_formats != (0,)
        values = [(2).to_bytes(4, "big"), None, start.encode()]
        assert sent[-1] == (
            frontend.parse("", sql, [23, 0, 0])
            + frontend.bind("", "", [1, 0, 0], values, statement.result_formats)
            + frontend.DESCRIBE_EXECUTE_CLOSE_SYNC
        )
        # Another statement, then this one again: its frame is kept with it.
        assert conn.query("SELECT 1").scalar() == 1
        assert conn.query(sql, 5, "b", start).rows == [(6, "b", True)]
