"""An asyncio transport over a JavaScript socket, for Python in WebAssembly (Pyodide).

Pyodide's event loop cannot open sockets (``loop.create_connection`` raises
NotImplementedError), so the asyncio adapter reaches the server through the
JavaScript runtime instead: :func:`create_connection` takes a function of the
shape of Cloudflare Workers' ``connect()`` (``cloudflare:sockets``), which
returns a socket object with ``readable`` (a ReadableStream of Uint8Array),
``writable`` (a WritableStream), ``opened`` (a Promise), ``closed`` (a Promise)
and ``close()``. Under Node it makes such a socket itself from ``node:net``.

:class:`JsSocketTransport` is the ``asyncio.Transport`` over one such socket:
writes go to one writer in order, a task reads and hands the bytes to the
protocol, and the protocol hears ``connection_lost`` exactly once.

The ``js`` and ``pyodide`` modules exist only inside Pyodide: they are imported
when a connection is made, never at import time, and their objects are ``Any``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import os
import socket
import sys
from collections.abc import Callable
from typing import Any, Final

__all__ = ["DEFAULT_HIGH_WATER", "JsSocketTransport", "adopt", "create_connection", "is_js_socket"]

DEFAULT_HIGH_WATER: Final = 64 * 1024
"""Bytes written but not yet taken by the socket above which the protocol is
asked to pause writing (it resumes at a quarter of that)."""

_NO_SOCKETS: Final = "no socket API here: pass a connected transport with connect_async(sock=...)"

# A Cloudflare-shaped connect() over Node's net module, for when none is given.
# Duplex.toWeb gives the web streams; "connect" and "error" settle `opened`.
_NODE_CONNECT: Final = """
(net, Duplex) => (address, options) => {
  const sock = net.createConnection({ host: address.hostname, port: address.port });
  sock.setNoDelay(true);
  const opened = new Promise((resolve, reject) => {
    const failed = (error) => reject(error);
    sock.once("error", failed);
    sock.once("connect", () => {
      sock.off("error", failed);
      resolve({ remoteAddress: sock.remoteAddress, localAddress: sock.localAddress });
    });
  });
  const { readable, writable } = Duplex.toWeb(sock);
  const closed = new Promise((resolve) => sock.once("close", () => resolve(undefined)));
  return {
    readable, writable, opened, closed,
    close() { sock.destroy(); return closed; },
  };
}
"""


def _ignore(value: Any = None) -> None:
    """A promise handler that drops what it is given."""


def _settle_quietly(promise: Any) -> None:
    """Observe a JavaScript promise whose outcome does not matter, so that its
    rejection is not an unhandled one (which ends a Node process)."""
    if promise is None:
        return
    with contextlib.suppress(Exception):
        promise.then(_ignore, _ignore)


def _os_error(error: BaseException | Any, peername: tuple[str, int] | None) -> OSError:
    """An OSError for what a JavaScript socket threw or rejected with.

    Node's errors carry ``code`` (``"ECONNREFUSED"``, ``"ENOTFOUND"``...); the
    error number is this platform's value of that name. Other runtimes'
    errors keep their message.
    """
    if isinstance(error, OSError):
        return error
    host = "?" if peername is None else peername[0]
    where = "" if peername is None else f" ({peername[0]}:{peername[1]})"
    js_error = getattr(error, "js_error", error)
    code = _js_attribute(js_error, "code")
    message = _js_attribute(js_error, "message") or str(error or "") or "socket error"
    if isinstance(code, str):
        if code in ("ENOTFOUND", "EAI_NONAME", "EAI_AGAIN", "EAI_FAIL"):
            number = getattr(socket, code if code.startswith("EAI_") else "EAI_NONAME", 0)
            if code == "EAI_AGAIN":
                reason = "Temporary failure in name resolution"
            else:
                reason = "Name or service not known"
            return socket.gaierror(number, f"{reason} ({host})")
        number = getattr(errno, code, None)
        if isinstance(number, int):
            return OSError(number, f"{os.strerror(number)}{where}")
    if "refused" in str(message).lower():
        return OSError(errno.ECONNREFUSED, f"{os.strerror(errno.ECONNREFUSED)}{where}")
    return OSError(errno.EIO, str(message))


def _js_attribute(obj: Any, name: str) -> Any:
    """``obj[name]`` of a JavaScript object, or None."""
    try:
        value = getattr(obj, name, None)
    except Exception:
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class JsSocketTransport(asyncio.Transport):
    """An ``asyncio.Transport`` over a Cloudflare-shaped JavaScript socket.

    The socket must be open (its ``opened`` promise resolved). Reading starts
    at once: a task awaits ``reader.read()`` and gives each chunk to
    ``protocol.data_received``; the end of the stream, or an error, ends in
    ``protocol.connection_lost`` (once, with the error or None).
    """

    def __init__(
        self,
        sock: Any,
        protocol: asyncio.BaseProtocol,
        peername: tuple[str, int] | None,
        *,
        high_water: int = DEFAULT_HIGH_WATER,
    ) -> None:
        super().__init__({"peername": peername, "socket": None})
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._protocol = protocol
        self._writer: Any = sock.writable.getWriter()
        self._reader: Any = sock.readable.getReader()
        self._high_water = high_water
        self._low_water = high_water // 4
        self._unacknowledged = 0
        self._writing_paused = False
        self._closing = False
        self._lost = False
        self._write_error: OSError | None = None
        self._reading = asyncio.Event()
        self._reading.set()
        self._read_task: asyncio.Task[None] | None = None
        self._peername = peername

    def _start(self) -> None:
        """Tell the protocol it is connected, then start reading."""
        self._protocol.connection_made(self)
        if not self._lost:
            self._read_task = self._loop.create_task(self._read_loop())

    # -- reading -------------------------------------------------------------

    async def _read_loop(self) -> None:
        reader = self._reader
        try:
            while True:
                result = await reader.read()
                if not self._reading.is_set():
                    # Paused while the read was pending: the chunk waits with it.
                    await self._reading.wait()
                if self._lost or self._closing:
                    return
                if result.done:
                    break
                data = result.value.to_bytes()
                if data:
                    self._protocol_call("data_received", data)
        except asyncio.CancelledError:
            return
        except Exception as exc:
            if not (self._lost or self._closing):
                self._lose(_os_error(exc, self._peername))
            return
        # The peer ended the stream.
        keep_open = False
        eof_received = getattr(self._protocol, "eof_received", None)
        if eof_received is not None:
            try:
                keep_open = bool(eof_received())
            except Exception as exc:
                self._report("eof_received() raised", exc)
        if not keep_open or self._write_error is not None:
            self._teardown()
            self._lose(None)

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_reading(self) -> bool:
        return self._reading.is_set() and not (self._closing or self._lost)

    # -- writing -------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data: expecting a bytes-like instance, got {type(data).__name__}")
        if self._closing or self._lost:
            return  # as asyncio's own transports: writes after close go nowhere
        view = memoryview(data).cast("B")
        size = len(view)
        if not size:
            return
        js: Any = importlib.import_module("js")
        chunk = js.Uint8Array.new(size)
        chunk.assign(view)
        try:
            promise = self._writer.write(chunk)
        except Exception as exc:
            self._fail(_os_error(exc, self._peername))
            return
        self._unacknowledged += size
        promise.then(
            lambda _value: self._acknowledged(size, False, None),
            lambda error: self._acknowledged(size, True, error),
        )
        if not self._writing_paused and self._unacknowledged > self._high_water:
            self._writing_paused = True
            self._protocol_call("pause_writing")

    def _acknowledged(self, size: int, failed: bool, error: Any) -> None:
        """A write's promise settled (called from JavaScript: back to the loop).
        Never raises: that would be an unhandled rejection."""
        try:
            failure = _os_error(error, self._peername) if failed else None
            self._loop.call_soon(self._written, size, failure)
        except Exception:
            self._unacknowledged -= size

    def _written(self, size: int, error: OSError | None) -> None:
        self._unacknowledged -= size
        if error is not None:
            self._fail(error)
        elif self._writing_paused and self._unacknowledged <= self._low_water:
            self._writing_paused = False
            self._protocol_call("resume_writing")

    def get_write_buffer_size(self) -> int:
        return self._unacknowledged

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low_water, self._high_water

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        high = DEFAULT_HIGH_WATER if high is None else high
        low = high // 4 if low is None else low
        if not 0 <= low <= high:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high_water, self._low_water = high, low

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a JavaScript socket closes both ways at once")

    # -- ending --------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        """Send what was written, then close; ``connection_lost(None)`` follows."""
        if self._closing or self._lost:
            return
        self._closing = True
        self._reading.set()  # a paused read loop wakes, sees the close and ends
        self._loop.create_task(self._close_after_flush())

    async def _close_after_flush(self) -> None:
        with contextlib.suppress(Exception):
            await self._writer.close()  # resolves once every queued write went out
        self._teardown()
        self._lose(None)

    def abort(self) -> None:
        """Close at once, dropping what was not sent; ``connection_lost(None)`` follows."""
        if self._lost:
            return
        self._closing = True
        self._reading.set()
        self._teardown(abort_writes=True)
        self._loop.call_soon(self._lose, None)

    def _fail(self, exc: OSError) -> None:
        """A write failed: nothing more can be sent, the connection is lost."""
        if self._lost:
            return
        self._write_error = exc
        self._closing = True
        self._reading.set()
        self._teardown(abort_writes=True)
        self._lose(exc)

    def _teardown(self, *, abort_writes: bool = False) -> None:
        """Let go of the writer, the reader and the socket, raising nothing and
        leaving no rejection unobserved. A pending read ends (cancelled: done),
        and with it the read loop, which sees the transport closing."""
        sock, reader, writer = self._sock, self._reader, self._writer
        if abort_writes:
            with contextlib.suppress(Exception):
                _settle_quietly(writer.abort())
        with contextlib.suppress(Exception):
            _settle_quietly(reader.cancel())
        with contextlib.suppress(Exception):
            _settle_quietly(sock.close())

    def _lose(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        if self._writing_paused:
            self._writing_paused = False
        try:
            self._protocol.connection_lost(exc)
        except Exception as error:
            self._report("connection_lost() raised", error)

    # -- the rest of the Transport API ---------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._peername
        if name == "socket":
            return None
        return super().get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def _protocol_call(self, name: str, *args: object) -> None:
        method: Callable[..., object] = getattr(self._protocol, name)
        try:
            method(*args)
        except Exception as exc:
            self._report(f"protocol.{name}() raised", exc)

    def _report(self, message: str, exc: BaseException) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
        )

    def __repr__(self) -> str:
        state = "closed" if self._lost else "closing" if self._closing else "open"
        where = "" if self._peername is None else f" {self._peername[0]}:{self._peername[1]}"
        return f"<JsSocketTransport{where} {state}>"


def _node_connect() -> Any:
    """A Cloudflare-shaped ``connect`` over Node's net module, or None outside Node."""
    try:
        js: Any = importlib.import_module("js")
    except ImportError:
        return None
    process = getattr(js, "process", None)
    get_builtin = getattr(process, "getBuiltinModule", None) if process is not None else None
    if get_builtin is None:
        return None
    global _node_connect_function
    if _node_connect_function is None:
        run_js: Any = importlib.import_module("pyodide.code").run_js
        net = get_builtin("node:net")
        duplex = get_builtin("node:stream").Duplex
        _node_connect_function = run_js(_NODE_CONNECT)(net, duplex)
    return _node_connect_function


