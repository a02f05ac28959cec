"""Connection parameters from a URI or key=value string, keyword arguments and PG* variables.

Pure: no sockets and no files; the environment is passed in. Precedence, as
libpq: keyword argument > connection string > environment > default. Error
messages never quote the connection string (it may hold a password).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote

from pgpipe.errors import InterfaceError

_ENVIRONMENT: Final = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
}
_STRING_KEYS: Final = frozenset(_ENVIRONMENT)
_ALIASES: Final = {"database": "dbname"}
_KEYWORD_ONLY: Final = frozenset(
    {
        "server_settings",
        "pipeline_connect",
        "pipeline_connect_fallback",
        "allow_unverified_pipelining",
    }
)
_PIPELINE_MODES: Final = ("auto", "trust", "password", "scram")


@dataclass(frozen=True, slots=True)
class ConnectParams:
    """Everything needed to open one connection."""

    host: str
    port: int
    user: str
    dbname: str
    password: str | None = field(default=None, repr=False)
    application_name: str | None = None
    connect_timeout: float | None = None
    options: str | None = None
    server_settings: Mapping[str, str] = field(default_factory=dict)
    pipeline_connect: str | None = None
    pipeline_connect_fallback: bool = False
    allow_unverified_pipelining: bool = False

    def address(self) -> str:
        """Where the connection goes, for messages: host:port or the socket file."""
        return self.unix_socket_path() or f"{self.host}:{self.port}"

    def unix_socket_path(self) -> str | None:
        """The socket file when ``host`` is a directory (it starts with "/"), else None."""
        if self.host.startswith("/"):
            return f"{self.host.rstrip('/')}/.s.PGSQL.{self.port}"
        return None


def _parse_uri(dsn: str) -> dict[str, str]:
    scheme, _, rest = dsn.partition("://")
    if scheme not in ("postgresql", "postgres"):
        raise InterfaceError("a connection URI starts with postgresql:// or postgres://")
    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    out: dict[str, str] = {}
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            out["user"] = unquote(user)
        if colon:
            out["password"] = unquote(password)
    if "," in hostport:
        raise InterfaceError("several hosts in one connection string are not supported yet")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise InterfaceError("unterminated [ in the URI's host")
        host, port = hostport[1:end], hostport[end + 1 :].removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    if host:
        out["host"] = unquote(host)
    if port:
        out["port"] = port
    if slash and path:
        out["dbname"] = unquote(path)
    for item in query.split("&") if query else []:
        key, eq, value = item.partition("=")
        if not eq:
            raise InterfaceError(f"URI parameter {unquote(key)!r} has no value")
        out[_canonical(unquote(key))] = unquote(value)
    return out


def _parse_keywords(dsn: str) -> dict[str, str]:
    """libpq's ``key=value key='quoted \\' value'`` form."""
    out: dict[str, str] = {}
    i, n = 0, len(dsn)
    while True:
        while i < n and dsn[i].isspace():
            i += 1
        if i >= n:
            return out
        eq = dsn.find("=", i)
        if eq < 0:
            raise InterfaceError("a connection string entry is missing '='")
        key = dsn[i:eq].strip()
        i = eq + 1
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


def _canonical(key: str) -> str:
    key = _ALIASES.get(key, key)
    if key not in _STRING_KEYS:
        raise InterfaceError(f"unknown connection parameter {key!r}")
    return key


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise InterfaceError(f"invalid port {value!r}")
    return int(value)


def _timeout(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        raise InterfaceError(f"invalid connect_timeout {value!r}") from None
    return seconds if seconds > 0 else None


def parse_dsn(
    dsn: str | None, params: Mapping[str, object], environ: Mapping[str, str]
) -> ConnectParams:
    """Merge a connection string, keyword arguments and the environment into ConnectParams."""
    merged: dict[str, str] = {}
    for key, variable in _ENVIRONMENT.items():
        if environ.get(variable):
            merged[key] = environ[variable]
    if dsn:
        merged.update(_parse_uri(dsn) if "://" in dsn else _parse_keywords(dsn))
    server_settings: Mapping[str, str] = {}
    options: dict[str, object] = {}
    for key, value in params.items():
        if key == "server_settings":
            if not isinstance(value, Mapping):
                raise InterfaceError("server_settings must be a mapping of names to values")
            server_settings = {str(k): str(v) for k, v in value.items()}
        elif key in _KEYWORD_ONLY:
            options[key] = value
        elif value is not None:
            merged[_canonical(key)] = str(value)
    user = merged.get("user") or environ.get("USER") or "postgres"
    return ConnectParams(
        host=merged.get("host") or "localhost",
        port=_port(merged.get("port") or "5432"),
        user=user,
        dbname=merged.get("dbname") or user,
        password=merged.get("password"),
        application_name=merged.get("application_name"),
        connect_timeout=_timeout(merged["connect_timeout"])
        if "connect_timeout" in merged
        else None,
        options=merged.get("options"),
        server_settings=server_settings,
        pipeline_connect=_pipeline_mode(options.get("pipeline_connect")),
        pipeline_connect_fallback=bool(options.get("pipeline_connect_fallback", False)),
        allow_unverified_pipelining=bool(options.get("allow_unverified_pipelining", False)),
    )


def _pipeline_mode(value: object) -> str | None:
    """None/False/"off" turn pipelined connect off; True means "auto"."""
    if value is None or value is False or value == "off":
        return None
    if value is True:
        return "auto"
    if value not in _PIPELINE_MODES:
        raise InterfaceError(
            f"pipeline_connect must be one of off, {', '.join(_PIPELINE_MODES)}, not {value!r}"
        )
    return str(value)
