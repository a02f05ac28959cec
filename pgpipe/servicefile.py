"""Connection service files: named sets of connection parameters.

``service=name`` (or PGSERVICE) reads section ``[name]`` of the user's file
(PGSERVICEFILE, else ``~/.pg_service.conf``, in ``%APPDATA%\\postgresql`` on
Windows) or, when it is not there, of the system file
(``$PGSYSCONFDIR/pg_service.conf``). The section's ``key=value`` lines fill
in parameters the connection string did not set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pgpipe.errors import InterfaceError
from pgpipe.passfile import home_directory

# Where Debian's libpq looks when PGSYSCONFDIR is not set.
_SYSTEM_DIR = "/etc/postgresql-common"


def parse_section(text: str, name: str, origin: str) -> dict[str, str] | None:
    """The parameters of section ``[name]`` in ``text``, or None when it has none."""
    found: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if found is not None:
                return found
            if not line.endswith("]"):
                raise InterfaceError(f"syntax error in service file {origin}, line {number}")
            if line[1:-1].strip() == name:
                found = {}
            continue
        if found is None:
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise InterfaceError(f"syntax error in service file {origin}, line {number}")
        key = key.strip()
        if key == "service":
            raise InterfaceError(f"nested service specifications not supported in {origin}")
        found[key] = value.strip()
    return found


def service_files(environ: Mapping[str, str]) -> list[str]:
    """The user's service file (when there is a home to hold it), then the system's."""
    user_file = environ.get("PGSERVICEFILE")
    if user_file is None:
        home = home_directory(environ)
        user_file = os.path.join(home, ".pg_service.conf") if home else None
    system_file = os.path.join(environ.get("PGSYSCONFDIR") or _SYSTEM_DIR, "pg_service.conf")
    return [user_file, system_file] if user_file else [system_file]


def lookup(name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The parameters of service ``name``; InterfaceError when no file defines it."""
    for path in service_files(environ):
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise InterfaceError(
                f"could not read service file {path}: {exc.strerror or exc}"
            ) from None
        section = parse_section(text, name, path)
        if section is not None:
            return section
    raise InterfaceError(f"definition of service {name!r} not found")
