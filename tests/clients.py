"""Run one test body through both adapters.

``Client`` gives the blocking API; for the asyncio adapter it drives each
coroutine to completion on a private event loop, so every scenario is written
once and checked against both ``pgpipe.connect`` and ``pgpipe.connect_async``.
Blocks (``transaction``, ``pipeline``, ``stream``) are plain ``with`` blocks
here, and a stream's rows a plain iterator; ``prepare`` gives a ``Statement``
whose ``query`` and ``close`` block too. Anything else is the connection's
own attribute (``stats``, ``transaction_status``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pgpipe
from pgpipe.result import Result


class Client:
    """A connection made by one adapter, seen through the blocking API."""

    def __init__(self, adapter: str, runner: asyncio.Runner | None, conn: Any) -> None:
        self.adapter = adapter
        self._runner = runner
        self.conn = conn

    def _call(self, value: Any) -> Any:
        if self._runner is None:
            return value
        return self._runner.run(value)

    def query(self, sql: str, *params: object, **options: Any) -> Result:
        result: Result = self._call(self.conn.query(sql, *params, **options))
        return result

    def query_with_param_types(
        self, sql: str, params: Sequence[tuple[object, int]], **options: Any
    ) -> Result:
        result: Result = self._call(self.conn.query_with_param_types(sql, params, **options))
        return result

    def execute(self, sql: str, *params: object, **options: Any) -> list[Result]:
        results: list[Result] = self._call(self.conn.execute(sql, *params, **options))
        return results

    def executemany(self, sql: str, rows: Any, **options: Any) -> Any:
        """``conn.executemany``: its ``Results``."""
        return self._call(self.conn.executemany(sql, rows, **options))

    def prepare(self, sql: str, **options: Any) -> Statement:
        return Statement(self, self._call(self.conn.prepare(sql, **options)))

    @contextlib.contextmanager
    def _inside(self, block: Any) -> Iterator[Any]:
        """``with block as value`` or ``async with block as value``, run here."""
        if self._runner is None:
            with block as value:
                yield value
            return
        value = self._runner.run(block.__aenter__())
        try:
            yield value
        except BaseException as exc:
            if not self._runner.run(block.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            self._runner.run(block.__aexit__(None, None, None))

    @contextlib.contextmanager
    def transaction(self, **options: Any) -> Iterator[Client]:
        """``with conn.transaction()`` or ``async with conn.transaction()``, run here."""
        with self._inside(self.conn.transaction(**options)):
            yield self

    @contextlib.contextmanager
    def pipeline(self, *args: Any, **options: Any) -> Iterator[Any]:
        """The adapter's pipeline block; its ``query`` and friends queue, as in both."""
        with self._inside(self.conn.pipeline(*args, **options)) as pipeline:
            yield pipeline

    def stream(self, sql: str, *params: object, **options: Any) -> Any:
        """``conn.stream(...)``: rows to iterate over, or to use as a ``with`` block."""
        stream = self.conn.stream(sql, *params, **options)
        return stream if self._runner is None else Rows(self._runner, stream)

    def register_type(self, name: str, **codecs: Any) -> Any:
        return self._call(self.conn.register_type(name, **codecs))

    def close(self) -> None:
        self._call(self.conn.close())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


class Rows:
    """An asyncio stream's rows, read one by one on the private loop as they are asked for."""

    def __init__(self, runner: asyncio.Runner, stream: Any) -> None:
        self._runner = runner
        self.stream = stream

    def __iter__(self) -> Rows:
        return self

    def __next__(self) -> Any:
        try:
            return self._runner.run(self.stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def __enter__(self) -> Rows:
        self._runner.run(self.stream.__aenter__())
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._runner.run(self.stream.__aexit__(*exc_info))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class Statement:
    """A prepared statement of either adapter, seen through the blocking API."""

    def __init__(self, client: Client, statement: Any) -> None:
        self._client = client
        self.statement = statement

    def query(self, *params: object, **options: Any) -> Result:
        result: Result = self._client._call(self.statement.query(*params, **options))
        return result

    def close(self) -> None:
        self._client._call(self.statement.close())

    def __enter__(self) -> Statement:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.statement, name)


class Adapter:
    """Opens Clients through one adapter; closes everything it opened."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.runner = asyncio.Runner() if name == "async" else None
        self.opened: list[Client] = []

    def connect(self, dsn: str | None = None, **params: Any) -> Client:
        if self.runner is None:
            conn: Any = pgpipe.connect(dsn, **params)
        else:
            conn = self.runner.run(pgpipe.connect_async(dsn, **params))
        client = Client(self.name, self.runner, conn)
        self.opened.append(client)
        return client

    def close(self) -> None:
        for client in self.opened:
            with contextlib.suppress(pgpipe.Error):
                client.close()
        if self.runner is not None:
            self.runner.close()
