"""Authority flows down 上级决定、下级执行: the yardsticks and limits a center decides are
queued for the downstream centers that hold the mine (:func:`publish_decision`); at a
downstream, a yardstick decided upstream is read-only (:func:`require_decidable_here`).

This module knows only the tables: the configuration use cases reach it through
``federation.queue.enqueue_config``; applying what arrives from the upstream is
``federation.decisions``.

A new kind of decision (a reduction confirmed or waived, a shutdown acknowledged, a
legal limit tightened) hooks in by calling :func:`publish_decision` in the deciding
use case's transaction (or by an entry in :data:`DECIDED_ABOVE` when it passes
through ``enqueue_config``), and by an applier in ``decisions.APPLIERS``; until it
has one, the downstream records the decision (the yardstick is read-only there) and
relays it without applying it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.audit.models import AuditEntry
from coalwatch.domain.authority import FROM_UPSTREAM
from coalwatch.errors import N_, Forbidden
from coalwatch.federation.models import CenterDecision, DownstreamCenter, UpstreamDecision
from coalwatch.storage.models import Mine, Org

#: (FROM_UPSTREAM: the session is applying a decision of the upstream, its unit: nothing
#: is queued upward, nothing is refused as decided upstream)
#: the session is applying an item a downstream center sent (its code): what it
#: changes is not published back down
FROM_DOWNSTREAM = "coalwatch.from_downstream"

#: the configuration operations a supervising unit decides for a mine: they flow down to
#: the centers holding the mine, and a downstream center never pushes them up. Each with
#: the permission that decides it and how the pages name it.
DECIDED_ABOVE: dict[str, tuple[str, str]] = {
    "mine.capacity": ("region:capacity", N_("核定生产能力")),
    "mine.plan": ("region:plan", N_("生产计划")),
    "mine.coefficient": ("region:coefficient", N_("折算系数")),
    "permit.approve": ("region:permit", N_("开盖/调参许可")),
    "threshold.set": ("region:limits", N_("法定时限与报警参数")),
}

#: what a downstream center may send up besides records, alarms, faults, reports and
#: audit checkpoints: the registrations the upstream needs to map and prove the records
#: (org, mine, point, station), the mine's own declarations and records (manual
#: production during a fault, a shutdown declaration, a calibration, the reduction the
#: rule computed from an unreported fault, which can only lower the capacity) and its
#: replies to the notices and instructions that came down
ACCEPTED_FROM_BELOW = frozenset(
    {
        "org.create",
        "mine.create",
        "point.create",
        "station.register",
        "production.manual",
        "shutdown.declare",
        "calibration.record",
        "mine.reduction",
        # a mine's acknowledgement and answer of a notice or instruction from above
        "notice.ack",
        "notice.answer",
    }
)


def from_upstream(session: Session) -> str | None:
    """The upstream unit whose decision the session is applying (None: a local change)."""
    unit = session.info.get(FROM_UPSTREAM)
    return None if unit is None else str(unit)


def top_unit(session: Session, mine: Mine) -> str:
    """The unit that decides here: the topmost org of the mine's branch at this center."""
    org = session.get_one(Org, mine.org_id)
    root_id = int(org.path.strip("/").split("/")[0])
    root = session.get_one(Org, root_id)
    return f"{root.code} {root.name}"


def publish_decision(
    session: Session,
    mine: Mine,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime | None = None,
    decided_by: str = "",
    unit: str | None = None,
) -> int:
    """Queue a decision about ``mine`` (``payload``: ``{"key": ..., "data": ...}`` as its
    use case takes them) for every downstream center that holds the mine; returns how
    many were queued. A decision applied from the upstream is relayed with its unit."""
    centers = session.scalars(
        select(DownstreamCenter).where(DownstreamCenter.id == mine.managed_by_center_id)
    ).all()
    at = now or datetime.now(UTC)
    for center in centers:
        session.add(
            CenterDecision(
                center_id=center.id,
                mine=mine.code,
                kind=kind,
                payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                unit=unit or top_unit(session, mine),
                decided_by=decided_by,
                decided_at=at,
            )
        )
    if centers:
        session.flush()
    return len(centers)


def decided_upstream(session: Session, mine_id: int, kind: str) -> UpstreamDecision | None:
    """The newest decision of this kind the upstream sent for the mine."""
    return session.scalars(
        select(UpstreamDecision)
        .where(UpstreamDecision.mine_id == mine_id, UpstreamDecision.kind == kind)
        .order_by(UpstreamDecision.id.desc())
        .limit(1)
    ).first()


def require_decidable_here(session: Session, mine: Mine, kind: str) -> None:
    """403 when the upstream decided this yardstick of the mine: it is read-only here."""
    if from_upstream(session) is not None:
        return
    decision = decided_upstream(session, mine.id, kind)
    if decision is None:
        return
    permission, label = DECIDED_ABOVE.get(kind, (kind, kind))
    raise Forbidden(
        N_("矿井 %(mine)s 的%(what)s由上级单位 %(unit)s 决定（权限 %(permission)s），本中心只读"),
        {"mine": mine.code, "kind": kind, "unit": decision.unit, "permission": permission},
        code="decided_upstream",
        params={"mine": mine.code, "what": label, "unit": decision.unit, "permission": permission},
        labels={"what"},
    )


def configuration_changed(
    session: Session, op: str, key: str, data: dict[str, Any], now: datetime
) -> None:
    """Every configuration use case passes here with its change: a yardstick the
    upstream decided is refused; one decided here flows down to the centers below."""
    if op not in DECIDED_ABOVE:
        return
    mine = session.scalars(select(Mine).where(Mine.code == key.split("/")[0])).first()
    if mine is None:
        return
    require_decidable_here(session, mine, op)
    held_below = mine.managed_by_center_id is not None
    if held_below and from_upstream(session) is None and not session.info.get(FROM_DOWNSTREAM):
        # who decided: the actor of the change's audit entry, written just before
        actor = session.scalars(
            select(AuditEntry.actor)
            .where(AuditEntry.action == op)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).first()
        publish_decision(
            session, mine, op, {"key": key, "data": data}, now=now, decided_by=actor or ""
        )
