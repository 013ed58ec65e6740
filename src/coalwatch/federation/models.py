"""What flows between centers: the queue forwarded upward, the downstream centers and
what they sent (fault mirrors, received reports, rejects), the decisions of the upstream
flowing down and the downstream centers' audit checkpoints kept at the upstream."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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


class ForwardItem(Base):
    """An item waiting to go to the upstream center 上级中心 (federation), in order: the
    id is its sequence number at the upstream. Written in the transaction of the change
    it carries; deleted once the upstream holds it."""

    __tablename__ = "forward_queue"
    #: ids are never reused, even once the queue is empty: they are seqs at the upstream
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: station_batch | config
    kind: Mapped[str] = mapped_column(String(32))
    #: the item as JSON text
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DownstreamCenter(Base):
    """A downstream center 下级中心 that forwards the data of the subtree of ``org_id``,
    with the state of its sequence numbers (as a station's)."""

    __tablename__ = "downstream_centers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    #: the highest seq received; every seq below is held or listed in ``gaps``
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the runs of seqs not received, JSON ``[[from, to], ...]``
    gaps: Mapped[str] = mapped_column(Text, default="[]")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FederationReject(Base):
    """An item a downstream center sent that could not be applied, and why."""

    __tablename__ = "federation_rejects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("downstream_centers.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
