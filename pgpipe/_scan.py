"""How many parameters SQL text takes: its ``$n`` placeholders, found as
PostgreSQL's own scanner (src/backend/parser/scan.l) finds them.

A ``$n`` counts only outside string constants, quoted identifiers, dollar
quotes and comments, and only where it starts a token: ``x$1`` is one
identifier (identifiers may hold ``$``). The server's count is the highest
``n`` used, so that is the count here too. What is recognised:

- ``'...'`` with ``''`` inside; backslash escapes in ``E'...'`` strings, and
  in every ``'...'`` when ``standard_conforming_strings`` is off;
- ``$tag$...$tag$`` (the tag may be empty), ``"..."`` with ``""`` inside,
  ``U&'...'`` and ``U&"..."``;
- ``--`` comments to the end of the line and nested ``/* ... */`` comments.

Text the server would reject as unterminated gets no count (None): the
server's syntax error then says what is wrong better than a count would.
Counts are remembered per SQL text.
"""

from __future__ import annotations

import itertools
import re
from typing import Final

from pgpipe import errors

# scan.l's ident_start and ident_cont, with every non-ASCII character (its
# \200-\377 bytes) as a letter; dolq_cont is ident_cont without "$".
_START: Final = r"A-Za-z_\u0080-\U0010ffff"
_TOKEN: Final = re.compile(
    rf"(?P<ident>[{_START}][{_START}0-9$]*)"
    r"|\$(?P<param>[0-9]+)"
    rf"|(?P<dollar>\$(?:[{_START}][{_START}0-9]*)?\$)"
    r"|(?P<open>['\"]|--|/\*)"
    r"|(?P<paren>[()])"
)
_LINE_END: Final = re.compile(r"[\n\r]")
_COMMENT_MARK: Final = re.compile(r"/\*|\*/")
_QUOTES_OR_BACKSLASH: Final = re.compile(r"['\\]")
# The highest parameter number a Bind can carry values for.
_MAX_PARAMETERS: Final = 65535


def parameter_count(sql: object, standard_conforming_strings: bool = True) -> int | None:
    """The number of parameters ``sql`` takes (its highest ``$n``), or None when the
    text is unterminated (a string, quoted identifier or comment left open)."""
    counts = COUNTS if standard_conforming_strings else _COUNTS_WITHOUT_SCS
    if type(sql) is str:
        count = counts.get(sql, _UNKNOWN)
        if count is not _UNKNOWN:
            return count  # type: ignore[return-value]
    elif isinstance(sql, str):
        sql = str(sql)
    else:
        raise errors.InterfaceError(f"SQL text must be a str, not {type(sql).__name__}")
    count, copy_from_stdin = _count(sql, standard_conforming_strings)
    if copy_from_stdin:
        # Not remembered: the fast path above would let it through.
        raise errors.NotSupportedError(
            "COPY ... FROM STDIN runs through copy(), not query() (through query() it "
            "would lose the connection: the server reads the messages after Execute as "
            "COPY data); nothing was sent"
        )
    if len(counts) >= _REMEMBERED:
        counts.clear()
    counts[sql] = count
    return count


def sql_text(sql: object) -> str:
    """``sql`` when it is SQL text (a str); InterfaceError otherwise."""
    if type(sql) is str:
        return sql
    if isinstance(sql, str):
        return str(sql)
    raise errors.InterfaceError(f"SQL text must be a str, not {type(sql).__name__}")


def check_count(sql: object, given: int, standard_conforming_strings: bool = True) -> None:
    """Raise ProgrammingError unless ``given`` values fit ``sql``'s placeholders."""
    expected = parameter_count(sql, standard_conforming_strings)
    if expected is not None and expected != given:
        raise errors.ProgrammingError(mismatch(expected, given))


