"""Report shifts, revisions and signatures 签章 of the production reports."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class ReportShifts(Base):
    """A mine's shifts 班次 for its reports, as JSON ``[{"name", "start_hour", "hours"}]``
    (a mine without a row has the default three shifts of 8 hours)."""

    __tablename__ = "report_shifts"
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), primary_key=True)
    shifts: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportRevision(Base):
    """One revision of a mine's daily monitoring report 监测日报表: a frozen snapshot of its
    computed content (JSON text) and the SHA-256 of that text.

    Frozen from its first signature: a later correction of the day's figures creates the
    next revision, and the signed one stays as it was.
    """

    __tablename__ = "report_revisions"
    __table_args__ = (UniqueConstraint("mine_id", "day", "revision"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    #: the mine-local calendar day the report covers
    day: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    generated_by: Mapped[str] = mapped_column(String(200))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: all three have signed and the report went upward 上报
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReportSignature(Base):
    """An electronic signature 审阅签字 on a report revision, in the order of SIGNING_ORDER."""

    __tablename__ = "report_signatures"
    __table_args__ = (UniqueConstraint("revision_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("report_revisions.id"))
    #: duty_operator | duty_mine_manager | chief_engineer
    role: Mapped[str] = mapped_column(String(32))
    signer: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the SHA-256 of the content that was signed
    sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
