"""Round trips and wall time to the first rows over a WebSocket, as Neon's proxy is reached.

    python benchmarks/bench_edge.py [--latency 20] [--rounds 3]

A throwaway PostgreSQL, the test suite's WebSocket-to-TCP relay in front of
it (tests/wsrelay.py, with a trustme certificate for wss), and a counting
proxy between pgpipe and the relay that adds ``--latency`` milliseconds each
way. Each row connects, runs ``SELECT 1`` and closes; the proxy counts the
round trips after the TCP handshake: the TLS handshake (wss), the HTTP
upgrade, then PostgreSQL's own. The bar (issue 18): pipelined password
connect = TCP + TLS + upgrade + 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import trustme

import pgpipe
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS, TemporaryPostgres

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tests.wsrelay import WebSocketRelay

MODES: list[tuple[str, str, str | None]] = [
    # (label, auth method, pipeline_connect)
    ("password, pipelined", "password", "password"),
    ("scram, pipelined", "scram", "scram"),
    ("password", "password", None),
    ("scram", "scram", None),
]


def measure(
    relay: WebSocketRelay,
    secure: bool,
    method: str,
    pipeline: str | None,
    latency: float,
    ca_file: str,
    rounds: int,
) -> tuple[int, float]:
    user, password = AUTH_USERS[method]
    trips: list[int] = []
    times: list[float] = []
    for _ in range(rounds):
        with FlightCounter("127.0.0.1", relay.port, delay=latency) as counter:
            scheme, host = ("wss", "localhost") if secure else ("ws", "127.0.0.1")
            extra: dict[str, Any] = {"sslrootcert": ca_file} if secure else {}
            if pipeline is not None and not secure:
                extra["allow_unverified_pipelining"] = True
            start = time.perf_counter()
            conn = pgpipe.connect(
                websocket=f"{scheme}://{host}:{counter.port}/v2",
                user=user,
                password=password,
                dbname="pgpipe",
                pipeline_connect=pipeline,
                **extra,
            )
            with conn:
                conn.query("SELECT 1")
                times.append(time.perf_counter() - start)
                trips.append(counter.round_trips)
    return max(trips), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=20.0, help="ms each way")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    import ssl

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server_context)
    with (
        tempfile.TemporaryDirectory() as tmp,
        TemporaryPostgres() as pg,
        WebSocketRelay(("127.0.0.1", pg.port)) as ws_relay,
        WebSocketRelay(("127.0.0.1", pg.port), tls=server_context) as wss_relay,
    ):
        ca_file = os.path.join(tmp, "ca.pem")
        ca.cert_pem.write_to_path(ca_file)
        print(f"# latency {args.latency:g} ms each way; round trips after TCP's handshake")
        print(f"{'transport':9} {'login':22} {'round trips':>11} {'ms to first rows':>17}")
        for secure, relay in ((False, ws_relay), (True, wss_relay)):
            for label, method, pipeline in MODES:
                trips, seconds = measure(
                    relay, secure, method, pipeline, args.latency / 1000, ca_file, args.rounds
                )
                name = "wss" if secure else "ws"
                print(f"{name:9} {label:22} {trips:>11} {seconds * 1000:>17.1f}")


if __name__ == "__main__":
    main()
