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


class RawMonthChange(Base):
    """How many rows of a month of a raw table were inserted, updated or deleted after
    that month had ended (a late record, an increment corrected, a deletion), kept on
    PostgreSQL by statement triggers on the partitioned tables (migration 0038). With
    :class:`RawChangeEpoch` it is the month's change mark: a backup reuses the dump of a
    closed month while its mark is unchanged (coalwatch.backups.months)."""

    __tablename__ = "raw_month_changes"
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    month_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)


class RawChangeEpoch(Base):
    """One row: a random value renewed when the counts of :class:`RawMonthChange` stop
    telling this database's history apart from another's (a restore brings back older
    counts, which later changes would count up to again; a TRUNCATE of a raw table)."""

    __tablename__ = "raw_change_epoch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(String(36))
