"""The examples run as documented, and the serverless handler as deployed (over verified TLS)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import pgpipe
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from tests.tlsstub import Pki

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# What each example prints, in part: every example is listed here.
PRINTS = {
    "quickstart.py": [
        "sync   : INSERT 0 1",
        "UniqueViolation",
        "asyncio: [('coffee', Decimal('10.50'))]",
    ],
    "serverless_handler.py": [
        '"item": "coffee", "price": "3.50", "round_trips": 2',
        "'statusCode': 404",
    ],
}


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert script.name in PRINTS, f"say in PRINTS what examples/{script.name} prints"
    for expected in PRINTS[script.name]:
        assert expected in completed.stdout


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_serverless_handler_over_verified_tls(
    tls_server: TemporaryPostgres, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As deployed: sslmode=verify-full lets the first query leave early with no opt-in."""
    tls_server.psql(
        "DROP TABLE IF EXISTS orders;"
        "CREATE TABLE orders (id int PRIMARY KEY, item text, price numeric);"
        "INSERT INTO orders VALUES (1, 'coffee', 3.50);"
        "GRANT SELECT ON orders TO pgpipe_scram;",
        dbname="pgpipe",
    )
    handler = load_example("serverless_handler")
    assert "allow_unverified_pipelining" not in handler.CONNECT_OPTIONS
    user, password = AUTH_USERS["scram"]
    dsn = tls_server.dsn(user=user, password=password, dbname="pgpipe")
    monkeypatch.setenv("DATABASE_URL", f"{dsn}?sslmode=verify-full&sslrootcert={pki.ca_file}")
    response = handler.handler({"order_id": 1}, None)
    assert response["statusCode"] == 200
    # SSLRequest and the TLS handshake, then SCRAM with the query pipelined: 4.
    assert '"item": "coffee", "price": "3.50", "round_trips": 4' in response["body"]
    # Without TLS the same options refuse to send the query early, before any I/O.
    monkeypatch.setenv("DATABASE_URL", f"{dsn}?sslmode=disable")
    with pytest.raises(pgpipe.InterfaceError, match="allow_unverified_pipelining"):
        handler.handler({"order_id": 1}, None)
