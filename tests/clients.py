"""Run one test body through both adapters.

``Client`` gives the blocking API; for the asyncio adapter it drives each
coroutine to completion on a private event loop, so every scenario is written
once and checked against both ``pgpipe.connect`` and ``pgpipe.connect_async``.
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

    def execute(self, sql: str, **options: Any) -> list[Result]:
        results: list[Result] = self._call(self.conn.execute(sql, **options))
        return results

    @contextlib.contextmanager
    def transaction(self, **options: Any) -> Iterator[Client]:
        """``with conn.transaction()`` or ``async with conn.transaction()``, run here."""
        if self._runner is None:
            with self.conn.transaction(**options):
                yield self
            return
        block = self.conn.transaction(**options)
        self._runner.run(block.__aenter__())
        try:
            yield self
        except BaseException as exc:
            if not self._runner.run(block.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            self._runner.run(block.__aexit__(None, None, None))

    def register_type(self, name: str, **codecs: Any) -> Any:
        return self._call(self.conn.register_type(name, **codecs))

    def close(self) -> None:
        self._call(self.conn.close())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


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
