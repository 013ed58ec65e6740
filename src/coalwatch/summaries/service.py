"""Summaries upward 汇总上报: a mine's month-end and year-end summaries 月终、年终汇总 (its
production per day or per month with the totals, and the period's alarms, faults and
their handling) and the abnormal-situation report 异常情况上传报表 of a day (its alarms
and faults and their handling), signed as the daily report is and submitted upward with
their signatures once the last one signs.

As the daily report: a revision is the JSON text of its content and that text's SHA-256;
an unsigned latest revision follows the figures, a signed one is frozen, and a change
after signing is regenerated into the next revision, to be signed again. A period that
has not ended (in the mine's time zone) is shown, not stored.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.alarms.service import label as alarm_label
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.reports import SIGNER_LABELS, Signer
from coalwatch.domain.summaries import SIGNERS, TITLES, SummaryKind, next_signer
from coalwatch.domain.units import fraction_to_decimal
from coalwatch.errors import N_, Conflict, Forbidden, Invalid
from coalwatch.federation import queue
from coalwatch.mines.service import visible_mine
from coalwatch.orgs import repository as org_repository
from coalwatch.people import service as people
from coalwatch.reports import repository as report_repository
from coalwatch.reports import service as reports
from coalwatch.reports import signing
from coalwatch.reports.schemas import PeriodKind
from coalwatch.reports.signing import SIGN, SYSTEM, VIEW, WRITE
from coalwatch.storage.models import Mine, Org
from coalwatch.summaries import repository
from coalwatch.summaries.models import ReceivedSummary, SummaryRevision, SummarySignature
from coalwatch.summaries.schemas import (
    AlarmCount,
    ReceivedSummaryList,
    ReceivedSummaryOut,
    SummaryAlarm,
    SummaryContent,
    SummaryFault,
    SummaryReport,
)

#: the forward-queue kind of a signed summary
SUMMARY = "summary"


def kind_of(text: str) -> SummaryKind:
    try:
        return SummaryKind(text)
    except ValueError:
        raise Invalid(f"no summary {text!r}: {', '.join(k.value for k in SummaryKind)}") from None


def _days(kind: SummaryKind, period: str) -> tuple[date, date]:
    if kind is SummaryKind.ABNORMAL:
        day = reports.parse_day(period)
        return day, day
    return reports.period_days("month" if kind is SummaryKind.MONTH else "year", period)


def _within(ts: datetime | None, end: datetime) -> datetime | None:
    return ts if ts is not None and ts < end else None


def _tonnes(num: int, den: int) -> Decimal:
    return fraction_to_decimal(Fraction(num, den * 1000), 3)


def compute(
    session: Session,
    principal: Principal,
    mine: Mine,
    org: Org,
    kind: SummaryKind,
    period: str,
    now: datetime,
) -> SummaryContent:
    """The summary's content: production from the rollups (none in the abnormal report),
    the alarms and faults of the period with their handling as known now."""
    first, last = _days(kind, period)
    tz = ZoneInfo(mine.timezone)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    rows, total = [], None
    if kind is not SummaryKind.ABNORMAL:
        period_kind: PeriodKind = "month" if kind is SummaryKind.MONTH else "year"
        production = reports.mine_period(session, principal, mine.code, period_kind, period, now)
        rows, total = production.rows, production.total
    alarms = [
        SummaryAlarm(
            type=a.type,
            label=alarm_label(a.type),
            severity=a.severity,
            point=point,
            start=a.start,
            end=_within(a.end, end),
            value=a.value,
            threshold=a.threshold,
            state=a.state,
            acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
            handled_by=a.handled_by,
            handled_at=a.handled_at,
            result=a.result,
        )
        for a, point in report_repository.alarms_in(session, mine.id, start, end)
    ]
    found = report_repository.faults_in(session, mine.id, start, end)
    cuts = repository.reductions(
        session, [f.reduction_id for f, _ in found if f.reduction_id is not None]
    )
    faults = []
    reduction = Decimal(0)
    for f, point in found:
        cut = cuts.get(f.reduction_id) if f.reduction_id is not None else None
        tonnes = None if cut is None else _tonnes(cut.amount_kg_num, cut.amount_kg_den)
        reduction += tonnes or 0
        faults.append(
            SummaryFault(
                kind=f.kind,
                point=point,
                phenomenon=f.phenomenon,
                occurred_at=f.occurred_at,
                reported_at=f.reported_at,
                reported_by=f.reported_by,
                recovered_at=_within(f.recovered_at, end),
                result=f.result,
                reduction_t=tonnes,
            )
        )
    counts = Counter(a.type for a in alarms)
    handled = Counter(a.type for a in alarms if a.handled_at is not None)
    return SummaryContent(
        kind=kind.value,
        title=TITLES[kind],
        period=period,
        mine=mine.code,
        name=mine.name,
        org=org.code,
        org_name=org.name,
        first_day=first,
        last_day=last,
        timezone=mine.timezone,
        rows=rows,
        total=total,
        alarms=alarms,
        alarm_counts=[
            AlarmCount(type=t, label=alarm_label(t), count=n, handled=handled[t])
            for t, n in sorted(counts.items())
        ],
        faults=faults,
        alarms_handled=sum(handled.values()),
        faults_recovered=sum(1 for f in faults if f.recovered_at is not None),
        reduction_t=reduction,
    )


def _store(
    session: Session,
    principal: Principal,
    mine: Mine,
    org: Org,
    kind: SummaryKind,
    period: str,
    now: datetime,
    new_revision: bool,
) -> tuple[SummaryRevision, bool]:
    """The period's latest revision brought up to date (signing.bring_up_to_date)."""

    def make(number: int, text: str, digest: str) -> SummaryRevision:
        return SummaryRevision(
            mine_id=mine.id,
            kind=kind.value,
            period=period,
            revision=number,
            content=text,
            sha256=digest,
            generated_by=principal.name,
            generated_at=now,
        )

    return signing.bring_up_to_date(
        session,
        compute(session, principal, mine, org, kind, period, now),
        repository.latest(session, mine.id, kind.value, period),
        lambda latest: bool(repository.signatures(session, latest.id)),
        make,
        actor=principal.name,
        now=now,
        new_revision=new_revision,
        audited_as=("summary.revise", "summary", f"{mine.code}/{kind.value}/{period}"),
    )


