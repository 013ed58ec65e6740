"""Violation and penalty records 违法行为记录 / 处罚决定 (``domain.penalties``).

Only a supervising unit above the mine records a penalty and its execution
(``orgs.authority``, ``region:penalty``); the fines are checked against the article's
ranges for each party (422 otherwise), the evidence must be the mine's own (its alarms,
fault records, station records) or a file kept with its SHA-256. Whoever sees the mine
with ``region:view`` sees its penalties; the reports sum them per mine over a period.
Every change is in the audit log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.alarms.models import Alarm
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import penalties as rules
from coalwatch.errors import N_, Conflict, Forbidden, Invalid, NotFound
from coalwatch.faults.models import Fault
from coalwatch.mines.service import visible_mine
from coalwatch.orgs import authority
from coalwatch.orgs.service import unit_of, visible_org
from coalwatch.penalties.models import Penalty, PenaltyEvidence
from coalwatch.penalties.schemas import (
    EvidenceIn,
    EvidenceOut,
    ExecutionIn,
    MineLine,
    PenaltyIn,
    PenaltyOut,
    PenaltyReport,
)
from coalwatch.storage.models import Mine, Org, Record, Station

DECIDE = "region:penalty"
VIEW = "region:view"
FEN = Decimal("0.01")
MAX_FILE_BYTES = 10 * 1024 * 1024
FILE_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})


def _fen(yuan: Decimal | None) -> int | None:
    return None if yuan is None else int(yuan / FEN)


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) * FEN


def _decision(p: Penalty) -> rules.Decision:
    return rules.Decision(
        serious=p.serious,
        enterprise_fine=Decimal(p.enterprise_fine_fen) * FEN,
        principal_fine=_yuan(p.principal_fine_fen),
        responsible_fine=_yuan(p.responsible_fine_fen),
        stop_for_rectification=p.stop_for_rectification,
        licence_held=p.licence_held,
    )


def _out(session: Session, p: Penalty, evidence: bool = False) -> PenaltyOut:
    mine = session.get_one(Mine, p.mine_id)
    org = session.get_one(Org, mine.org_id)
    unit = session.get_one(Org, p.unit_id)
    offence = rules.OFFENCE_BY_CODE[p.offence]
    items = []
    if evidence:
        items = [
            EvidenceOut(
                id=e.id,
                kind=e.kind,
                ref=e.ref,
                note=e.note,
                media_type=e.media_type,
                sha256=e.sha256,
                added_by=e.added_by,
                added_at=e.added_at,
            )
            for e in session.scalars(
                select(PenaltyEvidence)
                .where(PenaltyEvidence.penalty_id == p.id)
                .order_by(PenaltyEvidence.id)
            )
        ]
    return PenaltyOut(
        id=p.id,
        number=p.number,
        mine=mine.code,
        mine_name=mine.name,
        org=org.code,
        offence=p.offence,
        offence_label=offence.label,
        article=offence.article,
        manner=p.manner,
        manner_label=rules.MANNERS.get(p.manner) if p.manner else None,
        facts=p.facts,
        found_on=p.found_on,
        serious=p.serious,
        enterprise_fine=Decimal(p.enterprise_fine_fen) * FEN,
        principal_name=p.principal_name,
        principal_fine=_yuan(p.principal_fine_fen),
        responsible_name=p.responsible_name,
        responsible_fine=_yuan(p.responsible_fine_fen),
        total_fine=rules.total_fine(_decision(p)),
        stop_for_rectification=p.stop_for_rectification,
        licence_held=p.licence_held,
        decided_on=p.decided_on,
        unit=unit.code,
        unit_name=unit.name,
        decided_by=p.decided_by,
        created_at=p.created_at,
        status=p.status,
        paid_on=p.paid_on,
        carried_out_on=p.carried_out_on,
        execution_note=p.execution_note,
        executed_by=p.executed_by,
        executed_at=p.executed_at,
        evidence=items,
    )


def _today(mine: Mine, now: datetime) -> date:
    return now.astimezone(ZoneInfo(mine.timezone)).date()


def record_penalty(
    session: Session, principal: Principal, data: PenaltyIn, now: datetime
) -> PenaltyOut:
    """A penalty decision on a mine, with its evidence."""
    principal.require(DECIDE)
    mine, org = visible_mine(session, principal, data.mine)
    authority.require_decision(session, principal, DECIDE, org)
    offence = rules.OFFENCE_BY_CODE[data.offence]
    decision = rules.Decision(
        serious=data.serious,
        enterprise_fine=data.enterprise_fine,
        principal_fine=data.principal_fine,
        responsible_fine=data.responsible_fine,
        stop_for_rectification=data.stop_for_rectification,
        licence_held=data.licence_held,
    )
    problems = rules.decision_problems(offence, data.manner, decision)
    if data.serious and (data.principal_name is None or data.responsible_name is None):
        problems.append(N_("情节严重的，须写明主要负责人和直接责任人"))
    today = _today(mine, now)
    if data.decided_on > today or data.found_on > data.decided_on:
        problems.append(N_("发现日期不能晚于决定日期，决定日期不能晚于今天"))
    if problems:
        raise Invalid(
            N_("处罚决定不符合第十八条：%(problems)s"),
            {"problems": problems},
            params={"problems": "；".join(problems)},
        )
    if session.scalar(select(Penalty.id).where(Penalty.number == data.number)) is not None:
        raise Conflict(N_("文号 %(number)s 已使用"), params={"number": data.number})
    unit = unit_of(session, principal) or authority.deciding_unit(session, org)
    if unit is None:
        raise Forbidden(N_("本中心没有矿井之上的监管单位"), {"permission": DECIDE})
    penalty = Penalty(
        number=data.number,
        mine_id=mine.id,
        offence=data.offence,
        manner=data.manner,
        facts=data.facts,
        found_on=data.found_on,
        serious=data.serious,
        enterprise_fine_fen=_fen(data.enterprise_fine),
        principal_name=data.principal_name if data.serious else None,
        principal_fine_fen=_fen(data.principal_fine),
        responsible_name=data.responsible_name if data.serious else None,
        responsible_fine_fen=_fen(data.responsible_fine),
        stop_for_rectification=data.stop_for_rectification,
        licence_held=data.licence_held,
        decided_on=data.decided_on,
        unit_id=unit.id,
        decided_by=principal.name,
        created_at=now,
        status="decided",
    )
    session.add(penalty)
    session.flush()
    for item in data.evidence:
        _link(session, principal, penalty, mine, item, now)
    audit.record_change(
        session,
        actor=principal.name,
        action="penalty.record",
        key=str(penalty.id),
        data=data,
        at=now,
    )
    return _out(session, penalty, evidence=True)


def _link(
    session: Session,
    principal: Principal,
    penalty: Penalty,
    mine: Mine,
    item: EvidenceIn,
    now: datetime,
) -> PenaltyEvidence:
    """Evidence by reference, refused (422) unless it is the mine's own."""
    found = False
    if item.kind == "alarm" and item.ref.isdigit():
        alarm = session.get(Alarm, int(item.ref))
        found = alarm is not None and alarm.mine_id == mine.id
    elif item.kind == "fault" and item.ref.isdigit():
        fault = session.get(Fault, int(item.ref))
        found = fault is not None and fault.mine_id == mine.id
    elif item.kind == "record":
        station, _, seq = item.ref.partition(":")
        if seq.isdigit():
            found = (
                session.scalar(
                    select(Record.id)
                    .join(Station, Station.id == Record.station_id)
                    .where(
                        Record.mine_id == mine.id, Station.code == station, Record.seq == int(seq)
                    )
                )
                is not None
            )
    if not found:
        raise Invalid(
            N_("证据 %(kind)s %(ref)s 不是本矿井的"),
            {"kind": item.kind, "ref": item.ref},
            params={"kind": item.kind, "ref": item.ref},
        )
    evidence = PenaltyEvidence(
        penalty_id=penalty.id,
        kind=item.kind,
        ref=item.ref,
        note=item.note,
        added_by=principal.name,
        added_at=now,
    )
    session.add(evidence)
    session.flush()
    return evidence


