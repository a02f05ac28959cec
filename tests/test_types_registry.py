"""Types registered on a connection: domains, composites, enums, hstore, custom codecs."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import pgpipe
from pgpipe import types
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter, Client

SETUP = """
DROP TABLE IF EXISTS registry_t;
DROP TYPE IF EXISTS reg_pair, reg_nested, reg_mood CASCADE;
DROP DOMAIN IF EXISTS reg_posint CASCADE;
CREATE DOMAIN reg_posint AS int CHECK (VALUE > 0);
CREATE TYPE reg_pair AS (a int, b text, "when" date);
CREATE TYPE reg_nested AS (p reg_pair, tags text[], n numeric);
CREATE TYPE reg_mood AS ENUM ('sad', 'ok', 'happy');
CREATE EXTENSION IF NOT EXISTS hstore;
"""


@pytest.fixture
def conn(adapter: Adapter, pg_server: TemporaryPostgres, dsn: str) -> Client:
    pg_server.psql(SETUP, dbname="pgpipe")
    return adapter.connect(dsn)


def both(conn: Client, sql: str, *params: Any) -> list[Any]:
    """Through a never-seen SQL text (text results), then a learned one (binary)."""
    learned = f"{sql} /* learned */"
    conn.query(learned, *params)
    fresh = conn.query(f"{sql} /* {uuid.uuid4()} */", *params).rows[0][0]
    return [fresh, conn.query(learned, *params).rows[0][0]]


def test_unregistered_types_come_back_as_str(conn: Client) -> None:
    assert both(conn, "SELECT ROW(1, 'x', NULL)::reg_pair") == ["(1,x,)", "(1,x,)"]
    assert both(conn, "SELECT 'a=>1'::hstore") == ['"a"=>"1"', '"a"=>"1"']


def test_composite(conn: Client) -> None:
    info = conn.register_type("reg_pair")
    assert info.kind == "c" and info.attribute_names == ("a", "b", "when")
    value = both(conn, "SELECT ROW(1, 'x y', '2024-02-29')::reg_pair")
    assert value[0] == value[1] == (1, "x y", dt.date(2024, 2, 29))
    assert value[0].b == "x y" and value[0].when == dt.date(2024, 2, 29)
    # standard_conforming_strings: the SQL literal holds two backslashes.
    assert both(conn, "SELECT ROW(NULL, '\"q,\\\\', NULL)::reg_pair")[0] == (None, '"q,\\\\', None)
    # Sent from a tuple, as a row literal; arrays of it follow.
    sent = (7, 'a "quoted", \\ text', dt.date(2000, 1, 1))
    assert conn.query_with_param_types("SELECT $1::reg_pair", [(sent, info.oid)]).rows == [(sent,)]
    arrays = both(conn, "SELECT ARRAY[ROW(1,'a',NULL)::reg_pair, NULL]")
    assert arrays[0] == arrays[1] == [(1, "a", None), None]


def test_nested_composite(conn: Client) -> None:
    conn.register_type("reg_pair")
    conn.register_type("reg_nested")
    sql = "SELECT ROW(ROW(1,'x',NULL)::reg_pair, ARRAY['a','b c'], 1.50)::reg_nested"
    fresh, again = both(conn, sql)
    assert fresh == again == ((1, "x", None), ["a", "b c"], Decimal("1.50"))


def test_domain_and_its_array(conn: Client) -> None:
    info = conn.register_type("reg_posint")
    assert info.kind == "d" and info.base_oid == pgpipe.Type.INT4
    assert both(conn, "SELECT ARRAY[1, 2]::reg_posint[]") == [[1, 2], [1, 2]]
    assert conn.query_with_param_types("SELECT $1", [(5, info.oid)]).rows == [(5,)]
    with pytest.raises(pgpipe.errors.CheckViolation):
        conn.query_with_param_types("SELECT $1", [(-5, info.oid)])


def test_a_domain_refuses_decoders(conn: Client) -> None:
    # The server reports a domain's values with its base type's OID: a decoder
    # for the domain would never run, so registering one says so.
    for codec in ({"decode": str.upper}, {"decode_binary": bytes.hex}):
        with pytest.raises(pgpipe.InterfaceError, match=r"reg_posint is a domain.*base type"):
            conn.register_type("reg_posint", **codec)  # type: ignore[arg-type]
    # Nothing was registered; the connection is fine.
    assert both(conn, "SELECT ARRAY[1, 2]::reg_posint[]") == ["{1,2}", "{1,2}"]
    assert both(conn, "SELECT 5::reg_posint") == [5, 5]


def test_a_domain_takes_an_encoder(conn: Client) -> None:
    info = conn.register_type("reg_posint", encode=lambda value: str(len(str(value))))
    assert conn.query_with_param_types("SELECT $1", [(Mood("abcd"), info.oid)]).rows == [(4,)]
    sent = [Mood("a"), None, Mood("abc")]
    assert conn.query_with_param_types("SELECT $1", [(sent, info.array_oid)]).rows == [
        ([1, None, 3],)
    ]
    # Results still come through the base type's decoders.
    assert both(conn, "SELECT ARRAY[1, 2]::reg_posint[]") == [[1, 2], [1, 2]]
    # In binary too; the domain's CHECK still applies.
    info = conn.register_type(
        "reg_posint",
        encode_binary=lambda value: (
            len(str(value)).to_bytes(4, "big") if str(value) else b"\xff" * 4
        ),
    )
    assert conn.query_with_param_types("SELECT $1", [(Mood("ab"), info.oid)]).rows == [(2,)]
    assert conn.query_with_param_types("SELECT $1", [([Mood("abc")], info.array_oid)]).rows == [
        ([3],)
    ]
    with pytest.raises(pgpipe.errors.CheckViolation):
        conn.query_with_param_types("SELECT $1", [(Mood(""), info.oid)])
    assert conn.query("SELECT 1").rows == [(1,)]


def test_a_decoded_composite_goes_back_as_a_parameter(conn: Client) -> None:
    pair = conn.register_type("reg_pair")
    nested = conn.register_type("reg_nested")
    row = conn.query("SELECT ROW(1, 'x', '2024-02-29')::reg_pair").rows[0][0]
    assert type(row).__name__ == "reg_pair"
    assert conn.query_with_param_types("SELECT $1", [(row, pair.oid)]).rows == [(row,)]
    assert conn.query_with_param_types("SELECT $1", [([row, None], pair.array_oid)]).rows == [
        ([row, None],)
    ]
    outer = conn.query_with_param_types(
        "SELECT $1", [((row, ["a"], Decimal("1.5")), nested.oid)]
    ).rows[0][0]
    assert outer == (row, ["a"], Decimal("1.5")) and outer.p.when == dt.date(2024, 2, 29)
    assert conn.query_with_param_types("SELECT $1", [(outer, nested.oid)]).rows == [(outer,)]
    with pytest.raises(pgpipe.DataError, match="composite is sent from a tuple, not dict"):
        conn.query_with_param_types("SELECT $1", [({"a": 1}, pair.oid)])
    with pytest.raises(pgpipe.DataError, match="has 3 attributes, not 2"):
        conn.query_with_param_types("SELECT $1", [((1, "x"), pair.oid)])
    assert conn.query("SELECT 1").rows == [(1,)]


def test_query_infers_a_registered_composite_from_its_row(conn: Client) -> None:
    conn.register_type("reg_pair")
    row = conn.query("SELECT ROW(1, 'x', '2024-02-29')::reg_pair").rows[0][0]
    assert both(conn, "SELECT $1", row) == [row, row]
    assert conn.query("SELECT ($1::reg_pair).b, $2::int", row, 5).rows == [("x", 5)]
    assert conn.query(
        "SELECT $1 IS NOT DISTINCT FROM ROW(1, 'x', '2024-02-29')::reg_pair", row
    ).rows == [(True,)]
    # A plain tuple says nothing of its type: still refused, saying so.
    with pytest.raises(pgpipe.DataError, match="cannot adapt type tuple"):
        conn.query("SELECT $1::reg_pair", (1, "x", None))
    assert conn.query("SELECT 1").rows == [(1,)]


def test_enum_is_str_and_arrays_follow(conn: Client) -> None:
    conn.register_type("reg_mood")
    assert both(conn, "SELECT 'happy'::reg_mood") == ["happy", "happy"]
    assert both(conn, "SELECT ARRAY['sad','ok']::reg_mood[]") == [["sad", "ok"], ["sad", "ok"]]


def test_hstore(conn: Client) -> None:
    info = conn.register_type("hstore")
    value = {"a": "1", 'we"ird': "va\\lue", "none": None, "": ""}
    assert conn.query_with_param_types("SELECT $1::hstore", [(value, info.oid)]).rows == [(value,)]
    assert both(conn, "SELECT 'a=>1, b=>NULL'::hstore") == [{"a": "1", "b": None}] * 2


def test_custom_text_codec(conn: Client) -> None:
    info = conn.register_type(
        "reg_mood", decode=lambda text: text.upper(), encode=lambda value: str(value).lower()
    )
    assert both(conn, "SELECT 'ok'::reg_mood") == ["OK", "OK"]
    assert conn.query_with_param_types("SELECT $1::text", [("HAPPY", 25)]).rows == [("HAPPY",)]
    assert conn.query_with_param_types("SELECT $1", [(Mood("SAD"), info.oid)]).rows == [("SAD",)]


class Mood:
    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


def test_unknown_type_name(conn: Client) -> None:
    with pytest.raises(pgpipe.errors.UndefinedObject):
        conn.register_type("no_such_type_here")
    assert conn.query("SELECT 1").rows == [(1,)]


def test_register_type_overrides_a_builtin_per_connection(
    conn: Client, adapter: Adapter, dsn: str
) -> None:
    conn.register_type("jsonb", decode=lambda text: ("raw", text))
    assert both(conn, "SELECT '{\"a\": 1}'::jsonb") == [("raw", '{"a": 1}')] * 2
    other = adapter.connect(dsn)
    assert other.query("SELECT '{\"a\": 1}'::jsonb").rows == [({"a": 1},)]


@pytest.fixture
def restore_codecs() -> Iterator[None]:
    tables = (types._TEXT_DECODERS, types._BINARY_DECODERS, types._BINARY_ENCODERS)
    saved = [dict(t) for t in tables]
    loads, dumps = types.binary.JSON.loads, types.binary.JSON.dumps
    yield
    for table, copy in zip(tables, saved, strict=True):
        table.clear()
        table.update(copy)
    types.set_json(loads, dumps)


def test_set_json(restore_codecs: None, conn: Client) -> None:
    types.set_json(
        loads=lambda data: json.loads(data, parse_float=Decimal),
        dumps=lambda value: json.dumps(value, default=str),
    )
    assert both(conn, "SELECT '{\"x\": 1.10}'::jsonb") == [{"x": Decimal("1.10")}] * 2
    day = dt.date(2024, 1, 2)
    assert conn.query("SELECT $1::jsonb ->> 'd'", {"d": day}).rows == [("2024-01-02",)]


def test_register_codec_globally(restore_codecs: None, adapter: Adapter, dsn: str) -> None:
    types.register_codec(
        pgpipe.Type.TSVECTOR,
        decode_text=lambda data: data.decode().replace("'", "").split(" "),
        array_oid=pgpipe.Type.TSVECTOR_ARRAY,
    )
    conn = adapter.connect(dsn)
    assert both(conn, "SELECT 'b a'::tsvector") == [["a", "b"]] * 2
    assert both(conn, "SELECT ARRAY['b a'::tsvector]") == [[["a", "b"]]] * 2


def test_custom_binary_codec(conn: Client) -> None:
    # hstore's binary form: a count, then length-prefixed keys and values.
    import struct

    def decode_binary(data: bytes) -> dict[str, str | None]:
        (count,) = struct.unpack_from("!i", data, 0)
        pos, out = 4, {}
        for _ in range(count):
            (n,) = struct.unpack_from("!i", data, pos)
            key = data[pos + 4 : pos + 4 + n].decode()
            pos += 4 + n
            (n,) = struct.unpack_from("!i", data, pos)
            pos += 4
            value = None if n == -1 else data[pos : pos + n].decode()
            pos += max(n, 0)
            out[key] = value
        return out

    def encode_binary(value: dict[str, str | None]) -> bytes:
        parts = [struct.pack("!i", len(value))]
        for key, item in value.items():
            parts += [struct.pack("!i", len(key.encode())), key.encode()]
            parts += (
                [struct.pack("!i", -1)]
                if item is None
                else [struct.pack("!i", len(item.encode())), item.encode()]
            )
        return b"".join(parts)

    from pgpipe.types.composite import hstore_decode

    with pytest.raises(pgpipe.InterfaceError, match="needs decode too"):
        conn.register_type("hstore", decode_binary=decode_binary)
    info = conn.register_type(
        "hstore",
        decode=lambda text: hstore_decode(text.encode()),
        decode_binary=decode_binary,
        encode_binary=encode_binary,  # type: ignore[arg-type]
    )
    value = {"a": "1", "b": None}
    assert both(conn, "SELECT 'a=>1, b=>NULL'::hstore") == [value, value]
    assert conn.query_with_param_types("SELECT $1", [(value, info.oid)]).rows == [(value,)]
    assert conn.query_with_param_types("SELECT $1", [([value, None], info.array_oid)]).rows == [
        ([value, None],)
    ]


def test_a_registered_date_type_decoder_takes_over_from_the_built_in_one(conn: Client) -> None:
    # A date/time column's text decoder is chosen when its rows are read (the
    # session's DateStyle and TimeZone of that moment): a decoder registered
    # afterwards for the type is the one read with, old and new SQL texts alike.
    sql = "SELECT date '2024-02-29'"
    assert conn.query(sql).rows == [(dt.date(2024, 2, 29),)]
    conn.register_type("date", decode=lambda text: ("mine", text))
    assert conn.query(f"{sql} /* {uuid.uuid4()} */").rows == [(("mine", "2024-02-29"),)]
    assert conn.query(sql).rows == [(("mine", "2024-02-29"),)]
