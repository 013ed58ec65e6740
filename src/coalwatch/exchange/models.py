"""The tables of the exchange: the files written and their delivery, what each mine's
writer has done last, the virtual stations that account other vendors' files, and the
files read back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, BigId, UTCDateTime
from coalwatch.storage.crypto import SecretText


class ExchangeFile(Base):
    """The delivery ledger 上传记录: a collection file written to the delivery directory and,
    when a server is configured, pushed to it (``sent_at`` and the server's answer)."""

    __tablename__ = "exchange_files"
    __table_args__ = (Index("ix_exchange_files_pending", "sent_at", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: when the server confirmed the whole file; None: still queued
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the server's replies to the transfer and the rename, as it sent them
    server_ack: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ExchangeMark(Base):
    """What a mine's writer did last for one file kind: when, and for parameters the
    digest of the content (written again only on change), for alarms the watermark."""

    __tablename__ = "exchange_marks"
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    digest: Mapped[str | None] = mapped_column(String(64))


class VirtualStation(Base):
    """A station that no instrument feeds: it accounts the collection files of another
    vendor's mine system, signed with a key the center keeps for it (encrypted at rest)."""

    __tablename__ = "exchange_virtual_stations"
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), index=True)
    private_key: Mapped[str] = mapped_column(SecretText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExchangeReading(Base):
    """The time of the last reading taken from the files, per virtual station and point: a
    real-time file repeats a reading until the next one comes, which counts once."""

    __tablename__ = "exchange_readings"
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    point_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)


class ExchangeImport(Base):
    """A collection file read back: once, with what it brought or why it was refused."""

    __tablename__ = "exchange_imports"
    __table_args__ = (UniqueConstraint("name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    mine_code: Mapped[str | None] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
