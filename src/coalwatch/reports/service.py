"""Reports 报表: the daily monitoring report 监测日报表 (computed from the rollups of the
mine's local day, frozen per revision, signed in order and submitted upward) and the
period reports 班/旬/月/季/年报表 per mine and per org.

A revision is a snapshot: the JSON text of its content and the SHA-256 of that text.
An unsigned latest revision is refreshed when the figures change; a signed one is
frozen, and a correction yields the next revision, to be signed again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.acceptance import flags
from coalwatch.alarms.service import label as alarm_label
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.acceptance import unaccepted_during
from coalwatch.domain.alarms import params_of
from coalwatch.domain.periods import Period
from coalwatch.domain.reports import (
    DEFAULT_SHIFTS,
    SIGNING_ORDER,
    Shift,
    Signer,
    check_shifts,
    dekad,
    next_signer,
    quarter,
    shift_of,
)
from coalwatch.domain.units import kg_to_tonnes
from coalwatch.errors import N_, Conflict, Invalid
from coalwatch.federation.outbound import forward_report
from coalwatch.mines.service import visible_mine
from coalwatch.orgs import repository as org_repository
from coalwatch.orgs.service import visible_org
from coalwatch.people import service as people
from coalwatch.production import repository as production_repository
from coalwatch.production import service as production
from coalwatch.production.service import ZERO, _buckets, _Measure, _sum_measures, _table, yardsticks
from coalwatch.reports import repository, signing
from coalwatch.reports.models import ReportRevision, ReportShifts, ReportSignature
from coalwatch.reports.schemas import (
    AlarmLine,
    DailyContent,
    DailyReport,
    FaultLine,
    HourRow,
    ManualLine,
    PendingReport,
    PeriodKind,
    PeriodReport,
    PeriodRow,
    RevisionList,
    RevisionOut,
    ShiftIn,
    ShiftRow,
    ShiftsIn,
    ShiftsOut,
)
from coalwatch.reports.signing import SIGN, SYSTEM, VIEW, WRITE
from coalwatch.storage.models import Mine, Org
from coalwatch.wire.types import FIRST_YEAR, LAST_YEAR

log = logging.getLogger("coalwatch.reports")

#: the nightly report of yesterday is made from this local time on (late records settle)
GENERATE_AFTER = time(0, 10)


# --- keys ------------------------------------------------------------------------------


def _year(text: str, key: str) -> int:
    if len(text) != 4 or not text.isdigit() or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise Invalid(f"no such period {key!r} (years {FIRST_YEAR}–{LAST_YEAR})")
    return int(text)


def parse_day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"a day is written YYYY-MM-DD, got {text!r}") from None
    if len(text) != 10:
        raise Invalid(f"a day is written YYYY-MM-DD, got {text!r}")
    _year(text[:4], text)
    return day


def period_days(kind: PeriodKind, key: str) -> tuple[date, date]:
    """The first and last day of a period key: shift ``2026-03-15`` (a day), dekad
    ``2026-03-2`` (the second 旬), month ``2026-03``, quarter ``2026-Q1``, year ``2026``."""
    bad = Invalid(f"no {kind} {key!r}")
    if kind == "shift":
        day = parse_day(key)
        return day, day
    if kind == "year":
        year = _year(key, key)
        return date(year, 1, 1), date(year, 12, 31)
    if kind == "quarter":
        year_text, sep, q = key.partition("-Q")
        if not sep or q not in ("1", "2", "3", "4"):
            raise bad
        return quarter(date(_year(year_text, key), 3 * int(q) - 2, 1))
    parts = key.split("-")
    if (kind == "month" and len(parts) == 2) or (kind == "dekad" and len(parts) == 3):
        if len(parts[1]) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= 12:
            raise bad
        first = date(_year(parts[0], key), int(parts[1]), 1)
        if kind == "dekad":
            if parts[2] not in ("1", "2", "3"):
                raise bad
            return dekad(first.replace(day=10 * int(parts[2]) - 9))
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first, following - timedelta(days=1)
    raise bad


# --- shifts ----------------------------------------------------------------------------


def _shifts_from_json(text: str) -> tuple[Shift, ...]:
    return tuple(Shift(s["name"], int(s["start_hour"]), int(s["hours"])) for s in json.loads(text))


def shifts_for(session: Session, mine_id: int) -> tuple[Shift, ...]:
    stored = repository.shifts_of(session, mine_id)
    return DEFAULT_SHIFTS if stored is None else _shifts_from_json(stored.shifts)


def _shifts_out(mine: Mine, shifts: Sequence[Shift], default: bool) -> ShiftsOut:
    return ShiftsOut(
        mine=mine.code,
        shifts=[ShiftIn(name=s.name, start_hour=s.start_hour, hours=s.hours) for s in shifts],
        default=default,
    )


def get_shifts(session: Session, principal: Principal, code: str) -> ShiftsOut:
    principal.require(VIEW)
    mine, _ = visible_mine(session, principal, code)
    stored = repository.shifts_of(session, mine.id)
    return _shifts_out(mine, shifts_for(session, mine.id), stored is None)


def set_shifts(
    session: Session, principal: Principal, code: str, data: ShiftsIn, now: datetime
) -> ShiftsOut:
    """A mine's shifts 班次 (audited); reports generated from now on use them."""
    principal.require(WRITE)
    mine, _ = visible_mine(session, principal, code)
    shifts = tuple(Shift(s.name, s.start_hour, s.hours) for s in data.shifts)
    if len({s.name for s in shifts}) != len(shifts):
        raise Invalid("shift names must differ")
    try:
        check_shifts(shifts)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    text = json.dumps(
        [{"name": s.name, "start_hour": s.start_hour, "hours": s.hours} for s in shifts],
        ensure_ascii=False,
    )
    stored = repository.shifts_of(session, mine.id)
    before = None if stored is None else json.loads(stored.shifts)
    if stored is None:
        repository.add(
            session,
            ReportShifts(mine_id=mine.id, shifts=text, updated_by=principal.name, updated_at=now),
        )
    else:
        stored.shifts, stored.updated_by, stored.updated_at = text, principal.name, now
    audit.record(
        session,
        actor=principal.name,
        action="report.shifts",
        entity="mine",
        key=mine.code,
        detail={"before": before, "after": json.loads(text)},
        at=now,
    )
    return _shifts_out(mine, shifts, False)


