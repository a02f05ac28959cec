"""The sans-IO core without a server: exact bytes out, transcripts in, slips are ProtocolErrors."""

from __future__ import annotations

import hashlib
import struct

import pytest
import scramp
from hypothesis import given
from hypothesis import strategies as st

from pgpipe.errors import InterfaceError, OperationalError, ProtocolError
from pgpipe.protocol import NEED_DATA, ProtocolConnection, State, frontend
from pgpipe.protocol import events as ev
from pgpipe.strategies import chunked, mutated, text_values
from tests import wire


def drain(core: ProtocolConnection) -> list[ev.Event]:
    out = []
    while True:
        event = core.next_event()
        if event is NEED_DATA:
            return out
        out.append(event)


def started(**kwargs: object) -> ProtocolConnection:
    core = ProtocolConnection(user="alice", database="db", **kwargs)  # type: ignore[arg-type]
    core.data_to_send()
    core.receive_data(wire.startup_ok())
    drain(core)
    return core


# -- frontend messages, byte for byte ------------------------------------------


def test_startup_message_bytes() -> None:
    data = frontend.startup_message({"user": "u"})
    assert data == b"\x00\x00\x00\x10\x00\x03\x00\x00user\x00u\x00\x00"


def test_constant_messages() -> None:
    assert frontend.SYNC == b"S\x00\x00\x00\x04"
    assert frontend.FLUSH == b"H\x00\x00\x00\x04"
    assert frontend.TERMINATE == b"X\x00\x00\x00\x04"


def test_query_bytes() -> None:
    assert frontend.query("SELECT 1") == b"Q\x00\x00\x00\x0dSELECT 1\x00"


def test_parse_bytes() -> None:
    assert frontend.parse("", "SELECT $1", [23]) == (
        b"P\x00\x00\x00\x15" + b"\x00" + b"SELECT $1\x00" + b"\x00\x01" + b"\x00\x00\x00\x17"
    )


def test_bind_bytes() -> None:
    data = frontend.bind("", "", [1], [b"\x00\x00\x00\x2a", None], [1])
    body = (
        b"\x00\x00"  # portal, statement
        + b"\x00\x01\x00\x01"  # one parameter format: binary
        + b"\x00\x02"  # two values
        + b"\x00\x00\x00\x04\x00\x00\x00\x2a"
        + b"\xff\xff\xff\xff"  # NULL
        + b"\x00\x01\x00\x01"  # one result format: binary
    )
    assert data == b"B" + struct.pack("!i", len(body) + 4) + body


def test_describe_execute_close_bytes() -> None:
    assert frontend.describe("P", "") == b"D\x00\x00\x00\x06P\x00"
    assert frontend.execute("", 0) == b"E\x00\x00\x00\x09\x00\x00\x00\x00\x00"
    assert frontend.close("S", "") == b"C\x00\x00\x00\x06S\x00"


def test_cancel_request_bytes() -> None:
    assert frontend.cancel_request(7, b"\x01\x02\x03\x04") == (
        b"\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x00\x07\x01\x02\x03\x04"
    )
    long_key = bytes(range(32))
    assert frontend.cancel_request(7, long_key)[:4] == struct.pack("!i", 12 + 32)
    with pytest.raises(InterfaceError):
        frontend.cancel_request(7, b"\x01\x02\x03")


@pytest.mark.parametrize("text", ["a\x00b", "\x00"])
def test_nul_in_sql_is_refused(text: str) -> None:
    with pytest.raises(InterfaceError, match="NUL"):
        frontend.query(text)
    with pytest.raises(InterfaceError, match="NUL"):
        frontend.parse("", text, [])


@given(
    sql=text_values(),
    oids=st.lists(st.integers(0, 2**32 - 1), max_size=20),
    values=st.lists(st.one_of(st.none(), st.binary(max_size=300)), max_size=20),
    formats=st.lists(st.sampled_from([0, 1]), max_size=3),
    result_fmt=st.lists(st.sampled_from([0, 1]), max_size=3),
    sync=st.booleans(),
)
def test_the_one_packet_query_is_its_messages_in_one(
    sql: str,
    oids: list[int],
    values: list[bytes | None],
    formats: list[int],
    result_fmt: list[int],
    sync: bool,
) -> None:
    # The frame (Parse, the result codes) and then the parameters, in one join.
    tail = frontend.DESCRIBE_EXECUTE_CLOSE_SYNC if sync else frontend.DESCRIBE_EXECUTE_CLOSE
    expected = (
        frontend.parse("", sql, oids) + frontend.bind("", "", formats, values, result_fmt) + tail
    )
    frame = frontend.unnamed_frame(sql, oids, result_fmt, sync)
    assert frontend.framed_query(frame, formats, values) == expected