def _report(
    session: Session,
    kind: SummaryKind,
    content: SummaryContent,
    revision: SummaryRevision | None,
    stale: bool,
    now: datetime,
) -> SummaryReport:
    sigs = [] if revision is None else repository.signatures(session, revision.id)
    return SummaryReport(
        **content.model_dump(),
        revision=0 if revision is None else revision.revision,
        sha256=signing.snapshot(content)[1] if revision is None else revision.sha256,
        generated_at=now if revision is None else revision.generated_at,
        generated_by=SYSTEM if revision is None else revision.generated_by,
        signatures=[signing.signature_out(s) for s in sigs],
        next_signer=None if revision is None else next_signer(kind, [Signer(s.role) for s in sigs]),
        submitted_at=None if revision is None else revision.submitted_at,
        stale=stale,
        provisional=revision is None,
    )


def _stored(
    session: Session, kind: SummaryKind, revision: SummaryRevision, stale: bool, now: datetime
) -> SummaryReport:
    content = SummaryContent.model_validate_json(revision.content)
    return _report(session, kind, content, revision, stale, now)


def _ended(mine: Mine, kind: SummaryKind, period: str, now: datetime) -> bool:
    return _days(kind, period)[1] < now.astimezone(ZoneInfo(mine.timezone)).date()


