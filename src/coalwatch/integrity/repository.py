"""All SQL of verification: kept batches, the records they brought, rollups."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from coalwatch.integrity.models import SignedBatch, VerificationProgress
from coalwatch.partitions.models import RawArchive
from coalwatch.storage.models import (
    DailyProduction,
    HourlyProduction,
    ManualProduction,
    Mine,
    Point,
    QuarantinedRecord,
    Record,
    Station,
)

PROGRESS = "records"


def progress(session: Session) -> VerificationProgress:
    """The progress row, locked: one verification at a time."""
    row = session.scalars(
        select(VerificationProgress).where(VerificationProgress.name == PROGRESS).with_for_update()
    ).first()
    if row is None:  # a database older than the row: nothing was accepted unsigned since
        row = VerificationProgress(
            name=PROGRESS, last_batch_id=0, last_record_id=0, unsigned_before=0
        )
        session.add(row)
        session.flush()
    return row


def newest_record_id(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(Record.id), 0))) or 0)


class Kept(NamedTuple):
    id: int
    mine_id: int
    station_id: int
    body: bytes
    signature: str
    received_at: datetime


_KEPT = select(
    SignedBatch.id,
    SignedBatch.mine_id,
    SignedBatch.station_id,
    SignedBatch.body,
    SignedBatch.signature,
    SignedBatch.received_at,
)


def batches(session: Session, after: int, ids: Iterable[int], size: int) -> Iterator[list[Kept]]:
    """The kept batches with an id above ``after``, and those named in ``ids``, in
    chunks of ``size``."""
    named = sorted(i for i in set(ids) if i <= after)
    for start in range(0, len(named), size):
        yield [
            Kept(*row)
            for row in session.execute(_KEPT.where(SignedBatch.id.in_(named[start : start + size])))
        ]
    last = after
    while True:
        chunk = [
            Kept(*row)
            for row in session.execute(
                _KEPT.where(SignedBatch.id > last).order_by(SignedBatch.id).limit(size)
            )
        ]
        if not chunk:
            return
        yield chunk
        last = chunk[-1].id


def newest_batch_id(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(SignedBatch.id), 0))) or 0)


class Stored(NamedTuple):
    id: int
    seq: int
    ts: datetime
    type: str
    point_id: int | None
    value_kg: int | None
    increment_kg: int | None
    flow_kgph: int | None
    running: bool | None
    event: str | None
    detail: str | None
    #: the station's own time of a record counted at its receipt (clock ahead)
    station_ts: datetime | None


def records_of_batches(session: Session, batch_ids: Sequence[int]) -> dict[int, list[Stored]]:
    rows = session.execute(
        select(
            Record.batch_id,
            Record.id,
            Record.seq,
            Record.ts,
            Record.type,
            Record.point_id,
            Record.value_kg,
            Record.increment_kg,
            Record.flow_kgph,
            Record.running,
            Record.event,
            Record.detail,
            Record.station_ts,
        ).where(Record.batch_id.in_(batch_ids))
    )
    found: dict[int, list[Stored]] = {}
    for batch_id, *columns in rows:
        if batch_id is not None:  # filtered above
            found.setdefault(batch_id, []).append(Stored(*columns))
    return found


def held(session: Session, keys: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which of these (station, seq) are stored, as records or in quarantine."""
    found: set[tuple[int, int]] = set()
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        for model in (Record, QuarantinedRecord):
            found.update(
                (int(station), int(seq))
                for station, seq in session.execute(
                    select(model.station_id, model.seq).where(
                        tuple_(model.station_id, model.seq).in_(part)
                    )
                )
                if seq is not None
            )
    return found


class Unproved(NamedTuple):
    id: int
    mine_id: int
    station_id: int
    seq: int
    batch_id: int | None


def unproved_records(session: Session, after: int) -> list[Unproved]:
    """Records above ``after`` that no kept batch brought."""
    rows = session.execute(
        select(Record.id, Record.mine_id, Record.station_id, Record.seq, Record.batch_id)
        .outerjoin(SignedBatch, SignedBatch.id == Record.batch_id)
        .where(Record.id > after, SignedBatch.id.is_(None))
        .order_by(Record.id)
        .limit(1000)
    )
    return [Unproved(*row) for row in rows]


def batches_of_records(session: Session, after: int) -> set[int]:
    """The batches that records above ``after`` say they came with."""
    return {
        int(b)
        for b in session.scalars(
            select(Record.batch_id)
            .where(Record.id > after, Record.batch_id.is_not(None))
            .distinct()
        )
        if b is not None
    }


class Increment(NamedTuple):
    point_id: int
    ts: datetime
    kg: int


