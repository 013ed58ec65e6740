"""Evaluating the alarm rules: after every ingested batch, and by timers.

The rules themselves are pure (``coalwatch.domain.alarms``); this module
gathers their facts from storage, in the caller's transaction, and raises or
ends alarms. Abnormalities of the system open fault records as they are raised.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.alarms import repository as alarm_repository
from coalwatch.alarms import rules_repository as facts
from coalwatch.alarms import service as alarms
from coalwatch.alarms.models import Alarm
from coalwatch.alarms.thresholds import for_point
from coalwatch.domain import alarms as rules
from coalwatch.domain.alarms import (
    EVENT_ALARMS,
    FAULT_OPENING,
    LABELS,
    OVERPRODUCTION,
    PERMITTED,
    AlarmType,
    ReportLateness,
    Severity,
    Thresholds,
    detail_params,
    local_minute,
)
from coalwatch.domain.capacity import daily_capacity, monthly_capacity, period_capacity
from coalwatch.domain.periods import Period, day_start, next_period_start
from coalwatch.domain.units import RAW_UNITS_PER_T, kg_to_tonnes, round_tonnes
from coalwatch.events.broker import emit
from coalwatch.faults import service as faults
from coalwatch.horizon import service as horizon
from coalwatch.production import repository as production
from coalwatch.production.service import Yardstick, batch_yardstick
from coalwatch.storage.facts import cached_among
from coalwatch.storage.models import Mine, Org, Point, Station
from coalwatch.suspects.models import SuspectIncrement

OPEN = "coalwatch.open_alarms"
#: after the center was away (``center_outages``), the time its stations are given to
#: find it again (their back-off) before their silence counts
RECONNECT_GRACE = timedelta(minutes=2)
AlarmKey = tuple[str, int | None, int | None, str | None]


def _open_keys(session: Session, mine: Mine) -> set[AlarmKey]:
    """The conditions of a mine alarmed and not ended, read once per transaction:
    most records end nothing, and this spares a query for each of them."""
    cache: dict[int, set[AlarmKey]] = session.info.setdefault(OPEN, {})
    if mine.id not in cache:
        none: frozenset[AlarmKey] = frozenset()
        # kept per process until the mine's alarms change, read for every mine at once;
        # this transaction's set is its own copy
        cache[mine.id] = set(
            cached_among(
                session,
                "open alarms",
                mine.id,
                _ALARM_TABLES,
                lambda: alarm_repository.ongoing_keys_by_mine(session),
                none,
                load_one=lambda: frozenset(alarm_repository.ongoing_keys_of_mine(session, mine.id)),
                scoped=True,
            )
        )
    return cache[mine.id]


_ALARM_TABLES = frozenset({"alarms"})


def _key(type_: AlarmType, kwargs: dict[str, Any]) -> AlarmKey:
    return (type_.value, kwargs.get("point_id"), kwargs.get("station_id"), kwargs.get("subject"))


def _raise(
    session: Session,
    mine: Mine,
    type_: AlarmType,
    at: datetime,
    fault_since: datetime | None = None,
    **kwargs: Any,
) -> Alarm:
    """Raise an alarm; an abnormality opens its fault, dated ``fault_since`` when the
    trouble began before the alarm could say so (the last contact, the last sample)."""
    alarm, new = alarms.raise_alarm(session, mine_id=mine.id, type_=type_, at=at, **kwargs)
    _open_keys(session, mine).add(_key(type_, kwargs))
    if new and type_ in FAULT_OPENING:
        phenomenon = " ".join(filter(None, [LABELS[type_], alarm.detail]))
        faults.open_for_alarm(session, alarm, phenomenon, since=fault_since)
    return alarm


def _end(session: Session, mine: Mine, type_: AlarmType, at: datetime, **kwargs: Any) -> None:
    keys = _open_keys(session, mine)
    key = _key(type_, kwargs)
    if key not in keys:
        return
    keys.discard(key)
    alarm = alarms.end_condition(session, mine_id=mine.id, type_=type_, at=at, **kwargs)
    if alarm is not None and type_ in FAULT_OPENING:
        faults.recovered(session, alarm)


def _instant(session: Session, mine: Mine, type_: AlarmType, at: datetime, **kwargs: Any) -> None:
    """An alarm for something that happened at one instant (ends as it is raised)."""
    alarm = _raise(session, mine, type_, at, **kwargs)
    alarms.end_alarm(session, alarm, at)
    _open_keys(session, mine).discard(_key(type_, kwargs))


def _t(value: Fraction) -> str:
    return str(round_tonnes(value))


@dataclass
class BatchFacts:
    """What one ingested batch revealed, for the rules."""

    mine: Mine
    #: the path of the mine's org, for the events (read with the station)
    org_path: str
    station: Station
    rows: list[dict[str, Any]]
    points: dict[int, Point]
    #: (point_id, hour_start UTC) → (local day, measured kg, manual kg)
    deltas: dict[tuple[int, datetime], tuple[date, int, int]]
    resets: list[tuple[Point, datetime, int, int]]
    rejected: list[dict[str, Any]]
    opened_gaps: tuple[tuple[int, int], ...]
    gaps_left: bool
    skew: timedelta
    skew_limit: timedelta
    now: datetime
    commands: list[dict[str, Any]] = field(default_factory=list)
    #: increments held as suspect (stored)
    suspects: list[SuspectIncrement] = field(default_factory=list)
    #: by a counted reading's seq: when the reading before it was taken
    previous_ts: dict[int, datetime] = field(default_factory=dict)
    #: readings whose out-of-range flow was left out: seq → the flow as sent
    dropped_flows: dict[int, str] = field(default_factory=dict)
    #: the totals the batch added to, as the addition left them
    #: (``production.repository.add_to_rollups``)
    totals: production.Added = field(default_factory=production.Added)


def after_batch(session: Session, batch: BatchFacts) -> list[dict[str, Any]]:
    """Raise and end what the batch shows; return commands for the station."""
    mine, station, now = batch.mine, batch.station, batch.now
    if mine.managed_by_center_id is not None:
        # its downstream center evaluates the rules; its alarms arrive mirrored
        if batch.deltas or any(r["type"] == "conveyor" for r in batch.rows):
            emit(session, "figures", batch.org_path, {"mine": mine.code, "at": now.isoformat()})
        return batch.commands
    thresholds: dict[int | None, Thresholds] = {}
    # the deployment's skew setting is the default a mine's threshold may override
    base = Thresholds(clock_skew_seconds=int(batch.skew_limit.total_seconds()))

    def limits(point_id: int | None) -> Thresholds:
        if point_id not in thresholds:
            thresholds[point_id] = for_point(
                session, mine.id, batch.points.get(point_id) if point_id else None, base
            )
        return thresholds[point_id]

    _end(session, mine, AlarmType.COMM_INTERRUPTION, now, station_id=station.id)
    _station_checks(session, batch, timedelta(seconds=limits(None).clock_skew_seconds))
    _events(session, batch)
    # a station that reports the reset itself (parameter_change) has been alarmed already
    reported = {
        r["point_id"]
        for r in batch.rows
        if r["type"] == "event" and r["event"] == "parameter_change"
    }
    for point, ts, old_kg, new_kg in batch.resets:
        if point.id not in reported and not _permitted(session, mine, point.id, ts):
            _instant(
                session,
                mine,
                AlarmType.PARAMETER_CHANGE,
                ts,
                point_id=point.id,
                params=detail_params("reset", old=kg_to_tonnes(old_kg), new=kg_to_tonnes(new_kg)),
            )
    for suspect in batch.suspects:
        raise_suspect(session, mine, suspect)
    by_point: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in batch.rows:
        if row["point_id"] is not None:
            by_point[row["point_id"]].append(row)
    in_order = {p: sorted(rows, key=_when) for p, rows in by_point.items()}
    # the conveyor states the metering rule needs, of every point at once
    counting = {p: _counting(rows) for p, rows in in_order.items()}
    states = _conveyor_states(
        session,
        batch.points,
        {
            p: (min(_interval(r, batch.previous_ts)[0] for r in c), c[-1]["ts"])
            for p, c in counting.items()
            if c
        },
    )
    for point_id, rows in in_order.items():
        point = batch.points[point_id]
        _point_checks(
            session,
            mine,
            point,
            rows,
            counting[point_id],
            states.get(point_id, []),
            limits(point_id),
            batch.previous_ts,
            batch.dropped_flows,
        )
    produced = [r for r in batch.rows if (r["increment_kg"] or 0) > 0]
    if produced:
        _end(session, mine, AlarmType.UNDECLARED_SHUTDOWN, min(r["ts"] for r in produced))
        _shutdown_production(session, mine, produced)
    if batch.deltas:
        _overproduction(session, mine, batch.deltas, batch.totals)
    if batch.deltas or any(r["type"] == "conveyor" for r in batch.rows):
        # the dashboards redraw: production or a conveyor's state changed
        emit(session, "figures", batch.org_path, {"mine": mine.code, "at": now.isoformat()})
    return batch.commands


def _conveyor_states(
    session: Session, points: dict[int, Point], windows: dict[int, tuple[datetime, datetime]]
) -> dict[int, facts.ConveyorStates]:
    """``facts.conveyor_states_of`` of these windows: from the point's row where its
    conveyor's last record is at or before the window's start (the state held throughout,
    or no record at all), from the records (one query) where it changed since."""
    states: dict[int, facts.ConveyorStates] = {}
    changed: dict[int, tuple[datetime, datetime]] = {}
    for point_id, (first, last) in windows.items():
        point = points[point_id]
        if point.last_conveyor_ts is None:
            states[point_id] = []
        elif point.last_conveyor_ts <= first:
            states[point_id] = [(point.last_conveyor_ts, bool(point.last_conveyor_running))]
        else:
            changed[point_id] = (first, last)
    states.update(facts.conveyor_states_of(session, changed))
    return states


def _station_checks(session: Session, batch: BatchFacts, skew_limit: timedelta) -> None:
    mine, station, now = batch.mine, batch.station, batch.now
    if batch.rejected:
        _raise(
            session,
            mine,
            AlarmType.INVALID_DATA,
            now,
            station_id=station.id,
            value=str(len(batch.rejected)),
            params=detail_params(
                "rejected",
                records="; ".join(f"seq {r['seq']}: {r['reason']}" for r in batch.rejected[:5]),
            ),
        )
    else:
        _end(session, mine, AlarmType.INVALID_DATA, now, station_id=station.id)
    if batch.opened_gaps:
        _raise(
            session,
            mine,
            AlarmType.SEQUENCE_GAP,
            now,
            station_id=station.id,
            value=str(sum(b - a + 1 for a, b in batch.opened_gaps)),
            params=detail_params(
                "missing",
                seqs=", ".join(f"{a}–{b}" if a != b else str(a) for a, b in batch.opened_gaps),
            ),
        )
    elif not batch.gaps_left:
        _end(session, mine, AlarmType.SEQUENCE_GAP, now, station_id=station.id)
    if abs(batch.skew) > skew_limit:
        _raise(
            session,
            mine,
            AlarmType.CLOCK_SKEW,
            now,
            station_id=station.id,
            value=f"{batch.skew.total_seconds():+.0f} s",
            threshold=f"{skew_limit.total_seconds():.0f} s",
        )
        batch.commands.append({"type": "time_check", "center_time": now.isoformat()})
    else:
        _end(session, mine, AlarmType.CLOCK_SKEW, now, station_id=station.id)


def _permitted(session: Session, mine: Mine, point_id: int | None, ts: datetime) -> bool:
    return rules.covered(
        facts.permits(session, mine.id, ts, ts), ts, str(point_id) if point_id else None
    )


def _events(session: Session, batch: BatchFacts) -> None:
    mine = batch.mine
    for row in batch.rows:
        if row["type"] != "event":
            continue
        name, ts, point_id = row["event"], row["ts"], row["point_id"]
        if name in EVENT_ALARMS:
            type_, ending = EVENT_ALARMS[name]
            if type_ in PERMITTED and _permitted(session, mine, point_id, ts):
                continue  # inside an approved permit: logged (the record), not alarmed
            kwargs: dict[str, Any] = {"point_id": point_id, "detail": row["detail"]}
            if point_id is None:
                kwargs["station_id"] = batch.station.id
            if ending is None:
                _instant(session, mine, type_, ts, **kwargs)
            else:
                _raise(session, mine, type_, ts, **kwargs)
        elif name in rules.ENDING_EVENTS:
            kwargs = {"point_id": point_id}
            if point_id is None:
                kwargs["station_id"] = batch.station.id
            _end(session, mine, rules.ENDING_EVENTS[name], ts, **kwargs)


#: the order of a batch's rows in time (the station's seq on the same instant)
_when = itemgetter("ts", "seq")


def _interval(row: dict[str, Any], previous_ts: dict[int, datetime]) -> tuple[datetime, datetime]:
    """The interval a counted reading's production was carried in: from the reading
    before it (or its own instant, when that came later by the station's clock)."""
    end: datetime = row["ts"]
    return min(previous_ts.get(row["seq"], end), end), end


def raise_suspect(session: Session, mine: Mine, suspect: SuspectIncrement) -> None:
    """计量异常 for an increment held as suspect, with the reason and both figures; it
    ends when a supervising user decides it."""
    _raise(
        session,
        mine,
        AlarmType.METERING_ANOMALY,
        suspect.ts,
        point_id=suspect.point_id,
        subject=suspect_subject(suspect.id),
        value=str(kg_to_tonnes(suspect.increment_kg)),
        threshold=str(kg_to_tonnes(suspect.limit_kg)),
        params=detail_params(
            "suspect_increment",
            kind=suspect.kind,
            why=suspect.reason,
            old=kg_to_tonnes(suspect.old_kg),
            new=kg_to_tonnes(suspect.new_kg),
            increment=kg_to_tonnes(suspect.increment_kg),
            limit=kg_to_tonnes(suspect.limit_kg),
            seconds=_seconds(suspect.ts - suspect.previous_ts),
        ),
    )


def end_suspect(session: Session, mine: Mine, suspect: SuspectIncrement, at: datetime) -> None:
    """The suspect increment's alarm ends: a supervising user decided it."""
    alarms.end_condition(
        session,
        mine_id=mine.id,
        type_=AlarmType.METERING_ANOMALY,
        at=at,
        point_id=suspect.point_id,
        subject=suspect_subject(suspect.id),
    )
    _open_keys(session, mine).discard(
        _key(
            AlarmType.METERING_ANOMALY,
            {"point_id": suspect.point_id, "subject": suspect_subject(suspect.id)},
        )
    )


def suspect_subject(suspect_id: int) -> str:
    return f"suspect:{suspect_id}"


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():g}"


