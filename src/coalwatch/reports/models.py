"""Report shifts, revisions and signatures 签章 of the production reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class ReportShifts(Base):
    """A mine's shifts 班次 for its reports, as JSON ``[{"name", "start_hour", "hours"}]``
    (a mine without a row has the default three shifts of 8 hours)."""

    __tablename__ = "report_shifts"
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"), primary_key=True)
    shifts: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignedRevisionColumns:
    """The columns of a revision of a signed document (coalwatch.reports.signing): the
    daily report's and the summaries'. The document's own key (its day, or its kind and
    period) and ``__table_args__`` are the table's."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    #: the document as generated (JSON text) and that text's SHA-256
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    generated_by: Mapped[str] = mapped_column(String(200))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: 上报: signed in full and sent upward
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @declared_attr
    def mine_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("mines.id"))


class SignatureColumns:
    """An electronic signature 审阅签字 on a revision (the table named by
    ``__revision_table__``), over the revision's SHA-256, one per role."""

    __revision_table__: ClassVar[str]
    #: an index of its own on ``revision_id`` (besides the unique revision and role)
    __revision_index__: ClassVar[bool] = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: duty_operator | duty_mine_manager | chief_engineer
    role: Mapped[str] = mapped_column(String(32))
    signer: Mapped[str] = mapped_column(String(200))
    #: the SHA-256 of the content that was signed
    sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        return (UniqueConstraint("revision_id", "role"),)

    @declared_attr
    def revision_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey(f"{cls.__revision_table__}.id"), index=cls.__revision_index__ or None
        )

    @declared_attr
    def user_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id"))


class ReportRevision(SignedRevisionColumns, Base):
    """One revision of a mine's daily monitoring report 监测日报表: a frozen snapshot of its
    computed content (JSON text) and the SHA-256 of that text.

    Frozen from its first signature: a later correction of the day's figures creates the
    next revision, and the signed one stays as it was.
    """

    __tablename__ = "report_revisions"
    __table_args__ = (UniqueConstraint("mine_id", "day", "revision"),)
    #: the mine-local calendar day the report covers
    day: Mapped[date] = mapped_column(Date)


class ReportSignature(SignatureColumns, Base):
    """A signature on a report revision, in the order of SIGNING_ORDER."""

    __tablename__ = "report_signatures"
    __revision_table__ = "report_revisions"