def increments(
    session: Session, point_ids: Sequence[int] | None, start: datetime | None, end: datetime | None
) -> Iterator[Increment]:
    """The production of records (of these points, between these instants)."""
    query = select(Record.point_id, Record.ts, Record.increment_kg).where(
        Record.point_id.is_not(None), Record.increment_kg.is_not(None), Record.increment_kg != 0
    )
    if point_ids is not None:
        query = query.where(Record.point_id.in_(point_ids))
    if start is not None and end is not None:
        query = query.where(Record.ts >= start, Record.ts < end)
    for point_id, ts, kg in session.execute(query).yield_per(10_000):
        if point_id is not None and kg is not None:  # both filtered above
            yield Increment(point_id, ts, kg)


class Hourly(NamedTuple):
    mine_id: int
    point_id: int
    hour_start: datetime
    measured_kg: int
    manual_kg: int


def hourly_rows(
    session: Session, point_ids: Sequence[int] | None, start: datetime | None, end: datetime | None
) -> Iterator[Hourly]:
    query = select(
        HourlyProduction.mine_id,
        HourlyProduction.point_id,
        HourlyProduction.hour_start,
        HourlyProduction.measured_kg,
        HourlyProduction.manual_kg,
    )
    if point_ids is not None:
        query = query.where(HourlyProduction.point_id.in_(point_ids))
    if start is not None and end is not None:
        query = query.where(HourlyProduction.hour_start >= start, HourlyProduction.hour_start < end)
    for row in session.execute(query).yield_per(10_000):
        yield Hourly(*row)


def manual_entries(session: Session) -> Sequence[ManualProduction]:
    return session.scalars(select(ManualProduction).order_by(ManualProduction.id)).all()


class DayMismatch(NamedTuple):
    mine_id: int
    point_id: int
    local_day: date
    stored: tuple[int, int] | None
    of_hours: tuple[int, int] | None


def day_mismatches(session: Session, limit: int = 100) -> list[DayMismatch]:
    """Daily rollups that are not the sum of their hours (either side missing counts)."""
    hours = (
        select(
            HourlyProduction.mine_id,
            HourlyProduction.point_id,
            HourlyProduction.local_day,
            func.sum(HourlyProduction.measured_kg).label("measured"),
            func.sum(HourlyProduction.manual_kg).label("manual"),
        )
        .group_by(HourlyProduction.mine_id, HourlyProduction.point_id, HourlyProduction.local_day)
        .subquery()
    )
    same_day = and_(
        hours.c.mine_id == DailyProduction.mine_id,
        hours.c.point_id == DailyProduction.point_id,
        hours.c.local_day == DailyProduction.local_day,
    )
    found: list[DayMismatch] = []
    for m, p, d, measured, manual, h_measured, h_manual in session.execute(
        select(
            DailyProduction.mine_id,
            DailyProduction.point_id,
            DailyProduction.local_day,
            DailyProduction.measured_kg,
            DailyProduction.manual_kg,
            hours.c.measured,
            hours.c.manual,
        )
        .outerjoin(hours, same_day)
        .where(
            or_(
                and_(
                    hours.c.measured.is_(None),
                    DailyProduction.measured_kg + DailyProduction.manual_kg != 0,
                ),
                hours.c.measured != DailyProduction.measured_kg,
                hours.c.manual != DailyProduction.manual_kg,
            )
        )
        .limit(limit)
    ):
        of_hours = None if h_measured is None else (int(h_measured), int(h_manual))
        found.append(DayMismatch(m, p, d, (int(measured), int(manual)), of_hours))
    for m, p, d, h_measured, h_manual in session.execute(
        select(
            hours.c.mine_id, hours.c.point_id, hours.c.local_day, hours.c.measured, hours.c.manual
        )
        .outerjoin(DailyProduction, same_day)
        .where(DailyProduction.local_day.is_(None), hours.c.measured + hours.c.manual != 0)
        .limit(limit)
    ):
        found.append(DayMismatch(m, p, d, None, (int(h_measured), int(h_manual))))
    return found


class PointInfo(NamedTuple):
    mine_id: int
    mine_code: str
    timezone: str
    code: str


def points(session: Session) -> dict[int, PointInfo]:
    rows = session.execute(
        select(Point.id, Mine.id, Mine.code, Mine.timezone, Point.code).join(
            Mine, Mine.id == Point.mine_id
        )
    )
    return {pid: PointInfo(mid, mcode, tz, pcode) for pid, mid, mcode, tz, pcode in rows}


def mine_codes(session: Session) -> dict[int, str]:
    return {
        int(mine_id): str(code) for mine_id, code in session.execute(select(Mine.id, Mine.code))
    }


def mine_points(session: Session, mine_id: int) -> dict[str, Point]:
    return {p.code: p for p in session.scalars(select(Point).where(Point.mine_id == mine_id))}


def station(session: Session, station_id: int) -> Station:
    return session.get_one(Station, station_id)


def station_key(session: Session, station_id: int) -> str | None:
    return session.scalar(select(Station.public_key).where(Station.id == station_id))


def archives(session: Session) -> list[RawArchive]:
    """The months of raw tables archived to files and dropped, oldest first."""
    return list(session.scalars(select(RawArchive).order_by(RawArchive.month_start, RawArchive.id)))
