"""Row factories: what each row of a result is made as.

A row factory is called with a result's columns (``pgpipe.Column`` tuples)
before its first row is made, and returns a *row maker*, called with each
row's decoded values (a tuple, in column order) and returning the row. That
is psycopg's model, with the columns in place of the cursor:

>>> from pgpipe.result import Column
>>> make = dict_row((Column("id", 23), Column("name", 25)))
>>> make((1, "a"))
{'id': 1, 'name': 'a'}

``tuple_row`` is the default, and costs nothing: pgpipe's decoder makes
tuples already, so no maker is called for it.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

from pgpipe.result import Column

Row = TypeVar("Row", covariant=True)
_T = TypeVar("_T")


class RowMaker(Protocol[Row]):
    """Makes one row from its values, decoded, in column order."""

    def __call__(self, values: tuple[Any, ...], /) -> Row: ...


class RowFactory(Protocol[Row]):
    """Given a result's columns, the ``RowMaker`` of its rows."""

    def __call__(self, columns: tuple[Column, ...], /) -> RowMaker[Row]: ...


def _same(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return values


def tuple_row(columns: tuple[Column, ...]) -> RowMaker[tuple[Any, ...]]:
    """Rows as tuples (the default): ``(1, 'a')``."""
    return _same


def dict_row(columns: tuple[Column, ...]) -> RowMaker[dict[str, Any]]:
    """Rows as dicts keyed by column name: ``{'id': 1, 'name': 'a'}``.

    Of two columns with the same name, the dict holds the later one's value
    (alias them apart: ``SELECT a.id AS a_id, b.id AS b_id``).
    """
    names = [column.name for column in columns]

    def make(values: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(names, values, strict=True))

    return make


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Any]:
    # Making a namedtuple class costs tens of microseconds: one per column list.
    # rename: a name that is no identifier ("?column?"), a keyword or a repeated
    # one becomes _0, _1... by its position.
    return namedtuple("Row", names, rename=True)


def namedtuple_row(columns: tuple[Column, ...]) -> RowMaker[NamedTuple]:
    """Rows as named tuples: ``row.id``, ``row[0]``, unpacking.

    A column whose name is not a Python identifier (``?column?``, ``user id``),
    is a keyword (``class``) or repeats an earlier one's is named by its
    position instead, counted from 0: ``_0`` for the first column.
    """
    made: Callable[[tuple[Any, ...]], NamedTuple] = _row_class(
        tuple(column.name for column in columns)
    )._make
    return made


def class_row(cls: Callable[..., _T]) -> RowFactory[_T]:
    """Rows as instances of ``cls``, called with each column as a keyword argument:
    ``cls(id=1, name='a')``. A dataclass, an attrs or pydantic class, or any
    callable taking the column names as keywords."""

    def factory(columns: tuple[Column, ...]) -> RowMaker[_T]:
        names = [column.name for column in columns]

        def make(values: tuple[Any, ...]) -> _T:
            return cls(**dict(zip(names, values, strict=True)))

        return make

    return factory
