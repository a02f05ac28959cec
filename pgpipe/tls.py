"""TLS for PostgreSQL connections: the SSLContext libpq's settings describe, and a
sans-IO TLS channel both adapters drive.

A ``TlsChannel`` wraps an ``ssl.SSLObject`` over memory buffers, so the
adapters decide when bytes move: after the handshake the client's Finished
message stays queued and leaves in the same write as the StartupMessage (and
whatever pipelined connect sends with it), which costs no round trip.

Two ways in, as libpq 17 names them (``sslnegotiation``):

- ``postgres``: SSLRequest, the server answers one byte ("S" or "N"), then
  the TLS handshake. Bytes after the "S" before the handshake are refused
  (CVE-2021-23222: a man in the middle injecting plaintext).
- ``direct``: the TLS ClientHello first, with ALPN ``postgresql``
  (PostgreSQL 17+), one round trip less. The server must select the ALPN.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import stat
import struct
from collections.abc import Mapping
from typing import Final, Protocol

from pgpipe.conninfo import ConnectParams, Host, verifies_peer
from pgpipe.errors import InterfaceError, OperationalError, ProtocolError
from pgpipe.passfile import home_directory

SSL_REQUEST: Final = struct.pack("!ii", 8, (1234 << 16) | 5679)
ALPN: Final = "postgresql"

_VERSIONS: Final = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_READ_SIZE: Final = 1 << 17


class Link(Protocol):
    """What carries the session's bytes once connected: TLS over memory buffers
    (``TlsChannel``), TLS the socket does itself (``SocketTls``) or WebSocket
    messages (``pgpipe._websocket.WebSocketLink``)."""

    @property
    def verified(self) -> bool:
        """Whether the handshake proved the server is the host named."""

    def encrypt(self, data: bytes) -> bytes:
        """Bytes for the socket: ``data`` wrapped, after anything already owed."""

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        """Bytes from the socket (b"" at EOF): what they carry, and whether it ended."""

    @property
    def version(self) -> str | None:
        """The TLS version in use, None without TLS."""

    def channel_binding(self) -> bytes | None:
        """tls-server-end-point data for SCRAM-SHA-256-PLUS, None where there is none."""


# -- the context -----------------------------------------------------------------


def _user_file(environ: Mapping[str, str], name: str) -> str:
    """libpq's per-user TLS file: ~/.postgresql/NAME, or %APPDATA%\\postgresql\\NAME on
    Windows; a path that does not exist where there is no per-user folder."""
    home = home_directory(environ)
    if home is None:
        return os.path.join("~", ".postgresql", name)
    return os.path.join(home, name) if os.name == "nt" else os.path.join(home, ".postgresql", name)


def _check_key_permissions(path: str) -> None:
    """libpq's rule: a private key readable by others is refused (root may allow its group)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InterfaceError(
            f"could not open private key file {path!r}: {exc.strerror or exc}"
        ) from None
    allowed = stat.S_IRWXG | stat.S_IRWXO if info.st_uid != 0 else stat.S_IWGRP | stat.S_IRWXO
    if info.st_mode & allowed:
        raise InterfaceError(
            f"private key file {path!r} has group or world access; file must have "
            "permissions u=rw (0600) or less if owned by the current user, or "
            "permissions u=rw,g=r (0640) or less if owned by root"
        )


