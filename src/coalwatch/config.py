"""Settings from ``COALWATCH_*`` environment variables, optionally a TOML file.

``COALWATCH_CONFIG`` names a TOML file whose keys are the field names below;
environment variables win over the file.
"""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COALWATCH_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="", description="SQLAlchemy URL; default SQLite under ./var/coalwatch.db"
    )
    timezone: str = Field(default="Asia/Shanghai", description="deployment time zone")
    var_dir: Path = Field(default=DEFAULT_VAR_DIR, description="where SQLite and files live")
    clock_skew_s: int = Field(default=60, ge=1, description="tolerated station clock skew")
    max_batch_records: int = Field(default=5000, ge=1, description="records per upload at most")
    log_level: str = "INFO"
    #: run the timed rules and notification delivery in the server process
    jobs: bool = True
    jobs_interval_s: float = Field(default=10.0, gt=0, le=60)
    #: signs the session cookies; when empty one is generated and kept in var/secret_key
    secret_key: str = Field(default="", repr=False)
    #: send the session cookie over HTTPS only (set it when the center is behind TLS)
    https_only: bool = False
    #: a session ends this long after sign-in
    session_hours: int = Field(default=12, ge=1, le=168)
    #: failed sign-ins in a row that lock an account, and for how long
    login_max_failures: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    #: a password older than this must be changed at sign-in (0: never)
    password_max_age_days: int = Field(default=90, ge=0)
    #: the UI language for users who have not chosen one
    default_locale: str = Field(default="zh_CN", pattern=r"^(zh_CN|en)$")
    #: the upstream center this one forwards to 上级中心 (empty: none)
    upstream_url: str = ""
    #: this center's code at its upstream, and its Ed25519 private key (PEM)
    center_code: str = ""
    center_key_file: Path | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'coalwatch.db').as_posix()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("COALWATCH_CONFIG")
        if not path:
            return {}
        with open(path, "rb") as handle:
            return tomllib.load(handle)


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
