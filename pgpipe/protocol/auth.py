"""Authentication: the client's answers to the server's Authentication requests.

Supports trust (AuthenticationOk straight away), cleartext password, MD5,
SCRAM-SHA-256 and, over TLS, SCRAM-SHA-256-PLUS with tls-server-end-point
channel binding (through scramp). The SCRAM nonce and the channel binding
data are passed in, never made here. The server's SCRAM signature is always
verified, and a server that declares success without proving itself is
refused. ``require_auth`` and ``channel_binding=require`` (libpq's names)
refuse a method before anything answers it.

Nothing here puts a password or a proof in a message, repr or exception.
"""

from __future__ import annotations

import hashlib
from typing import Final

import scramp

from pgpipe.errors import OperationalError, PipelineMismatch, ProtocolError
from pgpipe.protocol import frontend, pbkdf2

# WebAssembly builds of Python have no hashlib.pbkdf2_hmac, which SCRAM needs.
pbkdf2.install()

AUTH_OK: Final = 0
AUTH_CLEARTEXT_PASSWORD: Final = 3
AUTH_MD5_PASSWORD: Final = 5
AUTH_SASL: Final = 10
AUTH_SASL_CONTINUE: Final = 11
AUTH_SASL_FINAL: Final = 12

SCRAM_SHA_256: Final = "SCRAM-SHA-256"
SCRAM_SHA_256_PLUS: Final = "SCRAM-SHA-256-PLUS"
TLS_SERVER_END_POINT: Final = "tls-server-end-point"

# require_auth's names for what the server asked, and how libpq words the request.
_REQUIRE_AUTH_NAMES: Final = {
    AUTH_OK: ("none", "server did not complete authentication"),
    AUTH_CLEARTEXT_PASSWORD: ("password", "server requested a cleartext password"),
    AUTH_MD5_PASSWORD: ("md5", "server requested a hashed password"),
    AUTH_SASL: ("scram-sha-256", "server requested SASL authentication"),
}

_SCRAM_NOT_STARTED: Final = -1

_UNSUPPORTED: Final = {
    2: "Kerberos V5",
    6: "SCM credentials",
    7: "GSSAPI",
    8: "GSSAPI",
    9: "SSPI",
}

# What each request means, in the words pipeline_connect uses.
SERVER_METHODS: Final = {
    AUTH_OK: "trust",
    AUTH_CLEARTEXT_PASSWORD: "password",
    AUTH_MD5_PASSWORD: "md5",
    AUTH_SASL: "scram",
}

METHOD_NAMES: Final = {
    AUTH_OK: "ok",
    AUTH_CLEARTEXT_PASSWORD: "password",
    AUTH_MD5_PASSWORD: "md5",
    AUTH_SASL: "sasl",
    AUTH_SASL_CONTINUE: "sasl-continue",
    AUTH_SASL_FINAL: "sasl-final",
}


def md5_password(user: str, password: str, salt: bytes) -> bytes:
    """The answer to AuthenticationMD5Password: "md5" + md5(md5(password + user) + salt)."""
    inner = hashlib.md5(password.encode("utf-8") + user.encode("utf-8")).hexdigest()
    outer = hashlib.md5(inner.encode("ascii") + salt).hexdigest()
    return b"md5" + outer.encode("ascii")


