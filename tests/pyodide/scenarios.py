"""pgpipe inside Pyodide (CPython in WebAssembly): scenarios run by tests/pyodide/runner.mjs.

Not a pytest module: the runner executes this file in Pyodide, where the
global ``PGPIPE_PYODIDE_CONFIG`` holds the JSON settings (host, port, dbname,
superuser, users per authentication method), then awaits ``main()``. Each
scenario runs on its own (one failing does not stop the others) and prints
``PASS name`` or ``FAIL name: reason``; measured figures print as
``FIGURE name value``. ``main()`` returns a JSON summary for the runner.

The blocking adapter's sockets are Emscripten's, carried by Node through
NodeSockFS (blocking calls suspend WebAssembly with JSPI); the asyncio
adapter's go through ``pgpipe._jssocket`` over Node's net module.
"""

from __future__ import annotations

# Before anything imports pgpipe: WebAssembly builds of Python have no
# hashlib.pbkdf2_hmac, and pgpipe installs its own for SCRAM.
import hashlib

HAD_PBKDF2 = hasattr(hashlib, "pbkdf2_hmac")

import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
import importlib  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from decimal import Decimal  # noqa: E402
from typing import Any  # noqa: E402

CONFIG: dict[str, Any] = json.loads(globals()["PGPIPE_PYODIDE_CONFIG"])

# Round trips after the TCP handshake to the first query's rows, as
# tests/test_pipeline_connect.py counts them on CPython: (pipeline_connect, method).
EXPECTED_ROUND_TRIPS: dict[tuple[str | None, str], int] = {
    (None, "trust"): 2,
    (None, "password"): 3,
    (None, "md5"): 3,
    (None, "scram"): 4,
    ("auto", "trust"): 2,
    ("auto", "password"): 2,
    ("auto", "md5"): 2,
    ("auto", "scram"): 3,
    ("trust", "trust"): 1,
    ("password", "password"): 1,
    ("scram", "scram"): 2,
}

# (SQL type, value sent, value expected back): a parameter cast to the type,
# returned as is.
TYPE_ROUND_TRIPS: list[tuple[str, object, object]] = [
    ("int", 42, 42),
    ("int", -(2**31), -(2**31)),
    ("bigint", 2**63 - 1, 2**63 - 1),
    ("float8", 0.1, 0.1),
    ("float8", -1.5e300, -1.5e300),
    (
        "numeric",
        Decimal("12345678901234567890.000000001"),
        Decimal("12345678901234567890.000000001"),
    ),
    ("numeric", Decimal("-0.5"), Decimal("-0.5")),
    ("text", "héllo ☃ 日本語 😀", "héllo ☃ 日本語 😀"),
    ("bytea", bytes(range(256)), bytes(range(256))),
    ("bool", True, True),
    ("bool", False, False),
    ("date", dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
    (
        "timestamp",
        dt.datetime(2024, 2, 29, 12, 34, 56, 789),
        dt.datetime(2024, 2, 29, 12, 34, 56, 789),
    ),
    (
        "timestamptz",
        dt.datetime(2024, 3, 31, 1, 30, 0, 5, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 31, 1, 30, 0, 5, tzinfo=dt.UTC),
    ),
    (
        "uuid",
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
    ),
    ("int[]", [1, None, 3], [1, None, 3]),
    ("text[]", ["a", "é", "", None], ["a", "é", "", None]),
    ("int[]", [[1, 2], [3, 4]], [[1, 2], [3, 4]]),
    ("int", None, None),
    ("text", None, None),
]

# What the server computes, decoded: (SQL expression, value expected).
SERVER_VALUES: list[tuple[str, object]] = [
    ('\'{"a": [1, 2.5, null, "é"]}\'::json', {"a": [1, 2.5, None, "é"]}),
    ('\'{"b": 1, "a": true}\'::jsonb', {"a": True, "b": 1}),
    ("ARRAY[1.5, NULL]::float8[]", [1.5, None]),
    ("'2000-01-01 00:00:00+00'::timestamptz", dt.datetime(2000, 1, 1, tzinfo=dt.UTC)),
    ("NULL::int", None),
    ("9223372036854775807::bigint", 2**63 - 1),
    ("'NaN'::numeric", None),  # compared by is_nan below
]

results: list[tuple[str, bool]] = []


def report(name: str, error: BaseException | None) -> None:
    if error is None:
        print(f"PASS {name}")
    else:
        reason = f"{type(error).__name__}: {error}".replace("\n", " | ")
        print(f"FAIL {name}: {reason[:500]}")
        for line in traceback.format_exception(error)[-12:]:
            for part in line.rstrip().splitlines():
                print(f"  | {part}", file=sys.stderr)
    results.append((name, error is None))


def figure(name: str, value: float) -> None:
    print(f"FIGURE {name} {value:.1f}")


def scenario(name: str, body: Callable[[], object]) -> None:
    try:
        body()
    except BaseException as exc:
        report(name, exc)
    else:
        report(name, None)


async def scenario_async(
    name: str, body: Callable[[], Awaitable[object]], timeout: float = 30
) -> None:
    try:
        async with asyncio.timeout(timeout):
            await body()
    except BaseException as exc:
        report(name, exc)
    else:
        report(name, None)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def login(method: str | None = None, **extra: Any) -> dict[str, Any]:
    """Connection keywords for the role of ``method`` (the superuser when None)."""
    if method is None:
        user, password = CONFIG["superuser"], None
    else:
        user, password = CONFIG["users"][method]
    params = {
        "host": CONFIG["host"],
        "port": CONFIG["port"],
        "user": user,
        "dbname": CONFIG["dbname"],
        "sslmode": "disable",
        "connect_timeout": 10,
    }
    if password is not None:
        params["password"] = password
    params.update(extra)
    return params


def same(got: object, expected: object) -> bool:
    """Equal, and of the same types all the way down (1 is not True, nor 1.0)."""
    if type(got) is not type(expected):
        return False
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(map(same, got, expected))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in expected)
    return got == expected


