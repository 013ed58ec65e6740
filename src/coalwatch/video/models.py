"""Cameras and their snapshots 抓拍."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, BigId, UTCDateTime
from coalwatch.storage.crypto import SecretText


class Camera(Base):
    """A camera 摄像机 watching a metering point, with the state of its last check."""

    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("point_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), index=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    #: the HTTP(S) snapshot endpoint (JPEG); or else
    snapshot_url: Mapped[str | None] = mapped_column(String(500))
    #: an RTSP stream, one frame grabbed through ffmpeg
    rtsp_url: Mapped[str | None] = mapped_column(String(500))
    #: "none", "basic" or "digest" (HTTP authentication of the snapshot endpoint)
    auth: Mapped[str] = mapped_column(String(8))
    username: Mapped[str | None] = mapped_column(String(200))
    #: kept to talk to the camera, encrypted at rest; never shown or returned
    password: Mapped[str | None] = mapped_column(SecretText)
    enabled: Mapped[bool] = mapped_column(Boolean)
    #: coalwatch.domain.video.Health of the last check
    health: Mapped[str] = mapped_column(String(16))
    #: unchanged frames in a row while the conveyor ran
    unchanged: Mapped[int] = mapped_column(Integer)
    #: a small grey thumbnail of the last frame, to compare the next one with
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the newest alarm of the point already pictured (alarms after it get a picture)
    alarm_mark: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Snapshot(Base):
    """A stored picture 图像 with the weighing data burned in, indexed by point and time."""

    __tablename__ = "snapshots"
    __table_args__ = (
        Index("ix_snapshots_mine_point_taken", "mine_id", "point_id", "taken_at"),
        Index("ix_snapshots_taken", "taken_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"))
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: "periodic" or "alarm"
    reason: Mapped[str] = mapped_column(String(16))
    #: the alarm this picture was taken for
    alarm_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("alarms.id"), index=True)
    #: the file, relative to the snapshot directory
    path: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    #: what the check of this frame found (a black or frozen picture is kept as evidence)
    health: Mapped[str] = mapped_column(String(16))
    #: the text burned into the picture, line by line
    overlay: Mapped[str] = mapped_column(Text)
