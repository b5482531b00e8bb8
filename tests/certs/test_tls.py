"""TLS contexts with health PKI certificates over real sockets: TLS 1.2 floor and required client certificates."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from certs.identity import CertificateLogin, certificate_login, tls_login
from certs.issue import Issued, save_issued
from certs.names import dn_string
from certs.tls import client_context, peer_subject_matches, server_context
from tests.certs.conftest import PKI, chain_files, openssl, pem, write


@contextmanager
def tls_server(
    context: ssl.SSLContext, inspect: Callable[[ssl.SSLSocket], object] | None = None
) -> Iterator[tuple[int, list[object]]]:
    """Accept connections on 127.0.0.1 until closed; each outcome is ``inspect(connection)`` (by default the
    peer's DER certificate) or the error."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    outcomes: list[object] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(10)
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    outcomes.append(inspect(tls) if inspect else tls.getpeercert(binary_form=True))
                    tls.sendall(b"ok\n")
                    with contextlib.suppress(OSError):  # the client may be gone already
                        tls.unwrap()  # close_notify, so that openssl s_client sees a clean end
            except (ssl.SSLError, OSError) as error:
                outcomes.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], outcomes
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _server_context(pki: PKI, tmp_path: Path, *, require: bool) -> ssl.SSLContext:
    cert, key = chain_files(tmp_path, pki.server)
    bundle = write(tmp_path / "bundle.pem", pki.hierarchy.bundle_pem())
    return server_context(cert, key, client_ca=bundle, require_client_cert=require)


def _connect(port: int, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.recv(10)


def _client(pki: PKI, tmp_path: Path, issued: Issued | None) -> ssl.SSLContext:
    root = write(tmp_path / "root.pem", pem(pki.hierarchy.root.certificate))
    if issued is None:
        return client_context(root)
    cert, key = chain_files(tmp_path, issued)
    return client_context(root, cert=cert, key=key)


def test_tls_1_1_client_is_refused_and_1_2_accepted(pki: PKI, tmp_path: Path) -> None:
    root = write(tmp_path / "root.pem", pem(pki.hierarchy.root.certificate))
    with tls_server(_server_context(pki, tmp_path, require=False)) as (port, _outcomes):
        address = f"127.0.0.1:{port}"
        old = openssl(
            "s_client",
            "-connect",
            address,
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-CAfile",
            root,
            stdin=b"",
            check=False,
        )
        assert old.returncode != 0
        assert b"alert protocol version" in old.stderr  # RFC 8446 §6.2: the server's protocol_version alert
        current = openssl(
            "s_client", "-connect", address, "-tls1_2", "-CAfile", root, "-verify_return_error", stdin=b"", check=False
        )
        assert current.returncode == 0, current.stderr
        assert b"Protocol  : TLSv1.2" in current.stdout and b"ECDHE" in current.stdout


def test_client_certificate_required(pki: PKI, foreign_pki: PKI, tmp_path: Path) -> None:
    with tls_server(_server_context(pki, tmp_path, require=True)) as (port, outcomes):
        assert _connect(port, _client(pki, tmp_path, pki.cardio_auth)) == b"ok\n"
        for stranger in (None, foreign_pki.cardio_auth):
            with pytest.raises((ssl.SSLError, ConnectionError)):
                reply = _connect(port, _client(pki, tmp_path, stranger))
                if not reply:  # TLS 1.3: the refusal arrives after the client's side of the handshake
                    raise ConnectionError("closed")
    accepted = [o for o in outcomes if isinstance(o, bytes)]
    assert len(accepted) == 1
    assert peer_subject_matches(accepted[0], [dn_string(pki.cardio_auth.certificate.subject)])
    login = certificate_login(accepted[0], pki.trust())
    assert login.accepted and (login.kind, login.owner_id) == ("ORG", "1750000001")


def test_tls_login_reads_the_client_certificate_of_a_connection(pki: PKI, tmp_path: Path) -> None:
    trust = pki.trust()
    context = _server_context(pki, tmp_path, require=False)
    with tls_server(context, lambda tls: tls_login(tls, trust)) as (port, logins):
        assert _connect(port, _client(pki, tmp_path, pki.alice_auth)) == b"ok\n"
        assert _connect(port, _client(pki, tmp_path, None)) == b"ok\n"
    first, second = logins[:2]
    assert isinstance(first, CertificateLogin) and first.accepted and first.owner_id == "810001234567"
    assert second is None


def test_peer_subject_matches_the_white_list_dn(pki: PKI) -> None:
    der = pki.server.certificate.public_bytes(serialization.Encoding.DER)
    listed = "CN=localhost,OU=4000000000,O=mssante-gateway,ST=Paris (75),C=FR"
    assert peer_subject_matches(der, ["CN=other,OU=1,O=x,C=FR", listed])
    assert not peer_subject_matches(der, ["CN=localhost,OU=4000000001,O=mssante-gateway,ST=Paris (75),C=FR"])
    assert not peer_subject_matches(None, [listed])
    assert not peer_subject_matches(der, ["not a DN ==="])


def test_mta_mutual_tls_with_encrypted_keys_from_the_pki(pki: PKI, tmp_path: Path) -> None:
    """Two operators' MTAs: server certificates on both sides, keys as ``mssante pki issue server`` keeps them."""
    cert, key = save_issued(pki.hierarchy, pki.server, b"test passphrase")
    bundle = write(tmp_path / "bundle.pem", pki.hierarchy.bundle_pem())
    server = server_context(cert, key, client_ca=bundle, require_client_cert=True, key_password=b"test passphrase")
    client = client_context(bundle, cert=cert, key=key, key_password=b"test passphrase")
    listed = dn_string(pki.server.certificate.subject)
    with tls_server(server, lambda tls: peer_subject_matches(tls.getpeercert(binary_form=True), [listed])) as (
        port,
        outcomes,
    ):
        assert _connect(port, client) == b"ok\n"
    assert outcomes[0] is True
    with pytest.raises(ssl.SSLError):
        server_context(cert, key, key_password=b"wrong")
