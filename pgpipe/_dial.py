"""Which connections to try, in what order, and when to go on: shared by both adapters.

libpq's rules. Hosts are tried in order (shuffled with
``load_balance_hosts=random``). On each host, ``sslmode`` decides the
attempts: ``allow`` tries plaintext and then TLS if the server refused;
``prefer`` tries TLS (plaintext if the server answers "N") and then
plaintext if the handshake failed or the server refused over TLS.
``target_session_attrs`` rejects a server whose role does not fit, read from
the ParameterStatus values the startup reports (``in_hot_standby`` and
``default_transaction_read_only``, PostgreSQL 14+); ``prefer-standby`` makes
a second pass that takes any server.
"""

from __future__ import annotations

import random
import socket
import ssl
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pgpipe import errors, passfile
from pgpipe.conninfo import ConnectParams, Host
from pgpipe.tls import Negotiation, https_context, make_context

if TYPE_CHECKING:
    from typing import TypeAlias

    from pgpipe._websocket import WebSocketNegotiation

    Opening: TypeAlias = Negotiation | WebSocketNegotiation

# Attempts per host: True asks for TLS.
_TLS_ATTEMPTS: Final = {"disable": (False,), "allow": (False, True), "prefer": (True, False)}

# None where the platform has no Unix-domain sockets (Windows builds without
# them, WebAssembly): socket.AF_UNIX is then missing altogether.
_AF_UNIX: Final[int | None] = getattr(socket, "AF_UNIX", None)

# The query libpq falls back on when a server does not report its role.
ROLE_QUERY: Final = (
    "SELECT pg_catalog.pg_is_in_recovery()::text, "
    "pg_catalog.current_setting('transaction_read_only')"
)


@dataclass(slots=True)
class Attempt:
    """One connection attempt, and what it learnt while failing."""

    params: ConnectParams
    tls: bool
    target: str
    tls_used: bool = False
    tls_failed: bool = False
    error: BaseException | None = None

    def retry_same_host(self) -> bool:
        """Whether the host's next attempt (other TLS choice) is worth making."""
        # The server's own ErrorResponse carries a SQLSTATE; a refused or
        # dropped TCP connection does not, and retrying it would not help.
        refused = isinstance(self.error, errors.DatabaseError) and "C" in self.error.fields
        mode = self.params.sslmode
        if mode == "allow":
            return refused
        if mode == "prefer":
            return self.tls_failed or (self.tls_used and refused)
        return False


def attempts(
    params: ConnectParams, environ: Mapping[str, str], rng: random.Random | None = None
) -> Iterator[Attempt]:
    """The attempts to make, in order; the caller records each failure on the attempt."""
    hosts = list(params.hosts)
    if params.load_balance_hosts == "random":
        (rng or random.Random()).shuffle(hosts)
    target = params.target_session_attrs
    passes = ("standby", "any") if target == "prefer-standby" else (target,)
    password_file = params.passfile or passfile.default_path(environ)
    passwords: dict[Host, str | None] = {}
    for wanted in passes:
        for host in hosts:
            if host not in passwords:
                passwords[host] = params.password or passfile.lookup(
                    password_file, host, params.dbname, params.user
                )
            password = passwords[host]
            # As libpq, no TLS over a Unix socket.
            choices = (
                (False,) if host.is_unix_socket else _TLS_ATTEMPTS.get(params.sslmode, (True,))
            )
            if params.websocket is not None:
                # One WebSocket, its TLS (wss) from the URL: no SSLRequest inside.
                yield Attempt(params.to(host, password), False, wanted)
                return
            if params.sock is not None:
                # The caller's one connection: a single attempt (TLS already on
                # the socket, or negotiated as sslmode says), no second host.
                yield Attempt(
                    params.to(host, password), choices[0] and not _tls_on(params.sock), wanted
                )
                return
            for tls in choices:
                attempt = Attempt(params.to(host, password), tls, wanted)
                yield attempt
                if attempt.error is None or not attempt.retry_same_host():
                    break


def role_mismatch(target: str, standby: bool, read_only: bool) -> str | None:
    """Why a server does not fit ``target_session_attrs``; None when it does."""
    if target in ("read-write", "read-only") and read_only != (target == "read-only"):
        return "the session is read-only" if read_only else "the session is read-write"
    if target in ("primary", "standby") and standby != (target == "standby"):
        return "the server is in hot standby" if standby else "the server is not in hot standby"
    return None


