"""The collection files out: per mine, parameters 测点定义 on change, real-time values
实时数据 every 10–60 s, cumulative totals 累计数据 hourly, 5-minute statistics 统计数据 and
alarms 报警数据 on transition, in the layout of ``layout.py``.

A file is written whole under a temporary name and renamed (a reader never sees half a
file), then entered in the delivery ledger in the same transaction as the writer's mark.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.auth.principal import OPERATOR
from coalwatch.domain.periods import Period, period_start
from coalwatch.domain.units import kg_to_tonnes, round_tonnes
from coalwatch.exchange import repository
from coalwatch.exchange.layout import Layout
from coalwatch.production.service import summary
from coalwatch.storage.models import Mine

Row = dict[str, str]


@dataclass(frozen=True)
class Schedule:
    """How often each kind is written (seconds); parameters and alarms on change."""

    realtime_s: int = 30
    cumulative_s: int = 3600
    statistics_s: int = 300


@dataclass(frozen=True)
class Written:
    mine: str
    kind: str
    name: str


def tonnes(kg: int | None) -> str:
    return "" if kg is None else f"{kg_to_tonnes(kg):f}"


def _shown(value: Decimal | None) -> str:
    return "" if value is None else f"{round_tonnes(value):f}"


def slot(now: datetime, seconds: int) -> datetime:
    """The latest instant at or before ``now`` that is a multiple of ``seconds`` since the
    epoch: the aligned end of the interval that just ended."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def parameter_rows(session: Session, layout: Layout, mine: Mine) -> list[Row]:
    return [
        {
            "point_code": p.code,
            "point_name": p.name,
            "point_kind": layout.code("point_kinds", p.kind),
            "unit": "t",
            "rollover_t": tonnes(p.rollover_kg),
            "min_trip_t": tonnes(p.min_trip_kg),
        }
        for p in repository.points(session, mine.id)
    ]


def realtime_rows(session: Session, layout: Layout, mine: Mine, tz: ZoneInfo) -> list[Row]:
    """Each point's latest reading: the totalizer (and its flow) of a belt, the last
    trip's net weight of the other kinds, and the conveyor's state."""
    rows: list[Row] = []
    for p in repository.points(session, mine.id):
        total = repository.latest(session, p.id, "totalizer")
        trip = repository.latest(session, p.id, "trip")
        conveyor = repository.latest(session, p.id, "conveyor")
        weighed = [r for r in (total, trip) if r is not None]
        latest = weighed or ([conveyor] if conveyor is not None else [])
        if not latest:
            continue
        state = ""
        if conveyor is not None and conveyor.running is not None:
            state = layout.code("conveyor", "running" if conveyor.running else "stopped")
        rows.append(
            {
                "point_code": p.code,
                "point_kind": layout.code("point_kinds", p.kind),
                "value_time": layout.time(max(r.ts for r in latest), tz),
                "total_t": tonnes(total.value_kg) if total is not None else "",
                "trip_t": tonnes(trip.value_kg) if trip is not None else "",
                "flow_tph": tonnes(total.flow_kgph)
                if total and total.flow_kgph is not None
                else "",
                "conveyor": state,
            }
        )
    return rows


def cumulative_rows(
    session: Session, layout: Layout, mine: Mine, at: datetime, tz: ZoneInfo
) -> list[Row]:
    """当时/当天/当月/当年产量 up to ``at``, gross and raw (the figures of the summary)."""
    figures = summary(session, OPERATOR, mine.code, at, at)
    rows: list[Row] = []
    for period, figure in (
        (Period.HOUR, figures.hour),
        (Period.DAY, figures.day),
        (Period.MONTH, figures.month),
        (Period.YEAR, figures.year),
    ):
        rows.append(
            {
                "period": layout.code("periods", period.value),
                "period_start": layout.time(period_start(at.astimezone(tz), period, tz), tz),
                "gross_t": _shown(Decimal(figure.gross_t)),
                "raw_t": _shown(Decimal(figure.raw_t)),
                "manual_t": _shown(Decimal(figure.manual_t)),
            }
        )
    return rows


