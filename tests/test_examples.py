"""The examples run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(script: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout


def test_quickstart() -> None:
    out = run("quickstart.py")
    assert "sync   : INSERT 0 1" in out
    assert "UniqueViolation" in out
    assert "asyncio: [('coffee', Decimal('10.50'))]" in out


def test_serverless_handler() -> None:
    out = run("serverless_handler.py")
    assert '"item": "coffee", "price": "3.50", "round_trips": 2' in out
    assert "'statusCode': 404" in out
