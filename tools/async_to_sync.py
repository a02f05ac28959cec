"""Generate pgpipe/sync.py (the blocking adapter) from pgpipe/aio.py (the asyncio one).

The asyncio adapter is the one source of both: its behaviour is written once.
The blocking adapter is the same text with

- ``async`` dropped before ``def``, ``with`` and ``for``, and ``await`` dropped;
- names mapped to their blocking twins (``AsyncConnection`` -> ``Connection``,
  ``__aenter__`` -> ``__enter__``, ``pgpipe._io_aio`` -> ``pgpipe._io_sync``,
  see ``NAMES``), in code, strings (docstrings: the same in both adapters
  once mapped) and comments;
- an ``if True:  # ASYNC`` block replaced by its ``else:`` branch (or by
  nothing): the place for a real difference, none so far outside the I/O
  modules;
- the names a ``from ... import`` line takes sorted again, as ruff sorts them;
- the module docstring replaced by ``SYNC_DOCSTRING``, and a first line
  saying the file is generated.

The real differences (sockets or transports, a lock or an event loop,
KeyboardInterrupt or task cancellation) live in pgpipe/_io_sync.py and
pgpipe/_io_aio.py, written by hand.

It does the same for pgpipe/dbapi.py, from pgpipe/dbapi_async.py, and for
pgpipe/pool.py, from pgpipe/pool_async.py (``FILES``).

Usage: ``python tools/async_to_sync.py`` writes the generated files;
``python tools/async_to_sync.py --check`` exits 1 (printing a diff) when one
is not what the generator makes of its source. The test suite runs the
check.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import sys
import tokenize
from pathlib import Path
from typing import Final

ROOT = Path(__file__).resolve().parent.parent


def _header(source: str) -> str:
    return f"# Generated from pgpipe/{source} by tools/async_to_sync.py: edit that file instead.\n"

SYNC_DOCSTRING = '''"""The blocking adapter: a Session driven over a socket.

Generated from ``pgpipe.aio``, the asyncio adapter, which is the one source
of both (see tools/async_to_sync.py). What really differs between the two,
the I/O, lives in ``pgpipe._io_sync`` and ``pgpipe._io_aio``; what a timeout
or an interruption does, in ``pgpipe._run``; the protocol, in the Session.
"""'''

DBAPI_DOCSTRING = '''"""PEP 249 (DB-API 2.0): pgpipe as the module pandas, SQLAlchemy and other
database code expect, with psycopg's ``pyformat`` parameters.

Generated from ``pgpipe.dbapi_async``, its asyncio form, which is the one
source of both (see tools/async_to_sync.py). Both sit on pgpipe's native
connection (``connection.native``), which stays available.

>>> conn = pgpipe.dbapi.connect("postgresql://app@db/app")  # doctest: +SKIP
>>> cur = conn.cursor()  # doctest: +SKIP
>>> cur.execute("SELECT %s + 1 AS n", (41,))  # doctest: +SKIP
>>> cur.fetchone()  # doctest: +SKIP
(42,)
"""'''

POOL_DOCSTRING = '''"""A pool of blocking connections that never hands out a dead one.

Generated from ``pgpipe.pool_async`` (``pgpipe.AsyncPool``), which is the one
source of both (see tools/async_to_sync.py); what differs, the waits, lives
in ``pgpipe._tasks_sync`` and ``pgpipe._tasks_aio``.

>>> with pgpipe.Pool("postgresql://app@db/app", max_size=10) as pool:  # doctest: +SKIP
...     with pool.connection() as conn:
...         conn.query("SELECT 1")
"""'''

NAMES: dict[str, str] = {
    "AsyncChannel": "Channel",
    "AsyncCopy": "Copy",
    "AsyncCursor": "Cursor",
    "AsyncServerCursor": "ServerCursor",
    "AsyncConnection": "Connection",
    "AsyncConnectionBase": "ConnectionBase",
    "AsyncConnectionPipeline": "ConnectionPipeline",
    "AsyncIterator": "Iterator",
    "AsyncPreparedStatement": "PreparedStatement",
    "AsyncRowStream": "RowStream",
    "StopAsyncIteration": "StopIteration",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "_io_aio": "_io_sync",
    "_tasks_aio": "_tasks_sync",
    "AsyncPool": "Pool",
    "pool_async": "pool",
    "aio": "sync",
    "dbapi_async": "dbapi",
    "asynccontextmanager": "contextmanager",
    "connect_async": "connect",
}

_NAME_IN_TEXT = re.compile(r"\b(" + "|".join(sorted(NAMES, key=len, reverse=True)) + r")\b")
_AWAIT_IN_TEXT = re.compile(r"\bawait\s+")
_ASYNC_IN_TEXT = re.compile(r"\basync\s+(?=(?:def|with|for)\b)")
_ASYNC_BLOCK = re.compile(r"^(\s*)if True:\s*# ASYNC\s*$")
_ELSE = re.compile(r"^(\s*)else:\s*(# SYNC\s*)?$")


def map_text(text: str) -> str:
    """A string's or comment's text, as the blocking adapter says it."""
    text = _AWAIT_IN_TEXT.sub("", text)
    text = _ASYNC_IN_TEXT.sub("", text)
    return _NAME_IN_TEXT.sub(lambda m: NAMES[m.group(1)], text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def drop_async_blocks(source: str) -> str:
    """Replace each ``if True:  # ASYNC`` block by its ``else:`` branch, dedented."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _ASYNC_BLOCK.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        level = len(match.group(1))
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > level):
            i += 1
        if i < len(lines) and _indent(lines[i]) == level and _ELSE.match(lines[i]):
            i += 1
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > level):
                line = lines[i]
                out.append(line[4:] if line.strip() else line)
                i += 1
    return "".join(out)


