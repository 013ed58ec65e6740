"""Queueing alarm transitions for the notification channels that subscribe to them."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm, Delivery, NotificationChannel, Subscription
from coalwatch.domain.alarms import Severity
from coalwatch.storage.models import Mine

RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}
#: transitions worth a message: people act on raised alarms and want to know they ended
NOTIFIED = frozenset({"raised", "escalated", "ended", "closed"})


def enqueue(session: Session, alarm: Alarm, mine: Mine, transition: str) -> int:
    """One delivery per subscribed, enabled channel; sent later by the delivery job."""
    if transition not in NOTIFIED:
        return 0
    severity = RANK[Severity(alarm.severity)]
    rows = session.execute(
        select(Subscription.channel_id, Subscription.min_severity, NotificationChannel.name)
        .join(NotificationChannel, NotificationChannel.id == Subscription.channel_id)
        .where(
            NotificationChannel.enabled.is_(True),
            or_(Subscription.mine_id.is_(None), Subscription.mine_id == mine.id),
        )
    ).all()
    # a channel that fails is not told about its own failure: the others are
    own = alarm.subject if alarm.type == "notification_failed" else None
    channels = sorted(
        {
            cid
            for cid, minimum, name in rows
            if severity >= RANK[Severity(minimum)] and own != f"channel:{name}"
        }
    )
    for channel_id in channels:
        session.add(
            Delivery(
                channel_id=channel_id,
                alarm_id=alarm.id,
                transition=transition,
                status="pending",
                attempts=0,
                next_attempt_at=alarm.end or alarm.start,
                created_at=alarm.end or alarm.start,
            )
        )
    return len(channels)
