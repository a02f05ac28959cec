"""TemporaryPostgres: the server, its roles and their authentication methods."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

import pgpipe.testing
from pgpipe.testing import AUTH_USERS, TemporaryPostgres

HBA_METHODS = {"trust": "trust", "password": "password", "md5": "md5", "scram": "scram-sha-256"}


def client_psql(
    pg: TemporaryPostgres, user: str, password: str | None, *, host: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The server's psql connecting as ``user``, never prompting for a password."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGPASSFILE=os.devnull, PGGSSENCMODE="disable", PGSSLMODE="disable", LC_ALL="C")
    if password is not None:
        env["PGPASSWORD"] = password
    command = [os.path.join(pg.bin_dir, "psql"), "-XAtw", "-c", "select current_user"]
    command += ["-h", host or pg.host, "-p", str(pg.port), "-U", user, "-d", "pgpipe"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_psql_runs_sql(pg_server: TemporaryPostgres) -> None:
    assert pg_server.psql("select 1") == "1\n"
    assert pg_server.psql("select 1; select 'two'") == "1\ntwo\n"
    assert pg_server.psql("select current_database()", dbname="pgpipe") == "pgpipe\n"


def test_psql_raises_on_error(pg_server: TemporaryPostgres) -> None:
    with pytest.raises(RuntimeError, match="division by zero"):
        pg_server.psql("select 1/0")


def test_server_facts(pg_server: TemporaryPostgres) -> None:
    assert pg_server.host == "127.0.0.1"
    assert pg_server.superuser == "postgres"
    assert pg_server.server_version.split()[0] == pg_server.psql("show server_version").split()[0]
    assert pg_server.server_version_num >= 120000
    assert pg_server.psql("show port").strip() == str(pg_server.port)
    assert pg_server.psql("show listen_addresses").strip() == "127.0.0.1"
    assert pg_server.psql("show fsync").strip() == "off"
    assert pg_server.psql("show server_encoding").strip() == "UTF8"
    assert os.path.exists(os.path.join(pg_server.socket_dir, f".s.PGSQL.{pg_server.port}"))
    assert pg_server.dsn() == (
        f"postgresql://postgres@127.0.0.1:{pg_server.port}/postgres?sslmode=disable"
    )
    assert pg_server.dsn("u@x", "p:w/", "db") == (
        f"postgresql://u%40x:p%3Aw%2F@127.0.0.1:{pg_server.port}/db?sslmode=disable"
    )
    with socket.create_connection((pg_server.host, pg_server.port), timeout=10):
        pass


def test_pgpipe_database_is_usable_by_every_role(pg_server: TemporaryPostgres) -> None:
    owner = "select pg_get_userbyid(datdba) from pg_database where datname = 'pgpipe'"
    assert pg_server.psql(owner) == "postgres\n"
    for user, _ in AUTH_USERS.values():
        for dbname in ("postgres", "pgpipe"):
            check = f"select has_schema_privilege('{user}', 'public', 'CREATE')"
            assert pg_server.psql(check, dbname=dbname) == "t\n"
        assert pg_server.psql(f"select has_database_privilege('{user}', 'pgpipe', 'CONNECT')")


@pytest.mark.parametrize("method", sorted(AUTH_USERS))
def test_hba_rules_give_each_role_its_method(pg_server: TemporaryPostgres, method: str) -> None:
    user, _ = AUTH_USERS[method]
    rules = pg_server.psql(
        "select type || ' ' || coalesce(address, '') || ' ' || auth_method"
        f" from pg_hba_file_rules where user_name = array['{user}'] order by line_number"
    )
    expected = HBA_METHODS[method]
    assert rules.splitlines() == [
        f"local  {expected}",
        f"host 127.0.0.1 {expected}",
        f"host ::1 {expected}",
    ]


def test_hba_superuser_trust_and_scram_for_everyone_else(pg_server: TemporaryPostgres) -> None:
    methods = pg_server.psql(
        "select user_name[1], array_agg(distinct auth_method) from pg_hba_file_rules"
        " where user_name in (array['postgres'], array['all']) group by 1 order by 1"
    )
    assert methods == "all|{scram-sha-256}\npostgres|{trust}\n"
    assert pg_server.psql("select count(*) from pg_hba_file_rules where error is not null") == "0\n"


def test_stored_passwords(pg_server: TemporaryPostgres) -> None:
    def stored(method: str) -> str:
        user = AUTH_USERS[method][0]
        return pg_server.psql(
            f"select coalesce(rolpassword, '<null>') from pg_authid where rolname = '{user}'"
        ).strip()

    assert stored("trust") == "<null>"
    assert stored("md5").startswith("md5")
    assert stored("scram").startswith("SCRAM-SHA-256$")
    assert stored("password").startswith("SCRAM-SHA-256$")


@pytest.mark.parametrize("method", sorted(AUTH_USERS))
def test_login_over_tcp(pg_server: TemporaryPostgres, method: str) -> None:
    user, password = AUTH_USERS[method]
    result = client_psql(pg_server, user, password)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{user}\n"
    wrong = client_psql(pg_server, user, "wrong-password")
    if method == "trust":
        assert wrong.returncode == 0, wrong.stderr
    else:
        assert wrong.returncode != 0
        assert "password authentication failed" in wrong.stderr
        missing = client_psql(pg_server, user, None)
        assert missing.returncode != 0


@pytest.mark.parametrize("method", sorted(AUTH_USERS))
def test_login_over_unix_socket(pg_server: TemporaryPostgres, method: str) -> None:
    user, password = AUTH_USERS[method]
    result = client_psql(pg_server, user, password, host=pg_server.socket_dir)
    assert result.returncode == 0, result.stderr
    if password is not None:
        assert client_psql(pg_server, user, "nope", host=pg_server.socket_dir).returncode != 0


def test_other_roles_need_scram(pg_server: TemporaryPostgres) -> None:
    pg_server.psql("create role pgpipe_other login password 'other-pw'")
    try:
        assert client_psql(pg_server, "pgpipe_other", "other-pw").returncode == 0
        assert client_psql(pg_server, "pgpipe_other", None).returncode != 0
    finally:
        pg_server.psql("drop role pgpipe_other")


def test_superuser_logs_in_without_password(pg_server: TemporaryPostgres) -> None:
    assert client_psql(pg_server, "postgres", None).returncode == 0


def test_stop_removes_everything_and_is_idempotent() -> None:
    pg = TemporaryPostgres(settings={"work_mem": "'7MB'"})
    with pg:
        directory = pg.directory
        port = pg.port
        assert pg.psql("show work_mem") == "7MB\n"
        assert os.path.isdir(os.path.join(directory, "data"))
        assert os.path.isfile(pg.log_path)
    assert not os.path.exists(directory)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    pg.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = pg.port
    assert repr(pg) == "<TemporaryPostgres stopped>"


def test_explicit_port_and_bin_dir(pg_server: TemporaryPostgres) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with TemporaryPostgres(bin_dir=pg_server.bin_dir, port=port) as pg:
        assert pg.port == port
        assert pg.psql("select 2") == "2\n"


def test_start_twice_is_refused(pg_server: TemporaryPostgres) -> None:
    with pytest.raises(RuntimeError, match="already started"):
        pg_server.start()


def test_missing_binaries_explain_how_to_install(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(RuntimeError, match="lacks PostgreSQL programs"):
        TemporaryPostgres(bin_dir=os.fspath(tmp_path)).start()


def test_failed_start_reports_the_server_log(pg_server: TemporaryPostgres) -> None:
    pg = TemporaryPostgres(bin_dir=pg_server.bin_dir, settings={"shared_buffers": "'nonsense'"})
    with pytest.raises(RuntimeError, match="did not start") as info:
        pg.start()
    assert "shared_buffers" in str(info.value)
    with pytest.raises(RuntimeError, match="not started"):
        _ = pg.directory


def test_no_binaries_anywhere_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPIPE_PG_BIN", raising=False)
    monkeypatch.setattr(pgpipe.testing, "_candidate_bin_dirs", list)
    with pytest.raises(RuntimeError, match=r"apt-get install postgresql.*pip install pgserver"):
        TemporaryPostgres().start()
