"""Every stored figure is provable 数据可证.

A regulator trusts a figure because it can be re-derived from what the stations
signed. Each upload is kept as it arrived (its exact bytes and Ed25519 signature)
and every record points to the upload that brought it. Verification

1. re-verifies each kept upload's signature with its station's key and compares
   every stored record with the record the station signed (a changed value, a record
   no upload brought, a signed record that is gone);
2. adds up the records' production per point and hour (plus the approved manual
   entries, spread over their hours as when they were entered) and compares it with
   the hourly rollups;
3. compares each daily rollup with the sum of its hours;
4. compares each running total of a mine's month and year with the sum of its daily
   rollups (raw coal with the coefficient in force each day).

Raw months archived to files after the retention (coalwatch.partitions) are re-proved
from their files: each file's SHA-256 against the one recorded when it was written, its
uploads' signatures against their stations' keys, its records against what was signed;
its records' production counts in the hours as the stored records' does.

Month, year and every report are read from the daily rollups (raw coal is computed
from them at read time), so they stand once the days do; the overproduction rules read
months and years from the running totals, which stand once they equal their days. A
disagreement is a ``data_tamper`` alarm of the mine; the alarm ends only after a full
verification finds the mine's data agree again.

Incremental runs (the hourly job) re-prove the uploads kept since the last run, and
the hours they touched; the daily check always covers every day. A full run
(``coalwatch verify``) re-proves everything.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.alarms import service as alarms
from coalwatch.audit import checkpoints
from coalwatch.audit.models import AuditEntry
from coalwatch.audit.service import Broken
from coalwatch.config import Settings
from coalwatch.domain.accounting import spread_over_hours
from coalwatch.domain.alarms import AlarmType, detail_params
from coalwatch.domain.periods import Period, period_start
from coalwatch.domain.units import RAW_UNITS_PER_T, kg_to_tonnes
from coalwatch.ingest.service import signed_columns
from coalwatch.integrity import repository
from coalwatch.integrity.keys import center_key
from coalwatch.integrity.models import VerificationProgress
from coalwatch.partitions import archive
from coalwatch.partitions.models import RawArchive
from coalwatch.production import repository as production
from coalwatch.storage.models import Point
from coalwatch.storage.partitioning import month_of
from coalwatch.storage.session import transaction
from coalwatch.wire.batches import MalformedBody, parse_body, parse_record, record_seq
from coalwatch.wire.signing import parse_public_key, public_key_b64, verify

log = logging.getLogger("coalwatch.integrity")

#: the columns compared between a stored record and the record its station signed
_SIGNED = ("ts", "type", "point_id", "value_kg", "flow_kgph", "running", "event", "detail")
_CHUNK = 500
#: the findings listed at most (the first ones name where to look)
MAX_FINDINGS = 200


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement: where, and why."""

    mine_id: int | None
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class Verification:
    full: bool
    batches: int = 0
    records: int = 0
    hours: int = 0
    days_checked: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, finding: Finding) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)


def verify_figures(
    session: Session, now: datetime, *, full: bool = True, archive_dir: Path | None = None
) -> Verification:
    """Re-prove the stored figures (all of them, or what came since the last run) and
    raise or end ``data_tamper`` alarms accordingly. ``archive_dir`` holds the archive
    files of the raw months that were dropped (coalwatch.partitions)."""
    progress = repository.progress(session)
    archived = Archived.of(session)
    newest_record = repository.newest_record_id(session)
    newest_batch = repository.newest_batch_id(session)
    since_batch = 0 if full else progress.last_batch_id
    since_record = (
        progress.unsigned_before if full else max(progress.last_record_id, progress.unsigned_before)
    )
    result = Verification(full=full)
    touched: dict[int, set[datetime]] = defaultdict(set)
    info = repository.points(session)
    _verify_batches(session, result, info, since_batch, since_record, touched, archived)
    for row in repository.unproved_records(session, since_record):
        result.add(
            Finding(
                row.mine_id,
                f"record {row.id} (station {_station_code(session, row.station_id)}, "
                f"seq {row.seq})",
                "no signed upload brought it"
                if row.batch_id is None
                else f"it names upload {row.batch_id}, which is not kept",
            )
        )
    archived_kg = _verify_archives(
        session, result, info, archived, archive_dir, None if full else touched, progress
    )
    _verify_hours(session, result, info, None if full else touched, archived_kg)
    _verify_days(session, result, info)
    _verify_totals(session, result)
    progress.last_batch_id = max(progress.last_batch_id, newest_batch)
    progress.last_record_id = max(progress.last_record_id, newest_record)
    progress.verified_at = now
    _alarm(session, result, now)
    return result


