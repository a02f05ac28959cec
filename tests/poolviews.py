"""Both pools behind one blocking interface, so each pool scenario is written once.

``pgpipe.Pool`` is used as it is. ``pgpipe.AsyncPool`` lives in an event loop
running in a thread of its own (so its worker runs all the time, as in an
application), and ``AsyncPoolView`` submits each call to that loop: calls
from several test threads become concurrent tasks there.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pgpipe

CALL_TIMEOUT = 60.0


class LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Any, timeout: float = CALL_TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class AsyncConnView:
    """An AsyncConnection's calls, blocking."""

    def __init__(self, lt: LoopThread, conn: pgpipe.AsyncConnection[Any]) -> None:
        self._lt = lt
        self.conn = conn

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self._lt.run(self.conn.query(*args, **kwargs))

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._lt.run(self.conn.execute(*args, **kwargs))

    def close(self) -> None:
        self._lt.run(self.conn.close())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


class AsyncPoolView:
    """An AsyncPool's calls, blocking, each run as a task of the loop thread."""

    def __init__(self, lt: LoopThread, *args: Any, **kwargs: Any) -> None:
        self._lt = lt
        self.pool = pgpipe.AsyncPool(*args, **kwargs)

    def open(self, wait: bool = False, timeout: float | None = None) -> None:
        self._lt.run(self.pool.open(wait, timeout))

    def wait(self, timeout: float | None = None) -> None:
        self._lt.run(self.pool.wait(timeout))

    def getconn(self, timeout: float | None = None) -> AsyncConnView:
        return AsyncConnView(self._lt, self._lt.run(self.pool.getconn(timeout)))

    def putconn(self, conn: AsyncConnView) -> None:
        self._lt.run(self.pool.putconn(conn.conn))

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[AsyncConnView]:
        conn = self.getconn(timeout)
        try:
            yield conn
        finally:
            self.putconn(conn)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self._lt.run(self.pool.query(*args, **kwargs))

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._lt.run(self.pool.execute(*args, **kwargs))

    def close(self, timeout: float = 5.0) -> None:
        self._lt.run(self.pool.close(timeout))

    def check_all(self) -> None:
        self._lt.run(self.pool.check_all())

    def __enter__(self) -> AsyncPoolView:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


def hook(kind: str, body: Callable[[Any], None]) -> Any:
    """A pool callback running ``body(conn)`` with blocking calls on a view:
    a plain function for Pool, a coroutine function for AsyncPool (``body``
    then runs in a worker thread, its calls going back to the loop)."""
    if kind == "sync":
        return body

    async def callback(conn: pgpipe.AsyncConnection[Any]) -> None:
        loop = asyncio.get_running_loop()
        view = _LoopCalls(loop, conn)
        await loop.run_in_executor(None, body, view)

    return callback


class _LoopCalls:
    """An AsyncConnection's calls from a thread outside its loop, blocking."""

    def __init__(self, loop: asyncio.AbstractEventLoop, conn: pgpipe.AsyncConnection[Any]) -> None:
        self._loop = loop
        self.conn = conn

    def query(self, *args: Any, **kwargs: Any) -> Any:
        coro = self.conn.query(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        coro = self.conn.execute(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)
