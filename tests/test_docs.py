"""Every code block of README.md and docs/*.md runs, against the suite's throwaway server.

How a block reaches the server: the documents' own connection strings, aimed
at ``pg_server`` (``_aim``): the placeholder hosts they name (``localhost``,
``db``, ``db.example.com``, ``pgbouncer.internal``) become ``localhost``
without a port, and ``PGPORT``, ``PGUSER`` (``app``), ``PGPASSWORD``
(``secret``) and ``PGDATABASE`` (``app``) fill in the rest, as libpq would.
The role ``app`` and a fresh database ``app`` per document hold what the
documents query (``SETUP``). A snippet may take as given, as the prose
does, ``dsn`` (the server's, as ``app``), ``conn`` and ``aconn`` (a
connection of each adapter to it).

Python blocks of one document run in order in one namespace (a block asked
for alone runs its predecessors first); ``await`` at top level runs on the
document's event loop. A result written in a comment after an expression
(``conn.query("SELECT 1").rows   # [(1,)]``) is checked: a Python literal is
compared with ``==``, anything else with the value's ``repr`` (``...``
matching anything); a comment that is neither is prose. ``>>>`` lines are
run as doctests. Shell blocks run their ``pgpipe`` commands (``python -m
pgpipe ...``, ``pgpipe ...``) with a time limit; ``pip install pgpipe[extra]``
is checked (the extra exists), not run; any other command needs a mark.
Connection strings shown as indented blocks must parse, and connect.

The examples (examples/*.py) run in tests/test_examples.py.

A block that cannot run here carries ``<!-- not run: why -->`` above it;
``NOT_RUN`` lists them with their reasons, and a mark or a block missing
from either side fails ``test_not_run_marks`` (marked Python must still
compile, a marked connection string still parse).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import doctest
import importlib.metadata
import inspect
import io
import os
import pkgutil
import re
import shlex
import subprocess
import sys
import tokenize
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pgpipe
from pgpipe import types as pgtypes
from pgpipe.conninfo import parse_dsn
from pgpipe.testing import TemporaryPostgres
from tests.clients import Adapter

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

PYTHON = {"python", "py", "pycon"}
SHELL = {"sh", "bash", "shell", "console"}
SHELL_TIMEOUT = 60

NOT_RUN_MARK = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")

# The marked blocks, by document and first line, with the reason the mark gives.
NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "bash scripts/demo.sh"): "installs packages and runs the whole test suite",
    (
        "docs/benchmarks.md",
        "python benchmarks/bench_query.py",
    ): "a benchmark of several drivers, minutes long",
    (
        "docs/benchmarks.md",
        "python benchmarks/bench_rows.py",
    ): "a benchmark of several drivers, minutes long",
    (
        "docs/benchmarks.md",
        "python benchmarks/bench_batch.py --rounds 15",
    ): "a benchmark of several drivers, minutes long",
    (
        "docs/benchmarks.md",
        "python benchmarks/bench_instructions.py",
    ): "valgrind runs the client thousands of times slower, about a minute",
    (
        "docs/benchmarks.md",
        "python benchmarks/bench_pool.py --rounds 5",
    ): "a benchmark of several pools, minutes long",
    (
        "docs/benchmarks.md",
        "python benchmarks/bench_copy.py --rounds 3",
    ): "a benchmark of several drivers, minutes long",
    ("docs/connecting.md", "import pgpipe"): "needs a server with a certificate from a public CA",
    (
        "docs/connecting.md",
        "postgresql://user:password@ep-example-123456.us-east-2.aws.n",
    ): "needs a Neon account",
    (
        "docs/connecting.md",
        "postgresql://postgres.projectref:password@aws-0-us-east-1.po",
    ): "needs a Supabase project and its CA certificate",
    (
        "docs/connecting.md",
        "host=mydb.abc123.us-east-1.rds.amazonaws.com dbname=app user",
    ): "needs an RDS instance and AWS's CA bundle",
    ("docs/edge.md", "import pgpipe"): "needs Neon's proxy and an account",
    (
        "docs/edge.md",
        "from js import connect",
    ): "Cloudflare Workers only; written against cloudflare:sockets' documented API",
}

# What the documents query, made once in a template that each document's
# database ``app`` is copied from. ``semver`` and ``citext2`` stand for types
# of an extension: base types with their own text form (text's I/O functions).
SETUP = """
CREATE EXTENSION hstore;
CREATE TYPE semver;
CREATE FUNCTION semver_in(cstring) RETURNS semver LANGUAGE internal IMMUTABLE STRICT AS 'textin';
CREATE FUNCTION semver_out(semver) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'textout';
CREATE TYPE semver (INPUT = semver_in, OUTPUT = semver_out, LIKE = text);
CREATE TYPE citext2;
CREATE FUNCTION citext2_in(cstring) RETURNS citext2 LANGUAGE internal IMMUTABLE STRICT AS 'textin';
CREATE FUNCTION citext2_out(citext2) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT
    AS 'textout';
