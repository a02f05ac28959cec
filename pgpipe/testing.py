"""Throwaway PostgreSQL servers for tests.

:class:`TemporaryPostgres` owns one PostgreSQL cluster living in a fresh
temporary directory: it runs ``initdb``, writes ``pg_hba.conf`` and the
settings, starts the server with ``pg_ctl``, creates one login role per
authentication method (:data:`AUTH_USERS`) and a ``pgpipe`` database, and on
exit stops the server and deletes the directory::

    from pgpipe.testing import TemporaryPostgres

    with TemporaryPostgres() as pg:
        print(pg.psql("select version()"))
        dsn = pg.dsn()  # postgresql://postgres@127.0.0.1:<port>/postgres

The server binaries come from, in order: the ``bin_dir`` argument, the
``PGPIPE_PG_BIN`` environment variable, ``pg_config --bindir``, the newest
``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql`` package), and the
binaries bundled in the ``pgserver`` wheel.

PostgreSQL refuses to run as root. Under root the server programs run as the
``postgres`` system user if there is one, else as ``nobody``; otherwise they
run as the current user. The server listens on 127.0.0.1 only (TCP) and on a
Unix socket inside the temporary directory, with durability turned off for
speed: never keep data you care about in it.

:class:`TemporaryPgBouncer` runs a throwaway PgBouncer in front of a running
TemporaryPostgres, in transaction pool mode by default, with the same roles
and authentication methods::

    with TemporaryPostgres() as pg, TemporaryPgBouncer(pg) as bouncer:
        dsn = bouncer.dsn(dbname="pgpipe")  # through a small shared pool

The ``pgbouncer`` program comes from the ``program`` argument, the
``PGPIPE_PGBOUNCER`` environment variable, ``PATH`` or ``/usr/sbin``
(Debian's ``pgbouncer`` package). Like PostgreSQL it refuses to run as root,
and runs as the same account as the server.

:class:`TemporaryPgpool` does the same with pgpool-II, a session pooler::

    with TemporaryPostgres() as pg, TemporaryPgpool(pg) as pooler:
        dsn = pooler.dsn(dbname="pgpipe")

The ``pgpool`` program comes from the ``program`` argument, the
``PGPIPE_PGPOOL`` environment variable, ``PATH`` or ``/usr/sbin`` (Debian's
``pgpool2`` package); it runs as the same account as the server.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Final, Self, TypeVar
from urllib.parse import quote

_T = TypeVar("_T")

__all__ = [
    "AUTH_USERS",
    "TLS_USERS",
    "ServerCertificate",
    "TemporaryPgBouncer",
    "TemporaryPgpool",
    "TemporaryPostgres",
]

AUTH_USERS: Final[dict[str, tuple[str, str | None]]] = {
    "trust": ("pgpipe_trust", None),
    "password": ("pgpipe_password", "pw-password"),
    "md5": ("pgpipe_md5", "pw-md5"),
    "scram": ("pgpipe_scram", "pw-scram"),
}
"""Login roles created in every server: method name -> (user, password).

