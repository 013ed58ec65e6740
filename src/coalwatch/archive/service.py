"""The document archive 档案 of a mine and of a center: the documents the rules require
as a checklist (present, approved by whom, expiring when), the files kept by their
SHA-256 (which the audit log records with every act), and a replaced document kept at
least two years after its replacement (图纸、技术资料保存二年以上): an earlier deletion
is refused with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from coalwatch.archive import repository, store
from coalwatch.archive.models import ArchiveDocument
from coalwatch.archive.schemas import Checklist, ChecklistLine, DocumentOut
from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.archive import BY_CODE, Owner, kept_until, may_delete, required, state
from coalwatch.errors import N_, Conflict, Forbidden, Invalid, NotFound
from coalwatch.mines.service import visible_mine
from coalwatch.orgs.service import visible_org
from coalwatch.reports import repository as report_repository
from coalwatch.storage.models import Mine, Org

VIEW, WRITE = "ledger:view", "ledger:write"
#: who declares a shutdown 停产报备, and files its written report
DECLARE = "production:write"
#: approving is a signature: report:sign and the approver's own role
APPROVE = "report:sign"
#: who may approve a kind that names no approver of its own
APPROVERS = ("chief_engineer", "mine_manager")
ROLE_LABELS = {"chief_engineer": N_("总工程师"), "mine_manager": N_("矿长")}
#: a file at most (bytes)
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Holder:
    """Whose archive: a mine, or the center of an org."""

    owner: Owner
    code: str
    name: str
    mine_id: int | None
    org_id: int | None
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Upload:
    kind: str
    title: str
    file_name: str
    content_type: str
    data: bytes
    valid_until: date | None = None
    note: str | None = None
    #: for kinds of many documents: the one this one replaces
    replaces: int | None = None


def holder(session: Session, principal: Principal, owner: Owner, code: str, tz: ZoneInfo) -> Holder:
    if owner is Owner.MINE:
        mine, _ = visible_mine(session, principal, code)
        return Holder(owner, mine.code, mine.name, mine.id, None, ZoneInfo(mine.timezone))
    org = visible_org(session, principal, code)
    return Holder(owner, org.code, org.name, None, org.id, tz)


def _holder_of(
    session: Session, principal: Principal, doc: ArchiveDocument, tz: ZoneInfo
) -> Holder:
    """The document's archive, if the principal sees it (else: not found)."""
    if doc.mine_id is not None:
        mine = session.get_one(Mine, doc.mine_id)
        org = session.get_one(Org, mine.org_id)
        if principal.sees(org.path):
            return Holder(Owner.MINE, mine.code, mine.name, mine.id, None, ZoneInfo(mine.timezone))
    elif doc.org_id is not None:
        org = session.get_one(Org, doc.org_id)
        if principal.sees(org.path):
            return Holder(Owner.CENTER, org.code, org.name, None, org.id, tz)
    raise NotFound(f"document {doc.id} not found")


def _document(
    session: Session, principal: Principal, doc_id: int, tz: ZoneInfo
) -> tuple[ArchiveDocument, Holder]:
    doc = session.get(ArchiveDocument, doc_id)
    if doc is None:
        raise NotFound(f"document {doc_id} not found")
    return doc, _holder_of(session, principal, doc, tz)


def document_out(doc: ArchiveDocument, where: Holder) -> DocumentOut:
    return DocumentOut(
        id=doc.id,
        owner=where.owner.value,
        code=where.code,
        kind=doc.kind,
        label=BY_CODE[doc.kind].label,
        title=doc.title,
        file_name=doc.file_name,
        content_type=doc.content_type,
        size_bytes=doc.size_bytes,
        sha256=doc.sha256,
        valid_until=doc.valid_until,
        note=doc.note,
        uploaded_by=doc.uploaded_by,
        uploaded_at=doc.uploaded_at,
        approved_by=doc.approved_by,
        approved_role=doc.approved_role,
        approved_at=doc.approved_at,
        replaced_at=doc.replaced_at,
        replaced_by=doc.replaced_by_id,
        kept_until=None
        if doc.replaced_at is None
        else kept_until(doc.replaced_at.astimezone(where.tz).date()),
        deleted_at=doc.deleted_at,
        deleted_by=doc.deleted_by,
    )