CREATE TYPE citext2 (INPUT = citext2_in, OUTPUT = citext2_out, LIKE = text);
SET ROLE app;
CREATE TYPE my_pair AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE users (id int PRIMARY KEY, name text, active boolean);
INSERT INTO users VALUES (7, 'ada', true), (8, 'grace', false);
CREATE TABLE orders (id int PRIMARY KEY, user_id int, item text, price numeric);
INSERT INTO orders VALUES (7, 7, 'coffee', 3.50), (8, 7, 'tea', 2.00);
CREATE TABLE stats (hits int);
INSERT INTO stats VALUES (0);
CREATE TABLE items (id int, name text);
CREATE TABLE accounts (id int PRIMARY KEY, balance int);
CREATE TABLE events (day date, what text);
INSERT INTO events VALUES ('2026-11-22', 'release');
CREATE TABLE sessions (id int, expires timestamptz);
CREATE FUNCTION slow() RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(0.01)';
"""


@dataclass(frozen=True)
class Block:
    """A fenced code block: where it is, its language and text, and its not-run mark."""

    document: str  # relative to the repository
    line: int  # of the opening fence
    lang: str
    source: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"

    @property
    def first_line(self) -> str:
        """The first line that is not blank, without a trailing comment, cut at 60 characters."""
        lines = (line.split("  #")[0].strip() for line in self.source.splitlines())
        return next((line for line in lines if line), "")[:60]


def blocks_of(path: Path) -> list[Block]:
    """The code blocks of a Markdown file, each with the mark above it (blank lines
    between allowed): fenced ones with their language, indented ones (connection
    strings, in these documents) as ``conninfo``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    document = path.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is not None:
            fence, indent = opening["fence"], len(opening["indent"])
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(fence):
                end += 1
            body = [
                line[indent:] if line[:indent].isspace() else line for line in lines[i + 1 : end]
            ]
            lang = opening["lang"].lower()
            after = end + 1
        elif lines[i].startswith("    ") and lines[i].strip() and i and not lines[i - 1].strip():
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            body = [line[4:] for line in lines[i:end]]
            lang, after = "conninfo", end
        else:
            i += 1
            continue
        above = next((line for line in reversed(lines[:i]) if line.strip()), "")
        mark = NOT_RUN_MARK.match(above)
        source = "\n".join(body).strip("\n") + "\n"
        blocks.append(Block(document, i + 1, lang, source, mark["reason"] if mark else None))
        i = after
    return blocks


def code_blocks() -> list[Block]:
    return [
        block
        for path in DOCUMENTS
        for block in blocks_of(path)
        if block.lang in PYTHON | SHELL | {"conninfo"}
    ]


BLOCKS = code_blocks()
RUN = [block for block in BLOCKS if block.not_run is None]


# --- aiming the documents at the throwaway server -------------------------------------

_PLACEHOLDER_HOST = re.compile(
    r"(?<=[@=\"'])(?:db\.example\.com|pgbouncer\.internal|localhost|db)(?::\d+)?(?=[/?\"'\s,]|$)"
)