def _decidable(
    session: Session, principal: Principal, penalty_id: int
) -> tuple[Penalty, Mine, Org]:
    penalty = session.get(Penalty, penalty_id)
    if penalty is None:
        raise NotFound(f"penalty {penalty_id} not found")
    mine = session.get_one(Mine, penalty.mine_id)
    org = session.get_one(Org, mine.org_id)
    principal.require_visible(org.path, f"penalty {penalty_id}")
    return penalty, mine, org


def add_evidence(
    session: Session, principal: Principal, penalty_id: int, data: EvidenceIn, now: datetime
) -> PenaltyOut:
    principal.require(DECIDE)
    penalty, mine, org = _decidable(session, principal, penalty_id)
    authority.require_decision(session, principal, DECIDE, org)
    evidence = _link(session, principal, penalty, mine, data, now)
    audit.record(
        session,
        actor=principal.name,
        action="penalty.evidence",
        entity="penalty",
        key=str(penalty.id),
        detail={"evidence": evidence.id, "kind": data.kind, "ref": data.ref},
        at=now,
    )
    return _out(session, penalty, evidence=True)


def attach(
    session: Session,
    principal: Principal,
    penalty_id: int,
    body: bytes,
    media_type: str,
    filename: str | None,
    now: datetime,
) -> PenaltyOut:
    """A picture or document (PDF, JPEG or PNG, at most 10 MB) kept with its SHA-256,
    which the audit log holds too."""
    principal.require(DECIDE)
    penalty, _, org = _decidable(session, principal, penalty_id)
    authority.require_decision(session, principal, DECIDE, org)
    media_type = media_type.split(";")[0].strip().lower()
    if media_type not in FILE_TYPES:
        raise Invalid(f"an attachment is one of {sorted(FILE_TYPES)}, not {media_type!r}")
    if not body or len(body) > MAX_FILE_BYTES:
        raise Invalid(f"an attachment has 1 to {MAX_FILE_BYTES} bytes, not {len(body)}")
    digest = hashlib.sha256(body).hexdigest()
    evidence = PenaltyEvidence(
        penalty_id=penalty.id,
        kind="attachment",
        ref=(filename or "")[:200] or f"attachment-{digest[:12]}",
        content=body,
        media_type=media_type,
        sha256=digest,
        added_by=principal.name,
        added_at=now,
    )
    session.add(evidence)
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="penalty.attachment",
        entity="penalty",
        key=str(penalty.id),
        detail={
            "evidence": evidence.id,
            "media_type": media_type,
            "bytes": len(body),
            "sha256": digest,
        },
        at=now,
    )
    return _out(session, penalty, evidence=True)