# --- the daily report ------------------------------------------------------------------


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return datetime.combine(day, time(), tz), datetime.combine(day + timedelta(days=1), time(), tz)


def _within(ts: datetime | None, end: datetime) -> datetime | None:
    """An end time if it falls inside the day (a later one is not known on that day)."""
    return ts if ts is not None and ts < end else None


def compute(session: Session, mine: Mine, org: Org, day: date) -> DailyContent:
    """The day's content from the rollups (never the raw records)."""
    tz = ZoneInfo(mine.timezone)
    start, end = _day_bounds(day, tz)
    shifts = shifts_for(session, mine.id)
    buckets = _buckets(start, end, Period.HOUR, tz)
    measures = _table(session, [mine], Period.HOUR, buckets, tz, day)[mine.id]
    hours = []
    by_shift: dict[str, list[_Measure]] = {s.name: [] for s in shifts}
    for bucket, measure in zip(buckets, measures, strict=True):
        local = bucket.astimezone(tz)
        shift = shift_of(local.hour, shifts)
        by_shift[shift.name].append(measure)
        hours.append(HourRow(hour=local.hour, start=local, shift=shift.name, **measure.fields))
    stick = yardsticks(session, [mine.id], day, day)[mine.id]
    day_sums = _sum_measures(measures).sums if measures else ZERO
    month_sums = production_repository.range_sums(session, [mine.id], day.replace(day=1), day)
    year_sums = production_repository.range_sums(session, [mine.id], date(day.year, 1, 1), day)
    return DailyContent(
        mine=mine.code,
        name=mine.name,
        org=org.code,
        org_name=org.name,
        date=day,
        timezone=mine.timezone,
        hours=hours,
        shifts=[
            ShiftRow(
                name=s.name,
                start_hour=s.start_hour,
                hours=s.hours,
                **_sum_measures(by_shift[s.name]).fields,
            )
            for s in shifts
            if by_shift[s.name]
        ],
        day=production._measure(day_sums, stick, Period.DAY, day).figure(),
        month=production._measure(month_sums.get(mine.id, ZERO), stick, Period.MONTH, day).figure(),
        year=production._measure(year_sums.get(mine.id, ZERO), stick, Period.YEAR, day).figure(),
        alarms=[
            AlarmLine(
                type=a.type,
                label=alarm_label(a.type),
                severity=a.severity,
                point=point,
                start=a.start,
                end=_within(a.end, end),
                value=a.value,
                threshold=a.threshold,
            )
            for a, point in repository.alarms_in(session, mine.id, start, end)
        ],
        faults=[
            FaultLine(
                kind=f.kind,
                point=point,
                phenomenon=f.phenomenon,
                params=params_of(f.params),
                occurred_at=f.occurred_at,
                reported_at=_within(f.reported_at, end),
                recovered_at=_within(f.recovered_at, end),
            )
            for f, point in repository.faults_in(session, mine.id, start, end)
        ],
        manual=[
            ManualLine(
                point=point,
                start=m.start,
                end=m.end,
                gross_t=kg_to_tonnes(m.gross_kg),
                reason=m.reason,
                entered_by=m.entered_by,
                approved_by=m.approved_by,
                overlaps_measured=m.overlaps_measured,
            )
            for m, point in repository.manual_in(session, mine.id, start, end)
        ],
    )


