"""The two adapters are one: sync.py is generated from aio.py (and dbapi.py from
dbapi_async.py), and their public APIs (names, signatures, docstrings) are the
same once async names are mapped."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pgpipe
import pgpipe.aio
import pgpipe.dbapi
import pgpipe.dbapi_async
import pgpipe.sync

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "async_to_sync.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("async_to_sync", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async_to_sync = _tool()

PAIRS = [
    (pgpipe.sync.Connection, pgpipe.aio.AsyncConnection),
    (pgpipe.sync.PreparedStatement, pgpipe.aio.AsyncPreparedStatement),
    (pgpipe.sync.RowStream, pgpipe.aio.AsyncRowStream),
    (pgpipe.sync.ConnectionPipeline, pgpipe.aio.AsyncConnectionPipeline),
    (pgpipe.dbapi.Connection, pgpipe.dbapi_async.AsyncConnection),
    (pgpipe.dbapi.Cursor, pgpipe.dbapi_async.AsyncCursor),
    (pgpipe.dbapi.ServerCursor, pgpipe.dbapi_async.AsyncServerCursor),
    (pgpipe.Pool, pgpipe.AsyncPool),
]


def test_sync_py_is_generated_from_aio_py_and_up_to_date() -> None:
    for source, target, _ in async_to_sync.FILES:
        first = (ROOT / "pgpipe" / target).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(f"# Generated from pgpipe/{source}")
    check = subprocess.run(
        [sys.executable, str(TOOL), "--check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_check_fails_when_a_generated_file_was_edited_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pgpipe").mkdir()
    for source, target, _ in async_to_sync.FILES:
        for name in (source, target):
            text = (ROOT / "pgpipe" / name).read_text(encoding="utf-8")
            (tmp_path / "pgpipe" / name).write_text(text, encoding="utf-8")
    generated = async_to_sync.generate((ROOT / "pgpipe" / "aio.py").read_text(encoding="utf-8"))
    assert "async " not in generated.replace("asyncio", "")
    assert "await " not in generated
    assert "AsyncConnection" not in generated
    monkeypatch.setattr(async_to_sync, "ROOT", tmp_path)
    assert async_to_sync.main(["--check"]) == 0
    for _, target, _ in async_to_sync.FILES:
        path = tmp_path / "pgpipe" / target
        original = path.read_text(encoding="utf-8")
        path.write_text(original.replace('"""', '""" Edited.', 2), encoding="utf-8")
        assert async_to_sync.main(["--check"]) == 1
        path.write_text(original, encoding="utf-8")
        assert async_to_sync.main(["--check"]) == 0


def _public(cls: type) -> dict[str, Any]:
    names = {}
    for name in dir(cls):
        if name.startswith("_") and name not in async_to_sync.NAMES.values() and name not in (
            async_to_sync.NAMES
        ):
            continue
        if name in ("__init_subclass__", "__subclasshook__", "__class_getitem__"):
            continue
        names[async_to_sync.NAMES.get(name, name)] = getattr(cls, name)
    return names


@pytest.mark.parametrize(("blocking", "asynchronous"), PAIRS, ids=lambda c: c.__name__)
def test_both_adapters_have_the_same_public_names(blocking: type, asynchronous: type) -> None:
    assert sorted(_public(blocking)) == sorted(_public(asynchronous))


def _signature(member: Any) -> str:
    if isinstance(member, property):
        return "property"
    return async_to_sync.map_text(str(inspect.signature(member)))


def _doc(member: Any) -> str:
    return async_to_sync.map_text(inspect.getdoc(member) or "")


@pytest.mark.parametrize(("blocking", "asynchronous"), PAIRS, ids=lambda c: c.__name__)
def test_both_adapters_have_the_same_signatures_and_docstrings(
    blocking: type, asynchronous: type
) -> None:
    assert _doc(blocking) == _doc(asynchronous)
    sync_members, async_members = _public(blocking), _public(asynchronous)
    for name, member in sync_members.items():
        other = async_members[name]
        if isinstance(member, type):  # PEP 249's exceptions as connection attributes
            assert member is other, name
            continue
        if not callable(member) and not isinstance(member, property):
            continue
        assert _signature(member) == _signature(other), name
        assert _doc(member) == _doc(other), name
        if isinstance(member, property) or name.startswith("__"):
            continue
        # What talks to the server is awaited in asyncio, called in the blocking adapter.
        assert not inspect.iscoroutinefunction(member), name


def test_connect_and_connect_async_match() -> None:
    assert _signature(pgpipe.connect) == _signature(pgpipe.connect_async)
    assert _doc(pgpipe.connect) == _doc(pgpipe.connect_async)
    assert inspect.iscoroutinefunction(pgpipe.connect_async)
    assert _signature(pgpipe.dbapi.connect) == _signature(pgpipe.dbapi_async.connect)
    assert _doc(pgpipe.dbapi.connect) == _doc(pgpipe.dbapi_async.connect)
    assert inspect.iscoroutinefunction(pgpipe.dbapi_async.connect)


def test_every_server_call_of_the_asyncio_adapter_is_awaitable() -> None:
    conn = _public(pgpipe.aio.AsyncConnection)
    for name in ("query", "query_with_param_types", "execute", "executemany", "prepare"):
        assert inspect.iscoroutinefunction(conn[name]), name
    for name in ("cancel", "register_type", "close"):
        assert inspect.iscoroutinefunction(conn[name]), name
