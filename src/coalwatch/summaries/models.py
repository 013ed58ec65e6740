"""Tables of the summaries upward: the month-end and year-end summaries 月终、年终汇总 and
the abnormal-situation report 异常情况上传报表 of a mine, frozen per revision and signed
over their SHA-256; and, at an upstream center, the ones received from below."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.reports.models import SignatureColumns, SignedRevisionColumns
from coalwatch.storage.base import Base, UTCDateTime


class SummaryRevision(SignedRevisionColumns, Base):
    """A revision of a mine's summary: its content (JSON text) and that text's SHA-256."""

    __tablename__ = "summary_revisions"
    __table_args__ = (UniqueConstraint("mine_id", "kind", "period", "revision"),)
    #: month | year | abnormal
    kind: Mapped[str] = mapped_column(String(16))
    #: 2026-03 (month), 2026 (year), 2026-03-15 (the abnormal-situation report's day)
    period: Mapped[str] = mapped_column(String(10))


class SummarySignature(SignatureColumns, Base):
    __tablename__ = "summary_signatures"
    __revision_table__ = "summary_revisions"
    __revision_index__ = True


class ReceivedSummary(Base):
    """A signed summary received from a downstream center 已上报, kept as it came."""

    __tablename__ = "received_summaries"
    __table_args__ = (UniqueConstraint("mine_id", "kind", "period", "revision"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    center_id: Mapped[int] = mapped_column(ForeignKey("downstream_centers.id"), index=True)
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    kind: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(10))
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    #: the signatures as sent (JSON list of role, signer, sha256, signed_at)
    signatures: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