def attachment(
    session: Session, principal: Principal, penalty_id: int, evidence_id: int
) -> tuple[bytes, str, str]:
    principal.require(VIEW)
    penalty, _, _ = _decidable(session, principal, penalty_id)
    evidence = session.get(PenaltyEvidence, evidence_id)
    if (
        evidence is None
        or evidence.penalty_id != penalty.id
        or evidence.content is None
        or evidence.media_type is None
    ):
        raise NotFound(f"attachment {evidence_id} of penalty {penalty_id} not found")
    return evidence.content, evidence.media_type, evidence.ref


def execute(
    session: Session, principal: Principal, penalty_id: int, data: ExecutionIn, now: datetime
) -> PenaltyOut:
    """Record the execution: the fines paid, the orders (stop, licence held) carried out.
    The record is executed when the fines are paid and the orders, if any, carried out."""
    principal.require(DECIDE)
    penalty, mine, org = _decidable(session, principal, penalty_id)
    authority.require_decision(session, principal, DECIDE, org)
    if penalty.status == "executed":
        raise Conflict(N_("处罚决定 %(number)s 已执行完毕"), params={"number": penalty.number})
    if data.paid_on is None and data.carried_out_on is None:
        raise Invalid(N_("须填写缴款日期或执行日期"), {"field": "paid_on"})
    ordered = penalty.stop_for_rectification or penalty.licence_held
    if data.carried_out_on is not None and not ordered:
        raise Invalid(N_("该决定没有责令停产整顿或暂扣许可证"), {"field": "carried_out_on"})
    today = _today(mine, now)
    for field, day, before in (
        ("paid_on", data.paid_on, penalty.paid_on),
        ("carried_out_on", data.carried_out_on, penalty.carried_out_on),
    ):
        if day is None:
            continue
        if before is not None:
            raise Conflict(f"{field} is recorded already ({before})")
        if not penalty.decided_on <= day <= today:
            raise Invalid(N_("执行日期须在决定日期与今天之间"), {"field": field})
    if data.paid_on is not None:
        penalty.paid_on = data.paid_on
    if data.carried_out_on is not None:
        penalty.carried_out_on = data.carried_out_on
    if data.note:
        penalty.execution_note = "\n".join(filter(None, [penalty.execution_note, data.note]))
    penalty.executed_by, penalty.executed_at = principal.name, now
    if penalty.paid_on is not None and (not ordered or penalty.carried_out_on is not None):
        penalty.status = "executed"
    audit.record_change(
        session,
        actor=principal.name,
        action="penalty.execute",
        key=str(penalty.id),
        data=data,
        at=now,
    )
    return _out(session, penalty, evidence=True)


