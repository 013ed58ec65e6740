"""The figures fingerprint 数据核对: what a backup and its restore are compared by.

For every mine the production of yesterday, the current day, month and year at an
instant (from the production service, so exactly what the pages and the API show),
the rows of every table, and the head of the audit chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.auth.principal import OPERATOR
from coalwatch.backups import repository
from coalwatch.backups.schemas import Difference, Figures, MineFigures, PeriodTotals
from coalwatch.domain.periods import Period, period_start
from coalwatch.production import service as production
from coalwatch.production.schemas import Figure


def _totals(figure: Figure | None) -> PeriodTotals:
    if figure is None:
        return PeriodTotals(gross_t="0", raw_t="0", manual_t="0")
    return PeriodTotals(
        gross_t=str(figure.gross_t), raw_t=str(figure.raw_t), manual_t=str(figure.manual_t)
    )


def _mine(session: Session, code: str, zone: str, at: datetime) -> MineFigures:
    summary = production.summary(session, OPERATOR, code, at, at)
    tz = ZoneInfo(zone)
    today = period_start(at.astimezone(tz), Period.DAY, tz)
    yesterday = period_start(today - timedelta(hours=12), Period.DAY, tz)
    before = production.mine_production(session, OPERATOR, code, Period.DAY, yesterday, today, at)
    return MineFigures(
        yesterday=_totals(before.total),
        day=_totals(summary.day),
        month=_totals(summary.month),
        year=_totals(summary.year),
    )


def compute(
    session: Session, at: datetime, known: Mapping[str, Mapping[str, int]] | None = None
) -> Figures:
    """The figures at ``at``; ``known``: the rows of partitions that are not counted
    again (closed months whose change mark says they are as when they were counted)."""
    head = repository.audit_head(session)
    rows = repository.row_counts(session, known)
    return Figures(
        at=at,
        mines={
            code: _mine(session, code, zone, at) for code, zone in repository.mine_zones(session)
        },
        rows=rows,
        audit_entries=rows.get("audit_log", 0),
        audit_head="" if head is None else head[1],
    )


def digest(figures: Figures) -> str:
    payload = json.dumps(figures.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def differences(expected: Figures, found: Figures) -> list[Difference]:
    """What differs, one line per figure (empty: the same)."""
    left = _flat(expected.model_dump(mode="json", exclude={"at"}))
    right = _flat(found.model_dump(mode="json", exclude={"at"}))
    return [
        Difference(what=key, expected=left.get(key, "-"), found=right.get(key, "-"))
        for key in sorted(set(left) | set(right))
        if left.get(key) != right.get(key)
    ]


def _flat(value: object, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: str(value)}