def test_a_bad_format_code_is_refused_by_the_one_packet_query() -> None:
    frame = frontend.unnamed_frame("SELECT 1", [], [0])
    with pytest.raises(InterfaceError, match="format code"):
        frontend.framed_query(frame, [2], [])
    with pytest.raises(InterfaceError, match="format code"):
        frontend.unnamed_frame("SELECT 1", [], [0, 3])


def test_too_many_parameters_is_refused() -> None:
    with pytest.raises(InterfaceError, match="too many parameters"):
        frontend.parse("", "x", [0] * 40000)


@given(
    sql=text_values(),
    oids=st.lists(st.integers(0, 2**32 - 1), max_size=20),
    values=st.lists(st.one_of(st.none(), st.binary(max_size=50)), max_size=20),
    fmt=st.sampled_from([0, 1]),
    result_fmt=st.lists(st.sampled_from([0, 1]), max_size=3),
)
def test_one_shot_messages_decode_back(
    sql: str, oids: list[int], values: list[bytes | None], fmt: int, result_fmt: list[int]
) -> None:
    data = (
        frontend.parse("", sql, oids)
        + frontend.bind("", "", [fmt], values, result_fmt)
        + frontend.DESCRIBE_EXECUTE_CLOSE_SYNC
    )
    messages = wire.split_frontend(data)
    assert [k for k, _ in messages] == [b"P", b"B", b"D", b"E", b"C", b"S"]
    parse_body = messages[0][1]
    end = parse_body.index(b"\x00", 1)
    assert parse_body[1:end].decode() == sql
    (count,) = struct.unpack_from("!h", parse_body, end + 1)
    assert list(struct.unpack_from(f"!{count}I", parse_body, end + 3)) == oids
    bind_body = messages[1][1]
    pos = 2 + 4  # portal, statement, one format count + code
    assert struct.unpack_from("!hh", bind_body, 2) == (1, fmt)
    (n,) = struct.unpack_from("!h", bind_body, pos)
    pos += 2
    decoded: list[bytes | None] = []
    for _ in range(n):
        (size,) = struct.unpack_from("!i", bind_body, pos)
        pos += 4
        if size == -1:
            decoded.append(None)
        else:
            decoded.append(bind_body[pos : pos + size])
            pos += size
    assert decoded == values
    (nres,) = struct.unpack_from("!h", bind_body, pos)
    assert list(struct.unpack_from(f"!{nres}h", bind_body, pos + 2)) == result_fmt


# -- startup and authentication ------------------------------------------------


def test_startup_sends_only_what_libpq_may_send() -> None:
    """user, database, client_encoding and the caller's settings: nothing a pooler
    in its default configuration refuses (PgBouncer < 1.20 refuses IntervalStyle)."""
    core = ProtocolConnection(user="alice", database="db", settings={"application_name": "x"})
    protocol, params, rest = wire.parse_startup(core.data_to_send())
    assert protocol == 3 << 16
    assert rest == b""
    assert params == {
        "user": "alice",
        "database": "db",
        "client_encoding": "UTF8",
        "application_name": "x",
    }


def test_startup_passes_the_callers_settings_through() -> None:
    settings = {"DateStyle": "SQL, DMY", "IntervalStyle": "iso_8601", "TimeZone": "Europe/Berlin"}
    core = ProtocolConnection(user="alice", settings=settings)
    _, params, _ = wire.parse_startup(core.data_to_send())
    assert params == {"user": "alice", "client_encoding": "UTF8", **settings}


def test_pinned_setting_cannot_be_overridden() -> None:
    with pytest.raises(InterfaceError, match="client_encoding"):
        ProtocolConnection(user="a", settings={"client_encoding": "LATIN1"})


def test_trust_startup_events() -> None:
    core = ProtocolConnection(user="alice")
    core.data_to_send()
    core.receive_data(wire.startup_ok(pid=99, key=b"k" * 32))
    events = drain(core)
    assert events[0] == ev.AuthenticationRequest("ok")
    assert ev.BackendKeyData(99, b"k" * 32) in events
    assert events[-1] == ev.ReadyForQuery("I")
    assert core.state is State.READY
    assert core.parameters["server_version"] == "15.0"
    assert core.backend_key == ev.BackendKeyData(99, b"k" * 32)
    assert core.data_to_send() == b""


def test_cleartext_password() -> None:
    core = ProtocolConnection(user="alice", password="sécret")
    core.data_to_send()
    core.receive_data(wire.auth(3))
    assert drain(core) == [ev.AuthenticationRequest("password")]
    assert core.data_to_send() == wire.msg(b"p", "sécret".encode() + b"\x00")


