"""The blocking adapter: a Session driven over a socket.

All protocol and result logic lives in ``pgpipe._session``; this module only
connects, sends what the core queued, and reads until the operation ends.
An operation interrupted half-way (an exception, KeyboardInterrupt) closes
the connection, so it is never left out of sync.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from pgpipe import errors
from pgpipe._session import Operation, Session
from pgpipe.conninfo import ConnectParams, parse_dsn
from pgpipe.protocol.events import NEED_DATA
from pgpipe.result import Result

_RECV_SIZE = 1 << 16
_Op = TypeVar("_Op", bound=Operation)


def scram_nonce() -> str:
    """A fresh SCRAM client nonce (24 random bytes, base64url)."""
    return secrets.token_urlsafe(24)


def _open_socket(params: ConnectParams) -> socket.socket:
    timeout = params.connect_timeout
    path = params.unix_socket_path()
    where = path or f"{params.host}:{params.port}"
    try:
        if path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(path)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((params.host, params.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except TimeoutError:
        raise errors.OperationalError(f"timeout connecting to {where}") from None
    except OSError as exc:
        raise errors.OperationalError(
            f"could not connect to {where}: {exc.strerror or exc}"
        ) from None
    return sock


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else f"interrupted by {type(exc).__name__}"


class Connection:
    """A blocking connection to PostgreSQL. Create one with ``pgpipe.connect()``.

    >>> with pgpipe.connect("postgresql://app@localhost/app") as conn:  # doctest: +SKIP
    ...     conn.query("SELECT $1::int + 1", 41).rows
    [(42,)]
    """

    __slots__ = ("_closed_reason", "_lock", "_session", "_sock")

    def __init__(self, sock: socket.socket, session: Session) -> None:
        self._sock = sock
        self._session = session
        self._closed_reason: str | None = None
        # One operation at a time: another thread waits for the current one to finish.
        self._lock = threading.Lock()

    @classmethod
    def _connect(cls, params: ConnectParams) -> Connection:
        deadline = None
        if params.connect_timeout is not None:
            deadline = time.monotonic() + params.connect_timeout
        sock = _open_socket(params)
        conn = cls(sock, Session(params, scram_nonce()))
        try:
            conn._run(conn._session.startup(), deadline).check()
        except BaseException:
            conn._abort("startup failed")
            raise
        sock.settimeout(None)
        return conn

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<pgpipe.Connection {self._session!r} {state}>"

    # -- the I/O loop --------------------------------------------------------

    def _run(self, op: _Op, deadline: float | None = None) -> _Op:
        core = self._session.core
        sock = self._sock
        try:
            while True:
                event = core.next_event()
                if event is NEED_DATA:
                    data = core.data_to_send()
                    if data:
                        sock.sendall(data)
                    if deadline is not None:
                        sock.settimeout(max(deadline - time.monotonic(), 0.001))
                    core.receive_data(sock.recv(_RECV_SIZE))
                elif op.feed(event):
                    break
        except OSError as exc:
            if isinstance(exc, TimeoutError):
                reason = "timeout waiting for the server"
            else:
                reason = f"connection lost: {exc.strerror or exc}"
            self._abort(reason)
            raise errors.OperationalError(reason) from None
        except BaseException as exc:
            self._abort(_reason(exc))
            raise
        if self._session.is_closed:
            self._abort(str(op.error) if op.error else "the server closed the connection")
        return op

    def _abort(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        self._sock.close()

    def _check_open(self) -> None:
        if self._closed_reason is not None:
            raise errors.InterfaceError(f"the connection is closed ({self._closed_reason})")

    # -- public API ----------------------------------------------------------

    def query(self, sql: str, *params: object) -> Result:
        """Run one statement; parameter types are inferred from the Python values.

        One round trip, whether or not this SQL text was seen before.
        """
        with self._lock:
            self._check_open()
            return self._run(self._session.query(sql, params)).result()

    def query_with_param_types(self, sql: str, params: Sequence[tuple[object, int]]) -> Result:
        """Run one statement with ``(value, pgpipe.Type.X)`` pairs: one round trip."""
        with self._lock:
            self._check_open()
            return self._run(self._session.query_with_param_types(sql, params)).result()

    def execute(self, sql: str) -> list[Result]:
        """Run SQL text that may hold several statements (simple protocol, no parameters)."""
        with self._lock:
            self._check_open()
            return self._run(self._session.execute(sql)).result()

    def close(self) -> None:
        """Send Terminate and close the socket; closing twice is harmless."""
        if self._closed_reason is not None:
            return
        self._closed_reason = "closed by the client"
        try:
            self._session.core.send_terminate()
            self._sock.sendall(self._session.core.data_to_send())
        except (OSError, errors.Error):
            pass
        self._sock.close()

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    @property
    def closed_reason(self) -> str | None:
        """Why the connection is closed, or None while it is open."""
        return self._closed_reason

    @property
    def transaction_status(self) -> str:
        """ "I" idle, "T" in a transaction block, "E" in a failed transaction block."""
        return self._session.core.transaction_status

    @property
    def parameters(self) -> dict[str, str]:
        """Server settings reported by ParameterStatus (server_version, TimeZone...)."""
        return dict(self._session.core.parameters)

    @property
    def backend_pid(self) -> int | None:
        key = self._session.core.backend_key
        return key.process_id if key is not None else None

    @property
    def notices(self) -> list[Mapping[str, str]]:
        """The most recent NoticeResponse fields (up to 100), oldest first."""
        return list(self._session.notices)

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(dsn: str | None = None, **params: Any) -> Connection:
    """Open a blocking connection.

    ``dsn`` is a ``postgresql://`` URI or a ``key=value`` string; keyword
    arguments (host, port, user, password, dbname, application_name,
    connect_timeout, options, server_settings) override it, and it overrides
    the PG* environment variables.
    """
    return Connection._connect(parse_dsn(dsn, params, os.environ))
