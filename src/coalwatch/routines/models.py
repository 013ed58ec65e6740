"""Tables of the routine checks 定期检查: each record of a check done, with the values
before and after and both signatures (the one who did it, the operator who took the
equipment back 双方签字)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class RoutineRecord(Base):
    """A routine check done: line check, attenuation test, maintenance, balance
    adjustment, lubrication and cleaning, UPS runtime test, an inspection of the yearly
    chain (domain.routines.ROUTINES)."""

    __tablename__ = "routine_records"
    __table_args__ = (Index("ix_routine_records_mine_kind_done", "mine_id", "kind", "done_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    kind: Mapped[str] = mapped_column(String(32))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    #: the UPS runtime test's minutes on battery
    minutes: Mapped[int | None] = mapped_column(Integer)
    #: what the record asks for (domain.routines.VERDICTS), e.g. replace the batteries
    verdict: Mapped[str | None] = mapped_column(String(32))
    findings: Mapped[str | None] = mapped_column(Text)
    performed_by: Mapped[str] = mapped_column(String(200))
    #: the operator who took the equipment back, and when they signed
    taken_back_by: Mapped[str] = mapped_column(String(200))
    taken_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
