"""Suspect increments 可疑增量: totalizer increments the center could not believe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, BigId, UTCDateTime


class SuspectIncrement(Base):
    """A reading whose increment is physically impossible (``domain.accounting.implausible``):
    its record is stored with no production (``increment_kind`` "suspect") until a
    supervising user confirms it (counted in the reading's hour) or rejects it."""

    __tablename__ = "suspect_increments"
    __table_args__ = (
        UniqueConstraint("mine_id", "station_id", "seq"),
        Index("ix_suspect_increments_mine_status", "mine_id", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    #: the reading's record: (mine, station, seq) of ``records``
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the previous reading and this one (kg), and when the previous one was taken
    old_kg: Mapped[int] = mapped_column(BigInteger)
    new_kg: Mapped[int] = mapped_column(BigInteger)
    previous_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    #: what the increment would be, as what (normal / rollover / reset)
    increment_kg: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    #: why it cannot be (max_flow / flow_rate) and the most it could have been
    reason: Mapped[str] = mapped_column(String(16))
    limit_kg: Mapped[int] = mapped_column(BigInteger)
    #: held / confirmed / rejected
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
