"""pgpipe.sqlalchemy, the ``postgresql+pgpipe://`` dialect, against a real server:
one URL for create_engine and create_async_engine, Core and the ORM on both,
types as SQLAlchemy's PostgreSQL types expect them, transactions, isolation
levels, server-side cursors, reflection, disconnects, and PgBouncer in
transaction mode. SQLAlchemy's own compliance suite runs apart
(tests/sqlalchemy_suite/run.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import pgpipe
from pgpipe.sqlalchemy import PGDialect_pgpipe, PGDialectAsync_pgpipe
from pgpipe.sqlalchemy.dialect import connect_arguments
from pgpipe.testing import TemporaryPgBouncer, TemporaryPostgres

_T = TypeVar("_T")


def sa_url(libpq_uri: str, **query: str) -> URL:
    url = make_url(libpq_uri).set(drivername="postgresql+pgpipe")
    return url.update_query_dict(query) if query else url


@pytest.fixture
def url(pg_server: TemporaryPostgres) -> URL:
    return sa_url(pg_server.dsn(dbname="pgpipe"))


@pytest.fixture
def engine(url: URL) -> Iterator[Engine]:
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def run_async(make: Callable[[AsyncEngine], Awaitable[_T]], url: URL, **kwargs: Any) -> _T:
    """``make(engine)`` on an asyncio engine made from the same URL, disposed after."""

    async def main() -> _T:
        engine = create_async_engine(url, **kwargs)
        try:
            return await make(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


metadata = sa.MetaData()
items = sa.Table(
    "sqla_items",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("qty", sa.Integer, nullable=False, server_default="0"),
)
values = sa.Table(
    "sqla_values",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("doc", sa.JSON),
    sa.Column("docb", pg.JSONB),
    sa.Column("key", sa.Uuid),
    sa.Column("key_text", sa.Uuid(as_uuid=False)),
    sa.Column("ints", pg.ARRAY(sa.Integer)),
    sa.Column("words", pg.ARRAY(sa.String)),
    sa.Column("price", sa.Numeric(10, 2)),
    sa.Column("price_float", sa.Numeric(10, 2, asdecimal=False)),
    sa.Column("ratio", sa.Float),
    sa.Column("ratio_decimal", sa.Float(asdecimal=True)),
    sa.Column("day", sa.Date),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("local", sa.DateTime),
    sa.Column("clock", sa.Time),
    sa.Column("span", sa.Interval),
    sa.Column("mood", sa.Enum(Mood, name="sqla_mood")),
    sa.Column("blob", sa.LargeBinary),
    sa.Column("flag", sa.Boolean),
    sa.Column("big", sa.BigInteger),
)


@pytest.fixture
def tables(engine: Engine) -> Iterator[None]:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield
    metadata.drop_all(engine)


ROW: dict[str, Any] = {
    "id": 1,
    "doc": {"a": [1, 2.5, None], "b": "text"},
    "docb": {"nested": {"k": True}},
    "key": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "key_text": "87654321-4321-8765-4321-876543218765",
    "ints": [1, 2, 3],
    "words": ["a", "b c", "ä"],
    "price": Decimal("12.34"),
    "price_float": 5.25,
    "ratio": 0.5,
    "ratio_decimal": Decimal("0.25"),
    "day": dt.date(2024, 2, 29),
    "at": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
    "local": dt.datetime(2024, 1, 2, 3, 4, 5),
    "clock": dt.time(13, 14, 15),
    "span": dt.timedelta(days=1, seconds=2),
    "mood": Mood.SAD,
    "blob": b"\x00\x01\xff",
    "flag": True,
    "big": 2**40,
}


def check_row(row: sa.Row[Any]) -> None:
    got = row._asdict()
    assert got == ROW
    assert type(got["price"]) is Decimal and type(got["price_float"]) is float
    assert type(got["ratio"]) is float and type(got["ratio_decimal"]) is Decimal
    assert type(got["key"]) is uuid.UUID and type(got["key_text"]) is str


# -- the URL ----------------------------------------------------------------


def test_one_url_gives_the_blocking_and_the_asyncio_dialect(url: URL) -> None:
    assert type(sa.create_engine(url).dialect) is PGDialect_pgpipe
    engine = create_async_engine(url)
    assert type(engine.dialect) is PGDialectAsync_pgpipe
    assert engine.dialect.is_async and not sa.create_engine(url).dialect.is_async
    explicit = create_async_engine(url.set(drivername="postgresql+pgpipe_async"))
    assert type(explicit.dialect) is PGDialectAsync_pgpipe


def test_url_parts_and_query_keys_become_libpq_parameters() -> None:
    url = make_url(
        "postgresql+pgpipe://app:s%40cret@db.example:6543/shop"
        "?sslmode=require&application_name=web&connect_timeout=5&statement_cache_size=100"
    )
    assert connect_arguments(url) == {
        "host": "db.example",
        "port": 6543,
        "user": "app",
        "password": "s@cret",
        "dbname": "shop",
        "sslmode": "require",
        "application_name": "web",
        "connect_timeout": "5",
        "statement_cache_size": 100,
    }


def test_host_lists_in_both_spellings() -> None:
    multihost = make_url("postgresql+pgpipe://app@/shop?host=a:5432&host=b:5433")
    assert connect_arguments(multihost) == {
        "host": "a,b",
        "port": "5432,5433",
        "user": "app",
        "dbname": "shop",
    }
    libpq = make_url("postgresql+pgpipe://app@/shop?host=a,b&port=5432,5433")
    assert connect_arguments(libpq)["host"] == "a,b"
    assert connect_arguments(libpq)["port"] == "5432,5433"
    v6 = make_url("postgresql+pgpipe://app@/shop?host=[::1]:5433&host=::1&host=db")
    assert connect_arguments(v6)["host"] == "::1,::1,db"
    assert connect_arguments(v6)["port"] == "5433,,"
    socket_dir = make_url("postgresql+pgpipe://app@/shop?host=/run/postgresql")
    assert connect_arguments(socket_dir)["host"] == "/run/postgresql"


def test_host_list_reaches_the_server(pg_server: TemporaryPostgres) -> None:
    # The first host refuses (nothing listens on port 1); pgpipe moves on.
    url = make_url(
        f"postgresql+pgpipe://{pg_server.superuser}@/pgpipe?sslmode=disable"
        f"&host=127.0.0.1:1&host=127.0.0.1:{pg_server.port}"
    )
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1
    engine.dispose()


def test_query_parameters_reach_the_server(url: URL) -> None:
    engine = sa.create_engine(url.update_query_dict({"application_name": "sqla-test"}))
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT current_setting('application_name')")) == "sqla-test"
        native = conn.connection.dbapi_connection.native  # type: ignore[union-attr]
        # The default: unnamed statements only, safe behind transaction-mode poolers.
        assert native._session._cache_size == 0
    engine.dispose()
    cached = sa.create_engine(url.update_query_dict({"statement_cache_size": "10"}))
    with cached.connect() as conn:
        assert conn.connection.dbapi_connection.native._session._cache_size == 10  # type: ignore[union-attr]
    cached.dispose()


def test_server_version_is_the_native_connections(engine: Engine) -> None:
    with engine.connect() as conn:
        number = conn.scalar(sa.text("SELECT current_setting('server_version_num')::int"))
    assert number is not None
    assert engine.dialect.server_version_info == (number // 10000, number % 10000)


# -- Core and the ORM ---------------------------------------------------------


def test_core_insert_select_update_delete(engine: Engine, tables: None) -> None:
    with engine.begin() as conn:
        result = conn.execute(items.insert(), [{"name": "a", "qty": 0}, {"name": "b", "qty": 2}])
        assert result.rowcount == 2  # executemany: pgpipe's, one flight
        ids = conn.execute(
            items.insert().returning(items.c.id, items.c.name, sort_by_parameter_order=True),
            [{"name": "c"}, {"name": "d"}],
        ).all()
        assert [name for _, name in ids] == ["c", "d"]
        updated = conn.execute(
            items.update().where(items.c.name.in_(["a", "c"])).values(qty=items.c.qty + 5)
        )
        assert updated.rowcount == 2
        conn.execute(items.delete().where(items.c.name == "d"))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(items.c.name, items.c.qty).order_by(items.c.name)).all()
    assert [tuple(row) for row in rows] == [("a", 5), ("b", 2), ("c", 5)]


def test_integrity_error_is_sqlalchemys_wrapping_pgpipes(engine: Engine, tables: None) -> None:
    with engine.begin() as conn:
        conn.execute(items.insert(), {"name": "a"})
    with pytest.raises(sa_exc.IntegrityError) as caught, engine.begin() as conn:
        conn.execute(items.insert(), {"name": "a"})
    assert isinstance(caught.value.orig, pgpipe.errors.UniqueViolation)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "sqla_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    qty: Mapped[int]


def test_orm_session_round_trip(engine: Engine, tables: None) -> None:
    with Session(engine) as session:
        session.add_all([Item(name="x", qty=1), Item(name="y", qty=2)])
        session.commit()
        item = session.scalars(sa.select(Item).where(Item.name == "y")).one()
        item.qty = 20
        session.commit()
    with Session(engine) as session:
        assert [(i.name, i.qty) for i in session.scalars(sa.select(Item).order_by(Item.id))] == [
            ("x", 1),
            ("y", 20),
        ]


def test_async_engine_with_an_async_session(url: URL, engine: Engine, tables: None) -> None:
    async def work(async_engine: AsyncEngine) -> list[tuple[str, int]]:
        async with AsyncSession(async_engine) as session:
            session.add_all([Item(name="p", qty=3), Item(name="q", qty=4)])
            await session.commit()
            item = (await session.scalars(sa.select(Item).where(Item.name == "p"))).one()
            item.qty = 30
            await session.commit()
        async with AsyncSession(async_engine) as session:
            found = await session.scalars(sa.select(Item).order_by(Item.name))
            return [(i.name, i.qty) for i in found]

    assert run_async(work, url) == [("p", 30), ("q", 4)]


# -- types ----------------------------------------------------------------------


def test_types_round_trip(engine: Engine, tables: None) -> None:
    with engine.begin() as conn:
        conn.execute(values.insert(), ROW)
    with engine.connect() as conn:
        for _ in range(2):  # pgpipe reads a statement's first run in text, later ones in binary
            check_row(conn.execute(sa.select(values)).one())
        where = sa.select(values.c.id).where(
            values.c.docb["nested"]["k"].as_boolean(),
            values.c.doc["b"].as_string() == "text",
            values.c.ints.contains([2]),
            sa.literal("b c") == sa.any_(values.c.words),
            values.c.mood == Mood.SAD,
            values.c.key == ROW["key"],
            values.c.key_text == ROW["key_text"],
            values.c.at > dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        )
        assert conn.scalar(where) == 1
        assert conn.scalar(sa.select(values.c.doc[("a", 1)].as_float())) == 2.5


def test_types_round_trip_asyncio(url: URL, engine: Engine, tables: None) -> None:
    async def work(async_engine: AsyncEngine) -> list[sa.Row[Any]]:
        async with async_engine.begin() as conn:
            await conn.execute(values.insert(), ROW)
        async with async_engine.connect() as conn:
            return [(await conn.execute(sa.select(values))).one() for _ in range(2)]

    for row in run_async(work, url):
        check_row(row)


def test_literal_binds_of_each_type(engine: Engine) -> None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.literal("x"),
                sa.literal(7),
                sa.literal(dt.date(2024, 1, 2)),
                sa.literal(None, sa.Integer),
                sa.literal(True),
            )
        ).one()
    assert tuple(row) == ("x", 7, dt.date(2024, 1, 2), None, True)


RANGES: dict[str, Any] = {
    "ints": pg.Range(1, 5),
    "bigs": pg.Range(None, 2**40, bounds="(]"),
    "nums": pg.Range(Decimal("1.5"), Decimal("2.25"), bounds="[]"),
    "days": pg.Range(dt.date(2024, 1, 1), dt.date(2024, 2, 1)),
    "stamps": pg.Range(dt.datetime(2024, 1, 1, 8, 30), None),
    "stamptzs": pg.Range(
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, 12, tzinfo=dt.UTC)
    ),
    "nothing": pg.Range(empty=True),
    "multi": [pg.Range(1, 3), pg.Range(5, 7)],
}
range_table = sa.Table(
    "sqla_ranges",
    sa.MetaData(),
    sa.Column("ints", pg.INT4RANGE),
    sa.Column("bigs", pg.INT8RANGE),
    sa.Column("nums", pg.NUMRANGE),
    sa.Column("days", pg.DATERANGE),
    sa.Column("stamps", pg.TSRANGE),
    sa.Column("stamptzs", pg.TSTZRANGE),
    sa.Column("nothing", pg.INT4RANGE),
    sa.Column("multi", pg.INT4MULTIRANGE),
)


@pytest.mark.parametrize("adapter", ["sync", "async"])
def test_ranges_round_trip(url: URL, engine: Engine, adapter: str) -> None:
    range_table.drop(engine, checkfirst=True)
    range_table.create(engine)
    contains = sa.select(sa.func.count()).where(
        range_table.c.ints.contains(3),
        range_table.c.days.overlaps(pg.Range(dt.date(2024, 1, 31), dt.date(2024, 3, 1))),
        range_table.c.multi.contains(6),
    )
    try:
        if adapter == "sync":
            with engine.begin() as conn:
                conn.execute(range_table.insert(), RANGES)
                rows = [conn.execute(sa.select(range_table)).one() for _ in range(2)]
                count = conn.scalar(contains)
        else:

            async def work(async_engine: AsyncEngine) -> tuple[list[sa.Row[Any]], Any]:
                async with async_engine.begin() as conn:
                    await conn.execute(range_table.insert(), RANGES)
                    rows = [(await conn.execute(sa.select(range_table))).one() for _ in range(2)]
                    return rows, await conn.scalar(contains)

            rows, count = run_async(work, url)
    finally:
        range_table.drop(engine)
    for row in rows:
        assert row._asdict() == RANGES
        assert type(row.ints) is pg.Range and type(row.multi) is pg.MultiRange
    assert count == 1


def test_extension_types_citext_and_hstore(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS citext"))
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS hstore"))
    table = sa.Table(
        "sqla_extension_types",
        sa.MetaData(),
        sa.Column("name", pg.CITEXT),
        sa.Column("tags", pg.HSTORE),
    )
    table.drop(engine, checkfirst=True)
    table.create(engine)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), {"name": "AbC", "tags": {"k": "v", "none": None}})
            # citext compares without case: its parameter is not cast to VARCHAR.
            assert conn.scalar(sa.select(table.c.tags).where(table.c.name == "abc")) == {
                "k": "v",
                "none": None,
            }
    finally:
        table.drop(engine)


# -- transactions ------------------------------------------------------------------


def test_rollback_drops_and_commit_keeps(engine: Engine, tables: None) -> None:
    with engine.connect() as conn:
        conn.execute(items.insert(), {"name": "kept"})
        conn.commit()
        conn.execute(items.insert(), {"name": "dropped"})
        conn.rollback()
        with conn.begin():
            conn.execute(items.insert(), {"name": "outer"})
            savepoint = conn.begin_nested()
            conn.execute(items.insert(), {"name": "inner"})
            savepoint.rollback()
        names = conn.scalars(sa.select(items.c.name).order_by(items.c.name)).all()
    assert names == ["kept", "outer"]


def test_failed_transaction_rolls_back_and_the_connection_goes_on(
    engine: Engine, tables: None
) -> None:
    with engine.connect() as conn:
        with pytest.raises(sa_exc.DataError):
            conn.execute(sa.text("SELECT 1 / 0 > :n"), {"n": 1})
        conn.rollback()
        assert conn.scalar(sa.text("SELECT 2")) == 2


# -- isolation levels ----------------------------------------------------------------

CURRENT_LEVEL = sa.text("SELECT current_setting('transaction_isolation')")


def in_transaction(conn: sa.Connection) -> bool:
    status: str = conn.connection.dbapi_connection.native.transaction_status  # type: ignore[union-attr]
    return status != "I"


def test_isolation_levels(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.get_isolation_level() == "READ COMMITTED"
        assert conn.default_isolation_level == "READ COMMITTED"
        assert not in_transaction(conn)  # reading the level left no transaction open
    for level in ("SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"):
        with engine.connect().execution_options(isolation_level=level) as conn:
            assert conn.scalar(CURRENT_LEVEL) == level.lower()
            assert conn.get_isolation_level() == level
    with engine.connect() as conn:  # returned to the pool at the default again
        assert conn.scalar(CURRENT_LEVEL) == "read committed"


def test_autocommit_isolation_level(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        assert conn.get_isolation_level() == "AUTOCOMMIT"
        conn.execute(sa.text("SELECT 1"))
        assert not in_transaction(conn)
        # Statements that refuse a transaction block run.
        conn.execute(sa.text("VACUUM pg_class"))
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
        assert in_transaction(conn)


def test_engine_wide_isolation_level_and_read_only(url: URL) -> None:
    engine = sa.create_engine(url, isolation_level="REPEATABLE READ")
    with engine.connect() as conn:
        assert conn.scalar(CURRENT_LEVEL) == "repeatable read"
    with engine.connect().execution_options(postgresql_readonly=True) as conn:
        assert conn.scalar(sa.text("SELECT current_setting('transaction_read_only')")) == "on"
    engine.dispose()


def test_isolation_levels_asyncio(url: URL) -> None:
    async def work(async_engine: AsyncEngine) -> list[object]:
        out: list[object] = []
        async with async_engine.connect() as conn:
            out.append(await conn.get_isolation_level())
        serializable = async_engine.execution_options(isolation_level="SERIALIZABLE")
        async with serializable.connect() as conn:
            out.append(await conn.scalar(CURRENT_LEVEL))
        autocommit = async_engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as conn:
            await conn.execute(sa.text("VACUUM pg_class"))
            out.append(await conn.get_isolation_level())
        return out

    assert run_async(work, url) == ["READ COMMITTED", "serializable", "AUTOCOMMIT"]


# -- server-side cursors ------------------------------------------------------------

OPEN_CURSORS = sa.text("SELECT count(*) FROM pg_cursors WHERE name LIKE 'sqla\\_%'")


def test_stream_results_reads_through_a_server_side_cursor(engine: Engine) -> None:
    numbers = sa.select(sa.func.generate_series(1, 5000).label("n"))
    with engine.connect() as conn:
        result = conn.execute(
            numbers, execution_options={"stream_results": True, "max_row_buffer": 100}
        )
        first = result.fetchmany(10)
        assert conn.scalar(OPEN_CURSORS) == 1  # declared on the server, fetched in parts
        rest = result.fetchall()
        assert [row.n for row in first + rest] == list(range(1, 5001))
        assert conn.scalar(OPEN_CURSORS) == 0
        partitions = conn.execute(numbers, execution_options={"yield_per": 1000}).partitions()
        assert [len(part) for part in partitions] == [1000] * 5


def test_stream_results_asyncio(url: URL) -> None:
    async def work(async_engine: AsyncEngine) -> tuple[int, int, int]:
        async with async_engine.connect() as conn:
            result = await conn.stream(sa.select(sa.func.generate_series(1, 3000)))
            first = await result.fetchmany(10)
            declared = await conn.scalar(OPEN_CURSORS)
            total = len(first) + len([row async for row in result])
            return declared or 0, total, await conn.scalar(OPEN_CURSORS) or 0

    assert run_async(work, url) == (1, 3000, 0)


# -- reflection ----------------------------------------------------------------------


def test_reflection(engine: Engine, tables: None) -> None:
    inspector = sa.inspect(engine)
    assert {"sqla_items", "sqla_values"} <= set(inspector.get_table_names())
    columns = {c["name"]: c for c in inspector.get_columns("sqla_values")}
    assert isinstance(columns["doc"]["type"], pg.JSON)
    assert isinstance(columns["docb"]["type"], pg.JSONB)
    assert isinstance(columns["key"]["type"], pg.UUID)
    assert isinstance(columns["ints"]["type"], pg.ARRAY)
    assert isinstance(columns["price"]["type"], sa.Numeric)
    assert (columns["price"]["type"].precision, columns["price"]["type"].scale) == (10, 2)
    assert isinstance(columns["mood"]["type"], pg.ENUM)
    assert columns["mood"]["type"].enums == ["HAPPY", "SAD"]
    assert inspector.get_pk_constraint("sqla_items")["constrained_columns"] == ["id"]
    item_columns = {c["name"]: c for c in inspector.get_columns("sqla_items")}
    assert item_columns["id"]["identity"]["start"] == 1
    assert item_columns["qty"]["default"] == "0"
    assert [u["column_names"] for u in inspector.get_unique_constraints("sqla_items")] == [["name"]]
    reflected = sa.Table("sqla_items", sa.MetaData(), autoload_with=engine)
    assert [c.name for c in reflected.columns] == ["id", "name", "qty"]


def test_reflection_asyncio(url: URL, engine: Engine, tables: None) -> None:
    async def work(async_engine: AsyncEngine) -> list[str]:
        async with async_engine.connect() as conn:
            return await conn.run_sync(lambda sync_conn: sa.inspect(sync_conn).get_table_names())

    assert {"sqla_items", "sqla_values"} <= set(run_async(work, url))


# -- disconnects --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "disconnect"),
    [
        (pgpipe.errors.InterfaceError("the connection is closed (the server closed it)"), True),
        (pgpipe.errors.AdminShutdown("terminating connection due to administrator command"), True),
        (pgpipe.errors.ConnectionFailure("could not send"), True),
        (
            pgpipe.errors.IdleSessionTimeout("terminating connection due to idle-session timeout"),
            True,
        ),
        (pgpipe.errors.InterfaceError("the cursor is closed"), False),
        (pgpipe.errors.UniqueViolation("duplicate key value"), False),
        (ValueError("not pgpipe's"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_is_disconnect_without_a_connection(error: Exception, disconnect: bool) -> None:
    assert PGDialect_pgpipe().is_disconnect(error, None, None) is disconnect


def terminate(engine: Engine, pid: int) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


BACKEND_PID = sa.text("SELECT pg_backend_pid()")


def test_a_terminated_connection_is_invalidated(url: URL, engine: Engine) -> None:
    victim = sa.create_engine(url, pool_size=1, max_overflow=0)
    with victim.connect() as conn:
        pid = conn.scalar(BACKEND_PID)
        conn.rollback()
        assert pid is not None
        terminate(engine, pid)
        with pytest.raises(sa_exc.DBAPIError) as caught:
            conn.execute(sa.text("SELECT 1"))
        assert caught.value.connection_invalidated
    with victim.connect() as conn:  # the pool replaced it
        assert conn.scalar(BACKEND_PID) != pid
    victim.dispose()


def test_pre_ping_replaces_a_dead_pooled_connection(url: URL, engine: Engine) -> None:
    pinging = sa.create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    with pinging.connect() as conn:
        pid = conn.scalar(BACKEND_PID)
    assert pid is not None
    terminate(engine, pid)
    with pinging.connect() as conn:
        assert conn.scalar(BACKEND_PID) != pid
    with pinging.connect() as conn:  # a live connection passes the ping, no transaction left
        assert not in_transaction(conn)
    pinging.dispose()


def test_pre_ping_asyncio(url: URL, engine: Engine) -> None:
    async def work(async_engine: AsyncEngine) -> tuple[object, object]:
        async with async_engine.connect() as conn:
            pid = await conn.scalar(BACKEND_PID)
        assert isinstance(pid, int)
        terminate(engine, pid)
        async with async_engine.connect() as conn:
            return pid, await conn.scalar(BACKEND_PID)

    before, after = run_async(work, url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    assert before != after


def test_asyncio_connections_terminate_in_and_outside_the_greenlet(url: URL) -> None:
    async def work(async_engine: AsyncEngine) -> tuple[bool, bool]:
        conn = await async_engine.connect()
        raw = await conn.get_raw_connection()
        invalidated = raw.dbapi_connection
        await conn.invalidate()  # the pool terminates it, inside the greenlet: a clean close
        await conn.close()
        conn = await async_engine.connect()
        raw = await conn.get_raw_connection()
        dropped = raw.dbapi_connection
        assert invalidated is not None and dropped is not None
        # As garbage collection would, with no greenlet to await in: the socket is dropped.
        dropped.terminate()  # type: ignore[attr-defined]
        closed = dropped.native.closed  # type: ignore[attr-defined]
        await conn.invalidate()
        return invalidated.native.closed, closed  # type: ignore[attr-defined]

    assert run_async(work, url) == (True, True)


# -- PgBouncer in transaction mode -------------------------------------------------------


def test_through_pgbouncer_in_transaction_mode(
    pgbouncer: TemporaryPgBouncer, engine: Engine, tables: None
) -> None:
    # Consecutive transactions of one client may run in different server
    # sessions: only unnamed statements (pgpipe's default) survive that.
    bounced = sa.create_engine(sa_url(pgbouncer.dsn(dbname="pgpipe")), pool_size=3)
    pids = set()
    for n in range(12):
        with bounced.begin() as conn:
            conn.execute(items.insert(), {"name": f"n{n}", "qty": n})
            pids.add(conn.scalar(BACKEND_PID))
            assert conn.scalar(sa.select(items.c.qty).where(items.c.name == f"n{n}")) == n
    with Session(bounced) as session:
        assert session.scalar(sa.select(sa.func.sum(Item.qty))) == sum(range(12))
    with bounced.connect() as conn:
        streamed = conn.execute(
            sa.select(items.c.name).order_by(items.c.qty),
            execution_options={"stream_results": True},
        )
        assert len(streamed.all()) == 12
    bounced.dispose()

    async def work(async_engine: AsyncEngine) -> int | None:
        async with AsyncSession(async_engine) as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(Item))

    assert run_async(work, sa_url(pgbouncer.dsn(dbname="pgpipe"))) == 12
    assert pids  # every transaction saw a server session
