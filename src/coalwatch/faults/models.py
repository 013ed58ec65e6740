"""System fault records 故障记录."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class Fault(Base):
    """A system fault record 故障记录, with its report upward and its recovery."""

    __tablename__ = "faults"
    __table_args__ = (Index("ix_faults_mine_open", "mine_id", "closed_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"))
    kind: Mapped[str] = mapped_column(String(40))
    #: 现象: what was observed
    phenomenon: Mapped[str] = mapped_column(Text)
    #: JSON: what the system saw (its alarm's type and detail params) when it opened the
    #: fault, composed into a phenomenon per language (0017); None when entered by hand
    params: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_by: Mapped[str | None] = mapped_column(String(200))
    #: "system" (reported through the center) or "phone" (recorded as reported by
    #: telephone, for the supervising unit to confirm); ``reported_at`` is the server's
    #: time of the act either way
    reported_via: Mapped[str | None] = mapped_column(String(16))
    report_note: Mapped[str | None] = mapped_column(Text)
    report_confirmed_by: Mapped[str | None] = mapped_column(String(200))
    report_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: 处理结果
    result: Mapped[str | None] = mapped_column(Text)
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    reduction_id: Mapped[int | None] = mapped_column(ForeignKey("capacity_reductions.id"))
    opened_by: Mapped[str] = mapped_column(String(200))
