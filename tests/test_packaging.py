"""pgpipe as a user gets it: the sdist and wheel built from this checkout, and
the wheel installed into a fresh virtual environment that cannot see the
checkout, connecting to the throwaway server from there with both adapters.

The build runs ``python -m build`` (the ``test`` extra installs it) on a copy
of the working tree, so nothing is written into the checkout; its isolated
build environment fetches setuptools from the package index, as pip does for
a user. The venv's python runs in isolated mode (``-I``) from a temporary
directory with a clean environment, so only the installed wheel can answer
``import pgpipe``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Final

import pytest

import pgpipe
from pgpipe.testing import AUTH_USERS, TemporaryPostgres

ROOT: Final = Path(__file__).resolve().parent.parent
VERSION: Final = pgpipe.__version__

# What the sdist carries besides the package: whatever it takes to test,
# benchmark and read about pgpipe.
SDIST_DIRS: Final = ("docs", "tests", "examples", "benchmarks", "scripts", "tools")
SDIST_FILES: Final = ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "MANIFEST.in")

CLASSIFIERS: Final = {
    "Development Status :: 3 - Alpha",
    "Intended Audience :: Developers",
    "Operating System :: OS Independent",
    "Programming Language :: Python :: 3 :: Only",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
    "Programming Language :: Python :: 3.14",
    "Programming Language :: Python :: Implementation :: CPython",
    "Topic :: Database",
    "Topic :: Database :: Front-Ends",
    "Framework :: AsyncIO",
    "Typing :: Typed",
}
HOME: Final = "https://github.com/pgpipe/pgpipe"
URLS: Final = {
    "Homepage": HOME,
    "Documentation": f"{HOME}/tree/main/docs",
    "Changelog": f"{HOME}/blob/main/CHANGELOG.md",
    "Issues": f"{HOME}/issues",
    "Source": HOME,
}

# Left out of the copy that is built: version control, caches, earlier builds.
NOT_COPIED: Final = shutil.ignore_patterns(
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    ".venv",
)

# Variables the venv's pip may need to reach the package index from this machine.
PIP_VARIABLES: Final = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


def run(
    argv: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> str:
    completed = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert completed.returncode == 0, f"{argv} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The sdist, and the wheel build made from it (build's default)."""
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    # From the temp dir: run from the checkout, its build/ folder would shadow the build module.
    run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)], cwd=work)
    return Built(
        sdist=work / "dist" / f"pgpipe-{VERSION}.tar.gz",
        wheel=work / "dist" / f"pgpipe-{VERSION}-py3-none-any.whl",
    )


def sdist_names(built: Built) -> set[str]:
    with tarfile.open(built.sdist) as archive:
        # Every name is under pgpipe-<version>/.
        return {name.partition("/")[2] for name in archive.getnames()}


def wheel_metadata(built: Built) -> Message:
    with zipfile.ZipFile(built.wheel) as archive:
        text = archive.read(f"pgpipe-{VERSION}.dist-info/METADATA").decode()
    return email.parser.Parser(policy=email.policy.compat32).parsestr(text)