def _store(
    session: Session,
    mine: Mine,
    org: Org,
    day: date,
    actor: str,
    now: datetime,
    new_revision: bool,
) -> tuple[ReportRevision, bool]:
    """The day's latest revision brought up to date (signing.bring_up_to_date)."""

    def make(number: int, text: str, digest: str) -> ReportRevision:
        return ReportRevision(
            mine_id=mine.id,
            day=day,
            revision=number,
            content=text,
            sha256=digest,
            generated_by=actor,
            generated_at=now,
        )

    return signing.bring_up_to_date(
        session,
        compute(session, mine, org, day),
        repository.latest(session, mine.id, day),
        lambda latest: bool(repository.signatures(session, [latest.id])[latest.id]),
        make,
        actor=actor,
        now=now,
        new_revision=new_revision,
        audited_as=("report.revise", "daily_report", f"{mine.code}/{day.isoformat()}"),
    )


def _report(
    content: DailyContent,
    revision: ReportRevision | None,
    sigs: Sequence[ReportSignature],
    stale: bool,
    now: datetime,
) -> DailyReport:
    signed = [Signer(s.role) for s in sigs]
    return DailyReport(
        **content.model_dump(),
        revision=0 if revision is None else revision.revision,
        sha256=signing.snapshot(content)[1] if revision is None else revision.sha256,
        generated_at=now if revision is None else revision.generated_at,
        generated_by=SYSTEM if revision is None else revision.generated_by,
        frozen=bool(sigs),
        signatures=[signing.signature_out(s) for s in sigs],
        next_signer=next_signer(signed) if revision is not None else None,
        submitted_at=None if revision is None else revision.submitted_at,
        stale=stale,
        provisional=revision is None,
    )


def _stored_report(
    session: Session, revision: ReportRevision, stale: bool, now: datetime
) -> DailyReport:
    content = DailyContent.model_validate_json(revision.content)
    sigs = repository.signatures(session, [revision.id])[revision.id]
    return _flagged(session, revision.mine_id, _report(content, revision, sigs, stale, now))


def _flagged(session: Session, mine_id: int, report: DailyReport) -> DailyReport:
    """未验收: the day had production while the mine's system was not accepted."""
    if report.day.gross_t <= 0:
        return report
    start, end = _day_bounds(report.date, ZoneInfo(report.timezone))
    if mine_id in flags.unaccepted_during(session, [mine_id], start, end):
        return report.model_copy(update={"unaccepted": True})
    return report


