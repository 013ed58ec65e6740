"""Station ingest: verify, validate, keep every record, account production, answer.

One batch is one transaction: its records, its quarantined records, the
rollups they change, the station's sequence state and the alarms it raises
are committed together or not at all.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from coalwatch.alarms import engine
from coalwatch.alarms.service import end_condition
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.accounting import (
    Increment,
    IncrementKind,
    Suspicion,
    implausible,
    totalizer_increment,
    trip_production,
)
from coalwatch.domain.alarms import AlarmType
from coalwatch.domain.limits import MAX_MINE_HOUR_KG, MAX_MINE_HOUR_T, TRIP_LIMIT_T, trip_limit_kg
from coalwatch.domain.periods import Period, period_start
from coalwatch.domain.sequences import advance, is_held
from coalwatch.domain.units import kg_to_tonnes, tonnes_to_kg
from coalwatch.errors import BadRequest, Conflict, Invalid, NotFound, Unauthorized
from coalwatch.federation import queue as forward_queue
from coalwatch.ingest import repository
from coalwatch.production import repository as production_repository
from coalwatch.signals import service as signals
from coalwatch.stationconfig import service as station_config
from coalwatch.storage.models import Mine, Org, Point, Station
from coalwatch.suspects.models import SuspectIncrement
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

if TYPE_CHECKING:
    from coalwatch.config import Settings

TRIP_KINDS = frozenset(TRIP_LIMIT_T)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class IngestLimits:
    clock_skew: timedelta
    max_records: int

    @classmethod
    def of(cls, settings: Settings) -> IngestLimits:
        """The deployment's limits (``COALWATCH_CLOCK_SKEW_S``, ``…_MAX_BATCH_RECORDS``)."""
        return cls(timedelta(seconds=settings.clock_skew_s), settings.max_batch_records)


@dataclass(slots=True)
class _Sample:
    """A totalizer reading on its way to the records table, or one already there."""

    ts: datetime
    seq: int
    value_kg: int
    row: dict[str, Any] | None = None  # a new record
    record_id: int | None = None  # a stored record
    stored_increment: int = 0
    station_id: int = 0
    flow_kgph: int | None = None
    #: a stored reading whose increment a supervising user decides (held or confirmed):
    #: a recount leaves it as it is
    pinned: bool = False

    @property
    def key(self) -> tuple[int, int]:
        """The order readings were taken in: the station's seq, not its clock (which may
        jump back and forth); a station that replaced another (a newer id) comes after it."""
        return (self.station_id, self.seq)


#: ``_Sample.key`` as one call, for sorting a batch's readings
_in_order = attrgetter("station_id", "seq")