_node_connect_function: Any = None


def is_js_socket(obj: object) -> bool:
    """Whether ``obj`` is a JavaScript socket of Cloudflare's shape (a JsProxy
    with ``readable`` and ``writable``): only ever inside Pyodide."""
    if sys.platform != "emscripten":
        return False
    try:
        js_proxy: Any = importlib.import_module("pyodide.ffi").JsProxy
    except (ImportError, AttributeError):
        return False
    if not isinstance(obj, js_proxy):
        return False
    try:
        return obj.readable is not None and obj.writable is not None
    except AttributeError:
        return False


async def _wait_opened(sock: Any, peername: tuple[str, int] | None) -> Any:
    """Await the socket's ``opened`` promise (if it has one): its SocketInfo, or
    OSError; the socket is closed when opening fails or is cancelled."""
    opened = getattr(sock, "opened", None)
    if opened is None:
        return None
    try:
        return await opened
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            _settle_quietly(sock.close())
        raise
    except Exception as exc:
        with contextlib.suppress(Exception):
            _settle_quietly(sock.close())
        raise _os_error(exc, peername) from None


def _peername_of(info: Any) -> tuple[str, int] | None:
    """(host, port) from a SocketInfo's ``remoteAddress`` when it says both
    ("203.0.113.5:5432", "[2001:db8::1]:5432"), else None."""
    address = getattr(info, "remoteAddress", None) if info is not None else None
    if not isinstance(address, str):
        return None
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or not host:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None  # a bare IPv6 address: no port in it
    return host, int(port)


