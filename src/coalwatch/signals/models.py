"""Which alarm types sound the beacons at the outlets 声光预警, as a supervising unit chose."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class SignalChoice(Base):
    """The choice for an org's subtree or for one mine (one row each, replaced when
    changed; every change is in the audit log)."""

    __tablename__ = "signal_choices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"), unique=True)
    mine_id: Mapped[int | None] = mapped_column(ForeignKey("mines.id"), unique=True)
    #: JSON list of alarm types
    types: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
