"""What the blocking and asyncio adapters share besides the Session: the state
their connections expose, prepared-statement handles, the SCRAM nonce; and
the blocking connection's base (its lock), kept interpreted here."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from pgpipe import errors
from pgpipe._info import ConnectionInfo
from pgpipe._operations import Prepared
from pgpipe._stats import Stats
from pgpipe._transaction import TransactionStatus

if TYPE_CHECKING:
    from pgpipe._session import Session

_Conn = TypeVar("_Conn")


class StatementHandle(Generic[_Conn]):
    """What both adapters' prepared statements share: the statement and its connection."""

    __slots__ = ("_conn", "_prepared")

    def __init__(self, conn: _Conn, prepared: Prepared) -> None:
        self._conn = conn
        self._prepared = prepared

    def __repr__(self) -> str:
        state = "closed" if self._prepared.closed else "open"
        return f"<pgpipe.{type(self).__name__} {self._prepared.name} {state}>"

    @property
    def name(self) -> str:
        return self._prepared.name

    @property
    def param_types(self) -> tuple[int, ...]:
        """The parameter type OIDs the server settled on."""
        return self._prepared.param_oids


SEND_AT_CONNECT: Final = frozenset({"auto", "scram"})
"""Pipelined modes whose first flight leaves at connect time: the rest waits for
the server's first answer anyway, so sending early saves latency."""


def scram_nonce() -> str:
    """A fresh SCRAM client nonce (24 random bytes, base64url)."""
    return secrets.token_urlsafe(24)


class ConnectionState:
    """The read-only state both adapters' connections expose."""

    __slots__ = ("_closed_reason", "_session")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._closed_reason: str | None = None

    def _check_open(self) -> None:
        if self._closed_reason is not None:
            # The server's goodbye read while the connection was idle: the next
            # call raises it, as it would have had it been read by that call.
            error, self._session.idle_error = self._session.idle_error, None
            if error is not None:
                raise error
            raise errors.InterfaceError(f"the connection is closed ({self._closed_reason})")

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    @property
    def closed_reason(self) -> str | None:
        """Why the connection is closed, or None while it is open."""
        return self._closed_reason

    @property
    def info(self) -> ConnectionInfo:
        """Every fact about the connection: host, port, server_version, backend_pid..."""
        return ConnectionInfo(self._session)

    @property
    def transaction_status(self) -> TransactionStatus:
        """``info.transaction_status``."""
        return self.info.transaction_status

    @property
    def parameters(self) -> dict[str, str]:
        """``info.parameters``."""
        return self.info.parameters

    @property
    def stats(self) -> Stats:
        """Round trips, flights and bytes so far (a snapshot)."""
        return replace(self._session.stats)

    @property
    def auth_method(self) -> str | None:
        """``info.auth_method``."""
        return self.info.auth_method

    @property
    def tls_version(self) -> str | None:
        """``info.tls_version``."""
        return self.info.tls_version

    @property
    def channel_binding(self) -> bool:
        """``info.channel_binding``."""
        return self.info.channel_binding

    @property
    def host(self) -> str:
        """Where this connection went, for messages: host:port or the socket file (of
        several hosts given, the one that answered). ``info.host`` and ``info.port``
        give the host and the port apart."""
        return self._session.params.address()

    @property
    def backend_pid(self) -> int | None:
        """``info.backend_pid``."""
        return self.info.backend_pid

    @property
    def notices(self) -> list[Mapping[str, str]]:
        """The most recent NoticeResponse fields (up to 100), oldest first."""
        return list(self._session.notices)


class ConnectionBase(ConnectionState):
    """What a blocking connection has that an asyncio one has not: a lock.

    ``pgpipe._io_sync`` gives it to the blocking adapter (as ``_io_aio`` gives
    ``AsyncConnectionBase``); it is written here because ``_io_sync`` is compiled
    in the compiled build, where a compiled class cannot be based on this
    module's interpreted one and have the adapter's interpreted subclass."""

    __slots__ = ("_lock",)

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        # One operation at a time: another thread waits for the current one to finish.
        self._lock = threading.Lock()