def penalty(session: Session, principal: Principal, penalty_id: int) -> PenaltyOut:
    principal.require(VIEW)
    found, _, _ = _decidable(session, principal, penalty_id)
    return _out(session, found, evidence=True)


def _query(
    session: Session,
    principal: Principal,
    org_code: str | None,
    mine_code: str | None,
    start: date | None,
    end: date | None,
    offence: str | None = None,
    status: str | None = None,
) -> list[Penalty]:
    principal.require(VIEW)
    query = (
        select(Penalty)
        .join(Mine, Mine.id == Penalty.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .order_by(Penalty.decided_on.desc(), Penalty.id.desc())
    )
    path = principal.scope_path
    if org_code:
        path = visible_org(session, principal, org_code).path
    if path is not None:
        query = query.where(Org.path.startswith(path, autoescape=True))
    if mine_code:
        mine, _ = visible_mine(session, principal, mine_code)
        query = query.where(Penalty.mine_id == mine.id)
    if start is not None:
        query = query.where(Penalty.decided_on >= start)
    if end is not None:
        query = query.where(Penalty.decided_on <= end)
    if offence:
        query = query.where(Penalty.offence == offence)
    if status:
        query = query.where(Penalty.status == status)
    return list(session.scalars(query))


def list_penalties(
    session: Session,
    principal: Principal,
    org_code: str | None = None,
    mine_code: str | None = None,
    start: date | None = None,
    end: date | None = None,
    offence: str | None = None,
    status: str | None = None,
) -> list[PenaltyOut]:
    """The penalties decided in [start, end] (days, both included) in scope."""
    found = _query(session, principal, org_code, mine_code, start, end, offence, status)
    return [_out(session, p) for p in found]


def report(
    session: Session, principal: Principal, org_code: str | None, start: date, end: date
) -> PenaltyReport:
    """Per mine: the penalties decided in [start, end], their fines, what is paid."""
    if end < start:
        raise Invalid(N_("结束日期不能早于开始日期"))
    found = _query(session, principal, org_code, None, start, end)
    by_mine: dict[int, list[Penalty]] = {}
    for p in found:
        by_mine.setdefault(p.mine_id, []).append(p)
    lines = []
    for mine_id, items in by_mine.items():
        mine = session.get_one(Mine, mine_id)
        lines.append(_line(mine.code, mine.name, items))
    lines.sort(key=lambda line: line.mine)
    return PenaltyReport(
        org=org_code, start=start, end=end, mines=lines, total=_line("", "合计", found)
    )


def _line(code: str, name: str, items: Sequence[Penalty]) -> MineLine:
    zero = Decimal(0)

    def fen(values: list[int | None]) -> Decimal:
        return Decimal(sum(v or 0 for v in values)) * FEN

    enterprise = fen([p.enterprise_fine_fen for p in items])
    principal = fen([p.principal_fine_fen for p in items])
    responsible = fen([p.responsible_fine_fen for p in items])
    total = enterprise + principal + responsible
    paid = sum((rules.total_fine(_decision(p)) for p in items if p.paid_on), zero)
    return MineLine(
        mine=code,
        name=name,
        count=len(items),
        serious=sum(1 for p in items if p.serious),
        executed=sum(1 for p in items if p.status == "executed"),
        enterprise=enterprise,
        principal=principal,
        responsible=responsible,
        total=total,
        paid=paid,
        unpaid=total - paid,
    )
