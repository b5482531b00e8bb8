"""``mssante pki`` (the health PKI: init, issue, revoke, crl, list, export, ca-bundle, demo) and ``mssante smime``.

The CA key passphrase is read from ``--passphrase-file``, else ``MSSANTE_PKI_PASSPHRASE_FILE``, else the key file
``<data_dir>/pki/passphrase`` that ``pki init`` creates (development); see :mod:`mssante.pki_store`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from certs.errors import CertsError
from certs.hierarchy import Hierarchy, create_hierarchy
from certs.issue import Issued, issue_organisation, issue_person, issue_server, load_issued, save_issued
from certs.keys import KeyAlgorithm, PrivateKey, load_private_key, read_passphrase, write_private
from certs.names import dn_string
from certs.pkcs12 import export_pkcs12, load_pkcs12
from certs.revocation import REASONS, Revoked, build_crl
from certs.smime_crypt import CBC, GCM, decrypt_message, encrypt_message
from certs.smime_sign import sign_message
from certs.smime_verify import verify_message
from certs.trust import TrustStore
from mssante import pki_store
from mssante.settings import Settings
from storage.engine import Database

T = TypeVar("T")
_PASSPHRASE = click.option(
    "--passphrase-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"File holding the CA key passphrase (default: ${pki_store.PASSPHRASE_ENV}, else <data_dir>/pki/passphrase).",
)
_ALGORITHM = click.option(
    "--algorithm", type=click.Choice([a.value for a in KeyAlgorithm]), default=KeyAlgorithm.RSA2048.value,
    show_default=True, help="Key type of the new certificate.",
)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise click.ClickException(f"invalid settings: {error}") from None


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except CertsError as error:
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        raise click.ClickException(f"database error ({type(error).__name__}); has `mssante init` run?") from None


def _with_db(settings: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    async def runner() -> T:
        database = Database(settings.effective_database_url)
        try:
            return await action(database)
        finally:
            await database.dispose()

    with _errors():
        return asyncio.run(runner())


def _record(settings: Settings, hierarchy: Hierarchy, issued: Issued, passphrase: bytes) -> None:
    async def action(database: Database) -> None:
        async with database.write() as session:
            await pki_store.record_issued(session, issued)

    _with_db(settings, action)
    cert_path, key_path = save_issued(hierarchy, issued, passphrase)
    click.echo(f"issued {issued.profile.value} certificate serial {issued.serial_hex}")
    click.echo(f"  subject     {dn_string(issued.certificate.subject)}")
    click.echo(f"  certificate {cert_path}")
    click.echo(f"  key         {key_path} (encrypted with the CA passphrase; use `mssante pki export` for PKCS#12)")


# mssante pki ------------------------------------------------------------------------------------------------------


@click.group("pki")
def pki() -> None:
    """The health PKI: a root CA and intermediates for persons, organisations and servers."""


@pki.command("init")
@click.option("--base-url", default=None, help="Public URL of /pki (CRL, OCSP, AIA); default http://<hostname>:<http_port>/pki.")
@click.option("--organisation", default="mssante-gateway", show_default=True, help="O= of the CA certificates.")
@click.option("--operator-id", default="4000000000", show_default=True, help="Operator's structure id (servers).")
@click.option("--operator-department", default="Paris (75)", show_default=True, help="ST= of server certificates.")
@click.option(
    "--algorithm", type=click.Choice([a.value for a in KeyAlgorithm]), default=KeyAlgorithm.RSA3072.value,
    show_default=True, help="Key type of the CAs.",
)
@_PASSPHRASE
def init(
    base_url: str | None, organisation: str, operator_id: str, operator_department: str, algorithm: str,
    passphrase_file: Path | None,
) -> None:
    """Create the root and intermediate CAs under <data_dir>/pki (refuses to overwrite)."""
    settings = _settings()
    directory = pki_store.pki_dir(settings)
    path = pki_store.passphrase_file(settings, passphrase_file)
    with _errors():
        passphrase = pki_store.new_passphrase_file(path) if path == directory / "passphrase" else read_passphrase(path)
        hierarchy = create_hierarchy(
            directory, passphrase, base_url=base_url or pki_store.default_base_url(settings),
            organisation=organisation, algorithm=KeyAlgorithm(algorithm),
        )
    pki_store.write_operator(settings, operator_id, organisation, operator_department)
    click.echo(f"PKI created in {directory} (CA keys encrypted with the passphrase in {path})")
    for name, authority in hierarchy.authorities.items():
        click.echo(f"  {name:<14} {dn_string(authority.certificate.subject)}")


@pki.group("issue")
def issue() -> None:
    """Issue a certificate (person, org or server) and record it."""


def _loaded(settings: Settings, passphrase_file: Path | None) -> tuple[Hierarchy, bytes]:
    with _errors():
        passphrase = read_passphrase(pki_store.passphrase_file(settings, passphrase_file))
        return pki_store.load_pki(settings, with_keys=True, passphrase_path=passphrase_file), passphrase


@issue.command("person")
@click.option("--idnat", required=True, help="idNat_PS: 8 + RPPS or 0 + ADELI.")
@click.option("--surname", required=True)
@click.option("--given", required=True, help="Given name.")
@click.option("--profession", required=True, help="Profession label (title=).")
@click.option("--email", default=None, help="Mailbox address (rfc822Name); required for sign and encrypt.")
@click.option("--usage", type=click.Choice(["auth", "sign", "encrypt"]), default="sign", show_default=True)
@_ALGORITHM
@_PASSPHRASE
def issue_person_command(
    idnat: str, surname: str, given: str, profession: str, email: str | None, usage: str, algorithm: str,
    passphrase_file: Path | None,
) -> None:
    """A professional's certificate (CN=idNat+SN+GN, title, C=FR)."""
    settings = _settings()
    hierarchy, passphrase = _loaded(settings, passphrase_file)
    with _errors():
        issued = issue_person(
            hierarchy, usage, idnat=idnat, surname=surname, given_name=given, profession=profession,
            email=email, algorithm=KeyAlgorithm(algorithm),
        )
    _record(settings, hierarchy, issued, passphrase)


