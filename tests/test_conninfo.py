"""Connection strings, keyword arguments and the environment."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgpipe import passfile, servicefile
from pgpipe.conninfo import (
    PARAMETERS,
    Host,
    make_conninfo,
    make_uri,
    parse_conninfo,
    parse_dsn,
    parse_require_auth,
)
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


def test_empty_environment_variables_are_not_set() -> None:
    # As libpq: an empty PGHOST or PGSERVICE is as good as none.
    environ = {"PGHOST": "", "PGSERVICE": "", "PGPORT": "", "PGUSER": "envuser"}
    p = parse_dsn(None, {}, environ)
    assert (p.host, p.port, p.user) == ("localhost", 5432, "envuser")


@pytest.mark.parametrize(
    ("dsn", "params", "match"),
    [
        ("postgresql://h/db?sslmod=require", {}, "unknown connection parameter 'sslmod'"),
        (None, {"hots": "x"}, "unknown connection parameter 'hots'"),
        ("bogus=1", {}, "unknown connection parameter 'bogus'"),
        (None, {"port": "abc"}, "invalid port"),
        (None, {"port": 70000}, "invalid port"),
        (None, {"connect_timeout": "soon"}, "invalid connect_timeout"),
        ("postgresql://a,b/db?port=1,2,3", {}, "3 port numbers to 2 hosts"),
        ("host=a,b hostaddr=1.2.3.4", {}, "2 host names to 1 hostaddr"),
        ("sslmode=verify", {}, "invalid sslmode value 'verify'"),
        ("channel_binding=maybe", {}, "invalid channel_binding"),
        ("target_session_attrs=master", {}, "invalid target_session_attrs"),
        ("require_auth=scram-sha-256,!md5", {}, "cannot mix"),
        ("require_auth=kerberos", {}, "invalid require_auth method 'kerberos'"),
        ("sslnegotiation=direct", {}, "weak sslmode 'prefer' may not be used with sslnegotiation"),
        ("sslrootcert=system sslmode=require", {}, "weak sslmode 'require'"),
        ("client_encoding=LATIN1", {}, "UTF8 only"),
        ("keepalives_idle=soon", {}, "invalid keepalives_idle"),
        ("gssencmode=require", {}, "invalid gssencmode"),
        ("service=nowhere", {}, "service file lookup"),
        ("hostfoo", {}, "missing '='"),
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


# libpq's own documented examples (libpq-connect.html, "Connection Strings" and
# "Specifying Multiple Hosts"), and what libpq reads from each.
LIBPQ_EXAMPLES: list[tuple[str, dict[str, str]]] = [
    (
        "host=localhost port=5432 dbname=mydb connect_timeout=10",
        {"host": "localhost", "port": "5432", "dbname": "mydb", "connect_timeout": "10"},
    ),
    ("postgresql://", {}),
    ("postgresql://localhost", {"host": "localhost"}),
    ("postgresql://localhost:5433", {"host": "localhost", "port": "5433"}),
    ("postgresql://localhost/mydb", {"host": "localhost", "dbname": "mydb"}),
    ("postgresql://user@localhost", {"user": "user", "host": "localhost"}),
    (
        "postgresql://user:secret@localhost",
        {"user": "user", "password": "secret", "host": "localhost"},
    ),
    (
        "postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp",
        {
            "user": "other",
            "host": "localhost",
            "dbname": "otherdb",
            "connect_timeout": "10",
            "application_name": "myapp",
        },
    ),
    (
        "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
        {
            "host": "host1,host2",
            "port": "123,456",
            "dbname": "somedb",
            "target_session_attrs": "any",
            "application_name": "myapp",
        },
    ),
    (
        "postgresql:///mydb?host=localhost&port=5433",
        {"dbname": "mydb", "host": "localhost", "port": "5433"},
    ),
    ("postgresql://[2001:db8::1234]/database", {"host": "2001:db8::1234", "dbname": "database"}),
    (
        "postgresql:///dbname?host=/var/lib/postgresql",
        {"dbname": "dbname", "host": "/var/lib/postgresql"},
    ),
    (
        "postgresql://%2Fvar%2Flib%2Fpostgresql/dbname",
        {"host": "/var/lib/postgresql", "dbname": "dbname"},
    ),
    (
        "postgresql://user@localhost:5433/mydb?options=-c%20synchronous_commit%3Doff",
        {
            "user": "user",
            "host": "localhost",
            "port": "5433",
            "dbname": "mydb",
            "options": "-c synchronous_commit=off",
        },
    ),
    ("postgresql://host1:1,host2:2,host3:3/", {"host": "host1,host2,host3", "port": "1,2,3"}),
    ("host=host1,host2,host3 port=1,2,3", {"host": "host1,host2,host3", "port": "1,2,3"}),
    ("postgresql://[::1]:5432,[::2]/db", {"host": "::1,::2", "port": "5432,", "dbname": "db"}),
    (
        "postgresql://localhost/db?ssl=true",
        {"host": "localhost", "dbname": "db", "sslmode": "require"},
    ),
    ("  host = h   dbname = 'a b'  ", {"host": "h", "dbname": "a b"}),
    (r"password=a\ b options='-c x=\'y\''", {"password": "a b", "options": "-c x='y'"}),
]


@pytest.mark.parametrize(("dsn", "expected"), LIBPQ_EXAMPLES, ids=[d for d, _ in LIBPQ_EXAMPLES])
def test_libpq_documented_examples(dsn: str, expected: dict[str, str]) -> None:
    assert parse_conninfo(dsn) == expected


def test_several_hosts_and_ports() -> None:
    p = parse_dsn("postgresql://host1:123,host2:456/somedb", {}, {})
    assert p.hosts == (Host("host1", 123), Host("host2", 456))
    p = parse_dsn("host=a,b,/tmp port=7", {}, {})
    assert p.hosts == (Host("a", 7), Host("b", 7), Host("/tmp", 7))
    assert p.hosts[2].is_unix_socket and p.hosts[2].socket_path() == "/tmp/.s.PGSQL.7"
    p = parse_dsn("postgresql://,h2:9/db", {}, {})
    assert p.hosts == (Host("localhost", 5432), Host("h2", 9))
    p = parse_dsn("host=db.example hostaddr=10.0.0.5", {}, {})
    assert p.hosts == (Host("db.example", 5432, "10.0.0.5"),)
    assert str(p.hosts[0]) == "db.example:5432 (10.0.0.5)"
    p = parse_dsn("hostaddr=10.0.0.5,10.0.0.6", {}, {})
    assert [h.name for h in p.hosts] == ["10.0.0.5", "10.0.0.6"]
    p = parse_dsn(None, {"host": ["a", "b"], "port": [1, 2]}, {})
    assert p.hosts == (Host("a", 1), Host("b", 2))


def test_environment_variables() -> None:
    environ = {
        "PGHOST": "eh",
        "PGPORT": "7",
        "PGUSER": "eu",
        "PGDATABASE": "ed",
        "PGSSLMODE": "require",
        "PGSSLROOTCERT": "/r.crt",
        "PGAPPNAME": "app",
        "PGCONNECT_TIMEOUT": "9",
        "PGOPTIONS": "-c work_mem=1MB",
        "PGTARGETSESSIONATTRS": "read-write",
        "PGCHANNELBINDING": "require",
        "PGREQUIREAUTH": "scram-sha-256",
        "PGLOADBALANCEHOSTS": "random",
        "PGSSLNEGOTIATION": "direct",
    }
    p = parse_dsn(None, {}, environ)
    assert (p.host, p.port, p.user, p.dbname) == ("eh", 7, "eu", "ed")
    assert (p.sslmode, p.sslrootcert, p.application_name) == ("require", "/r.crt", "app")
    assert (p.connect_timeout, p.options, p.target_session_attrs) == (
        9,
        "-c work_mem=1MB",
        "read-write",
    )
    assert (p.channel_binding, p.require_auth) == ("require", frozenset({"scram-sha-256"}))
    assert (p.load_balance_hosts, p.sslnegotiation) == ("random", "direct")
    # Every variable named in PARAMETERS is read.
    for key, spec in PARAMETERS.items():
        if spec.env and key not in ("host", "hostaddr", "port", "service", "passfile"):
            assert key in {"password", "user", "dbname"} or spec.env.startswith("PG")


def test_precedence_keyword_string_service_environment() -> None:
    services = {"svc": {"host": "svchost", "dbname": "svcdb", "port": "3", "user": "svcuser"}}
    environ = {"PGHOST": "envhost", "PGDATABASE": "envdb", "PGPORT": "4", "PGAPPNAME": "envapp"}
    p = parse_dsn("service=svc host=dsnhost", {"user": "kwuser"}, environ, services.__getitem__)
    assert (p.user, p.host, p.dbname, p.port, p.application_name) == (
        "kwuser",
        "dsnhost",
        "svcdb",
        3,
        "envapp",
    )
    p = parse_dsn(None, {}, {"PGSERVICE": "svc"}, services.__getitem__)
    assert p.host == "svchost"


def test_service_file(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    home = Path(str(tmp_path))
    (home / ".pg_service.conf").write_text(
        "# mine\n[app]\nhost=h1\n  dbname = appdb\n\n[other]\nhost=h2\n"
    )
    system = home / "etc"
    system.mkdir()
    (system / "pg_service.conf").write_text("[app]\nhost=ignored\n[sys]\nport=99\n")
    environ = {"HOME": str(home), "PGSYSCONFDIR": str(system)}
    assert servicefile.lookup("app", environ) == {"host": "h1", "dbname": "appdb"}
    assert servicefile.lookup("sys", environ) == {"port": "99"}
    with pytest.raises(InterfaceError, match="definition of service 'none' not found"):
        servicefile.lookup("none", environ)
    (home / "bad.conf").write_text("[x]\nservice=y\n")
    with pytest.raises(InterfaceError, match="nested service"):
        servicefile.lookup("x", {"PGSERVICEFILE": str(home / "bad.conf"), "PGSYSCONFDIR": "/no"})
    p = parse_dsn("service=app", {}, environ, lambda n: servicefile.lookup(n, environ))
    assert (p.host, p.dbname) == ("h1", "appdb")


PGPASS = r"""# comment
db.example:5432:app:alice:first
db.example:*:*:alice:second
*:*:*:bob:pa\:ss\\word
localhost:5432:*:carol:local
"""


@pytest.mark.parametrize(
    ("host", "db", "user", "expected"),
    [
        (Host("db.example", 5432), "app", "alice", "first"),
        (Host("db.example", 6000), "other", "alice", "second"),
        (Host("anything", 1), "x", "bob", "pa:ss\\word"),
        (Host("/var/run/postgresql", 5432), "x", "carol", "local"),
        (Host("/tmp/other", 5432), "x", "carol", None),
        (Host("db.example", 5432), "app", "nobody", None),
    ],
)
def test_password_file_matching(host: Host, db: str, user: str, expected: str | None) -> None:
    assert passfile.find_password(PGPASS, host, db, user) == expected


def test_password_file_permissions(tmp_path: object, caplog: pytest.LogCaptureFixture) -> None:
    import os
    from pathlib import Path

    path = Path(str(tmp_path)) / "pgpass"
    path.write_text("*:*:*:*:secret-from-file\n")
    os.chmod(path, 0o600)
    assert passfile.lookup(str(path), Host("h", 1), "d", "u") == "secret-from-file"
    os.chmod(path, 0o644)
    assert passfile.lookup(str(path), Host("h", 1), "d", "u") is None
    assert "group or world access" in caplog.text
    assert "secret-from-file" not in caplog.text
    assert passfile.lookup(str(path) + ".missing", Host("h", 1), "d", "u") is None


def test_require_auth() -> None:
    assert parse_require_auth("scram-sha-256") == {"scram-sha-256"}
    assert parse_require_auth("password,md5") == {"password", "md5"}
    assert parse_require_auth("!password,!md5") == {"scram-sha-256", "none", "gss", "sspi"}


def test_tls_rules() -> None:
    assert parse_dsn("sslrootcert=system", {}, {}).sslmode == "verify-full"
    p = parse_dsn("sslmode=require sslnegotiation=direct", {}, {})
    assert (p.sslmode, p.sslnegotiation) == ("require", "direct")
    import ssl

    context = ssl.create_default_context()
    assert parse_dsn(None, {"ssl": context}, {}).sslmode == "require"
    assert parse_dsn(None, {"ssl": context, "sslmode": "verify-full"}, {}).ssl is context
    with pytest.raises(InterfaceError, match=r"ssl must be an ssl\.SSLContext"):
        parse_dsn(None, {"ssl": True}, {})
    with pytest.raises(InterfaceError, match="channel_binding=require needs TLS"):
        parse_dsn("sslmode=disable channel_binding=require", {}, {})


def test_pipelined_connect_conflicts() -> None:
    with pytest.raises(InterfaceError, match="sslmode=verify-full"):
        parse_dsn("sslmode=require", {"pipeline_connect": "scram"}, {})
    assert parse_dsn("sslmode=verify-full", {"pipeline_connect": "scram"}, {}).pipeline_connect
    with pytest.raises(InterfaceError, match="target_session_attrs=primary"):
        parse_dsn("target_session_attrs=primary", {"pipeline_connect": "auto"}, {})
    with pytest.raises(InterfaceError, match="require_auth does not allow"):
        parse_dsn(
            "require_auth=scram-sha-256",
            {"pipeline_connect": "password", "allow_unverified_pipelining": True},
            {},
        )


def test_secrets_stay_out_of_repr() -> None:
    p = parse_dsn("password=pw-one sslpassword=pw-two", {}, {})
    assert "pw-one" not in repr(p) and "pw-two" not in repr(p)


_KEYS = sorted(k for k in PARAMETERS if k not in ("port",))
values = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)


@given(st.dictionaries(st.sampled_from(_KEYS), values, max_size=6))
def test_keyword_strings_round_trip(params: dict[str, str]) -> None:
    assert parse_conninfo(make_conninfo(params)) == params


@given(st.dictionaries(st.sampled_from([k for k in _KEYS if k != "host"]), values, max_size=6))
def test_uris_round_trip(params: dict[str, str]) -> None:
    assert parse_conninfo(make_uri(params)) == params


def test_the_connection_guide_lists_every_parameter() -> None:
    from pathlib import Path

    guide = (Path(__file__).parent.parent / "docs" / "connecting.md").read_text()
    for key, spec in PARAMETERS.items():
        assert f"`{key}`" in guide, key
        if spec.env:
            assert spec.env in guide, spec.env