def _offsets(source: str) -> list[int]:
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def map_tokens(source: str) -> str:
    """Drop ``async``/``await`` and map names, keeping every other character in place."""
    starts = _offsets(source)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    edits: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens):
        start = starts[token.start[0] - 1] + token.start[1]
        end = starts[token.end[0] - 1] + token.end[1]
        if token.type == tokenize.NAME:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if token.string == "await" or (
                token.string == "async"
                and following is not None
                and following.string in ("def", "with", "for")
            ):
                # The keyword and the spaces after it.
                gap_end = end
                while gap_end < len(source) and source[gap_end] == " ":
                    gap_end += 1
                edits.append((start, gap_end, ""))
            elif token.string in NAMES:
                edits.append((start, end, NAMES[token.string]))
        elif token.type in (tokenize.STRING, tokenize.COMMENT):
            mapped = map_text(token.string)
            if mapped != token.string:
                edits.append((start, end, mapped))
    for start, end, text in reversed(edits):
        source = source[:start] + text + source[end:]
    return source


def _group(name: str) -> int:
    """CONSTANTS, Classes, then the rest: the groups ruff sorts names in."""
    if name.isupper() and len(name) > 1:
        return 0
    return 1 if name[:1].isupper() else 2


def _name_order(name: str) -> tuple[int, str, str]:
    """ruff's (isort's) order within an import: by group, then case-insensitively."""
    bare = name.split(" as ")[0]
    return (_group(bare), bare.lower(), bare)


def _export_order(name: str) -> tuple[int, str]:
    """ruff's order of ``__all__`` (RUF022): by group, then case-sensitively."""
    return (_group(name), name)


_ALL: Final = re.compile(r'^__all__ = \[\n((?:    "\w+",\n)+)\]$', re.MULTILINE)


def sort_exports(source: str) -> str:
    """Sort ``__all__`` again after mapping."""

    def resort(match: re.Match[str]) -> str:
        names = [line.strip().strip(",").strip('"') for line in match.group(1).splitlines()]
        body = "".join(f'    "{n}",\n' for n in sorted(names, key=_export_order))
        return f"__all__ = [\n{body}]"

    return _ALL.sub(resort, source)


_FROM_IMPORT = re.compile(r"^from (\S+) import (\(\n(?:    .*,\n)+\)|[^\n(]+)$", re.MULTILINE)


def sort_imports(source: str) -> str:
    """Sort again the names each ``from x import a, b`` takes, after mapping."""

    def resort(match: re.Match[str]) -> str:
        names_text = match.group(2)
        if names_text.startswith("("):
            names = [n.strip().rstrip(",") for n in names_text[1:-1].strip().splitlines()]
            body = "".join(f"    {n},\n" for n in sorted(names, key=_name_order))
            return f"from {match.group(1)} import (\n{body})"
        names = [n.strip() for n in names_text.split(",")]
        return f"from {match.group(1)} import {', '.join(sorted(names, key=_name_order))}"

    return _FROM_IMPORT.sub(resort, source)


def replace_docstring(source: str, docstring: str) -> str:
    """The module docstring, written for the blocking form."""
    end = source.index('"""', 3) + 3
    assert source.startswith('"""'), "a source module must open with its docstring"
    return docstring + source[end:]


FILES: list[tuple[str, str, str]] = [
    ("aio.py", "sync.py", SYNC_DOCSTRING),
    ("dbapi_async.py", "dbapi.py", DBAPI_DOCSTRING),
    ("pool_async.py", "pool.py", POOL_DOCSTRING),
]
"""(source, generated, the generated module's docstring), in pgpipe/."""


def generate(source: str, name: str = "aio.py", docstring: str = SYNC_DOCSTRING) -> str:
    text = drop_async_blocks(source)
    text = map_tokens(text)
    text = replace_docstring(text, docstring)
    text = sort_imports(text)
    text = sort_exports(text)
    return _header(name) + text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if pgpipe/sync.py is not up to date"
    )
    args = parser.parse_args(argv)
    status = 0
    for source_name, target_name, docstring in FILES:
        source = ROOT / "pgpipe" / source_name
        target = ROOT / "pgpipe" / target_name
        generated = generate(source.read_text(encoding="utf-8"), source_name, docstring)
        if not args.check:
            target.write_text(generated, encoding="utf-8")
            continue
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != generated:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    f"pgpipe/{target_name}",
                    f"generated from pgpipe/{source_name}",
                )
            )
            print(
                f"pgpipe/{target_name} is out of date: run `python tools/async_to_sync.py`",
                file=sys.stderr,
            )
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
