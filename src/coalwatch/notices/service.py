"""Rectification notices 整改通知书 and instructions 指令: issued by a supervising unit,
acknowledged and answered by the mine, a notice verified (closed or sent back) by the
issuer (``domain.notices`` holds the rules).

Who: only a supervising unit at or above the mine issues and verifies
(``orgs.authority``: a mine's own staff never issue to themselves, a unit outside the
mine's branch never issues to it); the mine's staff with ``production:answer``
acknowledge and answer.

Between centers a document travels like the other decisions of a supervising unit: the
issuing center queues it for the downstream center that holds the mine
(``federation.downward.publish_decision``, delivered in the signed answer to the
downstream's signed poll), and a sending back or closing follows the same way. The
mine's acknowledgement and answer go up through the forward queue
(``federation.queue.enqueue_config``) to the center the document came from.

Overdue 逾期: ``notice_overdue`` / ``instruction_overdue`` at the center that holds the
mine (a mine held below is alarmed there and the alarm is mirrored up), one per document
and stage, ending as the mine acknowledges and answers.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coalwatch.adapters.documents import render_html, render_pdf
from coalwatch.alarms import service as alarms
from coalwatch.alarms.models import Alarm
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain import notices as rules
from coalwatch.domain.alarms import LABELS, AlarmType, detail_params, local_minute
from coalwatch.errors import N_, Conflict, Forbidden, Invalid, NotFound
from coalwatch.faults.models import Fault
from coalwatch.federation.downward import publish_decision
from coalwatch.federation.queue import enqueue_config
from coalwatch.mines.service import visible_mine
from coalwatch.notices.models import (
    Notice,
    NoticeAttachment,
    NoticeLink,
    NoticeRecipient,
    NoticeSequence,
)
from coalwatch.notices.schemas import (
    AckIn,
    AnswerIn,
    AttachmentIn,
    AttachmentOut,
    IssuedCopy,
    IssueIn,
    LinkOut,
    NoticeOut,
    RecipientOut,
    Reply,
    ReturnIn,
    Verdict,
    VerifyIn,
)
from coalwatch.orgs.authority import deciding_unit, refusal, require_decision
from coalwatch.orgs.repository import mines_under
from coalwatch.orgs.service import unit_of, visible_org
from coalwatch.storage.models import Mine, Org
from coalwatch.wire.batches import describe_error

#: who issues (and, for a notice, verifies) each kind
ISSUE: dict[str, str] = {"notice": "region:notice", "instruction": "region:instruction"}
#: who acknowledges and answers at the mine
ANSWER = "production:answer"
#: who sees the documents: the supervising side, or the mine's
VIEWERS = ("region:view", "production:view")
#: the decisions that travel down, and the replies that come up
ISSUED_DOWN = "notice.issue"
VERDICT_DOWN = "notice.verdict"
ACK_UP = "notice.ack"
ANSWER_UP = "notice.answer"
OVERDUE_TYPES = {
    rules.Kind.NOTICE: AlarmType.NOTICE_OVERDUE,
    rules.Kind.INSTRUCTION: AlarmType.INSTRUCTION_OVERDUE,
}


# ---- reading ------------------------------------------------------------------------------


def _require_viewer(principal: Principal) -> None:
    if not any(principal.has(p) for p in VIEWERS):
        principal.require(VIEWERS[0])


def _notice(session: Session, number: str) -> Notice:
    notice = session.scalars(select(Notice).where(Notice.number == number)).first()
    if notice is None:
        raise NotFound(f"document {number!r} not found")
    return notice


def _visible_recipients(
    session: Session, principal: Principal, notice: Notice
) -> list[tuple[NoticeRecipient, Mine, Org]]:
    rows = session.execute(
        select(NoticeRecipient, Mine, Org)
        .join(Mine, Mine.id == NoticeRecipient.mine_id)
        .join(Org, Org.id == Mine.org_id)
        .where(NoticeRecipient.notice_id == notice.id)
        .order_by(Mine.code)
    ).all()
    return [(r, m, o) for r, m, o in rows if principal.sees(o.path)]


def _visible_notice(session: Session, principal: Principal, number: str) -> Notice:
    """A document the principal sees: one of its mines is in the principal's subtree."""
    notice = _notice(session, number)
    if not _visible_recipients(session, principal, notice):
        raise NotFound(f"document {number!r} not found")
    return notice


