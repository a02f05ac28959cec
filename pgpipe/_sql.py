"""SQL text that pgpipe writes itself around names the user gives."""

from __future__ import annotations

from pgpipe import errors


def quote_identifier(name: str, what: str = "an identifier") -> str:
    """``name`` as an SQL identifier: double-quoted with inner quotes doubled, so
    case and every character are kept and nothing can end it early. ``what``
    names it in the error for anything that cannot be one."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise errors.ProgrammingError(f"{what} is a non-empty str without NUL, not {name!r}")
    return '"' + name.replace('"', '""') + '"'
