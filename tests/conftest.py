"""Shared test fixtures: one throwaway PostgreSQL per session, hypothesis profiles.

Tests that need no server never touch ``pg_server``, so the server only
starts when the first test asking for it runs. More fixtures (connections
per authentication method, proxies) can build on ``pg_server`` in other
conftest files or plugin modules.

The pooler tiers: in the modules of ``tests.targets.POOLED_MODULES``, every
test using ``target`` or ``dsn`` runs directly (``[...-direct]``) and through
the session's PgBouncer in transaction pool mode (``[...-pgbouncer]``), unless
marked ``session_state``; in those of ``tests.targets.PGPOOL_MODULES`` also
through the session's pgpool-II (``[...-pgpool]``). ``not_through(target,
why)`` leaves one pooler out. A missing ``pgbouncer`` or ``pgpool`` program
fails those tests; they are never skipped.

In parallel (pytest-xdist, ``-n 2`` as scripts/test.sh runs the suite):
every worker is a session of its own, so it starts its own servers and
poolers (each on a free port) and nothing is shared between workers. The
workers run under this interpreter's ``-b``/``-bb`` (``_workers_inherit_bytes_warning``),
and the modules of :data:`KEPT_TOGETHER` run on one worker each.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from pgpipe.testing import TemporaryPgBouncer, TemporaryPgpool, TemporaryPostgres
from tests.clients import Adapter
from tests.targets import TARGETS, Target, targets_for
from tests.tlsstub import Pki

# Shared CI machines are slow and noisy (2 cores): no per-example deadline.
settings.register_profile("pgpipe", deadline=None, max_examples=100)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "pgpipe")

KEPT_TOGETHER = ("test_packaging.py", "test_docs.py")
"""Modules whose module fixtures are costly or whose tests build on each other
(the sdist and its venv; a document's blocks, run in order in one namespace):
under ``--dist loadgroup`` each runs whole on one worker."""


def pytest_configure(config: pytest.Config) -> None:
    _workers_inherit_bytes_warning(config)


def _workers_inherit_bytes_warning(config: pytest.Config) -> None:
    """Start pytest-xdist's workers with this interpreter's ``-b`` or ``-bb``.

    xdist starts each worker as ``python -u -c ...``: without the flag there,
    a bytes/str comparison would warn (and, as the suite's warnings are errors,
    fail) in a serial run but pass silently in a parallel one.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        wanted = int(workerinput.get("pgpipe_bytes_warning", 0))
        if sys.flags.bytes_warning < wanted:
            raise pytest.UsageError(
                f"this worker runs without the controller's -{'b' * wanted}: give --tx "
                "an interpreter with the flag (popen//python=python -bb), or just -n"
            )
        return
    tx = getattr(config.option, "tx", None)
    if not tx or not sys.flags.bytes_warning:
        return
    python = f"{shlex.quote(sys.executable)} -{'b' * sys.flags.bytes_warning}"
    specs = []
    for spec in tx:  # "popen" or "2*popen"; a spec that names its python is left as given
        count, star, kind = spec.rpartition("*")
        specs.append(f"{count}{star}popen//python={python}" if kind == "popen" else spec)
    config.option.tx = specs


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each xdist worker which ``-b`` level the controller runs under."""
    node.workerinput["pgpipe_bytes_warning"] = sys.flags.bytes_warning


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests of each :data:`KEPT_TOGETHER` module for ``--dist loadgroup``.

    ``tryfirst``: before the xdist worker's own hook, which reads the marks into
    the node ids the scheduler groups by (after it, the marks would be ignored).
    """
    for item in items:
        if item.path.name in KEPT_TOGETHER:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TemporaryPostgres]:
    """A running TemporaryPostgres shared by the whole session."""
    with TemporaryPostgres() as server:
        yield server


@pytest.fixture(scope="session")
def pgbouncer(pg_server: TemporaryPostgres) -> Iterator[TemporaryPgBouncer]:
    """PgBouncer in transaction pool mode in front of ``pg_server``, for the whole session.

    Two server connections per (database, user): enough for the tests, which
    hold at most two transactions open at once per user, and few enough that
    consecutive transactions of different clients share server sessions.
    """
    with TemporaryPgBouncer(pg_server, pool_mode="transaction", pool_size=2) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def pgpool(pg_server: TemporaryPostgres) -> Iterator[TemporaryPgpool]:
    """pgpool-II in front of ``pg_server`` (raw mode, connection caching), for the whole session."""
    with TemporaryPgpool(pg_server) as pooler:
        yield pooler


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, pg_server: TemporaryPostgres) -> Target:
    """Where to connect: ``pg_server`` itself, or the ``pgbouncer`` or ``pgpool`` fixture."""
    kind = getattr(request, "param", "direct")
    if kind == "direct":
        return pg_server
    if kind == "pgbouncer":
        bouncer: TemporaryPgBouncer = request.getfixturevalue("pgbouncer")
        return bouncer
    if kind == "pgpool":
        pooler: TemporaryPgpool = request.getfixturevalue("pgpool")
        return pooler
    raise ValueError(f"unknown target {kind!r}")


@pytest.fixture(scope="module")
def dsn(target: Target) -> str:
    """The superuser's DSN over TCP, on the ``pgpipe`` database (directly or through PgBouncer)."""
    return target.dsn(dbname="pgpipe")


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run ``target`` tests of the pooled modules directly and through the poolers.

    ``trylast``: after ``parametrize`` marks and fixture params, so the ids end
    in ``-direct`` / ``-pgbouncer`` / ``-pgpool``.
    """
    if "target" not in metafunc.fixturenames:
        return
    module = metafunc.definition.path.name
    if not targets_for(module, session_state=False):
        return
    marker = metafunc.definition.get_closest_marker("session_state")
    if marker is not None and not (marker.args and isinstance(marker.args[0], str)):
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: @pytest.mark.session_state needs a reason string"
        )
    excluded: set[str] = set()
    for mark in metafunc.definition.iter_markers("not_through"):
        if not (
            len(mark.args) == 2
            and mark.args[0] in TARGETS
            and mark.args[0] != "direct"
            and isinstance(mark.args[1], str)
            and mark.args[1]
        ):
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: @pytest.mark.not_through needs a pooler "
                f"target ({', '.join(t for t in TARGETS if t != 'direct')}) and a reason string"
            )
        excluded.add(mark.args[0])
    kinds = targets_for(module, session_state=marker is not None, excluded=excluded)
    metafunc.parametrize("target", kinds, indirect=True)


@pytest.fixture(params=["sync", "async"])
def adapter(request: pytest.FixtureRequest) -> Iterator[Adapter]:
    """Runs the test once through each adapter: blocking and asyncio."""
    a = Adapter(request.param)
    yield a
    a.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates made for the test run: a CA, server and client certificates."""
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def tls_server(pki: Pki) -> Iterator[TemporaryPostgres]:
    """A second throwaway PostgreSQL, serving TLS with ``pki``'s server certificate."""
    with TemporaryPostgres(tls=pki.server_certificate()) as server:
        yield server