def _attachment_out(a: NoticeAttachment) -> AttachmentOut:
    return AttachmentOut(
        id=a.id,
        name=a.name,
        media_type=a.media_type,
        size=a.size,
        sha256=a.sha256,
        added_by=a.added_by,
        added_at=a.added_at,
    )


def _out(session: Session, principal: Principal, notice: Notice, now: datetime) -> NoticeOut:
    attachments = list(
        session.scalars(
            select(NoticeAttachment)
            .where(NoticeAttachment.notice_id == notice.id)
            .order_by(NoticeAttachment.id)
        )
    )
    links = session.scalars(
        select(NoticeLink).where(NoticeLink.notice_id == notice.id).order_by(NoticeLink.id)
    )
    org = None if notice.target_org_id is None else session.get_one(Org, notice.target_org_id)
    recipients = []
    for r, mine, _ in _visible_recipients(session, principal, notice):
        stages = rules.overdue(rules.State(r.state), rules.Due(r.ack_due, r.deadline), now)
        recipients.append(
            RecipientOut(
                mine=mine.code,
                mine_name=mine.name,
                state=r.state,
                ack_due=r.ack_due,
                deadline=r.deadline,
                overdue=sorted(stages),
                acknowledged_by=r.acknowledged_by,
                acknowledged_at=r.acknowledged_at,
                passed_to=r.passed_to,
                answer=r.answer,
                answered_by=r.answered_by,
                answered_at=r.answered_at,
                verified_by=r.verified_by,
                verified_at=r.verified_at,
                verdict_note=r.verdict_note,
                returns=r.returns,
                attachments=[_attachment_out(a) for a in attachments if a.recipient_id == r.id],
            )
        )
    return NoticeOut(
        number=notice.number,
        kind=notice.kind,
        title=notice.title,
        problem=notice.problem,
        measures=notice.measures,
        issuer_unit=notice.issuer_unit,
        issued_by=notice.issued_by,
        issued_at=notice.issued_at,
        ack_hours=notice.ack_hours,
        deadline=notice.deadline,
        org=None if org is None else org.code,
        origin=notice.origin,
        cites=[LinkOut(kind=link.kind, ref=link.ref, label=link.label) for link in links],
        attachments=[_attachment_out(a) for a in attachments if a.recipient_id is None],
        recipients=recipients,
    )


def get_notice(session: Session, principal: Principal, number: str, now: datetime) -> NoticeOut:
    _require_viewer(principal)
    return _out(session, principal, _visible_notice(session, principal, number), now)


def list_notices(
    session: Session,
    principal: Principal,
    now: datetime,
    *,
    kind: str | None = None,
    mine: str | None = None,
    org: str | None = None,
    state: str | None = None,
    open_only: bool = False,
    overdue_only: bool = False,
    limit: int = 500,
) -> list[NoticeOut]:
    """The documents of the mines the principal sees (newest first); with ``mine``, ``org``
    or ``state``, those of that mine, of the mines under that org, in that state at a
    mine; ``open_only``: waiting for a mine or for verification; ``overdue_only``:
    overdue at a mine now."""
    _require_viewer(principal)
    query = (
        select(Notice.id)
        .join(NoticeRecipient, NoticeRecipient.notice_id == Notice.id)
        .join(Mine, Mine.id == NoticeRecipient.mine_id)
        .join(Org, Org.id == Mine.org_id)
    )
    if principal.scope_path is not None:
        query = query.where(Org.path.startswith(principal.scope_path))
    if kind is not None:
        query = query.where(Notice.kind == kind)
    if mine is not None:
        query = query.where(Mine.id == visible_mine(session, principal, mine)[0].id)
    if org is not None:
        query = query.where(Org.path.startswith(visible_org(session, principal, org).path))
    if state is not None:
        query = query.where(NoticeRecipient.state == state)
    if open_only or overdue_only:
        query = query.where(NoticeRecipient.state != rules.State.CLOSED)
    if overdue_only:
        query = query.where(
            NoticeRecipient.state.in_(list(rules.OPEN_AT_MINE)),
            (NoticeRecipient.deadline <= now)
            | ((NoticeRecipient.state == rules.State.ISSUED) & (NoticeRecipient.ack_due <= now)),
        )
    ids = sorted(set(session.scalars(query)), reverse=True)[:limit]
    return [_out(session, principal, session.get_one(Notice, i), now) for i in ids]