def test_md5_password() -> None:
    core = ProtocolConnection(user="alice", password="pw")
    core.data_to_send()
    core.receive_data(wire.auth(5, b"\x01\x02\x03\x04"))
    assert drain(core) == [ev.AuthenticationRequest("md5")]
    inner = hashlib.md5(b"pwalice").hexdigest().encode()
    expected = b"md5" + hashlib.md5(inner + b"\x01\x02\x03\x04").hexdigest().encode()
    assert core.data_to_send() == wire.msg(b"p", expected + b"\x00")


def test_password_needed_but_missing() -> None:
    core = ProtocolConnection(user="alice")
    core.data_to_send()
    core.receive_data(wire.auth(3))
    with pytest.raises(OperationalError, match="no password"):
        drain(core)


def test_unsupported_auth_method() -> None:
    core = ProtocolConnection(user="alice", password="x")
    core.data_to_send()
    core.receive_data(wire.auth(7))
    with pytest.raises(OperationalError, match="GSSAPI"):
        drain(core)
    assert core.state is State.DEAD
    with pytest.raises(ProtocolError, match="GSSAPI"):
        core.next_event()


class ScramServer:
    """A SCRAM-SHA-256 server from scramp, speaking PostgreSQL's framing."""

    def __init__(self, password: str) -> None:
        mechanism = scramp.ScramMechanism("SCRAM-SHA-256")
        auth_info = mechanism.make_auth_info(password, iteration_count=4096)
        self.server = mechanism.make_server(lambda _user: auth_info)

    def first(self, client_initial: bytes) -> bytes:
        kind, body = wire.split_frontend(client_initial)[0]
        assert kind == b"p"
        end = body.index(b"\x00")
        assert body[:end] == b"SCRAM-SHA-256"
        (length,) = struct.unpack_from("!i", body, end + 1)
        self.server.set_client_first(body[end + 5 : end + 5 + length].decode())
        return wire.auth(11, self.server.get_server_first().encode())

    def final(self, client_final: bytes) -> bytes:
        kind, body = wire.split_frontend(client_final)[0]
        assert kind == b"p"
        self.server.set_client_final(body.decode())
        return wire.auth(12, self.server.get_server_final().encode())


def scram_to_final(password: str, server_password: str) -> tuple[ProtocolConnection, bytes]:
    core = ProtocolConnection(user="alice", password=password, scram_nonce="clientnonce123")
    core.data_to_send()
    server = ScramServer(server_password)
    core.receive_data(wire.auth(10, b"SCRAM-SHA-256\x00\x00"))
    assert drain(core) == [ev.AuthenticationRequest("sasl")]
    initial = core.data_to_send()
    assert b"n,,n=*,r=clientnonce123" in initial
    core.receive_data(server.first(initial))
    assert drain(core) == [ev.AuthenticationRequest("sasl-continue")]
    final = core.data_to_send()
    return core, server.final(final)


def test_scram_exchange() -> None:
    core, final = scram_to_final("pw", "pw")
    core.receive_data(final + wire.startup_ok())
    events = drain(core)
    assert events[0] == ev.AuthenticationRequest("sasl-final")
    assert events[-1] == ev.ReadyForQuery("I")
    assert core.state is State.READY


def test_scram_wrong_server_signature_is_refused() -> None:
    core, _ = scram_to_final("pw", "pw")
    bogus = wire.auth(12, b"v=" + b"A" * 44)
    core.receive_data(bogus)
    with pytest.raises(ProtocolError, match="prove"):
        drain(core)
    assert core.state is State.DEAD


def test_scram_skipping_the_signature_is_refused() -> None:
    core, _ = scram_to_final("pw", "pw")
    core.receive_data(wire.auth_ok())
    with pytest.raises(ProtocolError, match="without proving"):
        drain(core)


def test_scram_then_cleartext_downgrade_is_refused() -> None:
    core, _ = scram_to_final("pw", "pw")
    core.receive_data(wire.auth(3))
    with pytest.raises(ProtocolError, match="middle of SCRAM"):
        drain(core)


def test_secrets_not_in_repr() -> None:
    core = ProtocolConnection(user="alice", password="hunter2-secret", scram_nonce="n")
    assert "hunter2" not in repr(core)
    assert "hunter2" not in repr(core._auth)


def test_fatal_error_during_startup() -> None:
    core = ProtocolConnection(user="alice", password="x")
    core.data_to_send()
    core.receive_data(wire.auth(3))
    drain(core)
    core.receive_data(wire.error("28P01", "password authentication failed", "FATAL"))
    (event,) = drain(core)
    assert isinstance(event, ev.ErrorResponse) and event.is_fatal
    assert event.fields["C"] == "28P01"
    core.receive_data(b"")
    assert core.next_event() == ev.ConnectionClosed(expected=True)


