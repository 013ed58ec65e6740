"""Signed-in browser sessions 会话 (migration 0013).

The session cookie is signed, but a signed cookie alone cannot be taken back: the
cookie names a row here (by the SHA-256 of a random id), and signing out ends that row,
so that a copied or kept cookie no longer works. Imported by coalwatch.storage.models.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class WebSession(Base):
    """One sign-in of a user in a browser; ``ended_at`` is set when they sign out."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 (hex) of the random session id the cookie carries
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