def make_context(params: ConnectParams, environ: Mapping[str, str]) -> ssl.SSLContext:
    """The SSLContext for these parameters: ``params.ssl`` as given, else libpq's rules.

    Certificates are checked when ``sslmode`` is verify-ca or verify-full, and
    also (as libpq does) in the other modes when a root certificate file exists.
    verify-full also checks the host name.
    """
    if params.ssl is not None:
        if params.sslnegotiation == "direct":
            params.ssl.set_alpn_protocols([ALPN])
        return params.ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = _VERSIONS[params.ssl_min_protocol_version]
    if params.ssl_max_protocol_version:
        context.maximum_version = _VERSIONS[params.ssl_max_protocol_version]
    context.set_alpn_protocols([ALPN])
    # PostgreSQL's ssl_ecdh_curve defaults to prime256v1 only: a client offering an
    # X25519 key share would get a HelloRetryRequest, a whole round trip more.
    context.set_ecdh_curve("prime256v1")
    verify = params.sslmode in ("verify-ca", "verify-full")
    root = params.sslrootcert
    if root == "system":
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_default_certs()
    else:
        path = root or _user_file(environ, "root.crt")
        if os.path.exists(path):
            try:
                context.load_verify_locations(cafile=path)
            except (OSError, ssl.SSLError) as exc:
                raise InterfaceError(
                    f"could not read root certificate file {path!r}: {exc}"
                ) from None
            context.verify_mode = ssl.CERT_REQUIRED
        elif verify or root:
            raise InterfaceError(
                f"root certificate file {path!r} does not exist; either provide the file, "
                "use the system's trusted roots with sslrootcert=system, or change sslmode "
                "to disable server certificate verification"
            )
    if params.sslcrl or params.sslcrldir:
        try:
            context.load_verify_locations(cafile=params.sslcrl, capath=params.sslcrldir)
        except (OSError, ssl.SSLError) as exc:
            raise InterfaceError(f"could not read the certificate revocation list: {exc}") from None
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    if params.sslmode == "verify-full" or root == "system":
        context.check_hostname = True
    if params.sslcertmode != "disable":
        _load_client_certificate(context, params, environ)
    return context


def _load_client_certificate(
    context: ssl.SSLContext, params: ConnectParams, environ: Mapping[str, str]
) -> None:
    cert = params.sslcert or _user_file(environ, "postgresql.crt")
    if not os.path.exists(cert):
        if params.sslcert:
            raise InterfaceError(f"certificate file {cert!r} does not exist")
        return
    key = params.sslkey or _user_file(environ, "postgresql.key")
    _check_key_permissions(key)
    password = params.sslpassword

    def key_password() -> str:
        if password is None:
            raise InterfaceError(f"private key file {key!r} is encrypted; give sslpassword")
        return password

    try:
        context.load_cert_chain(cert, key, key_password)
    except ssl.SSLError as exc:
        raise InterfaceError(
            f"could not load client certificate {cert!r} and key {key!r}: "
            f"{exc.reason or 'bad key, certificate or sslpassword'}"
        ) from None
    except OSError as exc:
        raise InterfaceError(f"could not read client certificate: {exc.strerror or exc}") from None


# -- the SSLRequest answer ---------------------------------------------------------


def accepts_tls(answer: bytes, required: bool, where: str) -> bool:
    """Read the server's answer to SSLRequest: True for "S", False for "N" when allowed."""
    if not answer:
        raise OperationalError(f"the server at {where} closed the connection after SSLRequest")
    code = answer[:1]
    if code == b"S":
        if len(answer) > 1:
            raise ProtocolError(
                "received unencrypted data after the server accepted SSL "
                "(possible man-in-the-middle attack)"
            )
        return True
    if code == b"N":
        if len(answer) > 1:
            raise ProtocolError("received unexpected data after the server refused SSL")
        if required:
            raise OperationalError(
                f"the server at {where} does not support SSL, but SSL was required"
            )
        return False
    if code == b"E":
        raise OperationalError(f"the server at {where} refused SSLRequest with an error")
    raise ProtocolError(f"invalid answer {code!r} to SSLRequest")


# -- the channel ---------------------------------------------------------------------


