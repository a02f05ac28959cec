"""SQLAlchemy dialect for pgpipe: ``postgresql+pgpipe://``.

One URL serves both engines: ``create_engine(url)`` gets ``PGDialect_pgpipe``
(over ``pgpipe.dbapi``) and ``create_async_engine(url)`` gets
``PGDialectAsync_pgpipe`` (over ``pgpipe.dbapi_async``), as SQLAlchemy's
psycopg dialect does. ``postgresql+pgpipe_async://`` names the asyncio one
explicitly. Needs ``pip install pgpipe[sqlalchemy]``; see docs/sqlalchemy.md.
"""

from __future__ import annotations

from pgpipe.sqlalchemy.dialect import PGDialect_pgpipe, PGDialectAsync_pgpipe

dialect = PGDialect_pgpipe
dialect_async = PGDialectAsync_pgpipe

__all__ = ["PGDialectAsync_pgpipe", "PGDialect_pgpipe", "dialect", "dialect_async"]