def test_negotiate_protocol_version() -> None:
    core = ProtocolConnection(user="alice")
    core.data_to_send()
    body = struct.pack("!ii", 0, 1) + b"_pq_.thing\x00"
    core.receive_data(wire.msg(b"v", body) + wire.startup_ok())
    events = drain(core)
    assert events[0] == ev.NegotiateProtocolVersion(0, ("_pq_.thing",))


@pytest.mark.parametrize("size", [0, 3, 257])
def test_backend_key_data_sizes_refused(size: int) -> None:
    core = ProtocolConnection(user="alice")
    core.data_to_send()
    core.receive_data(wire.auth_ok() + wire.backend_key_data(1, b"x" * size))
    with pytest.raises(ProtocolError, match="BackendKeyData"):
        drain(core)


def test_ready_for_query_before_auth_is_refused() -> None:
    core = ProtocolConnection(user="alice")
    core.data_to_send()
    core.receive_data(wire.ready("I"))
    with pytest.raises(ProtocolError, match="before authentication"):
        drain(core)


# -- queries -----------------------------------------------------------------


ONE_SHOT_REPLY = wire.one_shot_reply([[b"1", None], [b"2", b"x"]], [("a", 23, 0), ("b", 25, 0)])


def one_shot(core: ProtocolConnection) -> None:
    core.send_unnamed_query("SELECT a, b FROM t", [], [], [], [0])


def test_one_shot_query_events() -> None:
    core = started()
    one_shot(core)
    assert core.state is State.BUSY
    sent = wire.split_frontend(core.data_to_send())
    assert [k for k, _ in sent] == [b"P", b"B", b"D", b"E", b"C", b"S"]
    core.receive_data(ONE_SHOT_REPLY)
    events = drain(core)
    assert [type(e).__name__ for e in events] == [
        "ParseComplete",
        "BindComplete",
        "RowDescription",
        "DataRow",
        "DataRow",
        "CommandComplete",
        "CloseComplete",
        "ReadyForQuery",
    ]
    assert events[3] == ev.DataRow((b"1", None))
    assert events[5] == ev.CommandComplete("SELECT 2")
    assert core.state is State.READY


@given(st.data())
def test_transcript_split_anywhere_gives_same_events(data: st.DataObject) -> None:
    reference = started()
    one_shot(reference)
    reference.receive_data(ONE_SHOT_REPLY)
    expected = drain(reference)

    core = started()
    one_shot(core)
    events = []
    for piece in data.draw(chunked(ONE_SHOT_REPLY, max_pieces=21)):
        core.receive_data(piece)
        events.extend(drain(core))
    assert events == expected


def test_transcript_byte_by_byte() -> None:
    core = started()
    one_shot(core)
    events = []
    for i in range(len(ONE_SHOT_REPLY)):
        core.receive_data(ONE_SHOT_REPLY[i : i + 1])
        events.extend(drain(core))
    assert len(events) == 8
    assert core.state is State.READY


def test_error_skips_to_sync() -> None:
    core = started()
    one_shot(core)
    core.receive_data(wire.error("42P01", "relation does not exist") + wire.ready("I"))
    events = drain(core)
    assert isinstance(events[0], ev.ErrorResponse)
    assert events[1] == ev.ReadyForQuery("I")
    assert core.state is State.READY
    one_shot(core)
    core.receive_data(ONE_SHOT_REPLY)
    assert drain(core)[-1] == ev.ReadyForQuery("I")


def test_error_after_bind_in_transaction() -> None:
    core = started()
    one_shot(core)
    core.receive_data(
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.error("22012", "division by zero")
        + wire.ready("E")
    )
    events = drain(core)
    assert events[-1] == ev.ReadyForQuery("E")
    assert core.transaction_status == "E"


def test_simple_query_several_results() -> None:
    core = started()
    core.send_query("SELECT 1; SELECT 'x'; CREATE TABLE t ()")
    reply = (
        wire.row_description([("?column?", 23, 0)])
        + wire.data_row([b"1"])
        + wire.command_complete("SELECT 1")
        + wire.row_description([("?column?", 25, 0)])
        + wire.data_row([b"x"])
        + wire.command_complete("SELECT 1")
        + wire.command_complete("CREATE TABLE")
        + wire.ready("I")
    )
    core.receive_data(reply)
    events = drain(core)
    assert [e for e in events if isinstance(e, ev.CommandComplete)] == [
        ev.CommandComplete("SELECT 1"),
        ev.CommandComplete("SELECT 1"),
        ev.CommandComplete("CREATE TABLE"),
    ]
    assert core.state is State.READY


def test_empty_query() -> None:
    core = started()
    core.send_query("")
    core.receive_data(wire.EMPTY_QUERY + wire.ready("I"))
    assert drain(core) == [ev.EmptyQueryResponse(), ev.ReadyForQuery("I")]


