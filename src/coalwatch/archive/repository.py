"""The SQL of the document archive."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.archive.models import ArchiveDocument


def add(session: Session, row: ArchiveDocument) -> None:
    session.add(row)
    session.flush()


def documents(session: Session, mine_id: int | None, org_id: int | None) -> list[ArchiveDocument]:
    query = select(ArchiveDocument).order_by(ArchiveDocument.id.desc())
    if mine_id is not None:
        query = query.where(ArchiveDocument.mine_id == mine_id)
    else:
        query = query.where(ArchiveDocument.org_id == org_id, ArchiveDocument.mine_id.is_(None))
    return list(session.scalars(query))


def current_of_kind(
    session: Session, mine_id: int | None, org_id: int | None, kind: str
) -> list[ArchiveDocument]:
    return [
        d
        for d in documents(session, mine_id, org_id)
        if d.kind == kind and d.replaced_at is None and d.deleted_at is None
    ]


def holders(session: Session, sha256: str) -> int:
    """How many documents not deleted hold this content."""
    return len(
        list(
            session.scalars(
                select(ArchiveDocument.id).where(
                    ArchiveDocument.sha256 == sha256, ArchiveDocument.deleted_at.is_(None)
                )
            )
        )
    )
