"""A latency proxy in its own process, for benchmarks.

``pgpipe.proxy.FlightCounter`` relays in a thread of the process that runs
it. In a benchmark that thread competes for the interpreter lock with the
driver being measured: a pure-Python driver busy encoding holds the lock
while the relay thread waits to forward bytes (up to the interpreter's 5 ms
switch interval per hop), which adds latency that a driver written in C,
releasing the lock, does not see. Here the relay runs in a child process
(``python latency.py HOST PORT DELAY``: prints its port, stops when its
stdin closes), so every driver sees the same relay.
"""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType

from pgpipe.proxy import FlightCounter


class LatencyProxy:
    """``with LatencyProxy(host, port, delay=0.005) as proxy:`` connect to ``proxy.port``."""

    def __init__(self, host: str, port: int, *, delay: float) -> None:
        self._args = [sys.executable, __file__, host, str(port), repr(delay)]
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> LatencyProxy:
        process = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._process = process
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            process.kill()
            process.wait()
            raise RuntimeError(f"the latency proxy did not start: {line!r}")
        self.port = int(line)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str]) -> int:
    host, port, delay = argv[0], int(argv[1]), float(argv[2])
    with FlightCounter(host, port, delay=delay) as proxy:
        print(proxy.port, flush=True)
        sys.stdin.read()  # until the benchmark closes it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