def _station_code(session: Session, station_id: int) -> str:
    return repository.station(session, station_id).code


def _verify_batches(
    session: Session,
    result: Verification,
    info: dict[int, repository.PointInfo],
    since_batch: int,
    since_record: int,
    touched: dict[int, set[datetime]],
    archived: Archived,
) -> None:
    """Signatures, and every record against what was signed (a chunk of uploads at a
    time: a few queries per chunk, not per upload)."""
    keys: dict[int, Any] = {}
    stations: dict[int, str] = {}
    points_of: dict[int, dict[str, Point]] = {}
    zones = {pid: ZoneInfo(p.timezone) for pid, p in info.items()}
    extra = repository.batches_of_records(session, since_record) if since_batch else set()
    for chunk in repository.batches(session, since_batch, extra, _CHUNK):
        stored = repository.records_of_batches(session, [b.id for b in chunk])
        missing: list[tuple[repository.Kept, int]] = []
        signed_of: dict[int, dict[int, Any]] = {}
        for batch in chunk:
            result.batches += 1
            if batch.station_id not in keys:
                station = repository.station(session, batch.station_id)
                keys[batch.station_id] = parse_public_key(station.public_key)
                stations[batch.station_id] = station.code
                if batch.mine_id not in points_of:
                    points_of[batch.mine_id] = repository.mine_points(session, batch.mine_id)
            code = stations[batch.station_id]
            signed = _signed_records(batch, keys[batch.station_id])
            if isinstance(signed, str):
                result.add(Finding(batch.mine_id, f"upload {batch.id} of station {code}", signed))
                continue
            own = stored.get(batch.id, [])
            for record in own:
                result.records += 1
                if record.point_id is not None and record.increment_kg:
                    touched[record.point_id].add(_hour(record.ts, zones[record.point_id]))
                problem = _compare(record, signed.get(record.seq), points_of[batch.mine_id])
                if problem:
                    result.add(
                        Finding(
                            batch.mine_id,
                            f"record {record.id} (station {code}, seq {record.seq})",
                            problem,
                        )
                    )
            kept = {record.seq for record in own}
            signed_of[batch.id] = signed
            missing.extend((batch, seq) for seq in signed if seq not in kept)
        # a signed seq stored with another upload (sent twice) or quarantined is held
        held = repository.held(session, [(b.station_id, seq) for b, seq in missing])
        for batch, seq in missing:
            if (batch.station_id, seq) not in held and not archived.holds(
                batch, signed_of[batch.id][seq]
            ):
                result.add(
                    Finding(
                        batch.mine_id,
                        f"seq {seq} of station {stations[batch.station_id]}",
                        f"signed in upload {batch.id} and accepted, but no longer stored",
                    )
                )


def _signed_records(batch: repository.Kept, key: Any) -> dict[int, Any] | str:
    """The records the station signed, by seq; or what is wrong with the kept upload."""
    if not verify(key, batch.body, batch.signature):
        return "its signature does not match its kept bytes"
    try:
        body = parse_body(batch.body)
        return {seq: raw for raw in body.get("records", []) if (seq := record_seq(raw)) is not None}
    except (MalformedBody, AttributeError):
        return "its kept bytes are not a batch"


def _compare(record: repository.Stored, raw: Any, points: dict[str, Point]) -> str | None:
    if raw is None:
        return "its upload does not contain this seq"
    try:
        parsed = parse_record(raw)
    except ValidationError:
        return "its upload holds an invalid record under this seq"
    code = getattr(parsed, "point", None)
    point = points.get(code) if code else None
    expected = signed_columns(parsed, None if point is None else point.id)
    stored = record._asdict()
    if record.station_ts is not None:  # counted when received: the station signed its own
        stored["ts"] = record.station_ts
    for column in _SIGNED:
        if stored[column] != expected[column]:
            return f"its {column} is {stored[column]!r}, the station signed {expected[column]!r}"
    if record.type == "trip" and record.increment_kg != expected["value_kg"]:
        return (
            f"its production is {record.increment_kg} kg, the trip weighed {expected['value_kg']}"
        )
    return None


