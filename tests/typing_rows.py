"""What mypy --strict knows of row types: checked by tests/test_rows.py, never run.

Each assignment states the type a Result's rows have under one row factory;
mypy accepts them all, and test_rows checks it refuses a wrong one.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, TypeVar, assert_type

import pgpipe
from pgpipe.result import Column, Result, Results
from pgpipe.rows import RowFactory, RowMaker, class_row, dict_row, namedtuple_row, tuple_row

Row = TypeVar("Row")
COLUMNS = (Column("id", 23), Column("name", 25))


@dataclasses.dataclass
class Item:
    id: int
    name: str


def result_of(factory: RowFactory[Row], values: list[tuple[Any, ...]]) -> Result[Row]:
    """A Result as the driver makes one: the factory's maker over each row."""
    make: RowMaker[Row] = factory(COLUMNS)
    return Result([make(v) for v in values], COLUMNS, "SELECT 1")


def shapes() -> None:
    dicts = result_of(dict_row, [(1, "a")])
    one_dict: dict[str, Any] = dicts.one()
    first_dict: dict[str, Any] | None = dicts.first()
    every_dict: list[dict[str, Any]] = dicts.rows
    iterated: list[dict[str, Any]] = list(dicts)
    items = result_of(class_row(Item), [(1, "a")])
    item: Item = items.one()
    named: NamedTuple = result_of(namedtuple_row, [(1, "a")]).one()
    plain: tuple[Any, ...] = result_of(tuple_row, [(1, "a")]).one()
    value: Any = dicts.scalar()
    # A bare Result is a Result of tuples.
    bare: Result = Result([(1, "a")], COLUMNS, "SELECT 1")
    bare_row: tuple[Any, ...] = bare.one()
    many: Results[dict[str, Any]] = Results(["SELECT 1"], COLUMNS, {0: dicts})
    many_row: dict[str, Any] = many[0].one()
    ids: list[Any] = many.scalars()
    print(one_dict, first_dict, every_dict, iterated, item, named, plain, value, bare_row)
    print(many_row, ids)


def through_the_adapters(dsn: str) -> None:
    conn = pgpipe.connect(dsn)
    tuples: tuple[Any, ...] = conn.query("SELECT 1").one()
    per_call: dict[str, Any] = conn.query("SELECT 1 AS a", row_factory=dict_row).one()
    items: list[Item] = conn.query("SELECT 1 AS id, 'a' AS name", row_factory=class_row(Item)).rows
    dicts = pgpipe.connect(dsn, row_factory=dict_row)
    by_default: dict[str, Any] | None = dicts.query("SELECT 1 AS a").first()
    scripts: list[Result[dict[str, Any]]] = dicts.execute("SELECT 1 AS a")
    # Exactly these types, not Any (which any assignment above would accept).
    assert_type(conn, pgpipe.Connection[tuple[Any, ...]])
    assert_type(dicts, pgpipe.Connection[dict[str, Any]])
    assert_type(conn.query("SELECT 1", row_factory=dict_row).one(), dict[str, Any])
    print(tuples, per_call, items, by_default, scripts)


async def through_asyncio(dsn: str) -> None:
    conn = await pgpipe.connect_async(dsn, row_factory=dict_row)
    assert_type(conn, pgpipe.AsyncConnection[dict[str, Any]])
    row: dict[str, Any] = (await conn.query("SELECT 1 AS a")).one()
    named: NamedTuple = (await conn.query("SELECT 1 AS a", row_factory=namedtuple_row)).one()
    print(row, named)