class Authenticator:
    """Answers one connection's authentication requests, in order."""

    __slots__ = (
        "_asked",
        "_binding",
        "_binding_policy",
        "_password",
        "_require_auth",
        "_scram",
        "_scram_nonce",
        "_scram_step",
        "_user",
        "bound",
        "done",
        "guess",
        "last_reply",
        "mechanism",
    )

    def __init__(
        self,
        user: str,
        password: str | None,
        scram_nonce: str | None,
        guess: str | None = None,
        *,
        channel_binding: bytes | None = None,
        channel_binding_policy: str = "prefer",
        require_auth: frozenset[str] | None = None,
    ) -> None:
        """``guess`` is the method pipelined connect answered before being asked:
        "trust", "password" or "scram" (see ``speculative_reply``).

        ``channel_binding`` is the tls-server-end-point data of the TLS
        connection (None without TLS); ``channel_binding_policy`` is libpq's
        disable, prefer or require; ``require_auth`` the methods the server may
        use, in libpq's words (None: any).
        """
        self._user = user
        self._password = password
        self._scram_nonce = scram_nonce
        self._scram: scramp.ScramClient | None = None
        # SCRAM: the request code the server must send next; AUTH_OK once verified.
        self._scram_step = _SCRAM_NOT_STARTED
        self._binding = channel_binding if channel_binding_policy != "disable" else None
        self._binding_policy = channel_binding_policy
        self._require_auth = require_auth
        self._asked = False
        self.done = False
        self.guess = guess
        # The method of the client's last authentication message ("password", "md5",
        # "scram") once it has been produced: what may ride with it depends on it.
        self.last_reply: str | None = None
        # The SASL mechanism used, and whether the channel was bound to the TLS connection.
        self.mechanism: str | None = None
        self.bound = False

    def __repr__(self) -> str:
        return f"<Authenticator user={self._user!r} done={self.done}>"

    def _need_password(self, method: str) -> str:
        if self._password is None:
            raise OperationalError(
                f"the server asked for {method} authentication but no password was given"
            )
        return self._password

    def speculative_reply(self) -> bytes:
        """What the guessed method would be asked for, sent before the server asks."""
        if self.guess == "password":
            self._allowed(AUTH_CLEARTEXT_PASSWORD)
            self.last_reply = "password"
            return frontend.password_message(self._need_password("password").encode("utf-8"))
        if self.guess == "scram":
            self._allowed(AUTH_SASL)
            plus = self._binding is not None
            if self._binding_policy == "require" and not plus:
                raise OperationalError(
                    "channel binding required, but the connection does not use TLS"
                )
            return self._scram_initial_response(SCRAM_SHA_256_PLUS if plus else SCRAM_SHA_256)
        return b""

    def _allowed(self, code: int) -> None:
        """Refuse a request that require_auth or channel_binding=require rule out."""
        name, request = _REQUIRE_AUTH_NAMES[code]
        required = self._require_auth
        if required is not None and name not in required:
            raise OperationalError(
                f'authentication method requirement "{",".join(sorted(required))}" failed: '
                f"{request}"
            )
        if self._binding_policy == "require" and code != AUTH_SASL:
            if code == AUTH_OK:
                raise OperationalError(
                    "channel binding required, but the server authenticated the client "
                    "without channel binding"
                )
            raise OperationalError(
                f"channel binding required, but the server asked for {name} authentication, "
                "which has none"
            )

    def _check_guess(self, code: int, data: bytes) -> bool:
        """Check the server's first request against the guess; True if already answered."""
        guess = self.guess
        if guess is None:
            return False
        self.guess = None
        server_method = SERVER_METHODS.get(code) or _UNSUPPORTED.get(code) or str(code)
        if server_method != guess:
            raise PipelineMismatch(guess, server_method)
        if code == AUTH_SASL:
            offered = self._check_mechanisms(data)
            if self.mechanism not in offered:
                raise PipelineMismatch(
                    "scram",
                    f"SASL with {', '.join(offered)}",
                    f"over TLS pipeline_connect='scram' starts {self.mechanism}, which this "
                    "server does not offer (a TLS-terminating proxy in between?): use "
                    "pipeline_connect='auto' or channel_binding='disable'",
                )
            self._asked = True
            return True
        if code == AUTH_CLEARTEXT_PASSWORD:
            self._asked = True
            return True
        return False

    def respond(self, code: int, data: bytes) -> bytes:
        """Return the bytes that answer request ``code`` (b"" when nothing is to be sent)."""
        if self.done:
            raise ProtocolError("the server sent an Authentication message after AuthenticationOk")
        if self._check_guess(code, data):
            return b""
        if code == AUTH_OK:
            if self._scram_step not in (_SCRAM_NOT_STARTED, AUTH_OK):
                raise ProtocolError(
                    "the server declared authentication successful without proving it knows "
                    "the password (no SCRAM server signature)"
                )
            if not self._asked or (self._binding_policy == "require" and not self.bound):
                self._allowed(AUTH_OK)
            self.done = True
            return b""
        if code in _REQUIRE_AUTH_NAMES and self._scram_step == _SCRAM_NOT_STARTED:
            self._allowed(code)
            self._asked = True
        if self._scram_step not in (_SCRAM_NOT_STARTED, code):
            raise ProtocolError(
                f"the server switched to {METHOD_NAMES.get(code, code)} in the middle of SCRAM"
            )
        if code == AUTH_CLEARTEXT_PASSWORD:
            self._expect_no_data(data, "AuthenticationCleartextPassword")
            password = self._need_password("password")
            self.last_reply = "password"
            return frontend.password_message(password.encode("utf-8"))
        if code == AUTH_MD5_PASSWORD:
            if len(data) != 4:
                raise ProtocolError("AuthenticationMD5Password must carry a 4-byte salt")
            password = self._need_password("md5")
            self.last_reply = "md5"
            return frontend.password_message(md5_password(self._user, password, data))
        if code == AUTH_SASL:
            return self._sasl_start(data)
        if code == AUTH_SASL_CONTINUE:
            return self._sasl_continue(data)
        if code == AUTH_SASL_FINAL:
            return self._sasl_final(data)
        name = _UNSUPPORTED.get(code)
        if name is not None:
            raise OperationalError(
                f"the server asked for {name} authentication, which pgpipe does not support"
            )
        raise ProtocolError(f"unknown authentication request code {code}")

    @staticmethod
    def _expect_no_data(data: bytes, what: str) -> None:
        if data:
            raise ProtocolError(f"{what} has unexpected bytes")

    @staticmethod
    def _check_mechanisms(data: bytes) -> list[str]:
        if not data.endswith(b"\x00\x00"):
            raise ProtocolError("AuthenticationSASL has an unterminated mechanism list")
        try:
            mechanisms = [m.decode("ascii") for m in data[:-2].split(b"\x00")]
        except UnicodeDecodeError:
            raise ProtocolError("AuthenticationSASL has a non-ASCII mechanism name") from None
        if SCRAM_SHA_256 not in mechanisms and SCRAM_SHA_256_PLUS not in mechanisms:
            raise OperationalError(
                f"the server offered SASL mechanisms {', '.join(mechanisms)}; "
                f"pgpipe supports {SCRAM_SHA_256} and {SCRAM_SHA_256_PLUS}"
            )
        return mechanisms

    def _sasl_start(self, data: bytes) -> bytes:
        if self._scram_step != _SCRAM_NOT_STARTED:
            raise ProtocolError("the server started SASL authentication twice")
        offered = self._check_mechanisms(data)
        if self._binding is not None and SCRAM_SHA_256_PLUS in offered:
            return self._scram_initial_response(SCRAM_SHA_256_PLUS)
        if self._binding_policy == "require":
            raise OperationalError(
                "channel binding required, but "
                + (
                    "the connection does not use TLS"
                    if self._binding is None
                    else f"the server did not offer {SCRAM_SHA_256_PLUS}"
                )
            )
        if SCRAM_SHA_256 not in offered:
            raise OperationalError(
                f"the server offered only {SCRAM_SHA_256_PLUS}, which needs TLS "
                "and channel_binding other than disable"
            )
        return self._scram_initial_response(SCRAM_SHA_256)

    def _scram_initial_response(self, mechanism: str) -> bytes:
        password = self._need_password("SCRAM-SHA-256")
        if not self._scram_nonce:
            raise ProtocolError("SCRAM-SHA-256 needs a client nonce")
        # With TLS but without -PLUS the client says it could bind ("y"): a server
        # that offered -PLUS and sees "y" knows a man in the middle removed it.
        binding = None if self._binding is None else (TLS_SERVER_END_POINT, self._binding)
        try:
            # The server ignores the SCRAM user name and uses the startup's; "*" keeps
            # user names that SASLprep rejects working.
            self._scram = scramp.ScramClient(
                [mechanism], "*", password, channel_binding=binding, c_nonce=self._scram_nonce
            )
            first = self._scram.get_client_first()
            self._scram_step = AUTH_SASL_CONTINUE
        except scramp.ScramException:
            raise OperationalError(
                "the password cannot be used with SCRAM-SHA-256 (SASLprep)"
            ) from None
        self.mechanism = mechanism
        self.bound = mechanism == SCRAM_SHA_256_PLUS
        return frontend.sasl_initial_response(mechanism, first.encode("utf-8"))

    def _scram_client(self, code: int, step: str) -> scramp.ScramClient:
        if self._scram is None or self._scram_step != code:
            raise ProtocolError(f"the server sent {step} out of order")
        return self._scram

    def _sasl_continue(self, data: bytes) -> bytes:
        scram = self._scram_client(AUTH_SASL_CONTINUE, "AuthenticationSASLContinue")
        try:
            scram.set_server_first(data.decode("utf-8"))
            final = scram.get_client_final()
            self._scram_step = AUTH_SASL_FINAL
            self.last_reply = "scram"
        except (scramp.ScramException, UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(f"invalid SCRAM server-first-message: {_reason(exc)}") from None
        return frontend.sasl_response(final.encode("utf-8"))

    def _sasl_final(self, data: bytes) -> bytes:
        scram = self._scram_client(AUTH_SASL_FINAL, "AuthenticationSASLFinal")
        try:
            scram.set_server_final(data.decode("utf-8"))
        except (scramp.ScramException, UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(
                f"the server failed to prove it knows the password (SCRAM server signature): "
                f"{_reason(exc)}"
            ) from None
        self._scram = None
        self._scram_step = AUTH_OK
        return b""


def _reason(exc: Exception) -> str:
    """A short reason for an exception from scramp, without echoing any message content."""
    if isinstance(exc, scramp.ScramException):
        return str(exc).split(":")[0]
    return type(exc).__name__