@dataclass(frozen=True)
class Archived:
    """The months of raw records and of quarantine that were archived and dropped."""

    rows: list[RawArchive]
    records: frozenset[datetime]
    quarantine: frozenset[datetime]

    @classmethod
    def of(cls, session: Session) -> Archived:
        rows = repository.archives(session)
        return cls(
            rows,
            frozenset(r.month_start for r in rows if r.table_name == "records"),
            frozenset(r.month_start for r in rows if r.table_name == "quarantined_records"),
        )

    def holds(self, batch: repository.Kept, raw: Any) -> bool:
        """Whether a signed record missing from the tables went to an archive: the month
        of its time (or of its receipt: a record dated ahead is counted at receipt) is
        archived, or its upload's month is and it was quarantined."""
        months = {month_of(batch.received_at)}
        with contextlib.suppress(KeyError, TypeError, ValueError):
            months.add(month_of(datetime.fromisoformat(str(raw["ts"]))))
        return bool(months & self.records) or month_of(batch.received_at) in self.quarantine


def _verify_archives(
    session: Session,
    result: Verification,
    info: dict[int, repository.PointInfo],
    archived: Archived,
    directory: Path | None,
    touched: dict[int, set[datetime]] | None,
    progress: VerificationProgress,
) -> dict[tuple[int, datetime], int]:
    """Re-prove the archive files (all, or those of the months the touched hours fall
    in) and return their production per (point, hour)."""
    kg: dict[tuple[int, datetime], int] = defaultdict(int)
    if touched is not None:
        hours = {h for hs in touched.values() for h in hs}
        if not hours:
            return kg
        first, last = min(hours), max(hours) + timedelta(hours=1)
    for row in archived.rows:
        if touched is not None and (row.month_end <= first or row.month_start >= last):
            continue
        where = f"archive {row.file_name} ({row.table_name} {row.month_start:%Y-%m})"
        if directory is None or not (directory / row.file_name).exists():
            result.add(Finding(None, where, "the archive file is missing"))
            continue
        path = directory / row.file_name
        if archive.sha256_of(path) != row.sha256:
            result.add(Finding(None, where, "its SHA-256 differs from the one recorded"))
            continue
        try:
            content = archive.read(path)
        except archive.ArchiveDamaged as exc:
            result.add(Finding(None, where, str(exc)))
            continue
        if row.table_name == "records":
            _verify_archived_records(session, result, info, content, where, progress, kg)
    return kg


def _verify_archived_records(
    session: Session,
    result: Verification,
    info: dict[int, repository.PointInfo],
    content: archive.Content,
    where: str,
    progress: VerificationProgress,
    kg: dict[tuple[int, datetime], int],
) -> None:
    by_batch: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for record in content.rows:
        by_batch[record["batch_id"]].append(record)
        result.records += 1
        point_id, increment = record["point_id"], record["increment_kg"]
        if point_id is not None and increment and point_id in info:
            kg[(point_id, _hour(record["ts"], ZoneInfo(info[point_id].timezone)))] += increment
    points_of: dict[int, dict[str, Point]] = {}
    for batch in content.batches:
        result.batches += 1
        station = content.stations.get(batch.station_id)
        key_b64 = repository.station_key(session, batch.station_id) or (
            station.public_key if station else None
        )
        code = station.code if station else str(batch.station_id)
        if key_b64 is None:
            result.add(Finding(batch.mine_id, where, f"upload {batch.id}: its station is unknown"))
            continue
        kept = repository.Kept(
            batch.id,
            batch.mine_id,
            batch.station_id,
            batch.body,
            batch.signature,
            batch.received_at,
        )
        signed = _signed_records(kept, parse_public_key(key_b64))
        if isinstance(signed, str):
            result.add(Finding(batch.mine_id, f"{where}, upload {batch.id} of {code}", signed))
            continue
        if batch.mine_id not in points_of:
            points_of[batch.mine_id] = repository.mine_points(session, batch.mine_id)
        for record in by_batch.pop(batch.id, []):
            stored = repository.Stored(*(record[c] for c in repository.Stored._fields))
            problem = _compare(stored, signed.get(record["seq"]), points_of[batch.mine_id])
            if problem:
                result.add(
                    Finding(
                        batch.mine_id,
                        f"{where}, record {record['id']} (station {code}, seq {record['seq']})",
                        problem,
                    )
                )
    for batch_id, records in by_batch.items():
        for record in records:
            if record["id"] > progress.unsigned_before:
                result.add(
                    Finding(
                        record["mine_id"],
                        f"{where}, record {record['id']} (seq {record['seq']})",
                        "no signed upload in the archive brought it"
                        if batch_id is None
                        else f"it names upload {batch_id}, which the archive does not hold",
                    )
                )


