"""The configurations the center issued to its stations, and what each station runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class StationConfigVersion(Base):
    """One issue of a station's configuration: the exact document the center signed."""

    __tablename__ = "station_configs"
    __table_args__ = (UniqueConstraint("station_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StationConfigRunning(Base):
    """The fingerprint of the configuration a station last said it runs."""

    __tablename__ = "station_config_running"
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
