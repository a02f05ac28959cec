"""pgpipe inside Pyodide (CPython 3.14 in WebAssembly) under Node, against ``pg_server``.

The wheel is built from this checkout (a copy of it, so nothing is written
here) and unpacked into Pyodide with the dependency wheels that
scripts/setup_pyodide.sh downloaded; tests/pyodide/runner.mjs then runs
tests/pyodide/scenarios.py inside it, offline: the blocking adapter over
Emscripten's sockets (NodeSockFS, with JSPI), the asyncio adapter over
``pgpipe._jssocket``. Each scenario prints ``PASS name`` or ``FAIL name: reason``.

Nothing here is skipped: without Node, the pyodide npm package or the wheels,
the test fails and says to run scripts/setup.sh.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pgpipe.testing import AUTH_USERS, TemporaryPostgres

ROOT = Path(__file__).resolve().parent.parent
PYODIDE_DIR = ROOT / "tests" / "pyodide"
RUNNER = PYODIDE_DIR / "runner.mjs"
WHEEL_CACHE = ROOT / "build" / "pyodide-wheels"
BUILD_BACKEND = WHEEL_CACHE / "build-backend"
SETUP_HINT = "run scripts/setup.sh (it runs scripts/setup_pyodide.sh)"

# What the wheel is built from: what pyproject.toml packages, and nothing else
# (no build/ left over from an earlier build, no caches).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "pgpipe")

BUILD_TIMEOUT = 60.0
RUN_TIMEOUT = 60.0

# Scenarios that must be among those that ran: a scenarios.py that lost one
# (or a runner that ran none) fails here rather than passing quietly.
REQUIRED_SCENARIOS = (
    "import_installed_wheel",
    "pbkdf2_fallback",
    *(f"blocking_auth_{method}" for method in AUTH_USERS),
    "blocking_pipeline_connect_scram_scram",
    "blocking_pipeline",
    "blocking_types",
    "blocking_error_recovery",
    "async_queries",
    "async_types",
    "async_gather",
    "async_pipeline_connect",
    "jssocket_transport_node",
)


def _missing_setup() -> list[str]:
    problems = []
    if shutil.which("node") is None:
        problems.append("node is not on PATH")
    if not (PYODIDE_DIR / "node_modules" / "pyodide" / "package.json").is_file():
        problems.append(f"{PYODIDE_DIR / 'node_modules'} has no pyodide package")
    if not any(WHEEL_CACHE.glob("*.whl")):
        problems.append(f"no dependency wheels in {WHEEL_CACHE}")
    if not any(BUILD_BACKEND.glob("setuptools-*.whl")):
        problems.append(f"no setuptools wheel in {BUILD_BACKEND}")
    return problems


def _build_wheel(out: Path, work: Path) -> Path:
    """pgpipe's wheel from a copy of the checkout, offline: the build backend
    comes from the wheel cache (pyproject.toml wants a newer setuptools than a
    machine may have, so no --no-build-isolation)."""
    source = work / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        elif path.exists():
            shutil.copy2(path, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index"]
    command += ["--find-links", str(BUILD_BACKEND), "-w", str(out), str(source)]
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=env, cwd=work
    )
    wheels = list(out.glob("pgpipe-*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        pytest.fail(
            f"building pgpipe's wheel failed (exit {result.returncode}):\n"
            + _tail(result.stdout + result.stderr),
            pytrace=False,
        )
    return wheels[0]


def _node_flags() -> list[str]:
    """JSPI, which NodeSockFS's blocking sockets need: a flag in Node 20."""
    for flag in ("--experimental-wasm-stack-switching", "--experimental-wasm-jspi"):
        probe = subprocess.run(["node", flag, "-e", ""], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [flag]
    return []


def _closed_port() -> int:
    """A port nothing listens on (free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _tail(text: str, lines: int = 60) -> str:
    """The end of a process's output, without pyodide.asm.mjs's minified source
    (one line of megabytes, which Node prints with a stack trace through it)."""
    kept = [
        line[:300]
        for line in text.splitlines()
        if len(line) < 2000 and not line.startswith(("async function", "file:", "    at "))
    ]
    return "\n".join(kept[-lines:])


def test_pgpipe_in_pyodide(pg_server: TemporaryPostgres, tmp_path: Path) -> None:
    problems = _missing_setup()
    if problems:
        pytest.fail("; ".join(problems) + f": {SETUP_HINT}", pytrace=False)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for dependency in WHEEL_CACHE.glob("*.whl"):
        shutil.copy2(dependency, wheels)
    _build_wheel(wheels, tmp_path)
    config = {
        "host": pg_server.host,
        "port": pg_server.port,
        "dbname": "pgpipe",
        "superuser": pg_server.superuser,
        "users": AUTH_USERS,
        "closed_port": _closed_port(),
    }
    command = ["node", *_node_flags(), str(RUNNER), str(wheels), json.dumps(config)]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=PYODIDE_DIR
        )
    except subprocess.TimeoutExpired as exc:
        # The partial output is bytes, whatever text= said.
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        pytest.fail(f"the Pyodide run took over {RUN_TIMEOUT} s:\n{_tail(output)}", pytrace=False)
    stdout = result.stdout
    report = (
        f"exit {result.returncode}\n--- stdout ---\n{_tail(stdout, 200)}\n"
        f"--- stderr ---\n{_tail(result.stderr)}"
    )
    print(report)  # the figures, shown with -s or -rP
    passed = re.findall(r"^PASS (\S+)$", stdout, re.MULTILINE)
    failed = re.findall(r"^FAIL (.*)$", stdout, re.MULTILINE)
    summary = re.search(r"^SUMMARY all (\d+) scenarios passed$", stdout, re.MULTILINE)
    assert not failed, report
    assert result.returncode == 0, report
    assert summary is not None and int(summary.group(1)) == len(passed), report
    missing = [name for name in REQUIRED_SCENARIOS if name not in passed]
    assert not missing, f"scenarios that did not run: {missing}\n{report}"
