"""Query results: the rows, the columns that describe them, and the command tag."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

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
        if self.status is None:
            return None
        verb, _, rest = self.status.partition(" ")
        count = rest.rsplit(" ", 1)[-1]
        if verb in _COUNTED and count.isdigit():
            return int(count)
        return None

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        names = ", ".join(c.name for c in self.columns)
        return f"<Result {self.status!r} columns=({names}) rows={len(self.rows)}>"
