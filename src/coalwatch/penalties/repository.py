"""The SQL other features ask of penalties."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from coalwatch.penalties.models import Penalty


def counts(session: Session, mine_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per mine that has any: (penalties not yet executed, all penalties)."""
    if not mine_ids:
        return {}
    rows = session.execute(
        select(
            Penalty.mine_id,
            func.sum(case((Penalty.status != "executed", 1), else_=0)),
            func.count(),
        )
        .where(Penalty.mine_id.in_(list(mine_ids)))
        .group_by(Penalty.mine_id)
    )
    return {mine_id: (int(open_ or 0), int(total)) for mine_id, open_, total in rows}