def statistics_rows(
    session: Session, layout: Layout, mine: Mine, start: datetime, end: datetime, tz: ZoneInfo
) -> list[Row]:
    stats = repository.window_stats(session, mine.id, start, end)
    return [
        {
            "point_code": p.code,
            "window_start": layout.time(start, tz),
            "window_end": layout.time(end, tz),
            "gross_t": tonnes(stats.get(p.id, (0, None, 0))[0]),
            "max_flow_tph": tonnes(stats.get(p.id, (0, None, 0))[1]),
            "samples": str(stats.get(p.id, (0, None, 0))[2]),
        }
        for p in repository.points(session, mine.id)
    ]


def alarm_rows(
    session: Session,
    layout: Layout,
    mine: Mine,
    since: datetime | None,
    after_id: int,
    tz: ZoneInfo,
) -> list[Row]:
    codes = {p.id: p.code for p in repository.points(session, mine.id)}
    return [
        {
            "alarm_id": str(a.id),
            "alarm_type": layout.code("alarm_types", a.type),
            "point_code": codes.get(a.point_id, "") if a.point_id is not None else "",
            "severity": a.severity,
            "start": layout.time(a.start, tz),
            "end": layout.time(a.end, tz),
            "value": a.value or "",
            "threshold": a.threshold or "",
            "state": layout.code("alarm_states", a.state),
        }
        for a in repository.alarms_changed(session, mine.id, since, after_id)
    ]


def write_atomically(directory: Path, name: str, data: bytes) -> None:
    """``name`` appears in ``directory`` whole or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / f".{name}.part"
    try:
        with open(part, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, directory / name)
    except OSError:
        part.unlink(missing_ok=True)
        raise
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Writer:
    def __init__(self, layout: Layout, directory: Path, encoding: str, schedule: Schedule) -> None:
        self.layout, self.directory, self.encoding = layout, directory, encoding
        self.schedule = schedule

    def write_due(self, session: Session, now: datetime) -> list[Written]:
        """Every file due for every mine at ``now``."""
        written: list[Written] = []
        for mine in repository.mines(session):
            written.extend(self.write_mine(session, mine, now))
        return written

    def write_mine(self, session: Session, mine: Mine, now: datetime) -> list[Written]:
        tz = ZoneInfo(mine.timezone)
        out: list[Written] = []

        def emit(kind: str, at: datetime, rows: Sequence[Row]) -> bool:
            name = self.layout.file_name(mine.code, kind, at, tz)
            if repository.file_named(session, name) is not None:
                return False  # this kind was written this very second
            header = {
                "mine_code": mine.code,
                "mine_name": mine.name,
                "file_time": self.layout.time(at, tz),
            }
            data = self.layout.render(header, kind, rows).encode(self.encoding)
            write_atomically(self.directory, name, data)
            repository.add_file(
                session,
                mine_id=mine.id,
                kind=kind,
                name=name,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                written_at=now,
            )
            out.append(Written(mine.code, kind, name))
            return True

        # parameters: whenever the point definitions differ from those last written
        rows = parameter_rows(session, self.layout, mine)
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        mark = repository.mark(session, mine.id, "parameters")
        if (mark is None or mark.digest != digest) and emit("parameters", now, rows):
            repository.set_mark(session, mine.id, "parameters", now, digest)

        for kind, seconds in (
            ("realtime", self.schedule.realtime_s),
            ("cumulative", self.schedule.cumulative_s),
            ("statistics", self.schedule.statistics_s),
        ):
            end = slot(now, seconds)
            mark = repository.mark(session, mine.id, kind)
            if mark is not None and mark.written_at >= end:
                continue
            if kind == "realtime":
                rows = realtime_rows(session, self.layout, mine, tz)
            elif kind == "cumulative":
                rows = cumulative_rows(session, self.layout, mine, end, tz)
            else:
                start = end - timedelta(seconds=seconds)
                rows = statistics_rows(session, self.layout, mine, start, end, tz)
            if emit(kind, end, rows):
                repository.set_mark(session, mine.id, kind, end)

        # alarms: those that started, were acknowledged, handled or ended since last time
        # (the mark's digest holds the highest alarm id written)
        mark = repository.mark(session, mine.id, "alarms")
        since = None if mark is None else mark.written_at
        after = int(mark.digest or 0) if mark is not None else 0
        rows = alarm_rows(session, self.layout, mine, since, after, tz)
        if mark is None or rows:
            if rows and not emit("alarms", now, rows):
                return out
            top = max([after, *(int(r["alarm_id"]) for r in rows)])
            repository.set_mark(session, mine.id, "alarms", now, str(top))
        return out
