"""Measurements flow up 下级上报: what an upstream accepts from a downstream center.

Records, alarms, faults, reports, audit checkpoints and the registrations the records
need come up; a yardstick a supervising unit decides (``downward.DECIDED_ABOVE``) is
refused from a center registered for a supervised unit (a company or a mine): a
mine-level center is never authoritative for its own yardsticks. A center registered
for a supervising unit (a county center below a city or province) reports its own
decisions up, so that both levels compute the same figures.

A downstream's audit checkpoints are kept here, checked against the center's key, and
each must extend the ones before it: a downstream that cut or rewrote its audit log
is named by the ``data_tamper`` alarm here too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.alarms.service import raise_alarm
from coalwatch.audit.checkpoints import Checkpoint
from coalwatch.domain.alarms import AlarmType, detail_params
from coalwatch.domain.authority import SUPERVISING_KINDS
from coalwatch.errors import Forbidden, Invalid, Unauthorized
from coalwatch.federation.downward import ACCEPTED_FROM_BELOW, DECIDED_ABOVE
from coalwatch.federation.models import DownstreamCenter, ReceivedCheckpoint
from coalwatch.storage.models import Org
from coalwatch.wire.signing import parse_public_key, verify


class Refused(Forbidden):
    """Configuration a downstream center may not push up (403, ``forwarding_refused``)."""

    code = "forwarding_refused"

    def __init__(self, message: str, *, op: str, mine: str | None) -> None:
        super().__init__(message, {"op": op, "mine": mine})
        self.op, self.mine = op, mine


def require_accepted(session: Session, center: DownstreamCenter, op: str, key: str) -> None:
    """403 for a configuration change the center may not send up."""
    if op in ACCEPTED_FROM_BELOW:
        return
    org = session.get_one(Org, center.org_id)
    mine = key.split("/")[0] if key else None
    if op in DECIDED_ABOVE:
        if org.kind in SUPERVISING_KINDS:
            return  # a supervising unit's own decision, reported up
        permission = DECIDED_ABOVE[op][0]
        raise Refused(
            f"{op} of mine {mine} is decided by a supervising unit above the mine "
            f"(permission {permission}) and flows down, never up: center {center.code} "
            f"(registered for {org.kind} {org.code}) may send records, events, faults, "
            "reports and applications, not the mine's yardsticks",
            op=op,
            mine=mine,
        )
    raise Refused(
        f"configuration {op!r} is not accepted from a downstream center (center "
        f"{center.code}); only records, events, faults, reports, applications and the "
        "registrations they need come up",
        op=op,
        mine=mine,
    )


def receive_checkpoint(
    session: Session, center: DownstreamCenter, payload: dict[str, Any], now: datetime
) -> None:
    """Keep a downstream's signed checkpoint; ``data_tamper`` when it does not extend
    the ones kept before (the downstream's audit log was cut or rewritten)."""
    try:
        checkpoint = Checkpoint(
            at=datetime.fromisoformat(str(payload["at"])),
            entry_count=int(payload["entry_count"]),
            head_id=int(payload["head_id"]),
            head_hash=str(payload["head_hash"]),
            public_key=str(payload["public_key"]),
            signature=str(payload["signature"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise Invalid(f"malformed audit checkpoint: {exc}") from exc
    if checkpoint.public_key != center.public_key or not verify(
        parse_public_key(center.public_key), checkpoint.payload(), checkpoint.signature
    ):
        raise Unauthorized(f"the audit checkpoint is not signed by center {center.code}'s key")
    kept = list(
        session.scalars(
            select(ReceivedCheckpoint)
            .where(ReceivedCheckpoint.center_id == center.id)
            .order_by(ReceivedCheckpoint.head_id)
        )
    )
    if any(
        (k.head_id, k.head_hash, k.entry_count)
        == (checkpoint.head_id, checkpoint.head_hash, checkpoint.entry_count)
        for k in kept
    ):
        return
    problem = _contradiction(kept, checkpoint)
    session.add(
        ReceivedCheckpoint(
            center_id=center.id,
            at=checkpoint.at,
            entry_count=checkpoint.entry_count,
            head_id=checkpoint.head_id,
            head_hash=checkpoint.head_hash,
            signature=checkpoint.signature,
            received_at=now,
        )
    )
    session.flush()
    if problem is not None:
        raise_alarm(
            session,
            mine_id=None,
            type_=AlarmType.DATA_TAMPER,
            at=now,
            subject=f"center:{center.code}",
            detail=f"center {center.code}: {problem}",
            params=detail_params("downstream_audit", center=center.code, text=problem),
        )


def _contradiction(kept: list[ReceivedCheckpoint], new: Checkpoint) -> str | None:
    """How ``new`` contradicts a checkpoint kept before (None: it extends them)."""
    for old in kept:
        if old.head_id == new.head_id and old.head_hash != new.head_hash:
            return (
                f"its audit chain was rewritten: entry {new.head_id} had hash "
                f"{old.head_hash[:12]}… at {old.at.isoformat()}, now {new.head_hash[:12]}…"
            )
        if old.head_id > new.head_id or old.entry_count > new.entry_count:
            return (
                f"audit entries were removed: the checkpoint of {old.at.isoformat()} counted "
                f"{old.entry_count} entries up to entry {old.head_id}, the one of "
                f"{new.at.isoformat()} {new.entry_count} up to entry {new.head_id}"
            )
        if new.entry_count - old.entry_count > new.head_id - old.head_id:
            return (
                f"its audit chain was rebuilt: {new.entry_count - old.entry_count} entries "
                f"between entry {old.head_id} and entry {new.head_id}"
            )
    return None


def kept_checkpoints(session: Session, center: DownstreamCenter) -> list[Checkpoint]:
    """A downstream's checkpoints as kept here (its ``audit verify --checkpoints``)."""
    return [
        Checkpoint(k.at, k.entry_count, k.head_id, k.head_hash, center.public_key, k.signature)
        for k in session.scalars(
            select(ReceivedCheckpoint)
            .where(ReceivedCheckpoint.center_id == center.id)
            .order_by(ReceivedCheckpoint.head_id)
        )
    ]
