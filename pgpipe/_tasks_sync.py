"""What the blocking pool waits with: a waiter, a wakeup and a background thread.

``pgpipe.pool`` is generated from ``pgpipe.pool_async``, which uses
``pgpipe._tasks_aio``; this module has the same names on threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

_C = TypeVar("_C")

Hook: TypeAlias = Callable[[_C], None]
"""A pool's callback on a connection (configure, reset, check)."""


class Waiter:
    """One request in a pool's queue: handed a connection, or an error, once."""

    __slots__ = ("_event", "_value")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._value: Any = None

    def deliver(self, value: Any) -> None:
        """Hand over ``value`` (a connection or an exception); under the pool's lock."""
        if not self._event.is_set():
            self._value = value
            self._event.set()

    def delivered(self) -> bool:
        return self._event.is_set()

    def value(self) -> Any:
        return self._value

    def wait(self, timeout: float | None) -> bool:
        """Whether something was delivered within ``timeout`` seconds."""
        return self._event.wait(timeout)


class Wakeup:
    """Wakes the pool's worker; ``set`` may be called from any thread."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float | None) -> None:
        """Until ``set`` or ``timeout`` seconds, whichever comes first; then cleared."""
        self._event.wait(timeout)
        self._event.clear()


class Worker:
    """A function run in the background, on a daemon thread."""

    __slots__ = ("_thread",)

    def __init__(self, run: Callable[[], None], name: str) -> None:
        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def join(self, timeout: float | None) -> bool:
        """Whether it ended within ``timeout`` seconds."""
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()


def current_loop() -> object:
    """No event loop: any thread may use a blocking pool."""
    return None