def reported_role(parameters: Mapping[str, str]) -> tuple[bool, bool] | None:
    """(in hot standby, read-only) from ParameterStatus, or None if not reported."""
    standby = parameters.get("in_hot_standby")
    read_only = parameters.get("default_transaction_read_only")
    if standby is None or read_only is None:
        return None
    return standby == "on", read_only == "on" or standby == "on"


def queried_role(rows: list[tuple[object, ...]]) -> tuple[bool, bool]:
    """(in hot standby, read-only) from the rows ROLE_QUERY returned."""
    standby, read_only = rows[0]
    return standby == "true", read_only == "on"


def failure(tried: list[Attempt]) -> BaseException:
    """The error to raise when every attempt failed."""
    if len({a.params.hosts[0] for a in tried}) == 1:
        last = tried[-1].error
        if last is not None:
            return last
    lines = "; ".join(f"{a.params.address()}: {a.error}" for a in tried)
    return errors.OperationalError(f"could not connect to any host: {lines}")


def unix_socket_family(host: Host) -> int:
    """socket.AF_UNIX, to reach a socket directory; a clear error where there is none."""
    if _AF_UNIX is None:
        raise errors.OperationalError(
            f"could not connect to {host}: this platform has no Unix-domain sockets "
            "(socket.AF_UNIX); give a host name or IP address instead of a directory"
        )
    return _AF_UNIX


def is_unix_family(family: int) -> bool:
    """Whether a socket's family is AF_UNIX (never, where the platform has none)."""
    return _AF_UNIX is not None and family == _AF_UNIX


def tune_socket(sock: socket.socket, params: ConnectParams) -> None:
    """TCP_NODELAY and libpq's keepalive settings; the peer check on a Unix socket."""
    if is_unix_family(sock.family):
        check_peer(sock, params.requirepeer)
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if params.keepalives else 0)
    if not params.keepalives:
        return
    for option, value in (
        ("TCP_KEEPIDLE", params.keepalives_idle),
        ("TCP_KEEPINTVL", params.keepalives_interval),
        ("TCP_KEEPCNT", params.keepalives_count),
        ("TCP_USER_TIMEOUT", params.tcp_user_timeout),
    ):
        if value is not None and hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def check_peer(sock: socket.socket, requirepeer: str | None) -> None:
    """``requirepeer``: the server process must run as this operating-system user."""
    if not requirepeer:
        return
    if not hasattr(socket, "SO_PEERCRED"):
        # libpq asks getpeereid() elsewhere; Python offers only Linux's SO_PEERCRED.
        raise errors.OperationalError("requirepeer is not supported on this platform")
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    name = _account_name(uid)
    if name != requirepeer:
        raise errors.OperationalError(
            f"requirepeer specifies {requirepeer!r}, but the server runs as {name!r}"
        )


def _account_name(uid: int) -> str:
    """The account name of a user id; the number itself when it has none."""
    try:
        import pwd  # only where Unix sockets exist; imported late so Windows can import pgpipe
    except ImportError:
        return str(uid)
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def open_address(params: ConnectParams) -> tuple[str, int]:
    """The TCP address to connect to: the WebSocket URL's host, else hostaddr when
    given, else the name."""
    if params.websocket is not None:
        from pgpipe._websocket import parse_websocket_url

        url = parse_websocket_url(params.websocket)
        return (url.host, url.port)
    host = params.hosts[0]
    return (host.hostaddr or host.name, host.port)


def _tls_on(sock: object) -> bool:
    """Whether a connection the caller gave already speaks TLS."""
    if isinstance(sock, ssl.SSLSocket):
        return True
    get_extra_info = getattr(sock, "get_extra_info", None)
    if get_extra_info is None and isinstance(sock, tuple) and len(sock) == 2:
        get_extra_info = getattr(sock[1], "get_extra_info", None)
    return get_extra_info is not None and get_extra_info("ssl_object") is not None


def opening(attempt: Attempt, environ: Mapping[str, str]) -> Opening | None:
    """What runs between connecting and the startup message: the WebSocket upgrade
    (with its own TLS for wss), else SSLRequest and the TLS handshake when the
    attempt asks for TLS; None when the startup comes first. Each has
    ``data_to_send``, ``receive_data``, ``done``, ``handshaking`` and ``channel``."""
    params = attempt.params
    if params.websocket is not None:
        from pgpipe._websocket import WebSocketNegotiation, parse_websocket_url

        url = parse_websocket_url(params.websocket)
        context = https_context(params, environ) if url.secure else None
        return WebSocketNegotiation(url, context)
    if not attempt.tls:
        return None
    return Negotiation(make_context(params, environ), params)
