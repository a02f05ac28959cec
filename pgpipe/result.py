"""Query results: the rows, the columns that describe them, and the command tag."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, overload

# Command tags whose last word is a row count (INSERT's is "INSERT oid count").
_COUNTED: Final = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "FETCH", "MOVE", "COPY"}
)


@dataclass(frozen=True, slots=True)
class Column:
    """One result column, as RowDescription describes it."""

    name: str
    type_oid: int
    table_oid: int = 0
    column_number: int = 0
    type_size: int = -1
    type_modifier: int = -1


@functools.lru_cache(maxsize=256)  # executemany's tags are mostly one and the same
def _tag_count(status: str | None) -> int | None:
    """The row count a command tag ends with ("INSERT 0 5" -> 5); None if it has none."""
    if status is None:
        return None
    verb, _, rest = status.partition(" ")
    count = rest.rsplit(" ", 1)[-1]
    if verb in _COUNTED and count.isdigit():
        return int(count)
    return None


class Result:
    """The rows of one statement and its command tag.

    >>> r = Result([(1, "a")], (Column("id", 23), Column("name", 25)), "SELECT 1")
    >>> r.rows, r.command, r.rowcount
    ([(1, 'a')], 'SELECT', 1)
    """

    __slots__ = ("columns", "rows", "status")

    def __init__(
        self, rows: list[tuple[Any, ...]], columns: Sequence[Column], status: str | None
    ) -> None:
        self.rows = rows
        self.columns = tuple(columns)
        self.status = status
        """The full command tag, e.g. "INSERT 0 1"; None for an empty query."""

    @property
    def command(self) -> str | None:
        """The command tag without its counts: "SELECT", "INSERT", "CREATE TABLE"..."""
        if self.status is None:
            return None
        verb, _, rest = self.status.partition(" ")
        if verb in _COUNTED and rest.rsplit(" ", 1)[-1].isdigit():
            return verb
        return self.status

    @property
    def rowcount(self) -> int | None:
        """Rows returned or affected, from the command tag; None when the tag has no count."""
        return _tag_count(self.status)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        names = ", ".join(c.name for c in self.columns)
        return f"<Result {self.status!r} columns=({names}) rows={len(self.rows)}>"


class Results(Sequence[Result]):
    """executemany's answer: one Result per row of parameters, in order.

    A read-only sequence. The Results of rows that returned no rows (an
    INSERT's, most often) are made when first looked at, so 10,000 of them
    cost nothing until used; rows that returned rows were decoded already.
    ``rowcount`` adds up the rows each statement returned or affected, as
    psycopg's ``cursor.rowcount`` does after ``executemany``.

    >>> r = Results(["INSERT 0 1", "INSERT 0 1"], (), {})
    >>> len(r), r[1].status, r.rowcount
    (2, 'INSERT 0 1', 2)
    """

    __slots__ = ("_columns", "_made", "_tags")

    def __init__(self, tags: list[str], columns: Sequence[Column], made: dict[int, Result]) -> None:
        self._tags = tags
        self._columns = tuple(columns)
        self._made = made

    def _at(self, index: int) -> Result:
        made = self._made.get(index)
        if made is None:
            made = self._made[index] = Result([], self._columns, self._tags[index])
        return made

    @overload
    def __getitem__(self, index: int) -> Result: ...

    @overload
    def __getitem__(self, index: slice) -> list[Result]: ...

    def __getitem__(self, index: int | slice) -> Result | list[Result]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self._tags)))]
        count = len(self._tags)
        position = operator.index(index)
        if position < 0:
            position += count
        if not 0 <= position < count:
            raise IndexError("Results index out of range")
        return self._at(position)

    def __len__(self) -> int:
        return len(self._tags)

    def __iter__(self) -> Iterator[Result]:
        return map(self._at, range(len(self._tags)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Results | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @property
    def rowcount(self) -> int | None:
        """The rows all statements returned or affected; None when no tag has a count."""
        counts = [c for c in map(_tag_count, self._tags) if c is not None]
        return sum(counts) if counts else None

    def __repr__(self) -> str:
        return f"<Results of {len(self._tags)} statements, rowcount={self.rowcount}>"
