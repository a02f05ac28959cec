"""pgpipe.strategies checked three ways: against pgpipe's encoder, its decoder, and the server.

The strategies' bytes are written from the protocol's message formats
independently of pgpipe.protocol, so pgpipe's frontend encoder must give the
same bytes for every frontend message, and pgpipe's core must decode every
backend message to the one described, whole, byte by byte and split at
random. Every value of every supported type must come back from PostgreSQL
as sent (``same_value``), on both adapters, in text results (a statement
never seen) and in binary ones (a statement seen before).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgpipe import Type
from pgpipe import strategies as ps
from pgpipe.errors import InterfaceError, ProtocolError
from pgpipe.protocol import NEED_DATA, ProtocolConnection, State, backend, frontend
from pgpipe.protocol import events as ev
from pgpipe.protocol.buffer import ReceiveBuffer
from tests import wire
from tests.clients import Adapter

# -- frontend: pgpipe's encoder against the strategies' bytes ------------------------

ENCODERS: dict[type, Callable[[Any], bytes]] = {
    ps.StartupMessage: lambda m: frontend.startup_message(dict(m.parameters), m.protocol),
    ps.CancelRequest: lambda m: frontend.cancel_request(m.process_id, m.secret_key),
    ps.PasswordMessage: lambda m: frontend.password_message(m.password),
    ps.SASLInitialResponse: lambda m: frontend.sasl_initial_response(m.mechanism, m.data),
    ps.SASLResponse: lambda m: frontend.sasl_response(m.data),
    ps.Query: lambda m: frontend.query(m.sql),
    ps.Parse: lambda m: frontend.parse(m.statement, m.sql, m.param_oids),
    ps.Bind: lambda m: frontend.bind(
        m.portal, m.statement, m.param_formats, m.params, m.result_formats
    ),
    ps.Describe: lambda m: frontend.describe(m.kind, m.name),
    ps.Execute: lambda m: frontend.execute(m.portal, m.max_rows),
    ps.Close: lambda m: frontend.close(m.kind, m.name),
    ps.Sync: lambda m: frontend.SYNC,
    ps.Flush: lambda m: frontend.FLUSH,
    ps.Terminate: lambda m: frontend.TERMINATE,
    ps.CopyDone: lambda m: frontend.COPY_DONE,
    ps.CopyFail: lambda m: frontend.copy_fail(m.reason),
}
# Messages pgpipe never sends: their bytes are checked for framing only.
NOT_SENT = {ps.SSLRequest, ps.GSSENCRequest, ps.CopyData}


def test_every_frontend_message_is_covered() -> None:
    assert set(ps.FRONTEND_MESSAGE_TYPES) == set(ENCODERS) | NOT_SENT


@pytest.mark.parametrize("kind", list(ENCODERS), ids=lambda k: k.__name__)
def test_frontend_encoder_gives_the_strategy_bytes(kind: type) -> None:
    @settings(max_examples=200)
    @given(ps.frontend_messages(kind))
    def check(drawn: tuple[ps.FrontendMessage, bytes]) -> None:
        message, data = drawn
        assert ENCODERS[kind](message) == data

    check()


@given(ps.frontend_messages(*NOT_SENT))
def test_frontend_bytes_are_framed(drawn: tuple[ps.FrontendMessage, bytes]) -> None:
    message, data = drawn
    if isinstance(message, ps.CopyData):
        assert wire.split_frontend(data) == [(b"d", message.data)]
    else:
        assert int.from_bytes(data[:4], "big") == len(data) == 8


def test_frontend_bytes_match_the_protocol_documentation() -> None:
    # Worked examples: the one-packet query's constant tail, and a Bind.
    assert ps.frontend_bytes(ps.Sync()) == b"S\x00\x00\x00\x04"
    assert ps.frontend_bytes(ps.Describe("P", "")) == b"D\x00\x00\x00\x06P\x00"
    assert ps.frontend_bytes(ps.SSLRequest()) == b"\x00\x00\x00\x08\x04\xd2\x16\x2f"
    assert ps.frontend_bytes(ps.Bind("", "", (1,), (b"\x00\x00\x00\x2a", None), (1,))) == (
        b"B\x00\x00\x00\x1c\x00\x00\x00\x01\x00\x01\x00\x02"
        b"\x00\x00\x00\x04\x00\x00\x00\x2a\xff\xff\xff\xff\x00\x01\x00\x01"
    )


# -- backend: pgpipe's decoders against the strategies' messages ---------------------

AUTHENTICATION_CODES: dict[type, int] = {
    ps.AuthenticationOk: 0,
    ps.AuthenticationKerberosV5: 2,
    ps.AuthenticationCleartextPassword: 3,
    ps.AuthenticationMD5Password: 5,
    ps.AuthenticationGSS: 7,
    ps.AuthenticationGSSContinue: 8,
    ps.AuthenticationSSPI: 9,
    ps.AuthenticationSASL: 10,
    ps.AuthenticationSASLContinue: 11,
    ps.AuthenticationSASLFinal: 12,
}


def authentication_data(message: Any) -> bytes:
    """What follows the code: a salt, a mechanism list or SASL/GSS data."""
    if isinstance(message, ps.AuthenticationMD5Password):
        return message.salt
    if isinstance(message, ps.AuthenticationSASL):
        return b"".join(name.encode() + b"\x00" for name in message.mechanisms) + b"\x00"
    return getattr(message, "data", b"")


def expected_event(message: Any) -> object:
    """The decoded form pgpipe's backend decoding should give for ``message``."""
    cls = type(message)
    if cls in AUTHENTICATION_CODES:
        return (AUTHENTICATION_CODES[cls], authentication_data(message))
    if isinstance(message, ps.RowDescription):
        return ev.RowDescription(
            tuple(
                ev.FieldDescription(
                    f.name,
                    f.table_oid,
                    f.column_number,
                    f.type_oid,
                    f.type_size,
                    f.type_modifier,
                    f.format,
                )
                for f in message.fields
            )
        )
    if isinstance(message, ps.ErrorResponse | ps.NoticeResponse):
        return getattr(ev, cls.__name__)(dict(message.fields))
    fields = [getattr(message, name) for name in message.__slots__]
    return getattr(ev, cls.__name__)(*fields)