@dataclass
class _Accounting:
    tz: ZoneInfo
    mine_id: int
    deltas: dict[tuple[int, datetime], tuple[date, int, int]] = field(default_factory=dict)
    resets: list[tuple[Point, datetime, int, int]] = field(default_factory=list)
    #: the mine's measured kg per hour (UTC start): stored before the batch, and added by it
    stored: dict[datetime, int] = field(default_factory=dict)
    added: dict[datetime, int] = field(default_factory=dict)
    #: records kept out of the figures: seq → reason
    refused: dict[int, str] = field(default_factory=dict)
    #: when the reading before each counted reading (by seq) was taken: the interval
    #: its production was carried in
    previous_ts: dict[int, datetime] = field(default_factory=dict)
    #: increments held as suspect, to be stored with the records
    suspects: list[SuspectIncrement] = field(default_factory=list)
    #: readings whose flow was out of range and left out: seq → the flow as sent
    dropped_flows: dict[int, str] = field(default_factory=dict)
    #: the points whose state the batch moved, their totalizer's or their conveyor's
    #: (written with the station's, ``repository.save_states``)
    moved: list[Point] = field(default_factory=list)

    #: the hour found last, (local start, UTC start), and the UTC instants it spans
    #: [``_from``, ``_until``): a batch's readings mostly fall in the hour of the one before
    _found: tuple[datetime, datetime] | None = None
    _from: datetime = _EPOCH
    _until: datetime = _EPOCH

    def _hour(self, ts: datetime) -> tuple[datetime, datetime]:
        """The hour of ``ts`` (in UTC): its (local start, UTC start)."""
        if self._from <= ts < self._until:
            assert self._found is not None
            return self._found
        local = period_start(ts, Period.HOUR, self.tz)
        found = self._found = (local, local.astimezone(UTC))
        until = found[1] + _ONE_HOUR
        # kept for the next instants only when the zone's offset holds through the hour
        same = until.astimezone(self.tz).utcoffset() == local.utcoffset()
        self._from, self._until = found[1], until if same else found[1]
        return found

    def hour_of(self, ts: datetime) -> datetime:
        return self._hour(ts)[1]

    def add(self, point_id: int, ts: datetime, kg: int) -> None:
        if kg == 0:
            return
        hour, utc = self._hour(ts)
        key = (point_id, utc)
        day, measured, manual = self.deltas.get(key, (hour.date(), 0, 0))
        self.deltas[key] = (day, measured + kg, manual)
        self.added[key[1]] = self.added.get(key[1], 0) + kg

    def read_stored(self, session: Session, hours: Iterable[datetime]) -> None:
        """The mine's stored measured kg of these hours (of those not read yet)."""
        missing = {h for h in hours if h not in self.stored}
        if missing:
            found = production_repository.mine_hour_kg(session, self.mine_id, missing)
            for hour in missing:
                self.stored[hour] = found.get(hour, (0, 0))[0]

    def overflow(self, session: Session, kg_by_hour: dict[datetime, int]) -> str:
        """Why adding these kg would take an hour of the mine beyond the hourly limit
        (domain/limits.py), or "" when it would not."""
        self.read_stored(session, kg_by_hour)
        for hour, kg in sorted(kg_by_hour.items()):
            beyond = self._beyond(hour, kg)
            if beyond:
                return beyond
        return ""

    def take(self, session: Session, ts: datetime, kg: int) -> str:
        """``overflow`` of one record's kg at ``ts``."""
        hour = self.hour_of(ts)
        if hour not in self.stored:
            self.read_stored(session, (hour,))
        return self._beyond(hour, kg)

    def _beyond(self, hour: datetime, kg: int) -> str:
        """Why adding kg to an hour already read would take it beyond the limit."""
        if kg <= 0:
            return ""
        total = self.stored[hour] + self.added.get(hour, 0) + kg
        if total <= MAX_MINE_HOUR_KG:
            return ""
        local = hour.astimezone(self.tz).strftime("%Y-%m-%d %H:00")
        return (
            f"the mine's production in the hour from {local} would reach "
            f"{kg_to_tonnes(total)} t, above the {MAX_MINE_HOUR_T} t an hour a mine "
            "can produce; kept out of the figures"
        )

    def hold(
        self,
        point: Point,
        sample: _Sample,
        previous: _Sample,
        increment: Increment,
        suspicion: Suspicion,
        now: datetime,
    ) -> None:
        """Keep a suspect increment for a supervising user to decide."""
        self.suspects.append(
            SuspectIncrement(
                mine_id=self.mine_id,
                point_id=point.id,
                station_id=sample.station_id,
                seq=sample.seq,
                ts=sample.ts,
                old_kg=previous.value_kg,
                new_kg=sample.value_kg,
                previous_ts=previous.ts,
                increment_kg=increment.kg,
                kind=increment.kind.value,
                reason=suspicion.reason.value,
                limit_kg=suspicion.limit_kg,
                status="held",
                created_at=now,
            )
        )


@dataclass(frozen=True, slots=True)
class Admitted:
    """A batch whose station is known and whose signature and envelope hold: what
    ``ingest_admitted`` keeps."""

    station: Station
    mine: Mine
    org: Org
    has_gaps: bool
    #: the mine's points by code, locked with the station
    points: dict[str, Point]
    batch: Batch
    body: bytes
    signature: str


def ingest_batch(
    session: Session,
    station_code: str,
    body: bytes,
    signature: str | None,
    now: datetime,
    limits: IngestLimits,
) -> BatchAnswer:
    return ingest_admitted(
        session, admit(session, station_code, body, signature, limits), now, limits
    )


def admit(
    session: Session, station_code: str, body: bytes, signature: str | None, limits: IngestLimits
) -> Admitted:
    """The batch's station (its row locked), signature and envelope checked; refused
    (raised) before anything is written, so a refusal leaves nothing to undo."""
    found = repository.station_for_batch(session, station_code)
    if found is None:
        raise Unauthorized(f"unknown station {station_code!r}")
    station, mine, org, has_gaps, points = found
    if not signature:
        raise Unauthorized("missing X-Signature header")
    if not verify(parse_public_key(station.public_key), body, signature):
        raise Unauthorized("the signature does not match the body and the station's key")
    batch = _envelope(body, station, limits)
    return Admitted(station, mine, org, has_gaps, points, batch, body, signature)