# -- the installed wheel --------------------------------------------------------


def import_installed_wheel() -> None:
    import pgpipe

    check(sys.platform == "emscripten", f"sys.platform is {sys.platform!r}")
    site = sysconfig.get_path("purelib")
    location = pgpipe.__file__ or ""
    check(
        os.path.samefile(os.path.dirname(os.path.dirname(location)), site),
        f"pgpipe imported from {location}, not from the wheel in {site}",
    )
    installed = importlib.metadata.version("pgpipe")
    check(installed == pgpipe.__version__, f"metadata {installed} != {pgpipe.__version__}")
    files = importlib.metadata.files("pgpipe") or []
    check(any(str(f).endswith("_jssocket.py") for f in files), "the wheel lacks _jssocket.py")


def pbkdf2_fallback() -> None:
    import pgpipe.protocol.auth  # noqa: F401  (installs the fallback)
    from pgpipe.protocol import pbkdf2

    check(not HAD_PBKDF2, "hashlib.pbkdf2_hmac existed before pgpipe: nothing to test here")
    check(hashlib.pbkdf2_hmac is pbkdf2.pbkdf2_hmac, "hashlib.pbkdf2_hmac is not pgpipe's")
    # RFC 7914 section 11's PBKDF2-HMAC-SHA256 vector.
    got = hashlib.pbkdf2_hmac("sha256", b"passwd", b"salt", 1, 64).hex()
    want = (
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
    )
    check(got == want, f"RFC 7914 vector: {got}")
    hashlib.pbkdf2_hmac("sha256", b"pw", b"salt" * 4, 4096)  # warm up
    runs = 5
    started = time.perf_counter()
    for _ in range(runs):
        hashlib.pbkdf2_hmac("sha256", b"pw", b"salt" * 4, 4096)
    figure("pbkdf2_ms_per_connect", (time.perf_counter() - started) / runs * 1000)


# -- the blocking adapter -------------------------------------------------------


def blocking_auth(method: str) -> Callable[[], None]:
    def body() -> None:
        import pgpipe

        user = CONFIG["users"][method][0]
        started = time.perf_counter()
        with pgpipe.connect(**login(method)) as conn:
            elapsed = (time.perf_counter() - started) * 1000
            rows = conn.query("SELECT current_user, $1::int + 1", 41).rows
            check(rows == [(user, 42)], f"rows {rows}")
            check(conn.auth_method == method, f"auth_method {conn.auth_method!r}")
        figure(f"connect_ms_{method}", elapsed)

    return body


def blocking_wrong_password() -> None:
    import pgpipe
    from pgpipe import errors

    for method in ("password", "md5", "scram"):
        try:
            pgpipe.connect(**login(method, password="not-the-password"))
        except errors.InvalidPassword:
            continue
        raise AssertionError(f"{method}: a wrong password connected")