@issue.command("org")
@click.option("--structure-id", required=True, help="1 + FINESS, 3 + SIRET or 4 + SIREN.")
@click.option("--name", required=True, help="Service or application name (CN=).")
@click.option("--email", default=None, help="Mailbox address (rfc822Name); required for sign and encrypt.")
@click.option("--legal-name", default=None, help="Legal name of the structure (O=); default: --name.")
@click.option("--department", default=None, help="ST=, e.g. 'Paris (75)'; default: from the FINESS.")
@click.option("--usage", type=click.Choice(["auth", "sign", "encrypt"]), default="sign", show_default=True)
@_ALGORITHM
@_PASSPHRASE
def issue_org_command(
    structure_id: str, name: str, email: str | None, legal_name: str | None, department: str | None, usage: str,
    algorithm: str, passphrase_file: Path | None,
) -> None:
    """An organisation certificate (CN, OU=structure id, O, ST, C=FR)."""
    settings = _settings()
    hierarchy, passphrase = _loaded(settings, passphrase_file)
    if not department and not structure_id.startswith("1"):
        raise click.ClickException("--department is needed when the structure id is not a FINESS")
    department = department or f"Département ({structure_id[1:3]})"  # a FINESS starts with its département
    with _errors():
        issued = issue_organisation(
            hierarchy, usage, structure_id=structure_id, name=name, legal_name=legal_name or name,
            department=department, email=email, algorithm=KeyAlgorithm(algorithm),
        )
    _record(settings, hierarchy, issued, passphrase)


@issue.command("server")
@click.option("--host", required=True, help="MTA host name (CN= and dNSName).")
@click.option("--alt-host", multiple=True, help="Other dNSName entries (repeatable).")
@_ALGORITHM
@_PASSPHRASE
def issue_server_command(host: str, alt_host: tuple[str, ...], algorithm: str, passphrase_file: Path | None) -> None:
    """An MTA certificate for TLS server and client (mutual TLS between operators)."""
    settings = _settings()
    hierarchy, passphrase = _loaded(settings, passphrase_file)
    with _errors():
        operator = pki_store.operator(settings)
    with _errors():
        issued = issue_server(
            hierarchy, host=host, extra_hosts=alt_host, structure_id=operator["structure_id"],
            legal_name=operator["legal_name"], department=operator["department"], algorithm=KeyAlgorithm(algorithm),
        )
    _record(settings, hierarchy, issued, passphrase)


