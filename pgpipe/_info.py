"""``conn.info``: every fact about a connection in one place, read when asked.

Where each fact lives: the connection parameters aimed at the host that
answered (host, port, dbname, user), the protocol core (BackendKeyData,
ReadyForQuery's transaction status, ParameterStatus settings, the SASL
mechanism), the TLS channel and the authentication method the session
recorded. Nothing is copied at connect time, so the live facts (transaction
status, settings) are current whenever they are read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from pgpipe._transaction import TransactionStatus

if TYPE_CHECKING:
    from pgpipe._session import Session

# libpq's reading of server_version (PQserverVersion): up to three dot-separated
# numbers at the start; whatever follows ("beta1", "devel", " (Debian ...)") is
# not part of the number.
_VERSION_NUMBERS: Final = re.compile(r"\s*(\d+)(?:\.(\d+)(?:\.(\d+))?)?", re.ASCII)


def server_version_number(text: str) -> int:
    """A server_version setting as libpq's PQserverVersion number; 0 when unreadable.

    "15.4" -> 150004 and "16beta1" -> 160000 (from PostgreSQL 10: major * 10000
    + minor); "9.6.1" -> 90601 and "9.6devel" -> 90600 (before 10: the first
    two numbers were the major version).
    """
    found = _VERSION_NUMBERS.match(text)
    if found is None:
        return 0
    major = int(found[1])
    if found[2] is None:  # 16beta1, 10devel
        return major * 10000
    minor = int(found[2])
    if found[3] is not None:  # 9.6.1: the old three-part form
        return (major * 100 + minor) * 100 + int(found[3])
    if major >= 10:  # 15.4
        return major * 10000 + minor
    return (major * 100 + minor) * 100  # 9.6devel


class ConnectionInfo:
    """Every fact about one connection: ``conn.info``.

    Read-only. Each attribute is read from the connection when asked, so
    ``transaction_status`` and ``parameters`` are those of the moment, and one
    ``info`` kept aside stays current.
    """

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    def __repr__(self) -> str:
        tls = self.tls_version or "plaintext"
        return (
            f"<pgpipe.ConnectionInfo {self.user}@{self.host}:{self.port}/{self.dbname} "
            f"pid={self.backend_pid} server_version={self.server_version} {tls} "
            f"{self.transaction_status.name}>"
        )

    # -- where the connection went: the host that answered, of those given --

    @property
    def host(self) -> str:
        """The host name, IP address or Unix socket directory that answered (no port)."""
        return self._session.params.hosts[0].name

    @property
    def port(self) -> int:
        """The TCP port, or the number in the Unix socket's file name."""
        return self._session.params.hosts[0].port

    @property
    def dbname(self) -> str:
        return self._session.params.dbname

    @property
    def user(self) -> str:
        """The role the connection authenticated as."""
        return self._session.params.user

    # -- what the server said at startup and since --

    @property
    def server_version(self) -> int:
        """The server's version as one number, as libpq's PQserverVersion: 150004 for
        15.4, 160000 for 16beta1; 0 when the server did not report one."""
        return server_version_number(self._session.core.parameters.get("server_version", ""))

    @property
    def backend_pid(self) -> int | None:
        """The server process's id (BackendKeyData), or None before the server sent it."""
        key = self._session.core.backend_key
        return key.process_id if key is not None else None

    @property
    def parameters(self) -> dict[str, str]:
        """A copy of the settings the server reported by ParameterStatus, as they are now."""
        return dict(self._session.core.parameters)

    @property
    def transaction_status(self) -> TransactionStatus:
        """IDLE ("I"), IN_TRANSACTION ("T") or FAILED ("E"), from the last ReadyForQuery."""
        return TransactionStatus(self._session.core.transaction_status)

    @property
    def encoding(self) -> str | None:
        """The client_encoding setting ("UTF8"), in PostgreSQL's spelling."""
        return self._session.core.parameters.get("client_encoding")

    @property
    def timezone(self) -> str | None:
        """The TimeZone setting ("Etc/UTC"), as the server reports it."""
        return self._session.core.parameters.get("TimeZone")

    # -- how the connection is protected --

    @property
    def tls_version(self) -> str | None:
        """The TLS version in use ("TLSv1.3"), or None on a plaintext connection."""
        tls = self._session.tls
        return tls.version if tls is not None else None

    @property
    def channel_binding(self) -> bool:
        """Whether SCRAM authentication was bound to the TLS connection (-PLUS)."""
        return self._session.core.sasl_mechanism == "SCRAM-SHA-256-PLUS"

    @property
    def auth_method(self) -> str | None:
        """How the server authenticated this connection: trust, password, md5 or scram
        (None until authentication is over)."""
        return self._session.auth_method