def test_async_messages_anywhere() -> None:
    core = started()
    core.receive_data(wire.notice("idle notice") + wire.notification(5, "ch", "payload"))
    events = drain(core)
    assert isinstance(events[0], ev.NoticeResponse)
    assert events[1] == ev.NotificationResponse(5, "ch", "payload")
    one_shot(core)
    reply = ONE_SHOT_REPLY
    core.receive_data(reply[:10] + b"")
    core.receive_data(reply[10:])
    core.receive_data(wire.parameter_status("TimeZone", "UTC"))
    events = drain(core)
    assert events[-1] == ev.ParameterStatus("TimeZone", "UTC")
    assert core.parameters["TimeZone"] == "UTC"


def test_portal_suspended_ends_execute() -> None:
    core = started()
    core.send_parse("", "SELECT 1", [])
    core.send_bind("", "", [], [], [])
    core.send_execute("", 1)
    core.send_sync()
    core.receive_data(
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.data_row([b"1"])
        + wire.PORTAL_SUSPENDED
        + wire.ready()
    )
    events = drain(core)
    assert ev.PortalSuspended() in events
    assert core.state is State.READY


def test_describe_statement() -> None:
    core = started()
    core.send_parse("s1", "SELECT $1::int", [0])
    core.send_describe("S", "s1")
    core.send_sync()
    core.receive_data(
        wire.PARSE_COMPLETE
        + wire.msg(b"t", struct.pack("!hI", 1, 23))
        + wire.row_description([("int4", 23, 0)])
        + wire.ready()
    )
    events = drain(core)
    assert ev.ParameterDescription((23,)) in events
    assert core.state is State.READY


def test_copy_in_is_refused_and_stays_in_sync() -> None:
    core = started()
    core.send_query("COPY t FROM STDIN")
    core.data_to_send()
    core.receive_data(wire.msg(b"G", struct.pack("!bh", 0, 0)))
    events = drain(core)
    assert isinstance(events[0], ev.CopyInResponse)
    kind, _body = wire.split_frontend(core.data_to_send())[0]
    assert kind == b"f"
    core.receive_data(wire.error("57014", "COPY from stdin failed") + wire.ready())
    assert drain(core)[-1] == ev.ReadyForQuery("I")
    assert core.state is State.READY


def test_copy_out_is_consumed() -> None:
    core = started()
    core.send_query("COPY t TO STDOUT")
    core.receive_data(
        wire.msg(b"H", struct.pack("!bh", 0, 0))
        + wire.msg(b"d", b"1\n")
        + wire.msg(b"c")
        + wire.command_complete("COPY 1")
        + wire.ready()
    )
    events = drain(core)
    assert ev.CopyData(b"1\n") in events
    assert core.state is State.READY


def test_terminate_then_eof() -> None:
    core = started()
    core.send_terminate()
    assert core.data_to_send() == frontend.TERMINATE
    core.receive_data(b"")
    assert core.next_event() == ev.ConnectionClosed(expected=True)
    with pytest.raises(InterfaceError):
        core.send_query("SELECT 1")


def test_eof_mid_query_is_unexpected() -> None:
    core = started()
    one_shot(core)
    core.receive_data(ONE_SHOT_REPLY[:20])
    core.receive_data(b"")
    events = drain_until_closed(core)
    assert events[-1] == ev.ConnectionClosed(expected=False)
    assert core.state is State.CLOSED


def drain_until_closed(core: ProtocolConnection) -> list[ev.Event]:
    out = []
    while True:
        event = core.next_event()
        assert event is not NEED_DATA
        out.append(event)
        if isinstance(event, ev.ConnectionClosed):
            return out


def test_fatal_error_mid_query() -> None:
    core = started()
    one_shot(core)
    core.receive_data(
        wire.error("57P01", "terminating connection due to administrator command", "FATAL")
    )
    (event,) = drain(core)
    assert isinstance(event, ev.ErrorResponse) and event.is_fatal
    assert core.state is State.CLOSING


def test_style_parameter_changes_are_followed() -> None:
    core = started()
    for name, value in (("DateStyle", "German, DMY"), ("IntervalStyle", "sql_standard")):
        core.receive_data(wire.parameter_status(name, value))
        assert drain(core) == [ev.ParameterStatus(name, value)]
        assert core.parameters[name] == value
    core.send_query("SELECT 1")  # still usable


def test_pinned_parameter_change_kills_the_connection() -> None:
    core = started()
    core.receive_data(wire.parameter_status("client_encoding", "LATIN1"))
    with pytest.raises(ProtocolError, match=r"client_encoding to 'LATIN1'.*only in UTF8"):
        drain(core)
    with pytest.raises(ProtocolError, match="unusable"):
        core.next_event()
    with pytest.raises(ProtocolError, match="unusable"):
        core.send_query("SELECT 1")