def _aim(text: str, server: TemporaryPostgres) -> str:
    """The documents' hosts become the throwaway server (its port comes from PGPORT)."""
    text = text.replace("/var/run/postgresql", server.socket_dir)
    return _PLACEHOLDER_HOST.sub("localhost", text)


def _environment(server: TemporaryPostgres) -> dict[str, str]:
    return {
        "PGPORT": str(server.port),
        "PGUSER": "app",
        "PGPASSWORD": "secret",
        "PGDATABASE": "app",
        "PGPASSFILE": os.devnull,
        "PGSERVICEFILE": os.devnull,
    }


# --- results written in comments -----------------------------------------------------

_VALUE_START = re.compile(r"""[\[({'"\d-]|True\b|False\b|None\b|[A-Za-z_][\w.]*\(""")
_VALUE_END = re.compile(r"\s{2,}|:\s|$")
_REPR = re.compile(r"[A-Za-z_][\w.]*\(.*\)|[\[(].*[\])]")


def expectation(comment: str) -> str | None:
    """The value a comment shows (``[(42,)]`` in ``# [(42,)]  the answer``), or None for prose."""
    text = comment.lstrip("#").strip()
    if not _VALUE_START.match(text):
        return None
    for end in _VALUE_END.finditer(text):
        candidate = text[: end.start()].rstrip()
        if not candidate:
            continue
        try:
            ast.literal_eval(candidate)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            # Not a literal: a value's repr still names a class (``Point(x=1, y=2)``).
            if re.fullmatch(_REPR, candidate) and re.search(r"[A-Za-z_][\w.]*\(", candidate):
                return candidate
            continue
        return candidate
    return None


def matches(actual: object, expected: str) -> bool:
    """The value equals the literal, or its repr reads as ``expected`` (``...``: anything)."""
    try:
        if ast.literal_eval(expected) == actual:
            return True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, repr(actual), re.DOTALL) is not None


def check(actual: object, expected: str, where: str) -> None:
    """Called in place of an expression whose comment shows its value."""
    if not matches(actual, expected):
        raise AssertionError(f"{where}: the comment says {expected}, the value is {actual!r}")


class _Checks(ast.NodeTransformer):
    """Wraps each expression statement whose line ends in a value comment in ``__check__``."""

    def __init__(self, comments: dict[int, str], document: str) -> None:
        self.comments = comments
        self.document = document

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        end = node.end_lineno or node.lineno
        expected = expectation(self.comments.get(end, ""))
        if expected is None:
            return node
        call = ast.Call(
            func=ast.Name("__check__", ast.Load()),
            args=[
                node.value,
                ast.Constant(expected),
                ast.Constant(f"{self.document}:{node.lineno}"),
            ],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(ast.copy_location(call, node)), node)


def compile_block(block: Block, source: str) -> Any:
    """The block's code, line numbers those of the document, value comments checked."""
    padded = "\n" * block.line + source
    comments = {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(padded).readline)
        if token.type == tokenize.COMMENT
    }
    tree = ast.parse(padded, filename=block.document)
    tree = ast.fix_missing_locations(_Checks(comments, block.document).visit(tree))
    return compile(tree, str(ROOT / block.document), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


# --- running a document --------------------------------------------------------------


def run_doctest(block: Block, source: str, namespace: dict[str, Any]) -> None:
    """A block of ``>>>`` lines, each output compared (``...`` matching anything)."""
    test = doctest.DocTestParser().get_doctest(
        source, namespace, block.id, str(ROOT / block.document), block.line
    )
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)  # DocTest ran in a copy: later blocks see its names
    if runner.failures:
        raise AssertionError(report.getvalue())


_GLOBAL_CODECS = (pgtypes._TEXT_DECODERS, pgtypes._BINARY_DECODERS, pgtypes._BINARY_ENCODERS)


