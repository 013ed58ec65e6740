"""What this center tells its upstream about faults and signed daily reports: the
messages, built in the transaction of the change (a center without an upstream queues
nothing). The upstream applies them in ``federation.service``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.faults.models import Fault
from coalwatch.federation import queue
from coalwatch.federation.models import FaultMirror, ReceivedReport
from coalwatch.reports.models import ReportRevision, ReportSignature
from coalwatch.storage.models import CapacityReduction, Mine, Point, Station

#: fault fields sent as they are (times as ISO text)
FAULT_FIELDS = (
    "kind",
    "phenomenon",
    "occurred_at",
    "reported_at",
    "reported_by",
    "result",
    "recovered_at",
    "escalated_at",
    "closed_at",
    "closed_by",
    "opened_by",
)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def mirror_of(session: Session, fault_id: int) -> FaultMirror | None:
    return session.scalars(select(FaultMirror).where(FaultMirror.fault_id == fault_id)).first()


def forward_fault(session: Session, fault: Fault, transition: str, now: datetime) -> None:
    """The fault as it is now, for the upstream to mirror (keyed by where it was opened):
    its ``reported_at`` is when it was reported here (sent upward, or arrived here)."""
    if not queue.forwarding(session):
        return
    session.flush()
    mirror = mirror_of(session, fault.id)
    code = queue.center_code(session)
    alarm = None
    if fault.alarm_id is not None:
        row = session.get_one(Alarm, fault.alarm_id)
        alarm = row.origin or f"{code}:{row.id}"
    reduction = None
    if fault.reduction_id is not None:
        cut = session.get_one(CapacityReduction, fault.reduction_id)
        reduction = {
            "amount_kg_num": cut.amount_kg_num,
            "amount_kg_den": cut.amount_kg_den,
            "effective_from": cut.effective_from.isoformat(),
            "status": cut.status,
        }
    queue.enqueue(
        session,
        queue.FAULT,
        {
            "origin": mirror.origin if mirror is not None else f"{code}:{fault.id}",
            "transition": transition,
            "mine": session.get_one(Mine, fault.mine_id).code,
            "point": None
            if fault.point_id is None
            else session.get_one(Point, fault.point_id).code,
            "station": None
            if fault.station_id is None
            else session.get_one(Station, fault.station_id).code,
            "alarm": alarm,
            "reduction": reduction,
            **{name: _json(getattr(fault, name)) for name in FAULT_FIELDS},
        },
        now,
    )


def forward_report(
    session: Session, mine: Mine, revision: ReportRevision, submitted_at: datetime
) -> None:
    """上报: a fully signed revision, its content, SHA-256 and signatures, as signed."""
    if not queue.forwarding(session):
        return
    sigs = session.scalars(
        select(ReportSignature)
        .where(ReportSignature.revision_id == revision.id)
        .order_by(ReportSignature.id)
    )
    queue.enqueue(
        session,
        queue.REPORT,
        report_payload(
            mine.code,
            revision.day.isoformat(),
            revision.revision,
            revision.content,
            revision.sha256,
            [
                {
                    "role": s.role,
                    "signer": s.signer,
                    "sha256": s.sha256,
                    "signed_at": s.signed_at.isoformat(),
                }
                for s in sigs
            ],
            submitted_at,
        ),
        submitted_at,
    )


def forward_received_report(session: Session, mine: Mine, report: ReceivedReport) -> None:
    """A report received from below, relayed onward as it was signed."""
    if not queue.forwarding(session):
        return
    queue.enqueue(
        session,
        queue.REPORT,
        report_payload(
            mine.code,
            report.day.isoformat(),
            report.revision,
            report.content,
            report.sha256,
            json.loads(report.signatures),
            report.submitted_at,
        ),
        report.received_at,
    )


def report_payload(
    mine: str,
    day: str,
    revision: int,
    content: str,
    sha256: str,
    signatures: list[dict[str, Any]],
    submitted_at: datetime,
) -> dict[str, Any]:
    return {
        "mine": mine,
        "day": day,
        "revision": revision,
        "content": content,
        "sha256": sha256,
        "signatures": signatures,
        "submitted_at": submitted_at.isoformat(),
    }