def test_message_size_limit_checked_before_buffering() -> None:
    core = ProtocolConnection(user="alice", max_message_size=1000)
    core.data_to_send()
    core.receive_data(b"D" + struct.pack("!i", 1_000_000))
    with pytest.raises(ProtocolError, match="over the limit"):
        core.next_event()


# -- every (expectation, message) pair ------------------------------------------

SAMPLES = {
    b"1": wire.PARSE_COMPLETE,
    b"2": wire.BIND_COMPLETE,
    b"3": wire.CLOSE_COMPLETE,
    b"n": wire.NO_DATA,
    b"I": wire.EMPTY_QUERY,
    b"s": wire.PORTAL_SUSPENDED,
    b"T": wire.row_description([("a", 23, 0)]),
    b"D": wire.data_row([b"1"]),
    b"C": wire.command_complete("SELECT 1"),
    b"Z": wire.ready(),
    b"t": wire.msg(b"t", struct.pack("!h", 0)),
    b"K": wire.backend_key_data(1, b"1234"),
    b"v": wire.msg(b"v", struct.pack("!ii", 0, 0)),
    b"c": wire.msg(b"c"),
    b"d": wire.msg(b"d", b"x"),
    b"R": wire.auth_ok(),
    b"E": wire.error(),
    b"N": wire.notice(),
    b"A": wire.notification(1, "c", "p"),
    b"S": wire.parameter_status("x", "y"),
    b"G": wire.msg(b"G", struct.pack("!bh", 0, 0)),
    b"H": wire.msg(b"H", struct.pack("!bh", 0, 0)),
    b"W": wire.msg(b"W", struct.pack("!bh", 0, 0)),
    b"?": wire.msg(b"?"),
}

COMMANDS = {
    "idle": lambda core: None,
    "parse": lambda core: core.send_parse("", "x", []),
    "bind": lambda core: core.send_bind("", "", [], [], []),
    "describe-statement": lambda core: core.send_describe("S", ""),
    "describe-portal": lambda core: core.send_describe("P", ""),
    "execute": lambda core: core.send_execute(""),
    "close": lambda core: core.send_close("S", ""),
    "sync": lambda core: core.send_sync(),
    "query": lambda core: core.send_query("x"),
}

