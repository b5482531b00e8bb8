"""docker-compose.yml and the Dockerfile stay consistent with the settings (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path

from mssante.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_variables_are_settings() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    names = set(re.findall(r"^\s+(MSSANTE_[A-Z_]+):", text, re.MULTILINE))
    assert names, "no MSSANTE_ variables found"
    fields = {f"MSSANTE_{name.upper()}" for name in Settings.model_fields}
    assert names <= fields, f"unknown settings in docker-compose.yml: {sorted(names - fields)}"


def test_compose_ports_match_the_port_settings() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    published = set(re.findall(r'- "\d+:(\d+)"', text))
    configured = set(re.findall(r'MSSANTE_[A-Z_]*PORT: "(\d+)"', text))
    assert published == configured


def test_dockerfile_copies_every_package() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for package in ("certs", "policies", "storage", "directory", "mail_gateway", "patient_inbox", "mssante"):
        assert f"COPY {package} {package}" in text