@pki.command("revoke")
@click.argument("serial")
@click.option("--reason", type=click.Choice(list(REASONS)), required=True, help="RFC 5280 §5.3.1 reason.")
def revoke(serial: str, reason: str) -> None:
    """Revoke a certificate; the CRL and the OCSP responder show it at once."""
    settings = _settings()

    async def action(database: Database) -> str:
        async with database.write() as session:
            row = await pki_store.revoke(session, serial, reason)
            return row.serial

    click.echo(f"revoked {_with_db(settings, action)} ({reason})")


@pki.command("crl")
@_PASSPHRASE
def crl(passphrase_file: Path | None) -> None:
    """Sign a fresh CRL for every CA into <data_dir>/pki/crl/<ca>.crl (DER)."""
    settings = _settings()
    hierarchy, _ = _loaded(settings, passphrase_file)
    registry_revoked = _with_db(settings, lambda db: _all_revoked(db, hierarchy))
    folder = hierarchy.directory / "crl"
    folder.mkdir(exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    for name, authority in hierarchy.authorities.items():
        with _errors():
            signed = build_crl(authority, registry_revoked[name], now=now)
        path = folder / f"{name}.crl"
        path.write_bytes(signed.public_bytes(serialization.Encoding.DER))
        count = len(registry_revoked[name])
        click.echo(f"{path}  {count} revoked, next update {signed.next_update_utc:%Y-%m-%d %H:%M}Z")


async def _all_revoked(database: Database, hierarchy: Hierarchy) -> dict[str, list[Revoked]]:
    registry = pki_store.DatabaseRegistry(database)
    return {name: list(await registry.revoked(name)) for name in hierarchy.authorities}


@pki.command("list")
def list_command() -> None:
    """Every issued certificate: serial (hex), profile, validity, status, subject."""
    settings = _settings()

    async def action(database: Database) -> list[str]:
        async with database.read() as session:
            return [pki_store.describe(row) for row in await pki_store.list_certificates(session)]

    for line in _with_db(settings, action):
        click.echo(line)


def _read_secret(path: Path | None, prompt: str, *, confirm: bool) -> bytes:
    if path is not None:
        with _errors():
            return read_passphrase(path)
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)).encode()


@pki.command("export")
@click.argument("serial")
@click.option("--pkcs12", "output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--legacy", is_flag=True, help="3DES/SHA-1 protection for old Windows and macOS importers.")
@_PASSPHRASE
def export(serial: str, output: Path, password_file: Path | None, legacy: bool, passphrase_file: Path | None) -> None:
    """Write a password-protected PKCS#12 (Thunderbird, Outlook) with the key and chain."""
    settings = _settings()
    hierarchy, passphrase = _loaded(settings, passphrase_file)
    password = _read_secret(password_file, "PKCS#12 password", confirm=True)
    with _errors():
        certificate, key, chain = load_issued(hierarchy, serial, passphrase)
        data = export_pkcs12(certificate, key, chain, password, legacy=legacy)
    write_private(output, data)
    click.echo(f"wrote {output}")


@pki.command("ca-bundle")
def ca_bundle() -> None:
    """Print the trust anchor and the intermediates as PEM."""
    with _errors():
        hierarchy = pki_store.load_pki(_settings(), with_keys=False)
    click.echo(hierarchy.bundle_pem().decode(), nl=False)


@pki.command("demo")
def demo() -> None:
    """Create the PKI if needed and PKCS#12 certificates for the demo mailboxes (development; idempotent)."""
    settings = _settings()
    for path in _with_db(settings, lambda db: pki_store.ensure_demo_pki(settings, db)):
        click.echo(f"wrote {path}")
    click.echo(f"PKCS#12 passwords: {pki_store.pki_dir(settings) / pki_store.DEMO_PASSWORDS}")


# mssante smime ----------------------------------------------------------------------------------------------------