def summary(
    session: Session, principal: Principal, code: str, kind_text: str, period: str, now: datetime
) -> SummaryReport:
    """A summary: its latest revision (made or refreshed while unsigned); a period that
    has not ended is shown provisionally."""
    principal.require(VIEW)
    kind = kind_of(kind_text)
    mine, org = visible_mine(session, principal, code)
    if not _ended(mine, kind, period, now):
        content = compute(session, principal, mine, org, kind, period, now)
        return _report(session, kind, content, None, False, now)
    revision, stale = _store(session, principal, mine, org, kind, period, now, False)
    return _stored(session, kind, revision, stale, now)


def regenerate(
    session: Session, principal: Principal, code: str, kind_text: str, period: str, now: datetime
) -> SummaryReport:
    """Recompute an ended period: a change after signing yields the next revision."""
    if not (principal.has(WRITE) or principal.has(SIGN)):
        principal.require(SIGN)
    kind = kind_of(kind_text)
    mine, org = visible_mine(session, principal, code)
    if not _ended(mine, kind, period, now):
        raise Conflict(f"the period {period} has not ended in the mine's time zone")
    revision, _ = _store(session, principal, mine, org, kind, period, now, True)
    return _stored(session, kind, revision, False, now)


def sign(
    session: Session,
    principal: Principal,
    code: str,
    kind_text: str,
    period: str,
    role: Signer,
    now: datetime,
) -> SummaryReport:
    """Sign the latest revision in ``role``, in the kind's order; the last signature
    submits it upward 上报."""
    principal.require(SIGN)
    kind = kind_of(kind_text)
    mine, org = visible_mine(session, principal, code)
    if not _ended(mine, kind, period, now):
        raise Conflict(f"the period {period} has not ended: its summary cannot be signed yet")
    if role not in SIGNERS[kind]:
        raise Forbidden(
            N_("此报表不由%(signer)s签字"),
            {"role": role.value, "signers": [s.value for s in SIGNERS[kind]]},
            code="wrong_role",
            params={"signer": SIGNER_LABELS[role]},
            labels=("signer",),
        )
    key = f"{mine.code}/{kind.value}/{period}"
    revision = signing.sign_revision(
        session,
        principal,
        role,
        now,
        certified=lambda: people.require_certified(
            session, principal, org, mine, "sign_report", now
        ),
        latest=lambda: _store(session, principal, mine, org, kind, period, now, False),
        waiting=lambda revision: next_signer(
            kind, [Signer(s.role) for s in repository.signatures(session, revision.id)]
        ),
        signature=SummarySignature,
        audited_as=("summary.sign", "summary", key),
    )
    if role is SIGNERS[kind][-1]:
        _submit(session, principal, mine, revision, key, now)
    return _stored(session, kind, revision, False, now)


def _signature_dicts(sigs: list[SummarySignature]) -> list[dict[str, str]]:
    return [
        {
            "role": s.role,
            "signer": s.signer,
            "sha256": s.sha256,
            "signed_at": s.signed_at.isoformat(),
        }
        for s in sigs
    ]


def payload(
    mine: str,
    kind: str,
    period: str,
    revision: int,
    content: str,
    sha256: str,
    signatures: list[dict[str, str]],
    submitted_at: datetime,
) -> dict[str, object]:
    """A signed summary as it travels upward, content and signatures as signed."""
    return {
        "mine": mine,
        "kind": kind,
        "period": period,
        "revision": revision,
        "content": content,
        "sha256": sha256,
        "signatures": signatures,
        "submitted_at": submitted_at.isoformat(),
    }


def _submit(
    session: Session,
    principal: Principal,
    mine: Mine,
    revision: SummaryRevision,
    key: str,
    now: datetime,
) -> None:
    revision.submitted_at = now
    session.flush()
    queue.enqueue(
        session,
        SUMMARY,
        payload(
            mine.code,
            revision.kind,
            revision.period,
            revision.revision,
            revision.content,
            revision.sha256,
            _signature_dicts(repository.signatures(session, revision.id)),
            now,
        ),
        now,
    )
    audit.record(
        session,
        actor=principal.name,
        action="summary.submit",
        entity="summary",
        key=key,
        detail={"revision": revision.revision, "sha256": revision.sha256},
        at=now,
    )