def blocking_pipeline_connect(mode: str | None, method: str) -> Callable[[], None]:
    def body() -> None:
        import pgpipe

        user = CONFIG["users"][method][0]
        params = login(method, pipeline_connect=mode, allow_unverified_pipelining=True)
        with pgpipe.connect(**params) as conn:
            rows = conn.query("SELECT current_user, $1::int + 1", 41).rows
            check(rows == [(user, 42)], f"rows {rows}")
            expected = EXPECTED_ROUND_TRIPS[(mode, method)]
            got = conn.stats.round_trips
            check(got == expected, f"{got} round trips to the first result, not {expected}")
            check(conn.auth_method == method, f"auth_method {conn.auth_method!r}")
            check(conn.query("SELECT 2").rows == [(2,)], "the second query")
            check(conn.stats.round_trips == expected + 1, "a later query is one round trip")

    return body


def blocking_pipeline() -> None:
    import pgpipe
    from pgpipe import errors

    with pgpipe.connect(**login()) as conn:
        before = conn.stats.round_trips
        with conn.pipeline() as p:
            handles = [p.query("SELECT $1::int, repeat('x', 50)", i) for i in range(20)]
            script = p.execute("SELECT 1; SELECT 2")
            many = p.query("SELECT g FROM generate_series(1, 3000) g")
        check([h.result().rows[0][0] for h in handles] == list(range(20)), "results in order")
        check([r.rows for r in script.result()] == [[(1,)], [(2,)]], "the script's results")
        check(len(many.result().rows) == 3000, "3000 rows")
        check(conn.stats.round_trips == before + 1, "a pipeline is one round trip")
        with conn.pipeline("atomic") as p:
            first = p.query("SELECT 1")
            failing = p.query("SELECT 1/0")
            after = p.query("SELECT 3")
        check(first.result().rows == [(1,)], "before the failure")
        for handle, kind in ((failing, errors.DivisionByZero), (after, errors.PipelineAborted)):
            try:
                handle.result()
            except kind:
                pass
            else:
                raise AssertionError(f"no {kind.__name__}")
        check(conn.query("SELECT 4").rows == [(4,)], "usable after the atomic pipeline")


def check_types(rows_for: Callable[[str, object], list[tuple[Any, ...]]]) -> None:
    failures = []
    for sql_type, value, expected in TYPE_ROUND_TRIPS:
        try:
            rows = rows_for(f"SELECT $1::{sql_type}", value)
            got = rows[0][0]
            if not same(got, expected):
                failures.append(f"{sql_type} {value!r} came back as {got!r}")
        except Exception as exc:
            failures.append(f"{sql_type} {value!r}: {type(exc).__name__}: {exc}")
    for expression, expected in SERVER_VALUES:
        try:
            got = rows_for(f"SELECT {expression}", None)[0][0]
            if expression.startswith("'NaN'"):
                ok = isinstance(got, Decimal) and got.is_nan()
            else:
                ok = same(got, expected)
            if not ok:
                failures.append(f"{expression} came back as {got!r}")
        except Exception as exc:
            failures.append(f"{expression}: {type(exc).__name__}: {exc}")
    check(not failures, "; ".join(failures))


def blocking_types() -> None:
    import pgpipe

    with pgpipe.connect(**login()) as conn:

        def rows_for(sql: str, value: object) -> list[tuple[Any, ...]]:
            if "$1" in sql:
                return conn.query(sql, value).rows
            return conn.query(sql).rows

        check_types(rows_for)


def blocking_error_recovery() -> None:
    import pgpipe
    from pgpipe import errors

    with pgpipe.connect(**login()) as conn:
        try:
            conn.query("SELECT 1/0")
        except errors.DivisionByZero as exc:
            check(exc.sqlstate == "22012", f"sqlstate {exc.sqlstate}")
        else:
            raise AssertionError("no DivisionByZero")
        check(conn.query("SELECT 'still here'").rows == [("still here",)], "usable after the error")
        try:
            with conn.transaction():
                conn.query("SELECT 1")
                conn.query("SELECT no_such_column FROM pg_class")
        except errors.UndefinedColumn:
            pass
        else:
            raise AssertionError("no UndefinedColumn")
        check(conn.transaction_status == "I", f"transaction status {conn.transaction_status!r}")
        check(conn.query("SELECT 5").rows == [(5,)], "usable after the rolled back transaction")


