"""The tables of a mine's requests for the yardsticks a supervising unit decides."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
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
