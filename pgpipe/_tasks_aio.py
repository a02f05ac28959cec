"""What the asyncio pool waits with: a waiter, a wakeup and a background task.

``pgpipe.pool_async`` is written once against these names; ``pgpipe.pool``,
generated from it, uses ``pgpipe._tasks_sync``, with the same names on
threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

_C = TypeVar("_C")

Hook: TypeAlias = Callable[[_C], Awaitable[None]]
"""A pool's callback on a connection (configure, reset, check): a coroutine function."""


class Waiter:
    """One request in a pool's queue: handed a connection, or an error, once."""

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def deliver(self, value: Any) -> None:
        """Hand over ``value`` (a connection or an exception); under the pool's lock."""
        if not self._future.done():
            self._future.set_result(value)

    def delivered(self) -> bool:
        return self._future.done()

    def value(self) -> Any:
        return self._future.result()

    async def wait(self, timeout: float | None) -> bool:
        """Whether something was delivered within ``timeout`` seconds."""
        if not self._future.done():
            await asyncio.wait([self._future], timeout=timeout)
        return self._future.done()


class Wakeup:
    """Wakes the pool's worker; ``set`` may be called from any thread (a garbage
    collector's callback, say)."""

    __slots__ = ("_event", "_loop", "_thread")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._event = asyncio.Event()

    def set(self) -> None:
        if threading.get_ident() == self._thread:
            self._event.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float | None) -> None:
        """Until ``set`` or ``timeout`` seconds, whichever comes first; then cleared."""
        if not self._event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


class Worker:
    """A coroutine function run in the background, as a task of the running loop."""

    __slots__ = ("_task",)

    def __init__(self, run: Callable[[], Awaitable[None]], name: str) -> None:
        async def main() -> None:
            await run()

        self._task = asyncio.get_running_loop().create_task(main(), name=name)

    async def join(self, timeout: float | None) -> bool:
        """Whether it ended within ``timeout`` seconds."""
        if not self._task.done():
            await asyncio.wait([self._task], timeout=timeout)
        return self._task.done()


def current_loop() -> object:
    """The running event loop, which the pool remembers (another loop is refused)."""
    return asyncio.get_running_loop()
