"""The audit chain's signed checkpoints (the entries themselves: storage.models)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class AuditCheckpoint(Base):
    """The audit chain's length and head, signed by the center's own key: entries
    removed from the end, or a chain recomputed after an edit, no longer match it."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_count: Mapped[int] = mapped_column(BigInteger)
    head_id: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
