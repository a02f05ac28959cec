"""Connection parameters, as libpq reads them.

Sources, strongest first (libpq's order): keyword arguments, the connection
string (a ``postgresql://`` URI or ``key=value`` pairs), the connection
service named by ``service`` or PGSERVICE, the PG* environment variables,
then the defaults. Every parameter and its variable are listed in
``PARAMETERS`` and documented in docs/connecting.md.

Parsing is pure: the environment and the service lookup are passed in.
Error messages name the parameter but never quote the connection string,
which may hold a password.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final
from urllib.parse import quote, unquote

from pgpipe.errors import InterfaceError
from pgpipe.protocol.buffer import DEFAULT_MAX_MESSAGE_SIZE


@dataclass(frozen=True, slots=True)
class Parameter:
    """One libpq connection parameter: its environment variable and default."""

    env: str | None = None
    default: str | None = None
    choices: tuple[str, ...] = ()


_ONOFF: Final = ("0", "1")

PARAMETERS: Final[Mapping[str, Parameter]] = {
    "host": Parameter("PGHOST", "localhost"),
    "hostaddr": Parameter("PGHOSTADDR"),
    "port": Parameter("PGPORT", "5432"),
    "dbname": Parameter("PGDATABASE"),
    "user": Parameter("PGUSER"),
    "password": Parameter("PGPASSWORD"),
    "passfile": Parameter("PGPASSFILE"),
    "service": Parameter("PGSERVICE"),
    "require_auth": Parameter("PGREQUIREAUTH"),
    "channel_binding": Parameter("PGCHANNELBINDING", "prefer", ("disable", "prefer", "require")),
    "connect_timeout": Parameter("PGCONNECT_TIMEOUT"),
    "client_encoding": Parameter("PGCLIENTENCODING"),
    "options": Parameter("PGOPTIONS"),
    "application_name": Parameter("PGAPPNAME"),
    "fallback_application_name": Parameter(),
    "keepalives": Parameter(None, "1", _ONOFF),
    "keepalives_idle": Parameter(),
    "keepalives_interval": Parameter(),
    "keepalives_count": Parameter(),
    "tcp_user_timeout": Parameter(),
    "sslmode": Parameter(
        "PGSSLMODE",
        "prefer",
        ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    ),
    "sslnegotiation": Parameter("PGSSLNEGOTIATION", "postgres", ("postgres", "direct")),
    "sslcompression": Parameter(None, "0", _ONOFF),
    "sslcert": Parameter("PGSSLCERT"),
    "sslkey": Parameter("PGSSLKEY"),
    "sslpassword": Parameter(),
    "sslcertmode": Parameter("PGSSLCERTMODE", "allow", ("disable", "allow")),
    "sslrootcert": Parameter("PGSSLROOTCERT"),
    "sslcrl": Parameter("PGSSLCRL"),
    "sslcrldir": Parameter("PGSSLCRLDIR"),
    "sslsni": Parameter("PGSSLSNI", "1", _ONOFF),
    "ssl_min_protocol_version": Parameter(
        "PGSSLMINPROTOCOLVERSION", "TLSv1.2", ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    ),
    "ssl_max_protocol_version": Parameter(
        "PGSSLMAXPROTOCOLVERSION", None, ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
    ),
    "gssencmode": Parameter("PGGSSENCMODE", "disable", ("disable", "prefer")),
    "krbsrvname": Parameter("PGKRBSRVNAME"),
    "gsslib": Parameter("PGGSSLIB"),
    "gssdelegation": Parameter("PGGSSDELEGATION", "0", _ONOFF),
    "requirepeer": Parameter("PGREQUIREPEER"),
    "target_session_attrs": Parameter(
        "PGTARGETSESSIONATTRS",
        "any",
        ("any", "read-write", "read-only", "primary", "standby", "prefer-standby"),
    ),
    "load_balance_hosts": Parameter("PGLOADBALANCEHOSTS", "disable", ("disable", "random")),
}
"""Every parameter pgpipe accepts in a connection string, with libpq's names."""

