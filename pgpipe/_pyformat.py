"""DB-API paramstyle ``pyformat`` (psycopg's) turned into PostgreSQL's ``$n``.

``convert("SELECT %s, %(n)s", ...)`` gives the text the server takes (``$1``,
``$2``, ...) and the values in placeholder order. What is a placeholder:

- ``%s`` (positional, with a sequence of values) or ``%(name)s`` (named, with a
  mapping); ``%b`` and ``%t`` (psycopg's binary/text hints) are synonyms of
  ``%s``: pgpipe chooses each value's format itself. A name used twice is one
  ``$n``; keys the statement does not use are allowed.
- Placeholders count only where the server would read a token: outside string
  constants (``'...'``, ``E'...'``, ``U&'...'``), quoted identifiers, dollar
  quotes and comments, found with pgpipe._scan's rules (PostgreSQL's scan.l).
  There ``%s`` and ``%(x)s`` are text and stay as written.
- ``%%`` is a percent sign, *everywhere*, quoted text included: psycopg does not
  scan quotes and turns every ``%%`` into ``%``, so code written for it doubles
  each literal percent sign (``LIKE 'a%%'``) and keeps working here. Inside
  quoted text a single ``%`` followed by anything else is left as it is (psycopg
  would refuse or misread it); outside, any ``%`` that is not ``%%``, ``%s``,
  ``%b``, ``%t`` or ``%(name)s``/``b``/``t`` is a ProgrammingError.
- With ``params=None`` nothing is converted: the text goes through untouched,
  as psycopg sends it with no parameters. Any other ``params`` that is neither
  a sequence (str and bytes are not) nor a mapping is a ProgrammingError.
- Stricter or looser than psycopg: a lone ``%`` ending the text is refused
  (psycopg sends it on); one name used with different hints (``%(a)s`` and
  ``%(a)b``) is accepted (psycopg refuses it).
- A ``$n`` parameter outside quoted text while pyformat values are given is a
  ProgrammingError: renumbered next to the converted placeholders it would
  silently alias one of them (psycopg passes it through and ``SELECT $1, %s``
  then returns the one value twice). Quoted ``$n`` (a function body) is text.
- Text left open (an unterminated string, quoted identifier, dollar quote or
  comment) is a ProgrammingError: the placeholders in it could not be counted
  (the server would refuse the text too, with a SyntaxError, a ProgrammingError).

Each text's conversion is remembered (per mode and standard_conforming_strings
setting; up to 1,024 texts, all forgotten when full), so a known statement costs
a lookup, a count check and a tuple; refused texts are not remembered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final, NoReturn

from pgpipe import errors
from pgpipe._scan import (
    _LINE_END,
    _TOKEN,
    _comment_end,
    _quoted_end,
    _string_end,
)

# The placeholder kinds psycopg accepts; pgpipe picks text or binary itself.
_FORMATS: Final = frozenset("sbt")
_ALLOWED: Final = "only '%s', '%b', '%t' (or '%(name)s') are allowed as placeholders"
_REMEMBERED: Final = 1024
# (sql, named, standard_conforming_strings) -> (converted sql, names or count).
_CONVERTED: Final[dict[tuple[str, bool, bool], tuple[str, tuple[str, ...] | int]]] = {}


def convert(
    sql: str,
    params: Sequence[object] | Mapping[str, object] | None,
    standard_conforming_strings: bool = True,
) -> tuple[str, tuple[object, ...]]:
    """``sql`` with %s / %(name)s turned into $1, $2, ... and the values in that order."""
    if type(sql) is not str:
        if not isinstance(sql, str):
            raise errors.InterfaceError(f"SQL text must be a str, not {type(sql).__name__}")
        sql = str(sql)
    if params is None:
        return sql, ()
    # Concrete types first: an isinstance() against the ABCs alone costs more.
    if isinstance(params, (tuple, list)):
        return _convert_positional(sql, params, standard_conforming_strings)
    if isinstance(params, (dict, Mapping)):
        return _convert_named(sql, params, standard_conforming_strings)
    if isinstance(params, (str, bytes, bytearray, memoryview)) or not isinstance(params, Sequence):
        raise errors.ProgrammingError(
            "query parameters must be a sequence (for %s) or a mapping (for %(name)s), "
            f"not {type(params).__name__}"
        )
    return _convert_positional(sql, params, standard_conforming_strings)


def _convert_positional(
    sql: str, params: Sequence[object], standard_conforming_strings: bool
) -> tuple[str, tuple[object, ...]]:
    converted, count = _remembered(sql, False, standard_conforming_strings)
    assert isinstance(count, int)
    if count != len(params):
        raise errors.ProgrammingError(
            f"the statement has {_plural(count, 'placeholder')} (%s) but "
            f"{_plural(len(params), 'value')} {'was' if len(params) == 1 else 'were'} "
            "given; nothing was sent"
        )
    return converted, params if type(params) is tuple else tuple(params)


def _convert_named(
    sql: str, params: Mapping[str, object], standard_conforming_strings: bool
) -> tuple[str, tuple[object, ...]]:
    converted, names = _remembered(sql, True, standard_conforming_strings)
    assert isinstance(names, tuple)
    try:
        return converted, tuple([params[name] for name in names])
    except KeyError:
        missing = _missing(params, names)
        raise errors.ProgrammingError(
            f"no value for the placeholder %({missing})s: the parameters have no key "
            f"{missing!r}; nothing was sent"
        ) from None


def _missing(params: Mapping[str, object], names: tuple[str, ...]) -> str:
    """The first of ``names`` that ``params`` has no value for."""
    for name in names:
        try:
            params[name]
        except KeyError:
            return name
    return names[0]  # a mapping that raised KeyError once and not again


def _remembered(
    sql: str, named: bool, standard_conforming_strings: bool
) -> tuple[str, tuple[str, ...] | int]:
    key = (sql, named, standard_conforming_strings)
    found = _CONVERTED.get(key)
    if found is not None:
        return found
    found = _compile(sql, named, standard_conforming_strings)
    if len(_CONVERTED) >= _REMEMBERED:
        _CONVERTED.clear()
    _CONVERTED[key] = found
    return found


def _compile(
    sql: str, named: bool, standard_conforming_strings: bool
) -> tuple[str, tuple[str, ...] | int]:
    """The converted text, and the names in ``$n`` order (named) or the count."""
    pieces, placeholders = split(sql, standard_conforming_strings)
    names = [name for name in placeholders if name is not None]
    if names and len(names) < len(placeholders):
        raise errors.ProgrammingError(
            "the statement mixes positional (%s) and named (%(name)s) placeholders; use one kind"
        )
    if named and len(names) < len(placeholders):
        raise errors.ProgrammingError(
            "positional placeholders (%s) need a sequence of parameters, not a mapping"
        )
    if not named and names:
        raise errors.ProgrammingError(
            f"named placeholders (%({names[0]})s) need a mapping of parameters, not a sequence"
        )
    if not named:
        numbers = [f"${n}" for n in range(1, len(placeholders) + 1)]
        return _join(pieces, numbers), len(placeholders)
    order: dict[str, int] = {}
    for name in names:
        order.setdefault(name, len(order) + 1)
    return _join(pieces, [f"${order[name]}" for name in names]), tuple(order)


def _join(pieces: list[str], numbers: list[str]) -> str:
    out = [pieces[0]]
    for number, piece in zip(numbers, pieces[1:], strict=True):
        out.append(number)
        out.append(piece)
    return "".join(out)


def split(sql: str, standard_conforming_strings: bool = True) -> tuple[list[str], list[str | None]]:
    """``sql`` cut at its placeholders: the text between them (``%%`` already a
    percent sign) and each placeholder's name (None for ``%s``/``%b``/``%t``).
    There is one more piece than placeholders."""
    pieces: list[str] = []
    placeholders: list[str | None] = []
    current: list[str] = []
    pos = 0
    end = len(sql)
    percent = sql.find("%")
    while pos < end:
        if 0 <= percent < pos:
            percent = sql.find("%", pos)
        # A token is looked for only before the next "%": placeholders are tokens too.
        match = _TOKEN.search(sql, pos, end if percent < 0 else percent)
        if match is None:
            if percent < 0:
                current.append(sql[pos:])
                break
            current.append(sql[pos:percent])
            name, pos = _placeholder(sql, percent)
            if name == "%":
                current.append("%")
                continue
            pieces.append("".join(current))
            current = []
            placeholders.append(None if name == "" else name)
            continue
        start = match.start()
        current.append(sql[pos:start])
        after = _token_end(sql, match, standard_conforming_strings)
        # Quoted text and comments keep their placeholder lookalikes, but %% is a
        # percent sign there too, as psycopg (which does not scan quotes) makes it.
        current.append(sql[start:after].replace("%%", "%"))
        pos = after
    pieces.append("".join(current))
    return pieces, placeholders


def _token_end(sql: str, match: re.Match[str], standard_conforming_strings: bool) -> int:
    """Past the token ``match`` starts: a quoted text or comment is skipped whole."""
    kind = match.lastgroup
    start = match.start()
    token_end = match.end()
    if kind == "ident":
        word = match.group()
        if token_end < len(sql) and len(word) == 1:
            # E'...' (backslash escapes), U&'...' / U&"..." (no backslash escapes).
            if word in "eE" and sql[token_end] == "'":
                return _closed(sql, start, _string_end(sql, token_end + 1, backslashes=True))
            if word in "uU" and sql.startswith(("&'", '&"'), token_end):
                return _closed(sql, start, _quoted_end(sql, token_end + 2, sql[token_end + 1]))
        return token_end
    if kind == "param":
        raise errors.ProgrammingError(
            f"the statement has a ${match.group('param')} placeholder (at character "
            f"{start + 1}) as well as pyformat parameters: write %s or %(name)s "
            "placeholders (or pass no parameters to send the text as it is)"
        )
    if kind == "dollar":
        delimiter = match.group()
        close = sql.find(delimiter, token_end)
        return _closed(sql, start, -1 if close < 0 else close + len(delimiter))
    opener = match.group("open")
    if opener is None:  # a parenthesis
        return token_end
    if opener == "'":
        found = _string_end(sql, start + 1, backslashes=not standard_conforming_strings)
    elif opener == '"':
        found = _quoted_end(sql, start + 1, '"')
    elif opener == "--":
        line_end = _LINE_END.search(sql, start + 2)
        found = len(sql) if line_end is None else line_end.end()
    else:
        found = _comment_end(sql, start + 2)
    return _closed(sql, start, found)


def _closed(sql: str, start: int, found: int) -> int:
    """``found``, the end of the quoted text or comment opened at ``start``, unless
    it never closes (-1): the placeholders after it cannot be told from text."""
    if found >= 0:
        return found
    opened = sql[start : start + 12]
    raise errors.ProgrammingError(
        f"the statement leaves quoted text or a comment open (from character {start + 1}: "
        f"{opened!r}...), so its placeholders cannot be found; nothing was sent"
    )


def _placeholder(sql: str, at: int) -> tuple[str, int]:
    """The placeholder at ``sql[at]`` (a "%") and where the text goes on after it:
    "%" for ``%%``, "" for ``%s``, the name for ``%(name)s``."""
    follows = sql[at + 1 : at + 2]
    if follows == "%":
        return "%", at + 2
    if follows in _FORMATS and follows:
        return "", at + 2
    if follows == "(":
        close = sql.find(")", at + 2)
        name = sql[at + 2 : close]
        if close < 0 or not name or close + 1 >= len(sql):
            raise errors.ProgrammingError(
                f"incomplete placeholder {sql[at : at + 20]!r} at character {at + 1}: "
                "a named placeholder is written %(name)s; write %% for a percent sign"
            )
        if sql[close + 1] not in _FORMATS:
            raise errors.ProgrammingError(
                f"{_ALLOWED}, got {sql[at : close + 2]!r} at character {at + 1}"
            )
        return name, close + 2
    if not follows:
        raise errors.ProgrammingError(
            f"incomplete placeholder: the statement ends with a lone '%' (character "
            f"{at + 1}); write %% for a percent sign"
        )
    _unknown(sql, at)


def _unknown(sql: str, at: int) -> NoReturn:
    raise errors.ProgrammingError(
        f"{_ALLOWED}, got {sql[at : at + 2]!r} at character {at + 1}; write %% for a percent sign"
    )


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