def after_correction(
    session: Session,
    mine: Mine,
    org_path: str,
    deltas: dict[tuple[int, datetime], tuple[date, int, int]],
    now: datetime,
    totals: production.Added,
) -> None:
    """Production added after the fact (a confirmed suspect increment): the
    overproduction rules of the hours it went into, and the dashboards redraw.
    ``totals``: what the addition returned."""
    if mine.managed_by_center_id is None and deltas:
        _overproduction(session, mine, deltas, totals)
    emit(session, "figures", org_path, {"mine": mine.code, "at": now.isoformat()})


def _counting(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A point's totalizer samples that counted production (in the rows' order)."""
    return [r for r in rows if r["type"] == "totalizer" and (r["increment_kg"] or 0) > 0]


def _point_checks(
    session: Session,
    mine: Mine,
    point: Point,
    rows: list[dict[str, Any]],
    counting: list[dict[str, Any]],
    states: facts.ConveyorStates,
    limits: Thresholds,
    previous_ts: dict[int, datetime],
    dropped_flows: dict[int, str],
) -> None:
    """``counting``: ``_counting(rows)``; ``states``: the point's conveyor states over
    the intervals they were carried in (``rules_repository.conveyor_states``)."""
    conveyor = [r for r in rows if r["type"] == "conveyor"]
    samples = [r for r in rows if r["type"] == "totalizer"]
    _metering(session, mine, point, conveyor, counting, states, previous_ts)
    _dropped_flows(session, mine, point, samples, dropped_flows)
    for row in conveyor:
        if not row["running"]:
            _end(session, mine, AlarmType.NO_DATA_WHILE_RUNNING, row["ts"], point_id=point.id)
            _end(
                session,
                mine,
                AlarmType.TRANSPORT_ANOMALY,
                row["ts"],
                point_id=point.id,
                subject="belt",
            )
    if samples:
        _end(session, mine, AlarmType.NO_DATA_WHILE_RUNNING, samples[0]["ts"], point_id=point.id)
    for row in rows:
        if row["type"] == "trip" and rules.light_trip(row["value_kg"], limits.min_trip_kg):
            assert limits.min_trip_kg is not None
            _instant(
                session,
                mine,
                AlarmType.TRANSPORT_ANOMALY,
                row["ts"],
                point_id=point.id,
                subject=f"trip:{row['seq']}",
                value=str(kg_to_tonnes(row["value_kg"])),
                threshold=str(kg_to_tonnes(limits.min_trip_kg)),
                params=detail_params("light_trip"),
            )
    if samples and limits.window_min and limits.window_min_kg is not None:
        end = samples[-1]["ts"]
        start = end - timedelta(minutes=limits.window_min)
        ran = facts.ran_throughout(session, point.id, start, end)
        carried = facts.carried(session, point.id, start, end)
        if rules.light_belt_window(ran, carried, limits.window_min_kg):
            _raise(
                session,
                mine,
                AlarmType.TRANSPORT_ANOMALY,
                end,
                point_id=point.id,
                subject="belt",
                value=str(kg_to_tonnes(carried)),
                threshold=str(kg_to_tonnes(limits.window_min_kg)),
                params=detail_params("light_window", minutes=limits.window_min),
            )
        elif carried >= limits.window_min_kg:
            _end(session, mine, AlarmType.TRANSPORT_ANOMALY, end, point_id=point.id, subject="belt")


def _metering(
    session: Session,
    mine: Mine,
    point: Point,
    conveyor: list[dict[str, Any]],
    counting: list[dict[str, Any]],
    states: facts.ConveyorStates,
    previous_ts: dict[int, datetime],
) -> None:
    """计量异常 of counting against the conveyor, in time order: a reading counted
    over an interval the conveyor was stopped throughout raises it, a start ends it
    (whatever order the station's devices were read and sent in)."""
    # a reading counts while stopped only where the conveyor is known to have stopped
    stops = any(not running for _, running in states)
    timeline = [(r["ts"], 0, r) for r in counting] if stops else []
    timeline += [(r["ts"], 1, r) for r in conveyor if r["running"]]
    for ts, _, row in sorted(timeline, key=lambda t: (t[0], t[1], t[2]["seq"])):
        if row["type"] == "conveyor":
            _end(session, mine, AlarmType.METERING_ANOMALY, ts, point_id=point.id)
            continue
        start, end = _interval(row, previous_ts)
        if rules.metering_anomaly(
            row["increment_kg"], rules.stopped_throughout(states, start, end)
        ):
            _raise(
                session,
                mine,
                AlarmType.METERING_ANOMALY,
                ts,
                point_id=point.id,
                value=str(kg_to_tonnes(row["increment_kg"])),
                params=detail_params("counts_while_stopped"),
            )


def _dropped_flows(
    session: Session,
    mine: Mine,
    point: Point,
    samples: list[dict[str, Any]],
    dropped: dict[int, str],
) -> None:
    """数据无效 while a point's readings come with a flow out of range (left out; the
    readings count): raised once when it begins, ended by a reading whose flow is fine."""
    if not dropped and samples:  # every flow fine: the first reading ends it, if raised
        _end(
            session,
            mine,
            AlarmType.INVALID_DATA,
            samples[0]["ts"],
            point_id=point.id,
            subject="flow_tph",
        )
        return
    for row in samples:
        if row["seq"] in dropped:
            _raise(
                session,
                mine,
                AlarmType.INVALID_DATA,
                row["ts"],
                point_id=point.id,
                subject="flow_tph",
                value=dropped[row["seq"]],
                params=detail_params("dropped_value", field="flow_tph", value=dropped[row["seq"]]),
            )
        else:
            _end(
                session,
                mine,
                AlarmType.INVALID_DATA,
                row["ts"],
                point_id=point.id,
                subject="flow_tph",
            )


def _shutdown_production(session: Session, mine: Mine, produced: Sequence[dict[str, Any]]) -> None:
    tz = ZoneInfo(mine.timezone)
    first, last = min(r["ts"] for r in produced), max(r["ts"] for r in produced)
    for shutdown in facts.shutdowns(session, mine.id, first, last):
        inside = [r for r in produced if shutdown.start <= r["ts"] < shutdown.end]
        if inside:
            kg = sum(r["increment_kg"] for r in inside)
            _raise(
                session,
                mine,
                AlarmType.PRODUCTION_DURING_SHUTDOWN,
                inside[0]["ts"],
                subject=f"shutdown:{shutdown.id}",
                value=str(kg_to_tonnes(kg)),
                params=detail_params(
                    "during_shutdown",
                    start=local_minute(shutdown.start, tz),
                    end=local_minute(shutdown.end, tz),
                    reason=shutdown.reason,
                ),
                expires_at=shutdown.end,
            )


def _raw(units: int) -> Fraction:
    return Fraction(units, RAW_UNITS_PER_T)


class _Totals:
    """Raw production of a mine's periods, as the addition of a batch's deltas left them
    (``production.add_to_rollups``): the hours and days it is checked over, and the
    months and years it added to; a period it did not return is read when asked for."""

    def __init__(
        self,
        session: Session,
        mine: Mine,
        tz: ZoneInfo,
        deltas: dict[tuple[int, datetime], tuple[date, int, int]],
        added: production.Added,
    ) -> None:
        self.session, self.mine, self.tz = session, mine, tz
        self._hours: dict[datetime, Fraction] = {}
        self._days: dict[date, Fraction] = {}
        self._periods: dict[tuple[str, date], Fraction] = {
            key: _raw(sums[2]) for key, sums in added.periods.items()
        }
        hours, (first_day, last_day) = production.added_spans(deltas)
        found = added.mine
        if found is None:  # nothing was added: the periods as stored
            found = production.mine_totals(session, mine.id, hours, (first_day, last_day))
        for hour in {hour for _, hour in deltas}:
            self._hours[hour] = _raw(found.hours.get(hour, 0))
        day = first_day
        while day <= last_day:
            self._days[day] = _raw(found.days.get(day, 0))
            day += timedelta(days=1)

    def hours(self, hours: Sequence[datetime]) -> dict[datetime, Fraction]:
        return {hour: self._hours[hour] for hour in hours}

    def day(self, day: date) -> Fraction:
        if day not in self._days:
            found = production.mine_totals(self.session, self.mine.id, None, (day, day))
            self._days[day] = _raw(found.days.get(day, 0))
        return self._days[day]

    def month_end(self, first: date) -> date:
        return next_period_start(
            day_start(first, self.tz), Period.MONTH, self.tz
        ).date() - timedelta(days=1)

    def month(self, first: date) -> Fraction:
        return self._period((production.MONTH, first))

    def year(self, year: int) -> Fraction:
        return self._period((production.YEAR, date(year, 1, 1)))

    def preload(self, keys: Sequence[tuple[str, date]]) -> None:
        """Read the running totals of these periods not known yet, in one query."""
        missing = [key for key in keys if key not in self._periods]
        if missing:
            found = production.stored_totals(self.session, self.mine.id, missing)
            for key in missing:
                self._periods[key] = _raw(found[key][2]) if key in found else Fraction(0)

    def _period(self, key: tuple[str, date]) -> Fraction:
        self.preload([key])
        return self._periods[key]


def _overproduction(
    session: Session,
    mine: Mine,
    deltas: dict[tuple[int, datetime], tuple[date, int, int]],
    added: production.Added,
) -> None:
    """Check every period the batch added production to against its capacity; ``added``:
    what the addition returned."""
    tz = ZoneInfo(mine.timezone)
    hours = sorted({hour for _, hour in deltas})
    days = sorted({day for day, _, _ in deltas.values()})
    months = sorted({d.replace(day=1) for d in days})
    years = sorted({d.year for d in days})
    first, last = date(years[0] - 1, 12, 1), date(years[-1] + 1, 1, 31)
    stick = batch_yardstick(session, mine.id, first, last)
    totals = _Totals(session, mine, tz, deltas, added)
    totals.preload(
        [(production.MONTH, m) for m in months] + [(production.YEAR, date(y, 1, 1)) for y in years]
    )
    for hour, raw in totals.hours(hours).items():
        _check(session, mine, Period.HOUR, hour.astimezone(tz), raw, stick, tz)
    for day in days:
        _check(session, mine, Period.DAY, day_start(day, tz), totals.day(day), stick, tz)
        _sustained_days(session, mine, day, totals, stick, tz)
    for month in months:
        raw = totals.month(month)
        _check(session, mine, Period.MONTH, day_start(month, tz), raw, stick, tz)
        annual = stick.annual(totals.month_end(month))
        if annual is not None:
            plan = stick.plan(Period.MONTH, month)
            if rules.serious_by_month(raw, annual, Fraction(plan) if plan else None):
                base = Fraction(plan) if plan else monthly_capacity(annual)
                _raise(
                    session,
                    mine,
                    AlarmType.SERIOUS_OVERPRODUCTION,
                    _started(day_start(month, tz)),
                    subject=f"month:{month.isoformat()[:7]}",
                    value=_t(raw),
                    threshold=_t(base * Fraction(11, 10)),
                    params=detail_params("month_plan"),
                    expires_at=_started(day_start(totals.month_end(month) + timedelta(days=1), tz)),
                )
        _sustained_months(session, mine, month, totals, stick, tz)
    for year in years:
        raw = totals.year(year)
        start = day_start(date(year, 1, 1), tz)
        _check(session, mine, Period.YEAR, start, raw, stick, tz)
        annual = stick.annual(date(year, 12, 31))
        if annual is not None and rules.serious_by_year(raw, annual):
            _raise(
                session,
                mine,
                AlarmType.SERIOUS_OVERPRODUCTION,
                _started(start),
                subject=f"year:{year}",
                value=_t(raw),
                threshold=_t(annual),
                params=detail_params("year_capacity"),
                expires_at=next_period_start(start, Period.YEAR, tz).astimezone(UTC),
            )


def _started(start: datetime) -> datetime:
    return start.astimezone(UTC)


def _check(
    session: Session,
    mine: Mine,
    period: Period,
    start: datetime,
    raw: Fraction,
    stick: Yardstick,
    tz: ZoneInfo,
) -> None:
    end = next_period_start(start, period, tz)
    capacity_day = (end - timedelta(days=1)).date() if period is not Period.HOUR else start.date()
    annual = stick.annual(capacity_day)
    if annual is None:
        return
    capacity = period_capacity(annual, period)
    excess = rules.overproduction(period, raw, capacity)
    if excess is None:
        return
    _raise(
        session,
        mine,
        OVERPRODUCTION[period],
        _started(start),
        subject=f"{period.value}:{start.isoformat()}",
        value=_t(raw),
        threshold=_t(capacity),
        params=detail_params("excess", excess=_t(excess)),
        expires_at=end.astimezone(UTC),
    )


def _sustained_days(
    session: Session, mine: Mine, day: date, totals: _Totals, stick: Yardstick, tz: ZoneInfo
) -> None:
    one = timedelta(days=1)
    for first in (day - one, day):
        second = first + one
        annual = stick.annual(second)
        if annual is None:
            continue
        a, b = totals.day(first), totals.day(second)
        if rules.sustained(a, b, daily_capacity(annual)):
            _raise(
                session,
                mine,
                AlarmType.SUSTAINED_OVERPRODUCTION_DAY,
                _started(day_start(second, tz)),
                subject=f"day:{second.isoformat()}",
                value=f"{_t(a)}, {_t(b)}",
                threshold=_t(daily_capacity(annual) * Fraction(11, 10)),
                params=detail_params(
                    "sustained_days", first=first.isoformat(), second=second.isoformat()
                ),
                expires_at=_started(day_start(second + one, tz)),
            )


def _sustained_months(
    session: Session, mine: Mine, month: date, totals: _Totals, stick: Yardstick, tz: ZoneInfo
) -> None:
    annual_now = stick.annual(totals.month_end(month))
    if annual_now is None or not rules.sustained(
        totals.month(month), totals.month(month), monthly_capacity(annual_now)
    ):
        return  # this month is not above 1.1 × M: no pair with it can be
    previous = (month - timedelta(days=1)).replace(day=1)
    following = totals.month_end(month) + timedelta(days=1)
    for first, second in ((previous, month), (month, following)):
        annual = stick.annual(totals.month_end(second))
        if annual is None:
            continue
        a, b = totals.month(first), totals.month(second)
        if rules.sustained(a, b, monthly_capacity(annual)):
            _raise(
                session,
                mine,
                AlarmType.SUSTAINED_OVERPRODUCTION_MONTH,
                _started(day_start(second, tz)),
                subject=f"month:{second.isoformat()[:7]}",
                value=f"{_t(a)}, {_t(b)}",
                threshold=_t(monthly_capacity(annual) * Fraction(11, 10)),
                params=detail_params(
                    "sustained_months", first=first.isoformat()[:7], second=second.isoformat()[:7]
                ),
                expires_at=_started(day_start(totals.month_end(second) + timedelta(days=1), tz)),
            )


# ---- timers: what silence means ---------------------------------------------------------


def tick(session: Session, now: datetime) -> None:
    """One round of the timed rules (run every few seconds by the scheduler).

    What the rules read of every mine (stations, points, thresholds, alarms not ended,
    last conveyor state, calibration and production, shutdowns) is read for all the
    mines at once, in a few queries, before they are judged one by one."""
    for alarm in alarm_repository.expired(session, now):
        assert alarm.expires_at is not None
        if alarm.origin is None:  # a mirrored alarm ends when its origin says so
            alarms.end_alarm(session, alarm, alarm.expires_at)
    # a downstream center evaluates the rules of the mines it manages; their alarms
    # arrive mirrored
    own = [mine for mine in facts.mines(session) if mine.managed_by_center_id is None]
    # thresholds and alarms not ended: read for every mine at once on the first mine
    # (storage.facts.cached_among), as a batch reads them
    mine_limits = {mine.id: for_point(session, mine.id, None) for mine in own}
    stations = facts.stations_by_mine(session)
    points = facts.points_by_mine(session)
    conveyors = facts.last_conveyors(session)
    calibrations = facts.last_calibrations(session)
    productions = facts.last_productions(session)
    # the mines silent long enough for the undeclared shutdown rule: since when
    silent = {
        mine.id: since
        for mine in own
        if now - (since := productions.get(mine.id) or mine.created_at)
        >= timedelta(days=mine_limits[mine.id].undeclared_shutdown_days)
    }
    shutdowns = facts.shutdowns_of(session, silent, now)
    back = facts.center_back_at(session, now)
    listening = back + RECONNECT_GRACE if back is not None else None
    # silence is judged up to what the center has heard of all that reached it: an
    # upload still waiting in a lagging process is a backlog, not silence
    heard = horizon.heard_until(session, now)
    for mine in own:
        _comm_loss(session, mine, stations.get(mine.id, []), mine_limits[mine.id], heard, listening)
        for point in points.get(mine.id, []):
            limits = for_point(session, mine.id, point)
            if point.kind == "belt":
                _no_data(session, mine, point, conveyors.get(point.id), limits, heard, listening)
                _calibration(session, mine, point, calibrations.get(point.id), limits, now)
        if mine.id in silent:
            _undeclared_shutdown(
                session,
                mine,
                mine_limits[mine.id],
                now,
                productions.get(mine.id),
                bool(shutdowns[mine.id]),
            )
    _fault_deadlines(session, now)


def _hold(
    session: Session,
    mine: Mine,
    type_: AlarmType,
    at: datetime,
    fault_since: datetime | None = None,
    **kwargs: Any,
) -> None:
    """``_raise`` for a condition a timer finds: one alarmed already (and not ended) is
    left as it is without reading it again."""
    if kwargs.get("severity") is None and _key(type_, kwargs) in _open_keys(session, mine):
        return
    _raise(session, mine, type_, at, fault_since, **kwargs)


def _heard(last: datetime, listening: datetime | None) -> datetime:
    """Silence counts from the last thing heard, or from when the center listened again
    after an absence of its own (and gave the stations time to find it): what the center
    could not hear is not the stations' silence."""
    return last if listening is None else max(last, listening)


def _comm_loss(
    session: Session,
    mine: Mine,
    stations: Sequence[Station],
    limits: Thresholds,
    now: datetime,
    listening: datetime | None,
) -> None:
    for station in stations:
        last = station.last_seen_at or station.created_at
        since = _heard(last, listening)
        if rules.silent_for(since, since, now, limits.comm_loss_minutes):
            _hold(
                session,
                mine,
                AlarmType.COMM_INTERRUPTION,
                since + timedelta(minutes=limits.comm_loss_minutes),
                fault_since=since,
                station_id=station.id,
                value=f"{int((now - since).total_seconds() // 60)} min",
                threshold=f"{limits.comm_loss_minutes} min",
                params=detail_params(
                    "silent",
                    station=station.code,
                    since=local_minute(last, ZoneInfo(mine.timezone)),
                ),
            )


def _no_data(
    session: Session,
    mine: Mine,
    point: Point,
    state: tuple[datetime, bool] | None,
    limits: Thresholds,
    now: datetime,
    listening: datetime | None,
) -> None:
    """``state``: the point's last conveyor record (``rules_repository.last_conveyors``).
    Measured on the center's clock: when the last sample and state were received."""
    if state is None or not state[1]:
        return
    last_sample = point.last_sample_received_at or point.last_total_ts
    reference = _heard(max(filter(None, [last_sample, state[0]])), listening)
    if rules.silent_for(reference, reference, now, limits.no_data_minutes):
        _hold(
            session,
            mine,
            AlarmType.NO_DATA_WHILE_RUNNING,
            reference + timedelta(minutes=limits.no_data_minutes),
            fault_since=reference,
            point_id=point.id,
            threshold=f"{limits.no_data_minutes} min",
            value=f"{int((now - reference).total_seconds() // 60)} min",
            params=detail_params("no_sample"),
        )


def _calibration(
    session: Session,
    mine: Mine,
    point: Point,
    calibrated: date | None,
    limits: Thresholds,
    now: datetime,
) -> None:
    """``calibrated``: the point's last confirmed calibration (``last_calibrations``)."""
    tz = ZoneInfo(mine.timezone)
    last = calibrated or point.created_at.astimezone(tz).date()
    today = now.astimezone(tz).date()
    if rules.calibration_overdue(last, today, limits.calibration_days):
        _hold(
            session,
            mine,
            AlarmType.CALIBRATION_OVERDUE,
            day_start(last + timedelta(days=limits.calibration_days + 1), tz).astimezone(UTC),
            point_id=point.id,
            value=f"{(today - last).days} d",
            threshold=f"{limits.calibration_days} d",
            params=detail_params("calibrated", last=last.isoformat()),
        )
    else:
        _end(session, mine, AlarmType.CALIBRATION_OVERDUE, now, point_id=point.id)


def _undeclared_shutdown(
    session: Session,
    mine: Mine,
    limits: Thresholds,
    now: datetime,
    last: datetime | None,
    declared: bool,
) -> None:
    """For a mine without production for the threshold's days: ``last``, the end of its
    last hour with production (``last_productions``); ``declared``, a shutdown overlaps
    the silence."""
    since = last or mine.created_at
    if declared:
        _end(session, mine, AlarmType.UNDECLARED_SHUTDOWN, now)
        return
    if rules.undeclared_shutdown(
        last, mine.created_at, now, limits.undeclared_shutdown_days, declared
    ):
        _hold(
            session,
            mine,
            AlarmType.UNDECLARED_SHUTDOWN,
            since + timedelta(days=limits.undeclared_shutdown_days),
            value=f"{(now - since).days} d",
            threshold=f"{limits.undeclared_shutdown_days} d",
            params=detail_params(
                "no_production", since=local_minute(since, ZoneInfo(mine.timezone))
            ),
        )


def _fault_deadlines(session: Session, now: datetime) -> None:
    for fault in facts.open_faults(session):
        mine = session.get_one(Mine, fault.mine_id)
        if mine.managed_by_center_id is not None:
            continue
        limits = for_point(session, mine.id, None)
        if fault.reported_at is None:
            lateness = rules.fault_report_lateness(fault.occurred_at, None, now, limits)
            if lateness is not None:
                minutes = (
                    limits.fault_report_violation_minutes
                    if lateness is ReportLateness.VIOLATION
                    else limits.fault_report_warning_minutes
                )
                _raise(
                    session,
                    mine,
                    AlarmType.FAULT_REPORT_OVERDUE,
                    fault.occurred_at + timedelta(minutes=limits.fault_report_warning_minutes),
                    subject=f"fault:{fault.id}",
                    severity=Severity.WARNING
                    if lateness is ReportLateness.WARNING
                    else Severity.MAJOR,
                    value=f"{int((now - fault.occurred_at).total_seconds() // 60)} min",
                    threshold=f"{minutes} min",
                    params=detail_params("late_report", fault=fault.id, lateness=lateness.value),
                )
        if fault.escalated_at is None and rules.needs_escalation(
            fault.occurred_at, fault.recovered_at, now, limits.fault_escalation_hours
        ):
            fault.escalated_at = now
            org = session.get_one(Org, mine.org_id)
            emit(
                session,
                "fault",
                org.path,
                {"id": fault.id, "mine": mine.code, "transition": "escalated"},
            )