@dataclass(frozen=True, slots=True)
class MineCounts:
    """A mine's documents still open, and how many of them are overdue."""

    open: int
    overdue: int


def open_counts(session: Session, mine_ids: list[int], now: datetime) -> dict[int, MineCounts]:
    """Per mine: the documents not closed there, and those overdue now (region pages)."""
    if not mine_ids:
        return {}
    rows = session.execute(
        select(NoticeRecipient.mine_id, NoticeRecipient.state, NoticeRecipient.ack_due)
        .add_columns(NoticeRecipient.deadline)
        .where(
            NoticeRecipient.mine_id.in_(mine_ids),
            NoticeRecipient.state != rules.State.CLOSED,
        )
    ).all()
    out: dict[int, MineCounts] = {}
    for mine_id, state, ack_due, deadline in rows:
        late = bool(rules.overdue(rules.State(state), rules.Due(ack_due, deadline), now))
        before = out.get(mine_id, MineCounts(0, 0))
        out[mine_id] = MineCounts(before.open + 1, before.overdue + late)
    return out


def open_counts_by_code(session: Session, codes: list[str], now: datetime) -> dict[str, MineCounts]:
    """``open_counts`` keyed by the mines' codes."""
    ids = dict(session.execute(select(Mine.id, Mine.code).where(Mine.code.in_(codes))).all())
    return {ids[i]: c for i, c in open_counts(session, list(ids), now).items()}


def attachment(
    session: Session, principal: Principal, number: str, attachment_id: int
) -> NoticeAttachment:
    _require_viewer(principal)
    notice = _visible_notice(session, principal, number)
    found = session.get(NoticeAttachment, attachment_id)
    if found is None or found.notice_id != notice.id:
        raise NotFound(f"attachment {attachment_id} of {number!r} not found")
    if found.recipient_id is not None:
        seen = {r.id for r, _, _ in _visible_recipients(session, principal, notice)}
        if found.recipient_id not in seen:
            raise NotFound(f"attachment {attachment_id} of {number!r} not found")
    return found


# ---- issuing ------------------------------------------------------------------------------


def _targets(session: Session, principal: Principal, data: IssueIn) -> tuple[list[Mine], Org]:
    """The mines a document goes to, and the org whose supervising unit decides for them
    (the mine's, or the instruction's org)."""
    if data.mine is not None:
        mine, org = visible_mine(session, principal, data.mine)
        return [mine], org
    assert data.org is not None
    org = visible_org(session, principal, data.org)
    mines = [mine for mine, _ in mines_under(session, org.path)]
    if not mines:
        raise Invalid(f"org {data.org!r} holds no mine to instruct")
    return mines, org


def _issuer(session: Session, principal: Principal, permission: str, org: Org) -> Org:
    """The unit that issues: the caller's own (a supervising unit), or for a caller of the
    whole tree the nearest supervising unit above the target."""
    own = unit_of(session, principal)
    unit = own if own is not None else deciding_unit(session, org)
    if unit is None:
        raise refusal(permission, None)
    return unit


def _cite(
    session: Session, mines: list[Mine], kind: str, ref: str | None, label: str | None
) -> NoticeLink:
    """A link checked against what it names: an alarm or fault of one of the mines."""
    ids = {m.id for m in mines}
    if kind == "alarm":
        alarm = session.get(Alarm, int(ref or 0))
        if alarm is None or alarm.mine_id not in ids:
            raise Invalid(f"alarm {ref} is not an alarm of the mine")
        text = f"{LABELS.get(AlarmType(alarm.type), alarm.type)} #{alarm.id}"
        text += f" {alarm.start.isoformat()}"
        if alarm.value:
            text += f" {alarm.value}"
        return NoticeLink(kind=kind, ref=ref, label=label or text)
    if kind == "fault":
        fault = session.get(Fault, int(ref or 0))
        if fault is None or fault.mine_id not in ids:
            raise Invalid(f"fault {ref} is not a fault of the mine")
        text = f"故障 #{fault.id} {fault.occurred_at.isoformat()} {fault.phenomenon}"
        return NoticeLink(kind=kind, ref=ref, label=label or text[:2000])
    return NoticeLink(kind=kind, ref=ref, label=label or "")


