"""The password file (``~/.pgpass`` or PGPASSFILE): passwords looked up per host.

Lines are ``hostname:port:database:username:password``; ``*`` matches
anything, ``\\`` escapes ``:`` and ``\\``, and lines starting with ``#``
are comments. The first matching line wins. As libpq does, a file that
group or others may read is ignored with a warning, and nothing about the
password ever reaches a message.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from typing import Final

from pgpipe.conninfo import Host

_log = logging.getLogger("pgpipe")

# libpq's default socket directories (upstream's, and Debian's), matched as "localhost".
_DEFAULT_SOCKET_DIRS = frozenset({"/tmp", "/var/run/postgresql", "/run/postgresql"})


# On Windows libpq keeps its files in %APPDATA%\postgresql, and the password
# file's permissions are not checked (st_mode shows no owner-only files there).
_WINDOWS: Final = os.name == "nt"


def home_directory(environ: Mapping[str, str]) -> str | None:
    """The folder of libpq's per-user files: HOME, or %APPDATA%\\postgresql on Windows.

    Without HOME the account's home directory, which needs pwd: where pwd is
    missing (WebAssembly) there is none, and the per-user files are not read.
    """
    if _WINDOWS:
        appdata = environ.get("APPDATA")
        return os.path.join(appdata, "postgresql") if appdata else None
    home = environ.get("HOME") or os.path.expanduser("~")
    return home if home and home != "~" else None


def default_path(environ: Mapping[str, str]) -> str | None:
    """~/.pgpass, or %APPDATA%\\postgresql\\pgpass.conf on Windows (libpq's names)."""
    home = home_directory(environ)
    if home is None:
        return None
    return os.path.join(home, "pgpass.conf" if _WINDOWS else ".pgpass")


def _fields(line: str) -> list[str]:
    fields: list[str] = []
    current: list[str] = []
    chars = iter(line)
    for c in chars:
        if c == "\\":
            current.append(next(chars, ""))
        elif c == ":" and len(fields) < 4:
            fields.append("".join(current))
            current = []
        else:
            current.append(c)
    fields.append("".join(current))
    return fields


def find_password(text: str, host: Host, database: str, user: str) -> str | None:
    """The password of the first line of ``text`` matching this host, database and user."""
    name = host.name
    if host.is_unix_socket and name.rstrip("/") in _DEFAULT_SOCKET_DIRS:
        name = "localhost"
    wanted = (name, str(host.port), database, user)
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = _fields(line)
        if len(fields) != 5:
            continue
        if all(f == "*" or f == w for f, w in zip(fields[:4], wanted, strict=True)):
            return fields[4]
    return None


def lookup(path: str | None, host: Host, database: str, user: str) -> str | None:
    """Read the password file at ``path`` (if it is there and private) and look up a password."""
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        _log.warning("password file %s is not a plain file", path)
        return None
    if not _WINDOWS and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning(
            "password file %s has group or world access; permissions should be u=rw (0600) "
            "or less; ignoring it",
            path,
        )
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            text = file.read()
    except OSError:
        return None
    return find_password(text, host, database, user)
