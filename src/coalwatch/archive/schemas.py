"""What the archive's API answers."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from coalwatch.schemas import Instant


class DocumentOut(BaseModel):
    id: int
    owner: str
    code: str
    kind: str
    label: str
    title: str
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str
    valid_until: date | None
    note: str | None
    uploaded_by: str
    uploaded_at: Instant
    approved_by: str | None
    approved_role: str | None
    approved_at: Instant | None
    replaced_at: Instant | None
    replaced_by: int | None
    #: the first day it may be deleted (replaced documents only)
    kept_until: date | None
    deleted_at: Instant | None
    deleted_by: str | None


class ChecklistLine(BaseModel):
    kind: str
    label: str
    #: missing | unapproved | expired | ok
    state: str
    #: the role whose approval the kind needs (a role code), None: none asked
    approver: str | None
    #: the current documents of the kind (one, or several for certificates and records)
    current: list[DocumentOut]
    #: the earliest expiry of the current documents
    expires_on: date | None


class Checklist(BaseModel):
    owner: str
    code: str
    name: str
    complete: bool
    items: list[ChecklistLine]
    #: every document kept (current, replaced and deleted), newest first
    documents: list[DocumentOut]
