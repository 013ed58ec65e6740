"""Reading what stations sent: records (with their production) and the quarantine."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from coalwatch.auth.principal import Principal
from coalwatch.domain.units import kg_to_tonnes
from coalwatch.errors import NotFound
from coalwatch.ingest import repository
from coalwatch.ingest.schemas import QuarantinedOut, RecordOut
from coalwatch.mines.service import mine_point, visible_mine

MAX_RECORDS = 10_000


def _t(kg: int | None) -> Decimal | None:
    return None if kg is None else kg_to_tonnes(kg)


def list_records(
    session: Session,
    principal: Principal,
    mine_code: str,
    *,
    type_: str | None = None,
    point: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> list[RecordOut]:
    mine, _ = visible_mine(session, principal, mine_code)
    point_id = None
    if point is not None:
        found = mine_point(session, mine, point, missing=NotFound)
        point_id = found.id
    rows = repository.records_of(
        session,
        mine.id,
        type_=type_,
        point_id=point_id,
        start=start,
        end=end,
        limit=min(limit, MAX_RECORDS),
    )
    return [
        RecordOut(
            station=station,
            seq=r.seq,
            ts=r.ts,
            type=r.type,
            point=point_code,
            value_t=_t(r.value_kg),
            increment_t=_t(r.increment_kg),
            increment_kind=r.increment_kind,
            flow_tph=_t(r.flow_kgph),
            running=r.running,
            event=r.event,
            detail=r.detail,
            received_at=r.received_at,
            station_ts=r.station_ts,
        )
        for r, station, point_code in rows
    ]


def list_quarantined(
    session: Session, principal: Principal, mine_code: str, limit: int = 1000
) -> list[QuarantinedOut]:
    mine, _ = visible_mine(session, principal, mine_code)
    return [
        QuarantinedOut(
            station=station,
            seq=q.seq,
            payload=q.payload,
            reason=q.reason,
            received_at=q.received_at,
        )
        for q, station in repository.quarantined_of(session, mine.id, min(limit, MAX_RECORDS))
    ]