class DocumentRun:
    """One document's namespace, event loop, database and connections, blocks run in order."""

    def __init__(self, document: str, server: TemporaryPostgres) -> None:
        self.document = document
        self.server = server
        self.blocks = [b for b in RUN if b.document == document and b.lang in PYTHON]
        self.done = 0
        self.loop = asyncio.new_event_loop()
        self.opened: list[Any] = []
        # Documents may register codecs globally: put everything back afterwards.
        self.codecs = [dict(table) for table in _GLOBAL_CODECS]
        self.json = (pgtypes.binary.JSON.loads, pgtypes.binary.JSON.dumps)
        server.psql(
            "DROP DATABASE IF EXISTS app WITH (FORCE);"
            " CREATE DATABASE app TEMPLATE app_docs OWNER app;"
        )
        dsn = server.dsn(user="app", password="secret", dbname="app")
        # A module of its own, so that what looks a class's module up (dataclasses) finds it.
        self.module = ModuleType("docs_" + re.sub(r"\W", "_", document))
        sys.modules[self.module.__name__] = self.module
        self.namespace: dict[str, Any] = self.module.__dict__
        self.namespace |= {
            "__check__": check,
            "pgpipe": pgpipe,
            "dsn": dsn,
            "conn": self._record(pgpipe.connect(dsn)),
            "aconn": self._record(self.loop.run_until_complete(pgpipe.connect_async(dsn))),
        }

    def _record(self, connection: Any) -> Any:
        self.opened.append(connection)
        return connection

    def run_until(self, block: Block) -> None:
        """Runs the blocks before ``block`` that have not run yet (errors were theirs), then it."""
        index = self.blocks.index(block)
        while self.done < index:
            with contextlib.suppress(Exception):
                self._run(self.blocks[self.done])
            self.done += 1
        self.done = index + 1
        self._run(block)

    def _run(self, block: Block) -> None:
        source = _aim(block.source, self.server)
        if any(line.startswith(">>>") for line in source.splitlines()):
            run_doctest(block, source, self.namespace)
            return
        code = compile_block(block, source)
        if code.co_flags & inspect.CO_COROUTINE:
            self.loop.run_until_complete(eval(code, self.namespace))
        else:
            exec(code, self.namespace)

    def close(self) -> None:
        for connection in self.opened:
            result = connection.close()
            if inspect.isawaitable(result):
                self.loop.run_until_complete(result)
        self.loop.close()
        for table, saved in zip(_GLOBAL_CODECS, self.codecs, strict=True):
            table.clear()
            table.update(saved)
        pgtypes.set_json(*self.json)
        sys.modules.pop(self.module.__name__, None)


@pytest.fixture(scope="module")
def docs_server(pg_server: TemporaryPostgres) -> Iterator[TemporaryPostgres]:
    """``pg_server`` with the role ``app``, the template database and the documents' environment.

    ``pgpipe.connect`` and ``connect_async`` are wrapped while the documents run,
    so every connection they open is closed after its document.
    """
    pg_server.psql(
        "DROP DATABASE IF EXISTS app WITH (FORCE); DROP DATABASE IF EXISTS app_docs;"
        " DROP ROLE IF EXISTS app;"
        " CREATE ROLE app LOGIN PASSWORD 'secret';"
        " CREATE DATABASE app_docs OWNER app;"
    )
    pg_server.psql(SETUP, dbname="app_docs")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _environment(pg_server).items():
            patch.setenv(name, value)
        yield pg_server


@pytest.fixture(scope="module")
def documents(docs_server: TemporaryPostgres) -> Iterator[dict[str, DocumentRun]]:
    runs: dict[str, DocumentRun] = {}
    real_connect, real_connect_async = pgpipe.connect, pgpipe.connect_async

    def connect(*args: Any, **kwargs: Any) -> pgpipe.Connection:
        connection = real_connect(*args, **kwargs)
        for run in runs.values():
            run.opened.append(connection)
        return connection

    async def connect_async(*args: Any, **kwargs: Any) -> pgpipe.AsyncConnection:
        connection = await real_connect_async(*args, **kwargs)
        for run in runs.values():
            run.opened.append(connection)
        return connection

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pgpipe, "connect", connect)
        patch.setattr(pgpipe, "connect_async", connect_async)
        try:
            yield runs
        finally:
            for run in runs.values():
                run.close()