async def adopt(
    sock: Any,
    protocol: asyncio.BaseProtocol,
    *,
    peername: tuple[str, int] | None = None,
    high_water: int = DEFAULT_HIGH_WATER,
) -> JsSocketTransport:
    """The transport over a JavaScript socket the caller made (a Worker's
    ``connect()`` from ``cloudflare:sockets``), once it is open; ``protocol``
    gets ``connection_made``. ``peername`` is where it goes (what a CancelRequest
    needs), else what the socket's ``opened`` info says, else unknown (None).

    :raises OSError: when the socket fails to open.
    """
    info = await _wait_opened(sock, peername)
    transport = JsSocketTransport(
        sock, protocol, peername or _peername_of(info), high_water=high_water
    )
    transport._start()
    return transport


async def create_connection(
    protocol_factory: Callable[[], asyncio.Protocol],
    host: str,
    port: int,
    *,
    connect: Any = None,
    high_water: int = DEFAULT_HIGH_WATER,
) -> tuple[JsSocketTransport, asyncio.Protocol]:
    """Like ``loop.create_connection(protocol_factory, host, port)``, through a
    JavaScript socket: ``connect`` is a function of the shape of Cloudflare
    Workers' ``connect`` (``cloudflare:sockets``); Node's net module when None.

    :raises OSError: when the connection fails (ECONNREFUSED and the like), or
        (EAFNOSUPPORT) when there is no ``connect`` and no Node to make one.
    """
    if connect is None:
        connect = _node_connect()
        if connect is None:
            raise OSError(errno.EAFNOSUPPORT, _NO_SOCKETS)
    to_js: Any = importlib.import_module("pyodide.ffi").to_js
    js: Any = importlib.import_module("js")
    address = to_js({"hostname": host, "port": port}, dict_converter=js.Object.fromEntries)
    try:
        sock = connect(address)
    except Exception as exc:
        raise _os_error(exc, (host, port)) from None
    await _wait_opened(sock, (host, port))
    protocol = protocol_factory()
    try:
        transport = JsSocketTransport(sock, protocol, (host, port), high_water=high_water)
    except BaseException:
        with contextlib.suppress(Exception):
            _settle_quietly(sock.close())
        raise
    transport._start()
    return transport, protocol