class TlsChannel:
    """One TLS connection over memory buffers: bytes in and out are the caller's to move."""

    __slots__ = ("_incoming", "_object", "_outgoing", "_version", "direct", "verified")

    def __init__(
        self, context: ssl.SSLContext, server_hostname: str | None, direct: bool = False
    ) -> None:
        """``server_hostname`` is sent as SNI and checked against the certificate when
        the context checks host names; ``direct`` requires ALPN ``postgresql``."""
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._object = context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=server_hostname
        )
        self.direct = direct
        self.verified = verifies_peer(context)
        self._version: str | None = None

    @classmethod
    def for_server(cls, context: ssl.SSLContext, params: ConnectParams, host: Host) -> TlsChannel:
        """The channel to a PostgreSQL server, as libpq's settings say (sslsni,
        sslnegotiation)."""
        name: str | None = host.name
        if not params.sslsni and not context.check_hostname:
            name = None
        return cls(context, name, params.sslnegotiation == "direct")

    def __repr__(self) -> str:
        return f"<TlsChannel {self.version or 'handshaking'}>"

    def handshake(self, data: bytes | None = None) -> bool:
        """Feed the server's handshake bytes; True once the handshake is complete.

        Raises OperationalError naming what failed (host name mismatch, unknown
        CA, expired certificate, no ALPN on a direct connection).
        """
        if data is not None:
            if not data:
                raise OperationalError("the server closed the connection during the TLS handshake")
            self._incoming.write(data)
        try:
            self._object.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLCertVerificationError as exc:
            raise OperationalError(describe_verification_error(exc)) from None
        except ssl.SSLError as exc:
            raise OperationalError(f"TLS handshake failed: {exc.reason or exc}") from None
        if self.direct and self._object.selected_alpn_protocol() != ALPN:
            raise OperationalError(
                "the server did not select ALPN protocol 'postgresql': direct SSL "
                "negotiation needs PostgreSQL 17 or later"
            )
        # Kept: OpenSSL forgets it once the peer's end arrives without close_notify.
        self._version = self._object.version()
        return True

    def data_to_send(self) -> bytes:
        """TLS records waiting to go to the server (handshake messages included)."""
        return self._outgoing.read()

    def encrypt(self, data: bytes) -> bytes:
        """``data`` as TLS records, after anything already waiting."""
        if data:
            try:
                self._object.write(data)
            except ssl.SSLError as exc:
                raise OperationalError(f"TLS error: {exc.reason or exc}") from None
        return self._outgoing.read()

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        """Feed TLS records (b"" at EOF); return the plaintext so far and whether it ended."""
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()
        return self.decrypted()

    def decrypted(self) -> tuple[bytes, bool]:
        """The plaintext received and not yet read (records that came with the
        handshake's last ones, say), and whether the stream ended."""
        chunks: list[bytes] = []
        ended = False
        while True:
            try:
                chunk = self._object.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                ended = True
                break
            except ssl.SSLError as exc:
                raise OperationalError(f"TLS error: {exc.reason or exc}") from None
            if not chunk:
                ended = True
                break
            chunks.append(chunk)
        return b"".join(chunks), ended

    @property
    def version(self) -> str | None:
        """The protocol version the handshake agreed on ("TLSv1.3")."""
        return self._version

    def channel_binding(self) -> bytes | None:
        """tls-server-end-point data (RFC 5929): the hash of the server's certificate."""
        der = self._object.getpeercert(binary_form=True)
        return None if der is None else certificate_hash(der)


class Negotiation:
    """SSLRequest (unless direct) and the TLS handshake, sans-IO.

    The caller sends ``data_to_send()`` and feeds what comes back to
    ``receive_data`` until ``done``; then ``channel`` is the TLS channel, or
    None when the server answered "N" and plaintext is allowed. The client's
    Finished message stays in the channel, to leave with the startup.
    """

    __slots__ = ("_context", "_params", "_request", "channel", "done")

    def __init__(self, context: ssl.SSLContext, params: ConnectParams) -> None:
        self._context = context
        self._params = params
        self.channel: TlsChannel | None = None
        self.done = False
        self._request = b""
        if params.sslnegotiation == "direct":
            self._start()
        else:
            self._request = SSL_REQUEST

    def _start(self) -> None:
        self.channel = TlsChannel.for_server(self._context, self._params, self._params.hosts[0])
        self.done = self.channel.handshake()

    @property
    def handshaking(self) -> bool:
        return self.channel is not None

    def data_to_send(self) -> bytes:
        if self.channel is None:
            data, self._request = self._request, b""
            return data
        return b"" if self.done else self.channel.data_to_send()

    def receive_data(self, data: bytes) -> None:
        if self.channel is not None:
            self.done = self.channel.handshake(data)
            return
        params = self._params
        if accepts_tls(data, params.sslmode != "prefer", params.address()):
            self._start()
        else:
            self.done = True


