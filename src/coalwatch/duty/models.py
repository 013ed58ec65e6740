"""The duty log 值班记录, patrols and shift handover 交接班."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class DutyEntry(Base):
    """An entry of the duty log 运行日志: what the duty operator saw or did, and when."""

    __tablename__ = "duty_entries"
    __table_args__ = (Index("ix_duty_entries_mine_at", "mine_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    #: the shift it was written in (the mine's shifts when it was written)
    shift_day: Mapped[date] = mapped_column(Date)
    shift: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Patrol(Base):
    """A patrol 巡检 of the field equipment: at least two per shift."""

    __tablename__ = "patrols"
    __table_args__ = (Index("ix_patrols_mine_at", "mine_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    shift_day: Mapped[date] = mapped_column(Date)
    shift: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    patrolled_by: Mapped[str] = mapped_column(String(200))
    checked: Mapped[str] = mapped_column(Text)
    findings: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Handover(Base):
    """A shift handover 交接班记录 at the end of a shift: the outgoing operator signs,
    then the incoming one; once the outgoing has signed it is frozen."""

    __tablename__ = "handovers"
    __table_args__ = (UniqueConstraint("mine_id", "shift_day", "shift"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    #: the outgoing shift
    shift_day: Mapped[date] = mapped_column(Date)
    shift: Mapped[str] = mapped_column(String(64))
    shift_end: Mapped[datetime] = mapped_column(UTCDateTime)
    outgoing: Mapped[str] = mapped_column(String(200))
    incoming: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    outgoing_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incoming_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incoming_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HandoverCheck(Base):
    """One of the five handover checks: in order or not, with a note."""

    __tablename__ = "handover_checks"
    handover_id: Mapped[int] = mapped_column(ForeignKey("handovers.id"), primary_key=True)
    item: Mapped[str] = mapped_column(String(32), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)


class HandoverIssue(Base):
    """A pending issue 遗留问题 handed over; an unresolved one is carried into the next
    handover (``carried_from_id`` points to the issue it continues)."""

    __tablename__ = "handover_issues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handover_id: Mapped[int] = mapped_column(ForeignKey("handovers.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    resolved: Mapped[bool] = mapped_column(Boolean)
    resolution: Mapped[str | None] = mapped_column(Text)
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("handover_issues.id"))