_ALIASES: Final = {"database": "dbname"}
_KEYWORD_ONLY: Final = frozenset(
    {
        "ssl",
        "server_settings",
        "pipeline_connect",
        "pipeline_connect_fallback",
        "allow_unverified_pipelining",
        "command_timeout",
        "cancel_timeout",
        "max_message_size",
        "statement_cache_size",
        "websocket",
        "sock",
    }
)
_PIPELINE_MODES: Final = ("auto", "trust", "password", "scram")
_AUTH_METHODS: Final = ("password", "md5", "scram-sha-256", "none", "gss", "sspi")
_VERIFYING: Final = ("verify-ca", "verify-full")

DEFAULT_CANCEL_TIMEOUT: Final = 5.0
"""Seconds a cancelled statement has to end (the cancel sent, the rest read) before
pgpipe closes the connection instead."""


@dataclass(frozen=True, slots=True)
class Host:
    """One place to connect to: a host name, IP address or socket directory, and a port.

    ``hostaddr`` is the numeric address to use instead of looking ``name`` up;
    ``name`` still serves TLS verification, SNI and the password file.
    """

    name: str
    port: int
    hostaddr: str | None = None

    @property
    def is_unix_socket(self) -> bool:
        return self.hostaddr is None and self.name.startswith("/")

    def socket_path(self) -> str:
        return f"{self.name.rstrip('/')}/.s.PGSQL.{self.port}"

    def __str__(self) -> str:
        if self.is_unix_socket:
            return self.socket_path()
        name = f"[{self.name}]" if ":" in self.name else self.name
        via = f" ({self.hostaddr})" if self.hostaddr and self.hostaddr != self.name else ""
        return f"{name}:{self.port}{via}"


@dataclass(frozen=True, slots=True)
class ConnectParams:
    """Everything needed to open a connection, checked and with defaults filled in."""

    hosts: tuple[Host, ...]
    user: str
    dbname: str
    password: str | None = field(default=None, repr=False)
    passfile: str | None = None
    application_name: str | None = None
    connect_timeout: float | None = None
    options: str | None = None
    server_settings: Mapping[str, str] = field(default_factory=dict)
    sslmode: str = "prefer"
    sslnegotiation: str = "postgres"
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    sslpassword: str | None = field(default=None, repr=False)
    sslcertmode: str = "allow"
    sslcrl: str | None = None
    sslcrldir: str | None = None
    sslsni: bool = True
    ssl_min_protocol_version: str = "TLSv1.2"
    ssl_max_protocol_version: str | None = None
    ssl: ssl.SSLContext | None = None
    channel_binding: str = "prefer"
    require_auth: frozenset[str] | None = None
    requirepeer: str | None = None
    target_session_attrs: str = "any"
    load_balance_hosts: str = "disable"
    keepalives: bool = True
    keepalives_idle: int | None = None
    keepalives_interval: int | None = None
    keepalives_count: int | None = None
    tcp_user_timeout: int | None = None
    pipeline_connect: str | None = None
    pipeline_connect_fallback: bool = False
    allow_unverified_pipelining: bool = False
    command_timeout: float | None = None
    cancel_timeout: float = DEFAULT_CANCEL_TIMEOUT
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    statement_cache_size: int = 0
    websocket: str | None = None
    """``ws://`` or ``wss://`` URL: PostgreSQL's bytes in WebSocket messages (Neon's
    proxy, wsproxy) instead of a plain TCP connection."""
    sock: object | None = field(default=None, repr=False, compare=False)
    """A connection the caller opened: a socket (blocking adapter) or a socket,
    transport or (reader, writer) pair (asyncio adapter), used instead of dialling."""

    @property
    def host(self) -> str:
        """The first (after a connection: the connected) host's name."""
        return self.hosts[0].name

    @property
    def port(self) -> int:
        return self.hosts[0].port

    def address(self) -> str:
        """Where the connection goes, for messages: host:port or the socket file."""
        return str(self.hosts[0])

    def unix_socket_path(self) -> str | None:
        """The socket file when the first host is a directory (it starts with "/")."""
        first = self.hosts[0]
        return first.socket_path() if first.is_unix_socket else None

    def to(self, host: Host, password: str | None) -> ConnectParams:
        """These parameters aimed at one host, with the password found for it."""
        return replace(self, hosts=(host,), password=password)