def decode(kind: bytes, body: bytes) -> object:
    if kind == b"R":
        return backend.authentication(body)
    return backend.DECODERS[kind](body)


KNOWN = frozenset({b"R", *backend.DECODERS})


def frame(pieces: list[bytes]) -> list[object]:
    """Feed the pieces into pgpipe's receive buffer; decode every message it frames."""
    buffer = ReceiveBuffer(KNOWN)
    decoded: list[object] = []
    for piece in pieces:
        buffer.feed(piece)
        decoded += [decode(kind, body) for kind, body in buffer.messages()]
    assert len(buffer) == 0
    return decoded


DECODED_TYPES = [t for t in ps.BACKEND_MESSAGE_TYPES if t is not ps.CopyBothResponse]


@pytest.mark.parametrize("kind", DECODED_TYPES, ids=lambda k: k.__name__)
def test_backend_messages_decode_whole_byte_by_byte_and_split(kind: type) -> None:
    @settings(max_examples=60)
    @given(ps.backend_messages(kind), st.data())
    def check(drawn: tuple[ps.BackendMessage, bytes], data: st.DataObject) -> None:
        message, raw = drawn
        expected = [expected_event(message)]
        assert frame([raw]) == expected
        assert frame([raw[i : i + 1] for i in range(len(raw))]) == expected
        assert frame(data.draw(ps.chunked(raw))) == expected

    check()


@given(ps.backend_messages(ps.CopyBothResponse))
def test_copy_both_response_is_refused(drawn: tuple[ps.BackendMessage, bytes]) -> None:
    # pgpipe starts no replication: CopyBothResponse can only be a protocol error.
    buffer = ReceiveBuffer(KNOWN)
    buffer.feed(drawn[1])
    with pytest.raises(ProtocolError, match="unknown backend message"):
        buffer.messages()


@given(st.lists(ps.backend_messages(), max_size=10), st.data())
def test_backend_message_streams_split_anywhere(
    drawn: list[tuple[ps.BackendMessage, bytes]], data: st.DataObject
) -> None:
    drawn = [(m, raw) for m, raw in drawn if not isinstance(m, ps.CopyBothResponse)]
    stream = b"".join(raw for _, raw in drawn)
    assert frame(data.draw(ps.chunked(stream))) == [expected_event(m) for m, _ in drawn]


# -- transcripts through the protocol core ----------------------------------------------


def started() -> ProtocolConnection:
    core = ProtocolConnection(user="alice", database="db")
    core.data_to_send()
    core.receive_data(wire.startup_ok())
    while core.next_event() is not NEED_DATA:
        pass
    return core


def replay(pieces: list[bytes]) -> list[ev.Event]:
    core = started()
    core.send_unnamed_query("SELECT $1", [23], [1], [b"\x00\x00\x00\x01"], [1])
    events: list[ev.Event] = []
    for piece in pieces:
        core.receive_data(piece)
        while (event := core.next_event()) is not NEED_DATA:
            events.append(event)
    assert core.state is State.READY
    return events