def blocking_connection_refused() -> None:
    import pgpipe
    from pgpipe import errors

    try:
        pgpipe.connect(**login(port=CONFIG["closed_port"]))
    except errors.OperationalError as exc:
        check("refused" in str(exc).lower(), f"message: {exc}")
    else:
        raise AssertionError("connected to a closed port")


# -- the asyncio adapter ----------------------------------------------------------


async def async_queries() -> None:
    import pgpipe
    from pgpipe import _jssocket, errors

    # Count the transports pgpipe's asyncio adapter opens through pgpipe._jssocket.
    opened: list[asyncio.BaseTransport] = []
    original = _jssocket.create_connection

    async def counting(*args: Any, **kwargs: Any) -> Any:
        transport, protocol = await original(*args, **kwargs)
        opened.append(transport)
        return transport, protocol

    _jssocket.create_connection = counting
    try:
        conn = await pgpipe.connect_async(**login("scram"))
    finally:
        _jssocket.create_connection = original
    check(len(opened) == 1, f"{len(opened)} transports through pgpipe._jssocket")
    transport = opened[0]
    check(isinstance(transport, _jssocket.JsSocketTransport), f"transport {transport!r}")
    try:
        check(conn.auth_method == "scram", f"auth_method {conn.auth_method!r}")
        for i in range(5):
            rows = (await conn.query("SELECT $1::int * 2, current_user", i)).rows
            check(rows == [(i * 2, CONFIG["users"]["scram"][0])], f"rows {rows}")
        try:
            await conn.query("SELECT 1/0")
        except errors.DivisionByZero:
            pass
        else:
            raise AssertionError("no DivisionByZero")
        check((await conn.query("SELECT 6")).rows == [(6,)], "usable after the error")
        async with conn.pipeline() as p:
            handles = [p.query("SELECT $1::text", str(i)) for i in range(10)]
        check([h.result().rows[0][0] for h in handles] == [str(i) for i in range(10)], "pipeline")
        check(not transport.is_closing(), "the transport is closing")
    finally:
        await conn.close()
    check(transport.is_closing(), "the transport is open after close()")


async def async_types() -> None:
    import pgpipe

    conn = await pgpipe.connect_async(**login())
    try:
        cache: dict[str, list[tuple[Any, ...]]] = {}
        pending: list[tuple[str, object]] = [
            (f"SELECT $1::{t}", v) for t, v, _ in TYPE_ROUND_TRIPS
        ] + [(f"SELECT {e}", None) for e, _ in SERVER_VALUES]
        for sql, value in pending:
            key = f"{sql}\0{value!r}"
            if "$1" in sql:
                cache[key] = (await conn.query(sql, value)).rows
            else:
                cache[key] = (await conn.query(sql)).rows
        check_types(lambda sql, value: cache[f"{sql}\0{value!r}"])
    finally:
        await conn.close()


async def async_gather() -> None:
    import pgpipe

    first, second = await asyncio.gather(
        pgpipe.connect_async(**login("md5")), pgpipe.connect_async(**login("password"))
    )
    try:
        started = time.perf_counter()
        a, b = await asyncio.gather(
            first.query("SELECT pg_sleep(0.4), current_user"),
            second.query("SELECT pg_sleep(0.4), current_user"),
        )
        elapsed = time.perf_counter() - started
        check(a.rows[0][1] == CONFIG["users"]["md5"][0], f"first: {a.rows}")
        check(b.rows[0][1] == CONFIG["users"]["password"][0], f"second: {b.rows}")
        check(elapsed < 0.75, f"two 0.4 s sleeps took {elapsed:.2f} s: not concurrent")
        pids = await asyncio.gather(*(c.query("SELECT pg_backend_pid()") for c in (first, second)))
        check(pids[0].rows != pids[1].rows, "two server sessions")
    finally:
        await asyncio.gather(first.close(), second.close())


async def async_pipeline_connect() -> None:
    import pgpipe

    cases = ((None, "scram"), ("auto", "scram"), ("trust", "trust"), ("password", "password"))
    for mode, method in cases:
        params = login(method, pipeline_connect=mode, allow_unverified_pipelining=True)
        conn = await pgpipe.connect_async(**params)
        try:
            rows = (await conn.query("SELECT current_user")).rows
            check(rows == [(CONFIG["users"][method][0],)], f"{mode}/{method}: rows {rows}")
            expected = EXPECTED_ROUND_TRIPS[(mode, method)]
            got = conn.stats.round_trips
            check(got == expected, f"{mode}/{method}: {got} round trips, not {expected}")
        finally:
            await conn.close()