# -- connection strings -------------------------------------------------------


def _parse_uri(dsn: str) -> dict[str, str]:
    scheme, _, rest = dsn.partition("://")
    if scheme not in ("postgresql", "postgres"):
        raise InterfaceError("a connection URI starts with postgresql:// or postgres://")
    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    out: dict[str, str] = {}
    userinfo, at, hostlist = authority.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            out["user"] = unquote(user)
        if colon:
            out["password"] = unquote(password)
    if hostlist:
        hosts: list[str] = []
        ports: list[str] = []
        for item in hostlist.split(","):
            host, port = _split_host_port(item)
            hosts.append(unquote(host))
            ports.append(port)
        if any(hosts):
            out["host"] = ",".join(hosts)
        if any(ports):
            out["port"] = ",".join(ports)
    if slash and path:
        out["dbname"] = unquote(path)
    for item in query.split("&") if query else []:
        key, eq, value = item.partition("=")
        key, value = unquote(key), unquote(value)
        if not eq:
            raise InterfaceError(f"URI parameter {key!r} has no value")
        if key == "ssl":
            # JDBC's spelling, which libpq also takes in URIs.
            if value != "true":
                raise InterfaceError("the URI parameter ssl only takes the value true")
            key, value = "sslmode", "require"
        out[_canonical(key)] = value
    return out


