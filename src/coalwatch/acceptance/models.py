"""Acceptance 验收 of a mine's monitoring system: the supervising unit's decisions, in
time order (the system's state is the last one's result; none: under construction)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class AcceptanceDecision(Base):
    """An acceptance 投产验收, a resumption 复产验收, an annual inspection 年检 or a
    suspension 暂停, decided by a supervising unit above the mine."""

    __tablename__ = "acceptance_decisions"
    __table_args__ = (Index("ix_acceptance_decisions_mine_at", "mine_id", "decided_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    #: acceptance / resumption / inspection / suspension (domain.acceptance.KIND_LABELS)
    kind: Mapped[str] = mapped_column(String(16))
    passed: Mapped[bool] = mapped_column(Boolean)
    #: the state the decision leaves the system in
    state: Mapped[str] = mapped_column(String(24))
    #: the day of the act (as written on its record) and when it was recorded here
    decided_on: Mapped[date] = mapped_column(Date)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(200))
    #: the supervising unit that decided (None: recorded by the upgrade for a mine that
    #: ran before acceptance was kept)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    #: the number of the acceptance record 验收记录 and the text of the decision
    record_no: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    #: when the licence's next annual inspection 年检 is due (accepted systems)
    inspection_due: Mapped[date | None] = mapped_column(Date)
    #: the acceptance record as a file (PDF, JPEG or PNG) and its SHA-256
    record_file: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    record_type: Mapped[str | None] = mapped_column(String(64))
    record_name: Mapped[str | None] = mapped_column(String(200))
    record_sha256: Mapped[str | None] = mapped_column(String(64))