def _number(session: Session, unit: Org, kind: rules.Kind, year: int) -> str:
    """The next number 文号 of the unit's series (kind, year). The series' counter row is
    made on first use from the numbers already given, then counted up: its row lock (the
    write lock on SQLite) makes a document issued at the same time wait for this one's
    transaction and take the number after it."""
    prefix = rules.number(unit.code, kind, year, 0)[:-3]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(NoticeSequence)
        .values(prefix=prefix, last=_highest(session, prefix))
        .on_conflict_do_nothing(index_elements=[NoticeSequence.prefix])
    )
    while True:
        seq = session.execute(
            update(NoticeSequence)
            .where(NoticeSequence.prefix == prefix)
            .values(last=NoticeSequence.last + 1)
            .returning(NoticeSequence.last)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        number = rules.number(unit.code, kind, year, seq)
        # a number may already be taken by a document received from the upstream center
        if session.scalar(select(func.count()).where(Notice.number == number)) == 0:
            return number


def _highest(session: Session, prefix: str) -> int:
    """The highest sequence of the series among the documents held (0: none)."""
    numbers = session.scalars(
        select(Notice.number).where(Notice.number.startswith(prefix, autoescape=True))
    )
    return max((int(n[len(prefix) :]) for n in numbers if n[len(prefix) :].isdigit()), default=0)


def _attach(
    session: Session,
    notice: Notice,
    recipient: NoticeRecipient | None,
    files: list[AttachmentIn],
    by: str,
    now: datetime,
) -> list[dict[str, str]]:
    shown = []
    for f in files:
        content = f.content()
        digest = hashlib.sha256(content).hexdigest()
        session.add(
            NoticeAttachment(
                notice_id=notice.id,
                recipient_id=None if recipient is None else recipient.id,
                name=f.name,
                media_type=f.media_type,
                size=len(content),
                sha256=digest,
                content=content,
                added_by=by,
                added_at=now,
            )
        )
        shown.append({"name": f.name, "sha256": digest})
    session.flush()
    return shown


def issue(session: Session, principal: Principal, data: IssueIn, now: datetime) -> NoticeOut:
    """Issue a notice to a mine, or an instruction to a mine or the mines of an org."""
    kind = rules.Kind(data.kind)
    permission = ISSUE[kind]
    mines, org = _targets(session, principal, data)
    for mine in mines:
        require_decision(session, principal, permission, session.get_one(Org, mine.org_id))
    require_decision(session, principal, permission, org)
    unit = _issuer(session, principal, permission, org)
    problem = rules.check_times(now, data.ack_hours, data.deadline)
    if problem is not None:
        raise Invalid(problem)
    links = [_cite(session, mines, c.kind, c.ref, c.label) for c in data.cites]
    tz = ZoneInfo(mines[0].timezone)
    notice = Notice(
        kind=kind.value,
        number=_number(session, unit, kind, now.astimezone(tz).year),
        title=data.title,
        problem=data.problem,
        measures=data.measures,
        issuer_org_id=unit.id,
        issuer_unit=f"{unit.code} {unit.name}",
        issued_by=principal.name,
        issued_at=now,
        ack_hours=data.ack_hours,
        deadline=data.deadline,
        target_org_id=org.id if data.org is not None else None,
        origin=None,
    )
    session.add(notice)
    session.flush()
    for link in links:
        link.notice_id = notice.id
        session.add(link)
    recipients = []
    for mine in mines:
        recipient = NoticeRecipient(
            notice_id=notice.id,
            mine_id=mine.id,
            state=rules.State.ISSUED.value,
            ack_due=now + timedelta(hours=data.ack_hours),
            deadline=data.deadline,
            returns=0,
        )
        session.add(recipient)
        recipients.append((recipient, mine))
    files = _attach(session, notice, None, data.attachments, principal.name, now)
    audit.record(
        session,
        actor=principal.name,
        action=f"{kind.value}.issue",
        entity=kind.value,
        key=notice.number,
        detail={
            "title": data.title,
            "unit": notice.issuer_unit,
            "mines": [m.code for m in mines],
            "org": data.org,
            "deadline": data.deadline.isoformat(),
            "ack_hours": data.ack_hours,
            "cites": [{"kind": link.kind, "ref": link.ref} for link in links],
            "attachments": files,
        },
        at=now,
    )
    for recipient, mine in recipients:
        _send_down(
            session, notice, recipient, mine, ISSUED_DOWN, _copy(session, notice, recipient, mine)
        )
    return _out(session, principal, notice, now)


def _copy(
    session: Session, notice: Notice, recipient: NoticeRecipient, mine: Mine
) -> dict[str, Any]:
    """The document as it travels down to the center that holds the mine."""
    files = session.scalars(
        select(NoticeAttachment).where(
            NoticeAttachment.notice_id == notice.id, NoticeAttachment.recipient_id.is_(None)
        )
    )
    links = session.scalars(select(NoticeLink).where(NoticeLink.notice_id == notice.id))
    return IssuedCopy(
        kind=notice.kind,
        mine=mine.code,
        title=notice.title,
        problem=notice.problem,
        measures=notice.measures,
        issuer_unit=notice.issuer_unit,
        issued_by=notice.issued_by,
        issued_at=notice.issued_at,
        ack_hours=notice.ack_hours,
        ack_due=recipient.ack_due,
        deadline=recipient.deadline,
        cites=[LinkOut(kind=link.kind, ref=link.ref, label=link.label) for link in links],
        attachments=[
            AttachmentIn(
                name=f.name,
                media_type=f.media_type,
                content_b64=base64.b64encode(f.content).decode(),
            )
            for f in files
        ],
    ).model_dump(mode="json")


def _send_down(
    session: Session,
    notice: Notice,
    recipient: NoticeRecipient,
    mine: Mine,
    kind: str,
    data: dict[str, Any],
) -> None:
    """To the downstream center that holds the mine (none: nothing to send)."""
    if mine.managed_by_center_id is None:
        return
    publish_decision(
        session,
        mine,
        kind,
        {"key": notice.number, "data": data},
        now=recipient.verified_at or notice.issued_at,
        decided_by=recipient.verified_by or notice.issued_by,
        unit=notice.issuer_unit,
    )


# ---- at the mine --------------------------------------------------------------------------


def _recipient(
    session: Session, principal: Principal, number: str, mine_code: str | None
) -> tuple[Notice, NoticeRecipient, Mine]:
    notice = _visible_notice(session, principal, number)
    seen = _visible_recipients(session, principal, notice)
    if mine_code is not None:
        chosen = [(r, m) for r, m, _ in seen if m.code == mine_code]
        if not chosen:
            raise NotFound(f"document {number!r} was not sent to mine {mine_code!r}")
    else:
        chosen = [(r, m) for r, m, _ in seen]
        if len(chosen) > 1:
            raise Invalid(f"document {number!r} went to several mines: say which (mine)")
    recipient, mine = chosen[0]
    return notice, recipient, mine


def _state_conflict(notice: Notice, recipient: NoticeRecipient, act: str) -> Conflict:
    label = rules.STATE_LABELS[rules.State(recipient.state)]
    return Conflict(
        N_("%(number)s 当前状态为%(state)s，不能%(act)s"),
        {"number": notice.number, "state": recipient.state},
        params={"number": notice.number, "state": label, "act": act},
        labels={"state", "act"},
    )


def _at_mine(
    session: Session,
    principal: Principal,
    number: str,
    mine_code: str | None,
    may: Callable[[rules.State], bool],
    act: str,
) -> tuple[Notice, NoticeRecipient, Mine]:
    """The document at the mine a mine's user acts on, if its state allows ``act``."""
    principal.require(ANSWER)
    notice, recipient, mine = _recipient(session, principal, number, mine_code)
    if not may(rules.State(recipient.state)):
        raise _state_conflict(notice, recipient, act)
    return notice, recipient, mine


def _record(
    session: Session,
    notice: Notice,
    recipient: NoticeRecipient,
    mine: Mine,
    actor: str,
    act: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    """Audit a step of the document at the mine, and judge what is overdue after it."""
    audit.record(
        session,
        actor=actor,
        action=f"{notice.kind}.{act}",
        entity=notice.kind,
        key=notice.number,
        detail={"mine": mine.code, **detail},
        at=now,
    )
    _judge(session, notice, recipient, mine, now)


def acknowledge(
    session: Session, principal: Principal, number: str, data: AckIn, now: datetime
) -> NoticeOut:
    """签收: the mine's duty operator acknowledges the document, and whom it passed it to."""
    notice, recipient, mine = _at_mine(
        session, principal, number, data.mine, rules.may_acknowledge, N_("办理签收")
    )
    reply = Reply(mine=mine.code, by=principal.name, at=now, passed_to=data.passed_to)
    _acknowledged(session, notice, recipient, reply, now)
    detail = {"passed_to": data.passed_to}
    _record(session, notice, recipient, mine, principal.name, "ack", detail, now)
    _reply_up(session, notice, ACK_UP, reply, now)
    return _out(session, principal, notice, now)


def _acknowledged(
    session: Session, notice: Notice, recipient: NoticeRecipient, reply: Reply, now: datetime
) -> None:
    recipient.state = rules.State.ACKNOWLEDGED.value
    recipient.acknowledged_by, recipient.acknowledged_at = reply.by, reply.at
    recipient.passed_to = reply.passed_to
    session.flush()


def answer(
    session: Session, principal: Principal, number: str, data: AnswerIn, now: datetime
) -> NoticeOut:
    """反馈: the mine answers with what it did (and attachments)."""
    notice, recipient, mine = _at_mine(
        session, principal, number, data.mine, rules.may_answer, N_("办理反馈")
    )
    reply = Reply(
        mine=mine.code, by=principal.name, at=now, answer=data.answer, attachments=data.attachments
    )
    files = _answered(session, notice, recipient, reply, now)
    detail = {"answer": data.answer, "attachments": files}
    _record(session, notice, recipient, mine, principal.name, "answer", detail, now)
    _reply_up(session, notice, ANSWER_UP, reply, now)
    return _out(session, principal, notice, now)


def _answered(
    session: Session, notice: Notice, recipient: NoticeRecipient, reply: Reply, now: datetime
) -> list[dict[str, str]]:
    recipient.state = rules.after_answer(rules.Kind(notice.kind)).value
    recipient.answer, recipient.answered_by, recipient.answered_at = (
        reply.answer,
        reply.by,
        reply.at,
    )
    return _attach(session, notice, recipient, reply.attachments, reply.by, now)


def _reply_up(session: Session, notice: Notice, op: str, reply: Reply, now: datetime) -> None:
    """A document that came from the upstream is answered there too."""
    if notice.origin is None:
        return
    enqueue_config(session, op, notice.number, reply.model_dump(mode="json"), now)


# ---- at the issuer ------------------------------------------------------------------------


def _require_issuer(
    session: Session, principal: Principal, notice: Notice, mine: Mine, act: str
) -> None:
    if notice.origin is not None:
        raise Forbidden(
            N_("%(number)s 由上级单位 %(unit)s 下发，由其%(act)s"),
            {"number": notice.number, "unit": notice.origin},
            params={"number": notice.number, "unit": notice.origin, "act": act},
            labels={"act"},
        )
    require_decision(session, principal, ISSUE[notice.kind], session.get_one(Org, mine.org_id))


def _answered_notice(
    session: Session, principal: Principal, number: str, mine_code: str | None, act: str
) -> tuple[Notice, NoticeRecipient, Mine]:
    """The answered notice at the mine its issuer judges (``act``)."""
    principal.require(ISSUE[rules.Kind.NOTICE])
    notice, recipient, mine = _recipient(session, principal, number, mine_code)
    _require_issuer(session, principal, notice, mine, act)
    if not rules.may_verify(rules.Kind(notice.kind), rules.State(recipient.state)):
        raise _state_conflict(notice, recipient, act)
    return notice, recipient, mine


def verify(
    session: Session, principal: Principal, number: str, data: VerifyIn, now: datetime
) -> NoticeOut:
    """验收: the issuer finds the rectification done and closes the notice at the mine."""
    notice, recipient, mine = _answered_notice(
        session, principal, number, data.mine, N_("办理验收")
    )
    recipient.state = rules.State.CLOSED.value
    return _verdict(session, principal, notice, recipient, mine, "verify", data.note, now)


def send_back(
    session: Session, principal: Principal, number: str, data: ReturnIn, now: datetime
) -> NoticeOut:
    """退回: the rectification is not done; the mine answers again (by a new deadline)."""
    notice, recipient, mine = _answered_notice(
        session, principal, number, data.mine, N_("办理退回")
    )
    if data.deadline is not None:
        if data.deadline.tzinfo is None:
            raise Invalid("deadline needs a UTC offset")
        problem = rules.check_times(now, notice.ack_hours, data.deadline)
        if problem is not None:
            raise Invalid(problem)
        recipient.deadline = data.deadline
    recipient.state = rules.State.RETURNED.value
    recipient.returns += 1
    return _verdict(session, principal, notice, recipient, mine, "return", data.reason, now)


def _verdict(
    session: Session,
    principal: Principal,
    notice: Notice,
    recipient: NoticeRecipient,
    mine: Mine,
    act: str,
    note: str | None,
    now: datetime,
) -> NoticeOut:
    """The issuer's verdict (the recipient's new state set) kept, audited, sent down."""
    recipient.verified_by, recipient.verified_at = principal.name, now
    recipient.verdict_note = note
    session.flush()
    detail = {"note": note, "deadline": recipient.deadline.isoformat()}
    _record(session, notice, recipient, mine, principal.name, act, detail, now)
    _send_down(session, notice, recipient, mine, VERDICT_DOWN, _verdict_data(recipient, mine))
    return _out(session, principal, notice, now)


def _verdict_data(recipient: NoticeRecipient, mine: Mine) -> dict[str, Any]:
    assert recipient.verified_by is not None and recipient.verified_at is not None
    return Verdict(
        mine=mine.code,
        state=recipient.state,
        by=recipient.verified_by,
        at=recipient.verified_at,
        note=recipient.verdict_note,
        deadline=recipient.deadline,
        returns=recipient.returns,
    ).model_dump(mode="json")


# ---- between centers ----------------------------------------------------------------------


def _parsed(model: type[Any], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(f"{model.__name__}: {describe_error(exc)}") from exc


def _mine_here(session: Session, code: str) -> Mine:
    mine = session.scalars(select(Mine).where(Mine.code == code)).first()
    if mine is None:
        raise Invalid(f"mine {code!r} is not known here")
    return mine


def receive_issued(session: Session, key: str, data: Any, unit: str, now: datetime) -> None:
    """A document of the upstream's unit for a mine held here: kept as it was issued (its
    number, times and attachments); the mine acknowledges and answers it here."""
    copy: IssuedCopy = _parsed(IssuedCopy, data)
    mine = _mine_here(session, copy.mine)
    notice = session.scalars(select(Notice).where(Notice.number == key)).first()
    if notice is None:
        notice = Notice(
            kind=rules.Kind(copy.kind).value,
            number=key,
            title=copy.title,
            problem=copy.problem,
            measures=copy.measures,
            issuer_org_id=None,
            issuer_unit=copy.issuer_unit,
            issued_by=copy.issued_by,
            issued_at=copy.issued_at,
            ack_hours=copy.ack_hours,
            deadline=copy.deadline,
            target_org_id=None,
            origin=unit,
        )
        session.add(notice)
        session.flush()
        for cite in copy.cites:
            session.add(NoticeLink(notice_id=notice.id, kind=cite.kind, ref=None, label=cite.label))
        _attach(session, notice, None, copy.attachments, copy.issued_by, copy.issued_at)
    elif notice.origin is None:
        raise Conflict(f"document {key!r} was issued here, not upstream")
    recipient = session.scalars(
        select(NoticeRecipient).where(
            NoticeRecipient.notice_id == notice.id, NoticeRecipient.mine_id == mine.id
        )
    ).first()
    if recipient is not None:
        return
    recipient = NoticeRecipient(
        notice_id=notice.id,
        mine_id=mine.id,
        state=rules.State.ISSUED.value,
        ack_due=copy.ack_due,
        deadline=copy.deadline,
        returns=0,
    )
    session.add(recipient)
    session.flush()
    detail = {"unit": unit, "deadline": copy.deadline.isoformat()}
    _record(session, notice, recipient, mine, f"upstream:{unit}", "receive", detail, now)


def _copy_of(session: Session, key: str, mine_code: str) -> tuple[Notice, NoticeRecipient, Mine]:
    notice = _notice(session, key)
    mine = _mine_here(session, mine_code)
    recipient = session.scalars(
        select(NoticeRecipient).where(
            NoticeRecipient.notice_id == notice.id, NoticeRecipient.mine_id == mine.id
        )
    ).first()
    if recipient is None:
        raise NotFound(f"document {key!r} was not sent to mine {mine_code!r}")
    return notice, recipient, mine


def receive_verdict(session: Session, key: str, data: Any, unit: str, now: datetime) -> None:
    """The issuer closed the notice at the mine, or sent it back."""
    verdict: Verdict = _parsed(Verdict, data)
    notice, recipient, mine = _copy_of(session, key, verdict.mine)
    recipient.state = verdict.state
    recipient.verified_by, recipient.verified_at = verdict.by, verdict.at
    recipient.verdict_note, recipient.deadline = verdict.note, verdict.deadline
    recipient.returns = verdict.returns
    session.flush()
    act = "verify" if verdict.state == "closed" else "return"
    detail = {"by": verdict.by, "note": verdict.note}
    _record(session, notice, recipient, mine, f"upstream:{unit}", act, detail, now)


def receive_reply(
    session: Session, principal: Principal, op: str, key: str, data: Any, now: datetime
) -> None:
    """A mine's acknowledgement or answer, from the downstream center that holds it (the
    mine's own times); relayed further up when the document came from there."""
    reply: Reply = _parsed(Reply, data)
    notice, recipient, mine = _copy_of(session, key, reply.mine)
    visible_mine(session, principal, mine.code)  # the sending center's own mines only
    state = rules.State(recipient.state)
    if op == ACK_UP:
        if state != rules.State.ISSUED:
            return  # acknowledged here already
        _acknowledged(session, notice, recipient, reply, now)
    elif op == ANSWER_UP:
        if state == rules.State.ISSUED:
            _acknowledged(session, notice, recipient, reply, now)
        elif not rules.may_answer(state):
            return  # this answer was received before
        _answered(session, notice, recipient, reply, now)
    else:
        raise Invalid(f"unknown reply {op!r}")
    act = "ack" if op == ACK_UP else "answer"
    detail = {"by": reply.by, "at": reply.at.isoformat(), "answer": reply.answer}
    _record(session, notice, recipient, mine, principal.name, act, detail, now)
    _reply_up(session, notice, op, reply, now)


# ---- overdue ------------------------------------------------------------------------------


def _judge(
    session: Session, notice: Notice, recipient: NoticeRecipient, mine: Mine, now: datetime
) -> None:
    """Raise what is overdue at the mine now, end what no longer is. A mine held by a
    downstream center is judged there (its alarm is mirrored up)."""
    if mine.managed_by_center_id is not None:
        return
    kind = rules.Kind(notice.kind)
    due = rules.Due(recipient.ack_due, recipient.deadline)
    stages = rules.overdue(rules.State(recipient.state), due, now)
    tz = ZoneInfo(mine.timezone)
    for stage in rules.Stage:
        subject = f"{notice.number}:{stage.value}"[:64]
        if stage in stages:
            at = due.ack_due if stage == rules.Stage.UNACKNOWLEDGED else due.deadline
            alarms.raise_alarm(
                session,
                mine_id=mine.id,
                type_=OVERDUE_TYPES[kind],
                at=at,
                subject=subject,
                value=stage.value,
                threshold=at.isoformat(),
                params=detail_params(
                    "document_overdue",
                    number=notice.number,
                    stage=stage.value,
                    due=local_minute(at, tz),
                ),
            )
        else:
            alarms.end_condition(
                session, mine_id=mine.id, type_=OVERDUE_TYPES[kind], at=now, subject=subject
            )


def tick(session: Session, now: datetime) -> None:
    """``notice_overdue`` / ``instruction_overdue`` for the documents still open at the
    mines held here (the timed rule; transitions judge at once)."""
    rows = session.execute(
        select(Notice, NoticeRecipient, Mine)
        .join(NoticeRecipient, NoticeRecipient.notice_id == Notice.id)
        .join(Mine, Mine.id == NoticeRecipient.mine_id)
        .where(
            NoticeRecipient.state.in_(list(rules.OPEN_AT_MINE)),
            Mine.managed_by_center_id.is_(None),
            (NoticeRecipient.deadline <= now) | (NoticeRecipient.ack_due <= now),
        )
    ).all()
    for notice, recipient, mine in rows:
        _judge(session, notice, recipient, mine, now)


# ---- the printable notice -----------------------------------------------------------------


def pdf(session: Session, principal: Principal, number: str, now: datetime, tz: ZoneInfo) -> bytes:
    """整改通知书 (or 指令) as a printable A4 document: number, dates, issuer, mines,
    problem, measures, deadline and the signatures."""
    document = get_notice(session, principal, number, now)
    return render_pdf(
        render_html(
            "notices/notice_pdf.html",
            d=document,
            kind_label=rules.KIND_LABELS[document.kind],
            states=rules.STATE_LABELS,
            links=rules.LINK_LABELS,
            local=lambda t: "—" if t is None else local_minute(t, tz),
            printed=local_minute(now, tz),
        )
    )