def describe_verification_error(exc: ssl.SSLCertVerificationError) -> str:
    """A message saying which check the server certificate failed."""
    code = exc.verify_code
    detail = exc.verify_message or str(exc)
    if code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        what = "host name mismatch"
    elif code in (2, 18, 19, 20, 21):  # issuer unknown, self-signed, untrusted chain
        what = (
            "unknown CA (the server certificate is not signed by a trusted root; check sslrootcert)"
        )
    elif code == 10:
        what = "the server certificate has expired"
    elif code == 9:
        what = "the server certificate is not yet valid"
    elif code == 23:
        what = "the server certificate is revoked"
    else:
        what = "the server certificate failed verification"
    return f"TLS certificate verification failed: {what}: {detail}"


# -- tls-server-end-point ---------------------------------------------------------------


def _der(data: bytes, pos: int) -> tuple[int, int, int]:
    """One DER element at ``pos``: (tag, content start, content end)."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _oid(content: bytes) -> str:
    parts = [content[0] // 40, content[0] % 40]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


# Certificate signature algorithms and the hash each uses.
_SIGNATURE_HASHES: Final = {
    "1.2.840.113549.1.1.4": "md5",
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
    "1.2.840.10040.4.3": "sha1",
    "2.16.840.1.101.3.4.3.1": "sha224",
    "2.16.840.1.101.3.4.3.2": "sha256",
}


def certificate_hash(der: bytes) -> bytes | None:
    """The certificate hashed with its signature's hash (MD5 and SHA-1 become SHA-256).

    None when the signature algorithm names no single hash (Ed25519, RSA-PSS):
    PostgreSQL cannot bind to such a certificate either.
    """
    try:
        _, start, _ = _der(der, 0)  # Certificate
        _, _, tbs_end = _der(der, start)  # tbsCertificate
        _, alg_start, _ = _der(der, tbs_end)  # signatureAlgorithm
        tag, oid_start, oid_end = _der(der, alg_start)
        if tag != 0x06:
            return None
        name = _SIGNATURE_HASHES.get(_oid(der[oid_start:oid_end]))
    except (IndexError, ValueError):
        return None
    if name is None:
        return None
    if name in ("md5", "sha1"):
        name = "sha256"
    return hashlib.new(name, der).digest()


class SocketTls:
    """TLS the connection already does itself (a caller's ``ssl.SSLSocket`` or TLS
    transport): bytes pass through unchanged; what the handshake proved is read
    from its ``ssl`` object."""

    __slots__ = ("_object", "direct", "verified")

    def __init__(self, tls_object: ssl.SSLObject | ssl.SSLSocket) -> None:
        self._object = tls_object
        self.direct = False
        self.verified = verifies_peer(tls_object.context)

    def __repr__(self) -> str:
        return f"<SocketTls {self.version}>"

    def encrypt(self, data: bytes) -> bytes:
        return data

    def decrypt(self, data: bytes) -> tuple[bytes, bool]:
        return data, not data

    @property
    def version(self) -> str | None:
        return self._object.version()

    def channel_binding(self) -> bytes | None:
        der = self._object.getpeercert(binary_form=True)
        return None if der is None else certificate_hash(der)


def https_context(params: ConnectParams, environ: Mapping[str, str]) -> ssl.SSLContext:
    """The context for a wss:// WebSocket: ``params.ssl`` as given, else what any HTTPS
    client does (the system's roots, or ``sslrootcert``; the host name checked),
    with the client certificate libpq's settings name."""
    if params.ssl is not None:
        return params.ssl
    root = params.sslrootcert
    try:
        context = ssl.create_default_context(cafile=root if root and root != "system" else None)
    except (OSError, ssl.SSLError) as exc:
        raise InterfaceError(f"could not read root certificate file {root!r}: {exc}") from None
    context.minimum_version = _VERSIONS[params.ssl_min_protocol_version]
    context.set_alpn_protocols(["http/1.1"])
    if params.sslcert or params.sslkey:
        _load_client_certificate(context, params, environ)
    return context