def _hour(ts: datetime, tz: ZoneInfo) -> datetime:
    return period_start(ts, Period.HOUR, tz).astimezone(UTC)


def _verify_hours(
    session: Session,
    result: Verification,
    info: dict[int, repository.PointInfo],
    touched: dict[int, set[datetime]] | None,
    archived_kg: dict[tuple[int, datetime], int],
) -> None:
    """Hourly rollups = their records' production (stored or archived) + approved
    manual entries."""
    point_ids: list[int] | None = None
    start = end = None
    if touched is not None:
        if not touched:
            return
        point_ids = sorted(touched)
        start = min(min(hours) for hours in touched.values())
        end = max(max(hours) for hours in touched.values()) + timedelta(hours=1)
    touched_points = set(point_ids or ())
    expected: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
    for point_id, ts, kg in repository.increments(session, point_ids, start, end):
        expected[(point_id, _hour(ts, ZoneInfo(info[point_id].timezone)))][0] += kg
    for key, kg in archived_kg.items():
        if point_ids is None or key[0] in touched_points:
            expected[key][0] += kg
    for entry in repository.manual_entries(session):
        if touched is not None and entry.point_id not in touched:
            continue
        tz = ZoneInfo(info[entry.point_id].timezone)
        for hour, kg in spread_over_hours(entry.start, entry.end, entry.gross_kg, tz):
            expected[(entry.point_id, hour.astimezone(UTC))][1] += kg
    stored = {
        (row.point_id, row.hour_start): (row.measured_kg, row.manual_kg)
        for row in repository.hourly_rows(session, point_ids, start, end)
    }
    keys = set(stored) | set(expected)
    if touched is not None:
        keys = {(p, h) for p, h in keys if h in touched.get(p, ())}
    for point_id, hour in sorted(keys):
        result.hours += 1
        have = stored.get((point_id, hour), (0, 0))
        want = tuple(expected.get((point_id, hour), (0, 0)))
        if have != want:
            point = info[point_id]
            local = hour.astimezone(ZoneInfo(point.timezone))
            result.add(
                Finding(
                    point.mine_id,
                    f"hour {local:%Y-%m-%d %H:00} of point {point.code} of mine {point.mine_code}",
                    f"the rollup holds {_t(have[0])} t measured + {_t(have[1])} t manual, its "
                    f"records and approved entries add up to {_t(want[0])} t + {_t(want[1])} t",
                )
            )


def _verify_days(
    session: Session, result: Verification, info: dict[int, repository.PointInfo]
) -> None:
    """Daily rollups = the sum of their hours."""
    result.days_checked = True
    for row in repository.day_mismatches(session):
        point = info[row.point_id]
        stored = "no row" if row.stored is None else f"{_t(sum(row.stored))} t"
        hours = "none" if row.of_hours is None else f"{_t(sum(row.of_hours))} t"
        result.add(
            Finding(
                point.mine_id,
                f"day {row.local_day} of point {point.code} of mine {point.mine_code}",
                f"the daily rollup holds {stored}, its hours add up to {hours}",
            )
        )


def _verify_totals(session: Session, result: Verification) -> None:
    """Running totals of months and years = the sums of their daily rollups (a missing
    total counts as zero)."""
    stored = production.all_stored_totals(session)
    expected = production.totals_from_days(session)
    codes = repository.mine_codes(session)
    zero = (0, 0, 0)
    for mine_id in sorted(set(stored) | set(expected)):
        have, want = stored.get(mine_id, {}), expected.get(mine_id, {})
        for period, start in sorted(set(have) | set(want)):
            kept = have.get((period, start), zero)
            summed = want.get((period, start), zero)
            if kept == summed:
                continue
            label = f"{start:%Y-%m}" if period == production.MONTH else f"{start:%Y}"
            result.add(
                Finding(
                    mine_id,
                    f"{period} {label} of mine {codes.get(mine_id, mine_id)}",
                    f"the running total holds {_gross(kept)}; its daily rollups add up to "
                    f"{_gross(summed)}",
                )
            )


