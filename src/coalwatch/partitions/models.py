"""The raw partitions exported to archive files and dropped 原始数据归档."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class RawArchive(Base):
    """One month of a raw table, written to ``file_name`` in the archive directory
    (format: coalwatch.partitions.archive) and dropped from the database. ``sha256`` is
    the file's checksum: ``coalwatch verify`` re-proves the file against it and against
    the signatures of the uploads it holds."""

    __tablename__ = "raw_archives"
    __table_args__ = (Index("ix_raw_archives_table_month", "table_name", "month_start"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    month_start: Mapped[datetime] = mapped_column(UTCDateTime)
    month_end: Mapped[datetime] = mapped_column(UTCDateTime)
    file_name: Mapped[str] = mapped_column(String(200), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    #: the signed uploads copied into the file (those that brought its records)
    batches: Mapped[int] = mapped_column(BigInteger)
    #: the production its records contributed (kg), for a quick look
    increment_kg: Mapped[int] = mapped_column(BigInteger)
    first_id: Mapped[int | None] = mapped_column(BigInteger)
    last_id: Mapped[int | None] = mapped_column(BigInteger)
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_by: Mapped[str] = mapped_column(String(200))
