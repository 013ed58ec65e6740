"""Settings from ``COALWATCH_*`` environment variables, optionally a TOML file.

``COALWATCH_CONFIG`` names a TOML file whose keys are the field names below;
environment variables win over the file.
"""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

if TYPE_CHECKING:
    from coalwatch.storage.session import DbTimeouts

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
    #: a request body at most (bytes): larger ones are refused (413) before being read
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    #: a signed upload (a station's or a downstream center's batch) at most (bytes)
    max_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    #: group commit of station uploads (ingest/committer.py): a group holds at most this
    #: many batches, and waits at most this long for more once it holds one (1: a batch a
    #: transaction)
    ingest_group_batches: int = Field(default=32, ge=1, le=1000)
    ingest_group_wait_ms: float = Field(default=5.0, ge=0, le=1000)
    #: committer threads per process on PostgreSQL (a station's batches always take the
    #: same one): more overlap one group's database round trips with another's. SQLite
    #: has one writer at a time, so it always uses one
    ingest_committers: int = Field(default=4, ge=1, le=64)
    #: uploads waiting for their commit at most (per process): more are answered 503
    #: ``busy`` with ``Retry-After``
    ingest_queue: int = Field(default=1000, ge=1)
    log_level: str = "INFO"
    #: the longest the center waits on its database before it answers 503 (the station
    #: retries): to connect, for a statement, for a lock, for a pooled connection; on
    #: SQLite the lock limit is its busy timeout
    db_connect_timeout_s: int = Field(default=3, ge=2, le=60)
    db_statement_timeout_s: float = Field(default=8.0, gt=0, le=600)
    db_lock_timeout_s: float = Field(default=5.0, gt=0, le=600)
    db_pool_timeout_s: float = Field(default=3.0, gt=0, le=600)
    #: run the timed rules and notification delivery in the server process
    jobs: bool = True
    jobs_interval_s: float = Field(default=10.0, gt=0, le=60)
    #: with two centers on one database the jobs run on the holder of a lease that lasts
    #: this long after its last renewal (renewed every quarter of it; jobs/leader.py)
    jobs_lease_s: float = Field(default=20.0, gt=0, le=60)
    #: serve over HTTPS: the certificate (PEM, with its chain) and its private key
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
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
    #: the upstream center's public key (base64, its `center_key.pem`): the decisions it
    #: sends down must carry its signature (empty: taken from the configured URL)
    upstream_public_key: str = ""
    #: 区域监管: a day's report not submitted (all three signatures) by this hour of the next
    #: day, mine-local, is overdue
    report_deadline_hour: int = Field(default=10, ge=1, le=23)
    #: a forward-queue id missing upstream this long, with no older transaction open, is
    #: written off (PostgreSQL: an id taken by a transaction that rolled back)
    forward_write_off_after_s: float = Field(default=300.0, ge=0)
    #: where backups 备份 and their manifests are written (default: var_dir/backups)
    backup_dir: Path | None = None
    #: a backup is made when the newest is this old ("every 3 months"); 0: no schedule
    backup_interval_days: int = Field(default=91, ge=0)
    #: backups older than this are pruned (never the newest); at least 2 years by rule
    backup_retention_days: int = Field(default=730, ge=1)
    #: raw records 原始数据 (PostgreSQL: partitioned by month) are kept this long, then
    #: archived to files and dropped; at least 2 years by rule (0: kept for ever).
    #: The hourly and daily rollups are kept for ever.
    raw_retention_days: int = Field(default=730, ge=0)
    #: monthly partitions made ahead of this month
    raw_partitions_ahead: int = Field(default=2, ge=1, le=24)
    #: where raw archives go (default: var_dir/archives)
    archive_dir: Path | None = None
    #: video 视频监视: a snapshot this often while the point's conveyor runs, and while
    #: it stands (or its state is unknown)
    video_interval_running_s: float = Field(default=60.0, gt=0)
    video_interval_standing_s: float = Field(default=600.0, gt=0)
    #: a camera is looked at (its health checked, the picture not kept) at least this often
    video_check_interval_s: float = Field(default=60.0, gt=0)
    #: a picture darker than this mean luminance (0–255) is black
    video_black_luminance: float = Field(default=16.0, ge=0, le=255)
    #: frames whose mean difference (0–255) is below this are the same; so many in a
    #: row while the conveyor runs make the picture frozen
    video_frozen_difference: float = Field(default=0.5, ge=0, le=255)
    video_frozen_repeats: int = Field(default=3, ge=2)
    #: a camera that has not answered within this is down
    video_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: stored pictures are deleted after this many days, and oldest first above the quota
    video_retention_days: int = Field(default=90, ge=1)
    video_quota_mb: float = Field(default=10240.0, gt=0)
    #: where pictures are stored (default: snapshots/ under var_dir)
    video_dir: Path | None = None
    #: the pictures shown with an alarm: taken this many minutes before and after it
    video_alarm_window_min: int = Field(default=5, ge=1, le=1440)
    #: collection files 数据采集文件 (exchange/): written per mine into this directory (the
    #: delivery directory) when it is set; none: no files
    exchange_dir: Path | None = None
    exchange_encoding: str = Field(default="gb18030", pattern=r"^(gb18030|utf-8)$")
    #: a province's copy of the layout (exchange/layout.toml); none: the one shipped
    exchange_layout_file: Path | None = None
    #: how often each kind is written: real-time, cumulative, 5-minute statistics
    exchange_realtime_s: int = Field(default=30, ge=10, le=60)
    exchange_cumulative_s: int = Field(default=3600, ge=60, le=86400)
    exchange_statistics_s: int = Field(default=300, ge=60, le=3600)
    #: push every file to this server: ftp://USER:PASSWORD@HOST:PORT/DIR or ftps://...
    exchange_ftp_url: str = Field(default="", repr=False)
    #: attempts a round makes before it leaves the files queued for the next round
    exchange_ftp_retries: int = Field(default=3, ge=1, le=10)
    exchange_ftp_timeout_s: float = Field(default=10.0, gt=0, le=120)
    #: another vendor's files are read from this directory (and fetched into it from
    #: exchange_import_ftp_url when set) and accounted as virtual stations
    exchange_import_dir: Path | None = None
    exchange_import_ftp_url: str = Field(default="", repr=False)
    #: take station batches over MQTT too (mqtt://HOST:PORT or mqtts://); none: HTTP only
    mqtt_broker: str = Field(default="", pattern=r"^(mqtts?://.+)?$")
    #: topics: <prefix>/stations/<code>/batches, answers on <prefix>/stations/<code>/answers
    #: third-party gateways' telemetry topics and how their JSON maps to points (TOML;
    #: docs/integrator-guide.en.md, section 11); none: no gateways
    mqtt_gateways_file: Path | None = None
    mqtt_topic_prefix: str = Field(
        default="coalwatch", pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"
    )

    @field_validator("raw_retention_days")
    @classmethod
    def _two_years_at_least(cls, value: int) -> int:
        if 0 < value < 730:
            raise ValueError("raw records are kept at least 2 years (730 days; 0: for ever)")
        return value

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
    def tls(self) -> bool:
        return self.tls_certfile is not None

    @property
    def secure_cookies(self) -> bool:
        """Session cookies are marked Secure when served over TLS or told to be."""
        return self.https_only or self.tls

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'coalwatch.db').as_posix()}"

    @property
    def db_timeouts(self) -> DbTimeouts:
        from coalwatch.storage.session import DbTimeouts

        return DbTimeouts(
            connect=self.db_connect_timeout_s,
            statement=self.db_statement_timeout_s,
            lock=self.db_lock_timeout_s,
            pool=self.db_pool_timeout_s,
        )

    @property
    def snapshot_dir(self) -> Path:
        return self.video_dir if self.video_dir is not None else self.var_dir / "snapshots"

    @property
    def resolved_backup_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.var_dir / "backups"

    @property
    def resolved_archive_dir(self) -> Path:
        return self.archive_dir if self.archive_dir is not None else self.var_dir / "archives"

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
