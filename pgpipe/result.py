"""Query results: the rows, the columns that describe them, and the command tag."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, overload

from typing_extensions import TypeVar

from pgpipe import errors

# A default for the row type (PEP 696): a bare ``Result`` is a Result of tuples.
# typing has ``default=`` from Python 3.13 only.
Row = TypeVar("Row", default=tuple[Any, ...])

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


class Result(Generic[Row]):
    """The rows of one statement and its command tag.

    The rows are tuples, or what the query's row factory made them
    (``pgpipe.rows``): a ``Result[dict[str, Any]]`` from ``dict_row``.

    >>> r = Result([(1, "a")], (Column("id", 23), Column("name", 25)), "SELECT 1")
    >>> r.rows, r.command, r.rowcount
    ([(1, 'a')], 'SELECT', 1)
    >>> r.scalar(), r.one(), r.first()
    (1, (1, 'a'), (1, 'a'))
    """

    __slots__ = ("_first_values", "columns", "rows", "status")

    def __init__(
        self,
        rows: list[Row],
        columns: Sequence[Column],
        status: str | None,
        first_values: tuple[Any, ...] | None = None,
    ) -> None:
        """``first_values``: the first row's values as a tuple, when a row factory
        made the rows something else (for ``scalar``)."""
        self.rows = rows
        self.columns = tuple(columns)
        self.status = status
        """The full command tag, e.g. "INSERT 0 1"; None for an empty query."""
        self._first_values = first_values

    def scalar(self) -> Any:
        """The first column of the first row; None when there is no row.

        As asyncpg's ``fetchval`` and ``cursor.fetchone()[0]``: further rows
        and columns are ignored (``one()`` refuses them), and a NULL is None
        too. A statement that returns no columns (an INSERT without
        RETURNING) raises ResultShapeError, since it has no first column.
        """
        if not self.columns:
            raise errors.ResultShapeError(
                f"scalar() needs a column, and {self._statement()} returned none "
                "(an INSERT, UPDATE or DELETE needs a RETURNING clause to return any)"
            )
        rows = self.rows
        if not rows:
            return None
        values = self._first_values
        first: Any = rows[0] if values is None else values  # no row factory: a tuple
        return first[0]

    def one(self) -> Row:
        """The only row: NoRows when there is none, MultipleRows when there are more."""
        rows = self.rows
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise errors.NoRows(
                f"one() expected exactly one row; {self._statement()} returned none"
            )
        raise errors.MultipleRows(
            f"one() expected exactly one row; {self._statement()} returned {len(rows)}"
        )

    def first(self) -> Row | None:
        """The first row, or None when there is none (further rows are ignored)."""
        rows = self.rows
        return rows[0] if rows else None

    def _statement(self) -> str:
        """The statement, named by its command tag, for messages."""
        if self.status is None:
            return "the statement (an empty query)"
        return f"the statement ({self.status})"

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

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        names = ", ".join(c.name for c in self.columns)
        return f"<Result {self.status!r} columns=({names}) rows={len(self.rows)}>"


class Results(Sequence[Result[Row]]):
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

    def __init__(
        self, tags: list[str], columns: Sequence[Column], made: dict[int, Result[Row]]
    ) -> None:
        self._tags = tags
        self._columns = tuple(columns)
        self._made = made

    def _at(self, index: int) -> Result[Row]:
        made = self._made.get(index)
        if made is None:
            made = self._made[index] = Result([], self._columns, self._tags[index])
        return made

    @overload
    def __getitem__(self, index: int) -> Result[Row]: ...

    @overload
    def __getitem__(self, index: slice) -> list[Result[Row]]: ...

    def __getitem__(self, index: int | slice) -> Result[Row] | list[Result[Row]]:
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

    def __iter__(self) -> Iterator[Result[Row]]:
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

    def scalars(self) -> list[Any]:
        """Each statement's ``scalar()``, in the order of the parameter rows: the
        ids of ``executemany("INSERT ... RETURNING id", rows)``, None where a
        statement returned no row."""
        if self._tags and not self._columns:
            raise errors.ResultShapeError(
                f"scalars() needs a column, and the statement ({self._tags[0]}) returned none "
                "(an INSERT, UPDATE or DELETE needs a RETURNING clause to return any)"
            )
        made = self._made
        return [made[i].scalar() if i in made else None for i in range(len(self._tags))]

    def __repr__(self) -> str:
        return f"<Results of {len(self._tags)} statements, rowcount={self.rowcount}>"
