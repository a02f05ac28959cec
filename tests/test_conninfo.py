"""Connection strings, keyword arguments and the environment."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgpipe.conninfo import parse_dsn
from pgpipe.errors import InterfaceError


def test_defaults() -> None:
    p = parse_dsn(None, {}, {"USER": "ada"})
    assert (p.host, p.port, p.user, p.dbname, p.password) == ("localhost", 5432, "ada", "ada", None)
    assert p.unix_socket_path() is None


def test_uri() -> None:
    p = parse_dsn(
        "postgresql://u%40x:p%3Ass@db.example.com:6543/my%20db?application_name=app&connect_timeout=3",
        {},
        {},
    )
    assert (p.user, p.password, p.host, p.port, p.dbname) == (
        "u@x",
        "p:ss",
        "db.example.com",
        6543,
        "my db",
    )
    assert p.application_name == "app" and p.connect_timeout == 3.0


def test_uri_ipv6_and_socket_path() -> None:
    p = parse_dsn("postgres://[::1]:5433/db", {}, {})
    assert (p.host, p.port) == ("::1", 5433)
    p = parse_dsn("postgresql://%2Fvar%2Frun%2Fpostgresql/db", {}, {})
    assert p.host == "/var/run/postgresql"
    assert p.unix_socket_path() == "/var/run/postgresql/.s.PGSQL.5432"
    p = parse_dsn("postgresql:///db?host=/tmp/sock&port=7000", {}, {})
    assert p.unix_socket_path() == "/tmp/sock/.s.PGSQL.7000"


def test_keyword_value_string() -> None:
    p = parse_dsn(r"host=h port=5 dbname='my db' password='it\'s' user=u", {}, {})
    assert (p.host, p.port, p.dbname, p.password, p.user) == ("h", 5, "my db", "it's", "u")


def test_precedence() -> None:
    environ = {"PGHOST": "envhost", "PGUSER": "envuser", "PGPORT": "1111", "PGPASSWORD": "envpw"}
    p = parse_dsn("postgresql://dsnuser@dsnhost/db", {"user": "kwuser"}, environ)
    assert (p.user, p.host, p.port, p.password) == ("kwuser", "dsnhost", 1111, "envpw")
    assert parse_dsn(None, {"database": "alias"}, {}).dbname == "alias"


@pytest.mark.parametrize(
    ("dsn", "params", "match"),
    [
        ("postgresql://h/db?sslmod=require", {}, "unknown connection parameter 'sslmod'"),
        (None, {"hots": "x"}, "unknown connection parameter 'hots'"),
        ("bogus=1", {}, "unknown connection parameter 'bogus'"),
        (None, {"port": "abc"}, "invalid port"),
        (None, {"port": 70000}, "invalid port"),
        (None, {"connect_timeout": "soon"}, "invalid connect_timeout"),
        ("postgresql://a,b/db", {}, "several hosts"),
        ("mysql://h/db", {}, "postgresql://"),
        ("host='unterminated", {}, "unterminated"),
    ],
)
def test_errors_name_the_parameter(dsn: str | None, params: dict[str, object], match: str) -> None:
    with pytest.raises(InterfaceError, match=match):
        parse_dsn(dsn, params, {})


def test_password_never_in_errors_or_repr() -> None:
    secret = "s3cr3t-pw"
    with pytest.raises(InterfaceError) as info:
        parse_dsn(f"postgresql://u:{secret}@h/db?nope=1", {}, {})
    assert secret not in str(info.value)
    p = parse_dsn(f"postgresql://u:{secret}@h/db", {}, {})
    assert secret not in repr(p)


def test_connect_timeout_zero_means_no_limit() -> None:
    assert parse_dsn(None, {"connect_timeout": 0}, {}).connect_timeout is None


parts = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20)


@given(user=parts, password=parts, dbname=parts, port=st.integers(1, 65535))
def test_uri_round_trip(user: str, password: str, dbname: str, port: int) -> None:
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    uri = f"postgresql://{credentials}@host:{port}/{quote(dbname, safe='')}"
    p = parse_dsn(uri, {}, {})
    assert (p.user, p.password, p.dbname, p.port) == (user, password, dbname, port)
