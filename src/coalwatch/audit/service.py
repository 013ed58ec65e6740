"""The audit log 审计日志: every change, append-only and hash-chained.

Each entry's hash covers its own content and the previous entry's hash, so an
edit or a deletion anywhere breaks the chain from that entry on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from coalwatch.audit.models import AuditEntry
from coalwatch.auth.principal import Principal
from coalwatch.errors import N_, Forbidden

GENESIS = "0" * 64
#: any constant: with the schema's name, the lock that serialises the writers of a chain
#: on PostgreSQL (the chain of another schema on the database is another lock)
_LOCK_KEY = 0x636F616C
_LOCK = text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))")


def _digest(
    prev_hash: str, at: datetime, actor: str, action: str, entity: str, key: str, detail: str
) -> str:
    payload = json.dumps(
        [prev_hash, at.isoformat(), actor, action, entity, key, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    key: str,
    detail: dict[str, Any],
    at: datetime,
) -> AuditEntry:
    """Append an entry (in the caller's transaction, so it lands with the change)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"key": _LOCK_KEY})
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev_hash = last.hash if last else GENESIS
    body = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    at = at.astimezone(UTC)  # hashed as it is stored and read back
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_key=key,
        detail=body,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, at, actor, action, entity, key, body),
    )
    session.add(entry)
    session.flush()
    return entry


def record_change(
    session: Session, *, actor: str, action: str, key: str, data: BaseModel, at: datetime
) -> AuditEntry:
    """A change made through a form or the API, as it was given; the entity is the
    action's first word ("mine.capacity" → "mine")."""
    return record(
        session,
        actor=actor,
        action=action,
        entity=action.split(".")[0],
        key=key,
        detail=data.model_dump(mode="json"),
        at=at,
    )


@dataclass(frozen=True, slots=True)
class Broken:
    entry_id: int
    reason: str


def verify(session: Session) -> Broken | None:
    """The first entry whose content or link does not match, or None when intact."""
    prev_hash = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        if entry.prev_hash != prev_hash:
            return Broken(
                entry.id,
                "its link to the previous entry is broken (an entry was removed or altered)",
            )
        expected = _digest(
            entry.prev_hash,
            entry.at,
            entry.actor,
            entry.action,
            entry.entity,
            entry.entity_key,
            entry.detail,
        )
        if entry.hash != expected:
            return Broken(entry.id, "its content does not match its hash (the entry was edited)")
        prev_hash = entry.hash
    return None


def browse(
    session: Session,
    principal: Principal,
    *,
    actor: str | None = None,
    action: str | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[AuditEntry], int]:
    """审计日志, newest first. The log is not scoped to an org: the whole tree's only."""
    principal.require("system:view")
    if principal.scope_path is not None:
        raise Forbidden(N_("审计日志仅供中心管理员查看"))
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AuditEntry.id.desc()).offset((max(page, 1) - 1) * size).limit(size)
    )
    return list(rows), int(total)