def checklist(
    session: Session, principal: Principal, owner: Owner, code: str, now: datetime, tz: ZoneInfo
) -> Checklist:
    """The archive as its checklist: for each required kind, whether it is there,
    approved where the rules ask it, and not expired."""
    principal.require(VIEW)
    where = holder(session, principal, owner, code, tz)
    docs = repository.documents(session, where.mine_id, where.org_id)
    today = now.astimezone(where.tz).date()
    lines = []
    for kind in required(owner):
        current = [
            d
            for d in docs
            if d.kind == kind.code and d.replaced_at is None and d.deleted_at is None
        ]
        expiries = [d.valid_until for d in current if d.valid_until is not None]
        expires_on = min(expiries) if expiries else None
        approved = bool(current) and all(d.approved_at is not None for d in current)
        # one valid certificate is not enough when another has run out: each is a scale's
        expired = expires_on is not None and expires_on < today
        lines.append(
            ChecklistLine(
                kind=kind.code,
                label=kind.label,
                state=state(bool(current), approved, kind.approver, expired),
                approver=kind.approver,
                current=[document_out(d, where) for d in current],
                expires_on=expires_on,
            )
        )
    return Checklist(
        owner=owner.value,
        code=where.code,
        name=where.name,
        complete=all(line.state == "ok" for line in lines),
        items=lines,
        documents=[document_out(d, where) for d in docs],
    )


def upload(
    session: Session,
    principal: Principal,
    base: Path,
    owner: Owner,
    code: str,
    data: Upload,
    now: datetime,
    tz: ZoneInfo,
) -> DocumentOut:
    """Keep a document: its file in the store under its SHA-256, its row, and the hash in
    the audit log. A kind of one document replaces the current one (which is kept).
    A shutdown's written report is kept by whoever may declare the shutdown."""
    if not (data.kind == "shutdown_report" and principal.has(DECLARE)):
        principal.require(WRITE)
    where = holder(session, principal, owner, code, tz)
    kind = BY_CODE.get(data.kind)
    if kind is None:
        raise Invalid(f"no document kind {data.kind!r}: {', '.join(BY_CODE)}")
    title = data.title.strip()
    if not title or len(title) > 200:
        raise Invalid("a document needs a title of 1 to 200 characters")
    if not data.data:
        raise Invalid("the file is empty")
    if len(data.data) > MAX_FILE_BYTES:
        raise Invalid(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    if kind.expires and data.valid_until is None:
        raise Invalid(f"a {kind.code} needs its expiry date (valid_until)")
    if not kind.expires and data.valid_until is not None:
        raise Invalid(f"a {kind.code} has no expiry date")
    current = repository.current_of_kind(session, where.mine_id, where.org_id, kind.code)
    if kind.many:
        replaced = [d for d in current if d.id == data.replaces]
        if data.replaces is not None and not replaced:
            raise Invalid(f"document {data.replaces} is not a current {kind.code} of {where.code}")
    else:
        if data.replaces is not None and data.replaces not in {d.id for d in current}:
            raise Invalid(
                f"document {data.replaces} is not the current {kind.code} of {where.code}"
            )
        replaced = current
    sha256 = store.put(base, data.data)
    doc = ArchiveDocument(
        mine_id=where.mine_id,
        org_id=where.org_id,
        kind=kind.code,
        title=title,
        file_name=(data.file_name.strip() or "document")[-200:],
        content_type=(data.content_type or "application/octet-stream")[:100],
        size_bytes=len(data.data),
        sha256=sha256,
        valid_until=data.valid_until,
        note=data.note.strip() if data.note and data.note.strip() else None,
        uploaded_by=principal.name,
        uploaded_at=now,
    )
    repository.add(session, doc)
    for old in replaced:
        old.replaced_at, old.replaced_by_id = now, doc.id
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="archive.upload",
        entity="archive_document",
        key=str(doc.id),
        detail={
            "owner": where.owner.value,
            "code": where.code,
            "kind": kind.code,
            "title": title,
            "file_name": doc.file_name,
            "size_bytes": doc.size_bytes,
            "sha256": sha256,
            "replaces": [d.id for d in replaced],
        },
        at=now,
    )
    return document_out(doc, where)


