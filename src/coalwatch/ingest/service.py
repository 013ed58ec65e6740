"""Station ingest: verify, validate, keep every record, account production, answer.

One batch is one transaction: its records, its quarantined records, the
rollups they change, the station's sequence state and the alarms it raises
are committed together or not at all.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from coalwatch.alarms import engine
from coalwatch.alarms.service import end_condition
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.accounting import IncrementKind, totalizer_increment, trip_production
from coalwatch.domain.alarms import AlarmType
from coalwatch.domain.periods import Period, period_start
from coalwatch.domain.sequences import advance, is_held
from coalwatch.domain.units import tonnes_to_kg
from coalwatch.errors import BadRequest, Conflict, Invalid, NotFound, Unauthorized
from coalwatch.federation import queue as forward_queue
from coalwatch.ingest import repository
from coalwatch.production import repository as production_repository
from coalwatch.storage.models import Mine, Org, Point, Station
from coalwatch.wire.batches import (
    Batch,
    BatchAnswer,
    ConveyorRecord,
    EventRecord,
    HeartbeatRecord,
    MalformedBody,
    StationRecord,
    TotalizerRecord,
    TripRecord,
    describe_error,
    parse_body,
    parse_record,
    record_seq,
)
from coalwatch.wire.signing import parse_public_key, verify

TRIP_KINDS = frozenset({"skip", "mine_car", "tyred_vehicle", "truck"})


@dataclass(frozen=True, slots=True)
class IngestLimits:
    clock_skew: timedelta
    max_records: int


@dataclass
class _Sample:
    """A totalizer reading on its way to the records table, or one already there."""

    ts: datetime
    seq: int
    value_kg: int
    row: dict[str, Any] | None = None  # a new record
    record_id: int | None = None  # a stored record
    stored_increment: int = 0
    station_id: int = 0

    @property
    def key(self) -> tuple[int, int]:
        """The order readings were taken in: the station's seq, not its clock (which may
        jump back and forth); a station that replaced another (a newer id) comes after it."""
        return (self.station_id, self.seq)


@dataclass
class _Accounting:
    tz: ZoneInfo
    deltas: dict[tuple[int, datetime], tuple[date, int, int]] = field(default_factory=dict)
    resets: list[tuple[Point, datetime, int, int]] = field(default_factory=list)

    def add(self, point_id: int, ts: datetime, kg: int) -> None:
        if kg == 0:
            return
        hour = period_start(ts, Period.HOUR, self.tz)
        key = (point_id, hour.astimezone(UTC))
        day, measured, manual = self.deltas.get(key, (hour.date(), 0, 0))
        self.deltas[key] = (day, measured + kg, manual)


def ingest_batch(
    session: Session,
    station_code: str,
    body: bytes,
    signature: str | None,
    now: datetime,
    limits: IngestLimits,
) -> BatchAnswer:
    found = repository.station_for_batch(session, station_code)
    if found is None:
        raise Unauthorized(f"unknown station {station_code!r}")
    station, mine, org = found
    if not signature:
        raise Unauthorized("missing X-Signature header")
    if not verify(parse_public_key(station.public_key), body, signature):
        raise Unauthorized("the signature does not match the body and the station's key")
    batch = _envelope(body, station, limits)
    points = repository.points_of_mine(session, mine.id)
    gaps = repository.gaps_of(session, station.id)

    accepted: list[StationRecord] = []
    quarantined: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    duplicates = 0
    received: set[int] = set()
    for raw in batch.records:
        seq = record_seq(raw)
        if seq is not None and (seq in received or is_held(seq, station.max_seq, gaps)):
            duplicates += 1
            continue
        reason, record = _validate(raw, points, now, limits)
        if seq is not None:
            received.add(seq)
        if record is not None:
            accepted.append(record)
            continue
        rejected.append({"seq": seq, "reason": reason})
        quarantined.append(
            {
                "mine_id": mine.id,
                "station_id": station.id,
                "seq": seq,
                "payload": json.dumps(raw, default=str, ensure_ascii=False),
                "reason": reason,
                "received_at": now,
            }
        )

    accounting = _Accounting(ZoneInfo(mine.timezone))
    rows = _account(session, mine, station, accepted, points, accounting, now, limits.clock_skew)
    repository.insert_records(session, rows)
    repository.insert_quarantined(session, quarantined)
    production_repository.add_to_rollups(session, mine.id, accounting.deltas)

    state = advance(station.max_seq, gaps, received)
    if state.gaps != tuple(gaps):
        repository.replace_gaps(session, mine.id, station.id, state.gaps)
    station.max_seq = state.max_seq
    station.last_seen_at = now
    station.last_sent_at = batch.sent_at
    if received:
        # the upstream re-ingests the exact bytes and verifies the station's signature itself
        forward_queue.enqueue(
            session,
            forward_queue.STATION_BATCH,
            {
                "station": station.code,
                "body_b64": base64.b64encode(body).decode(),
                "signature": signature,
                "received_at": now.isoformat(),
            },
            now,
        )

    commands = engine.after_batch(
        session,
        engine.BatchFacts(
            mine=mine,
            org_path=org.path,
            station=station,
            rows=rows,
            points={p.id: p for p in points.values()},
            deltas=accounting.deltas,
            resets=accounting.resets,
            rejected=rejected,
            opened_gaps=state.opened,
            gaps_left=bool(state.gaps),
            skew=batch.sent_at - now,
            skew_limit=limits.clock_skew,
            now=now,
        ),
    )
    return BatchAnswer(
        acked_seq=state.max_seq,
        duplicates=duplicates,
        rejected=rejected,
        gaps=list(state.gaps),
        commands=commands,
    )


def _envelope(body: bytes, station: Station, limits: IngestLimits) -> Batch:
    try:
        data = parse_body(body)
    except MalformedBody as exc:
        raise BadRequest(str(exc), code="malformed_body") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="malformed_body")
    try:
        batch = Batch.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            f"the batch envelope is invalid: {describe_error(exc)}",
            details=exc.errors(include_url=False, include_context=False, include_input=False),
            code="invalid_envelope",
        ) from exc
    if batch.station != station.code:
        raise Invalid(
            f"the body is for station {batch.station!r}, the URL for {station.code!r}",
            code="invalid_envelope",
        )
    if len(batch.records) > limits.max_records:
        raise Invalid(
            f"{len(batch.records)} records in one batch; at most {limits.max_records}",
            code="batch_too_large",
        )
    return batch


def _validate(
    raw: Any, points: dict[str, Point], now: datetime, limits: IngestLimits
) -> tuple[str, StationRecord | None]:
    try:
        record = parse_record(raw)
    except ValidationError as exc:
        return describe_error(exc), None
    point_code = getattr(record, "point", None)
    if point_code is None:
        return "", record
    point = points.get(point_code)
    if point is None:
        return f"no point {point_code!r} in this station's mine", None
    if isinstance(record, TotalizerRecord) and point.kind != "belt":
        return f"point {point_code!r} is a {point.kind}: it reports trips, not a totalizer", None
    if isinstance(record, TripRecord) and point.kind not in TRIP_KINDS:
        return f"point {point_code!r} is a belt scale: it reports a totalizer, not trips", None
    return "", record


def _account(
    session: Session,
    mine: Mine,
    station: Station,
    records: list[StationRecord],
    points: dict[str, Point],
    accounting: _Accounting,
    now: datetime,
    skew_limit: timedelta,
) -> list[dict[str, Any]]:
    """Rows for the records table, with the production each contributes.

    A record dated further in the future than the skew tolerated is kept and counted all
    the same, at the time the center received it (a station clock ahead must not lose
    production, and the station cannot send it again); its own time is kept beside."""
    rows: list[dict[str, Any]] = []
    totalizers: dict[int, list[_Sample]] = defaultdict(list)
    for record in records:
        point = (
            points[record.point]
            if not isinstance(record, HeartbeatRecord) and record.point
            else None
        )
        ahead = record.ts > now + skew_limit
        row: dict[str, Any] = {
            "mine_id": mine.id,
            "station_id": station.id,
            "seq": record.seq,
            "ts": now if ahead else record.ts.astimezone(UTC),
            "type": record.type,
            "point_id": point.id if point else None,
            "value_kg": None,
            "increment_kg": None,
            "increment_kind": None,
            "flow_kgph": None,
            "running": None,
            "event": None,
            "detail": None,
            "received_at": now,
            "station_ts": record.ts.astimezone(UTC) if ahead else None,
        }
        if isinstance(record, TotalizerRecord):
            assert point is not None
            row["value_kg"] = tonnes_to_kg(record.total_t)
            if record.flow_tph is not None:
                row["flow_kgph"] = round(record.flow_tph * 1000)
            totalizers[point.id].append(
                _Sample(row["ts"], record.seq, row["value_kg"], row=row, station_id=station.id)
            )
        elif isinstance(record, TripRecord):
            assert point is not None
            net = trip_production(tonnes_to_kg(record.net_t))
            row.update(value_kg=net, increment_kg=net)
            if record.missed:
                row["detail"] = f"{record.missed} more trips counted but not weighed"
            accounting.add(point.id, row["ts"], net)
        elif isinstance(record, ConveyorRecord):
            row["running"] = record.running
        elif isinstance(record, EventRecord):
            row.update(event=record.event, detail=record.detail)
        rows.append(row)

    by_id = {p.id: p for p in points.values()}
    repository.lock_points(session, list(totalizers))
    for point_id, samples in totalizers.items():
        _account_totalizer(
            session, by_id[point_id], sorted(samples, key=lambda s: s.key), accounting
        )
        by_id[point_id].last_sample_received_at = now
    return rows


def _account_totalizer(
    session: Session, point: Point, samples: list[_Sample], accounting: _Accounting
) -> None:
    """Increments of a point's new readings, and of the stored ones they fall between.

    Readings are ordered as the station took them (its seq), each increment
    counted in the hour of its reading's timestamp: a station clock that jumps
    back and forth moves production between hours, never changes its sum.
    Readings usually arrive in order and continue from the point's last one
    (a higher seq, or a newer station's). A reading that arrives late is put in
    its place: the stored reading after it is recounted from it, and the
    rollups are corrected by the difference.
    """
    last_seq = point.last_total_seq if point.last_total_ts is not None else None
    if last_seq is None or samples[0].seq > last_seq:
        sequence = samples
        previous = point.last_total_kg
    else:
        stored = [
            _Sample(ts, seq, value, record_id=rid, stored_increment=inc, station_id=sid)
            for rid, sid, ts, seq, value, inc in repository.stored_totalizer_window(
                session, point.mine_id, point.id, samples[0].key, samples[-1].key
            )
        ]
        sequence = sorted(stored + samples, key=lambda s: s.key)
        previous = None
        if sequence[0].record_id is not None:  # keeps its increment: its predecessor is outside
            previous = sequence[0].value_kg
            sequence = sequence[1:]
    changes: list[dict[str, Any]] = []
    for sample in sequence:
        increment = totalizer_increment(previous, sample.value_kg, point.rollover_kg)
        if increment.kind is IncrementKind.RESET:
            accounting.resets.append((point, sample.ts, previous or 0, sample.value_kg))
        if sample.row is not None:
            sample.row["increment_kg"] = increment.kg
            sample.row["increment_kind"] = increment.kind.value
            accounting.add(point.id, sample.ts, increment.kg)
        elif increment.kg != sample.stored_increment:
            changes.append(
                {
                    "id": sample.record_id,
                    "increment_kg": increment.kg,
                    "increment_kind": increment.kind.value,
                }
            )
            accounting.add(point.id, sample.ts, increment.kg - sample.stored_increment)
        previous = sample.value_kg
    repository.update_increments(session, changes)
    newest = sequence[-1] if sequence else None
    if newest is not None and newest.row is not None:
        point.last_total_ts = newest.ts
        point.last_total_seq = newest.seq
        point.last_total_kg = newest.value_kg


def write_off_gaps(
    session: Session, principal: Principal, station_code: str, reason: str, now: datetime
) -> list[tuple[int, int]]:
    """Declare a station's missing records lost 数据缺失核销 (the station no longer holds them).

    The gaps are recorded in the audit log with the reason, removed from what
    the station is asked to resend, and its ``sequence_gap`` alarm ends.
    """
    principal.require("system:write")
    station = repository.station_for_update(session, station_code)
    if station is None:
        raise NotFound(f"station {station_code!r} not found")
    mine = session.get_one(Mine, station.mine_id)
    org = session.get_one(Org, mine.org_id)
    principal.require_visible(org.path, f"station {station_code!r}")
    gaps = repository.gaps_of(session, station.id)
    if not gaps:
        raise Conflict(f"station {station_code!r} has no missing records")
    repository.replace_gaps(session, mine.id, station.id, [])
    audit.record(
        session,
        actor=principal.name,
        action="station.write_off_gaps",
        entity="station",
        key=station.code,
        detail={"gaps": [list(g) for g in gaps], "reason": reason},
        at=now,
    )
    end_condition(
        session, mine_id=mine.id, type_=AlarmType.SEQUENCE_GAP, at=now, station_id=station.id
    )
    return gaps
