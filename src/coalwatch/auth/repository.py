from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coalwatch.auth.models import ApiToken
from coalwatch.storage.models import Org
from coalwatch.users.models import Role, User


def add_token(session: Session, token: ApiToken) -> None:
    session.add(token)
    session.flush()


def token_by_hash(session: Session, digest: str) -> tuple[ApiToken, str | None] | None:
    row = session.execute(
        select(ApiToken, Org.path)
        .outerjoin(Org, Org.id == ApiToken.scope_org_id)
        .where(ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None))
    ).first()
    return (row[0], row[1]) if row else None


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def add_user(session: Session, user: User) -> None:
    session.add(user)
    session.flush()


def revoke(token: ApiToken, now: datetime) -> None:
    token.revoked_at = now


def tokens(
    session: Session, *, token_id: int | None = None
) -> list[tuple[ApiToken, str | None, str | None]]:
    """Every token (or the one with ``token_id``), revoked ones too, with the code and the
    path of the org it is scoped to."""
    query = (
        select(ApiToken, Org.code, Org.path)
        .outerjoin(Org, Org.id == ApiToken.scope_org_id)
        .order_by(ApiToken.id)
    )
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    return [(token, code, path) for token, code, path in session.execute(query)]


def role_by_code(session: Session, code: str) -> Role | None:
    return session.scalars(select(Role).where(Role.code == code)).first()