def on_disk(folder: str) -> set[str]:
    """The files under a folder of this tree (a checkout or an unpacked sdist), caches aside."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and not {"__pycache__", ".hypothesis"} & set(path.parts)
        and path.suffix not in (".pyc", ".pyo")
    }


def test_version_in_one_place() -> None:
    # pyproject.toml reads the version from pgpipe/__init__.py, so they cannot disagree.
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "pgpipe.__version__"


def test_sdist_carries_docs_tests_and_examples(built: Built) -> None:
    names = sdist_names(built)
    for folder in SDIST_DIRS:
        files = on_disk(folder)
        assert files, folder
        assert files <= names, f"{folder}: {sorted(files - names)} missing from the sdist"
    assert set(SDIST_FILES) <= names
    assert {"pgpipe/__init__.py", "pgpipe/py.typed", "tests/test_packaging.py"} <= names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_build_that_runs() -> None:
    """scripts/test.sh runs the suite twice: on the pure package, then from
    build/compiled (mypyc) with PGPIPE_EXPECT_COMPILED=1. Each run checks it
    imported the build it means to test."""
    from pgpipe._compiled import is_compiled

    expected = os.environ.get("PGPIPE_EXPECT_COMPILED") == "1"
    assert is_compiled() is expected
    if expected:
        import pgpipe._session
        import pgpipe.types.binary

        assert pgpipe._session.__file__ and not pgpipe._session.__file__.endswith(".py")
        assert pgpipe.types.binary.__file__ and pgpipe.types.binary.__file__.endswith(".so")


def test_wheel_carries_only_the_package(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        names = archive.namelist()
    tops = {name.partition("/")[0] for name in names}
    assert tops == {"pgpipe", f"pgpipe-{VERSION}.dist-info"}
    assert {"pgpipe/__init__.py", "pgpipe/py.typed", "pgpipe/protocol/__init__.py"} <= set(names)
    assert f"pgpipe-{VERSION}.dist-info/licenses/LICENSE" in names


def test_wheel_metadata(built: Built) -> None:
    meta = wheel_metadata(built)
    assert meta["Name"] == "pgpipe"
    assert meta["Version"] == VERSION
    assert tuple(int(n) for n in meta["Metadata-Version"].split(".")) >= (2, 4)
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.11"
    classifiers = set(meta.get_all("Classifier") or ())
    assert classifiers >= CLASSIFIERS
    # PEP 639: a license expression replaces the License :: classifiers.
    assert not [c for c in classifiers if c.startswith("License ::")]
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL") or ())
    assert urls == URLS
    requires = meta.get_all("Requires-Dist") or []
    assert [r for r in requires if "extra ==" not in r] == ["scramp>=1.4", "typing-extensions>=4.6"]
    assert 'hypothesis>=6.100; extra == "hypothesis"' in requires
    assert set(meta.get_all("Provides-Extra") or ()) >= {"hypothesis", "test"}
    assert "postgresql" in (meta["Keywords"] or "").split(",")


@pytest.fixture(scope="module")
def venv(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel (and its dependencies from the package index)."""
    where = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(where / "env")], cwd=where)
    env = clean_environment(where)
    env.update({k: v for k, v in os.environ.items() if k in PIP_VARIABLES or k.startswith("PIP_")})
    env.update({k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")})
    python = str(where / "env" / "bin" / "python")
    run([python, "-I", "-m", "pip", "install", "-q", str(built.wheel)], cwd=where, env=env)
    run([python, "-I", "-m", "pip", "check"], cwd=where, env=env)
    return where


def clean_environment(where: Path) -> dict[str, str]:
    """Nothing from this session: no PYTHONPATH, no PG* variables, a home of its own."""
    home = where / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": f"{where / 'env' / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


@pytest.mark.parametrize("command", [["pgpipe"], ["python", "-I", "-m", "pgpipe"]])
def test_installed_version(venv: Path, command: list[str]) -> None:
    program = str(venv / "env" / "bin" / command[0])
    out = run([program, *command[1:], "--version"], cwd=venv, env=clean_environment(venv))
    assert out == f"pgpipe {VERSION}\n"


CLIENT: Final = """
import asyncio, json, sys
import pgpipe

dsn = sys.argv[1]
with pgpipe.connect(dsn) as conn:
    blocking = conn.query("SELECT current_user, 6 * 7").rows


async def main():
    conn = await pgpipe.connect_async(dsn)
    try:
        return (await conn.query("SELECT current_user, 6 * 7")).rows
    finally:
        await conn.close()


print(json.dumps({"file": pgpipe.__file__, "sync": blocking, "async": asyncio.run(main())}))
"""


def test_installed_wheel_connects(venv: Path, pg_server: TemporaryPostgres) -> None:
    user, password = AUTH_USERS["scram"]
    dsn = pg_server.dsn(user=user, password=password, dbname="pgpipe")
    python = str(venv / "env" / "bin" / "python")
    out = run([python, "-I", "-c", CLIENT, dsn], cwd=venv, env=clean_environment(venv))
    seen = json.loads(out)
    # The installed copy answered, not the checkout.
    assert Path(seen["file"]).is_relative_to(venv / "env")
    assert seen["sync"] == seen["async"] == [[user, 42]]
