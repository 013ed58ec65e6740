"""The table of the document archive 档案: one row per stored document, current or
replaced; the file itself lies in the content-addressed store under its SHA-256."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class ArchiveDocument(Base):
    """A document of a mine's or a center's archive (domain.archive.KINDS)."""

    __tablename__ = "archive_documents"
    __table_args__ = (
        Index("ix_archive_documents_mine_kind", "mine_id", "kind"),
        Index("ix_archive_documents_org_kind", "org_id", "kind"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: a mine's archive, or (mine_id None) the archive of the center serving org_id
    mine_id: Mapped[int | None] = mapped_column(ForeignKey("mines.id"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: a certificate's expiry date (kinds that expire)
    valid_until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    #: the role it was approved in (a role code)
    approved_role: Mapped[str | None] = mapped_column(String(32))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: replaced: when, and by which document; kept two years from then
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("archive_documents.id"))
    #: deleted after its retention: the row stays (its hash is in the audit log), the
    #: file goes unless another document holds the same content
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(200))
