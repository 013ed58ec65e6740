"""The backup ledger 备份记录.

The ledger lives in the database it records, so a restore brings back an older
ledger: each backup also has a manifest (JSON) next to its file, and the rows are
re-inserted from the manifests after a restore (coalwatch.backups.service).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class BackupEntry(Base):
    """One backup file 备份: where it is, its checksum, why and by whom it was made."""

    __tablename__ = "backups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the file's name in the backup directory (unique: it carries the instant)
    file_name: Mapped[str] = mapped_column(String(255), unique=True)
    #: the directory it was written to
    directory: Mapped[str] = mapped_column(Text)
    #: sqlite | postgresql
    kind: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: schedule | manual | password_change | parameter_change | pre_restore
    trigger: Mapped[str] = mapped_column(String(24))
    created_by: Mapped[str] = mapped_column(String(200))
    #: the Alembic revision of the database when it was backed up
    schema_revision: Mapped[str | None] = mapped_column(String(32))
    #: the highest audit log entry in the backup (changes after it call for a new one)
    audit_head_id: Mapped[int | None] = mapped_column(BigInteger)
    audit_head_hash: Mapped[str | None] = mapped_column(String(64))
    #: the figures fingerprint of the backup (JSON) and its SHA-256
    figures: Mapped[str] = mapped_column(Text)
    figures_sha256: Mapped[str] = mapped_column(String(64))
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pruned_by: Mapped[str | None] = mapped_column(String(200))
