"""Where integration tests connect: the server itself, or a pooler in front of it.

Tests in the modules matching :data:`POOLED_MODULES` that use the ``target``
fixture (or ``dsn``, which is built on it) run more than once:
``[...-direct]`` against the throwaway PostgreSQL, ``[...-pgbouncer]``
through a PgBouncer in transaction pool mode sharing two server connections
per user, and, in the modules matching :data:`PGPOOL_MODULES`,
``[...-pgpool]`` through a pgpool-II in raw mode with connection caching
(a session pooler), all with no pgpipe setting changed.

A test that cannot work through a transaction pooler by nature (it needs
session state across transactions, or the identity of one server session)
carries ``@pytest.mark.session_state("why")`` and does not run through
PgBouncer; pgpool-II lends a client one server session for its whole
session, so it still runs there. A test that fails through one pooler for
another reason, a behaviour of that pooler, carries
``@pytest.mark.not_through("pgpool", "why")`` and does not run through it.
Both are listed in docs/poolers.md.
"""

from __future__ import annotations

from collections.abc import Collection
from fnmatch import fnmatch
from typing import Final, TypeAlias

from pgpipe import errors
from pgpipe.testing import TemporaryPgBouncer, TemporaryPgpool, TemporaryPostgres

Target: TypeAlias = TemporaryPostgres | TemporaryPgBouncer | TemporaryPgpool
"""What the ``target`` fixture gives: all have ``host``, ``port``, ``socket_dir``
and ``dsn(user, password, dbname)``."""

POOLED_MODULES: Final = (
    "test_driver.py",
    "test_types*.py",
    "test_pipeline_connect.py",
    "test_transactions.py",
    "test_pipeline.py",
    "test_stream.py",
    "test_pool.py",
    "test_copy.py",
)
"""File name patterns of the modules whose ``target`` tests also run through PgBouncer."""

PGPOOL_MODULES: Final = (
    "test_driver.py",
    "test_pipeline_connect.py",
    "test_transactions.py",
    "test_pipeline.py",
)
"""File name patterns of the modules whose ``target`` tests also run through pgpool-II
(a few, to keep the suite's time down: the type modules are left out)."""

TARGETS: Final = ("direct", "pgbouncer", "pgpool")


def targets_for(module: str, *, session_state: bool, excluded: Collection[str] = ()) -> list[str]:
    """The targets a ``target`` test of the module named ``module`` runs against.

    ``excluded``: the targets its ``not_through`` markers name. Empty for a
    module outside :data:`POOLED_MODULES`, whose tests are not parametrized
    at all (the ``target`` fixture then gives the server itself).
    """
    if not any(fnmatch(module, p) for p in POOLED_MODULES):
        return []
    kinds = ["direct"]
    if not session_state:
        kinds.append("pgbouncer")
    if any(fnmatch(module, p) for p in PGPOOL_MODULES):
        kinds.append("pgpool")
    return [kind for kind in kinds if kind not in excluded]


def pooled(target: Target) -> bool:
    """Whether the test is connecting through a pooler (PgBouncer or pgpool-II)."""
    return isinstance(target, TemporaryPgBouncer | TemporaryPgpool)


def wrong_password_error(target: Target) -> tuple[type[errors.DatabaseError], str]:
    """The exception class a wrong password raises, and a regex its message matches.

    PostgreSQL says InvalidPassword (28P01). PgBouncer authenticates clients
    itself and, in 1.18, reports every failure as a ProtocolViolation (08P01):
    "password authentication failed" (password, md5) or "SASL authentication
    failed" (scram). pgpool-II 4.3 authenticates clients itself too, and
    reports a failure with SQLSTATE XX000, an InternalServerError (not an
    OperationalError): "clear text authentication failed", "md5
    authentication failed" (DETAIL "password does not match") or, for scram,
    "authentication failed" (DETAIL "username ... or password does not exist
    in backend").
    """
    if isinstance(target, TemporaryPgBouncer):
        return errors.ProtocolViolation, "(password|SASL) authentication failed"
    if isinstance(target, TemporaryPgpool):
        return errors.InternalServerError, "^(clear text |md5 )?authentication failed"
    return errors.InvalidPassword, "password authentication failed"