def document_run(
    runs: dict[str, DocumentRun], document: str, server: TemporaryPostgres
) -> DocumentRun:
    """The document's run, ending the previous document's first (its connections, its loop)."""
    if document not in runs:
        for other in list(runs):
            runs.pop(other).close()
        runs[document] = DocumentRun(document, server)
    return runs[document]


@pytest.mark.parametrize("block", [b for b in RUN if b.lang in PYTHON], ids=lambda b: b.id)
def test_python_block(
    block: Block, documents: dict[str, DocumentRun], docs_server: TemporaryPostgres
) -> None:
    document_run(documents, block.document, docs_server).run_until(block)


def installs_pgpipe(argv: list[str]) -> bool:
    """``pip install pgpipe[extra]``: true here already (the tests import pgpipe), so
    checked instead of run: each extra it names must exist."""
    if argv[:2] != ["pip", "install"] or not argv[2:]:
        return False
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    for requirement in argv[2:]:
        named = re.fullmatch(r"pgpipe(?:\[(?P<extras>[\w,-]+)\])?", requirement)
        if named is None:
            return False
        for extra in (named["extras"] or "").split(","):
            assert not extra or extra in extras, f"pgpipe has no extra {extra!r}"
    return True


def pgpipe_commands(block: Block) -> list[list[str]]:
    """The block's commands as argument lists; anything but pgpipe needs a not-run mark."""
    commands = []
    for line in block.source.splitlines():
        argv = shlex.split(line, comments=True)
        if not argv or installs_pgpipe(argv):
            continue
        if argv[:3] == ["python", "-m", "pgpipe"]:
            commands.append(argv[3:])
        elif argv[0] == "pgpipe":
            commands.append(argv[1:])
        else:
            raise AssertionError(
                f"{block.id}: {line.strip()!r} is not a pgpipe command; run only those in"
                " documents, or mark the block <!-- not run: why -->"
            )
    return commands


@pytest.mark.parametrize("block", [b for b in RUN if b.lang in SHELL], ids=lambda b: b.id)
def test_shell_block(block: Block, docs_server: TemporaryPostgres) -> None:
    for args in pgpipe_commands(block):
        args = [_aim(arg, docs_server) for arg in args]
        completed = subprocess.run(
            [sys.executable, "-m", "pgpipe", *args],
            capture_output=True,
            text=True,
            timeout=SHELL_TIMEOUT,
            env={**os.environ, **_environment(docs_server)},
            cwd=ROOT,
            check=False,
        )
        assert completed.returncode == 0, (
            f"{block.id}: pgpipe {shlex.join(args)} exited {completed.returncode}\n"
            f"{completed.stdout}\n{completed.stderr}"
        )


def test_not_run_marks() -> None:
    """The marked blocks are exactly those NOT_RUN lists, for the reasons it gives;
    marked Python still compiles."""
    marked = {(b.document, b.first_line): b.not_run for b in BLOCKS if b.not_run is not None}
    assert marked == NOT_RUN
    for block in BLOCKS:
        if block.not_run is not None and block.lang in PYTHON:
            compile_block(block, block.source)
    starts = {(b.document, b.line) for b in BLOCKS}
    stray = []
    for path in DOCUMENTS:
        document = path.relative_to(ROOT).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not NOT_RUN_MARK.match(line):
                continue
            below = next((n for n in range(number + 1, len(lines) + 1) if lines[n - 1].strip()), 0)
            if (document, below) not in starts:
                stray.append(f"{document}:{number}")
    assert not stray, f"not-run marks that are not right above a code block: {stray}"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "conninfo"], ids=lambda b: b.id)
