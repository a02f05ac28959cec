"""TLS against a real TLS-enabled PostgreSQL: sslmode, verification, client
certificates, channel binding, require_auth, direct negotiation, round trips."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

import pgpipe
from pgpipe.proxy import FlightCounter
from pgpipe.testing import AUTH_USERS, TLS_USERS, TemporaryPostgres
from tests.clients import Adapter
from tests.tlsstub import Pki, TlsTerminator

SSL_IN_USE = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def login(server: TemporaryPostgres, method: str = "trust", **extra: Any) -> dict[str, Any]:
    user, password = AUTH_USERS[method]
    params: dict[str, Any] = {
        "host": "localhost",
        "hostaddr": "127.0.0.1",
        "port": server.port,
        "user": user,
        "password": password,
        "dbname": "pgpipe",
    }
    params.update(extra)
    return params


def server_sees_tls(client: Any) -> bool:
    value: bool = client.query(SSL_IN_USE).rows[0][0]
    return value


# -- sslmode against servers with and without TLS -------------------------------------


@pytest.mark.parametrize(
    ("sslmode", "tls_expected"),
    [("disable", False), ("allow", False), ("prefer", True), ("require", True)],
)
def test_sslmode_against_a_tls_server(
    adapter: Adapter, tls_server: TemporaryPostgres, sslmode: str, tls_expected: bool
) -> None:
    client = adapter.connect(**login(tls_server, sslmode=sslmode))
    assert server_sees_tls(client) is tls_expected
    assert (client.tls_version == "TLSv1.3") is tls_expected


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
def test_verifying_sslmodes(
    adapter: Adapter, tls_server: TemporaryPostgres, pki: Pki, sslmode: str
) -> None:
    client = adapter.connect(**login(tls_server, sslmode=sslmode, sslrootcert=pki.ca_file))
    assert server_sees_tls(client)


@pytest.mark.parametrize(
    ("sslmode", "outcome"),
    [
        ("disable", None),
        ("allow", None),
        ("prefer", None),
        ("require", "does not support SSL, but SSL was required"),
        ("verify-full", "does not support SSL, but SSL was required"),
    ],
)
def test_sslmode_against_a_server_without_tls(
    adapter: Adapter, pg_server: TemporaryPostgres, pki: Pki, sslmode: str, outcome: str | None
) -> None:
    params = login(pg_server, sslmode=sslmode, sslrootcert=pki.ca_file)
    if outcome is None:
        client = adapter.connect(**params)
        assert server_sees_tls(client) is False
        assert client.tls_version is None
    else:
        with pytest.raises(pgpipe.OperationalError, match=outcome):
            adapter.connect(**params)


def test_allow_retries_with_tls_when_the_server_refuses_plaintext(
    adapter: Adapter, tls_server: TemporaryPostgres
) -> None:
    params = login(tls_server, sslmode="allow", user=TLS_USERS["tls_only"], password=None)
    client = adapter.connect(**params)
    assert server_sees_tls(client)
    with pytest.raises(pgpipe.errors.InvalidAuthorizationSpecification, match="no encryption"):
        adapter.connect(**{**params, "sslmode": "disable"})


def test_prefer_retries_without_tls_when_the_server_refuses_tls(
    adapter: Adapter, tls_server: TemporaryPostgres
) -> None:
    params = login(tls_server, sslmode="prefer", user=TLS_USERS["plain_only"], password=None)
    client = adapter.connect(**params)
    assert not server_sees_tls(client)
    with pytest.raises(pgpipe.errors.InvalidAuthorizationSpecification, match="SSL encryption"):
        adapter.connect(**{**params, "sslmode": "require"})


# -- what a failed verification says ----------------------------------------------------


def test_host_name_mismatch(adapter: Adapter, tls_server: TemporaryPostgres, pki: Pki) -> None:
    params = login(tls_server, sslmode="verify-full", sslrootcert=pki.ca_file, host="db.example")
    with pytest.raises(pgpipe.OperationalError, match=r"host name mismatch.*db\.example"):
        adapter.connect(**params)
    # verify-ca checks the chain only.
    assert server_sees_tls(adapter.connect(**{**params, "sslmode": "verify-ca"}))


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full", "require"])
def test_unknown_ca(
    adapter: Adapter, tls_server: TemporaryPostgres, pki: Pki, sslmode: str
) -> None:
    # With sslrootcert given, require checks the chain too (as libpq does).
    params = login(tls_server, sslmode=sslmode, sslrootcert=pki.other_ca_file)
    with pytest.raises(pgpipe.OperationalError, match="unknown CA"):
        adapter.connect(**params)


def test_expired_certificate(adapter: Adapter, pki: Pki) -> None:
    with TlsTerminator(pki.server_context(pki.expired)) as stub:
        params = {"host": "localhost", "port": stub.port, "user": "u", "dbname": "d"}
        with pytest.raises(pgpipe.OperationalError, match="has expired"):
            adapter.connect(**params, sslmode="verify-full", sslrootcert=pki.ca_file)


def test_verification_needs_a_root_certificate(
    adapter: Adapter, tls_server: TemporaryPostgres, tmp_path: Any
) -> None:
    missing = str(tmp_path / "none.crt")
    with pytest.raises(pgpipe.InterfaceError, match=r"root certificate file .* does not exist"):
        adapter.connect(**login(tls_server, sslmode="verify-full", sslrootcert=missing))


def test_an_ssl_context_may_be_passed(
    adapter: Adapter, tls_server: TemporaryPostgres, pki: Pki
) -> None:
    context = ssl.create_default_context(cafile=pki.ca_file)
    client = adapter.connect(**login(tls_server, ssl=context))
    assert server_sees_tls(client)
    strict = ssl.create_default_context(cafile=pki.other_ca_file)
    with pytest.raises(pgpipe.OperationalError, match="unknown CA"):
        adapter.connect(**login(tls_server, ssl=strict))


def test_sni_and_alpn(adapter: Adapter, pki: Pki) -> None:
    with TlsTerminator(pki.server_context()) as stub:
        for host in ("localhost", "127.0.0.1"):
            with pytest.raises(pgpipe.OperationalError):
                adapter.connect(host=host, port=stub.port, user="u", dbname="d", sslmode="require")
        # SNI for a host name only, never for an IP address; ALPN postgresql both times.
        assert stub.server_names == ["localhost", None]
        assert stub.alpn == ["postgresql", "postgresql"]
        assert all(first == pgpipe.tls.SSL_REQUEST for first in stub.first_bytes)


def test_plaintext_injected_after_the_ssl_answer_is_refused(adapter: Adapter, pki: Pki) -> None:
    injected = b"SR\x00\x00\x00\x08\x00\x00\x00\x00"
    with (
        TlsTerminator(pki.server_context(), answer=injected) as stub,
        pytest.raises(pgpipe.ProtocolError, match="unencrypted data after"),
    ):
        adapter.connect(host="localhost", port=stub.port, user="u", dbname="d", sslmode="require")


# -- client certificates ------------------------------------------------------------------


def test_client_certificate_authentication(
    adapter: Adapter, tls_server: TemporaryPostgres, pki: Pki
) -> None:
    params = login(
        tls_server,
        user=TLS_USERS["cert"],
        password=None,
        sslmode="verify-full",
        sslrootcert=pki.ca_file,
        sslcert=pki.client_cert,
        sslkey=pki.client_key,
    )
    client = adapter.connect(**params)
    assert client.query("SELECT current_user").rows == [(TLS_USERS["cert"],)]
    without = {k: v for k, v in params.items() if k not in ("sslcert", "sslkey")}
    with pytest.raises(pgpipe.errors.InvalidAuthorizationSpecification, match="certificate"):
        adapter.connect(**without, sslcertmode="disable")


def test_client_key_permissions_and_password(
    adapter: Adapter, tls_server: TemporaryPostgres, pki: Pki
) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(Path(pki.client_key).read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-secret"),
    )
    encrypted_key = pki.write("encrypted.key", encrypted)
    params = login(
        tls_server,
        user=TLS_USERS["cert"],
        password=None,
        sslmode="require",
        sslcert=pki.client_cert,
        sslkey=encrypted_key,
    )
    with pytest.raises(pgpipe.InterfaceError, match="encrypted; give sslpassword"):
        adapter.connect(**params)
    with pytest.raises(pgpipe.InterfaceError) as info:
        adapter.connect(**params, sslpassword="wrong-secret")
    assert "wrong-secret" not in str(info.value)
    client = adapter.connect(**params, sslpassword="key-secret")
    assert client.query("SELECT current_user").rows == [(TLS_USERS["cert"],)]
    loose = pki.write("loose.key", Path(pki.client_key).read_bytes(), 0o644)
    with pytest.raises(pgpipe.InterfaceError, match="group or world access"):
        adapter.connect(**{**params, "sslkey": loose})


# -- channel binding and require_auth -----------------------------------------------------


def test_scram_binds_to_the_tls_channel(adapter: Adapter, tls_server: TemporaryPostgres) -> None:
    client = adapter.connect(**login(tls_server, "scram", sslmode="require"))
    assert client.channel_binding is True and client.auth_method == "scram"
    client = adapter.connect(
        **login(tls_server, "scram", sslmode="require", channel_binding="require")
    )
    assert client.channel_binding is True
    client = adapter.connect(
        **login(tls_server, "scram", sslmode="require", channel_binding="disable")
    )
    assert client.channel_binding is False
    assert server_sees_tls(client)


@pytest.mark.parametrize("method", ["trust", "password", "md5"])
def test_channel_binding_required_refuses_methods_without_it(
    adapter: Adapter, tls_server: TemporaryPostgres, method: str
) -> None:
    params = login(tls_server, method, sslmode="require", channel_binding="require")
    with pytest.raises(pgpipe.OperationalError, match="channel binding required"):
        adapter.connect(**params)


def test_channel_binding_required_refuses_plaintext(
    adapter: Adapter, pg_server: TemporaryPostgres
) -> None:
    params = login(pg_server, "scram", sslmode="prefer", channel_binding="require")
    with pytest.raises(pgpipe.OperationalError, match="does not use TLS"):
        adapter.connect(**params)


def test_channel_binding_through_a_tls_terminating_middlebox(
    adapter: Adapter, pg_server: TemporaryPostgres, pki: Pki
) -> None:
    # The middlebox holds a trusted certificate, but PostgreSQL behind it sees no
    # TLS and offers no SCRAM-SHA-256-PLUS: channel_binding=require notices.
    with TlsTerminator(pki.server_context(), backend=(pg_server.host, pg_server.port)) as stub:
        params = login(
            pg_server, "scram", port=stub.port, sslmode="verify-full", sslrootcert=pki.ca_file
        )
        client = adapter.connect(**params)
        assert client.channel_binding is False and client.tls_version is not None
        with pytest.raises(pgpipe.OperationalError, match="did not offer SCRAM-SHA-256-PLUS"):
            adapter.connect(**params, channel_binding="require")


@pytest.mark.parametrize(
    ("method", "require_auth", "refusal"),
    [
        ("md5", "scram-sha-256", "server requested a hashed password"),
        ("password", "scram-sha-256", "server requested a cleartext password"),
        ("password", "!password", "server requested a cleartext password"),
        ("trust", "scram-sha-256,md5", "server did not complete authentication"),
        ("scram", "password,md5", "server requested SASL authentication"),
    ],
)
def test_require_auth_refuses_before_answering(
    adapter: Adapter, pg_server: TemporaryPostgres, method: str, require_auth: str, refusal: str
) -> None:
    with FlightCounter(pg_server.host, pg_server.port) as proxy:
        params = login(
            pg_server, method, port=proxy.port, sslmode="disable", require_auth=require_auth
        )
        with pytest.raises(pgpipe.OperationalError, match=refusal):
            adapter.connect(**params)
        # Only the StartupMessage left: the request was refused, not answered.
        assert proxy.client_flights == 1
        params["require_auth"] = {"md5": "md5", "password": "password", "trust": "none"}.get(
            method, "scram-sha-256"
        )
        assert adapter.connect(**params).query("SELECT 1").rows == [(1,)]


# -- direct negotiation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "mode", "trips"),
    [("trust", "trust", 2), ("password", "password", 2), ("md5", "auto", 3), ("scram", "scram", 3)],
)
def test_direct_tls_sends_the_client_hello_first(
    adapter: Adapter, pg_server: TemporaryPostgres, pki: Pki, method: str, mode: str, trips: int
) -> None:
    # A TLS terminator in front of the plaintext server behaves like a PostgreSQL 17
    # listening for direct TLS: ClientHello first, ALPN postgresql required.
    backend = (pg_server.host, pg_server.port)
    with (
        TlsTerminator(pki.server_context(), backend=backend, direct=True) as stub,
        FlightCounter("127.0.0.1", stub.port) as proxy,
    ):
        params = login(
            pg_server,
            method,
            port=proxy.port,
            sslmode="verify-full",
            sslrootcert=pki.ca_file,
            sslnegotiation="direct",
            pipeline_connect=mode,
        )
        if method == "scram":
            # Behind the terminator PostgreSQL sees no TLS and offers no -PLUS; a
            # speculative SCRAM-SHA-256-PLUS is refused with advice.
            with pytest.raises(pgpipe.errors.PipelineMismatch, match="channel_binding='disable'"):
                adapter.connect(**params).query("SELECT 1")
            proxy.reset()
            params["channel_binding"] = "disable"
        client = adapter.connect(**params)
        assert client.query("SELECT 1").rows == [(1,)]
        # The TLS handshake, then what pipelined connect costs without TLS.
        assert client.stats.round_trips == trips and proxy.round_trips == trips
    # Every connection opened with a TLS handshake record, no SSLRequest.
    assert {first[:1] for first in stub.first_bytes} == {b"\x16"}
    assert set(stub.alpn) == {"postgresql"}


def test_direct_tls_needs_the_server_to_select_alpn(adapter: Adapter, pki: Pki) -> None:
    with (
        TlsTerminator(pki.server_context(), direct=True, alpn=False) as stub,
        pytest.raises(pgpipe.OperationalError, match="did not select ALPN"),
    ):
        adapter.connect(
            host="localhost",
            port=stub.port,
            user="u",
            dbname="d",
            sslmode="require",
            sslnegotiation="direct",
        )


def test_direct_tls_against_an_older_server_fails_cleanly(
    adapter: Adapter, tls_server: TemporaryPostgres
) -> None:
    with pytest.raises(pgpipe.OperationalError):
        adapter.connect(**login(tls_server, sslmode="require", sslnegotiation="direct"))
    assert adapter.connect(**login(tls_server, sslmode="require")).query("SELECT 1").rows == [(1,)]


# -- round trips with sslmode=require ------------------------------------------------------------

# (method, pipeline_connect) -> round trips to the first result, after TCP: SSLRequest
# and the TLS 1.3 handshake cost two, then the same as without TLS.
TLS_ROUND_TRIPS = {
    ("trust", None): 4,
    ("password", None): 5,
    ("md5", None): 5,
    ("scram", None): 6,
    ("trust", "trust"): 3,
    ("password", "password"): 3,
    ("md5", "auto"): 4,
    ("scram", "scram"): 4,
}


@pytest.mark.parametrize(("method", "mode"), list(TLS_ROUND_TRIPS))
@pytest.mark.parametrize("sslmode", ["require", "verify-full"])
def test_round_trips_with_tls(
    adapter: Adapter,
    tls_server: TemporaryPostgres,
    pki: Pki,
    method: str,
    mode: str | None,
    sslmode: str,
) -> None:
    with FlightCounter(tls_server.host, tls_server.port) as proxy:
        params = login(
            tls_server,
            method,
            port=proxy.port,
            sslmode=sslmode,
            sslrootcert=pki.ca_file,
            pipeline_connect=mode,
        )
        if sslmode == "require" and mode in ("password", "scram"):
            # Unverified TLS does not prove the server: sending early needs the opt-in.
            with pytest.raises(pgpipe.InterfaceError, match="verify-full"):
                adapter.connect(**params)
            params["allow_unverified_pipelining"] = True
        client = adapter.connect(**params)
        assert client.query("SELECT 1").rows == [(1,)]
        expected = TLS_ROUND_TRIPS[method, mode]
        assert client.stats.round_trips == expected
        assert proxy.round_trips == expected
        assert client.tls_version == "TLSv1.3"
        assert client.channel_binding is (method == "scram")


def test_server_going_away_over_tls(adapter: Adapter, tls_server: TemporaryPostgres) -> None:
    client = adapter.connect(**login(tls_server, sslmode="require"))
    tls_server.psql(f"SELECT pg_terminate_backend({client.backend_pid})")
    with pytest.raises(pgpipe.OperationalError, match="terminating connection"):
        client.query("SELECT 1")
    assert client.closed
    client.close()


@pytest.mark.parametrize(
    ("settings", "version"),
    [
        ({"ssl_min_protocol_version": "TLSv1.3"}, "TLSv1.3"),
        ({"ssl_max_protocol_version": "TLSv1.2"}, "TLSv1.2"),
    ],
)
def test_protocol_versions(
    adapter: Adapter, tls_server: TemporaryPostgres, settings: dict[str, str], version: str
) -> None:
    client = adapter.connect(**login(tls_server, sslmode="require", **settings))
    assert client.tls_version == version
    assert client.query("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").rows == [
        (version,)
    ]


def test_system_roots_verify_the_host_name(pki: Pki) -> None:
    from pgpipe.conninfo import parse_dsn
    from pgpipe.tls import make_context

    context = make_context(parse_dsn("sslrootcert=system", {}, {}), {})
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs() or context.cert_store_stats()["x509_ca"] >= 0
    # require with no root file: encrypted, nothing checked; with one: the chain.
    loose = make_context(
        parse_dsn("sslmode=require", {}, {"HOME": "/nonexistent"}), {"HOME": "/nonexistent"}
    )
    assert loose.verify_mode == ssl.CERT_NONE
    chained = make_context(parse_dsn(f"sslmode=require sslrootcert={pki.ca_file}", {}, {}), {})
    assert chained.verify_mode == ssl.CERT_REQUIRED and not chained.check_hostname


def test_revoked_certificate(adapter: Adapter, tls_server: TemporaryPostgres, pki: Pki) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    now = datetime.datetime.now(datetime.UTC)
    ca_key = serialization.load_pem_private_key(pki.ca.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert_pem.bytes())
    server_cert = x509.load_pem_x509_certificate(pki.server.cert_chain_pems[0].bytes())
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(server_cert.serial_number)
        .revocation_date(now)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(minutes=1))
        .next_update(now + datetime.timedelta(days=1))
        .add_revoked_certificate(revoked)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    crl_file = pki.write("revoked.crl", crl.public_bytes(serialization.Encoding.PEM))
    params = login(tls_server, sslmode="verify-full", sslrootcert=pki.ca_file)
    with pytest.raises(pgpipe.OperationalError, match="revoked"):
        adapter.connect(**params, sslcrl=crl_file)
    assert server_sees_tls(adapter.connect(**params))