def _local_today(mine: Mine, now: datetime) -> date:
    return now.astimezone(ZoneInfo(mine.timezone)).date()


def daily(
    session: Session, principal: Principal, code: str, day_text: str, now: datetime
) -> DailyReport:
    """The daily report of a mine's day: its latest revision (made or refreshed if not
    signed yet); a day that has not ended is shown provisionally and not stored."""
    principal.require(VIEW)
    mine, org = visible_mine(session, principal, code)
    day = parse_day(day_text)
    if day >= _local_today(mine, now):
        return _flagged(
            session, mine.id, _report(compute(session, mine, org, day), None, [], False, now)
        )
    revision, stale = _store(session, mine, org, day, principal.name, now, new_revision=False)
    return _stored_report(session, revision, stale, now)


def regenerate(
    session: Session, principal: Principal, code: str, day_text: str, now: datetime
) -> DailyReport:
    """Recompute an ended day: a changed figure after signing yields the next revision."""
    if not (principal.has(WRITE) or principal.has(SIGN)):
        principal.require(SIGN)
    mine, org = visible_mine(session, principal, code)
    day = parse_day(day_text)
    if day >= _local_today(mine, now):
        raise Conflict(f"the day {day} has not ended in the mine's time zone")
    revision, _ = _store(session, mine, org, day, principal.name, now, new_revision=True)
    return _stored_report(session, revision, False, now)


def revisions(session: Session, principal: Principal, code: str, day_text: str) -> RevisionList:
    principal.require(VIEW)
    mine, _ = visible_mine(session, principal, code)
    day = parse_day(day_text)
    revs = repository.revisions(session, mine.id, day)
    sigs = repository.signatures(session, [r.id for r in revs])
    return RevisionList(
        mine=mine.code,
        day=day,
        items=[
            RevisionOut(
                revision=r.revision,
                sha256=r.sha256,
                generated_at=r.generated_at,
                generated_by=r.generated_by,
                frozen=bool(sigs[r.id]),
                signatures=[signing.signature_out(s) for s in sigs[r.id]],
                submitted_at=r.submitted_at,
            )
            for r in revs
        ],
    )


def sign(
    session: Session,
    principal: Principal,
    code: str,
    day_text: str,
    role: Signer,
    now: datetime,
) -> DailyReport:
    """Sign the latest revision in ``role``: 值机员 → 值班矿长 → 总工程师, in that order."""
    principal.require(SIGN)
    mine, org = visible_mine(session, principal, code)
    day = parse_day(day_text)
    if day >= _local_today(mine, now):
        raise Conflict(f"the day {day} has not ended: its report cannot be signed yet")
    revision = signing.sign_revision(
        session,
        principal,
        role,
        now,
        certified=lambda: people.require_certified(
            session, principal, org, mine, "sign_report", now
        ),
        latest=lambda: _store(session, mine, org, day, principal.name, now, new_revision=False),
        waiting=lambda revision: next_signer(
            [Signer(s.role) for s in repository.signatures(session, [revision.id])[revision.id]]
        ),
        signature=ReportSignature,
        audited_as=("report.sign", "daily_report", f"{mine.code}/{day.isoformat()}"),
    )
    if role is SIGNING_ORDER[-1]:
        submit_upward(session, mine, revision, principal.name, now)
    return _stored_report(session, revision, False, now)


def submit_upward(
    session: Session, mine: Mine, revision: ReportRevision, actor: str, now: datetime
) -> None:
    """上报: a fully signed revision goes to the level above.

    The revision's content, its SHA-256 and signatures are queued for the upstream
    center (when this center has one), which stores them as received 已上报.
    """
    revision.submitted_at = now
    session.flush()
    forward_report(session, mine, revision, now)
    audit.record(
        session,
        actor=actor,
        action="report.submit",
        entity="daily_report",
        key=f"{mine.code}/{revision.day.isoformat()}",
        detail={"revision": revision.revision, "sha256": revision.sha256},
        at=now,
    )


