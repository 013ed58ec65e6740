"""Users, roles 角色 and signed-in browser sessions 会话.

The session cookie is signed, but a signed cookie alone cannot be taken back: the
cookie names a row of ``web_sessions`` (by the SHA-256 of a random id), and signing out
ends that row, so that a copied or kept cookie no longer works.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from coalwatch.storage.base import Base, UTCDateTime


class User(Base):
    """A person who signs in to the web UI."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str | None] = mapped_column(String(64))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    password_hash: Mapped[str] = mapped_column(String(256))
    #: created as an administrator (``coalwatch admin create``); rights come from roles
    is_admin: Mapped[bool] = mapped_column(Boolean)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: a disabled user cannot sign in (kept for the audit trail)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    #: the password was set by someone else: it must be changed at the next sign-in
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: failed sign-ins since the last success or lock-out
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the UI language the user chose ("zh_CN", "en")
    locale: Mapped[str | None] = mapped_column(String(16))


class Role(Base):
    """A role 角色: a named set of permission strings (``monitor:view``, ``*`` ...)."""

    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the permission strings, space-separated and sorted
    permissions: Mapped[str] = mapped_column(Text)
    #: created with the system; it can be edited but not deleted
    builtin: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserRole(Base):
    """Which roles a user has."""

    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), primary_key=True, index=True)


class WebSession(Base):
    """One sign-in of a user in a browser; ``ended_at`` is set when they sign out."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 (hex) of the random session id the cookie carries
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