async def async_large_values() -> None:
    """Megabytes each way: the transport's write buffer fills past its high-water mark."""
    import pgpipe

    conn = await pgpipe.connect_async(**login())
    try:
        payload = bytes(range(256)) * 4096 * 4  # 4 MiB
        rows = (await conn.query("SELECT $1::bytea, length($1::bytea)", payload)).rows
        check(rows[0][1] == len(payload), f"length {rows[0][1]}")
        check(rows[0][0] == payload, "the bytes came back changed")
        async with conn.pipeline() as p:
            handles = [p.query("SELECT length($1::text)", "é" * 100_000) for _ in range(20)]
        check([h.result().rows for h in handles] == [[(100_000,)]] * 20, "pipelined large texts")
    finally:
        await conn.close()


async def async_server_ends_session() -> None:
    import pgpipe
    from pgpipe import errors

    victim = await pgpipe.connect_async(**login())
    killer = await pgpipe.connect_async(**login())
    try:
        (pid,) = (await victim.query("SELECT pg_backend_pid()")).rows[0]
        await killer.query("SELECT pg_terminate_backend($1)", pid)
        await asyncio.sleep(0.2)
        try:
            await victim.query("SELECT 1")
        except errors.OperationalError:
            pass
        else:
            raise AssertionError("a query on a terminated session succeeded")
        check(victim.closed, "the connection is not closed")
        check((await killer.query("SELECT 7")).rows == [(7,)], "the other connection")
    finally:
        await victim.close()
        await killer.close()


async def async_connection_refused() -> None:
    import pgpipe
    from pgpipe import errors

    try:
        await pgpipe.connect_async(**login(port=CONFIG["closed_port"]))
    except errors.OperationalError as exc:
        check("refused" in str(exc).lower(), f"message: {exc}")
    else:
        raise AssertionError("connected to a closed port")


async def async_many_connections() -> None:
    """Open and close connections in a row: nothing is left behind (sockets, tasks)."""
    import pgpipe

    for _ in range(10):
        conn = await pgpipe.connect_async(**login("trust"))
        check((await conn.query("SELECT 1")).rows == [(1,)], "query")
        await conn.close()
    conns = await asyncio.gather(*(pgpipe.connect_async(**login("trust")) for _ in range(8)))
    rows = await asyncio.gather(*(c.query("SELECT pg_backend_pid()") for c in conns))
    check(len({r.rows[0][0] for r in rows}) == 8, "eight sessions")
    await asyncio.gather(*(c.close() for c in conns))


# -- timeouts: the CancelRequest goes on a second connection -------------------------


def blocking_query_timeout_cancels() -> None:
    import pgpipe
    from pgpipe import errors

    with pgpipe.connect(**login(), cancel_timeout=5) as conn:
        started = time.perf_counter()
        try:
            conn.query("SELECT pg_sleep(30)", timeout=0.3)
        except errors.QueryTimeout as exc:
            check(exc.closed is False, "the error closed the connection")
        else:
            raise AssertionError("no QueryTimeout")
        elapsed = time.perf_counter() - started
        check(elapsed < 5, f"the timeout took {elapsed:.1f} s")
        check(not conn.closed, f"closed: {conn.closed_reason}")
        check(conn.query("SELECT 8").rows == [(8,)], "usable after the cancel")


async def async_query_timeout_cancels() -> None:
    import pgpipe
    from pgpipe import errors

    conn = await pgpipe.connect_async(**login(), cancel_timeout=5)
    try:
        started = time.perf_counter()
        try:
            await conn.query("SELECT pg_sleep(30)", timeout=0.3)
        except errors.QueryTimeout as exc:
            check(exc.closed is False, f"the error closed the connection: {exc}")
        else:
            raise AssertionError("no QueryTimeout")
        elapsed = time.perf_counter() - started
        check(elapsed < 5, f"the timeout took {elapsed:.1f} s")
        check(not conn.closed, f"closed: {conn.closed_reason}")
        check((await conn.query("SELECT 8")).rows == [(8,)], "usable after the cancel")
    finally:
        await conn.close()


# -- pgpipe._jssocket's transport, driven directly -------------------------------------

