"""What proves the stored figures: the stations' signed batches, and how far the
records have been re-proved from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, BigId, UTCDateTime


class SignedBatch(Base):
    """A station's upload as it arrived: the exact body bytes and their Ed25519
    signature. Every record it brought points to it (``records.batch_id``)."""

    __tablename__ = "signed_batches"
    __table_args__ = (Index("ix_signed_batches_station_id", "station_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VerificationProgress(Base):
    """How far ``coalwatch verify`` has re-proved the signed batches (one row)."""

    __tablename__ = "verification_progress"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: every batch up to this id was verified (its signature and its records)
    last_batch_id: Mapped[int] = mapped_column(BigInteger)
    #: and every record up to this id was found to belong to a verified batch
    last_record_id: Mapped[int] = mapped_column(BigInteger)
    #: records up to this id were accepted before batches were kept (no proof exists)
    unsigned_before: Mapped[int] = mapped_column(BigInteger)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