def pending(session: Session, principal: Principal) -> list[PendingReport]:
    """报表审签: reports waiting for a signature this principal may give."""
    principal.require(VIEW)
    mines = {m.id: m for m, _ in org_repository.mines_under(session, principal.scope_path)}
    revs = repository.latest_unsubmitted(session, list(mines))
    sigs = repository.signatures(session, [r.id for r in revs])
    out = []
    for rev in revs:
        waiting = next_signer([Signer(s.role) for s in sigs[rev.id]])
        if waiting is not None and signing.may_sign_as(session, principal, waiting):
            mine = mines[rev.mine_id]
            out.append(
                PendingReport(
                    mine=mine.code,
                    name=mine.name,
                    day=rev.day,
                    revision=rev.revision,
                    next_signer=waiting,
                )
            )
    return out


def _producing(
    session: Session, waiting: Sequence[tuple[Mine, Org, date, ZoneInfo]]
) -> set[tuple[int, date]]:
    """Which of the mines set up after their ``day`` have production stored in it (records
    loaded from the system they replace): one query for all of them."""
    if not waiting:
        return set()
    spans = {
        mine.id: (day, _local_midnight(day, tz), _local_midnight(day + timedelta(days=1), tz))
        for mine, _, day, tz in waiting
    }
    stored = production_repository.hourly_sums(
        session,
        list(spans),
        min(start for _, start, _ in spans.values()),
        max(end for _, _, end in spans.values()),
    )
    return {
        (mine_id, spans[mine_id][0])
        for mine_id, hour in stored
        if spans[mine_id][1] <= hour < spans[mine_id][2]
    }


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def generate_due(session: Session, now: datetime) -> int:
    """The nightly job: yesterday's report of every mine this center monitors itself,
    from 00:10 local time on, if it has none yet (idempotent: a second run makes
    nothing). A mine set up after yesterday gets none, unless it has production of
    yesterday (records loaded from the system it replaces)."""
    made = 0
    due = []
    for mine, org in org_repository.mines_under(session, None):
        if mine.managed_by_center_id is not None:
            continue  # its downstream center makes and signs it; the signed one arrives
        tz = ZoneInfo(mine.timezone)
        local = now.astimezone(tz)
        if local.time() >= GENERATE_AFTER:
            due.append((mine, org, local.date() - timedelta(days=1), tz))
    done = repository.reported(session, [day for _, _, day, _ in due])
    due = [d for d in due if (d[0].id, d[2]) not in done]
    newer = [d for d in due if d[0].created_at.astimezone(d[3]).date() > d[2]]
    producing = _producing(session, newer)
    skipped = {(mine.id, day) for mine, _, day, _ in newer} - producing
    for mine, org, day, _ in due:
        if (mine.id, day) in skipped:
            continue
        _store(session, mine, org, day, SYSTEM, now, new_revision=False)
        made += 1
    return made


# --- period reports --------------------------------------------------------------------

TITLES: dict[str, str] = {
    "shift": "班报表",
    "dekad": "旬报表",
    "month": "月报表",
    "quarter": "季报表",
    "year": "年报表",
}
ROW_PERIOD = {
    "shift": Period.HOUR,
    "dekad": Period.DAY,
    "month": Period.DAY,
    "quarter": Period.MONTH,
    "year": Period.MONTH,
}
#: what a report's total, and a mine's row of an org's report, is counted in: the
#: report's own period where the capacity has one (a month's M = D × 30 whatever its days,
#: a year's A, as the overproduction rules and the dashboard judge them), else its rows
TOTAL_PERIOD = {**ROW_PERIOD, "month": Period.MONTH, "year": Period.YEAR}


def _span(
    kind: PeriodKind, key: str, shift: str | None, shifts: Sequence[Shift], tz: ZoneInfo
) -> tuple[date, date, datetime, datetime, str]:
    first, last = period_days(kind, key)
    suffix = ""
    if kind == "shift":
        chosen = shifts[0]
        if shift:
            found = [s for i, s in enumerate(shifts, 1) if shift in (s.name, str(i))]
            if not found:
                raise Invalid(
                    N_("没有班次 %(shift)s：可选 %(shifts)s"),
                    params={"shift": shift, "shifts": "、".join(s.name for s in shifts)},
                )
            chosen = found[0]
        start = datetime.combine(first, time(chosen.start_hour), tz)
        end = start + timedelta(hours=chosen.hours)
        return first, (end - timedelta(seconds=1)).date(), start, end, f" {chosen.name}"
    return first, last, *_day_bounds(first, tz)[:1], _day_bounds(last, tz)[1], suffix


