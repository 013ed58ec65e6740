"""What flows down between centers (decisions of the upstream) and the downstream
centers' audit checkpoints kept at the upstream."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, BigId, UTCDateTime


class CenterDecision(Base):
    """At the upstream: a yardstick or limit it decided for a mine, waiting for (or
    delivered to) one downstream center that holds the mine."""

    __tablename__ = "center_decisions"
    __table_args__ = (Index("ix_center_decisions_center_id", "center_id", "delivered_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("downstream_centers.id"))
    mine: Mapped[str] = mapped_column(String(64))
    #: the operation, as the configuration use cases name it (``mine.capacity`` ...)
    kind: Mapped[str] = mapped_column(String(40))
    #: JSON ``{"key": ..., "data": ...}``: the use case's key and input
    payload: Mapped[str] = mapped_column(Text)
    #: the deciding unit and who decided, as the downstream shows them
    unit: Mapped[str] = mapped_column(String(300))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UpstreamDecision(Base):
    """At the downstream: a decision received from the upstream and applied. A mine's
    yardstick of a kind listed here is read-only at this center."""

    __tablename__ = "upstream_decisions"
    __table_args__ = (Index("ix_upstream_decisions_mine_kind", "mine_id", "kind"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: the upstream's id of the decision (a resent one is applied once)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(300))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReceivedCheckpoint(Base):
    """At the upstream: a downstream center's signed audit checkpoint (checked against
    the center's registered key); each must extend the ones before it."""

    __tablename__ = "received_checkpoints"
    __table_args__ = (UniqueConstraint("center_id", "head_id", "head_hash"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("downstream_centers.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_count: Mapped[int] = mapped_column(BigInteger)
    head_id: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
