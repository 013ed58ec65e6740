"""Tables of the supervisory documents: rectification notices 整改通知书 and instructions
指令, the mines they go to, what they cite and their attachments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class Notice(Base):
    """A document issued by a supervising unit: here, or at the upstream center (then
    ``origin`` names the upstream unit that issued it and ``issuer_org_id`` is null)."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: notice | instruction (domain.notices.Kind)
    kind: Mapped[str] = mapped_column(String(16))
    #: 文号, the same at every center it travels to
    number: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    #: the problem found (a notice) or what is instructed (an instruction)
    problem: Mapped[str] = mapped_column(Text)
    #: the measures required 整改措施 (a notice)
    measures: Mapped[str | None] = mapped_column(Text)
    issuer_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    #: the issuing unit as the document shows it ("C1 某县煤炭局")
    issuer_unit: Mapped[str] = mapped_column(String(300))
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ack_hours: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    #: an instruction to every mine of a subtree: that org (None: to one mine)
    target_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    #: received from the upstream center: the upstream unit that issued it
    origin: Mapped[str | None] = mapped_column(String(300))


class NoticeSequence(Base):
    """The last sequence given in a document number 文号's series: one issuing unit, one
    kind, one year (``prefix`` "C1-ZG-2026-"). Counted up under its row's lock, so that
    documents issued at once each get their own number."""

    __tablename__ = "notice_sequences"
    prefix: Mapped[str] = mapped_column(String(64), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class NoticeRecipient(Base):
    """A document at one mine: its acknowledgement, answer and verification."""

    __tablename__ = "notice_recipients"
    __table_args__ = (
        UniqueConstraint("notice_id", "mine_id"),
        Index("ix_notice_recipients_mine_state", "mine_id", "state"),
        Index("ix_notice_recipients_state", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    mine_id: Mapped[int] = mapped_column(ForeignKey("mines.id"))
    #: domain.notices.State
    state: Mapped[str] = mapped_column(String(16))
    ack_due: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the deadline at this mine (a notice sent back may get a new one)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: to whom the duty operator passed it on (矿调度及有关负责人)
    passed_to: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the issuer's note on the last verification (the reason of a sending back)
    verdict_note: Mapped[str | None] = mapped_column(Text)
    returns: Mapped[int] = mapped_column(Integer, default=0)


class NoticeLink(Base):
    """What a document cites: an alarm or fault (by id, at the issuing center), an
    overproduction or a finding (text); ``label`` says it as it was when cited."""

    __tablename__ = "notice_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(Text)


class NoticeAttachment(Base):
    """A file of the document (``recipient_id`` null) or of a mine's answer."""

    __tablename__ = "notice_attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("notice_recipients.id"))
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
