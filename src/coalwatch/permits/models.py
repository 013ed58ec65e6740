"""Maintenance permits 开盖/调参审批 and declared shutdowns 停产报备."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class Permit(Base):
    """An approved maintenance permit 开盖/调参审批: door and parameter events inside are only
    logged."""

    __tablename__ = "permits"
    __table_args__ = (Index("ix_permits_mine_window", "mine_id", "start", "end"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Shutdown(Base):
    """A declared shutdown 停产报备 (renovation, maintenance) of a mine."""

    __tablename__ = "shutdowns"
    __table_args__ = (Index("ix_shutdowns_mine_window", "mine_id", "start", "end"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    declared_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the supervising unit's acknowledgement 停产确认 (who, when); None: not yet
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the written report 书面报告 (a document of the mine's archive) and when it was filed
    report_document_id: Mapped[int | None] = mapped_column(ForeignKey("archive_documents.id"))
    report_filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: declared after the stop began, or its written report filed after it (server time)
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: resumption 复产: when the mine means to produce again, who asked, when
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resumption_requested_by: Mapped[str | None] = mapped_column(String(200))
    resumption_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the supervising unit's acknowledgement of the resumption 复产确认
    resumption_acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resumption_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
