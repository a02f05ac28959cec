"""The pgpipe command."""

from __future__ import annotations

import importlib.metadata
import io
import os
import re
import subprocess
import sys
import sysconfig

import pytest

import pgpipe
from pgpipe import cli
from pgpipe.cli import main
from pgpipe.testing import AUTH_USERS, TemporaryPostgres


def run(*argv: str) -> str:
    out = io.StringIO()
    assert main(list(argv), out=out) == 0
    return out.getvalue()


def dsn_for(pg: TemporaryPostgres, method: str) -> str:
    user, password = AUTH_USERS[method]
    return pg.dsn(user=user, password=password, dbname="pgpipe")


@pytest.mark.parametrize(
    ("method", "mode", "trips"),
    [
        ("trust", "trust", 1),
        ("password", "password", 1),
        ("md5", "auto", 2),
        ("scram", "scram", 2),
        ("scram", "off", 4),
    ],
)
def test_round_trips_are_printed(
    pg_server: TemporaryPostgres, method: str, mode: str, trips: int
) -> None:
    text = run(
        "--dsn", dsn_for(pg_server, method), "--pipeline", mode, "SELECT 1 AS one, NULL AS n"
    )
    assert " one | n\n-----+---\n 1   |\n(1 row)\n" in text
    assert f"round trips {trips}, flights {trips} | auth {method}, pipeline_connect {mode}" in text


def test_compare_through_latency(pg_server: TemporaryPostgres) -> None:
    text = run("--dsn", dsn_for(pg_server, "scram"), "--latency", "5", "--compare", "SELECT 2")
    assert "through a proxy adding 5 ms each way" in text
    assert re.search(r"ordinary : .*round trips 4, .*pipeline_connect off", text)
    assert re.search(r"pipelined: .*round trips 3, .*pipeline_connect auto", text)
    assert "pipelined connect saved" in text


def test_server_error_is_reported(
    pg_server: TemporaryPostgres, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["--dsn", dsn_for(pg_server, "trust"), "SELECT * FROM nope"], out=io.StringIO()) == 1
    )
    assert "UndefinedTable" in capsys.readouterr().err


def test_runs_out_of_the_box() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pgpipe", "--auth", "trust", "SELECT 40 + 2 AS answer"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert " answer\n--------\n 42\n(1 row)\n" in completed.stdout
    assert "round trips 1, flights 1 | auth trust, pipeline_connect trust" in completed.stdout


# python -m pgpipe, and the pgpipe command the installed package put beside python.
COMMANDS = [
    [sys.executable, "-m", "pgpipe"],
    [os.path.join(sysconfig.get_path("scripts"), "pgpipe")],
]


@pytest.mark.parametrize("command", COMMANDS, ids=["python -m pgpipe", "pgpipe"])
def test_version(command: list[str]) -> None:
    completed = subprocess.run(
        [*command, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert completed.stdout == f"pgpipe {pgpipe.__version__}\n"


def test_version_without_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    # Run from a checkout that was never installed: pgpipe.__version__ answers.
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    monkeypatch.setattr(pgpipe, "__version__", "9.8.7")
    assert cli.version() == "9.8.7"
