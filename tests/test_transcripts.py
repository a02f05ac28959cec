"""Recorded server transcripts replayed into the core, whole, byte by byte and split at random.

The transcript is recorded from the test server through a plain socket: a
SCRAM-SHA-256 login with a fixed client nonce, a one-packet query, a query
that fails, a script with several results and a notice, an empty query. Replaying the same
server bytes into a fresh core must give the same events however they are cut.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgpipe.protocol import NEED_DATA, ProtocolConnection
from pgpipe.protocol import events as ev
from pgpipe.strategies import chunked
from pgpipe.testing import AUTH_USERS, TemporaryPostgres

NONCE = "fixed-test-nonce-0123456789"


def commands() -> list[Callable[[ProtocolConnection], None]]:
    return [
        lambda core: None,  # startup
        lambda core: core.send_unnamed_query(
            "SELECT $1::int + 1, 'x'::text, NULL::int", [23], [0], [b"41"], [0]
        ),
        lambda core: core.send_unnamed_query("SELECT 1/0", [], [], [], [1]),
        lambda core: core.send_query(
            "DO $$ BEGIN RAISE NOTICE 'note'; END $$; SELECT 1; SELECT 2, 3"
        ),
        lambda core: core.send_query(""),
    ]


def new_core() -> ProtocolConnection:
    user, password = AUTH_USERS["scram"]
    return ProtocolConnection(user=user, password=password, database="pgpipe", scram_nonce=NONCE)


def record(pg: TemporaryPostgres) -> tuple[bytes, list[ev.Event]]:
    """Drive a core over a real socket; return every byte the server sent and the events."""
    core = new_core()
    received = bytearray()
    events: list[ev.Event] = []
    with socket.create_connection((pg.host, pg.port), timeout=30) as sock:
        for command in commands():
            command(core)
            while True:
                event = core.next_event()
                if event is NEED_DATA:
                    sock.sendall(core.data_to_send())
                    data = sock.recv(65536)
                    received += data
                    core.receive_data(data)
                    continue
                events.append(event)
                if isinstance(event, ev.ReadyForQuery):
                    break
    return bytes(received), events


def replay(pieces: list[bytes]) -> list[ev.Event]:
    """Feed the recorded bytes in pieces, issuing each command when the previous one is done."""
    core = new_core()
    pending = commands()
    pending.pop(0)(core)
    events: list[ev.Event] = []
    for piece in pieces:
        core.receive_data(piece)
        while (event := core.next_event()) is not NEED_DATA:
            events.append(event)
            if isinstance(event, ev.ReadyForQuery) and pending:
                pending.pop(0)(core)
        core.data_to_send()
    return events


@pytest.fixture(scope="module")
def transcript(pg_server: TemporaryPostgres) -> tuple[bytes, list[ev.Event]]:
    return record(pg_server)


def test_recorded_transcript_has_everything(transcript: tuple[bytes, list[ev.Event]]) -> None:
    _, events = transcript
    kinds = {type(e).__name__ for e in events}
    assert {
        "AuthenticationRequest",
        "ParameterStatus",
        "BackendKeyData",
        "ReadyForQuery",
        "ParseComplete",
        "BindComplete",
        "RowDescription",
        "DataRow",
        "CommandComplete",
        "CloseComplete",
        "ErrorResponse",
        "NoticeResponse",
        "EmptyQueryResponse",
    } <= kinds
    methods = [e.method for e in events if isinstance(e, ev.AuthenticationRequest)]
    assert methods == ["sasl", "sasl-continue", "sasl-final", "ok"]
    rows = [e.values for e in events if isinstance(e, ev.DataRow)]
    assert rows[0] == (b"42", b"x", None)
    errors = [e for e in events if isinstance(e, ev.ErrorResponse)]
    assert errors[0].fields["C"] == "22012"


def test_replay_whole(transcript: tuple[bytes, list[ev.Event]]) -> None:
    server_bytes, events = transcript
    assert replay([server_bytes]) == events


def test_replay_byte_by_byte(transcript: tuple[bytes, list[ev.Event]]) -> None:
    server_bytes, events = transcript
    assert replay([server_bytes[i : i + 1] for i in range(len(server_bytes))]) == events


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_replay_split_at_random(
    transcript: tuple[bytes, list[ev.Event]], data: st.DataObject
) -> None:
    server_bytes, events = transcript
    assert replay(data.draw(chunked(server_bytes))) == events