@settings(max_examples=300)
@given(ps.transcripts(), st.data())
def test_transcripts_give_their_events_however_they_are_cut(
    transcript: tuple[tuple[ps.BackendMessage, ...], bytes], data: st.DataObject
) -> None:
    messages, raw = transcript
    expected = [expected_event(m) for m in messages]
    assert replay([raw]) == expected
    assert replay([raw[i : i + 1] for i in range(len(raw))]) == expected
    assert replay(data.draw(ps.chunked(raw))) == expected


@given(ps.transcripts(asynchronous=False))
def test_transcripts_follow_the_one_packet_answer(
    transcript: tuple[tuple[ps.BackendMessage, ...], bytes],
) -> None:
    names = [type(m).__name__ for m in transcript[0]]
    assert names[-1] == "ReadyForQuery"
    if "ErrorResponse" not in names:
        assert names[:2] == ["ParseComplete", "BindComplete"]
        assert names[-2] == "CloseComplete"
        assert names[2] in ("RowDescription", "NoData")


@given(st.binary(max_size=200), st.data())
def test_chunked_pieces_join_back(data: bytes, draw: st.DataObject) -> None:
    pieces = draw.draw(ps.chunked(data, max_pieces=7))
    assert b"".join(pieces) == data
    assert all(pieces) and len(pieces) <= 7


@given(st.binary(min_size=1, max_size=100), st.data())
def test_flip_mutations_keep_the_length(data: bytes, draw: st.DataObject) -> None:
    damaged = draw.draw(ps.mutated(data, mutations=["flip"], max_mutations=3))
    assert len(damaged) == len(data)
    assert sum(a != b for a, b in zip(data, damaged, strict=True)) <= 3


# -- values: round trips through the server, both adapters, text then binary ----------


def test_values_of_an_unsupported_type_is_an_interface_error() -> None:
    with pytest.raises(InterfaceError, match="no values for type OID 142"):
        ps.values(Type.XML)
    with pytest.raises(InterfaceError, match="no values for type OID 999999"):
        ps.values(999999)


@given(ps.typed_values())
def test_typed_values_carry_their_type(drawn: tuple[object, Type]) -> None:
    value, oid = drawn
    assert oid in ps.SUPPORTED_TYPES
    assert ps.same_value(oid, value, value)


def test_the_kit_covers_the_types_the_brief_names() -> None:
    wanted = {
        Type.BOOL, Type.INT2, Type.INT4, Type.INT8, Type.FLOAT4, Type.FLOAT8, Type.NUMERIC,
        Type.TEXT, Type.BYTEA, Type.DATE, Type.TIME, Type.TIMESTAMP, Type.TIMESTAMPTZ,
        Type.INTERVAL, Type.UUID, Type.JSON, Type.JSONB, Type.INET, Type.CIDR, Type.MACADDR,
        Type.POINT, Type.BOX, Type.POLYGON, Type.INT4RANGE, Type.TSTZRANGE, Type.INT4_ARRAY,
        Type.TEXT_ARRAY,
    }  # fmt: skip
    assert wanted <= set(ps.SUPPORTED_TYPES)


@pytest.mark.parametrize("oid", ps.SUPPORTED_TYPES, ids=lambda t: t.name)
def test_values_round_trip_through_the_server(adapter: Adapter, dsn: str, oid: Type) -> None:
    conn = adapter.connect(dsn)
    learned = f"SELECT $1 /* {oid.name} learned */"
    conn.query_with_param_types(learned, [(None, oid)])  # seen once: binary from now on

    @settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(ps.values(oid))
    def check(value: Any) -> None:
        fresh = f"SELECT $1 /* {uuid.uuid4()} */"  # never seen: text results
        (text_result,) = conn.query_with_param_types(fresh, [(value, oid)]).rows[0]
        assert ps.same_value(oid, value, text_result), (value, text_result)
        (binary_result,) = conn.query_with_param_types(learned, [(value, oid)]).rows[0]
        assert ps.same_value(oid, value, binary_result), (value, binary_result)

    check()


# -- the extra stays optional ---------------------------------------------------------

BLOCK_HYPOTHESIS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "hypothesis" or name.startswith("hypothesis."):
            raise ImportError("blocked")
sys.meta_path.insert(0, Block())
"""


def run_without_hypothesis(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_HYPOTHESIS + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_pgpipe_never_imports_hypothesis() -> None:
    done = run_without_hypothesis(
        "import pgpipe, pgpipe.sync, pgpipe.aio\n"
        "assert not any(m.startswith('hypothesis') for m in sys.modules)\n"
        "print('ok')"
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_strategies_without_hypothesis_say_how_to_install_it() -> None:
    done = run_without_hypothesis(
        "try:\n    import pgpipe.strategies\nexcept ImportError as exc:\n    print(exc)\n"
    )
    assert "pip install pgpipe[hypothesis]" in done.stdout, done.stderr
