"""The ``mssante`` command run for real as a subprocess against a data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def mssante(data_dir: Path, *args: str, stdin: str = "", db_url: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MSSANTE_DATA_DIR": str(data_dir)}
    if db_url:
        env["MSSANTE_DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "mssante", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_init_is_idempotent_and_mailbox_lifecycle(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "var"
    for _ in range(2):
        result = mssante(data, "init", db_url=db_url)
        assert result.returncode == 0, result.stderr
        assert "schema is current" in result.stdout
    add = mssante(data, "mailbox", "add", "Dr.Martin@MSSante.localhost", "--type", "PER", "--name", "Dr MARTIN",
                  "--owner", "810001234567", "--password-stdin", stdin="a long enough password\n", db_url=db_url)
    assert add.returncode == 0, add.stderr
    assert "created dr.martin@mssante.localhost" in add.stdout
    again = mssante(data, "mailbox", "add", "dr.martin@mssante.localhost", "--type", "PER", "--name", "X",
                    "--owner", "810001234567", "--password-stdin", stdin="a long enough password\n", db_url=db_url)
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    short = mssante(data, "mailbox", "add", "x@mssante.localhost", "--type", "ORG", "--name", "X",
                    "--owner", "1750000001", "--password-stdin", stdin="short\n", db_url=db_url)
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    bad_owner = mssante(data, "mailbox", "add", "y@mssante.localhost", "--type", "PER", "--name", "Y",
                        "--owner", "42", "--password-stdin", stdin="a long enough password\n", db_url=db_url)
    assert bad_owner.returncode == 1 and "idNat_PS" in bad_owner.stderr
    assert mssante(data, "mailbox", "suspend", "dr.martin@mssante.localhost", db_url=db_url).returncode == 0
    listing = mssante(data, "mailbox", "list", db_url=db_url).stdout
    assert "dr.martin@mssante.localhost\tPER\t810001234567\tsuspended" in listing
    assert mssante(data, "mailbox", "resume", "dr.martin@mssante.localhost", db_url=db_url).returncode == 0
    assert mssante(data, "mailbox", "passwd", "dr.martin@mssante.localhost", "--password-stdin",
                   stdin="another long password\n", db_url=db_url).returncode == 0
    missing = mssante(data, "mailbox", "suspend", "nobody@mssante.localhost", db_url=db_url)
    assert missing.returncode == 1 and "there is no mailbox" in missing.stderr


def test_serve_refuses_an_uninitialised_database(tmp_path: Path) -> None:
    result = mssante(tmp_path / "empty", "serve")
    assert result.returncode == 1
    assert "run `mssante init` first" in result.stderr and "Traceback" not in result.stderr


def test_init_demo_creates_mailboxes_pki_and_a_patient_once(tmp_path: Path) -> None:
    data = tmp_path / "var"
    first = mssante(data, "init", "--demo")
    assert first.returncode == 0, first.stderr
    assert "alice.martin@mssante.localhost:" in first.stdout
    assert (data / "pki" / "demo" / "alice.martin@mssante.localhost-sign.p12").exists()
    assert "demo directory: 2,002 practitioners" in first.stdout  # generated and imported once
    again = mssante(data, "init", "--demo")
    assert again.returncode == 0, again.stderr
    assert "demo directory" not in again.stdout
    passwords = [line for line in first.stdout.splitlines() if "@mssante.localhost:" in line]
    assert len(passwords) == 4 and passwords == [line for line in again.stdout.splitlines() if line in passwords]
    found = mssante(data, "directory", "search", "martin")
    assert found.returncode == 0 and found.stdout.count("MARTIN") >= 3, found.stdout + found.stderr
    assert "810001234567  Alice MARTIN — Médecin (Cardiologie et maladies vasculaires) — CH Exemple, 75012 Paris" \
        in found.stdout
    # every demo mailbox resolves to its owner in the demo directory
    owners = {address: mssante(data, "directory", "resolve", address) for address in (
        "alice.martin@mssante.localhost", "jean-pierre.durand@mssante.localhost",
        "cardiologie.ch-exemple@mssante.localhost", "labo-biologie@mssante.localhost")}
    assert all(result.returncode == 0 for result in owners.values()), {a: r.stderr for a, r in owners.items()}
    assert "PER  person 810001234567  Alice MARTIN — Médecin (Cardiologie et maladies vasculaires) — CH Exemple" \
        in owners["alice.martin@mssante.localhost"].stdout
    printed = {address.split("@")[0]: result.stdout for address, result in owners.items()}
    assert "person 810009876543  Jean-Pierre DURAND — Infirmier" in printed["jean-pierre.durand"]
    assert "ORG  structure 1750000001  Cardiologie – CH Exemple" in printed["cardiologie.ch-exemple"]
    assert "APP  structure 1750000002  Laboratoire de biologie – CH Exemple" in printed["labo-biologie"]
    unknown = mssante(data, "directory", "resolve", "nobody@mssante.localhost")
    assert unknown.returncode == 1 and "is not in the directory" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    patients = mssante(data, "patient", "list")
    assert len([line for line in patients.stdout.splitlines() if line.startswith("284037512345640")]) == 1