# A Cloudflare-shaped connect() written by hand over net.Socket's events (no
# Duplex.toWeb): the shape create_connection(connect=...) takes from any runtime.
HAND_MADE_CONNECT = """
(net) => (address) => {
  const sock = net.createConnection({ host: address.hostname, port: address.port });
  const readable = new ReadableStream({
    start(controller) {
      sock.on("data", (chunk) => controller.enqueue(new Uint8Array(chunk)));
      sock.on("end", () => { try { controller.close(); } catch {} });
      sock.on("error", (error) => { try { controller.error(error); } catch {} });
    },
    cancel() { sock.destroy(); },
  });
  const writable = new WritableStream({
    write(chunk) {
      return new Promise((resolve, reject) =>
        sock.write(chunk, (error) => (error ? reject(error) : resolve())));
    },
    close() { return new Promise((resolve) => sock.end(resolve)); },
    abort() { sock.destroy(); },
  });
  const opened = new Promise((resolve, reject) => {
    sock.once("connect", () => resolve({ remoteAddress: sock.remoteAddress }));
    sock.once("error", reject);
  });
  const closed = new Promise((resolve) => sock.once("close", () => resolve()));
  return { readable, writable, opened, closed, close() { sock.destroy(); return closed; } };
}
"""


def startup_message(user: str, dbname: str, version: int = 196608) -> bytes:
    body = struct.pack("!i", version) + b"user\0%s\0database\0%s\0\0" % (
        user.encode(),
        dbname.encode(),
    )
    return struct.pack("!i", len(body) + 4) + body


def query_message(sql: str) -> bytes:
    body = sql.encode() + b"\0"
    return b"Q" + struct.pack("!i", len(body) + 4) + body


TERMINATE = b"X\0\0\0\4"