def _split_host_port(item: str) -> tuple[str, str]:
    if item.startswith("["):
        end = item.find("]")
        if end < 0:
            raise InterfaceError("unterminated [ in the URI's host")
        rest = item[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InterfaceError("unexpected text after ] in the URI's host")
        return item[1:end], rest[1:]
    host, _, port = item.partition(":")
    return host, port


def _parse_keywords(dsn: str) -> dict[str, str]:
    """libpq's ``key=value key='quoted \\' value'`` form."""
    out: dict[str, str] = {}
    i, n = 0, len(dsn)
    while True:
        while i < n and dsn[i].isspace():
            i += 1
        if i >= n:
            return out
        start = i
        while i < n and dsn[i] != "=" and not dsn[i].isspace():
            i += 1
        key = dsn[start:i]
        while i < n and dsn[i].isspace():
            i += 1
        if i >= n or dsn[i] != "=":
            raise InterfaceError(f"connection string entry {key!r} is missing '='")
        i += 1
        while i < n and dsn[i].isspace():
            i += 1
        chars: list[str] = []
        if i < n and dsn[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise InterfaceError(f"unterminated quoted value for {key!r}")
                c = dsn[i]
                if c == "\\" and i + 1 < n:
                    chars.append(dsn[i + 1])
                    i += 2
                elif c == "'":
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
        else:
            while i < n and not dsn[i].isspace():
                if dsn[i] == "\\" and i + 1 < n:
                    chars.append(dsn[i + 1])
                    i += 2
                else:
                    chars.append(dsn[i])
                    i += 1
        out[_canonical(key)] = "".join(chars)


def parse_conninfo(dsn: str) -> dict[str, str]:
    """The parameters a connection string sets, by canonical name, without defaults."""
    dsn = dsn.strip()
    if "://" in dsn.split("=", 1)[0]:
        return _parse_uri(dsn)
    return _parse_keywords(dsn)


def make_conninfo(values: Mapping[str, str]) -> str:
    """A ``key=value`` connection string that ``parse_conninfo`` reads back as ``values``."""
    parts = []
    for key, value in values.items():
        _canonical(key)
        if value and not any(c.isspace() or c in "'\\" for c in value):
            parts.append(f"{key}={value}")
        else:
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"{key}='{escaped}'")
    return " ".join(parts)


def make_uri(values: Mapping[str, str]) -> str:
    """A ``postgresql://`` URI carrying ``values`` (every one as a query parameter)."""
    query = "&".join(
        f"{quote(_canonical(k), safe='')}={quote(v, safe='')}" for k, v in values.items()
    )
    return "postgresql://" + (f"?{query}" if query else "")


def _canonical(key: str) -> str:
    key = _ALIASES.get(key, key)
    if key not in PARAMETERS:
        raise InterfaceError(f"unknown connection parameter {key!r}")
    return key


# -- checking values -----------------------------------------------------------


def _choice(values: Mapping[str, str], key: str) -> str:
    spec = PARAMETERS[key]
    value = values.get(key) or spec.default or ""
    if value and spec.choices and value not in spec.choices:
        raise InterfaceError(
            f"invalid {key} value {value!r}: expected one of {', '.join(spec.choices)}"
        )
    return value


def _integer(values: Mapping[str, str], key: str, *, minimum: int = 0) -> int | None:
    value = values.get(key)
    if value is None or value == "":
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise InterfaceError(f"invalid {key} value {value!r}: expected an integer") from None
    if number < minimum:
        raise InterfaceError(f"invalid {key} value {value!r}: must be at least {minimum}")
    return number


def _timeout(values: Mapping[str, str]) -> float | None:
    value = values.get("connect_timeout")
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise InterfaceError(f"invalid connect_timeout value {value!r}") from None
    if seconds != seconds:
        raise InterfaceError(f"invalid connect_timeout value {value!r}")
    # libpq: zero or less waits forever; under 2 s is raised to 2 s.
    return max(seconds, 2.0) if seconds > 0 else None


def seconds(value: object, name: str) -> float | None:
    """A timeout in seconds from a keyword argument: None (no limit) or a positive number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InterfaceError(
            f"{name} must be a number of seconds or None, not {type(value).__name__}"
        )
    if not 0 < value <= _MAX_SECONDS:
        shown = f"{value:.6g}" if isinstance(value, float) or abs(value) < 10**15 else "that"
        raise InterfaceError(
            f"{name} must be a positive number of seconds up to a year "
            f"(None for no limit), not {shown}"
        )
    return float(value)


_MAX_SECONDS: Final = 366 * 86400  # past this, a deadline overflows some platforms' clocks


def _message_size(value: object) -> int:
    """The largest backend message accepted, in bytes (a longer one is refused from its header)."""
    if value is None:
        return DEFAULT_MAX_MESSAGE_SIZE
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        raise InterfaceError(f"max_message_size must be an integer of at least 1024, not {value!r}")
    return value


def _cache_size(value: object) -> int:
    """How many named statements the per-connection LRU cache keeps (0: no cache)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InterfaceError(f"statement_cache_size must be an integer >= 0, not {value!r}")
    return value


def _ports(values: Mapping[str, str], count: int) -> list[int]:
    raw = (values.get("port") or "").split(",")
    if len(raw) == 1:
        raw *= count
    elif len(raw) != count:
        raise InterfaceError(f"could not match {len(raw)} port numbers to {count} hosts")
    ports = []
    for item in raw:
        item = item.strip() or PARAMETERS["port"].default or "5432"
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise InterfaceError(f"invalid port number {item!r}")
        ports.append(int(item))
    return ports


def _hosts(values: Mapping[str, str]) -> tuple[Host, ...]:
    names = (values.get("host") or "").split(",")
    addrs = (values.get("hostaddr") or "").split(",") if values.get("hostaddr") else None
    if addrs is not None and values.get("host") and len(addrs) != len(names):
        raise InterfaceError(f"could not match {len(names)} host names to {len(addrs)} hostaddr")
    count = len(addrs) if addrs is not None else len(names)
    if addrs is not None and not values.get("host"):
        names = [""] * count
    ports = _ports(values, count)
    hosts = []
    for i in range(count):
        addr = addrs[i].strip() if addrs is not None else ""
        name = names[i].strip() or addr or "localhost"
        hosts.append(Host(name, ports[i], addr or None))
    return tuple(hosts)


def parse_require_auth(value: str) -> frozenset[str]:
    """libpq 16's ``require_auth``: methods the server may use, or ``!``-methods it may not."""
    items = [item.strip() for item in value.split(",")]
    negated = {item.startswith("!") for item in items}
    if len(negated) > 1:
        raise InterfaceError("require_auth cannot mix methods with !methods")
    names = [item.removeprefix("!") for item in items]
    for name in names:
        if name not in _AUTH_METHODS:
            raise InterfaceError(
                f"invalid require_auth method {name!r}: expected {', '.join(_AUTH_METHODS)}"
            )
    if True in negated:
        return frozenset(m for m in _AUTH_METHODS if m not in names)
    return frozenset(names)


def _tls_settings(values: dict[str, str], explicit: set[str]) -> None:
    """libpq's rules tying sslmode, sslrootcert and sslnegotiation together."""
    if values.get("sslrootcert") == "system":
        if "sslmode" not in explicit:
            values["sslmode"] = "verify-full"
        elif values["sslmode"] != "verify-full":
            raise InterfaceError(
                f"weak sslmode {values['sslmode']!r} may not be used with sslrootcert=system "
                "(use verify-full)"
            )
    if values.get("sslnegotiation") == "direct" and values.get("sslmode", "prefer") not in (
        "require",
        *_VERIFYING,
    ):
        raise InterfaceError(
            f"weak sslmode {values.get('sslmode', 'prefer')!r} may not be used with "
            "sslnegotiation=direct (use require, verify-ca or verify-full)"
        )


def parse_dsn(
    dsn: str | None,
    params: Mapping[str, object],
    environ: Mapping[str, str],
    service: Callable[[str], Mapping[str, str]] | None = None,
) -> ConnectParams:
    """Merge keyword arguments, a connection string, a service and the environment.

    ``service`` looks up a connection service by name (see pgpipe.servicefile);
    without it, naming a service is an error.
    """
    given: dict[str, str] = parse_conninfo(dsn) if dsn else {}
    extra: dict[str, object] = {}
    server_settings: Mapping[str, str] = {}
    for key, value in params.items():
        if key == "server_settings":
            if not isinstance(value, Mapping):
                raise InterfaceError("server_settings must be a mapping of names to values")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise InterfaceError("server_settings must be a mapping of str names to str values")
            server_settings = dict(value)
        elif key in _KEYWORD_ONLY:
            extra[key] = value
        elif value is not None:
            key = _canonical(key)
            given[key] = _keyword_value(key, value)
    values = dict(given)
    # The names set, in one pass: each lookup in os.environ decodes its key and value.
    named = set(environ)
    service_name = values.get("service") or ("PGSERVICE" in named and environ["PGSERVICE"])
    if service_name:
        if service is None:
            raise InterfaceError("connection services need a service file lookup")
        for key, value in service(service_name).items():
            values.setdefault(_canonical(key), value)
    for key, spec in PARAMETERS.items():
        if key not in values and spec.env in named and environ[spec.env]:
            values[key] = environ[spec.env]
    _tls_settings(values, set(values))
    return _build(values, environ, server_settings, extra)


def _keyword_value(key: str, value: object, inside: bool = False) -> str:
    """A keyword argument as libpq's text: a str, a number, a path, or (hosts,
    ports...) a list or tuple of them; anything else is refused, not shown as its
    repr (``b'db'`` is not a host name)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return str(value)
    if (isinstance(value, int) and abs(value) < 10**18) or isinstance(value, float):
        return str(value)
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    if isinstance(value, list | tuple) and not inside:
        return ",".join(_keyword_value(key, item, inside=True) for item in value)
    raise InterfaceError(
        f"{key} takes a str, a number or a path"
        + ("" if inside else " (or a list of them)")
        + f", not {type(value).__name__}"
    )


# Where the operating system names the user running this process, in the order tried.
_USER_VARIABLES: Final = ("USER", "LOGNAME", "USERNAME")


def default_user(environ: Mapping[str, str]) -> str:
    """The user name when none is given: the operating-system user, as libpq.

    The environment's USER, LOGNAME or USERNAME (Windows) first, then the
    account this process runs as: pwd where it exists, getpass elsewhere.
    Neither pwd nor getpass is needed to import pgpipe (Windows, WebAssembly).
    """
    for variable in _USER_VARIABLES:
        if environ.get(variable):
            return environ[variable]
    name = _account_name()
    if name is None:
        raise InterfaceError(
            "no user name given and the operating-system user is unknown: "
            "set user= in the connection string or PGUSER"
        )
    return name


def _account_name() -> str | None:
    """The name of the account running this process, or None if it has none."""
    if hasattr(os, "geteuid"):
        try:
            import pwd  # missing on Windows and WebAssembly: imported only here
        except ImportError:
            pass
        else:
            try:
                return pwd.getpwuid(os.geteuid()).pw_name
            except KeyError:  # a uid with no passwd entry (containers)
                pass
    import getpass

    try:
        return getpass.getuser() or None
    except (ImportError, KeyError, OSError):  # OSError from 3.13, ImportError before
        return None


def _build(
    values: Mapping[str, str],
    environ: Mapping[str, str],
    server_settings: Mapping[str, str],
    extra: Mapping[str, object],
) -> ConnectParams:
    encoding = values.get("client_encoding")
    if encoding and encoding.upper().replace("-", "") not in ("UTF8", "UNICODE", "AUTO"):
        raise InterfaceError(f"pgpipe speaks UTF8 only, not client_encoding {encoding!r}")
    # Every parameter with a fixed set of values is checked, used or not.
    chosen = {key: _choice(values, key) for key, spec in PARAMETERS.items() if spec.choices}
    context = extra.get("ssl")
    if context is not None and not isinstance(context, ssl.SSLContext):
        raise InterfaceError("ssl must be an ssl.SSLContext")
    user = values.get("user") or default_user(environ)
    require_auth = values.get("require_auth")
    sslmode = chosen["sslmode"]
    if (
        context is not None
        and sslmode in ("disable", "allow", "prefer")
        and "sslmode" not in values
    ):
        sslmode = "require"
    params = ConnectParams(
        hosts=_hosts(values),
        user=user,
        dbname=values.get("dbname") or user,
        password=values.get("password") or None,
        passfile=values.get("passfile"),
        application_name=values.get("application_name") or values.get("fallback_application_name"),
        connect_timeout=_timeout(values),
        options=values.get("options"),
        server_settings=server_settings,
        sslmode=sslmode,
        sslnegotiation=chosen["sslnegotiation"],
        sslrootcert=values.get("sslrootcert") or None,
        sslcert=values.get("sslcert") or None,
        sslkey=values.get("sslkey") or None,
        sslpassword=values.get("sslpassword"),
        sslcertmode=chosen["sslcertmode"],
        sslcrl=values.get("sslcrl") or None,
        sslcrldir=values.get("sslcrldir") or None,
        sslsni=chosen["sslsni"] == "1",
        ssl_min_protocol_version=chosen["ssl_min_protocol_version"],
        ssl_max_protocol_version=chosen["ssl_max_protocol_version"] or None,
        ssl=context,
        channel_binding=chosen["channel_binding"],
        require_auth=parse_require_auth(require_auth) if require_auth else None,
        requirepeer=values.get("requirepeer") or None,
        target_session_attrs=chosen["target_session_attrs"],
        load_balance_hosts=chosen["load_balance_hosts"],
        keepalives=chosen["keepalives"] == "1",
        keepalives_idle=_integer(values, "keepalives_idle"),
        keepalives_interval=_integer(values, "keepalives_interval"),
        keepalives_count=_integer(values, "keepalives_count"),
        tcp_user_timeout=_integer(values, "tcp_user_timeout"),
        pipeline_connect=_pipeline_mode(extra.get("pipeline_connect")),
        pipeline_connect_fallback=bool(extra.get("pipeline_connect_fallback", False)),
        allow_unverified_pipelining=bool(extra.get("allow_unverified_pipelining", False)),
        command_timeout=seconds(extra.get("command_timeout"), "command_timeout"),
        cancel_timeout=seconds(extra.get("cancel_timeout"), "cancel_timeout")
        or DEFAULT_CANCEL_TIMEOUT,
        max_message_size=_message_size(extra.get("max_message_size")),
        statement_cache_size=_cache_size(extra.get("statement_cache_size")),
        websocket=_websocket(extra.get("websocket")),
        sock=extra.get("sock"),
    )
    _check(params)
    return params


# What the server asks for when pipelined connect guesses each method, in require_auth's words.
_GUESSED_METHOD: Final = {"trust": "none", "password": "password", "scram": "scram-sha-256"}


def verifies_peer(context: ssl.SSLContext) -> bool:
    """Whether a handshake with this context proves the server is the host named."""
    return context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def _verifies_server(params: ConnectParams) -> bool:
    """Whether every connection these parameters allow proves the server's identity."""
    if params.websocket is not None:
        # wss checks the certificate as any HTTPS client does (params.ssl may relax it).
        secure = params.websocket.startswith("wss:")
        return secure and (params.ssl is None or verifies_peer(params.ssl))
    if params.ssl is not None:
        return verifies_peer(params.ssl)
    return params.sslmode == "verify-full"


def _check(params: ConnectParams) -> None:
    """Combinations that can never work, refused before any I/O."""
    mode = params.pipeline_connect
    if mode is not None and params.target_session_attrs != "any":
        raise InterfaceError(
            f"pipeline_connect cannot be combined with target_session_attrs="
            f"{params.target_session_attrs}: the first query would reach a server "
            "before its role is known"
        )
    if mode in ("password", "scram") and not (
        params.allow_unverified_pipelining or _verifies_server(params)
    ):
        raise InterfaceError(
            f"pipeline_connect={mode!r} sends "
            + (
                "the password before the server asks for it"
                if mode == "password"
                else "the first query before the server has proved it knows the password"
            )
            + "; that needs TLS with verified certificates (sslmode=verify-full) or "
            "allow_unverified_pipelining=True, which is unsafe on untrusted networks"
        )
    required = params.require_auth
    if mode in _GUESSED_METHOD and required is not None and _GUESSED_METHOD[mode] not in required:
        raise InterfaceError(
            f"pipeline_connect={mode!r} answers {_GUESSED_METHOD[mode]} authentication, "
            "which require_auth does not allow"
        )
    if params.channel_binding == "require" and params.sslmode == "disable":
        raise InterfaceError("channel_binding=require needs TLS, but sslmode is disable")
    if params.websocket is not None:
        _check_websocket(params)


def _websocket(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if not isinstance(value, str) or not value.startswith(("ws://", "wss://")):
        raise InterfaceError("websocket takes a ws:// or wss:// URL")
    return value


def _check_websocket(params: ConnectParams) -> None:
    """What a WebSocket connection cannot do."""
    if params.sock is not None:
        raise InterfaceError("give websocket or sock, not both")
    secure = params.websocket is not None and params.websocket.startswith("wss:")
    if not secure and params.sslmode in ("require", "verify-ca", "verify-full"):
        raise InterfaceError(
            f"sslmode={params.sslmode} needs TLS: use a wss:// URL (a ws:// WebSocket is plaintext)"
        )
    if params.channel_binding == "require":
        raise InterfaceError(
            "channel_binding=require cannot be met over a WebSocket: the TLS is the "
            "proxy's, not the server's"
        )


def _pipeline_mode(value: object) -> str | None:
    """None/False/"off" turn pipelined connect off; True means "auto"."""
    if value is None or value is False or (isinstance(value, str) and value == "off"):
        return None
    if value is True:
        return "auto"
    if not isinstance(value, str) or value not in _PIPELINE_MODES:
        raise InterfaceError(
            f"pipeline_connect must be one of off, {', '.join(_PIPELINE_MODES)}, not {value!r}"
        )
    return str(value)