def holds_role(session: Session, principal: Principal, role: str) -> bool:
    """The principal signs in ``role``: a user holding it, or a write token."""
    if principal.kind == "user":
        return principal.user_id is not None and role in report_repository.role_codes(
            session, principal.user_id
        )
    return principal.write


def approve(
    session: Session, principal: Principal, doc_id: int, now: datetime, tz: ZoneInfo
) -> DocumentOut:
    """审批: the approver the kind names (设备布置图: the chief engineer 技术负责人), or
    for other kinds the chief engineer or the mine manager, signs the document."""
    principal.require(APPROVE)
    doc, where = _document(session, principal, doc_id, tz)
    if doc.replaced_at is not None or doc.deleted_at is not None:
        raise Conflict(f"document {doc.id} was replaced: only a current document is approved")
    if doc.approved_at is not None:
        raise Conflict(f"document {doc.id} was approved already by {doc.approved_by!r}")
    kind = BY_CODE[doc.kind]
    roles = (kind.approver,) if kind.approver else APPROVERS
    role = next((r for r in roles if holds_role(session, principal, r)), None)
    if role is None:
        raise Forbidden(
            N_("须由%(signer)s审批"),
            {"roles": list(roles)},
            code="wrong_role",
            params={"signer": ROLE_LABELS[roles[0]]},
            labels=("signer",),
        )
    doc.approved_by, doc.approved_role, doc.approved_at = principal.name, role, now
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="archive.approve",
        entity="archive_document",
        key=str(doc.id),
        detail={"code": where.code, "kind": doc.kind, "role": role, "sha256": doc.sha256},
        at=now,
    )
    return document_out(doc, where)


def download(
    session: Session, principal: Principal, base: Path, doc_id: int, tz: ZoneInfo
) -> tuple[DocumentOut, bytes]:
    """The document and its content, checked against its SHA-256."""
    principal.require(VIEW)
    doc, where = _document(session, principal, doc_id, tz)
    if doc.deleted_at is not None:
        raise NotFound(f"document {doc.id} was deleted on {doc.deleted_at.date()}")
    return document_out(doc, where), store.get(base, doc.sha256)


def delete(
    session: Session, principal: Principal, base: Path, doc_id: int, now: datetime, tz: ZoneInfo
) -> DocumentOut:
    """Delete a replaced document whose two years are over; anything earlier is refused
    with its reason (a current document is replaced, never deleted)."""
    principal.require(WRITE)
    doc, where = _document(session, principal, doc_id, tz)
    if doc.deleted_at is not None:
        raise Conflict(f"document {doc.id} was deleted already")
    today = now.astimezone(where.tz).date()
    if doc.replaced_at is None:
        raise Conflict(
            N_("现行文件不能删除：须先上传新版本替换，替换后保存二年以上"),
            {"document": doc.id},
            code="retention",
        )
    if not may_delete(doc.replaced_at, today):
        until = kept_until(doc.replaced_at.astimezone(where.tz).date())
        raise Conflict(
            N_("图纸、技术资料替换后须保存二年以上：%(until)s 前不得删除"),
            {"document": doc.id, "kept_until": until.isoformat()},
            code="retention",
            params={"until": until.isoformat()},
        )
    doc.deleted_at, doc.deleted_by = now, principal.name
    session.flush()
    audit.record(
        session,
        actor=principal.name,
        action="archive.delete",
        entity="archive_document",
        key=str(doc.id),
        detail={"code": where.code, "kind": doc.kind, "sha256": doc.sha256},
        at=now,
    )
    if repository.holders(session, doc.sha256) == 0:
        store.remove(base, doc.sha256)
    return document_out(doc, where)


def mine_document(
    session: Session, principal: Principal, mine: Mine, doc_id: int, kind: str
) -> ArchiveDocument:
    """A current document of this mine's archive of this kind (for a declaration that
    files it): else 422."""
    doc = session.get(ArchiveDocument, doc_id)
    if (
        doc is None
        or doc.mine_id != mine.id
        or doc.kind != kind
        or doc.deleted_at is not None
        or doc.replaced_at is not None
    ):
        raise Invalid(f"document {doc_id} is not a {kind} in the archive of mine {mine.code!r}")
    return doc
