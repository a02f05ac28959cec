"""pgpipe under the tools most Python code reaches PostgreSQL through: pandas
(``read_sql``/``to_sql``), an Alembic migration up and down, and an asyncio
ORM session per task, all through the ``postgresql+pgpipe://`` dialect."""

from __future__ import annotations

import asyncio
import datetime
import decimal
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pgpipe.testing import TemporaryPostgres


def url(server: TemporaryPostgres) -> str:
    return server.dsn(dbname="pgpipe").replace("postgresql://", "postgresql+pgpipe://", 1)


# -- pandas ------------------------------------------------------------------------


def test_pandas_to_sql_and_read_sql(pg_server: TemporaryPostgres) -> None:
    engine = sa.create_engine(url(pg_server))
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["ant", "bee", None],
            "weight": [0.5, 1.25, float("nan")],
            "seen": pd.to_datetime(["2026-01-01", "2026-06-30", "2026-12-01"]),
        }
    )
    try:
        written = frame.to_sql("pandas_frame", engine, index=False, if_exists="replace")
        assert written in (3, None)
        back = pd.read_sql("SELECT * FROM pandas_frame ORDER BY id", engine)
        assert list(back.columns) == ["id", "name", "weight", "seen"]
        assert back["id"].tolist() == [1, 2, 3]
        assert back["name"].tolist()[:2] == ["ant", "bee"] and back["name"].isna().tolist()[2]
        assert back["weight"].tolist()[:2] == [0.5, 1.25] and back["weight"].isna().tolist()[2]
        assert back["seen"].dt.date.tolist() == [
            datetime.date(2026, 1, 1),
            datetime.date(2026, 6, 30),
            datetime.date(2026, 12, 1),
        ]
        chosen = pd.read_sql(
            sa.text("SELECT name FROM pandas_frame WHERE id > :low ORDER BY id"),
            engine,
            params={"low": 1},
        )
        assert chosen["name"].tolist()[:1] == ["bee"]
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS pandas_frame"))
        engine.dispose()


# -- Alembic -------------------------------------------------------------------------

MIGRATION = '''
"""a table of parts"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alembic_parts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("price", sa.Numeric(10, 2)),
    )
    op.create_index("alembic_parts_name", "alembic_parts", ["name"], unique=True)


def downgrade() -> None:
    op.drop_index("alembic_parts_name", table_name="alembic_parts")
    op.drop_table("alembic_parts")
'''


def test_an_alembic_migration_upgrades_and_downgrades(
    pg_server: TemporaryPostgres, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    ini = str(tmp_path / "alembic.ini")
    command.init(Config(ini), str(directory))  # Alembic's own generic template
    config = Config(ini)
    config.set_main_option("script_location", str(directory))
    config.set_main_option("sqlalchemy.url", url(pg_server))
    (directory / "versions" / "0001_parts.py").write_text(MIGRATION, encoding="utf-8")
    engine = sa.create_engine(url(pg_server))
    try:
        command.upgrade(config, "head")
        inspector = sa.inspect(engine)
        assert "alembic_parts" in inspector.get_table_names()
        assert [i["name"] for i in inspector.get_indexes("alembic_parts")] == [
            "alembic_parts_name"
        ]
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO alembic_parts (id, name, price) VALUES (1, 'bolt', 0.25)")
            )
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == "0001"
        command.downgrade(config, "base")
        assert "alembic_parts" not in sa.inspect(engine).get_table_names()
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_parts"))
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()


# -- an asyncio ORM session per task ---------------------------------------------------


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "ecosystem_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[int]
    amount: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(12, 2))


def test_an_async_orm_session_per_task_on_one_engine(pg_server: TemporaryPostgres) -> None:
    tasks, per_task = 20, 10

    async def main() -> None:
        engine = create_async_engine(url(pg_server), pool_size=5, max_overflow=0)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.drop_all)
                await connection.run_sync(Base.metadata.create_all)
            sessions = async_sessionmaker(engine, expire_on_commit=False)

            async def work(task: int) -> decimal.Decimal:
                session: AsyncSession
                async with sessions() as session, session.begin():
                    for n in range(per_task):
                        session.add(
                            Order(id=task * 1000 + n, task=task, amount=decimal.Decimal("1.50"))
                        )
                async with sessions() as session:
                    total = await session.scalar(
                        sa.select(sa.func.sum(Order.amount)).where(Order.task == task)
                    )
                    return decimal.Decimal(total)

            totals = await asyncio.gather(*(work(task) for task in range(tasks)))
            assert totals == [decimal.Decimal("15.00")] * tasks
            async with sessions() as session:
                count = await session.scalar(sa.select(sa.func.count()).select_from(Order))
                assert count == tasks * per_task
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.drop_all)
        finally:
            await engine.dispose()

    asyncio.run(main())
