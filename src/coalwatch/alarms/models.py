"""Alarms 报警, their thresholds and where they are sent (channels, subscriptions,
deliveries)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    column,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, BigId, UTCDateTime
from coalwatch.storage.crypto import SecretText


class Alarm(Base):
    """An alarm 报警 with its lifecycle: active → acknowledged → handled → closed."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_mine_state", "mine_id", "state"),
        # one alarm per condition while it holds, whoever raises it (two stations of a
        # mine in parallel, two centers on one database); a mirrored alarm is keyed by
        # its origin instead; the center's own alarms (no mine) count as mine 0
        Index(
            "uq_alarms_open_condition",
            func.coalesce(column("mine_id"), 0),
            "type",
            func.coalesce(column("point_id"), 0),
            func.coalesce(column("station_id"), 0),
            func.coalesce(column("subject"), ""),
            unique=True,
            postgresql_where=text('"end" IS NULL AND origin IS NULL'),
            sqlite_where=text('"end" IS NULL AND origin IS NULL'),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mine_id: Mapped[int | None] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    type: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    value: Mapped[str | None] = mapped_column(String(64))
    threshold: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    #: JSON: the detail's code and its values, composed into a text per language (0017)
    params: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    #: what the alarm is about beyond mine/point/station (e.g. the hour of an overproduction)
    subject: Mapped[str | None] = mapped_column(String(64))
    #: when a condition bound to a period ends by itself (the period's end)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(200))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    #: a mirrored alarm: "<center>:<id>" of the alarm at the center that raised it
    origin: Mapped[str | None] = mapped_column(String(80), index=True)


class Threshold(Base):
    """A rule setting changed by an administrator, for a mine or one of its points."""

    __tablename__ = "thresholds"
    __table_args__ = (UniqueConstraint("mine_id", "point_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationChannel(Base):
    """Where alarms are sent: webhook (json / WeCom / DingTalk), SMTP e-mail, SMS gateway."""

    __tablename__ = "notification_channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: JSON: url / smtp host, port, sender, recipients / sms url and template ...;
    #: encrypted at rest (URLs carry access tokens, SMTP and SMS their passwords)
    settings: Mapped[str] = mapped_column(SecretText)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscription(Base):
    """Which alarms a channel receives: by role, mine (None: all in scope) and severity."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id"))
    role: Mapped[str] = mapped_column(String(32))
    mine_id: Mapped[int | None] = mapped_column(ForeignKey("mines.id"))
    min_severity: Mapped[str] = mapped_column(String(16))


class Delivery(Base):
    """One message to one channel, retried with backoff until sent or given up."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id"))
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"))
    transition: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
