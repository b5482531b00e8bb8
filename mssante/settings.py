"""Settings: ``mssante.toml`` in the data directory, overridden by ``MSSANTE_*`` environment variables.

Precedence (highest first): explicit keyword arguments, environment variables, ``<DATA_DIR>/mssante.toml``,
defaults. ``DATA_DIR`` itself comes from the environment (``MSSANTE_DATA_DIR``) or defaults to ``./var``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from patient_inbox.config import PatientSettings

MiB = 1024 * 1024


def _default_data_dir() -> Path:
    return Path(os.environ.get("MSSANTE_DATA_DIR", "var")).resolve()


class Settings(PatientSettings):
    model_config = SettingsConfigDict(env_prefix="MSSANTE_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = ""  # empty: SQLite file in the data directory
    domains: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["mssante.localhost"])
    patient_domain: str = "patient.mssante.localhost"
    hostname: str = "mx.mssante.localhost"  # our MTA's name in greetings and Received: headers
    listen_host: str = "127.0.0.1"
    smtp_mx_port: int = 2525
    smtp_submission_port: int = 2587
    smtps_port: int = 2465
    imap_port: int = 2143
    imaps_port: int = 2993
    http_port: int = 8080
    max_message_size: int = 25 * MiB
    max_recipients: int = 100
    default_quota_bytes: int = 2048 * MiB
    smtp_idle_timeout: float = 300.0  # RFC 5321 §4.5.3.2.7: 5 minutes between commands
    smtp_max_bad_commands: int = 20
    tls_cert: Path | None = None  # empty: a development certificate is made in the data directory
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    auth_max_failures: int = 5  # failed logins per address or per IP within the window before throttling
    auth_failure_window: float = 300.0
    loopback_is_secure: bool = True  # Dovecot-style: plaintext login from 127.0.0.0/8 and ::1 (IMAP)
    log_format: str = "console"  # console or json
    shutdown_grace: float = 30.0
    # The patient inbox's settings (notify_smarthost, patient_session_*, reply_max_*, ...) are inherited from
    # patient_inbox.config.PatientSettings, which reads them from the same sources: declared once, there.

    @field_validator("domains", mode="before")
    @classmethod
    def _split_domains(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("domains")
    @classmethod
    def _lower_domains(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one local domain is needed")
        return [domain.lower().rstrip(".") for domain in value]

    @field_validator("patient_domain", "hostname")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower().rstrip(".")

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

    # Derived locations -------------------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'mssante.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def ports_file(self) -> Path:
        return self.data_dir / "ports.json"

    def is_local_domain(self, domain: str) -> bool:
        return domain.lower().rstrip(".") in self.domains
