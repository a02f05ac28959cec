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

Usage: ``python tools/async_to_sync.py`` writes pgpipe/sync.py;
``python tools/async_to_sync.py --check`` exits 1 (printing a diff) when
pgpipe/sync.py is not what the generator makes of pgpipe/aio.py. The test
suite runs the check.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "pgpipe" / "aio.py"
TARGET = ROOT / "pgpipe" / "sync.py"

HEADER = (
    "# Generated from pgpipe/aio.py by tools/async_to_sync.py: do not edit; "
    "change aio.py and run that.\n"
)

SYNC_DOCSTRING = '''"""The blocking adapter: a Session driven over a socket.

Generated from ``pgpipe.aio``, the asyncio adapter, which is the one source
of both (see tools/async_to_sync.py). What really differs between the two,
the I/O, lives in ``pgpipe._io_sync`` and ``pgpipe._io_aio``; what a timeout
or an interruption does, in ``pgpipe._run``; the protocol, in the Session.
"""'''

NAMES: dict[str, str] = {
    "AsyncChannel": "Channel",
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


def _name_order(name: str) -> tuple[int, str]:
    """ruff's (isort's) order within an import: CONSTANTS, Classes, then the rest."""
    bare = name.split(" as ")[0]
    if bare.isupper() and len(bare) > 1:
        return (0, bare)
    if bare[:1].isupper():
        return (1, bare)
    return (2, bare)


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


def replace_docstring(source: str) -> str:
    """The module docstring, written for the blocking adapter."""
    end = source.index('"""', 3) + 3
    assert source.startswith('"""'), "aio.py must open with its docstring"
    return SYNC_DOCSTRING + source[end:]


def generate(source: str) -> str:
    text = drop_async_blocks(source)
    text = replace_docstring(text)
    text = map_tokens(text)
    text = sort_imports(text)
    return HEADER + text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if pgpipe/sync.py is not up to date"
    )
    args = parser.parse_args(argv)
    generated = generate(SOURCE.read_text(encoding="utf-8"))
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != generated:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    "pgpipe/sync.py",
                    "generated from pgpipe/aio.py",
                )
            )
            print(
                "pgpipe/sync.py is out of date: run `python tools/async_to_sync.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.write_text(generated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
