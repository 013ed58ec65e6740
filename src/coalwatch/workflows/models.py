"""The tables of a mine's requests for the yardsticks a supervising unit decides."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class MineRequest(Base):
    """A mine's request 申请 for a yardstick decided above it: a change of its approved
    capacity (with the licence document), a month's production plan, a maintenance
    permit. pending → approved (then in force, as the supervising unit's decision) or
    rejected (with a reason). Pending requests change nothing."""

    __tablename__ = "mine_requests"
    __table_args__ = (Index("ix_mine_requests_mine_status", "mine_id", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    #: capacity | plan | permit
    kind: Mapped[str] = mapped_column(String(16))
    #: what is asked for, as the request's schema gives it (JSON)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    applied_by: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)


class CoefficientApplication(Base):
    """An application for a deduction coefficient 折算系数申报, waiting for the regulator:
    pending → approved (then a Coefficient is in force) or rejected (with a reason)."""

    __tablename__ = "coefficient_applications"
    __table_args__ = (Index("ix_coefficient_applications_mine_status", "mine_id", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    kind: Mapped[str] = mapped_column(String(16))
    hundredths: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    changed_on: Mapped[date | None] = mapped_column(Date)
    analysis: Mapped[str] = mapped_column(Text)
    site_measurement: Mapped[str | None] = mapped_column(Text)
    filed_on: Mapped[date] = mapped_column(Date)
    #: filed in its application month (December / June); a late one is marked
    on_time: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    applied_by: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    #: the days in force once approved
    approved_from: Mapped[date | None] = mapped_column(Date)
    approved_to: Mapped[date | None] = mapped_column(Date)


class ManualEntry(Base):
    """Manual production 人工录入 waiting for approval; approved, it becomes a
    ManualProduction that counts."""

    __tablename__ = "manual_entries"
    __table_args__ = (Index("ix_manual_entries_mine_status", "mine_id", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    gross_kg: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    applied_by: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    manual_production_id: Mapped[int | None] = mapped_column(ForeignKey("manual_production.id"))