ACCEPTED = {
    "idle": {b"E", b"N", b"A", b"S"},
    "parse": {b"1", b"E", b"N", b"A", b"S"},
    "bind": {b"2", b"E", b"N", b"A", b"S"},
    "describe-statement": {b"t", b"E", b"N", b"A", b"S"},
    "describe-portal": {b"T", b"n", b"E", b"N", b"A", b"S"},
    "execute": {b"D", b"C", b"I", b"s", b"G", b"H", b"E", b"N", b"A", b"S"},
    "close": {b"3", b"E", b"N", b"A", b"S"},
    "sync": {b"Z", b"E", b"N", b"A", b"S"},
    "query": {b"T", b"D", b"C", b"I", b"Z", b"G", b"H", b"E", b"N", b"A", b"S"},
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("kind", list(SAMPLES))
def test_every_state_message_pair(command: str, kind: bytes) -> None:
    core = started()
    COMMANDS[command](core)
    core.receive_data(SAMPLES[kind])
    if kind in ACCEPTED[command] and not (command == "idle" and kind == b"E"):
        event = core.next_event()
        assert event is not NEED_DATA
    else:
        with pytest.raises(ProtocolError):
            core.next_event()
        assert core.state is State.DEAD


# -- anything the server sends raises nothing but ProtocolError ---------------


@given(st.binary(max_size=300), st.sampled_from(list(COMMANDS)))
def test_random_bytes_only_raise_protocol_error(data: bytes, command: str) -> None:
    core = started()
    COMMANDS[command](core)
    core.receive_data(data)
    try:
        for _ in range(400):
            if core.next_event() is NEED_DATA:
                break
    except (ProtocolError, OperationalError):
        assert core.state is State.DEAD


@given(st.binary(max_size=200))
def test_random_bytes_during_startup(data: bytes) -> None:
    core = ProtocolConnection(user="alice", password="pw", scram_nonce="nonce")
    core.data_to_send()
    core.receive_data(data)
    try:
        for _ in range(400):
            if core.next_event() is NEED_DATA:
                break
    except (ProtocolError, OperationalError):
        assert core.state is State.DEAD


@given(mutated(ONE_SHOT_REPLY, mutations=["flip"], max_mutations=5))
def test_mutated_transcripts_only_raise_protocol_error(reply: bytes) -> None:
    core = started()
    one_shot(core)
    core.receive_data(reply)
    try:
        for _ in range(100):
            if core.next_event() is NEED_DATA:
                break
    except ProtocolError:
        assert core.state is State.DEAD


# -- pipelined connect ---------------------------------------------------------


def kinds(data: bytes) -> list[bytes]:
    _, _, rest = wire.parse_startup(data)
    return [k for k, _ in wire.split_frontend(rest)]


def test_trust_guess_sends_startup_and_query_together() -> None:
    core = ProtocolConnection(user="alice", pipeline="trust")
    one_shot(core)
    assert kinds(core.data_to_send()) == [b"P", b"B", b"D", b"E", b"C", b"S"]
    core.receive_data(wire.startup_ok() + ONE_SHOT_REPLY)
    events = drain(core)
    assert sum(isinstance(e, ev.ReadyForQuery) for e in events) == 2
    assert core.state is State.READY


def test_password_guess_sends_the_password_unasked() -> None:
    core = ProtocolConnection(
        user="alice", password="pw", pipeline="password", allow_unverified_pipelining=True
    )
    one_shot(core)
    assert kinds(core.data_to_send())[:2] == [b"p", b"P"]
    core.receive_data(wire.auth(3) + wire.startup_ok() + ONE_SHOT_REPLY)
    drain(core)
    assert core.data_to_send() == b""  # the request was answered by the guess
    assert core.state is State.READY


def test_scram_guess_holds_the_query_until_the_client_final() -> None:
    core = ProtocolConnection(
        user="alice",
        password="pw",
        scram_nonce="nonce",
        pipeline="scram",
        allow_unverified_pipelining=True,
    )
    first = core.data_to_send()
    assert kinds(first) == [b"p"]
    one_shot(core)
    assert core.data_to_send() == b""  # held: the server must read the SCRAM messages first
    server = ScramServer("pw")
    _, _, initial = wire.parse_startup(first)
    core.receive_data(wire.auth(10, b"SCRAM-SHA-256\x00\x00") + server.first(initial))
    drain(core)
    flight = core.data_to_send()
    assert [k for k, _ in wire.split_frontend(flight)] == [b"p", b"P", b"B", b"D", b"E", b"C", b"S"]


def test_pipelined_scram_with_a_bad_signature_discards_the_results() -> None:
    core = ProtocolConnection(
        user="alice",
        password="pw",
        scram_nonce="nonce",
        pipeline="scram",
        allow_unverified_pipelining=True,
    )
    _, _, initial = wire.parse_startup(core.data_to_send())
    one_shot(core)
    server = ScramServer("pw")
    core.receive_data(wire.auth(10, b"SCRAM-SHA-256\x00\x00") + server.first(initial))
    drain(core)
    core.data_to_send()
    core.receive_data(wire.auth(12, b"v=" + b"A" * 44) + wire.startup_ok() + ONE_SHOT_REPLY)
    with pytest.raises(ProtocolError, match="prove"):
        while core.next_event() is not NEED_DATA:
            pass
    with pytest.raises(ProtocolError):
        core.next_event()


def test_auto_holds_the_query_until_the_last_auth_message() -> None:
    core = ProtocolConnection(user="alice", password="pw", pipeline="auto")
    core.data_to_send()
    one_shot(core)
    assert core.data_to_send() == b""
    core.receive_data(wire.auth(5, b"salt"))
    drain(core)
    assert [k for k, _ in wire.split_frontend(core.data_to_send())][:2] == [b"p", b"P"]


def test_auto_scram_without_opt_in_waits_for_the_signature() -> None:
    core = ProtocolConnection(user="alice", password="pw", scram_nonce="n", pipeline="auto")
    core.data_to_send()
    one_shot(core)
    server = ScramServer("pw")
    core.receive_data(wire.auth(10, b"SCRAM-SHA-256\x00\x00"))
    drain(core)
    core.receive_data(server.first(core.data_to_send()))
    drain(core)
    final = core.data_to_send()
    assert [k for k, _ in wire.split_frontend(final)] == [b"p"]  # no query yet
    core.receive_data(server.final(final) + wire.startup_ok())
    drain(core)
    assert wire.split_frontend(core.data_to_send())[0][0] == b"P"


# -- runs of DataRows taken at once ----------------------------------------------


def test_next_rows_takes_a_run_of_data_rows() -> None:
    core = started()
    assert core.next_rows() == []  # no rows owed
    one_shot(core)
    core.receive_data(ONE_SHOT_REPLY)
    events = []
    while not isinstance(event := core.next_event(), ev.RowDescription):
        events.append(event)
    assert core.next_rows() == [(b"1", None), (b"2", b"x")]
    assert core.next_rows() == []  # the CommandComplete is next: ask next_event
    assert core.next_event() == ev.CommandComplete("SELECT 2")
    assert core.next_rows() == []
    assert drain(core)[-1] == ev.ReadyForQuery("I")


def test_next_rows_with_a_malformed_row_kills_the_connection() -> None:
    core = started()
    one_shot(core)
    core.receive_data(
        wire.PARSE_COMPLETE
        + wire.BIND_COMPLETE
        + wire.row_description([("a", 23, 0)])
        + wire.data_row([b"1"])
        + wire.msg(b"D", b"\x00\x01\x00\x00\x00\x09ab")
    )
    while not isinstance(core.next_event(), ev.RowDescription):
        pass
    with pytest.raises(ProtocolError, match="DataRow"):
        core.next_rows()
    assert core.state is State.DEAD


@given(
    st.lists(st.lists(st.one_of(st.none(), st.binary(max_size=40)), max_size=5), max_size=20),
    st.sampled_from([[], [0], [1], [0, 1, 0, 1, 1]]),
    st.sampled_from([[], [0], [1]]),
)
def test_bind_execute_values_matches_bind_and_execute(
    rows: list[list[bytes | None]], formats: list[int], results: list[int]
) -> None:
    expected = b"".join(
        frontend.bind("", "", formats, row, results) + frontend.execute("", 0) for row in rows
    )
    counts = {len(row) for row in rows}
    for count in counts:  # one call per run of rows with one parameter count
        same = [row for row in rows if len(row) == count]
        data = frontend.bind_execute_values(
            formats, count, [frontend.bind_values(row) for row in same], results
        )
        assert data == b"".join(
            frontend.bind("", "", formats, row, results) + frontend.execute("", 0) for row in same
        )
    if len(counts) <= 1:
        values = [frontend.bind_values(row) for row in rows]
        count = counts.pop() if counts else 0
        assert frontend.bind_execute_values(formats, count, values, results) == expected


@given(st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5))))
def test_bind_values_writer_matches_bind_values(row: list[object]) -> None:
    columns = [(int, struct.Struct("!q").pack), (str, str.encode)] * 3
    writer = frontend.bind_values_writer(columns[: len(row)])
    written = writer(row)
    fits = len(row) <= len(columns) and all(
        value is None or type(value) is columns[i][0] for i, value in enumerate(row)
    )
    if fits:
        encoded = [None if value is None else columns[i][1](value) for i, value in enumerate(row)]
        assert written == frontend.bind_values(encoded)
    else:
        assert written is None
    assert frontend.bind_values_writer(columns[:2])(row) is None or len(row) == 2


