"""The SQL of the summaries upward."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.storage.models import CapacityReduction
from coalwatch.summaries.models import ReceivedSummary, SummaryRevision, SummarySignature


def add(session: Session, row: SummaryRevision | SummarySignature | ReceivedSummary) -> None:
    session.add(row)
    session.flush()


def latest(session: Session, mine_id: int, kind: str, period: str) -> SummaryRevision | None:
    return session.scalars(
        select(SummaryRevision)
        .where(
            SummaryRevision.mine_id == mine_id,
            SummaryRevision.kind == kind,
            SummaryRevision.period == period,
        )
        .order_by(SummaryRevision.revision.desc())
        .limit(1)
    ).first()


def signatures(session: Session, revision_id: int) -> list[SummarySignature]:
    return list(
        session.scalars(
            select(SummarySignature)
            .where(SummarySignature.revision_id == revision_id)
            .order_by(SummarySignature.id)
        )
    )


def reductions(session: Session, ids: Sequence[int]) -> dict[int, CapacityReduction]:
    if not ids:
        return {}
    rows = session.scalars(select(CapacityReduction).where(CapacityReduction.id.in_(ids)))
    return {r.id: r for r in rows}


def received(
    session: Session, mine_id: int, kind: str, period: str, revision: int
) -> ReceivedSummary | None:
    return session.scalars(
        select(ReceivedSummary).where(
            ReceivedSummary.mine_id == mine_id,
            ReceivedSummary.kind == kind,
            ReceivedSummary.period == period,
            ReceivedSummary.revision == revision,
        )
    ).first()


def received_of(session: Session, mine_ids: Sequence[int]) -> list[ReceivedSummary]:
    if not mine_ids:
        return []
    return list(
        session.scalars(
            select(ReceivedSummary)
            .where(ReceivedSummary.mine_id.in_(mine_ids))
            .order_by(ReceivedSummary.received_at.desc(), ReceivedSummary.id.desc())
        )
    )