def receive(
    session: Session,
    actor: str,
    center_id: int,
    mine: Mine,
    data: dict[str, object],
    now: datetime,
) -> None:
    """Keep a signed summary from below 已上报, once its SHA-256 and its signatures (all
    of its kind's, in order, over that hash) are checked against its content; relay it
    onward as it was signed."""
    try:
        kind = SummaryKind(str(data["kind"]))
        period, number = str(data["period"]), int(str(data["revision"]))
        content, digest = str(data["content"]), str(data["sha256"])
        submitted_at = datetime.fromisoformat(str(data["submitted_at"]))
        raw = data["signatures"]
        if not isinstance(raw, list):
            raise TypeError("signatures is not a list")
        signatures = [
            {
                "role": str(s["role"]),
                "signer": str(s["signer"]),
                "sha256": str(s["sha256"]),
                "signed_at": datetime.fromisoformat(str(s["signed_at"])).isoformat(),
            }
            for s in raw
        ]
        _days(kind, period)
        parsed = SummaryContent.model_validate_json(content)
    except (KeyError, ValueError, TypeError, Invalid) as exc:
        raise Invalid(f"malformed summary item: {exc}") from exc
    if submitted_at.tzinfo is None:
        raise Invalid("malformed summary item: submitted_at has no offset")
    if hashlib.sha256(content.encode("utf-8")).hexdigest() != digest:
        raise Invalid("the summary's content does not match its SHA-256")
    if [s["role"] for s in signatures] != [r.value for r in SIGNERS[kind]] or any(
        s["sha256"] != digest for s in signatures
    ):
        raise Invalid("the summary is not signed in full over its SHA-256")
    if parsed.mine != mine.code or parsed.kind != kind.value or parsed.period != period:
        raise Invalid("the summary's content names another mine or period")
    existing = repository.received(session, mine.id, kind.value, period, number)
    if existing is not None:
        if existing.sha256 == digest:
            return
        raise Conflict(
            f"summary {mine.code}/{kind}/{period} revision {number} came with another hash"
        )
    repository.add(
        session,
        ReceivedSummary(
            center_id=center_id,
            mine_id=mine.id,
            kind=kind.value,
            period=period,
            revision=number,
            content=content,
            sha256=digest,
            signatures=json.dumps(signatures, ensure_ascii=False),
            submitted_at=submitted_at,
            received_at=now,
        ),
    )
    audit.record(
        session,
        actor=actor,
        action="summary.receive",
        entity="summary",
        key=f"{mine.code}/{kind.value}/{period}",
        detail={"revision": number, "sha256": digest},
        at=now,
    )
    queue.enqueue(
        session,
        SUMMARY,
        payload(mine.code, kind.value, period, number, content, digest, signatures, submitted_at),
        now,
    )


def received(session: Session, principal: Principal, mine_code: str | None) -> ReceivedSummaryList:
    """The summaries received from below 已上报, newest first."""
    principal.require(VIEW)
    mines = {m.id: m for m, _ in org_repository.mines_under(session, principal.scope_path)}
    if mine_code is not None:
        mine, _ = visible_mine(session, principal, mine_code)
        mines = {mine.id: mine}
    return ReceivedSummaryList(
        items=[
            ReceivedSummaryOut(
                mine=mines[r.mine_id].code,
                kind=r.kind,
                period=r.period,
                revision=r.revision,
                sha256=r.sha256,
                signatures=json.loads(r.signatures),
                submitted_at=r.submitted_at,
                received_at=r.received_at,
                content=SummaryContent.model_validate_json(r.content),
            )
            for r in repository.received_of(session, list(mines))
        ]
    )