``pg_hba.conf`` gives each role the authentication method it is named after
(``scram`` is ``scram-sha-256``), over TCP and over the Unix socket. The md5
role's password is stored as an md5 hash: with a SCRAM verifier stored,
PostgreSQL would silently answer the ``md5`` method with SCRAM.
"""

TLS_USERS: Final[dict[str, str]] = {
    "cert": "pgpipe_cert",
    "tls_only": "pgpipe_tls_only",
    "plain_only": "pgpipe_plain_only",
}
"""Login roles for TLS tests, without passwords. On a server started with a
certificate, ``pg_hba.conf`` lets ``cert`` in with a client certificate whose
common name is the role name, ``tls_only`` in (trust) over TLS only and
``plain_only`` in (trust) without TLS only.
"""


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """What a TLS-enabled TemporaryPostgres serves: PEM bytes.

    ``ca`` is the certificate authority client certificates must chain to
    (the server's ``ssl_ca_file``); without it client certificates are not asked for.
    """

    certificate_chain: bytes
    private_key: bytes
    ca: bytes | None = None


_HBA_METHODS: Final[Mapping[str, str]] = {
    "trust": "trust",
    "password": "password",
    "md5": "md5",
    "scram": "scram-sha-256",
}
_SUPERUSER: Final = "postgres"
_DATABASE: Final = "pgpipe"
_REQUIRED_PROGRAMS: Final = ("initdb", "pg_ctl", "postgres", "psql")
_INSTALL_HINT: Final = (
    "no PostgreSQL server binaries found; install them with "
    "`apt-get install postgresql` (Debian/Ubuntu) or `pip install pgserver`, "
    "or point PGPIPE_PG_BIN at a directory holding initdb, pg_ctl, postgres and psql"
)
_START_TIMEOUT: Final = 60
_COMMAND_TIMEOUT: Final = 120
_PORT_ATTEMPTS: Final = 5
_LOG_TAIL_LINES: Final = 30


@dataclass(frozen=True, slots=True)
class _ServerAccount:
    """The unprivileged account that runs the server programs under root."""

    name: str
    uid: int
    gid: int


class TemporaryPostgres:
    """A PostgreSQL server in a temporary directory, deleted on exit.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    ``stop`` is idempotent and also runs at interpreter exit, so a crashed
    test run does not leave a server behind.

    :param bin_dir: directory holding ``initdb``, ``pg_ctl``, ``postgres``
        and ``psql``; found automatically when omitted (see the module
        documentation).
    :param port: TCP port to listen on; a free one is chosen at start when
        omitted.
    :param settings: extra ``postgresql.conf`` settings, as raw values
        (``{"log_connections": "on"}``), applied after the defaults.
    :param tls: a certificate and key to serve TLS with (``ssl = on``), and the
        CA that client certificates must chain to; see :data:`TLS_USERS`.
    """

    host: Final = "127.0.0.1"
    """The TCP address the server listens on."""
    superuser: Final = _SUPERUSER
    """The superuser role; it authenticates with ``trust`` everywhere."""

    def __init__(
        self,
        *,
        bin_dir: str | None = None,
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
        tls: ServerCertificate | None = None,
    ) -> None:
        self._tls = tls
        self._requested_bin_dir = bin_dir
        self._requested_port = port
        self._settings = dict(settings or {})
        self._account = _server_account()
        self._bin_dir: str | None = None
        self._directory: str | None = None
        self._port: int | None = None
        self._server_version: str | None = None
        self._server_version_num: int | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> TemporaryPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Create the cluster, start the server and create the test roles.

        :raises RuntimeError: when no binaries are found, when the server is
            already running, or when a step fails (the message carries the
            end of the server log).
        """
        if self._directory is not None:
            raise RuntimeError("TemporaryPostgres is already started")
        bin_dir = _reachable_bin_dir(_find_bin_dir(self._requested_bin_dir), self._account)
        parent = _shared_tempdir() if self._account is not None else None
        directory = tempfile.mkdtemp(prefix="pgpipe-pg-", dir=parent)
        self._bin_dir = bin_dir
        self._directory = directory
        atexit.register(self.stop)
        try:
            if self._account is not None:
                os.chown(directory, self._account.uid, self._account.gid)
            self._initdb()
            self._start_server()
            self._create_roles()
            self._server_version = self.psql("show server_version").strip()
            self._server_version_num = int(self.psql("show server_version_num"))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server immediately and delete its directory.

        Does nothing when the server is not running.
        """
        directory = self._directory
        if directory is None:
            return
        atexit.unregister(self.stop)
        try:
            pid_file = Path(directory, "data", "postmaster.pid")
            if pid_file.exists():
                result = self._run(
                    "pg_ctl", "stop", "-D", self.data_dir, "-m", "immediate", check=False
                )
                if result.returncode != 0:
                    _kill_postmaster(pid_file, self.data_dir)
        finally:
            self._directory = None
            self._port = None
            self._server_version = None
            self._server_version_num = None
            shutil.rmtree(directory, ignore_errors=True)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop the server with a fast shutdown (every session is ended, as in a
        real restart or failover) and start it again on the same port after
        ``down_for`` seconds."""
        if self._directory is None:
            raise RuntimeError("TemporaryPostgres is not started")
        timeout = str(_START_TIMEOUT)
        self._run("pg_ctl", "stop", "-D", self.data_dir, "-m", "fast", "-w", "-t", timeout)
        if down_for > 0:
            time.sleep(down_for)
        self._run("pg_ctl", "start", "-D", self.data_dir, "-l", self.log_path, "-w", "-t", timeout)

    # -- facts about the running server ------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("TemporaryPostgres is not started")
        return self._port

    @property
    def directory(self) -> str:
        """The temporary directory that holds everything; deleted by stop()."""
        if self._directory is None:
            raise RuntimeError("TemporaryPostgres is not started")
        return self._directory

    @property
    def socket_dir(self) -> str:
        """The directory of the server's Unix socket (``host`` for libpq)."""
        return self.directory

    @property
    def data_dir(self) -> str:
        """The cluster's data directory (PGDATA)."""
        return os.path.join(self.directory, "data")

    @property
    def log_path(self) -> str:
        """The server log file."""
        return os.path.join(self.directory, "server.log")

    @property
    def bin_dir(self) -> str:
        """The directory of the PostgreSQL programs in use."""
        if self._bin_dir is None:
            raise RuntimeError("TemporaryPostgres is not started")
        return self._bin_dir

    @property
    def server_version(self) -> str:
        """The server's ``server_version`` setting, e.g. ``"16.3"``."""
        if self._server_version is None:
            raise RuntimeError("TemporaryPostgres is not started")
        return self._server_version

    @property
    def server_version_num(self) -> int:
        """The server's ``server_version_num`` setting, e.g. ``160003``."""
        if self._server_version_num is None:
            raise RuntimeError("TemporaryPostgres is not started")
        return self._server_version_num

    def dsn(
        self, user: str = _SUPERUSER, password: str | None = None, dbname: str = "postgres"
    ) -> str:
        """A ``postgresql://`` URI reaching the server over TCP on 127.0.0.1.

        Without TLS it says ``sslmode=disable``, so no SSLRequest is spent on a
        server that would refuse it.
        """
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        uri = f"postgresql://{credentials}@{self.host}:{self.port}/{quote(dbname, safe='')}"
        return uri if self._tls is not None else uri + "?sslmode=disable"

    def psql(self, sql: str, *, dbname: str = "postgres") -> str:
        """Run SQL as the superuser with the server's own ``psql``.

        The script is read from standard input, so it may hold several
        statements and psql meta-commands; output is unaligned and without
        headers (``psql("select 1")`` returns ``"1\\n"``).

        :returns: psql's standard output.
        :raises RuntimeError: when any statement fails.
        """
        server = ("-h", self.socket_dir, "-p", str(self.port), "-U", _SUPERUSER, "-d", dbname)
        script = ("-XqAt", "-v", "ON_ERROR_STOP=1", "-f", "-")
        result = self._run("psql", *script, *server, as_client=True, input=sql, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed (exit {result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def __repr__(self) -> str:
        if self._directory is None:
            return "<TemporaryPostgres stopped>"
        return f"<TemporaryPostgres {self.host}:{self._port} in {self._directory}>"

    # -- steps ---------------------------------------------------------------

    def _initdb(self) -> None:
        options = ("-U", _SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
        self._run("initdb", "-D", self.data_dir, *options)
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a", encoding="utf-8") as conf:
            conf.write("\ninclude 'pgpipe.conf'\n")
        self._write_server_file("pg_hba.conf", _hba_conf(self._tls is not None))
        if self._tls is not None:
            self._write_server_file("server.crt", self._tls.certificate_chain.decode())
            self._write_server_file("server.key", self._tls.private_key.decode())
            if self._tls.ca is not None:
                self._write_server_file("root.crt", self._tls.ca.decode())

    def _start_server(self) -> None:
        for attempt in range(_PORT_ATTEMPTS):
            port = self._requested_port or _free_port()
            self._write_server_file("pgpipe.conf", self._server_conf(port))
            log_offset = _file_size(self.log_path)
            wait = ("-w", "-t", str(_START_TIMEOUT))
            result = self._run(
                "pg_ctl", "start", "-D", self.data_dir, "-l", self.log_path, *wait, check=False
            )
            if result.returncode == 0:
                self._port = port
                return
            log = _read_from(self.log_path, log_offset)
            port_taken = "could not bind" in log or "already in use" in log
            if self._requested_port is None and port_taken and attempt + 1 < _PORT_ATTEMPTS:
                continue
            tail = "\n".join(log.splitlines()[-_LOG_TAIL_LINES:])
            raise RuntimeError(
                f"PostgreSQL did not start (pg_ctl exit {result.returncode}): "
                f"{result.stderr.strip()}\n--- end of {self.log_path} ---\n{tail}"
            )

    def _create_roles(self) -> None:
        script = ["SET password_encryption = 'scram-sha-256';"]
        for method, (user, password) in AUTH_USERS.items():
            if method == "md5":
                script.append("SET password_encryption = 'md5';")
            secret = "" if password is None else f" PASSWORD {_literal(password)}"
            script.append(f"CREATE ROLE {_ident(user)} LOGIN{secret};")
            if method == "md5":
                script.append("SET password_encryption = 'scram-sha-256';")
        script += [f"CREATE ROLE {_ident(user)} LOGIN;" for user in TLS_USERS.values()]
        users = [user for user, _ in AUTH_USERS.values()] + list(TLS_USERS.values())
        roles = ", ".join(_ident(user) for user in users)
        script += [
            f"CREATE DATABASE {_ident(_DATABASE)} OWNER {_ident(_SUPERUSER)};",
            f"GRANT CONNECT, TEMPORARY ON DATABASE {_ident(_DATABASE)} TO {roles};",
            f"GRANT CREATE ON SCHEMA public TO {roles};",
            f"\\connect {_DATABASE}",
            f"GRANT CREATE ON SCHEMA public TO {roles};",
        ]
        self.psql("\n".join(script) + "\n")

    def _server_conf(self, port: int) -> str:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": _literal(self.socket_dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "128MB",
            "max_connections": "100",
            "logging_collector": "off",
        }
        if self._tls is not None:
            settings.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
            if self._tls.ca is not None:
                settings["ssl_ca_file"] = "'root.crt'"
        settings.update(self._settings)
        return "".join(f"{name} = {value}\n" for name, value in settings.items())

    # -- process plumbing ----------------------------------------------------

    def _write_server_file(self, name: str, text: str) -> None:
        path = os.path.join(self.data_dir, name)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(path, 0o600)
        if self._account is not None:
            os.chown(path, self._account.uid, self._account.gid)

    def _run(
        self,
        program: str,
        *args: str,
        as_client: bool = False,
        input: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the PostgreSQL programs, as the server account unless ``as_client``."""
        account = None if as_client else self._account
        result = subprocess.run(
            [os.path.join(self.bin_dir, program), *args],
            input=input,
            capture_output=True,
            text=True,
            env=_clean_environment(),
            cwd=self.directory,
            timeout=_COMMAND_TIMEOUT,
            user=None if account is None else account.uid,
            group=None if account is None else account.gid,
            extra_groups=None if account is None else [],
        )
        if check and result.returncode != 0:
            output = (result.stderr or result.stdout).strip()
            raise RuntimeError(f"{program} failed (exit {result.returncode}): {output}")
        return result


class _TemporaryPooler:
    """What TemporaryPgBouncer and TemporaryPgpool share: a pooler program run as
    the server's account in a temporary directory, on 127.0.0.1 and a Unix
    socket there, in front of a running TemporaryPostgres."""

    host: Final = "127.0.0.1"
    """The TCP address the pooler listens on."""
    superuser: Final = _SUPERUSER
    """The superuser role; trusted."""

    # Filled in by each pooler.
    _title: ClassVar[str]  # "PgBouncer"
    _command_name: ClassVar[str]  # "pgbouncer": the program, PGPIPE_<NAME> and the temp prefix
    _install_hint: ClassVar[str]
    _version_pattern: ClassVar[str]  # finds (major, minor, patch) in --version's output
    _config_name: ClassVar[str]
    _log_name: ClassVar[str]

    def __init__(
        self,
        postgres: TemporaryPostgres,
        program: str | None,
        port: int | None,
        settings: Mapping[str, str] | None,
    ) -> None:
        self._postgres = postgres
        self._requested_program = program
        self._requested_port = port
        self._settings = dict(settings or {})
        self._account = _server_account()
        self._program: str | None = None
        self._version: tuple[int, ...] | None = None
        self._directory: str | None = None
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Write the configuration, start the pooler and wait until it accepts connections.

        :raises RuntimeError: when its program is not found, when it is already
            running, or when it does not start (the message carries the end of
            its log).
        """
        name = type(self).__name__
        if self._directory is not None:
            raise RuntimeError(f"{name} is already started")
        program = _find_program(self._command_name, self._requested_program, self._install_hint)
        parent = _shared_tempdir() if self._account is not None else None
        directory = tempfile.mkdtemp(prefix=f"pgpipe-{self._command_name}-", dir=parent)
        self._program = program
        self._version = _program_version(program, self._version_pattern, self._title)
        self._directory = directory
        atexit.register(self.stop)
        try:
            if self._account is not None:
                os.chown(directory, self._account.uid, self._account.gid)
            for file_name, text in self._auth_files().items():
                self._write_file(file_name, text)
            self._start_process()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the pooler at once (closing every connection) and delete its directory.

        Does nothing when it is not running.
        """
        directory = self._directory
        if directory is None:
            return
        atexit.unregister(self.stop)
        try:
            self._end_process()
        finally:
            self._directory = None
            self._port = None
            shutil.rmtree(directory, ignore_errors=True)

    # -- facts about the running pooler ------------------------------------

    def _started(self, value: _T | None) -> _T:
        if value is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return value

    @property
    def port(self) -> int:
        """The TCP port the pooler listens on."""
        return self._started(self._port)

    @property
    def directory(self) -> str:
        """The temporary directory that holds everything; deleted by stop()."""
        return self._started(self._directory)

    @property
    def socket_dir(self) -> str:
        """The directory of the pooler's Unix socket (``host`` for libpq)."""
        return self.directory

    @property
    def config_path(self) -> str:
        """The configuration file in use."""
        return os.path.join(self.directory, self._config_name)

    @property
    def log_path(self) -> str:
        """The pooler's log (its standard error)."""
        return os.path.join(self.directory, self._log_name)

    @property
    def program(self) -> str:
        """The pooler program in use."""
        return self._started(self._program)

    @property
    def version(self) -> tuple[int, ...]:
        """The version of the program in use, e.g. ``(1, 18, 0)``."""
        return self._started(self._version)

    @property
    def postgres(self) -> TemporaryPostgres:
        """The server behind the pooler."""
        return self._postgres

    def dsn(
        self, user: str = _SUPERUSER, password: str | None = None, dbname: str = "postgres"
    ) -> str:
        """A ``postgresql://`` URI reaching the pooler over TCP on 127.0.0.1, without TLS."""
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        return (
            f"postgresql://{credentials}@{self.host}:{self.port}/{quote(dbname, safe='')}"
            "?sslmode=disable"
        )

    def __repr__(self) -> str:
        name = type(self).__name__
        if self._directory is None:
            return f"<{name} stopped>"
        return f"<{name} {self.host}:{self._port} in front of {self._postgres!r}>"

    # -- what each pooler does its own way -------------------------------------

    def _auth_files(self) -> dict[str, str]:
        """Files written before the first start: name -> text."""
        raise NotImplementedError

    def _config(self, port: int) -> str:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _shut_down(self, process: subprocess.Popen[bytes]) -> None:
        """Stop the running program (and whatever it started)."""
        raise NotImplementedError

    _own_session: ClassVar[bool] = False  # start it in a process group of its own

    # -- steps ---------------------------------------------------------------

    def _start_process(self) -> None:
        for attempt in range(_PORT_ATTEMPTS):
            port = self._requested_port or _free_port()
            self._write_file(self._config_name, self._config(port))
            log_offset = _file_size(self.log_path)
            with open(self.log_path, "ab") as log:
                try:
                    self._process = subprocess.Popen(
                        self._command(),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        env=_clean_environment(),
                        cwd=self.directory,
                        start_new_session=self._own_session,
                        user=None if self._account is None else self._account.uid,
                        group=None if self._account is None else self._account.gid,
                        extra_groups=None if self._account is None else [],
                    )
                except OSError as exc:
                    who = "" if self._account is None else f" as {self._account.name!r}"
                    raise RuntimeError(f"could not run {self.program}{who}: {exc}") from None
            if _wait_until_listening(self._process, self.host, port):
                self._port = port
                return
            exit_code = self._process.poll()
            self._end_process()
            log_text = _read_from(self.log_path, log_offset)
            port_taken = "already in use" in log_text
            if self._requested_port is None and port_taken and attempt + 1 < _PORT_ATTEMPTS:
                continue
            why = (
                f"exit {exit_code}"
                if exit_code is not None
                else f"not listening after {_START_TIMEOUT} s"
            )
            tail = "\n".join(log_text.splitlines()[-_LOG_TAIL_LINES:])
            raise RuntimeError(
                f"{self._title} did not start on {self.host}:{port} ({why})\n"
                f"--- end of {self.log_path} ---\n{tail}"
            )

    def _end_process(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            self._shut_down(process)

    def _write_file(self, name: str, text: str) -> None:
        path = os.path.join(self.directory, name)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(path, 0o600)
        if self._account is not None:
            os.chown(path, self._account.uid, self._account.gid)


def _stop_process(process: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig``; kill the process if it is still there after 10 s."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait_until_listening(process: subprocess.Popen[bytes], host: str, port: int) -> bool:
    """True once the port accepts connections; False when the process ended or timed out."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), 1) as probe:
            # Wait for the pooler to drop the probe (it sees no startup packet): until
            # then the probe holds one of its client slots, and a pooler allowing one
            # client (pgpool-II with two children) would refuse the next one.
            probe.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                while probe.recv(1024):
                    pass
            return True
        time.sleep(0.05)
    return False


_POOLER_DIRECTORIES: Final = ("/usr/sbin", "/usr/local/sbin")
"""Where Debian's packages put pgbouncer and pgpool, outside an ordinary PATH."""


def _find_program(name: str, explicit: str | None, install_hint: str) -> str:
    """A pooler program: the argument, PGPIPE_<NAME>, PATH, then /usr/sbin and /usr/local/sbin."""
    for given in (explicit, os.environ.get(f"PGPIPE_{name.upper()}")):
        if given:
            if not (os.path.isfile(given) and os.access(given, os.X_OK)):
                raise RuntimeError(f"{given} is not an executable {name} program")
            return given
    found = shutil.which(name)
    if found is not None:
        return found
    for directory in _POOLER_DIRECTORIES:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(install_hint)


def _program_version(program: str, pattern: str, title: str) -> tuple[int, ...]:
    """The version ``program --version`` states (on either output), as (1, 18, 0)."""
    try:
        result = subprocess.run(
            [program, "--version"],
            capture_output=True,
            text=True,
            env=_clean_environment(),
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"could not run {program} --version: {exc}") from None
    output = result.stdout + result.stderr  # pgpool-II 4.3 prints it on standard error
    found = re.search(pattern, output)
    if found is None:
        raise RuntimeError(f"{program} --version did not name a {title} version: {output!r}")
    return tuple(int(part) for part in found.groups(default="0"))


def _pooler_hba(writer: str) -> str:
    """An hba file with the methods of TemporaryPostgres's pg_hba.conf, for a pooler's clients."""
    rules = [(_SUPERUSER, "trust")]
    rules += [(user, _HBA_METHODS[method]) for method, (user, _) in AUTH_USERS.items()]
    lines = [f"# Written by pgpipe.testing.{writer}"]
    for user, method in rules:
        lines.append(f"local all {user} {method}")
        lines.append(f"host all {user} 127.0.0.1/32 {method}")
    return "\n".join(lines) + "\n"


class TemporaryPgBouncer(_TemporaryPooler):
    """A PgBouncer in front of a running :class:`TemporaryPostgres`, deleted on exit.

    It listens on 127.0.0.1 (and on a Unix socket in its directory) and
    serves the databases ``pgpipe`` and ``postgres`` of ``postgres``, plus
    ``databases`` given here; it reaches the server over its Unix socket.

    Clients authenticate with PgBouncer itself, by an hba file giving each
    role of :data:`AUTH_USERS` the method it is named after and the superuser
    ``trust``; PgBouncer logs into PostgreSQL with the passwords of its
    userlist.

    Server connections are shared between clients in ``pool_mode``
    (``transaction`` by default): ``pool_size`` of them per database and
    user, kept open once the pair has been used, and lent in turn
    (``server_round_robin``), so that consecutive transactions of one client
    usually run in different server sessions.

    The superuser is also an admin user: the ``pgbouncer`` database answers
    ``SHOW POOLS``, ``SHOW SERVERS``... over the simple query protocol
    (``execute``).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`;
    ``stop`` is idempotent and also runs at interpreter exit.

    :param postgres: the started server to pool connections to.
    :param program: the ``pgbouncer`` program; found automatically (the
        ``PGPIPE_PGBOUNCER`` environment variable, ``PATH``, ``/usr/sbin``)
        when omitted.
    :param port: TCP port to listen on; a free one is chosen when omitted.
    :param pool_mode: ``transaction``, ``session`` or ``statement``.
    :param pool_size: ``default_pool_size``: server connections per
        (database, user) pair.
    :param databases: more ``[databases]`` entries: name -> extra
        connection settings (``"dbname=pgpipe pool_size=1"``); the server's
        Unix socket directory and port are added.
    :param settings: extra ``[pgbouncer]`` settings, applied after the defaults;
        a setting given as None is left out of the file (PgBouncer's own default).

    ``ignore_startup_parameters`` is ``extra_float_digits``, the one entry
    commonly added to PgBouncer's default (empty): JDBC and others send it.
    pgpipe itself needs none.
    """

    _title = "PgBouncer"
    _command_name = "pgbouncer"
    _install_hint = (
        "no pgbouncer program found; install it with `apt-get install pgbouncer` "
        "(Debian/Ubuntu; scripts/setup.sh does) or point PGPIPE_PGBOUNCER at the program"
    )
    _version_pattern = r"PgBouncer (\d+)\.(\d+)(?:\.(\d+))?"
    _config_name = "pgbouncer.ini"
    _log_name = "pgbouncer.log"

    def __init__(
        self,
        postgres: TemporaryPostgres,
        *,
        program: str | None = None,
        port: int | None = None,
        pool_mode: str = "transaction",
        pool_size: int = 2,
        databases: Mapping[str, str] | None = None,
        settings: Mapping[str, str | None] | None = None,
    ) -> None:
        given = dict(settings or {})
        kept = {name: value for name, value in given.items() if value is not None}
        super().__init__(postgres, program, port, kept)
        self._left_out = frozenset(name for name, value in given.items() if value is None)
        self._pool_mode = pool_mode
        self._pool_size = pool_size
        self._databases = dict(databases or {})

    @property
    def pool_mode(self) -> str:
        """``transaction``, ``session`` or ``statement``."""
        return self._pool_mode

    @property
    def pool_size(self) -> int:
        """Server connections per (database, user) pair (``default_pool_size``)."""
        return self._pool_size

    def __repr__(self) -> str:
        return super().__repr__().replace(" in front", f" ({self._pool_mode}) in front")

    def _auth_files(self) -> dict[str, str]:
        return {"userlist.txt": _pgbouncer_userlist(), "hba.conf": _pooler_hba(type(self).__name__)}

    def _config(self, port: int) -> str:
        backend = f"host={self._postgres.socket_dir} port={self._postgres.port}"
        databases = {name: f"{backend} dbname={name}" for name in (_DATABASE, _SUPERUSER)}
        databases.update({name: f"{backend} {extra}" for name, extra in self._databases.items()})
        settings = {
            "listen_addr": self.host,
            "listen_port": str(port),
            "unix_socket_dir": self.directory,
            "auth_type": "hba",
            "auth_hba_file": os.path.join(self.directory, "hba.conf"),
            "auth_file": os.path.join(self.directory, "userlist.txt"),
            "admin_users": _SUPERUSER,
            "pool_mode": self._pool_mode,
            "default_pool_size": str(self._pool_size),
            # Keep every pool full and lend its idle server connections in
            # turn, not the most recently used first: consecutive
            # transactions of one client land on different server sessions,
            # so a test relying on session state fails instead of passing by luck.
            "min_pool_size": str(self._pool_size),
            "server_round_robin": "1",
            "reserve_pool_size": "0",
            "max_client_conn": "200",
            "ignore_startup_parameters": "extra_float_digits",
            # A client waiting for a server connection longer than this is
            # told so (08P01 "query_wait_timeout"), well before pytest's timeout.
            "query_wait_timeout": "30",
            "server_login_retry": "1",
            "log_connections": "0",
            "log_disconnections": "0",
        }
        settings.update(self._settings)
        for name in self._left_out:
            settings.pop(name, None)
        lines = ["; Written by pgpipe.testing.TemporaryPgBouncer", "[databases]"]
        lines += [f"{name} = {entry}" for name, entry in databases.items()]
        lines.append("[pgbouncer]")
        lines += [f"{name} = {value}" for name, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _command(self) -> list[str]:
        return [self.program, self.config_path]

    def _shut_down(self, process: subprocess.Popen[bytes]) -> None:
        _stop_process(process, signal.SIGTERM)  # PgBouncer's immediate shutdown


def _pgbouncer_userlist() -> str:
    """auth_file: every role PgBouncer logs in as, with the password it logs in with."""
    entries = [(_SUPERUSER, "")] + [(user, pw or "") for user, pw in AUTH_USERS.values()]
    return "".join(f'"{_userlist_quote(user)}" "{_userlist_quote(pw)}"\n' for user, pw in entries)


def _userlist_quote(text: str) -> str:
    return text.replace('"', '""')


class TemporaryPgpool(_TemporaryPooler):
    """A pgpool-II in front of a running :class:`TemporaryPostgres`, deleted on exit.

    It listens on 127.0.0.1 (and on a Unix socket in its directory), in
    ``streaming_replication`` clustering mode with the server as its one
    backend (the primary), reached over the server's Unix socket: no
    standby, load balancing, failover, health checks, query cache or
    watchdog.

    pgpool-II pools *sessions*, not transactions: each of its
    ``num_init_children`` processes serves one client at a time for the
    client's whole session, and keeps up to ``max_pool`` server connections
    (one per database and user) open after the client leaves, for the next
    client of the same database and user, reset with ``reset_query_list``
    (``ABORT; DISCARD ALL``). A client beyond ``num_init_children -
    reserved_connections`` (1) is refused ("Sorry, too many clients
    already") instead of queued.

    Clients authenticate with pgpool-II itself (``enable_pool_hba``), by an
    hba file giving each role of :data:`AUTH_USERS` the method it is named
    after and the superuser ``trust``; pgpool-II logs into PostgreSQL with
    the plain-text passwords of its ``pool_passwd``.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`;
    ``stop`` is idempotent and also runs at interpreter exit.

    :param postgres: the started server to pool connections to.
    :param program: the ``pgpool`` program; found automatically (the
        ``PGPIPE_PGPOOL`` environment variable, ``PATH``, ``/usr/sbin``) when
        omitted.
    :param port: TCP port to listen on; a free one is chosen when omitted.
    :param num_init_children: pgpool-II processes, each serving one client at a time.
    :param max_pool: server connections each process keeps for later clients.
    :param settings: extra ``pgpool.conf`` settings, as raw values
        (``{"log_min_messages": "debug1"}``), applied after the defaults.
    """

    _title = "pgpool-II"
    _command_name = "pgpool"
    _install_hint = (
        "no pgpool program found; install it with `apt-get install pgpool2` "
        "(Debian/Ubuntu; scripts/setup.sh does) or point PGPIPE_PGPOOL at the program"
    )
    _version_pattern = r"pgpool-II version (\d+)\.(\d+)(?:\.(\d+))?"
    _config_name = "pgpool.conf"
    _log_name = "pgpool.log"
    # pgpool-II forks its children, and stopping may have to kill them all.
    _own_session = True

    def __init__(
        self,
        postgres: TemporaryPostgres,
        *,
        program: str | None = None,
        port: int | None = None,
        num_init_children: int = 16,
        max_pool: int = 2,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(postgres, program, port, settings)
        self._num_init_children = num_init_children
        self._max_pool = max_pool

    @property
    def num_init_children(self) -> int:
        """pgpool-II processes, each serving one client at a time."""
        return self._num_init_children

    @property
    def max_pool(self) -> int:
        """Server connections each pgpool-II process keeps for later clients."""
        return self._max_pool

    def _auth_files(self) -> dict[str, str]:
        return {
            "pool_passwd": _pgpool_passwd(),
            "pool_hba.conf": _pooler_hba(type(self).__name__),
            "pcp.conf": "",
        }

    def _config(self, port: int) -> str:
        directory = self.directory
        settings = {
            # One backend, no replication, no load balancing: pgpool-II only
            # relays and pools. Not "raw" mode: there pgpool-II 4.3 wraps an
            # extended-protocol INSERT, UPDATE or DELETE (or any statement
            # its parser cannot read) outside a transaction in a BEGIN of
            # its own that it never ends, so the client is left inside a
            # transaction block (ReadyForQuery "T", or "E" after an error).
            "backend_clustering_mode": "'streaming_replication'",
            "sr_check_user": _literal(_SUPERUSER),  # finds the primary at start
            "backend_hostname0": _literal(self._postgres.socket_dir),
            "backend_port0": str(self._postgres.port),
            "backend_flag0": "'DISALLOW_TO_FAILOVER'",
            "listen_addresses": _literal(self.host),
            "port": str(port),
            "socket_dir": _literal(directory),
            # The PCP management port on the Unix socket only, so it takes no TCP port.
            "pcp_listen_addresses": "''",
            "pcp_socket_dir": _literal(directory),
            "wd_ipc_socket_dir": _literal(directory),
            "pid_file_name": _literal(os.path.join(directory, "pgpool.pid")),
            "logdir": _literal(directory),
            "enable_pool_hba": "on",
            "pool_passwd": _literal(os.path.join(directory, "pool_passwd")),
            "num_init_children": str(self._num_init_children),
            # One process short of full, further clients are refused at
            # once (53300) instead of waiting in the listen queue.
            "reserved_connections": "1",
            "max_pool": str(self._max_pool),
            "connection_cache": "on",
            "load_balance_mode": "off",
            "health_check_period": "0",
            "sr_check_period": "0",
            "failover_on_backend_error": "off",
            "memory_cache_enabled": "off",
            "use_watchdog": "off",
            "log_destination": "'stderr'",
            "log_min_messages": "warning",
        }
        settings.update(self._settings)
        lines = ["# Written by pgpipe.testing.TemporaryPgpool"]
        lines += [f"{name} = {value}" for name, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _command(self) -> list[str]:
        directory = self.directory
        return [
            self.program,
            "-n",  # stay in the foreground, logging to standard error
            "-D",  # no backend status from an earlier run
            "-f",
            self.config_path,
            "-F",
            os.path.join(directory, "pcp.conf"),
            "-a",
            os.path.join(directory, "pool_hba.conf"),
        ]

    def _shut_down(self, process: subprocess.Popen[bytes]) -> None:
        _stop_process(process, signal.SIGINT)  # pgpool-II's fast shutdown
        # Children left behind by a killed main process: the group is ours.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def _pgpool_passwd() -> str:
    """pool_passwd: the password of every role that has one, in plain text (``TEXT``).

    pgpool-II needs the password itself, not a hash, to answer PostgreSQL's
    SCRAM exchange and to run its own SCRAM exchange with clients.
    """
    return "".join(f"{user}:TEXT{pw}\n" for user, pw in AUTH_USERS.values() if pw is not None)


# -- finding the binaries ----------------------------------------------------


def _find_bin_dir(explicit: str | None) -> str:
    """The first directory holding the server programs, searched in order."""
    for given in (explicit, os.environ.get("PGPIPE_PG_BIN")):
        if given:
            missing = [p for p in _REQUIRED_PROGRAMS if not _is_program(given, p)]
            if missing:
                raise RuntimeError(f"{given} lacks PostgreSQL programs: {', '.join(missing)}")
            return given
    for candidate in _candidate_bin_dirs():
        if all(_is_program(candidate, p) for p in _REQUIRED_PROGRAMS):
            return candidate
    raise RuntimeError(_INSTALL_HINT)


def _candidate_bin_dirs() -> list[str]:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            result = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True
            )
            candidates.append(result.stdout.strip())
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates += [str(p) for p in sorted(debian, key=lambda p: int(p.parent.name), reverse=True)]
    wheel = _pgserver_bin_dir()
    if wheel is not None:
        candidates.append(wheel)
    return candidates


def _pgserver_bin_dir() -> str | None:
    """The bin directory inside the ``pgserver`` wheel, found without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("pgserver")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(next(iter(spec.submodule_search_locations)), "pginstall", "bin")


def _is_program(directory: str, name: str) -> bool:
    path = os.path.join(directory, name)
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _reachable_bin_dir(bin_dir: str, account: _ServerAccount | None) -> str:
    """``bin_dir``, or a copy of its installation the server account can run.

    Under root the programs run as another account, which cannot reach an
    installation under a private directory (the ``pgserver`` wheel below
    ``/root``, say). Such an installation is copied once to the shared temp
    directory, keeping the relative paths its programs load from: the
    parent of ``bin`` (with ``lib`` and ``share``) and, as ``pgserver``'s
    run paths expect, a ``<package>.libs`` directory beside its package.
    The copy is reused while the source is unchanged.
    """
    if account is None or _account_can_run(os.path.join(bin_dir, "postgres"), account):
        return bin_dir
    bin_path = Path(bin_dir).resolve()
    install = bin_path.parent
    package = install.parent
    layout = {install: Path(package.name, install.name)}
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        layout[libs] = Path(libs.name)
    stamp = f"{install}:{bin_path.joinpath('postgres').stat().st_mtime_ns}"
    key = hashlib.sha256(stamp.encode()).hexdigest()[:16]
    target = Path(_shared_tempdir(), f"pgpipe-pginstall-{key}")
    if not _is_trusted_copy(target):
        staging = tempfile.mkdtemp(prefix="pgpipe-pginstall-", dir=_shared_tempdir())
        try:
            for source, relative in layout.items():
                shutil.copytree(source, Path(staging, relative), symlinks=True)
            for directory in (staging, os.path.join(staging, package.name)):
                os.chmod(directory, 0o755)
            os.rename(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not _is_trusted_copy(target):
                raise
    copied = str(target / layout[install] / bin_path.name)
    if not _account_can_run(os.path.join(copied, "postgres"), account):
        raise RuntimeError(f"account {account.name!r} cannot run the programs in {copied}")
    return copied


def _is_trusted_copy(path: Path) -> bool:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _account_can_run(program: str, account: _ServerAccount) -> bool:
    try:
        result = subprocess.run(
            [program, "--version"],
            capture_output=True,
            cwd="/",
            env=_clean_environment(),
            timeout=30,
            user=account.uid,
            group=account.gid,
            extra_groups=[],
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


# -- accounts, files, processes ----------------------------------------------


def _server_account() -> _ServerAccount | None:
    """The account to run the server as under root; None when not root."""
    if os.geteuid() != 0:
        return None
    import pwd  # only here: pgpipe.testing stays importable where pwd is missing

    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _ServerAccount(name, entry.pw_uid, entry.pw_gid)
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists")


def _shared_tempdir() -> str:
    """The temp directory, if every account can traverse it, else /tmp."""
    preferred = Path(tempfile.gettempdir()).resolve()
    for part in (preferred, *preferred.parents):
        if not part.stat().st_mode & stat.S_IXOTH:
            return "/tmp"
    return str(preferred)


def _clean_environment() -> dict[str, str]:
    """This process's environment without libpq/server variables, in the C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _kill_postmaster(pid_file: Path, data_dir: str) -> None:
    """Last resort when pg_ctl could not stop the server.

    The pid is only signalled while its command line still names our data
    directory, so a stale pid file never kills an unrelated process.
    """
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text(encoding="utf-8").splitlines()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if os.fsencode(data_dir) in cmdline:
            os.kill(pid, signal.SIGKILL)


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def _read_from(path: str, offset: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            file.seek(offset)
            return file.read()
    except FileNotFoundError:
        return ""


def _hba_conf(tls: bool) -> str:
    """pg_hba.conf: one method per test role, over TCP and the Unix socket.

    First match wins: the superuser and each test role get their own lines;
    every other role falls through to scram-sha-256. With TLS, the
    TLS_USERS lines come first.
    """
    rules = [(_SUPERUSER, "trust")]
    rules += [(user, _HBA_METHODS[method]) for method, (user, _) in AUTH_USERS.items()]
    rules.append(("all", "scram-sha-256"))
    lines = ["# Written by pgpipe.testing.TemporaryPostgres"]
    if tls:
        for kind, user, method in (
            ("hostssl", TLS_USERS["cert"], "cert"),
            ("hostssl", TLS_USERS["tls_only"], "trust"),
            ("hostnossl", TLS_USERS["tls_only"], "reject"),
            ("hostnossl", TLS_USERS["plain_only"], "trust"),
            ("hostssl", TLS_USERS["plain_only"], "reject"),
        ):
            lines.append(f"{kind} all {user} 127.0.0.1/32 {method}")
            lines.append(f"{kind} all {user} ::1/128 {method}")
    for user, method in rules:
        lines.append(f"local all {user} {method}")
        lines.append(f"host all {user} 127.0.0.1/32 {method}")
        lines.append(f"host all {user} ::1/128 {method}")
    return "\n".join(lines) + "\n"


def _literal(text: str) -> str:
    """A single-quoted SQL / postgresql.conf string literal."""
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
