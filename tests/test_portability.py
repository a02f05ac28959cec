"""pgpipe where ``pwd``, ``fcntl`` and ``socket.AF_UNIX`` do not exist (Windows, WebAssembly).

Each test runs a child interpreter whose startup refuses those modules (a
``sys.meta_path`` finder) and deletes ``socket.AF_UNIX`` before pgpipe is
imported; the child reports what it saw as JSON, and the test checks it. The
child connects to the throwaway server over TCP with both adapters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import pytest

import pgpipe
from pgpipe import passfile, servicefile
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from tests.clients import Adapter

ROOT: Final = Path(__file__).resolve().parent.parent

# What the child runs before anything else: pwd, fcntl, grp and termios cannot
# be imported, and the socket module has no AF_UNIX (and so, as on Windows, a
# socketpair made of two TCP sockets).
BLOCKER: Final = """
import importlib.abc
import socket
import sys

BLOCKED = frozenset({"pwd", "fcntl", "grp", "termios"})


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def socketpair(family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
    # As on Windows, over loopback TCP: asyncio's event loop needs one.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        theirs, _ = listener.accept()
    return ours, theirs


sys.meta_path.insert(0, Refuse())
for name in BLOCKED:
    sys.modules.pop(name, None)
del socket.AF_UNIX
socket.socketpair = socketpair
"""

CHILD: Final = """
import asyncio
import json
import os
import sys

import pgpipe
import pgpipe.aio
import pgpipe.conninfo
import pgpipe.passfile
import pgpipe.protocol
import pgpipe.servicefile
import pgpipe.types

dsn, user_dsn_keywords, socket_dir, port = sys.argv[1:5]
seen = {
    "blocked_loaded": sorted(name for name in BLOCKED if name in sys.modules),
    "testing_loaded": "pgpipe.testing" in sys.modules,
    "has_af_unix": hasattr(socket, "AF_UNIX"),
}


def outcome(call):
    try:
        return ["ok", call()]
    except Exception as exc:
        return [type(exc).__name__, str(exc), isinstance(exc, pgpipe.Error)]


def sync_query(*args, **kwargs):
    with pgpipe.connect(*args, **kwargs) as conn:
        return list(conn.query("SELECT current_user, 40 + 2").rows[0])


def async_query(*args, **kwargs):
    async def run():
        conn = await pgpipe.connect_async(*args, **kwargs)
        try:
            return list((await conn.query("SELECT current_user, 40 + 2")).rows[0])
        finally:
            await conn.close()

    return asyncio.run(run())


unix = f"host={socket_dir} port={port} dbname=pgpipe sslmode=disable"
both = f"host={socket_dir},127.0.0.1 port={port},{port} dbname=pgpipe sslmode=disable"
for name, query in (("sync", sync_query), ("async", async_query)):
    seen[name + "_tcp"] = outcome(lambda: query(dsn))
    seen[name + "_unix"] = outcome(lambda: query(unix, user="pgpipe_trust"))
    seen[name + "_unix_then_tcp"] = outcome(lambda: query(both, user="pgpipe_trust"))
    # No USER, LOGNAME, LNAME or USERNAME in the environment, and no pwd.
    seen[name + "_no_user"] = outcome(lambda: query(user_dsn_keywords))
os.environ["USERNAME"] = "pgpipe_password"  # Windows' variable
for name, query in (("sync", sync_query), ("async", async_query)):
    seen[name + "_env_user"] = outcome(lambda: query(user_dsn_keywords))
seen["default_user"] = [
    pgpipe.conninfo.default_user({"USERNAME": "win"}),
    pgpipe.conninfo.default_user({"LOGNAME": "log", "USERNAME": "win"}),
    pgpipe.conninfo.default_user({"USER": "unix", "LOGNAME": "log"}),
]
# No HOME and no pwd to find the home directory: no per-user files, and no error.
del os.environ["HOME"]
seen["no_home_passfile"] = pgpipe.passfile.default_path(os.environ)
seen["no_home_service_files"] = pgpipe.servicefile.service_files({"PGSYSCONFDIR": "/etc/pg"})
for name, query in (("sync", sync_query), ("async", async_query)):
    seen[name + "_no_home"] = outcome(lambda: query(dsn))
print(json.dumps(seen))
"""


def run_child(pg: TemporaryPostgres) -> dict[str, Any]:
    user, password = AUTH_USERS["password"]
    assert password is not None
    dsn = pg.dsn(user=user, password=password, dbname="pgpipe")
    # No user: it must come from the environment (USERNAME, set by the child).
    no_user = f"host=127.0.0.1 port={pg.port} dbname=pgpipe password={password} sslmode=disable"
    scrubbed = ("USER", "LOGNAME", "LNAME", "USERNAME", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in scrubbed and not k.startswith("PG")}
    completed = subprocess.run(
        [sys.executable, "-c", BLOCKER + CHILD, dsn, no_user, pg.socket_dir, str(pg.port)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    seen: dict[str, Any] = json.loads(completed.stdout)
    return seen


@pytest.fixture(scope="module")
def seen(pg_server: TemporaryPostgres) -> dict[str, Any]:
    return run_child(pg_server)


def test_blocked_modules_stay_out(seen: dict[str, Any]) -> None:
    assert seen["blocked_loaded"] == []
    assert seen["has_af_unix"] is False
    assert seen["testing_loaded"] is False


@pytest.mark.parametrize("adapter", ["sync", "async"])
def test_tcp_with_password(seen: dict[str, Any], adapter: str) -> None:
    assert seen[f"{adapter}_tcp"] == ["ok", [AUTH_USERS["password"][0], 42]]


@pytest.mark.parametrize("adapter", ["sync", "async"])
def test_unix_socket_host_says_why(
    seen: dict[str, Any], pg_server: TemporaryPostgres, adapter: str
) -> None:
    kind, message, is_pgpipe_error = seen[f"{adapter}_unix"]
    assert (kind, is_pgpipe_error) == ("OperationalError", True)
    assert f"could not connect to {pg_server.socket_dir}/.s.PGSQL.{pg_server.port}" in message
    assert "this platform has no Unix-domain sockets" in message


@pytest.mark.parametrize("adapter", ["sync", "async"])
def test_unix_socket_host_then_tcp(seen: dict[str, Any], adapter: str) -> None:
    # As for any host that cannot be reached, the next one in the list is tried.
    assert seen[f"{adapter}_unix_then_tcp"] == ["ok", ["pgpipe_trust", 42]]


@pytest.mark.parametrize("adapter", ["sync", "async"])
def test_default_user_from_environment(seen: dict[str, Any], adapter: str) -> None:
    assert seen[f"{adapter}_env_user"] == ["ok", ["pgpipe_password", 42]]
    assert seen["default_user"] == ["win", "log", "unix"]


@pytest.mark.parametrize("adapter", ["sync", "async"])
def test_no_user_anywhere_says_so(seen: dict[str, Any], adapter: str) -> None:
    kind, message, is_pgpipe_error = seen[f"{adapter}_no_user"]
    assert (kind, is_pgpipe_error) == ("InterfaceError", True)
    assert "no user name given and the operating-system user is unknown" in message
    assert "pw-password" not in message


@pytest.mark.parametrize("adapter", ["sync", "async"])
def test_no_home_directory(seen: dict[str, Any], adapter: str) -> None:
    assert seen["no_home_passfile"] is None
    assert seen["no_home_service_files"] == ["/etc/pg/pg_service.conf"]
    assert seen[f"{adapter}_no_home"] == ["ok", [AUTH_USERS["password"][0], 42]]


# -- Windows' places for libpq's files, in this process ----------------------------


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """pgpipe's file lookups as on Windows: %APPDATA%\\postgresql; returns that folder."""
    monkeypatch.setattr(passfile, "_WINDOWS", True)
    monkeypatch.setenv("APPDATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "not-used"))
    for variable in ("PGPASSFILE", "PGPASSWORD", "PGSERVICEFILE", "PGSERVICE"):
        monkeypatch.delenv(variable, raising=False)
    folder = tmp_path / "postgresql"
    folder.mkdir()
    return folder


def test_windows_file_places(windows: Path) -> None:
    environ = {"APPDATA": str(windows.parent), "PGSYSCONFDIR": "/etc/pg"}
    assert passfile.default_path(environ) == str(windows / "pgpass.conf")
    assert servicefile.service_files(environ) == [
        str(windows / ".pg_service.conf"),
        "/etc/pg/pg_service.conf",
    ]
    # Without APPDATA there is no per-user folder.
    assert passfile.default_path({"HOME": "/home/x"}) is None
    assert servicefile.service_files({"PGSYSCONFDIR": "/etc/pg"}) == ["/etc/pg/pg_service.conf"]


def test_windows_password_and_service_files(
    windows: Path, pg_server: TemporaryPostgres, adapter: Adapter
) -> None:
    user, password = AUTH_USERS["scram"]
    # Windows shows every file as readable by all (0o666): libpq does not check there.
    (windows / "pgpass.conf").write_text(f"127.0.0.1:{pg_server.port}:pgpipe:{user}:{password}\n")
    (windows / "pgpass.conf").chmod(0o644)
    (windows / ".pg_service.conf").write_text(
        f"[app]\nhost=127.0.0.1\nport={pg_server.port}\ndbname=pgpipe\nuser={user}\n"
        "sslmode=disable\n"
    )
    client = adapter.connect("service=app")
    assert client.query("SELECT current_user, 6 * 7").rows == [(user, 42)]


def test_helpers_and_command_import_without_pwd() -> None:
    # pgpipe.testing needs pwd only to run the server as another account (under root).
    script = BLOCKER + (
        "import pgpipe.cli, pgpipe.proxy, pgpipe.testing\n"
        "assert not [name for name in BLOCKED if name in sys.modules]\n"
        "pgpipe.cli.main(['--version'])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout == f"pgpipe {pgpipe.__version__}\n"
