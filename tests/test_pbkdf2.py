"""The pure-Python PBKDF2 used where hashlib has none (Pyodide): the same
answers as OpenSSL's, and SCRAM through it against a real server."""

from __future__ import annotations

import hashlib
import types
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgpipe.protocol import pbkdf2
from pgpipe.testing import AUTH_USERS, TemporaryPostgres
from tests.clients import Adapter


@given(
    name=st.sampled_from(["sha1", "sha256", "sha512"]),
    password=st.binary(max_size=200),
    salt=st.binary(max_size=40),
    iterations=st.integers(1, 50),
    dklen=st.none() | st.integers(1, 150),
)
def test_same_answers_as_hashlib(
    name: str, password: bytes, salt: bytes, iterations: int, dklen: int | None
) -> None:
    assert pbkdf2.pbkdf2_hmac(name, password, salt, iterations, dklen) == hashlib.pbkdf2_hmac(
        name, password, salt, iterations, dklen
    )


def test_scram_iteration_count() -> None:
    # RFC 7677's SCRAM-SHA-256 uses 4,096 iterations: check that count once.
    expected = hashlib.pbkdf2_hmac("sha256", b"pencil", b"salt" * 4, 4096)
    assert pbkdf2.pbkdf2_hmac("sha256", b"pencil", b"salt" * 4, 4096) == expected


@pytest.mark.parametrize(("iterations", "dklen"), [(0, None), (1, 0)])
def test_bad_arguments(iterations: int, dklen: int | None) -> None:
    with pytest.raises(ValueError):
        pbkdf2.pbkdf2_hmac("sha256", b"p", b"s", iterations, dklen)


def test_installed_only_where_missing() -> None:
    has = types.SimpleNamespace(pbkdf2_hmac=hashlib.pbkdf2_hmac)
    assert not pbkdf2.install(has)
    assert has.pbkdf2_hmac is hashlib.pbkdf2_hmac
    lacks = types.SimpleNamespace()
    assert pbkdf2.install(lacks)
    assert lacks.pbkdf2_hmac is pbkdf2.pbkdf2_hmac


def test_scram_through_the_fallback(
    adapter: Adapter, pg_server: TemporaryPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With hashlib's own function gone, as in Pyodide, SCRAM still authenticates."""
    calls: list[int] = []

    def counted(*args: Any) -> bytes:
        calls.append(args[3])
        return pbkdf2.pbkdf2_hmac(*args)

    monkeypatch.delattr(hashlib, "pbkdf2_hmac")
    assert pbkdf2.install()
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted)
    user, password = AUTH_USERS["scram"]
    client = adapter.connect(
        host="127.0.0.1",
        port=pg_server.port,
        user=user,
        password=password,
        dbname="pgpipe",
        sslmode="disable",
    )
    assert client.query("SELECT current_user").rows == [(user,)]
    assert client.auth_method == "scram"
    assert calls == [4096]
