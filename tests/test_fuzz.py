"""Fuzzing the protocol core and the result layer with mutated real server byte streams.

The streams are recorded from the throwaway PostgreSQL (startup, a one-packet
query of many types in text and in binary, a script, an error, notices), then
mutated by hypothesis: bytes flipped, inserted, deleted, chunks duplicated or
dropped, lengths rewritten, the stream cut anywhere. Replayed into a fresh
Session driving the same operations, each example must end in bounded steps
with the operation done, the core waiting for more bytes, or a ProtocolError
(the connection then dead). A request the client cannot meet during startup
(a mutated authentication code) is an OperationalError; a well-formed but
unexpected ErrorResponse or undecodable value surfaces as the DatabaseError
or DataError of its result, with the connection in sync. Nothing else.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pgpipe
from pgpipe import errors
from pgpipe._copy import BinaryReader, csv_fields, text_fields
from pgpipe._operations import CopyCommand, Operation
from pgpipe._session import Session
from pgpipe.conninfo import parse_dsn
from pgpipe.protocol import NEED_DATA, ProtocolConnection, State
from pgpipe.protocol import buffer as buffer_module
from pgpipe.protocol.buffer import ReceiveBuffer
from pgpipe.strategies import mutated
from pgpipe.testing import TemporaryPostgres
from tests import wire

EXAMPLES = 3000

QUERIES: list[tuple[str, tuple[object, ...]]] = [
    (
        "SELECT 1::int4, 'two'::text, 3.5::numeric, now(), '{1,2,NULL}'::int[], "
        "'{\"a\": [1]}'::jsonb, '\\x00ff'::bytea, interval '1 day', NULL::int, true",
        (),
    ),
    ("SELECT g, md5(g::text) FROM generate_series(1, 40) g", ()),
    ("SELECT $1::int + 1, $2::text", (41, "x")),
    ("SELECT * FROM no_such_table", ()),
    ("DO $$ BEGIN RAISE NOTICE 'hello'; END $$", ()),
]


@dataclass(frozen=True)
class Transcript:
    """What the server sent for a startup and one command, and how to replay it."""

    name: str
    startup: bytes
    reply: bytes
    command: Callable[[Session], Operation]


def _recording_session(recorded: list[bytes]) -> type[Session]:
    class Recording(Session):
        __slots__ = ()

        def receive_data(self, data: bytes) -> None:
            recorded.append(data)
            super().receive_data(data)

    return Recording


def _connect_recording(dsn: str) -> tuple[pgpipe.Connection, bytes, list[bytes]]:
    """A connection whose received bytes are recorded: it, the startup's bytes,
    and the (emptied) list that records what comes next."""
    import pgpipe.sync

    recorded: list[bytes] = []
    original = pgpipe.sync.Session
    pgpipe.sync.Session = _recording_session(recorded)  # type: ignore[misc]
    try:
        conn = pgpipe.connect(dsn)
    finally:
        pgpipe.sync.Session = original  # type: ignore[misc]
    startup = b"".join(recorded)
    recorded.clear()
    return conn, startup, recorded


@pytest.fixture(scope="module")
def transcripts(pg_server: TemporaryPostgres) -> list[Transcript]:
    dsn = pg_server.dsn(dbname="pgpipe")
    out: list[Transcript] = []
    for index, (sql, params) in enumerate(QUERIES):
        for run in ("text", "binary") if index < 3 else ("text",):
            conn, startup, recorded = _connect_recording(dsn)
            if run == "binary":  # a statement seen before asks for binary results
                conn.query(sql, *params)
            recorded.clear()
            with contextlib.suppress(errors.DatabaseError):
                conn.query(sql, *params)
            reply = b"".join(recorded)
            conn.close()

            def command(
                session: Session,
                sql: str = sql,
                params: tuple[object, ...] = params,
                run: str = run,
            ) -> Operation:
                if run == "binary":
                    learn = session.query(sql, params)
                    session.core.data_to_send()
                    return learn
                return session.query(sql, params)

            out.append(Transcript(f"{index}-{run}", startup, reply, command))
    conn, startup, many = _connect_recording(dsn)
    conn.execute("CREATE TEMP TABLE fuzz_many (n int, t text)")
    many.clear()
    batch = [(n, None if n % 3 else f"t{n}") for n in range(40)]
    conn.executemany("INSERT INTO fuzz_many VALUES ($1, $2)", batch)
    out.append(
        Transcript(
            "executemany",
            startup,
            b"".join(many),
            lambda s: s.executemany("INSERT INTO fuzz_many VALUES ($1, $2)", batch),
        )
    )
    conn.close()
    conn, startup, copied = _connect_recording(dsn)
    copy_sql = "COPY (SELECT g, 'r' || g, NULL FROM generate_series(1, 30) g) TO STDOUT"
    with conn.copy(copy_sql) as copy:
        assert len(list(copy)) == 30
    out.append(Transcript("copy-out", startup, b"".join(copied), lambda s: s.copy(copy_sql)))
    conn.close()
    conn, startup, script = _connect_recording(dsn)
    conn.execute("SELECT 1; SELECT 'a', 2; SET LOCAL work_mem = '1MB'")
    out.append(Transcript("script", startup, b"".join(script), lambda s: s.execute("SELECT 1")))
    conn.close()
    return out


def new_session() -> Session:
    params = parse_dsn("host=127.0.0.1 user=postgres dbname=pgpipe sslmode=disable", {}, {}, None)
    return Session(params, "fuzz-nonce")


def replay(transcript: Transcript, stream: bytes, chunk: int) -> str:
    """Feed ``stream`` in pieces of ``chunk`` bytes through startup and the command.

    Returns how it ended; raises AssertionError on anything outside the contract.
    """
    session = new_session()
    session.core.data_to_send()
    ops: list[Operation] = [session.startup()]
    op = ops[0]
    steps = 0
    # Each event consumes at least one 5-byte header: a bound no loop may pass.
    bound = len(stream) // 5 + 10
    pos = 0
    try:
        while True:
            event = session.core.next_event()
            steps += 1
            assert steps <= bound + len(stream) // max(chunk, 1) + 10, "unbounded loop"
            if event is NEED_DATA:
                if pos >= len(stream):
                    return "need-data"
                session.receive_data(stream[pos : pos + chunk])
                pos += chunk
                continue
            if op.feed(event):
                if op is ops[0] and len(ops) == 1 and not session.is_closed and op.error is None:
                    op = transcript.command(session)
                    ops.append(op)
                    continue
                if isinstance(op, CopyCommand) and not op.done:
                    # A COPY hands over at its start and per batch: read on, and
                    # parse its rows as copy() does.
                    for chunk in op.chunks:
                        with contextlib.suppress(errors.DataError):
                            text_fields(chunk)
                    op.chunks.clear()
                    continue
                break
    except errors.ProtocolError:
        assert session.core.state is State.DEAD
        return "protocol-error"
    except errors.OperationalError:
        # Only authentication may ask for what the client cannot give.
        assert len(ops) == 1
        return "cannot-authenticate"
    if session.is_closed or op.error is not None:
        return "server-error"
    result = getattr(op, "result", None)
    if result is None:
        return "done"
    try:
        result()
    except (errors.DataError, errors.DatabaseError, errors.NotSupportedError):
        return "bad-value"
    return "done"


def test_clean_transcripts_replay(transcripts: list[Transcript]) -> None:
    for transcript in transcripts:
        for chunk in (1, 7, 1 << 16):
            outcome = replay(transcript, transcript.startup + transcript.reply, chunk)
            assert outcome in ("done", "server-error"), (transcript.name, outcome)


@settings(max_examples=EXAMPLES)
@given(st.data())
def test_mutated_server_streams(transcripts: list[Transcript], data: st.DataObject) -> None:
    transcript = data.draw(st.sampled_from(transcripts))
    # Mutate the command's answer mostly; sometimes the startup too.
    if data.draw(st.booleans()):
        stream = transcript.startup + data.draw(mutated(transcript.reply))
    else:
        stream = data.draw(mutated(transcript.startup)) + transcript.reply
    chunk = data.draw(st.sampled_from([1, 3, 64, 1 << 16]))
    replay(transcript, stream, chunk)


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=400), st.integers(0, 6), st.sampled_from([1, 5, 1 << 16]))
def test_random_streams_in_every_state(
    transcripts: list[Transcript], noise: bytes, which: int, chunk: int
) -> None:
    transcript = transcripts[which % len(transcripts)]
    # Random bytes during startup, and after a clean startup during the command.
    replay(transcript, noise, chunk)
    replay(transcript, transcript.startup + noise, chunk)


@settings(max_examples=EXAMPLES)
@given(
    st.integers(64, 1 << 20),
    st.integers(1, 2**31 - 1 - (1 << 20)),
    st.sampled_from([b"D", b"T", b"E", b"N", b"S", b"d"]),
)
def test_declared_length_over_the_limit_is_refused_from_its_header(
    limit: int, over: int, kind: bytes
) -> None:
    core = ProtocolConnection(user="alice", max_message_size=limit)
    core.data_to_send()
    core.receive_data(kind + struct.pack("!I", limit + over))
    with pytest.raises(errors.ProtocolError, match="over the limit"):
        core.next_event()
    assert core.state is State.DEAD


def test_buffer_holds_no_more_than_was_received() -> None:
    buffer = ReceiveBuffer(frozenset({b"D"}), max_message_size=1 << 30)
    buffer.feed(b"D" + struct.pack("!I", (1 << 30) - 1) + b"x" * 100)
    assert buffer.messages() == []
    assert len(buffer) == 105  # waiting for the rest, without reserving it


def test_connect_takes_max_message_size(pg_server: TemporaryPostgres) -> None:
    with pgpipe.connect(pg_server.dsn(dbname="pgpipe"), max_message_size=4096) as conn:
        assert conn.query("SELECT repeat('x', 1000)").rows == [("x" * 1000,)]
        with pytest.raises(errors.ProtocolError, match="over the limit of 4096"):
            conn.query("SELECT repeat('x', 10000)")
        assert conn.closed


PIECES = [
    wire.BIND_COMPLETE,
    wire.command_complete("INSERT 0 1"),
    wire.command_complete("UPDATE 2"),
    wire.BIND_COMPLETE + wire.command_complete("INSERT 0 1"),
    wire.data_row([b"1", None]),
    wire.msg(b"C", b"no terminator"),
    wire.ready(),
]


def naive_frames(stream: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    pos = 0
    while len(stream) - pos >= 5:
        (length,) = struct.unpack_from("!I", stream, pos + 1)
        if pos + 1 + length > len(stream):
            break
        out.append((stream[pos : pos + 1], stream[pos + 5 : pos + 1 + length]))
        pos += 1 + length
    return out


@settings(max_examples=EXAMPLES)
@given(
    st.lists(st.tuples(st.sampled_from(PIECES), st.integers(1, 40)), max_size=8),
    st.lists(st.integers(1, 200), max_size=20),
)
def test_runs_of_repeated_answers_frame_like_any_others(
    runs: list[tuple[bytes, int]], cuts: list[int]
) -> None:
    # executemany's answers (BindComplete + CommandComplete, row after row) are
    # framed as a run; split anywhere, the messages must be exactly the naive ones.
    stream = b"".join(piece * count for piece, count in runs)
    buffer = ReceiveBuffer(frozenset({b"2", b"C", b"D", b"Z"}))
    framed: list[tuple[bytes, bytes]] = []
    pos = 0
    for cut in [*cuts, len(stream)]:
        buffer.feed(stream[pos : pos + cut])
        pos += cut
        framed += buffer.messages()
        if pos >= len(stream):
            break
    assert framed == naive_frames(stream)


ROW_PIECES = [
    wire.data_row([b"1", None]),
    wire.data_row([b"x" * 300]),
    wire.data_row([]),
    wire.msg(b"D", b"not a row body"),  # framing does not look inside
    wire.command_complete("SELECT 3"),
    wire.ready(),
]


@settings(max_examples=EXAMPLES)
@given(
    st.lists(st.tuples(st.sampled_from(ROW_PIECES), st.integers(1, 30)), max_size=8),
    st.lists(st.tuples(st.integers(1, 400), st.booleans()), max_size=20),
)
def test_data_rows_frame_as_messages_do(
    runs: list[tuple[bytes, int]], cuts: list[tuple[int, bool]]
) -> None:
    # A large result's rows are taken by data_rows() straight from the buffer,
    # messages() taking everything else: split anywhere, read either way, the
    # messages are exactly the naive ones, in order.
    stream = b"".join(piece * count for piece, count in runs)
    buffer = ReceiveBuffer(frozenset({b"C", b"D", b"Z"}))
    framed: list[tuple[bytes, bytes]] = []
    pos = 0
    for cut, rows_first in [*cuts, (len(stream), True)]:
        buffer.feed(stream[pos : pos + cut])
        pos += cut
        if rows_first:
            framed += [(b"D", body) for body in buffer.data_rows()]
        framed += buffer.messages()
        if pos >= len(stream):
            break
    framed += [(b"D", body) for body in buffer.data_rows()]
    assert framed == naive_frames(stream)
    assert len(buffer) == len(stream) - sum(5 + len(body) for _, body in framed)


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=200), st.integers(4, 64))
def test_data_row_framings_agree(data: bytes, limit: int) -> None:
    # The two ways of reading a run of DataRows (one for each build) take the
    # same rows out of any bytes, and stop at the same place.
    by_struct = buffer_module._rows_by_struct(data, 0, limit)
    by_byte = buffer_module._rows_by_byte(data, 0, limit)
    assert by_struct == by_byte
    bodies, end = by_byte
    assert end == sum(5 + len(body) for body in bodies)
    assert all(len(body) <= limit - 4 for body in bodies)


@pytest.mark.parametrize(
    "head",
    [
        b"D\x00\x00\x00\x02",  # a length under 4
        b"D" + struct.pack("!I", 4097),  # over the buffer's limit
    ],
)
def test_data_rows_leave_a_bad_length_for_messages_to_refuse(head: bytes) -> None:
    buffer = ReceiveBuffer(frozenset({b"D"}), max_message_size=4096)
    row = wire.data_row([b"1"])
    buffer.feed(row + head + b"x" * 5000)
    assert buffer.data_rows() == [row[5:]]
    assert buffer.data_rows() == []
    with pytest.raises(errors.ProtocolError, match=r"invalid length|over the limit"):
        buffer.messages()


def test_rows_taken_from_the_buffer_keep_the_connection_in_sync() -> None:
    # Once the framed messages are read, next_row_bodies takes the rows that
    # arrive next from the buffer; what follows them is an event as before.
    core = ProtocolConnection(user="alice", password=None)
    core.data_to_send()
    core.receive_data(wire.startup_ok())
    while core.next_event() is not NEED_DATA:
        pass
    core.send_query("SELECT")
    row = wire.data_row([b"7"])
    core.receive_data(wire.row_description([("a", 25, 0)]) + row)
    assert isinstance(core.next_event(), pgpipe.protocol.events.RowDescription)
    assert core.next_row_bodies() == [row[5:]]
    core.receive_data(row * 3 + row[:7])
    assert core.next_row_bodies() == [row[5:]] * 3
    assert core.next_row_bodies() == []
    assert core.next_event() is NEED_DATA
    core.receive_data(row[7:] + wire.command_complete("SELECT 5") + wire.ready())
    assert core.next_row_bodies() == [row[5:]]
    assert core.next_row_bodies() == []
    assert core.next_event() == pgpipe.protocol.events.CommandComplete("SELECT 5")
    assert core.next_row_bodies() == []
    assert isinstance(core.next_event(), pgpipe.protocol.events.ReadyForQuery)
    assert core.state is State.READY


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=300))
def test_copy_data_parsers_take_any_bytes(data: bytes) -> None:
    """COPY TO data, however mangled, parses or raises DataError, nothing else."""
    for parse in (text_fields, csv_fields, BinaryReader().row):
        with contextlib.suppress(errors.DataError):
            parse(data)
    reader = BinaryReader()
    with contextlib.suppress(errors.DataError):
        reader.row(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + data)
