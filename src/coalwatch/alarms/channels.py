"""Notification channels, their subscriptions, and delivering queued messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.adapters import notifiers
from coalwatch.alarms import service as alarms
from coalwatch.alarms.models import Alarm, Delivery, NotificationChannel, Subscription
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.alarms import LABELS, AlarmType, Severity, detail_params
from coalwatch.errors import Conflict, Invalid, NotFound
from coalwatch.mines import repository as mine_repository
from coalwatch.storage.models import Mine, Point
from coalwatch.storage.session import transaction

MAX_ATTEMPTS = 5
FIRST_RETRY_S = 5
MAX_RETRY_S = 600
Kind = Literal["webhook", "wecom", "dingtalk", "smtp", "sms"]
REQUIRED = {
    "webhook": ("url",),
    "wecom": ("url",),
    "dingtalk": ("url",),
    "smtp": ("host", "sender", "recipients"),
    "sms": ("url", "phones", "template"),
}
ROLES = ("dispatcher", "maintainer", "duty_operator", "mine_manager", "regulator")


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Kind
    settings: dict[str, Any]
    enabled: bool = True

    @model_validator(mode="after")
    def _complete(self) -> ChannelIn:
        missing = [k for k in REQUIRED[self.kind] if k not in self.settings]
        if missing:
            raise ValueError(f"a {self.kind} channel needs settings {', '.join(missing)}")
        return self


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["dispatcher", "maintainer", "duty_operator", "mine_manager", "regulator"]
    mine: str | None = None
    min_severity: Severity = Severity.WARNING


class ChannelOut(BaseModel):
    name: str
    kind: str
    enabled: bool
    subscriptions: list[dict[str, Any]]


def _admin(principal: Principal) -> None:
    principal.require_unscoped("system:write", "通知渠道 notification channels")


def create_channel(
    session: Session, principal: Principal, data: ChannelIn, now: datetime
) -> ChannelOut:
    _admin(principal)
    if session.scalars(
        select(NotificationChannel).where(NotificationChannel.name == data.name)
    ).first():
        raise Conflict(f"channel {data.name!r} exists already")
    channel = NotificationChannel(
        name=data.name,
        kind=data.kind,
        settings=json.dumps(data.settings, ensure_ascii=False),
        enabled=data.enabled,
        created_at=now,
    )
    session.add(channel)
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="channel.create",
        entity="channel",
        key=data.name,
        detail={"kind": data.kind},
        at=now,
    )
    return ChannelOut(
        name=channel.name, kind=channel.kind, enabled=channel.enabled, subscriptions=[]
    )


def subscribe(
    session: Session, principal: Principal, name: str, data: SubscriptionIn, now: datetime
) -> ChannelOut:
    _admin(principal)
    channel = session.scalars(
        select(NotificationChannel).where(NotificationChannel.name == name)
    ).first()
    if channel is None:
        raise NotFound(f"channel {name!r} not found")
    mine_id = None
    if data.mine is not None:
        found = mine_repository.mine_by_code(session, data.mine)
        if found is None:
            raise Invalid(f"no mine {data.mine!r}")
        mine_id = found[0].id
    session.add(
        Subscription(
            channel_id=channel.id, role=data.role, mine_id=mine_id, min_severity=data.min_severity
        )
    )
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="channel.subscribe",
        entity="channel",
        key=name,
        detail=data.model_dump(mode="json"),
        at=now,
    )
    return describe(session, channel)


def describe(session: Session, channel: NotificationChannel) -> ChannelOut:
    rows = session.execute(
        select(Subscription, Mine.code)
        .outerjoin(Mine, Mine.id == Subscription.mine_id)
        .where(Subscription.channel_id == channel.id)
    ).all()
    return ChannelOut(
        name=channel.name,
        kind=channel.kind,
        enabled=channel.enabled,
        subscriptions=[
            {"role": s.role, "mine": code, "min_severity": s.min_severity} for s, code in rows
        ],
    )


def list_channels(session: Session, principal: Principal) -> list[ChannelOut]:
    _admin(principal)
    return [describe(session, c) for c in session.scalars(select(NotificationChannel))]


# ---- delivery --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    delivery_id: int
    channel: str
    kind: str
    settings: dict[str, Any]
    subject: str
    text: str
    payload: dict[str, Any]


TRANSITION_LABELS = {
    "raised": "报警",
    "escalated": "升级",
    "ended": "已恢复",
    "closed": "已关闭",
}


def _compose(session: Session, delivery: Delivery, channel: NotificationChannel) -> _Message:
    alarm = session.get_one(Alarm, delivery.alarm_id)
    mine = session.get_one(Mine, alarm.mine_id)
    point = session.get_one(Point, alarm.point_id).code if alarm.point_id else None
    label = LABELS.get(AlarmType(alarm.type), alarm.type)
    subject = f"【煤炭产量监控】{mine.name} {label}{TRANSITION_LABELS.get(delivery.transition, '')}"
    lines = [
        f"矿井 mine: {mine.name} ({mine.code})" + (f"  计量点 point: {point}" if point else ""),
        f"类型 type: {label} ({alarm.type})  级别 severity: {alarm.severity}",
        f"开始 start: {alarm.start.isoformat()}"
        + (f"  结束 end: {alarm.end.isoformat()}" if alarm.end else ""),
    ]
    if alarm.value or alarm.threshold:
        lines.append(f"数值 value: {alarm.value}  阈值 threshold: {alarm.threshold}")
    if alarm.detail:
        lines.append(alarm.detail)
    payload = {
        "id": alarm.id,
        "type": alarm.type,
        "severity": alarm.severity,
        "mine": mine.code,
        "point": point,
        "start": alarm.start.isoformat(),
        "end": alarm.end.isoformat() if alarm.end else None,
        "value": alarm.value,
        "threshold": alarm.threshold,
        "state": alarm.state,
        "transition": delivery.transition,
    }
    return _Message(
        delivery.id,
        channel.name,
        channel.kind,
        json.loads(channel.settings),
        subject,
        "\n".join(lines),
        payload,
    )


def backoff(attempts: int) -> timedelta:
    """Exponential: 5 s, 10 s, 20 s ... at most 10 min."""
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_RETRY_S))


def deliver_due(sessions: sessionmaker[Session], now: datetime, limit: int = 50) -> int:
    """Send what is due; failures are retried with backoff, then alarmed. Returns sent count.

    Messages are composed in one transaction and their results written in another,
    so no database lock is held while a slow receiver answers.
    """
    with transaction(sessions) as session:
        due = session.execute(
            select(Delivery, NotificationChannel)
            .join(NotificationChannel, NotificationChannel.id == Delivery.channel_id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
        ).all()
        messages = [_compose(session, d, c) for d, c in due]
    results: list[tuple[_Message, str | None]] = []
    for message in messages:
        try:
            notifiers.send(
                message.kind, message.settings, message.subject, message.text, message.payload
            )
            results.append((message, None))
        except notifiers.SendError as exc:
            results.append((message, str(exc)))
    sent = 0
    with transaction(sessions) as session:
        for message, error in results:
            delivery = session.get_one(Delivery, message.delivery_id)
            alarm = session.get_one(Alarm, delivery.alarm_id)
            delivery.attempts += 1
            if error is None:
                delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
                sent += 1
                alarms.end_condition(
                    session,
                    mine_id=alarm.mine_id,
                    type_=AlarmType.NOTIFICATION_FAILED,
                    at=now,
                    subject=f"channel:{message.channel}",
                )
                continue
            delivery.last_error = error
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = "failed"
                alarms.raise_alarm(
                    session,
                    mine_id=alarm.mine_id,
                    type_=AlarmType.NOTIFICATION_FAILED,
                    at=now,
                    subject=f"channel:{message.channel}",
                    value=f"{delivery.attempts} attempts",
                    detail=f"channel {message.channel} ({message.kind}): {error}",
                    params=detail_params(
                        "notification_failed",
                        channel=message.channel,
                        kind=message.kind,
                        text=error,
                    ),
                )
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
    return sent
