"""Violation and penalty records 违法行为记录 / 处罚决定 and the evidence they link."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class Penalty(Base):
    """A penalty decision of a supervising unit on a mine for an offence of the article
    (``domain.penalties.OFFENCES``), and its execution. Fines are integer fen (0.01 yuan)."""

    __tablename__ = "penalties"
    __table_args__ = (Index("ix_penalties_mine_decided", "mine_id", "decided_on"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the decision's document number 处罚决定书文号
    number: Mapped[str] = mapped_column(String(100), unique=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    offence: Mapped[str] = mapped_column(String(40))
    #: for the offence of making the system inoperable: the way (第二十九条)
    manner: Mapped[str | None] = mapped_column(String(40))
    facts: Mapped[str] = mapped_column(Text)
    found_on: Mapped[date] = mapped_column(Date)
    serious: Mapped[bool] = mapped_column(Boolean)
    enterprise_fine_fen: Mapped[int] = mapped_column(BigInteger)
    principal_name: Mapped[str | None] = mapped_column(String(200))
    principal_fine_fen: Mapped[int | None] = mapped_column(BigInteger)
    responsible_name: Mapped[str | None] = mapped_column(String(200))
    responsible_fine_fen: Mapped[int | None] = mapped_column(BigInteger)
    stop_for_rectification: Mapped[bool] = mapped_column(Boolean)
    licence_held: Mapped[bool] = mapped_column(Boolean)
    decided_on: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    decided_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: decided / executed (domain.penalties.STATUS_LABELS)
    status: Mapped[str] = mapped_column(String(16))
    #: execution: the fines paid in full on, the orders carried out on
    paid_on: Mapped[date | None] = mapped_column(Date)
    carried_out_on: Mapped[date | None] = mapped_column(Date)
    execution_note: Mapped[str | None] = mapped_column(Text)
    executed_by: Mapped[str | None] = mapped_column(String(200))
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PenaltyEvidence(Base):
    """A piece of evidence 证据 of a penalty record: an alarm, a fault record or a
    station's record of the mine (by reference), or a file (a picture, a document)."""

    __tablename__ = "penalty_evidence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    penalty_id: Mapped[int] = mapped_column(ForeignKey("penalties.id"), index=True)
    #: alarm / fault / record / attachment
    kind: Mapped[str] = mapped_column(String(16))
    #: the alarm's or fault's id, a record's "station:seq", a file's name
    ref: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    media_type: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str | None] = mapped_column(String(64))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
