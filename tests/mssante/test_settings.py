from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mssante.settings import Settings
from patient_inbox.config import PatientSettings


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSSANTE_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.domains == ["mssante.localhost"]
    assert settings.patient_domain == "patient.mssante.localhost"
    assert (settings.smtp_mx_port, settings.smtp_submission_port, settings.smtps_port) == (2525, 2587, 2465)
    assert (settings.imap_port, settings.imaps_port, settings.http_port) == (2143, 2993, 8080)
    assert settings.max_message_size == 25 * 1024 * 1024
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'mssante.db'}"


def test_toml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSSANTE_DATA_DIR", str(tmp_path))
    (tmp_path / "mssante.toml").write_text('domains = ["ch-exemple.example"]\nsmtp_mx_port = 25\nhttp_port = 9000\n')
    monkeypatch.setenv("MSSANTE_HTTP_PORT", "0")
    monkeypatch.setenv("MSSANTE_DOMAINS", "A.example, b.example")
    settings = Settings()
    assert settings.smtp_mx_port == 25  # from the file
    assert settings.http_port == 0  # the environment wins over the file
    assert settings.domains == ["a.example", "b.example"]


def test_unknown_and_invalid_settings_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSSANTE_DATA_DIR", str(tmp_path))
    (tmp_path / "mssante.toml").write_text("smtp_mx_prot = 25\n")
    with pytest.raises(ValidationError, match="smtp_mx_prot"):
        Settings()
    (tmp_path / "mssante.toml").write_text("domains = []\n")
    with pytest.raises(ValidationError, match="at least one local domain"):
        Settings()


def test_patient_settings_are_declared_in_the_main_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSSANTE_DATA_DIR", str(tmp_path))
    (tmp_path / "mssante.toml").write_text('notify_smarthost = "127.0.0.1:2526"\nreply_max_attachments = 3\n')
    main, patient = Settings(), PatientSettings()
    for name in PatientSettings.model_fields:
        assert name in Settings.model_fields, name
        assert getattr(main, name) == getattr(patient, name), name
    assert patient.notify_smarthost == "127.0.0.1:2526" and patient.reply_max_attachments == 3
