"""Signed revisions 修订 of a generated document: the daily report and the month and
year-end summaries.

A revision keeps the document's content as generated and its SHA-256. While nobody
signed it, it is refreshed to the current figures; once signed it is frozen, and a
change of the figures makes it stale until it is regenerated into the next revision
(audited). Signers sign the latest revision in order, each in a role they hold; each
signature signs the revision's SHA-256 and is audited.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from coalwatch.audit import service as audit
from coalwatch.auth.principal import Principal
from coalwatch.domain.reports import SIGNER_LABELS, Signer
from coalwatch.errors import N_, Conflict, Forbidden
from coalwatch.reports import repository
from coalwatch.reports.schemas import SignatureOut

#: the permissions on reports and summaries
VIEW, WRITE, SIGN = "report:view", "report:write", "report:sign"
#: who generated a revision made by a scheduled job (and a provisional document's)
SYSTEM = "system"


class Revision(Protocol):
    """A stored revision (``report_revisions``, ``summary_revisions``)."""

    id: int
    revision: int
    content: str
    sha256: str
    generated_by: str
    generated_at: datetime


class Signature(Protocol):
    """A signature of a revision (``report_signatures``, ``summary_signatures``)."""

    @property
    def role(self) -> str: ...
    @property
    def signer(self) -> str: ...
    @property
    def signed_at(self) -> datetime: ...
    @property
    def sha256(self) -> str: ...


R = TypeVar("R", bound=Revision)


def snapshot(content: BaseModel) -> tuple[str, str]:
    """The content as stored and signed, and its SHA-256."""
    text = content.model_dump_json()
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def bring_up_to_date(
    session: Session,
    content: BaseModel,
    latest: R | None,
    signed: Callable[[R], bool],
    make: Callable[[int, str, str], R],
    *,
    actor: str,
    now: datetime,
    new_revision: bool,
    audited_as: tuple[str, str, str],
) -> tuple[R, bool]:
    """The latest revision brought up to date: made (``make(number, content, sha256)``),
    refreshed when unsigned, or (with ``new_revision``) followed by the next one when
    signed and the figures changed. Returns the revision and whether its figures differ
    from the current ones. ``audited_as`` is the (action, entity, key) of a new revision's
    audit entry."""
    text, digest = snapshot(content)
    if latest is not None and latest.sha256 == digest:
        return latest, False
    if latest is not None and not signed(latest):
        latest.content, latest.sha256 = text, digest
        latest.generated_at, latest.generated_by = now, actor
        session.flush()
        return latest, False
    if latest is not None and not new_revision:
        return latest, True
    revision = make(1 if latest is None else latest.revision + 1, text, digest)
    repository.add(session, revision)
    if latest is not None:
        action, entity, key = audited_as
        audit.record(
            session,
            actor=actor,
            action=action,
            entity=entity,
            key=key,
            detail={"revision": revision.revision, "sha256": digest, "previous": latest.sha256},
            at=now,
        )
    return revision, False


def signature_out(sig: Signature) -> SignatureOut:
    role = Signer(sig.role)
    return SignatureOut(
        role=role,
        label=SIGNER_LABELS[role],
        signer=sig.signer,
        signed_at=sig.signed_at,
        sha256=sig.sha256,
    )


def may_sign_as(session: Session, principal: Principal, role: Signer) -> bool:
    """``report:sign`` and the role itself: a user holds the built-in role; a write token
    or the operator may sign in the role it names."""
    if not principal.has(SIGN):
        return False
    if principal.kind == "user":
        return principal.user_id is not None and role.value in repository.role_codes(
            session, principal.user_id
        )
    return principal.write


def require_signer(session: Session, principal: Principal, role: Signer) -> None:
    """A signature is given by the signer in person (who holds the role)."""
    if not may_sign_as(session, principal, role):
        raise Forbidden(
            N_("签字须由%(signer)s本人进行"),
            {"role": role.value},
            code="wrong_role",
            params={"signer": SIGNER_LABELS[role]},
            labels=("signer",),
        )


def require_turn(revision: Revision, stale: bool, waiting: Signer | None, role: Signer) -> None:
    """The revision signed is current, and it is ``role``'s turn (``waiting``)."""
    if stale:
        raise Conflict(
            "the figures changed after this revision was signed: regenerate it first",
            {"revision": revision.revision},
            code="stale_revision",
        )
    if waiting != role:
        raise Forbidden(
            N_("签字顺序错误：应由%(signer)s签字")
            if waiting is not None
            else N_("签字顺序错误：各方均已签字"),
            {"role": role.value, "expected": None if waiting is None else waiting.value},
            code="out_of_order",
            params={"signer": SIGNER_LABELS[waiting]} if waiting is not None else None,
            labels=("signer",),
        )


def record_signature(
    session: Session,
    signature: object,
    revision: Revision,
    role: Signer,
    principal: Principal,
    now: datetime,
    *,
    audited_as: tuple[str, str, str],
) -> None:
    """Keep the signature (a row of the document's signature table) and audit it."""
    repository.add(session, signature)
    action, entity, key = audited_as
    audit.record(
        session,
        actor=principal.name,
        action=action,
        entity=entity,
        key=key,
        detail={"revision": revision.revision, "role": role.value, "sha256": revision.sha256},
        at=now,
    )


def sign_revision(
    session: Session,
    principal: Principal,
    role: Signer,
    now: datetime,
    *,
    certified: Callable[[], None],
    latest: Callable[[], tuple[R, bool]],
    waiting: Callable[[R], Signer | None],
    signature: Callable[..., object],
    audited_as: tuple[str, str, str],
) -> R:
    """Sign the latest revision (``latest()``: it and whether it is stale) in ``role``:
    by the signer in person (a duty operator also ``certified()``), on a current
    revision, in turn (``waiting``: whose turn it is). ``signature`` makes the row;
    returns the revision."""
    require_signer(session, principal, role)
    if role is Signer.DUTY_OPERATOR:
        certified()
    revision, stale = latest()
    require_turn(revision, stale, waiting(revision), role)
    row = signature(
        revision_id=revision.id,
        role=role.value,
        signer=principal.name,
        user_id=principal.user_id,
        sha256=revision.sha256,
        signed_at=now,
    )
    record_signature(session, row, revision, role, principal, now, audited_as=audited_as)
    return revision