def test_connection_string_parses(block: Block) -> None:
    """Every connection string shown, marked or not, is one pgpipe takes (no I/O)."""
    parse_dsn(block.source.strip(), {}, {})


@pytest.mark.parametrize("block", [b for b in RUN if b.lang == "conninfo"], ids=lambda b: b.id)
def test_connection_string_block(
    block: Block, adapter: Adapter, docs_server: TemporaryPostgres
) -> None:
    conn = adapter.connect(_aim(block.source.strip(), docs_server))
    assert conn.query("SELECT current_user, current_database()").rows == [("app", "app")]


def test_the_harness_reads_comments() -> None:
    assert expectation("# [(42,)]") == "[(42,)]"
    assert expectation("# 'SELECT 1'                     the full command tag") == "'SELECT 1'"
    assert expectation("# (23,): what the server inferred") == "(23,)"
    assert expectation("# 1                              None for tags without a count") == "1"
    assert (
        expectation("# Stats(round_trips=2, flights=2, ...)")
        == "Stats(round_trips=2, flights=2, ...)"
    )
    assert expectation("# 2 round trips after TCP, authentication included") is None
    assert expectation("# domain -> its base type") is None
    assert expectation("# (one round trip)") is None
    assert expectation("# [(my_pair(a=1, b='x'),)]") == "[(my_pair(a=1, b='x'),)]"
    assert matches([(42,)], "[(42,)]") and not matches([(41,)], "[(42,)]")
    block = Block("README.md", 1, "python", "x = 41\nx + 1   # 43\nx   # 41\n", None)
    with pytest.raises(AssertionError, match=r"README\.md:3: the comment says 43, the value is 42"):
        exec(compile_block(block, block.source), {"__check__": check})
    namespace: dict[str, Any] = {}
    run_doctest(Block("README.md", 1, "pycon", "", None), ">>> x = 41\n>>> x + 1\n42\n", namespace)
    assert namespace["x"] == 41
    with pytest.raises(AssertionError, match="Expected:\n    43\nGot:\n    42"):
        run_doctest(Block("README.md", 1, "pycon", "", None), ">>> x + 1\n43\n", namespace)
    assert matches(pgpipe.Point(1, 2), "Point(x=1...)")
    assert not matches(pgpipe.Point(1, 2), "Point(x=2...)")


def test_what_pgpipe_does_not_do_yet(adapter: Adapter, pg_server: TemporaryPostgres) -> None:
    """README's "not yet" list is true today: when this fails, update the list."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## What pgpipe does not do yet" in readme
    modules = {module.name for module in pkgutil.iter_modules(pgpipe.__path__)}
    names = {name.lower() for name in dir(pgpipe)} | modules
    # DB-API 2.0, SQLAlchemy and pools are there (README no longer lists them);
    # other transports are not.
    assert "dbapi" in modules and "dbapi_async" in modules and "sqlalchemy" in modules
    not_yet = readme.split("## What pgpipe does not do yet")[1]
    assert "DB-API" not in not_yet
    dialects = importlib.metadata.entry_points(group="sqlalchemy.dialects")
    assert [entry for entry in dialects if "pgpipe" in entry.value]
    assert "pool" in modules and "pool_async" in modules
    assert {"pool", "asyncpool"} <= names
    assert "Connection pools" not in not_yet
    # WebSockets over sockets and Pyodide under Node are there; a browser
    # WebSocket transport is not.
    assert "_websocket" in modules and "_jssocket" in modules
    assert "browser" in not_yet
    assert not [name for name in names if "browser" in name]
    # LISTEN/NOTIFY and COPY are there (README no longer lists them).
    assert "LISTEN" not in not_yet and "COPY" not in not_yet
    for cls in (pgpipe.Connection, pgpipe.AsyncConnection):
        assert {"listen", "unlisten", "notifies", "add_notice_handler", "copy"} <= set(dir(cls))
    conn = adapter.connect(pg_server.dsn(dbname="pgpipe"))
    assert conn.query("SELECT 1").rows == [(1,)]