def ingest_admitted(
    session: Session, admitted: Admitted, now: datetime, limits: IngestLimits
) -> BatchAnswer:
    """Keep an admitted batch: its records, production, state, alarms, and the answer."""
    station, mine, org, batch = admitted.station, admitted.mine, admitted.org, admitted.batch
    body, signature, has_gaps = admitted.body, admitted.signature, admitted.has_gaps
    points = admitted.points
    gaps = repository.gaps_of(session, station.id) if has_gaps else []

    accepted: list[StationRecord] = []
    raws: dict[int, Any] = {}
    quarantined: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    duplicates = 0
    received: set[int] = set()

    def refuse(seq: int | None, raw: Any, reason: str) -> None:
        rejected.append({"seq": seq, "reason": reason})
        quarantined.append(
            {
                "mine_id": mine.id,
                "station_id": station.id,
                "seq": seq,
                "payload": _payload(raw),
                "reason": reason,
                "received_at": now,
            }
        )

    max_seq = station.max_seq
    kinds = {code: point.kind for code, point in points.items()}
    for raw in batch.records:
        seq = record_seq(raw)
        if seq is not None and (seq in received or is_held(seq, max_seq, gaps)):
            duplicates += 1
            continue
        reason, record = _validate(raw, kinds)
        if seq is not None:
            received.add(seq)
        if record is not None:
            accepted.append(record)
            raws[record.seq] = raw
            continue
        refuse(seq, raw, reason)

    accounting = _Accounting(ZoneInfo(mine.timezone), mine.id)
    rows = _account(session, mine, station, accepted, points, accounting, now, limits.clock_skew)
    for seq, reason in accounting.refused.items():
        refuse(seq, raws[seq], reason)
    if rows:  # what proves them: the exact bytes and signature (coalwatch verify)
        batch_id = repository.keep_signed_batch(session, station, body, signature, now)
        for row in rows:
            row["batch_id"] = batch_id
    repository.insert_records(session, rows)
    repository.insert_quarantined(session, quarantined)
    if accounting.suspects:
        session.add_all(accounting.suspects)
        session.flush()
    # the mine's production is held: station_for_batch locked its points
    totals = production_repository.add_to_rollups(session, mine.id, accounting.deltas)

    state = advance(station.max_seq, gaps, received)
    if state.gaps != tuple(gaps):
        repository.replace_gaps(session, mine.id, station.id, state.gaps)
    repository.save_states(session, station, accounting.moved, state.max_seq, now, batch.sent_at)
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
            suspects=accounting.suspects,
            previous_ts=accounting.previous_ts,
            dropped_flows=accounting.dropped_flows,
            totals=totals,
            rejected=rejected,
            opened_gaps=state.opened,
            gaps_left=bool(state.gaps),
            skew=batch.sent_at - now,
            skew_limit=limits.clock_skew,
            now=now,
        ),
    )
    # the configuration the station runs (its last heartbeat says), against the issued one
    beats = [r for r in accepted if isinstance(r, HeartbeatRecord) and r.config is not None]
    if beats:
        running = max(beats, key=lambda r: r.seq).config
        assert running is not None
        config = station_config.report_running(session, mine, station, running, now)
    else:
        config = station_config.notice(session, station)
    return BatchAnswer(
        acked_seq=state.max_seq,
        duplicates=duplicates,
        rejected=rejected,
        gaps=list(state.gaps),
        commands=commands,
        signals=signals.for_answer(session, mine, org.path, station, points),
        config=config,
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


def _validate(raw: Any, kinds: dict[str, str]) -> tuple[str, StationRecord | None]:
    """A record checked against its mine's points (``kinds``: each point's kind by its
    code): the record, or why it is refused."""
    try:
        record = parse_record(raw)
    except ValidationError as exc:
        return describe_error(exc), None
    if isinstance(record, HeartbeatRecord):
        return "", record
    if isinstance(record, EventRecord):
        detail = record.detail
        if detail is not None and ("\x00" in detail or not _is_utf8(detail)):
            return "detail: must be text without NUL characters or lone surrogates", None
    point_code = record.point
    if point_code is None:
        return "", record
    kind = kinds.get(point_code)
    if kind is None:
        return f"no point {point_code!r} in this station's mine", None
    if isinstance(record, TotalizerRecord):
        if kind != "belt":
            return f"point {point_code!r} is a {kind}: it reports trips, not a totalizer", None
    elif isinstance(record, TripRecord):
        if kind not in TRIP_KINDS:
            return f"point {point_code!r} is a belt scale: it reports a totalizer, not trips", None
        if tonnes_to_kg(record.net_t) > trip_limit_kg(kind):
            return (
                f"net_t {record.net_t} t is more than the {TRIP_LIMIT_T[kind]} t "
                f"one trip of a {kind} can carry",
                None,
            )
    return "", record


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800")
        return False
    return True


def _payload(raw: Any) -> str:
    """A refused record as JSON text any database stores: control characters are escaped
    by JSON, and everything else too when the record holds a lone surrogate."""
    text = json.dumps(raw, default=str, ensure_ascii=False)
    return text if _is_utf8(text) else json.dumps(raw, default=str)


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
    trips: list[tuple[int, int, dict[str, Any]]] = []
    #: each point's latest conveyor record of the batch, by (ts, seq)
    conveyors: dict[int, tuple[Point, dict[str, Any]]] = {}
    by_code = {code: (point.id, point) for code, point in points.items()}
    latest = now + skew_limit
    station_id = station.id
    #: what every row of the batch holds beside its signed columns
    common = {
        "mine_id": mine.id,
        "station_id": station_id,
        "increment_kg": None,
        "increment_kind": None,
        "received_at": now,
        "batch_id": None,
        "station_ts": None,
    }
    for record in records:
        point_id, point = (
            (None, None)
            if isinstance(record, HeartbeatRecord) or not record.point
            else by_code[record.point]
        )
        row = {**common, **signed_columns(record, point_id)}
        rows.append(row)
        if row["ts"] > latest:  # counted when received; the station's own time kept beside
            row["station_ts"], row["ts"] = row["ts"], now
        if isinstance(record, TotalizerRecord):
            assert point_id is not None
            if record.dropped_flow is not None:
                accounting.dropped_flows[record.seq] = record.dropped_flow
            totalizers[point_id].append(
                _Sample(
                    row["ts"],
                    record.seq,
                    row["value_kg"],
                    row=row,
                    station_id=station_id,
                    flow_kgph=row["flow_kgph"],
                )
            )
        elif isinstance(record, ConveyorRecord):
            assert point_id is not None and point is not None
            before = conveyors.get(point_id)
            if before is None or (row["ts"], row["seq"]) > (before[1]["ts"], before[1]["seq"]):
                conveyors[point_id] = (point, row)
        elif isinstance(record, TripRecord):
            assert point_id is not None
            trips.append((record.seq, point_id, row))
    # the hours the batch adds to, read in one query
    accounting.read_stored(
        session,
        {accounting.hour_of(row["ts"]) for row in rows if row["type"] in _COUNTED_TYPES},
    )
    for seq, point_id, row in trips:
        refusal = accounting.take(session, row["ts"], row["value_kg"])
        if refusal:
            accounting.refused[seq] = refusal
        else:
            row["increment_kg"] = row["value_kg"]
            accounting.add(point_id, row["ts"], row["value_kg"])

    for point, row in conveyors.values():
        _conveyor_moved(point, row)

    by_id = {p.id: p for p in points.values()}
    for point_id, samples in totalizers.items():
        _account_totalizer(
            session, by_id[point_id], sorted(samples, key=_in_order), accounting, now
        )
    for point_id in totalizers:  # a sample of each was received now
        set_committed_value(by_id[point_id], "last_sample_received_at", now)
    accounting.moved = [by_id[p] for p in sorted({*totalizers, *conveyors})]
    if accounting.refused:
        return [row for row in rows if row["seq"] not in accounting.refused]
    return rows


#: the types of record that carry production
_COUNTED_TYPES = frozenset({"totalizer", "trip"})


def signed_columns(record: StationRecord, point_id: int | None) -> dict[str, Any]:
    """The columns of a stored record that come from what the station signed (and so
    what ``coalwatch verify`` re-derives from the kept batch), of a record of the point
    ``point_id``."""
    value_kg = flow_kgph = running = event = detail = None
    if isinstance(record, TotalizerRecord):
        value_kg = tonnes_to_kg(record.total_t)
        if record.flow_tph is not None:
            flow_kgph = round(record.flow_tph * 1000)
    elif isinstance(record, TripRecord):
        value_kg = trip_production(tonnes_to_kg(record.net_t))
        if record.missed:
            detail = f"{record.missed} more trips counted but not weighed"
    elif isinstance(record, ConveyorRecord):
        running = record.running
    elif isinstance(record, EventRecord):
        event, detail = record.event, record.detail
    elif isinstance(record, HeartbeatRecord) and record.config is not None:
        detail = f"config {record.config}"
    return {
        "seq": record.seq,
        "ts": record.ts.astimezone(UTC),
        "type": record.type,
        "point_id": point_id,
        "value_kg": value_kg,
        "flow_kgph": flow_kgph,
        "running": running,
        "event": event,
        "detail": detail,
    }


def _account_totalizer(
    session: Session, point: Point, samples: list[_Sample], accounting: _Accounting, now: datetime
) -> None:
    """Increments of a point's new readings, and of the stored ones they fall between.

    Readings are ordered as the station took them (its seq), each increment
    counted in the hour of its reading's timestamp: a station clock that jumps
    back and forth moves production between hours, never changes its sum.
    Readings usually arrive in order and continue from the point's last one
    (a higher seq, or a newer station's). A reading that arrives late is put in
    its place: the stored reading after it is recounted from it, and the
    rollups are corrected by the difference.

    A reading whose increment would take an hour of the mine beyond the hourly
    limit is kept out (quarantined) and the next one is counted from the last
    reading kept; late readings that would do so through the recount are all kept
    out, and the point's readings after its last stored one are counted alone.

    An increment that cannot be true (``implausible``) is held as suspect: the
    reading is stored without production and the next one counts from it; a reading
    whose suspect increment a supervising user decides (held, confirmed) keeps it
    through a recount.
    """
    last_seq = point.last_total_seq if point.last_total_ts is not None else None
    if last_seq is None or samples[0].seq > last_seq:
        _account_in_order(session, point, samples, accounting, now)
        return
    stored = [
        _Sample(
            ts,
            seq,
            value,
            record_id=rid,
            stored_increment=inc,
            station_id=sid,
            flow_kgph=flow,
            pinned=kind in (IncrementKind.SUSPECT, IncrementKind.CONFIRMED),
        )
        for rid, sid, ts, seq, value, inc, kind, flow in repository.stored_totalizer_window(
            session, point.mine_id, point.id, samples[0].key, samples[-1].key
        )
    ]
    sequence = sorted(stored + samples, key=_in_order)
    previous: _Sample | None = None
    if sequence[0].record_id is not None:  # keeps its increment: its predecessor is outside
        previous = sequence[0]
        sequence = sequence[1:]
    planned: list[tuple[_Sample, Increment, _Sample | None, Suspicion | None]] = []
    kg_by_hour: dict[datetime, int] = defaultdict(int)
    for sample in sequence:
        if sample.pinned:
            previous = sample
            continue
        increment = totalizer_increment(
            None if previous is None else previous.value_kg, sample.value_kg, point.rollover_kg
        )
        planned.append(
            (
                sample,
                increment,
                previous,
                _suspicion(point.max_flow_kgph, previous, sample, increment),
            )
        )
        # late readings that would overfill an hour through the recount are kept out
        # before anything is held
        kg_by_hour[accounting.hour_of(sample.ts)] += increment.kg - sample.stored_increment
        previous = sample
    refusal = accounting.overflow(session, kg_by_hour)
    if refusal:
        assert last_seq is not None
        for sample in samples:
            if sample.seq <= last_seq:
                accounting.refused[sample.seq] = refusal
        after = [sample for sample in samples if sample.seq > last_seq]
        if after:
            _account_in_order(session, point, after, accounting, now)
        return
    changes: list[dict[str, Any]] = []
    for sample, increment, before, suspicion in planned:
        counted = increment
        if suspicion is not None:
            assert before is not None
            accounting.hold(point, sample, before, increment, suspicion, now)
            counted = _HELD
        elif increment.kind is IncrementKind.RESET:
            accounting.resets.append(
                (point, sample.ts, 0 if before is None else before.value_kg, sample.value_kg)
            )
        if before is not None:
            accounting.previous_ts[sample.seq] = before.ts
        if sample.row is not None:
            _set_increment(sample, counted, point.id, accounting)
        elif counted.kg != sample.stored_increment or suspicion is not None:
            changes.append(
                {
                    "id": sample.record_id,
                    "increment_kg": counted.kg,
                    "increment_kind": counted.kind.value,
                }
            )
            accounting.add(point.id, sample.ts, counted.kg - sample.stored_increment)
    repository.update_increments(session, changes)
    newest = sequence[-1] if sequence else None
    if newest is not None and newest.row is not None:
        _move_last(point, newest)


def _account_in_order(
    session: Session, point: Point, samples: list[_Sample], accounting: _Accounting, now: datetime
) -> None:
    """Readings that all come after the point's last one, in order."""
    previous: _Sample | None = None
    if point.last_total_kg is not None and point.last_total_ts is not None:
        previous = _Sample(
            point.last_total_ts,
            point.last_total_seq or 0,
            point.last_total_kg,
            flow_kgph=point.last_flow_kgph,
        )
    newest: _Sample | None = None
    point_id, rollover_kg, max_flow_kgph = point.id, point.rollover_kg, point.max_flow_kgph
    previous_ts = accounting.previous_ts
    for sample in samples:
        increment = totalizer_increment(
            None if previous is None else previous.value_kg, sample.value_kg, rollover_kg
        )
        suspicion = _suspicion(max_flow_kgph, previous, sample, increment)
        counted = _HELD if suspicion else increment
        refusal = accounting.take(session, sample.ts, counted.kg)
        if refusal:
            accounting.refused[sample.seq] = refusal
            continue
        if previous is not None:
            previous_ts[sample.seq] = previous.ts
            if suspicion is not None:
                accounting.hold(point, sample, previous, increment, suspicion, now)
            elif increment.kind is IncrementKind.RESET:
                accounting.resets.append((point, sample.ts, previous.value_kg, sample.value_kg))
        _set_increment(sample, counted, point_id, accounting)
        previous = sample
        newest = sample
    if newest is not None:
        _move_last(point, newest)


#: what a suspect reading counts until it is decided
_HELD = Increment(0, IncrementKind.SUSPECT)
#: each kind as the text stored (an enum's ``value`` is a property, read per reading)
_KIND_TEXT = {kind: kind.value for kind in IncrementKind}


def _suspicion(
    max_flow_kgph: int | None, previous: _Sample | None, sample: _Sample, increment: Increment
) -> Suspicion | None:
    """Why a reading's increment since ``previous`` cannot be true (None: it can), on a
    point whose flow is at most ``max_flow_kgph``."""
    if previous is None:
        return None
    return implausible(
        increment,
        sample.ts - previous.ts,
        max_flow_kgph,
        (previous.flow_kgph, sample.flow_kgph),
    )


def _set_increment(
    sample: _Sample, increment: Increment, point_id: int, accounting: _Accounting
) -> None:
    assert sample.row is not None
    sample.row["increment_kg"] = increment.kg
    sample.row["increment_kind"] = _KIND_TEXT[increment.kind]
    accounting.add(point_id, sample.ts, increment.kg)


def _conveyor_moved(point: Point, row: dict[str, Any]) -> None:
    """The point's conveyor state is this record's if it is the latest by (ts, seq), as
    the records are read back (``alarms.rules_repository.conveyor_states_of``); written by
    ``repository.save_states``."""
    ts, seq = row["ts"], row["seq"]
    if point.last_conveyor_ts is None or (ts, seq) > (
        point.last_conveyor_ts,
        point.last_conveyor_seq or 0,
    ):
        set_committed_value(point, "last_conveyor_ts", ts)
        set_committed_value(point, "last_conveyor_seq", seq)
        set_committed_value(point, "last_conveyor_running", row["running"])


def _move_last(point: Point, newest: _Sample) -> None:
    """The point's last reading is now ``newest``: kept in the object as if read (nothing
    for the ORM to flush), written by ``repository.save_states``."""
    set_committed_value(point, "last_total_ts", newest.ts)
    set_committed_value(point, "last_total_seq", newest.seq)
    set_committed_value(point, "last_total_kg", newest.value_kg)
    set_committed_value(point, "last_flow_kgph", newest.flow_kgph)


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
