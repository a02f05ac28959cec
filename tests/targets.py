"""Where integration tests connect: the server itself, or PgBouncer in front of it.

Tests in the modules matching :data:`POOLED_MODULES` that use the ``target``
fixture (or ``dsn``, which is built on it) run twice: ``[...-direct]`` against
the throwaway PostgreSQL and ``[...-pgbouncer]`` through a PgBouncer in
transaction pool mode sharing two server connections per user, with no
pgpipe setting changed. A test that cannot work through a transaction pooler
by nature (it needs session state across transactions, or the identity of
one server session) carries ``@pytest.mark.session_state("why")`` and runs
directly only. See docs/poolers.md.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from pgpipe import errors
from pgpipe.testing import TemporaryPgBouncer, TemporaryPostgres

Target: TypeAlias = TemporaryPostgres | TemporaryPgBouncer
"""What the ``target`` fixture gives: both have ``host``, ``port``, ``socket_dir``
and ``dsn(user, password, dbname)``."""

POOLED_MODULES: Final = (
    "test_driver.py",
    "test_types*.py",
    "test_pipeline_connect.py",
    "test_transactions.py",
    "test_pipeline.py",
    "test_stream.py",
)
"""File name patterns of the modules whose ``target`` tests also run through PgBouncer."""

TARGETS: Final = ("direct", "pgbouncer")


def pooled(target: Target) -> bool:
    """Whether the test is connecting through PgBouncer."""
    return isinstance(target, TemporaryPgBouncer)


def wrong_password_error(target: Target) -> tuple[type[errors.OperationalError], str]:
    """The exception class a wrong password raises, and a regex its message matches.

    PostgreSQL says InvalidPassword (28P01). PgBouncer authenticates clients
    itself and, in 1.18, reports every failure as a ProtocolViolation (08P01):
    "password authentication failed" (password, md5) or "SASL authentication
    failed" (scram).
    """
    if pooled(target):
        return errors.ProtocolViolation, "(password|SASL) authentication failed"
    return errors.InvalidPassword, "password authentication failed"