class RawProtocol(asyncio.Protocol):
    """Records what the transport does to it."""

    def __init__(self) -> None:
        self.transport: asyncio.BaseTransport | None = None
        self.data = bytearray()
        self.eof = 0
        self.paused = 0
        self.resumed = 0
        self.lost_calls: list[BaseException | None] = []
        self.changed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.changed.set()

    def eof_received(self) -> None:
        self.eof += 1
        self.changed.set()

    def pause_writing(self) -> None:
        self.paused += 1

    def resume_writing(self) -> None:
        self.resumed += 1

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost_calls.append(exc)
        self.changed.set()

    def messages(self) -> list[tuple[bytes, bytes]]:
        out, data, at = [], bytes(self.data), 0
        while at + 5 <= len(data):
            (size,) = struct.unpack_from("!i", data, at + 1)
            if at + 1 + size > len(data):
                break
            out.append((data[at : at + 1], data[at + 5 : at + 1 + size]))
            at += 1 + size
        return out

    def count(self, kind: bytes) -> int:
        return sum(1 for k, _ in self.messages() if k == kind)

    async def until(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


async def open_raw(connect: Any = None) -> tuple[Any, RawProtocol]:
    from pgpipe import _jssocket

    transport, protocol = await _jssocket.create_connection(
        RawProtocol, CONFIG["host"], CONFIG["port"], connect=connect
    )
    assert isinstance(protocol, RawProtocol)
    return transport, protocol


async def exercise_transport(connect: Any) -> None:
    """Flow control, pausing reads, close and abort on one kind of JavaScript socket."""
    transport, protocol = await open_raw(connect)
    check(protocol.transport is transport, "connection_made")
    check(transport.get_extra_info("peername") == (CONFIG["host"], CONFIG["port"]), "peername")
    check(transport.get_extra_info("socket") is None, "socket")
    check(transport.get_protocol() is protocol, "get_protocol")
    check(transport.is_reading() and not transport.is_closing(), "a fresh transport")
    # A startup message, then a 2 MB query: past the high-water mark, then drained.
    transport.write(startup_message(CONFIG["users"]["trust"][0], CONFIG["dbname"]))
    size = 2_000_000
    transport.writelines([query_message(f"SELECT length('{'x' * size}')")])
    check(transport.get_write_buffer_size() > 64 * 1024, "the write is not counted as buffered")
    check(protocol.paused == 1, f"pause_writing called {protocol.paused} times")
    await protocol.until(lambda: protocol.count(b"Z") == 2)
    rows = [body for kind, body in protocol.messages() if kind == b"D"]
    check(bool(rows) and rows[0].endswith(str(size).encode()), f"the DataRow: {rows[:1]}")
    await asyncio.sleep(0)
    check(protocol.resumed == 1, f"resume_writing called {protocol.resumed} times")
    check(transport.get_write_buffer_size() == 0, f"{transport.get_write_buffer_size()} buffered")
    # Paused reading: the answer waits until reading resumes.
    transport.pause_reading()
    check(not transport.is_reading(), "is_reading while paused")
    transport.write(query_message("SELECT 1"))
    await asyncio.sleep(0.3)
    check(protocol.count(b"Z") == 2, "data arrived while reading was paused")
    transport.resume_reading()
    await protocol.until(lambda: protocol.count(b"Z") == 3)
    # close(): what was written goes first; connection_lost(None) once.
    transport.write(TERMINATE)
    transport.close()
    check(transport.is_closing(), "is_closing after close()")
    transport.write(b"ignored")  # after close: dropped, no error
    await protocol.until(lambda: bool(protocol.lost_calls))
    await asyncio.sleep(0.1)
    check(protocol.lost_calls == [None], f"connection_lost calls: {protocol.lost_calls}")
    # abort(): at once, connection_lost(None) once.
    transport, protocol = await open_raw(connect)
    transport.write(startup_message(CONFIG["users"]["trust"][0], CONFIG["dbname"]))
    transport.abort()
    transport.abort()
    transport.close()
    await protocol.until(lambda: bool(protocol.lost_calls))
    await asyncio.sleep(0.1)
    check(protocol.lost_calls == [None], f"after abort: {protocol.lost_calls}")
    # The server ends the connection (a startup it refuses): eof, then connection_lost(None).
    transport, protocol = await open_raw(connect)
    transport.write(startup_message("nobody", CONFIG["dbname"], version=0))
    await protocol.until(lambda: bool(protocol.lost_calls))
    await asyncio.sleep(0.1)
    check(protocol.count(b"E") == 1, "the server's error")
    check(protocol.eof == 1, f"eof_received called {protocol.eof} times")
    check(protocol.lost_calls == [None], f"after the server closed: {protocol.lost_calls}")
    check(transport.is_closing(), "is_closing after the server closed")


async def jssocket_transport_node() -> None:
    await exercise_transport(None)


async def jssocket_transport_hand_made_connect() -> None:
    js: Any = importlib.import_module("js")
    run_js: Any = importlib.import_module("pyodide.code").run_js

    net = js.process.getBuiltinModule("node:net")
    await exercise_transport(run_js(HAND_MADE_CONNECT)(net))


async def jssocket_errors() -> None:
    import errno

    from pgpipe import _jssocket

    try:
        await _jssocket.create_connection(RawProtocol, CONFIG["host"], CONFIG["closed_port"])
    except ConnectionRefusedError as exc:
        check(exc.errno == errno.ECONNREFUSED, f"errno {exc.errno}")
        check("refused" in (exc.strerror or "").lower(), f"strerror {exc.strerror!r}")
    else:
        raise AssertionError("connected to a closed port")
    # Node's errors by code (no DNS lookup here: it may hang where there is no network).
    import socket

    run_js: Any = importlib.import_module("pyodide.code").run_js
    make = run_js("(code) => Object.assign(new Error(`failed: ${code}`), { code })")
    peer = (CONFIG["host"], 1)
    not_found = _jssocket._os_error(make("ENOTFOUND"), peer)
    check(isinstance(not_found, socket.gaierror), f"ENOTFOUND: {not_found!r}")
    reset = _jssocket._os_error(make("ECONNRESET"), peer)
    check(isinstance(reset, ConnectionResetError), f"ECONNRESET: {reset!r}")
    check(reset.errno == errno.ECONNRESET, f"ECONNRESET errno {reset.errno}")
    other = _jssocket._os_error(make("ESOMETHING"), peer)
    check(type(other) is OSError and "ESOMETHING" in str(other), f"ESOMETHING: {other!r}")
    original = _jssocket._node_connect
    _jssocket._node_connect = lambda: None  # as in a browser: no Node
    try:
        await _jssocket.create_connection(RawProtocol, CONFIG["host"], CONFIG["port"])
    except OSError as exc:
        check(exc.errno == errno.EAFNOSUPPORT, f"errno {exc.errno}")
    else:
        raise AssertionError("connected without a socket API")
    finally:
        _jssocket._node_connect = original


# -- connections the caller opened: sock= ------------------------------------------------


def blocking_sock_given() -> None:
    import socket

    import pgpipe

    params = {k: v for k, v in login("scram").items() if k not in ("host", "port")}
    sock = socket.create_connection((CONFIG["host"], CONFIG["port"]), timeout=10)
    with pgpipe.connect(sock=sock, **params) as conn:
        check(conn.query("SELECT $1::int + 1", 41).rows == [(42,)], "the query")


async def async_sock_js_transport() -> None:
    """What a Cloudflare Worker would do: open the transport with its own
    connect(), hand it to pgpipe; a timeout's cancel goes to the same peer."""
    import pgpipe
    from pgpipe import _jssocket, errors

    js: Any = importlib.import_module("js")
    run_js: Any = importlib.import_module("pyodide.code").run_js
    connect = run_js(HAND_MADE_CONNECT)(js.process.getBuiltinModule("node:net"))
    transport, _ = await _jssocket.create_connection(
        asyncio.Protocol, CONFIG["host"], CONFIG["port"], connect=connect
    )
    params = {k: v for k, v in login("scram").items() if k not in ("host", "port")}
    conn = await pgpipe.connect_async(sock=transport, **params, cancel_timeout=5)
    try:
        user = CONFIG["users"]["scram"][0]
        check((await conn.query("SELECT current_user")).rows == [(user,)], "query")
        try:
            await conn.query("SELECT pg_sleep(30)", timeout=0.3)
        except errors.QueryTimeout:
            pass
        else:
            raise AssertionError("no QueryTimeout")
        check((await conn.query("SELECT 9")).rows == [(9,)], "usable after the cancel")
    finally:
        await conn.close()
    check(transport.is_closing(), "the transport is open after close()")


async def async_sock_js_socket() -> None:
    """docs/edge.md's Cloudflare recipe: connect_async(sock=<the JavaScript socket
    connect() returned>), here with a socket of that shape made over Node's net."""
    import pgpipe
    from pgpipe import _jssocket

    js: Any = importlib.import_module("js")
    ffi: Any = importlib.import_module("pyodide.ffi")
    run_js: Any = importlib.import_module("pyodide.code").run_js
    connect = run_js(HAND_MADE_CONNECT)(js.process.getBuiltinModule("node:net"))
    address = {"hostname": CONFIG["host"], "port": CONFIG["port"]}
    sock = connect(ffi.to_js(address, dict_converter=js.Object.fromEntries))
    check(_jssocket.is_js_socket(sock), "is_js_socket() says no")
    params = {k: v for k, v in login("scram").items() if k not in ("host", "port")}
    try:
        conn = await pgpipe.connect_async(sock=sock, **params)
    except BaseException:
        sock.close()
        raise
    try:
        user = CONFIG["users"]["scram"][0]
        check((await conn.query("SELECT current_user")).rows == [(user,)], "query")
    finally:
        await conn.close()


# -- the run ----------------------------------------------------------------------


async def main() -> str:
    scenario("import_installed_wheel", import_installed_wheel)
    scenario("pbkdf2_fallback", pbkdf2_fallback)
    for method in CONFIG["users"]:
        scenario(f"blocking_auth_{method}", blocking_auth(method))
    scenario("blocking_wrong_password", blocking_wrong_password)
    for mode, method in EXPECTED_ROUND_TRIPS:
        scenario(
            f"blocking_pipeline_connect_{mode or 'off'}_{method}",
            blocking_pipeline_connect(mode, method),
        )
    scenario("blocking_pipeline", blocking_pipeline)
    scenario("blocking_types", blocking_types)
    scenario("blocking_error_recovery", blocking_error_recovery)
    scenario("blocking_connection_refused", blocking_connection_refused)
    await scenario_async("async_queries", async_queries)
    await scenario_async("async_types", async_types)
    await scenario_async("async_gather", async_gather)
    await scenario_async("async_pipeline_connect", async_pipeline_connect)
    await scenario_async("async_large_values", async_large_values)
    await scenario_async("async_server_ends_session", async_server_ends_session)
    await scenario_async("async_connection_refused", async_connection_refused)
    await scenario_async("async_many_connections", async_many_connections)
    scenario("blocking_query_timeout_cancels", blocking_query_timeout_cancels)
    await scenario_async("async_query_timeout_cancels", async_query_timeout_cancels)
    await scenario_async("jssocket_transport_node", jssocket_transport_node)
    await scenario_async(
        "jssocket_transport_hand_made_connect", jssocket_transport_hand_made_connect
    )
    await scenario_async("jssocket_errors", jssocket_errors)
    scenario("blocking_sock_given", blocking_sock_given)
    await scenario_async("async_sock_js_transport", async_sock_js_transport)
    await scenario_async("async_sock_js_socket", async_sock_js_socket)
    failed = [name for name, ok in results if not ok]
    return json.dumps({"passed": len(results) - len(failed), "failed": failed})