def mismatch(expected: int, given: int) -> str:
    """The message for ``given`` values where the statement takes ``expected``."""
    takes = "no parameters" if expected == 0 else f"{_plural(expected, 'parameter')}"
    placeholders = "" if expected == 0 else " ($1" + (f" to ${expected}" if expected > 1 else "")
    placeholders += ")" if expected else ""
    return (
        f"the statement takes {takes}{placeholders} but {_plural(given, 'value')} "
        f"{'was' if given == 1 else 'were'} given; nothing was sent"
    )


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# Counts by SQL text (one table per standard_conforming_strings setting): a plain
# dict lookup on the path every query takes, emptied when it grows past _REMEMBERED.
COUNTS: Final[dict[str, int | None]] = {}
_COUNTS_WITHOUT_SCS: Final[dict[str, int | None]] = {}
_REMEMBERED: Final = 4096
_UNKNOWN: Final = object()


def _count(sql: str, standard_conforming_strings: bool) -> tuple[int | None, bool]:
    """The highest ``$n`` (None: unterminated text), and whether the statement is a
    COPY ... FROM STDIN."""
    if "$" not in sql and "copy" not in sql.lower():
        return 0, False
    highest = 0
    # The words at the outermost level, as far as a COPY ... FROM STDIN shows.
    words: list[str] = []
    depth = 0
    pos = 0
    end = len(sql)
    search = _TOKEN.search
    while pos < end:
        match = search(sql, pos)
        if match is None:
            break
        start = match.start()
        kind = match.lastgroup
        if kind == "paren":
            depth += 1 if match.group() == "(" else -1
            pos = match.end()
            continue
        if kind == "ident":
            pos = match.end()
            word = match.group()
            if depth == 0 and (not words or words[0] == "copy"):
                words.append(word.lower())
            if pos < end and len(word) == 1:
                # E'...' (backslash escapes), U&'...' / U&"..." (no backslash escapes).
                if word in "eE" and sql[pos] == "'":
                    found = _string_end(sql, pos + 1, backslashes=True)
                elif word in "uU" and sql.startswith(("&'", '&"'), pos):
                    found = _quoted_end(sql, pos + 2, sql[pos + 1])
                else:
                    continue
                if found < 0:
                    return None, False
                pos = found
            continue
        if kind == "param":
            number = int(match.group("param"))
            highest = max(highest, min(number, _MAX_PARAMETERS + 1))
            pos = match.end()
            continue
        if kind == "dollar":
            delimiter = match.group()
            close = sql.find(delimiter, match.end())
            if close < 0:
                return None, False
            pos = close + len(delimiter)
            continue
        opener = match.group("open")
        if opener == "'":
            found = _string_end(sql, start + 1, backslashes=not standard_conforming_strings)
        elif opener == '"':
            found = _quoted_end(sql, start + 1, '"')
        elif opener == "--":
            line_end = _LINE_END.search(sql, start + 2)
            found = end if line_end is None else line_end.end()
        else:
            found = _comment_end(sql, start + 2)
        if found < 0:
            return None, False
        pos = found
    copy_from_stdin = words[:1] == ["copy"] and any(
        pair == ("from", "stdin") for pair in itertools.pairwise(words)
    )
    return highest, copy_from_stdin


def _quoted_end(sql: str, pos: int, quote: str) -> int:
    """Past the closing ``quote`` of text opened before ``pos`` (doubled quotes stay
    inside); -1 when it never closes."""
    while True:
        close = sql.find(quote, pos)
        if close < 0:
            return -1
        if sql.startswith(quote, close + 1):
            pos = close + 2
            continue
        return close + 1


def _string_end(sql: str, pos: int, backslashes: bool) -> int:
    """Past the end of a string constant whose body starts at ``pos``."""
    if not backslashes:
        return _quoted_end(sql, pos, "'")
    search = _QUOTES_OR_BACKSLASH.search
    while True:
        match = search(sql, pos)
        if match is None:
            return -1
        at = match.start()
        if match.group() == "\\":
            pos = at + 2
            continue
        if sql.startswith("'", at + 1):
            pos = at + 2
            continue
        return at + 1


def _comment_end(sql: str, pos: int) -> int:
    """Past the ``*/`` closing a comment opened before ``pos``; comments nest."""
    depth = 1
    search = _COMMENT_MARK.search
    while depth:
        match = search(sql, pos)
        if match is None:
            return -1
        depth += 1 if match.group() == "/*" else -1
        pos = match.end()
    return pos
