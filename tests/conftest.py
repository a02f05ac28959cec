"""Shared test fixtures: one throwaway PostgreSQL per session, hypothesis profiles.

Tests that need no server never touch ``pg_server``, so the server only
starts when the first test asking for it runs. More fixtures (connections
per authentication method, proxies) can build on ``pg_server`` in other
conftest files or plugin modules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter
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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TemporaryPostgres]:
    """A running TemporaryPostgres shared by the whole session."""
    with TemporaryPostgres() as server:
        yield server


@pytest.fixture
def dsn(pg_server: TemporaryPostgres) -> str:
    """The superuser's DSN over TCP, on the ``pgpipe`` database."""
    return pg_server.dsn(dbname="pgpipe")


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
