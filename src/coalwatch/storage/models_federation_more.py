"""Tables of upward fault reports and more forwarded kinds (issue 7) (migration 0012).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class FaultMirror(Base):
    """A fault of a downstream center's mine, as this center holds it: which fault it is
    there (``origin``, "center:id" where it was opened) and when its report arrived here.

    The mirrored fault's ``reported_at`` here is the arrival 上报到达 (the 1 h / 2 h rule
    at this level is judged on it); ``sent_at`` is the downstream's ``reported_at``."""

    __tablename__ = "fault_mirrors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id"), unique=True)
    origin: Mapped[str] = mapped_column(String(80), unique=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("downstream_centers.id"))
    #: the downstream's reported_at: when the report was sent upward
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: when the report arrived here
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReceivedReport(Base):
    """A signed daily report 监测日报表 revision submitted upward by a downstream center:
    its content, SHA-256 and signatures as signed there (已上报)."""

    __tablename__ = "received_reports"
    __table_args__ = (UniqueConstraint("mine_id", "day", "revision"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("downstream_centers.id"))
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    day: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    #: JSON ``[{"role", "signer", "sha256", "signed_at"}]`` in signing order
    signatures: Mapped[str] = mapped_column(Text)
    #: when the downstream submitted it (its last signature)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
