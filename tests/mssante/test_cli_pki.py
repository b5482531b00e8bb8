"""``mssante pki`` and ``mssante smime`` end to end, with the real openssl reading what they write."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mssante.cli import main

ALICE = "alice.martin@mssante.localhost"


class Cli:
    def __init__(self, data_dir: Path, db_url: str) -> None:
        self.env = {
            "MSSANTE_DATA_DIR": str(data_dir),
            "MSSANTE_DATABASE_URL": db_url,
            "MSSANTE_PKI_PASSPHRASE_FILE": "",
        }
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, stdin: str | None = None) -> Result:
        result = self.runner.invoke(main, list(args), env=self.env, input=stdin, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result


def _serial(output: str) -> str:
    match = re.search(r"serial ([0-9A-F]+)", output)
    assert match is not None, output
    return match.group(1)


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=60, check=False)


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Cli:
    cli = Cli(tmp_path / "var", db_url)
    cli("pki", "init", "--algorithm", "p256", "--base-url", "http://pki.mssante.localhost/pki")
    return cli


def test_issue_list_export_sign_verify_revoke(cli: Cli, tmp_path: Path) -> None:
    sign = _serial(
        cli(
            "pki",
            "issue",
            "person",
            "--idnat",
            "810001234567",
            "--surname",
            "MARTIN",
            "--given",
            "Alice",
            "--profession",
            "Médecin",
            "--email",
            ALICE,
            "--usage",
            "sign",
        ).output
    )
    org = _serial(
        cli(
            "pki",
            "issue",
            "org",
            "--structure-id",
            "1750000001",
            "--name",
            "Cardiologie",
            "--email",
            "cardiologie@mssante.localhost",
        ).output
    )
    server = _serial(cli("pki", "issue", "server", "--host", "mx.mssante.localhost").output)
    lines = cli("pki", "list").output.splitlines()
    assert [line.split()[0] for line in lines] == [sign, org, server]
    assert "person-sign" in lines[0] and "valid" in lines[0] and "GN=Alice+SN=MARTIN+CN=810001234567" in lines[0]
    assert "OU=1750000001" in lines[1] and "ST=Département (75)" in lines[1]
    assert "CN=mx.mssante.localhost,OU=4000000000" in lines[2]

    password = tmp_path / "password"
    password.write_text("correct horse\n")
    p12 = tmp_path / "alice.p12"
    cli("pki", "export", sign, "--pkcs12", str(p12), "--password-file", str(password))
    read = _openssl("pkcs12", "-in", p12, "-passin", f"file:{password}", "-nokeys", "-info")
    assert read.returncode == 0 and b"MAC: sha256" in read.stderr
    prompted = tmp_path / "prompted.p12"
    cli("pki", "export", sign, "--pkcs12", str(prompted), stdin="typed pw\ntyped pw\n")
    assert _openssl("pkcs12", "-in", prompted, "-passin", "pass:typed pw", "-noout").returncode == 0

    message = tmp_path / "message.eml"
    message.write_bytes(f"From: {ALICE}\nTo: bob@mssante.localhost\nSubject: test\n\nBonjour\n".encode())
    signed = tmp_path / "signed.eml"
    signed.write_bytes(
        cli("smime", "sign", str(message), "--pkcs12", str(p12), "--password-file", str(password)).stdout_bytes
    )
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(cli("pki", "ca-bundle").output)
    assert bundle.read_text().count("BEGIN CERTIFICATE") == 4
    assert _openssl("cms", "-verify", "-in", signed, "-CAfile", bundle).returncode == 0
    verified = cli("smime", "verify", str(signed))
    assert verified.output.startswith("valid:") and "810001234567" in verified.output

    cli("pki", "revoke", sign, "--reason", "keyCompromise")
    refused = cli("smime", "verify", str(signed), code=1)
    assert refused.output.startswith("revoked:") and "keyCompromise" in refused.output
    assert cli("smime", "verify", str(signed), "--ca-bundle", str(bundle)).output.startswith("valid:")
    assert cli("smime", "verify", str(message), code=1).output.startswith("unsigned:")
    assert "revoked" in cli("pki", "list").output.splitlines()[0]
    cli("pki", "revoke", sign, "--reason", "superseded", code=1)

    crl_output = cli("pki", "crl").output
    assert "persons.crl  1 revoked" in crl_output
    crl = tmp_path / "var" / "pki" / "crl" / "persons.crl"
    text = _openssl("crl", "-inform", "DER", "-in", crl, "-CAfile", bundle, "-noout", "-text")
    assert b"verify OK" in text.stderr and sign.encode() in text.stdout


def test_smime_encrypt_decrypt_with_pem_files(cli: Cli, tmp_path: Path) -> None:
    serial = _serial(
        cli(
            "pki",
            "issue",
            "person",
            "--idnat",
            "810001234567",
            "--surname",
            "MARTIN",
            "--given",
            "Alice",
            "--profession",
            "Médecin",
            "--email",
            ALICE,
            "--usage",
            "encrypt",
        ).output
    )
    issued = tmp_path / "var" / "pki" / "issued"
    passphrase = tmp_path / "var" / "pki" / "passphrase"
    message = tmp_path / "message.eml"
    message.write_bytes(b"From: x@mssante.localhost\nTo: " + ALICE.encode() + b"\nSubject: s\n\nSecret\n")
    for flags in ([], ["--gcm"]):
        encrypted = tmp_path / "encrypted.eml"
        encrypted.write_bytes(
            cli("smime", "encrypt", str(message), "--recipient", str(issued / f"{serial}.pem"), *flags).stdout_bytes
        )
        assert b"Secret" not in encrypted.read_bytes()
        opened = cli(
            "smime",
            "decrypt",
            str(encrypted),
            "--cert",
            str(issued / f"{serial}.pem"),
            "--key",
            str(issued / f"{serial}.key"),
            "--key-password-file",
            str(passphrase),
        ).stdout_bytes
        assert opened.endswith(b"\r\n\r\nSecret\r\n")


def test_operator_mistakes_are_clear_errors(cli: Cli, tmp_path: Path) -> None:
    bad = cli(
        "pki",
        "issue",
        "person",
        "--idnat",
        "123",
        "--surname",
        "X",
        "--given",
        "Y",
        "--profession",
        "Z",
        "--email",
        ALICE,
        code=1,
    )
    assert "idNat" in bad.output
    assert "already exists" in cli("pki", "init", code=1).output
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    refused = cli("pki", "issue", "server", "--host", "x.example", "--passphrase-file", str(wrong), code=1)
    assert "cannot be decrypted" in refused.output
    assert "no certificate with serial" in cli("pki", "revoke", "ABC", "--reason", "superseded", code=1).output


def test_demo_certificates_are_idempotent_and_open(tmp_path: Path, db_url: str) -> None:
    cli = Cli(tmp_path / "var", db_url)
    written = [line.split()[-1] for line in cli("pki", "demo").output.splitlines() if line.startswith("wrote")]
    assert len(written) == 12  # four demo mailboxes x (auth, sign, encrypt)
    assert not [line for line in cli("pki", "demo").output.splitlines() if line.startswith("wrote")]
    passwords = json.loads((tmp_path / "var" / "pki" / "demo-pkcs12-passwords.json").read_text())
    first = Path(written[0])
    opened = _openssl("pkcs12", "-in", first, "-passin", f"pass:{passwords[first.name]}", "-nokeys")
    assert opened.returncode == 0 and b"CN=810001234567" in opened.stdout
    listed = cli("pki", "list").output.splitlines()
    assert len(listed) == 13 and sum(" server " in line for line in listed) == 1  # and our MTA's certificate
