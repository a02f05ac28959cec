"""Certificates for TLS tests, and a TLS-terminating stand-in for a server.

``Pki`` makes a CA with trustme and writes the PEM files a client needs.
``TlsTerminator`` accepts connections on 127.0.0.1, answers SSLRequest (or,
in direct mode, expects the ClientHello first, as PostgreSQL 17 does), does
the TLS handshake with the certificate it is given and records what the
client sent (SNI, ALPN, first bytes); then it relays the plaintext to a
real PostgreSQL, or closes. Every socket has a timeout, so nothing hangs;
``close`` shuts down every socket still open (a client the test left
connected included), so its threads end at once instead of waiting that
timeout out.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import select
import socket
import ssl
import threading
from pathlib import Path

import trustme

from pgpipe.testing import TLS_USERS, ServerCertificate
from pgpipe.tls import SSL_REQUEST

_TIMEOUT = 10.0


class Pki:
    """A CA and certificates, written under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("localhost", "127.0.0.1")
        self.ca_file = self._write("ca.pem", self.ca.cert_pem.bytes())
        other = trustme.CA()
        self.other_ca_file = self._write("other-ca.pem", other.cert_pem.bytes())
        client = self.ca.issue_cert("client.example", common_name=TLS_USERS["cert"])
        self.client_cert = self._write("client.crt", client.cert_chain_pems[0].bytes())
        self.client_key = self._write("client.key", client.private_key_pem.bytes())
        now = datetime.datetime.now(datetime.UTC)
        self.expired = self.ca.issue_cert(
            "localhost",
            "127.0.0.1",
            not_before=now - datetime.timedelta(days=30),
            not_after=now - datetime.timedelta(days=1),
        )

    def _write(self, name: str, data: bytes, mode: int = 0o600) -> str:
        path = self.directory / name
        path.write_bytes(data)
        os.chmod(path, mode)
        return str(path)

    def write(self, name: str, data: bytes, mode: int = 0o600) -> str:
        return self._write(name, data, mode)

    def server_certificate(self) -> ServerCertificate:
        chain = b"".join(pem.bytes() for pem in self.server.cert_chain_pems)
        return ServerCertificate(
            chain, self.server.private_key_pem.bytes(), self.ca.cert_pem.bytes()
        )

    def server_context(self, leaf: trustme.LeafCert | None = None) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        (leaf or self.server).configure_cert(context)
        return context


class TlsTerminator:
    """Listens on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        backend: tuple[str, int] | None = None,
        direct: bool = False,
        alpn: bool = True,
        answer: bytes = b"S",
    ) -> None:
        self.context = context
        self.backend = backend
        self.direct = direct
        self.answer = answer
        self.server_names: list[str | None] = []
        self.alpn: list[str | None] = []
        self.first_bytes: list[bytes] = []
        self.errors: list[BaseException] = []
        if alpn:
            context.set_alpn_protocols(["postgresql"])
        context.sni_callback = self._sni
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _sni(self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: object) -> None:
        self.server_names.append(name)

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _track(self, sock: socket.socket) -> None:
        """Remember ``sock`` so that ``close`` can end whatever waits on it."""
        with self._lock:
            self._open.add(sock)
            stopping = self._stop
        if stopping:
            _shut(sock)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(_TIMEOUT)
        self._track(conn)
        try:
            first = conn.recv(8, socket.MSG_PEEK)
            self.first_bytes.append(first)
            if not self.direct:
                if conn.recv(8) != SSL_REQUEST:
                    conn.close()
                    return
                conn.sendall(self.answer)
                if self.answer != b"S":
                    conn.close()
                    return
            tls = self.context.wrap_socket(conn, server_side=True)
            self._track(tls)
            self.alpn.append(tls.selected_alpn_protocol())
            if self.backend is None:
                tls.close()
                return
            self._relay(tls)
        except (OSError, ssl.SSLError) as exc:
            self.errors.append(exc)
            conn.close()

    def _relay(self, tls: ssl.SSLSocket) -> None:
        # One thread moves both ways: an SSL socket must not be read and written
        # from two threads at once (OpenSSL's SSL objects are not thread-safe).
        assert self.backend is not None
        with socket.create_connection(self.backend, timeout=_TIMEOUT) as plain:
            self._track(plain)
            tls.settimeout(0)
            plain.settimeout(_TIMEOUT)
            with contextlib.suppress(OSError):
                while True:
                    if not tls.pending():
                        readable, _, _ = select.select([tls, plain], [], [], _TIMEOUT)
                        if not readable:
                            break
                    else:
                        readable = [tls]
                    if tls in readable:
                        try:
                            data = tls.recv(65536)
                        except ssl.SSLWantReadError:
                            data = None
                        if data == b"":
                            break
                        if data:
                            plain.sendall(data)
                    if plain in readable:
                        data = plain.recv(65536)
                        if not data:
                            break
                        _send_all(tls, data)
            _shut(tls)
            _shut(plain)
        tls.close()

    def close(self) -> None:
        with self._lock:
            self._stop = True
            still_open = list(self._open)
        # Shutting a socket down wakes the thread blocked on it (accept or recv)
        # with an end of file or an error, so every join below returns at once.
        _shut(self._listener)
        self._listener.close()
        for sock in still_open:
            _shut(sock)
        self._acceptor.join(_TIMEOUT)
        for thread in self._threads:
            thread.join(_TIMEOUT)

    def __enter__(self) -> TlsTerminator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shut(sock: socket.socket) -> None:
    """Shut both directions of ``sock`` down; a socket already closed is left alone.

    ``socket.socket.shutdown`` even for a TLS socket: it acts on the descriptor
    only, leaving the TLS object to the thread that is reading through it.
    """
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _send_all(tls: ssl.SSLSocket, data: bytes) -> None:
    """``sendall`` on a non-blocking SSL socket: wait while it cannot write."""
    view = memoryview(data)
    while view:
        try:
            sent = tls.send(view)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            select.select([], [tls], [], _TIMEOUT)
            continue
        view = view[sent:]