def _gross(sums: tuple[int, int, int]) -> str:
    measured, manual, raw = sums
    return f"{_t(measured + manual)} t gross, {Decimal(raw) / RAW_UNITS_PER_T:,.7f} t raw"


def _t(kg: int) -> str:
    return f"{kg_to_tonnes(kg):,.3f}"


def audit_entry_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _alarm(session: Session, result: Verification, now: datetime) -> None:
    """``data_tamper`` per mine with a finding; a full run that finds a mine clean ends
    its alarm."""
    by_mine: dict[int, list[Finding]] = defaultdict(list)
    for finding in result.findings:
        if finding.mine_id is not None:
            by_mine[finding.mine_id].append(finding)
    for mine_id, findings in by_mine.items():
        first = str(findings[0])
        params = detail_params("figures_disagree", count=len(findings), text=first)
        _tamper(session, mine_id, "figures", now, first, params)
    if result.full:
        for open_mine in alarms.mines_with_open(session, AlarmType.DATA_TAMPER):
            if open_mine is not None and open_mine not in by_mine:
                _tamper(session, open_mine, "figures", now, None)


def _tamper(
    session: Session,
    mine_id: int | None,
    subject: str,
    now: datetime,
    problem: str | None,
    params: str | None = None,
) -> None:
    """Raise ``data_tamper`` for what was found (its first finding kept as the detail's
    technical text), or end it when nothing was."""
    if problem is None:
        alarms.end_condition(
            session, mine_id=mine_id, type_=AlarmType.DATA_TAMPER, at=now, subject=subject
        )
        return
    alarms.raise_alarm(
        session,
        mine_id=mine_id,
        type_=AlarmType.DATA_TAMPER,
        at=now,
        subject=subject,
        detail=problem,
        params=params,
    )


@dataclass
class Outcome:
    figures: Verification
    audit: Broken | None
    audit_entries: int
    checkpoints: int


def _one_snapshot(session: Session) -> None:
    """Every read of the verification sees the same committed data: on PostgreSQL a batch
    that commits between the reading of the records and of the rollups would otherwise
    look like a rollup that disagrees with its records (SQLite's transactions are
    already serialised with ingest)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def verify_all(
    sessions: sessionmaker[Session], settings: Settings, now: datetime, *, full: bool
) -> Outcome:
    """The figures and the audit chain, in one transaction; ``data_tamper`` alarms
    follow what is found (the audit log's is the center's own alarm, of no mine)."""
    key = center_key(settings, create=False)
    public_key = None if key is None else public_key_b64(key)
    with transaction(sessions) as session:
        _one_snapshot(session)
        figures = verify_figures(session, now, full=full, archive_dir=settings.resolved_archive_dir)
        broken = checkpoints.verify_anchored(
            session, public_key, checkpoints.from_file(Path(settings.var_dir), session)
        )
        if broken is None:
            _tamper(session, None, "audit", now, None)
        else:
            problem = f"audit log entry {broken.entry_id}: {broken.reason}"
            params = detail_params("audit_broken", entry=broken.entry_id, text=broken.reason)
            _tamper(session, None, "audit", now, problem, params)
        entries = audit_entry_count(session)
        kept = len(checkpoints.stored(session))
    return Outcome(figures, broken, entries, kept)


class IntegrityJob:
    """The hourly round: sign a checkpoint of the audit chain, then re-prove what
    arrived since the last round (the jobs process, under the jobs lease)."""

    def __init__(self, settings: Settings, interval: timedelta = timedelta(hours=1)) -> None:
        self._settings = settings
        self._interval = interval
        self._last: datetime | None = None
        self._failing = False

    def __call__(self, sessions: sessionmaker[Session], now: datetime) -> Outcome | None:
        if self._last is not None and now - self._last < self._interval:
            return None
        self._last = now
        key = center_key(self._settings)
        assert key is not None
        with transaction(sessions) as session:
            checkpoints.make_checkpoint(session, key, now, Path(self._settings.var_dir))
        outcome = verify_all(sessions, self._settings, now, full=False)
        failing = outcome.audit is not None or not outcome.figures.ok
        if failing and not self._failing:
            first = outcome.audit or outcome.figures.findings[0]
            log.error("verification found stored data that its proof no longer supports: %s", first)
        elif self._failing and not failing:
            log.info("verification: the stored data agree with their proof again")
        self._failing = failing
        return outcome
