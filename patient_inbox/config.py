"""Settings of the patient side, declared once here: ``mssante.settings.Settings`` inherits them.

Read from ``MSSANTE_*`` environment variables and ``<DATA_DIR>/mssante.toml`` like the main settings, ignoring
every key that is not ours (the main settings refuse unknown keys), so the patient package can read its
settings without depending on the composition root.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

MiB = 1024 * 1024


class PatientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MSSANTE_", extra="ignore")

    notify_smarthost: str = ""  # host:port of the relay for notification emails; empty: notifications are off
    notify_from: str = ""  # empty: ne-pas-repondre@<patient domain>
    public_url: str = ""  # the inbox's public address, named in notifications (e.g. https://patient.example)
    patient_session_idle: float = 15 * 60.0  # seconds without a request before the session ends
    patient_session_max_age: float = 12 * 3600.0  # seconds after login before a new login is needed
    # seconds a logged-in session, once read, is trusted from this process's memory (0: read it at every page);
    # a logout done by another process or node is seen here at most this late
    patient_session_cache: float = 5.0
    patient_ip_failures: int = 30  # failed logins from one IP within the window before throttling
    patient_ip_window: float = 15 * 60.0
    reply_max_bytes: int = 10 * MiB  # text plus attachments of one reply
    reply_max_attachments: int = 5
    reply_max_text: int = 20_000  # characters

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        data_dir = Path(os.environ.get("MSSANTE_DATA_DIR", "var"))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=data_dir / "mssante.toml")
        return (init_settings, env_settings, toml)