def test_rewind_drops_what_was_queued_after_the_mark() -> None:
    core = started()
    core.send_query("SELECT 1")
    mark = core.mark()
    core.send_parse("", "SELECT 2")
    core.send_sync()
    assert core.pending == 3
    core.rewind(mark)
    assert (core.pending, core.state) == (1, State.BUSY)
    assert core.data_to_send() == frontend.query("SELECT 1")
    core.receive_data(wire.command_complete("SELECT 1") + wire.ready())
    assert [type(e) for e in drain(core)] == [ev.CommandComplete, ev.ReadyForQuery]
    assert core.state is State.READY


def test_rewind_to_an_idle_mark_is_ready_again() -> None:
    core = started()
    mark = core.mark()
    core.send_query("SELECT 1")
    core.rewind(mark)
    assert (core.pending, core.state, core.data_to_send()) == (0, State.READY, b"")
    core.send_query("SELECT 2")
    queued = core.mark()
    core.data_to_send()
    with pytest.raises(InterfaceError, match="sent since the mark"):
        core.rewind(queued)


def test_error_before_the_sync_is_queued_skips_what_follows() -> None:
    # executemany still sending (or a stream's Flush): the error comes before
    # the Sync is queued; the server answers nothing more until that Sync.
    core = started()
    core.send_parse("", "SELECT 1/0")
    core.send_bind("", "", [], [], [])
    core.send_execute("")
    core.send_flush()
    core.data_to_send()
    core.receive_data(wire.PARSE_COMPLETE + wire.BIND_COMPLETE + wire.error("22012"))
    assert [type(e) for e in drain(core)] == [ev.ParseComplete, ev.BindComplete, ev.ErrorResponse]
    core.send_bind("", "", [], [], [])  # sent after the error: skipped by the server
    core.send_execute("")
    core.send_close("S", "")
    core.send_sync()
    core.send_query("SELECT 2")  # after the Sync: answered again
    core.data_to_send()
    core.receive_data(wire.ready() + wire.command_complete("SELECT 1") + wire.ready())
    events = [type(e) for e in drain(core)]
    assert events == [ev.ReadyForQuery, ev.CommandComplete, ev.ReadyForQuery]
    assert core.state is State.READY