def _label(kind: PeriodKind, start: datetime, tz: ZoneInfo) -> tuple[str, str]:
    local = start.astimezone(tz)
    period = ROW_PERIOD[kind]
    if period is Period.HOUR:
        return local.isoformat(timespec="minutes"), local.strftime("%H:00")
    if period is Period.DAY:
        return local.date().isoformat(), local.strftime("%m-%d")
    return local.strftime("%Y-%m"), local.strftime("%Y-%m")


def mine_period(
    session: Session,
    principal: Principal,
    code: str,
    kind: PeriodKind,
    key: str,
    now: datetime,
    shift: str | None = None,
) -> PeriodReport:
    """A mine's shift / 旬 / month / quarter / year report: one row per hour, day or month."""
    principal.require(VIEW)
    mine, _ = visible_mine(session, principal, code)
    tz = ZoneInfo(mine.timezone)
    first, last, start, end, suffix = _span(kind, key, shift, shifts_for(session, mine.id), tz)
    result = production.mine_production(session, principal, code, ROW_PERIOD[kind], start, end, now)
    rows = []
    history = flags.history_of(session, mine.id)
    ends = [i.start for i in result.items[1:]] + [end]
    for item, item_end in zip(result.items, ends, strict=True):
        row_key, label = _label(kind, item.start, tz)
        flagged = item.gross_t > 0 and unaccepted_during(history, item.start, item_end)
        rows.append(
            PeriodRow(
                key=row_key,
                label=label,
                unaccepted=flagged,
                begun=item.start <= now,
                **item.model_dump(exclude={"start"}),
            )
        )
    if TOTAL_PERIOD[kind] is not ROW_PERIOD[kind]:
        result = production.mine_production(
            session, principal, code, TOTAL_PERIOD[kind], start, end, now
        )
    assert result.total is not None
    return PeriodReport(
        kind=kind,
        key=key,
        title=TITLES[kind] + suffix,
        scope="mine",
        code=mine.code,
        name=mine.name,
        first_day=first,
        last_day=last,
        start=start,
        end=end,
        rows=rows,
        total=result.total,
        computed_at=now,
        unaccepted=[r.key for r in rows if r.unaccepted],
    )


def org_period(
    session: Session,
    principal: Principal,
    code: str,
    kind: PeriodKind,
    key: str,
    now: datetime,
    tz: ZoneInfo,
    shift: str | None = None,
) -> PeriodReport:
    """An org's report for a period: one row per mine, and the totals (exact sums of the
    mines, rounded once). Periods are in the deployment's time zone."""
    principal.require(VIEW)
    org = visible_org(session, principal, code)
    first, last, start, end, suffix = _span(kind, key, shift, DEFAULT_SHIFTS, tz)
    result = production.org_production(
        session, principal, code, TOTAL_PERIOD[kind], start, end, now, tz
    )
    assert result.total is not None
    ids = {row.code: row.id for row in org_repository.mine_rows_under(session, org.path)}
    during = flags.unaccepted_during(session, list(ids.values()), start, end)
    rows = [
        PeriodRow(
            key=m.mine,
            label=m.name,
            unaccepted=m.total.gross_t > 0 and ids.get(m.mine) in during,
            **m.total.model_dump(),
        )
        for m in result.mines
        if m.total is not None
    ]
    return PeriodReport(
        kind=kind,
        key=key,
        title=TITLES[kind] + suffix,
        scope="org",
        code=org.code,
        name=org.name,
        first_day=first,
        last_day=last,
        start=start,
        end=end,
        rows=rows,
        total=result.total,
        computed_at=now,
        unaccepted=[r.key for r in rows if r.unaccepted],
    )