def _identity(
    cert: Path | None, key: Path | None, key_password_file: Path | None, pkcs12: Path | None, password_file: Path | None
) -> tuple[x509.Certificate, PrivateKey, list[x509.Certificate]]:
    with _errors():
        if pkcs12 is not None:
            return load_pkcs12(pkcs12.read_bytes(), _read_secret(password_file, "PKCS#12 password", confirm=False))
        if cert is None or key is None:
            raise click.UsageError("give --cert and --key, or --pkcs12")
        certificates = x509.load_pem_x509_certificates(cert.read_bytes())
        password = read_passphrase(key_password_file) if key_password_file else None
        return certificates[0], load_private_key(key.read_bytes(), password), certificates[1:]


def _identity_options(function: Callable[..., None]) -> Callable[..., None]:
    path = click.Path(dir_okay=False, exists=True, path_type=Path)
    for option in reversed(
        [
            click.option("--cert", type=path, help="PEM certificate (followed by its chain)."),
            click.option("--key", type=path, help="PEM private key."),
            click.option("--key-password-file", type=path, help="Passphrase of an encrypted --key."),
            click.option("--pkcs12", type=path, help="PKCS#12 file with certificate, key and chain."),
            click.option("--password-file", type=path, help="Password of --pkcs12 (asked when absent)."),
        ]
    ):
        function = option(function)
    return function


_MESSAGE = click.argument("message", type=click.Path(dir_okay=False, exists=True, path_type=Path))


@click.group("smime")
def smime() -> None:
    """S/MIME operator tools over an RFC 5322 message file; results go to standard output."""


@smime.command("sign")
@_MESSAGE
@_identity_options
@click.option("--opaque", is_flag=True, help="application/pkcs7-mime instead of multipart/signed.")
def smime_sign(message: Path, opaque: bool, **identity: Path | None) -> None:
    """Sign MESSAGE (SHA-256; detached multipart/signed unless --opaque)."""
    certificate, key, chain = _identity(**identity)
    with _errors():
        sys.stdout.buffer.write(sign_message(message.read_bytes(), certificate, key, chain, detached=not opaque))


@smime.command("verify")
@_MESSAGE
@click.option("--ca-bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Trust these PEM certificates instead of our PKI (and its revocations).")
def smime_verify(message: Path, ca_bundle: Path | None) -> None:
    """Print the verdict of MESSAGE's signature; exit 0 only when it is valid."""
    settings = _settings()
    if ca_bundle is not None:
        trust = TrustStore.from_pem(ca_bundle.read_bytes())
    else:
        trust = _with_db(settings, lambda db: pki_store.load_trust(settings, db))
    verdict = verify_message(message.read_bytes(), trust)
    click.echo(f"{verdict.status.value}: {verdict.reason}")
    if verdict.signer is not None:
        signer = verdict.signer
        click.echo(f"signer: {signer.name} ({signer.kind or '?'} {signer.owner_id or '-'}) "
                   f"<{', '.join(signer.emails) or '-'}> serial {signer.serial}")
    sys.exit(0 if verdict.valid else 1)


@smime.command("encrypt")
@_MESSAGE
@click.option("--recipient", "recipients", multiple=True, required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Recipient PEM certificate.")
@click.option("--gcm", is_flag=True, help="AES-256-GCM AuthEnvelopedData (RFC 5083) instead of AES-256-CBC.")
def smime_encrypt(message: Path, recipients: tuple[Path, ...], gcm: bool) -> None:
    """Encrypt MESSAGE to the recipients' certificates."""
    with _errors():
        certificates = [x509.load_pem_x509_certificates(path.read_bytes())[0] for path in recipients]
        sys.stdout.buffer.write(encrypt_message(message.read_bytes(), certificates, algorithm=GCM if gcm else CBC))


@smime.command("decrypt")
@_MESSAGE
@_identity_options
def smime_decrypt(message: Path, **identity: Path | None) -> None:
    """Decrypt MESSAGE with the recipient's certificate and key."""
    certificate, key, _chain = _identity(**identity)
    with _errors():
        sys.stdout.buffer.write(decrypt_message(message.read_bytes(), certificate, key))
