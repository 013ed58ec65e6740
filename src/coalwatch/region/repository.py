"""The SQL of the regulator's views: submitted and received daily reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.federation.models import ReceivedReport
from coalwatch.reports.models import ReportRevision


def submitted(session: Session, mine_ids: Sequence[int], day: date) -> dict[int, ReportRevision]:
    """The latest submitted revision of each mine's day, signed here."""
    out: dict[int, ReportRevision] = {}
    for revision in session.scalars(
        select(ReportRevision)
        .where(
            ReportRevision.mine_id.in_(list(mine_ids)),
            ReportRevision.day == day,
            ReportRevision.submitted_at.is_not(None),
        )
        .order_by(ReportRevision.revision)
    ):
        out[revision.mine_id] = revision
    return out


def received(session: Session, mine_ids: Sequence[int], day: date) -> dict[int, ReceivedReport]:
    """The latest revision of each mine's day received from a downstream center."""
    out: dict[int, ReceivedReport] = {}
    for report in session.scalars(
        select(ReceivedReport)
        .where(ReceivedReport.mine_id.in_(list(mine_ids)), ReceivedReport.day == day)
        .order_by(ReceivedReport.revision)
    ):
        out[report.mine_id] = report
    return out
