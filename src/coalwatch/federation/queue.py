"""The forward queue: what this center must send to its upstream.

The use cases that change what an upstream must know (ingest, configuration)
call :func:`enqueue` in their own transaction: the change and its item are
committed together or not at all. A center without an upstream queues nothing;
its sessions say whether it has one (:func:`enable_forwarding`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from coalwatch.federation import downward
from coalwatch.federation.models import ForwardItem

FORWARD = "coalwatch.forward"

STATION_BATCH = "station_batch"
CONFIG = "config"
ALARM = "alarm"
FAULT = "fault"
REPORT = "report"
AUDIT_CHECKPOINT = "audit_checkpoint"


def enable_forwarding(sessions: sessionmaker[Session], center_code: str) -> None:
    """Sessions of this factory queue their changes for the upstream, as ``center_code``."""
    info = dict(sessions.kw.get("info") or {})
    info[FORWARD] = center_code
    sessions.kw["info"] = info


def forwarding(session: Session) -> bool:
    return bool(session.info.get(FORWARD))


def center_code(session: Session) -> str:
    """This center's code at its upstream ("" without one)."""
    return str(session.info.get(FORWARD) or "")


def enqueue(session: Session, kind: str, payload: dict[str, Any], now: datetime) -> None:
    if not forwarding(session):
        return
    session.add(
        ForwardItem(
            kind=kind,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            created_at=now,
        )
    )
    session.flush()


def enqueue_config(
    session: Session, op: str, key: str, data: dict[str, Any], now: datetime
) -> None:
    """A configuration change, as given to its use case: every configuration use case
    calls this in its transaction. A yardstick the upstream decided is refused here
    (403: read-only at this center); one decided here is queued down for the centers
    holding the mine (``federation.downward``); the rest is queued for the upstream,
    except a decision being applied from the upstream, which does not go back up."""
    downward.configuration_changed(session, op, key, data, now)
    if downward.from_upstream(session) is not None:
        return
    enqueue(session, CONFIG, {"op": op, "key": key, "data": data}, now)
