"""Authentication: the client's answers to the server's Authentication requests.

Supports trust (AuthenticationOk straight away), cleartext password, MD5 and
SCRAM-SHA-256 (through scramp). The SCRAM nonce is passed in, never made
here. The server's SCRAM signature is always verified, and a server that
declares success without proving itself is refused.

Nothing here puts a password or a proof in a message, repr or exception.
"""

from __future__ import annotations

import hashlib
from typing import Final

import scramp

from pgpipe.errors import OperationalError, PipelineMismatch, ProtocolError
from pgpipe.protocol import frontend

AUTH_OK: Final = 0
AUTH_CLEARTEXT_PASSWORD: Final = 3
AUTH_MD5_PASSWORD: Final = 5
AUTH_SASL: Final = 10
AUTH_SASL_CONTINUE: Final = 11
AUTH_SASL_FINAL: Final = 12

SCRAM_SHA_256: Final = "SCRAM-SHA-256"

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
        "_password",
        "_scram",
        "_scram_nonce",
        "_scram_step",
        "_user",
        "done",
        "guess",
        "last_reply",
    )

    def __init__(
        self,
        user: str,
        password: str | None,
        scram_nonce: str | None,
        guess: str | None = None,
    ) -> None:
        """``guess`` is the method pipelined connect answered before being asked:
        "trust", "password" or "scram" (see ``speculative_reply``)."""
        self._user = user
        self._password = password
        self._scram_nonce = scram_nonce
        self._scram: scramp.ScramClient | None = None
        # SCRAM: the request code the server must send next; AUTH_OK once verified.
        self._scram_step = _SCRAM_NOT_STARTED
        self.done = False
        self.guess = guess
        # The method of the client's last authentication message ("password", "md5",
        # "scram") once it has been produced: what may ride with it depends on it.
        self.last_reply: str | None = None

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
            self.last_reply = "password"
            return frontend.password_message(self._need_password("password").encode("utf-8"))
        if self.guess == "scram":
            return self._scram_initial_response()
        return b""

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
            self._check_mechanisms(data)
            return True
        return code == AUTH_CLEARTEXT_PASSWORD

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
            self.done = True
            return b""
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

    def _check_mechanisms(self, data: bytes) -> None:
        if not data.endswith(b"\x00\x00"):
            raise ProtocolError("AuthenticationSASL has an unterminated mechanism list")
        try:
            mechanisms = [m.decode("ascii") for m in data[:-2].split(b"\x00")]
        except UnicodeDecodeError:
            raise ProtocolError("AuthenticationSASL has a non-ASCII mechanism name") from None
        if SCRAM_SHA_256 not in mechanisms:
            raise OperationalError(
                f"the server offered SASL mechanisms {', '.join(mechanisms)}; "
                f"pgpipe needs {SCRAM_SHA_256} (channel binding needs TLS)"
            )

    def _sasl_start(self, data: bytes) -> bytes:
        if self._scram_step != _SCRAM_NOT_STARTED:
            raise ProtocolError("the server started SASL authentication twice")
        self._check_mechanisms(data)
        return self._scram_initial_response()

    def _scram_initial_response(self) -> bytes:
        password = self._need_password("SCRAM-SHA-256")
        if not self._scram_nonce:
            raise ProtocolError("SCRAM-SHA-256 needs a client nonce")
        try:
            # The server ignores the SCRAM user name and uses the startup's; "*" keeps
            # user names that SASLprep rejects working.
            self._scram = scramp.ScramClient(
                [SCRAM_SHA_256], "*", password, c_nonce=self._scram_nonce
            )
            first = self._scram.get_client_first()
            self._scram_step = AUTH_SASL_CONTINUE
        except scramp.ScramException:
            raise OperationalError(
                "the password cannot be used with SCRAM-SHA-256 (SASLprep)"
            ) from None
        return frontend.sasl_initial_response(SCRAM_SHA_256, first.encode("utf-8"))

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
